"""``eventwriter.frames`` against TensorBoard's Python data layer: the oracle rows and the comparison.

``oracle(logdir, kind)`` is what ``plugin_event_accumulator`` (size guidance 0) stores for every
run, turned into the rows a ``frames`` table of that kind has; ``assert_same`` reads the same
logdir with ``frames`` and compares row by row. Tags without any plugin metadata (TensorFlow's
``tf.summary.write`` without a plugin) are rows of the ``tensors`` kind, as they are tensors of the
accumulator. A value whose shape declares more elements than its record has bytes is refused by
``frames`` (with a warning) and is left out of the oracle too (``refused_values`` finds them, by
reading the files with eventwriter's record reader, without decoding any tensor).
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, Set, Tuple

import numpy as np
from tensorboard.util import tensor_util

from eventwriter import frames, protos
from eventwriter.reader import run_files
from eventwriter.record import CorruptRecordError, read_records

from .tbutil import plugin_accumulator

OUR_COLUMNS = {
    "scalars": ["value"],
    "histograms": ["left", "right", "count"],
    "text": ["text"],
    "pr_curves": ["true_positives", "false_positives", "true_negatives", "false_negatives", "precision", "recall"],
    "images": ["index", "width", "height", "size"],
    "audio": ["index", "size"],
    "tensors": ["value"],
}
OWN = {
    "scalars",
    "histograms",
    "text",
    "pr_curves",
    "images",
    "audio",
    "hparams",
    "graphs",
    "graph_tagged_run_metadata",
    "graph_run_metadata",
    "graph_run_metadata_graph",
    "graph_keras_model",
}
KINDS = ("scalars", "histograms", "text", "pr_curves", "images", "audio", "tensors")


def _rows(kind: str, array: Any) -> List[tuple]:
    """The frames rows of one accumulator tensor (an empty list: not a row of this kind)."""
    a = np.asarray(array)
    if kind == "scalars":
        if a.dtype == object or a.size != 1:
            return []
        return [(float(a.reshape(()).real),)]
    if kind == "histograms":
        if a.dtype == object or a.ndim != 2 or a.shape[1] != 3:
            return []
        a = a.astype(np.float64)
        return [(a[:, 0].tolist(), a[:, 1].tolist(), a[:, 2].tolist())]
    if kind == "text":
        if a.dtype != object:
            return []
        return [("\n".join(b.decode("utf-8", "replace") for b in a.ravel()),)]
    if kind == "pr_curves":
        if a.dtype == object or a.ndim != 2 or a.shape[0] != 6:
            return []
        return [tuple(a.astype(np.float64)[i].tolist() for i in range(6))]
    if kind == "images":
        if a.dtype != object or a.ndim != 1 or len(a) < 2:
            return []
        try:
            width, height = int(a[0]), int(a[1])
        except ValueError:
            return []
        return [(i, width, height, len(b)) for i, b in enumerate(a[2:])]
    if kind == "audio":
        if a.dtype != object or a.ndim not in (1, 2):
            return []
        clips = a[:, 0] if a.ndim == 2 else a  # the accumulator keeps the labels too; frames splits them off
        return [(i, len(b)) for i, b in enumerate(clips)]
    if kind == "tensors":
        return [(a,)]
    raise AssertionError(kind)


def refused_values(logdir) -> Set[Tuple[str, int, float, str]]:
    """``(run, step, wall_time, tag)`` of every tensor value whose shape claims more elements than its record has bytes."""
    out = set()
    for run, files in run_files(logdir).items():
        for path in files:
            try:
                with open(path, "rb") as stream:
                    records = list(_sound_records(stream))
            except OSError:
                continue
            for payload in records:
                try:
                    event = protos.Event.FromString(payload)
                except Exception:  # noqa: BLE001 - the file ends here for both readers
                    break
                for value in event.summary.value:
                    if value.WhichOneof("value") == "tensor":
                        declared = math.prod(max(int(d.size), 0) for d in value.tensor.tensor_shape.dim)
                        if declared > max(len(payload), 1):
                            out.add((run, event.step, event.wall_time, value.tag or value.node_name))
    return out


def _sound_records(stream):
    try:
        for record in read_records(stream):
            yield record.payload
    except CorruptRecordError:
        return
    except Exception:  # noqa: BLE001 - a truncated tail
        return


def oracle(logdir, kind: str) -> Dict[Tuple[str, str], List[tuple]]:
    """``{(run, tag): [(step, wall_time, *columns)]}`` from plugin_event_accumulator."""
    out = {}
    refused = refused_values(logdir)
    for run, files in run_files(logdir).items():
        acc = plugin_accumulator(os.path.dirname(files[0]))
        for tag in acc.Tags()["tensors"]:
            meta = acc.summary_metadata.get(tag)
            plugin = meta.plugin_data.plugin_name if meta is not None else None
            if kind == "tensors":
                if plugin in OWN:
                    continue
            elif plugin != kind:
                continue
            rows = []
            for e in acc.Tensors(tag):
                if (run, e.step, e.wall_time, tag) in refused:
                    continue
                try:
                    array = tensor_util.make_ndarray(e.tensor_proto)
                except Exception:  # noqa: BLE001 - TensorBoard cannot decode it either: no row
                    continue
                for r in _rows(kind, array):
                    rows.append((e.step, e.wall_time, *r))
            if rows:
                out[(run, tag)] = rows
    return out


def ours(table, kind: str) -> Dict[Tuple[str, str], List[tuple]]:
    """The same shape as :func:`oracle`, from a frames table (pandas)."""
    out: Dict[Tuple[str, str], List[tuple]] = {}
    for row in table.itertuples(index=False):
        d = row._asdict()
        out.setdefault((d["run"], d["tag"]), []).append((d["step"], d["wall_time"], *[d[c] for c in OUR_COLUMNS[kind]]))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def mismatches(logdir, kind: str, **options) -> List[str]:
    """Every difference between ``frames.read(logdir, kind)`` and the oracle, described."""
    import warnings

    expected = oracle(logdir, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = ours(frames.read(logdir, kind, **options), kind)
    problems = []
    for key in sorted(set(got) | set(expected)):
        a, b = got.get(key, []), expected.get(key, [])
        if len(a) != len(b):
            problems.append(f"{kind} {key}: {len(a)} rows, TensorBoard {len(b)}")
            continue
        for i, (x, y) in enumerate(zip(a, b)):
            if len(x) != len(y) or not all(_same(p, q) for p, q in zip(x, y)):
                problems.append(f"{kind} {key} row {i}: {str(x)[:200]} != {str(y)[:200]}")
                break
    return problems


def assert_same(logdir, kind: str, **options) -> Dict[Tuple[str, str], List[tuple]]:
    """Assert that frames and the accumulator agree on ``kind``; returns frames' rows."""
    problems = mismatches(logdir, kind, **options)
    assert not problems, "\n".join(problems[:20])
    return ours(frames.read(logdir, kind, **options), kind)
