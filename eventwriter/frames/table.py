"""Turn decoded rows into a pandas DataFrame, a pyarrow Table or a polars DataFrame.

``run`` and ``tag`` are categorical (dictionary-encoded): a million rows name a handful of runs
and tags, so codes keep the table small. Rows are ordered by run (read order), then tag (sorted),
then read order within a tag, which is the order of TensorBoard's per-tag lists.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from .filepass import NO_ROWS
from .runs import RunRows

FORMATS = ("pandas", "arrow", "polars")


class Columns:
    """Column arrays (plus the run and tag dictionaries) ready to become any output format."""

    def __init__(self, runs: List[str], run_code: np.ndarray, tags: List[str], tag_code: np.ndarray, data: Dict[str, Any]):
        self.runs, self.run_code, self.tags, self.tag_code, self.data = runs, run_code, tags, tag_code, data

    def __len__(self) -> int:
        return len(self.run_code)


def combine(parts: Sequence[Tuple[str, RunRows]], kind_columns: Sequence[str], extra: Dict[str, Any] | None = None) -> Columns:
    """Concatenate runs into one column set, sorted by (run, tag, read order)."""
    runs = [name for name, _ in parts]
    all_tags = sorted({t for _, rows in parts for t in rows.tag})
    tag_index = {t: i for i, t in enumerate(all_tags)}
    lengths = [len(rows.step) for _, rows in parts]
    total = sum(lengths)
    run_code = np.empty(total, np.int8 if len(parts) < 128 else np.int16 if len(parts) < 32768 else np.int32)
    tag_code = np.empty(total, np.int8 if len(all_tags) < 128 else np.int16 if len(all_tags) < 32768 else np.int32)
    data: Dict[str, Any] = {"step": np.empty(total, np.int64), "wall_time": np.empty(total, np.float64)}
    pieces: Dict[str, List[Any]] = {}
    for c in kind_columns:
        types = [col.dtype if isinstance(col, np.ndarray) else None for col in (rows.columns.get(c) for _, rows in parts)]
        if types and all(t is not None for t in types):
            data[c] = np.empty(total, np.result_type(*types))
        else:
            pieces[c] = []
    at = 0
    for r, (_, rows) in enumerate(parts):
        # Copy each run into place (in table order) and let its arrays go.
        end = at + lengths[r]
        order = rows.order
        remap = np.array([tag_index[t] for t in rows.tag] or [0], dtype=np.int32)
        run_code[at:end] = r
        if lengths[r]:
            tag_code[at:end] = remap[rows.tag_code if order is None else rows.tag_code[order]]
        rows.tag_code = NO_ROWS
        # Each column is let go as soon as it is in place (a one-run logdir is held only once).
        _place(data["step"][at:end], rows.step, order)
        rows.step = NO_ROWS
        _place(data["wall_time"][at:end], rows.wall_time, order)
        rows.wall_time = NO_ROWS
        for c in kind_columns:
            values = rows.columns.pop(c, [])
            if c in pieces:
                pieces[c].append(values if order is None else [values[i] for i in order.tolist()])  # type: ignore[index]
            else:
                _place(data[c][at:end], values, order)  # type: ignore[arg-type]
            del values
        rows.columns, rows.order = {}, None
        at = end
    for c, chunks in pieces.items():
        data[c] = [x for p in chunks for x in p]
        chunks.clear()
    if extra:
        data.update(extra)
    return Columns(runs, run_code, all_tags, tag_code, data)


def _place(target: np.ndarray, values: np.ndarray, order: Any) -> None:
    """``target[:] = values`` in the given row ``order`` (or as they are), without a temporary copy."""
    if order is None:
        target[...] = values
    elif values.dtype == target.dtype:
        np.take(values, order, out=target, mode="clip")  # "clip": unbuffered; order holds valid indices
    else:
        target[...] = values[order]


def _small_codes(codes: np.ndarray, size: int) -> np.ndarray:
    return codes.astype(np.int8 if size < 128 else np.int16 if size < 32768 else np.int32)


def to_pandas(cols: Columns) -> Any:
    """A pandas DataFrame (``run``/``tag`` categorical; list columns hold Python lists)."""
    import pandas as pd

    frame: Dict[str, Any] = {
        "run": pd.Categorical.from_codes(_small_codes(cols.run_code, len(cols.runs)), categories=pd.Index(cols.runs, dtype=object)),
        "tag": pd.Categorical.from_codes(_small_codes(cols.tag_code, len(cols.tags)), categories=pd.Index(cols.tags, dtype=object)),
    }
    for name, col in cols.data.items():
        if isinstance(col, np.ndarray):
            frame[name] = col
        else:
            array = np.empty(len(col), dtype=object)
            array[:] = col
            frame[name] = array
    return pd.DataFrame(frame, copy=False)


def _arrow_column(pa: Any, col: Any) -> Any:
    if isinstance(col, np.ndarray):
        return pa.array(col)
    return pa.array(col)


TENSOR_COLUMNS = ("dtype", "shape", "value")  # the tensors kind's own columns (kinds.KINDS["tensors"])


def _tensor_values(pa: Any, col: List[Any]) -> Tuple[Any, Any]:
    """The tensors kind's ``value`` column as Arrow: ``(value, strings)``.

    One Arrow column has one element type, and a logdir may hold string tensors next to numeric
    ones (custom-scalar layouts next to meshes). So numbers go to ``value`` as ``list<double>``
    (booleans as 0/1, complex numbers as interleaved real and imaginary parts) and strings to
    ``strings`` as ``list<binary>``; each row fills one of the two and leaves the other null.
    """
    numbers: List[Any] = []
    strings: List[Any] = []
    for array in col:
        flat = np.asarray(array).ravel()
        if flat.dtype == object or flat.dtype.kind in "SU":
            numbers.append(None)
            strings.append([bytes(b) if not isinstance(b, str) else b.encode("utf-8") for b in flat])
        else:
            if flat.dtype.kind == "c":
                flat = np.column_stack((flat.real, flat.imag)).ravel()
            numbers.append(flat.astype(np.float64))
            strings.append(None)
    value = pa.array([None if v is None else v for v in numbers], pa.list_(pa.float64()))
    return value, pa.array(strings, pa.list_(pa.binary()))


def to_arrow(cols: Columns) -> Any:
    """A ``pyarrow.Table`` (``run``/``tag`` dictionary-encoded; tensors flattened to lists, see :func:`_tensor_values`)."""
    import pyarrow as pa

    arrays = {
        "run": pa.DictionaryArray.from_arrays(pa.array(cols.run_code, pa.int32()), pa.array(cols.runs, pa.string())),
        "tag": pa.DictionaryArray.from_arrays(pa.array(cols.tag_code, pa.int32()), pa.array(cols.tags, pa.string())),
    }
    tensors = all(name in cols.data for name in TENSOR_COLUMNS) and "plugin" in cols.data
    for name, col in cols.data.items():
        if tensors and name == "value":
            arrays["value"], arrays["strings"] = _tensor_values(pa, col)
        elif tensors and name == "shape":
            arrays[name] = pa.array(col, pa.list_(pa.int64()))
        elif tensors and name in ("dtype", "plugin"):
            arrays[name] = pa.array(col, pa.string())
        else:
            arrays[name] = _arrow_column(pa, col)
    return pa.table(arrays)


def to_polars(cols: Columns) -> Any:
    """A polars DataFrame (through Arrow; ``run``/``tag`` categorical)."""
    import polars as pl

    return pl.from_arrow(to_arrow(cols))


def render(cols: Columns, format: str) -> Any:
    """``cols`` in the requested output ``format``."""
    if format == "pandas":
        return to_pandas(cols)
    if format == "arrow":
        return to_arrow(cols)
    if format == "polars":
        return to_polars(cols)
    raise ValueError(f"format must be one of {FORMATS} or 'dask', got {format!r}")


def pivot(cols: Columns, format: str) -> Any:
    """Scalars as a wide table: one row per ``(run, step)``, one column per tag.

    Rows are ordered by run (read order), then step. A tag without a value at a step is NaN
    (pandas) or null (Arrow, Polars). **Repeated steps:** when a tag has several values at one
    step (a restart TensorBoard's Python layer does not purge, ``add_hparams`` writing a metric
    at its last step, two writers), the one read last wins, as in TensorBoard's default data
    server; the long table (``pivot=False``) keeps them all.
    """
    value = cols.data["value"]
    step = cols.data["step"]
    keys = np.empty(len(step), dtype=[("run", np.int64), ("step", np.int64)])
    keys["run"], keys["step"] = cols.run_code, step
    unique, inverse = np.unique(keys, return_inverse=True)
    inverse = inverse.ravel()
    columns: Dict[str, np.ndarray] = {}
    present: Dict[str, np.ndarray] = {}
    for code, name in enumerate(cols.tags):
        rows = np.flatnonzero(cols.tag_code == code)
        if not len(rows):
            continue
        where = inverse[rows]
        # The last row of each (run, step) in read order: the first of the reversed positions.
        _, first_reversed = np.unique(where[::-1], return_index=True)
        last = rows[len(rows) - 1 - first_reversed]
        out = np.full(len(unique), np.nan)
        out[inverse[last]] = value[last]
        mask = np.zeros(len(unique), bool)
        mask[inverse[last]] = True
        columns[name], present[name] = out, mask
    run_code = unique["run"]
    if format == "pandas":
        import pandas as pd

        frame: Dict[str, Any] = {
            "run": pd.Categorical.from_codes(_small_codes(run_code, len(cols.runs)), categories=pd.Index(cols.runs, dtype=object)),
            "step": unique["step"].copy(),
        }
        frame.update(columns)
        return pd.DataFrame(frame, copy=False)
    import pyarrow as pa

    arrays: Dict[str, Any] = {
        "run": pa.DictionaryArray.from_arrays(pa.array(run_code, pa.int32()), pa.array(cols.runs, pa.string())),
        "step": pa.array(unique["step"]),
    }
    for name, out in columns.items():
        arrays[name] = pa.array(out, pa.float64(), mask=~present[name])
    table = pa.table(arrays)
    if format == "arrow":
        return table
    import polars as pl

    return pl.from_arrow(table)
