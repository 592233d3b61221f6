"""Read event files back: events of a file or logdir, and scalars as plain Python data.

The reader follows TensorBoard's rules (docs/FORMAT.md §1): a run is a directory that directly holds
files whose name contains ``tfevents``; a run's files are read in lexicographic order; a
truncated last record is what a live file looks like and ends the file quietly (unless
``strict``), while a damaged record raises a :class:`~eventwriter.record.CorruptRecordError`.
Every path may be a local path or a store URL (``s3://``...): all file access goes through the
storage seam (:mod:`eventwriter.storage`). It never imports the writer.
"""

from __future__ import annotations

import errno
import math
import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Union

from . import protos
from .record import CorruptRecordError, InvalidEventError, Record, TruncatedRecordError, read_records

if TYPE_CHECKING:
    from .storage import Storage

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class EventRecord:
    """One event read from disk: the file it came from, its byte offset, the parsed Event and its bytes."""

    path: str
    offset: int
    event: "protos.Event"
    payload: bytes = b""


class SkippedFileWarning(UserWarning):
    """An entry named like an event file is not a regular file (FIFO, socket, broken link): not read."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: not a regular file (FIFO, socket or broken link); skipped")


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


def is_event_file_name(name: str) -> bool:
    """True for a file name TensorBoard reads as an event file (contains ``tfevents``, not a profile stub)."""
    return "tfevents" in name and not name.endswith(".profile-empty")


def _storage(path: str, storage_options: Optional[Mapping[str, Any]]) -> "Storage":
    from .storage import storage_for

    return storage_for(path, storage_options)


def _relative(root: str, directory: str) -> str:
    """The run name: ``directory`` relative to ``root``, ``.`` for the root itself."""
    from .storage import is_url

    if is_url(root):
        rest = directory[len(root.rstrip("/")):].strip("/")
        return rest or "."
    return os.path.relpath(directory, root)


def run_files(logdir: PathLike, storage_options: Optional[Mapping[str, Any]] = None) -> Dict[str, List[str]]:
    """Map each run under ``logdir`` (``.`` for the logdir itself) to its event files, sorted by name.

    ``logdir`` may be a local path or a URL (``s3://``, ``gs://``, ``az://``... with
    ``storage_options`` for fsspec). Links to directories are followed, as TensorBoard does,
    but a directory already on the path being walked is never entered again (link loops end).
    Entries named like event files that are not regular files (FIFOs, dangling links) are
    skipped with a :class:`SkippedFileWarning`, as TensorBoard's Rust loader skips them.

    Raises:
        FileNotFoundError: ``logdir`` does not exist.
        NotADirectoryError: ``logdir`` is a file.
    """
    root = os.fspath(logdir)
    storage = _storage(root, storage_options)
    kind = storage.kind(root)
    if kind == "missing":
        raise FileNotFoundError(f"no such file or directory: {root!r}")
    if kind != "dir":
        raise NotADirectoryError(f"not a directory: {root!r}")
    runs: Dict[str, List[str]] = {}
    for entry in storage.walk(root):
        for name in entry.skipped:
            if is_event_file_name(name):
                warnings.warn(SkippedFileWarning(storage.join(entry.directory, name)), stacklevel=2)
        files = [f for f in entry.files if is_event_file_name(f)]
        if files:
            runs[_relative(root, entry.directory)] = [storage.join(entry.directory, f) for f in files]
    return runs


def event_files(path: PathLike, storage_options: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Event files of ``path``: the file itself, or every run's files under a directory, in read order.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        OSError: ``path`` is neither a regular file nor a directory (a FIFO, a dangling link...).
    """
    path = os.fspath(path)
    kind = _storage(path, storage_options).kind(path)
    if kind == "file":
        return [path]
    if kind == "other":
        raise OSError(errno.EINVAL, f"{path!r} is not a regular file (a FIFO, socket or broken link?); not read")
    return [f for files in run_files(path, storage_options).values() for f in files]


def _parse(record: Record, path: str) -> "protos.Event":
    try:
        return protos.Event.FromString(record.payload)
    except Exception as exc:  # protobuf raises DecodeError, or RuntimeWarning-ish errors on upb
        raise InvalidEventError(f"payload does not parse as an Event ({exc})", record.offset, path) from exc


def read_file_events(
    path: PathLike, strict: bool = False, storage_options: Optional[Mapping[str, Any]] = None
) -> Iterator[EventRecord]:
    """Yield the events of one event file.

    Args:
        path: the file (a local path or a URL).
        strict: raise :class:`TruncatedRecordError` for an incomplete last record instead of
            stopping quietly before it.
        storage_options: fsspec options for a URL.

    Raises:
        CorruptRecordError (and subclasses): a damaged record, with its byte offset.
        OSError: the file cannot be opened (a FIFO or other non-regular file is refused, not read).
    """
    path = os.fspath(path)
    with _storage(path, storage_options).open_read(path) as stream:
        try:
            for record in read_records(stream, path):
                yield EventRecord(path, record.offset, _parse(record, path), record.payload)
        except TruncatedRecordError:
            if strict:
                raise


def read_events(
    path: PathLike, strict: bool = False, storage_options: Optional[Mapping[str, Any]] = None
) -> Iterator[EventRecord]:
    """Yield the events of a file, or of every event file of every run under a directory."""
    for file_path in event_files(path, storage_options):
        yield from read_file_events(file_path, strict=strict, storage_options=storage_options)


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
    if kind == "tensor" and plugin == "scalars":
        from .tensors import tensor_to_numpy

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


def _plugin_of(value: "protos.Summary.Value") -> str:
    kind = value.WhichOneof("value")
    if value.HasField("metadata") and value.metadata.plugin_data.plugin_name:
        return value.metadata.plugin_data.plugin_name
    return {"simple_value": "scalars", "histo": "histograms", "image": "images", "audio": "audio"}.get(kind or "", "")


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
                    plugin = plugins.setdefault(value.tag, _plugin_of(value))
                    number = _scalar_of(value, plugin, rec)
                    if number is not None:
                        series.setdefault(value.tag, []).append(ScalarPoint(event.step, event.wall_time, number))
        if series:
            result[run] = series
    return result


def describe(logdir: PathLike, storage_options: Optional[Mapping[str, Any]] = None) -> List[RunInfo]:
    """Summarise every run under ``logdir``: files, writer names and per-tag counts and ranges.

    A damaged file is summarised up to the damage, and ``RunInfo.problems`` says where it is
    (file, byte offset, kind), as TensorBoard would stop reading there too.
    """
    infos = []
    for run, files in run_files(logdir, storage_options).items():
        info = RunInfo(run, files=list(files))
        for file_path in files:
            try:
                _describe_file(info, file_path, storage_options)
            except CorruptRecordError as exc:
                info.problems.append(f"{file_path}: offset {exc.offset}: {exc.kind}: {exc.message}")
        infos.append(info)
    return infos


def _describe_file(info: RunInfo, file_path: str, storage_options: Optional[Mapping[str, Any]]) -> None:
    """Add one file's writer names and tag counts to ``info`` (raises at the first damaged record)."""
    for rec in read_file_events(file_path, storage_options=storage_options):
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
