"""A table of values written to a file: Parquet, Feather, CSV or JSON Lines, chosen by its extension.

The table is one of :mod:`eventwriter.frames`' pandas frames. Cells that hold numpy arrays
(tensors, list columns) or bytes are turned into what each format can hold:

* **Parquet, Feather:** an array column becomes a list column of its flattened elements (int64
  when every array is integer or bool, else float64). String tensors (``add_custom_scalars``'
  layout, ``add_text``-like tensors) cannot share that column: their elements go to a
  ``<column>_bytes`` list-of-binary column beside it, and the numeric column holds null for them.
* **CSV, JSON Lines:** arrays become nested lists (their shape kept), bytes become base64 text.
  JSON has no literal for NaN or infinities, and strict parsers reject the ``NaN``/``Infinity``
  tokens Python would write: in JSON Lines (and in the JSON lists inside CSV cells) every
  non-finite number is written as ``null``. Parquet, Feather and CSV's own number cells keep them.

The file is written through :mod:`eventwriter.storage`, whole and atomically, so ``output`` may be
a URL (``s3://bucket/table.parquet``) as well as a local path.
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Mapping, Optional

FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".feather": "feather"}
"""File extensions :func:`write_table` knows, and the format each one means."""


def format_of(output: str) -> Optional[str]:
    """The format ``output``'s extension names (``"parquet"``, ...), or None for another extension."""
    return FORMATS.get(os.path.splitext(output)[1].lower())


def _is_array(value: Any) -> bool:
    return hasattr(value, "dtype") and hasattr(value, "ravel")


def _finite_or_none(value: Any) -> Any:
    """``value`` with every NaN/infinity (nested in lists too) replaced by None, for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def _json_cell(value: Any) -> Any:
    """One cell as JSON-ready data: arrays as nested lists, bytes as base64, non-finite numbers as None."""
    import base64

    import numpy as np

    if _is_array(value):
        if value.dtype.kind in "SO":
            return _json_cell([_json_cell(v) for v in value.ravel().tolist()]) if value.ndim else _json_cell(value.item())
        if value.dtype.kind == "c":
            value = np.stack([value.real, value.imag], axis=-1)  # complex as [real, imag] pairs
        return _finite_or_none(value.tolist())
    if isinstance(value, np.generic):
        return _json_cell(value.item())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (list, tuple)):
        return [_json_cell(v) for v in value]
    return _finite_or_none(value)


def _json_rows(frame: Any) -> List[Dict[str, Any]]:
    columns = [str(c) for c in frame.columns]
    values = [frame[c].astype(object).tolist() for c in frame.columns]
    return [{c: _json_cell(v) for c, v in zip(columns, row)} for row in zip(*values)]


def _arrow_table(frame: Any) -> Any:
    """``frame`` as a ``pyarrow.Table``, array columns flattened to typed lists (see the module doc)."""
    import pyarrow as pa

    names: List[str] = []
    columns: List[Any] = []
    for name in frame.columns:
        cells = frame[name]
        if cells.dtype == object and any(_is_array(v) for v in cells):
            numbers, strings = _split_arrays(cells)
            names.append(str(name))
            columns.append(numbers)
            if strings is not None:
                names.append(f"{name}_bytes")
                columns.append(strings)
        else:
            names.append(str(name))
            columns.append(pa.Table.from_pandas(frame[[name]], preserve_index=False).column(0))
    return pa.table(columns, names=names)


def _split_arrays(cells: Any) -> Any:
    """A column of arrays as (numeric list array, binary list array or None)."""
    import numpy as np
    import pyarrow as pa

    numbers: List[Optional[list]] = []
    strings: List[Optional[list]] = []
    integral = True
    for value in cells:
        array = np.asarray(value) if _is_array(value) else None
        if array is None:
            numbers.append(None if value is None else [value])
            strings.append(None)
        elif array.dtype.kind in "biuf":
            integral = integral and array.dtype.kind != "f"
            numbers.append(array.ravel().tolist())
            strings.append(None)
        else:  # bytes/str elements, or anything else a tensor may decode to (complex)
            numbers.append(None)
            strings.append([v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.ravel().tolist()])
    numeric = pa.array(numbers, type=pa.list_(pa.int64() if integral else pa.float64()))
    if all(s is None for s in strings):
        return numeric, None
    return numeric, pa.array(strings, type=pa.list_(pa.binary()))


def table_bytes(frame: Any, kind: str) -> bytes:
    """``frame`` encoded as ``kind`` (a value of :data:`FORMATS`)."""
    import io

    if kind in ("parquet", "feather"):
        table = _arrow_table(frame)
        buffer = io.BytesIO()
        if kind == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, buffer)
        else:
            import pyarrow.feather as feather

            feather.write_feather(table, buffer)
        return buffer.getvalue()
    import json

    if kind == "csv":
        flat = frame.copy(deep=False)
        for name in flat.columns:
            if flat[name].dtype == object:
                cells = [_json_cell(v) for v in flat[name]]
                flat[name] = [json.dumps(v, allow_nan=False) if isinstance(v, list) else v for v in cells]
        return flat.to_csv(index=False).encode("utf-8")
    # json's float repr round-trips exactly (pandas' to_json keeps only 10 digits by default);
    # allow_nan=False: a NaN that slipped through would be a bug, not a token to write.
    return "".join(json.dumps(row, allow_nan=False) + "\n" for row in _json_rows(frame)).encode("utf-8")


def write_table(frame: Any, output: str, storage_options: Optional[Mapping[str, Any]] = None) -> None:
    """Write a pandas DataFrame to ``output`` (a path or URL) in the format its extension names.

    Args:
        frame: a table of :mod:`eventwriter.frames` (``format="pandas"``).
        output: where to write; ``.parquet``, ``.feather``, ``.csv`` or ``.jsonl``.
        storage_options: fsspec options when ``output`` is a URL.

    Raises:
        ValueError: ``output``'s extension is not one of :data:`FORMATS`.
    """
    from ..storage import storage_for

    kind = format_of(output)
    if kind is None:
        raise ValueError(f"output must end in one of {', '.join(FORMATS)}, got {output!r}")
    storage_for(output, storage_options).write_atomic(output, [table_bytes(frame, kind)])
