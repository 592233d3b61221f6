"""Every scalar of every run as plain Python data (no pandas): ``{run: {tag: [ScalarPoint, ...]}}``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional

from .. import protos
from ..logdir import PathLike, run_files
from ..metadata import PLUGIN_SCALARS, plugin_of
from ..wire import SESSION_START, parse_file_version
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
    if kind == "tensor" and plugin in (PLUGIN_SCALARS, ""):  # "": the tag's metadata may come later
        from ..tensor_codec import tensor_to_numpy

        # tensor_to_numpy never allocates a declared shape (one value broadcast to billions of
        # elements is a view), so memory follows the file's bytes, not the record's claim.
        dims = [d.size for d in value.tensor.tensor_shape.dim]
        try:
            array = tensor_to_numpy(value.tensor)
            if array.dtype.kind not in "biuf":
                reason = f"dtype {array.dtype} is not a real number"
            elif array.size != 1:
                reason = f"shape {dims}, not a single value"
            else:
                return float(array.reshape(()))
        except (ValueError, TypeError, OverflowError) as exc:
            reason = str(exc)
        if not plugin:
            return None  # not (yet) a scalar tag: nothing to say about it
        warnings.warn(MalformedValueWarning(rec.path, rec.offset, value.tag, reason), stacklevel=3)
    return None


class _RunScalars:
    """One run's scalars under the rules of TensorBoard's Python data layer (docs/FORMAT.md §5.3, §5.6).

    The same rules as :mod:`eventwriter.frames` applies: a tag belongs to the plugin of its
    first value with metadata in the run (``simple_value`` implies ``scalars``), even when that
    value comes after its first points; with ``file_version`` >= 2 the run's first
    ``SessionLog.START`` is ignored and every later one drops all earlier points with
    ``step >=`` its step; without it, a summary event whose step goes back drops the earlier
    points of its own tags with ``step >=`` its step.
    """

    def __init__(self) -> None:
        self.file_version: Optional[float] = None
        self.seen_start = False
        self.most_recent_step = -1
        self.plugins: Dict[str, str] = {}
        self.points: Dict[str, List[ScalarPoint]] = {}

    def _purge(self, step: int, tags: Optional[List[str]]) -> None:
        for tag in self.points if tags is None else tags:
            if tag in self.points:
                self.points[tag] = [p for p in self.points[tag] if p.step < step]

    def add(self, rec: EventRecord) -> None:
        """Apply one event (in read order)."""
        event = rec.event
        what = event.WhichOneof("what")
        if what == "file_version":
            self.file_version = parse_file_version(event.file_version)
        # TensorBoard's loader turns graphs and run metadata into summary events too.
        summary_like = what in ("summary", "graph_def", "tagged_run_metadata")
        if self.file_version is not None and self.file_version >= 2:
            if what == "session_log" and event.session_log.status == SESSION_START:
                if self.seen_start:
                    self._purge(event.step, None)
                self.seen_start = True
        elif summary_like and event.step < self.most_recent_step:
            tags = [v.tag for v in event.summary.value] if what == "summary" else None
            if tags is not None:
                self._purge(event.step, tags)
        if summary_like:
            self.most_recent_step = event.step
        if what != "summary":
            return
        for value in event.summary.value:
            plugin = plugin_of(value)
            if plugin:
                self.plugins.setdefault(value.tag, plugin)
            number = _scalar_of(value, self.plugins.get(value.tag, ""), rec)
            if number is not None:
                self.points.setdefault(value.tag, []).append(ScalarPoint(event.step, event.wall_time, number))

    def series(self) -> Dict[str, List[ScalarPoint]]:
        """The points of every tag whose plugin is ``scalars`` (tags with no point left out)."""
        return {tag: points for tag, points in self.points.items() if points and self.plugins.get(tag) == PLUGIN_SCALARS}


def scalars(logdir: PathLike, storage_options: Optional[Mapping[str, Any]] = None) -> Dict[str, Dict[str, List[ScalarPoint]]]:
    """Every scalar of every run under ``logdir``: ``{run: {tag: [ScalarPoint, ...]}}`` in read order.

    The same points as TensorBoard's Python data layer and :func:`eventwriter.frames.scalars`:
    old-style ``simple_value`` and new-style one-element tensors of tags whose plugin is
    ``scalars`` (a tag's plugin is that of its first value with metadata in the run), after
    TensorBoard's restart rules (a second ``SessionLog.START`` drops the earlier points at or
    after its step; in files without a ``file_version``, a step going back drops that tag's
    later points). A ``scalars`` tensor that is not one real number (a wrong shape or dtype,
    content that does not match its shape) is skipped with a :class:`MalformedValueWarning`
    naming the file, byte offset and tag; the rest of the logdir is read. Memory stays bounded
    by the files' sizes. ``logdir`` may also be a run directory.

    Raises:
        CorruptRecordError (and subclasses): a damaged record, with its file and byte offset.
    """
    result: Dict[str, Dict[str, List[ScalarPoint]]] = {}
    for run, files in run_files(logdir, storage_options).items():
        rules = _RunScalars()
        for file_path in files:
            for rec in read_file_events(file_path, storage_options=storage_options):
                rules.add(rec)
        series = rules.series()
        if series:
            result[run] = series
    return result
