"""Every scalar of every run as plain Python data (no pandas): ``{run: {tag: [ScalarPoint, ...]}}``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from .. import protos
from ..logdir import PathLike, run_files
from ..metadata import PLUGIN_SCALARS, plugin_of
from .events import EventRecord, read_file_events


@dataclass(frozen=True)
class ScalarPoint:
    """One scalar value of a tag."""

    step: int
    wall_time: float
    value: float


class MalformedValueWarning(UserWarning):
    """A value of the ``scalars`` plugin is not a one-element numeric tensor; it was skipped.

    Such a record passes the CRC and parses as an Event, so TensorBoard loads the file; the
    reader skips just this value and says where it is (``path``, ``offset``, ``tag``).
    """

    def __init__(self, path: str, offset: int, tag: str, reason: str) -> None:
        self.path, self.offset, self.tag, self.reason = path, offset, tag, reason
        super().__init__(f"{path}: offset {offset}: tag {tag!r}: skipped a malformed scalar ({reason})")


def _scalar_of(value: "protos.Summary.Value", plugin: str, rec: "EventRecord") -> Optional[float]:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return value.simple_value
    if kind == "tensor" and plugin == PLUGIN_SCALARS:
        from ..tensor_codec import tensor_to_numpy

        # Check the declared shape before decoding anything: memory must follow the file's bytes,
        # never a shape the record merely claims.
        dims = [d.size for d in value.tensor.tensor_shape.dim]
        if any(size != 1 for size in dims):
            reason = f"shape {dims}, not a single value"
        else:
            try:
                array = tensor_to_numpy(value.tensor)
                if array.dtype.kind not in "biuf":
                    reason = f"dtype {array.dtype} is not a real number"
                elif array.size != 1:
                    reason = f"{array.size} values for shape {dims}"
                else:
                    return float(array.reshape(()))
            except (ValueError, TypeError, OverflowError) as exc:
                reason = str(exc)
        warnings.warn(MalformedValueWarning(rec.path, rec.offset, value.tag, reason), stacklevel=3)
    return None


def scalars(logdir: PathLike, storage_options: Optional[Mapping[str, Any]] = None) -> Dict[str, Dict[str, List[ScalarPoint]]]:
    """Every scalar of every run under ``logdir``: ``{run: {tag: [ScalarPoint, ...]}}`` in file order.

    Reads old-style ``simple_value`` and new-style rank-0 tensors of the ``scalars`` plugin. A
    tag's plugin is taken from its first value that has metadata, as TensorBoard does. A
    ``scalars`` tensor that is not one real number (a wrong shape or dtype, content that does
    not match its shape) is skipped with a :class:`MalformedValueWarning` naming the file, byte
    offset and tag; the rest of the logdir is read. Memory stays bounded by the files' sizes.

    Raises:
        CorruptRecordError (and subclasses): a damaged record, with its file and byte offset.
    """
    result: Dict[str, Dict[str, List[ScalarPoint]]] = {}
    for run, files in run_files(logdir, storage_options).items():
        plugins: Dict[str, str] = {}
        series: Dict[str, List[ScalarPoint]] = {}
        for file_path in files:
            for rec in read_file_events(file_path, storage_options=storage_options):
                event = rec.event
                if event.WhichOneof("what") != "summary":
                    continue
                for value in event.summary.value:
                    plugin = plugins.setdefault(value.tag, plugin_of(value))
                    number = _scalar_of(value, plugin, rec)
                    if number is not None:
                        series.setdefault(value.tag, []).append(ScalarPoint(event.step, event.wall_time, number))
        if series:
            result[run] = series
    return result
