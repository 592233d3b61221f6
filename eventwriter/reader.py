"""Read event files back: events of a file or logdir, and scalars as plain Python data.

The reader follows TensorBoard's rules (docs/FORMAT.md §1): a run is a directory that directly holds
files whose name contains ``tfevents``; a run's files are read in lexicographic order; a
truncated last record is what a live file looks like and ends the file quietly (unless
``strict``), while a damaged record raises a :class:`~eventwriter.record.CorruptRecordError`.
It never imports the writer.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Optional, Union

from . import protos
from .record import CorruptRecordError, InvalidEventError, Record, TruncatedRecordError, read_records

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class EventRecord:
    """One event read from disk: the file it came from, its byte offset and the parsed Event."""

    path: str
    offset: int
    event: "protos.Event"


@dataclass(frozen=True)
class ScalarPoint:
    """One scalar value of a tag."""

    step: int
    wall_time: float
    value: float


@dataclass
class TagInfo:
    """What a run holds for one tag (used by ``eventwriter inspect``)."""

    plugin: str
    count: int = 0
    first_step: Optional[int] = None
    last_step: Optional[int] = None
    first_wall_time: Optional[float] = None
    last_wall_time: Optional[float] = None

    def add(self, step: int, wall_time: float) -> None:
        """Count one more value at ``step``/``wall_time``."""
        self.count += 1
        if self.first_step is None:
            self.first_step, self.first_wall_time = step, wall_time
        self.last_step, self.last_wall_time = step, wall_time


@dataclass
class RunInfo:
    """Files, writers and tags of one run."""

    name: str
    files: List[str] = field(default_factory=list)
    writers: List[str] = field(default_factory=list)
    tags: Dict[str, TagInfo] = field(default_factory=dict)
    problems: List[str] = field(default_factory=list)


def _is_event_file(name: str) -> bool:
    return "tfevents" in name and not name.endswith(".profile-empty")


def run_files(logdir: PathLike) -> Dict[str, List[str]]:
    """Map each run under ``logdir`` (``.`` for the logdir itself) to its event files, sorted by name.

    Raises:
        FileNotFoundError: ``logdir`` does not exist.
        NotADirectoryError: ``logdir`` is a file.
    """
    root = os.fspath(logdir)
    if not os.path.exists(root):
        raise FileNotFoundError(f"no such file or directory: {root!r}")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"not a directory: {root!r}")
    runs: Dict[str, List[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        files = sorted(f for f in filenames if _is_event_file(f))
        if files:
            run = os.path.relpath(dirpath, root)
            runs[run] = [os.path.join(dirpath, f) for f in files]
    return runs


def event_files(path: PathLike) -> List[str]:
    """Event files of ``path``: the file itself, or every run's files under a directory, in read order."""
    path = os.fspath(path)
    if os.path.isfile(path):
        return [path]
    return [f for files in run_files(path).values() for f in files]


def _parse(record: Record, path: str) -> "protos.Event":
    try:
        return protos.Event.FromString(record.payload)
    except Exception as exc:  # protobuf raises DecodeError, or RuntimeWarning-ish errors on upb
        raise InvalidEventError(f"payload does not parse as an Event ({exc})", record.offset, path) from exc


def read_file_events(path: PathLike, strict: bool = False) -> Iterator[EventRecord]:
    """Yield the events of one event file.

    Args:
        path: the file.
        strict: raise :class:`TruncatedRecordError` for an incomplete last record instead of
            stopping quietly before it.

    Raises:
        CorruptRecordError (and subclasses): a damaged record, with its byte offset.
    """
    path = os.fspath(path)
    with open(path, "rb") as stream:
        try:
            for record in read_records(stream, path):
                yield EventRecord(path, record.offset, _parse(record, path))
        except TruncatedRecordError:
            if strict:
                raise


def read_events(path: PathLike, strict: bool = False) -> Iterator[EventRecord]:
    """Yield the events of a file, or of every event file of every run under a directory."""
    for file_path in event_files(path):
        yield from read_file_events(file_path, strict=strict)


def _scalar_of(value: "protos.Summary.Value", plugin: str) -> Optional[float]:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return value.simple_value
    if kind == "tensor" and plugin == "scalars":
        from .tensors import tensor_to_numpy

        array = tensor_to_numpy(value.tensor)
        if array.size == 1:
            return float(array.reshape(()))
    return None


def _plugin_of(value: "protos.Summary.Value") -> str:
    kind = value.WhichOneof("value")
    if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
        return value.metadata.plugin_data.plugin_name
    return {"simple_value": "scalars", "histo": "histograms", "image": "images", "audio": "audio"}.get(kind or "", "")


def scalars(logdir: PathLike) -> Dict[str, Dict[str, List[ScalarPoint]]]:
    """Every scalar of every run under ``logdir``: ``{run: {tag: [ScalarPoint, ...]}}`` in file order.

    Reads old-style ``simple_value`` and new-style rank-0 tensors of the ``scalars`` plugin. A
    tag's plugin is taken from its first value that has metadata, as TensorBoard does.
    """
    result: Dict[str, Dict[str, List[ScalarPoint]]] = {}
    for run, files in run_files(logdir).items():
        plugins: Dict[str, str] = {}
        series: Dict[str, List[ScalarPoint]] = {}
        for file_path in files:
            for rec in read_file_events(file_path):
                event = rec.event
                if event.WhichOneof("what") != "summary":
                    continue
                for value in event.summary.value:
                    plugin = plugins.setdefault(value.tag, _plugin_of(value))
                    number = _scalar_of(value, plugin)
                    if number is not None:
                        series.setdefault(value.tag, []).append(ScalarPoint(event.step, event.wall_time, number))
        if series:
            result[run] = series
    return result


def describe(logdir: PathLike) -> List[RunInfo]:
    """Summarise every run under ``logdir``: files, writer names and per-tag counts and ranges.

    A damaged file is summarised up to the damage, and ``RunInfo.problems`` says where it is
    (file, byte offset, kind), as TensorBoard would stop reading there too.
    """
    infos = []
    for run, files in run_files(logdir).items():
        info = RunInfo(run, files=list(files))
        for file_path in files:
            try:
                _describe_file(info, file_path)
            except CorruptRecordError as exc:
                info.problems.append(f"{file_path}: offset {exc.offset}: {exc.kind}: {exc.message}")
        infos.append(info)
    return infos


def _describe_file(info: RunInfo, file_path: str) -> None:
    """Add one file's writer names and tag counts to ``info`` (raises at the first damaged record)."""
    for rec in read_file_events(file_path):
        event = rec.event
        what = event.WhichOneof("what")
        if what == "file_version":
            writer = event.source_metadata.writer or "(unnamed)"
            if writer not in info.writers:
                info.writers.append(writer)
        elif what == "summary":
            for value in event.summary.value:
                info.tags.setdefault(value.tag, TagInfo(_plugin_of(value))).add(event.step, event.wall_time)
        elif what == "graph_def":
            info.tags.setdefault("__run_graph__", TagInfo("graphs")).add(event.step, event.wall_time)
        elif what == "tagged_run_metadata":
            name = event.tagged_run_metadata.tag
            info.tags.setdefault(name, TagInfo("graph_tagged_run_metadata")).add(event.step, event.wall_time)


def check_event(event: "protos.Event") -> Optional[str]:
    """Return why TensorBoard would mishandle ``event`` (non-finite wall time), or None if it is fine."""
    if not math.isfinite(event.wall_time):
        return f"wall_time is {event.wall_time} (TensorBoard's default loader drops the {'file' if math.isnan(event.wall_time) else 'event'})"
    return None
