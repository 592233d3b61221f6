"""Which files make a run: event file names (how writers make them, how readers recognise them) and runs.

TensorBoard's rules (docs/FORMAT.md §1): a run is a directory that directly holds files whose name
contains ``tfevents``; a run's files are read in lexicographic order and a reader never goes back to
an earlier file, so a writer's names must sort in creation order. Every path may be a local path or
a store URL (``s3://``...): listing goes through the storage seam (:mod:`eventwriter.storage`).
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, NamedTuple, Optional, Union

if TYPE_CHECKING:
    from .storage import Storage

PathLike = Union[str, "os.PathLike[str]"]

# Shared by every writer in the process, as in TensorBoard's writer: with the pid it makes names
# unique even for several writers opened in the same second in one directory.
_file_counter = itertools.count()
_name_lock = threading.Lock()
_last_secs = 0  # the largest seconds field given so far: a clock stepping back never lowers it
_last_name = ""

_PREFIX = "events.out.tfevents."


def event_file_name(wall_time: float, suffix: str = "") -> str:
    """Return ``events.out.tfevents.<%010d secs>.<host>.<pid>.<%05d counter><suffix>``.

    Names must sort chronologically: TensorBoard's Python loader reads a run's files in
    lexicographic order and never goes back to an earlier file. The zero-padded seconds order
    files of different seconds; the zero-padded counter orders files one process opens within a
    second (torch's unpadded counter sorts ``.10`` before ``.2``, e.g. when code closes and
    reopens its writer often, as the PyTorch tutorial does).

    Every name sorts after every name this process gave before, whatever the clock does: when it
    steps back (an NTP correction, a VM restored from a snapshot) the seconds field stays at the
    largest value used so far, and moves on by one when the counter alone would not keep the
    order (past 99999 it gets a sixth digit). Names keep their length.
    """
    global _last_secs, _last_name
    host, pid = socket.gethostname(), os.getpid()
    with _name_lock:
        secs = max(int(wall_time), _last_secs)
        counter = next(_file_counter)
        name = "%s%010d.%s.%d.%05d%s" % (_PREFIX, secs, host, pid, counter, suffix)
        if name <= _last_name:
            secs = _last_secs + 1
            name = "%s%010d.%s.%d.%05d%s" % (_PREFIX, secs, host, pid, counter, suffix)
        _last_secs, _last_name = secs, name
        return name


def name_after(name: str, last: str) -> str:
    """``name``, or if it does not sort after ``last``, the same name with its seconds field moved
    to one past ``last``'s: a name that sorts after every file up to ``last`` and keeps the
    writer's host, pid, counter and suffix (``eventwriter upload-pending`` names late segments so)."""
    if name > last:
        return name
    if name.startswith(_PREFIX) and last.startswith(_PREFIX):
        mine, theirs = name[len(_PREFIX):len(_PREFIX) + 10], last[len(_PREFIX):len(_PREFIX) + 10]
        if mine.isdigit() and theirs.isdigit() and name[len(_PREFIX) + 10:len(_PREFIX) + 11] == ".":
            return "%s%010d%s" % (_PREFIX, int(theirs) + 1, name[len(_PREFIX) + 10:])
    fresh = event_file_name(time.time())
    return fresh if fresh > last else last + "." + fresh[len(_PREFIX):]


def default_run_dir(comment: str = "") -> str:
    """``runs/<Mon DD_HH-MM-SS>_<hostname><comment>``: torch's default run directory (local time).

    ``SummaryWriter()`` without a ``log_dir`` and transformers' ``TensorBoardCallback`` (below its
    ``output_dir``) both name a run this way.
    """
    from datetime import datetime

    return os.path.join("runs", datetime.now().strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname() + comment)


def is_event_file_name(name: str) -> bool:
    """True for a file name TensorBoard reads as an event file (contains ``tfevents``, not a profile stub)."""
    return "tfevents" in name and not name.endswith(".profile-empty")


class SkippedFileWarning(UserWarning):
    """An entry named like an event file is not a regular file (FIFO, socket, broken link): not read."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: not a regular file (FIFO, socket or broken link); skipped")


def storage_of(path: str, storage_options: Optional[Mapping[str, Any]] = None) -> "Storage":
    """The storage backend for ``path`` (imported on first use: local logging never loads fsspec)."""
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
    storage = storage_of(root, storage_options)
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
    kind = storage_of(path, storage_options).kind(path)
    if kind == "file":
        return [path]
    if kind == "other":
        raise OSError(errno.EINVAL, f"{path!r} is not a regular file (a FIFO, socket or broken link?); not read")
    return [f for files in run_files(path, storage_options).values() for f in files]


# -- compacted runs --------------------------------------------------------------------------
# ``eventwriter compact`` merges a run's event files into one object named
# ``events.out.tfevents.<secs>.compacted.<16 hex>`` (it sorts before the files it replaces) and
# writes, beside it and before it, a manifest ``eventwriter-compacted.<16 hex>.json`` saying which
# files it holds and where their records are in it. The manifest makes compaction safe to repeat
# after a kill and lets a follower skip records it has already returned (eventwriter.frames).

_COMPACTED = ".compacted."
_MANIFEST_PREFIX = "eventwriter-compacted."


class CoveredFile(NamedTuple):
    """A file whose records a compacted object holds: its ``name`` and ``size`` (bytes) before
    compaction, and where they are in the object: ``records`` records from record number ``first``."""

    name: str
    size: int
    first: int
    records: int


class Manifest(NamedTuple):
    """What one compacted object holds.

    ``inputs`` are the files merged into it directly (deleted once it is verified); ``covers``
    are every file whose records it holds, the inputs' own covered files included (a compacted
    object merged again).
    """

    name: str
    records: int
    inputs: List[CoveredFile]
    covers: List[CoveredFile]

    def to_json(self) -> bytes:
        """The manifest's bytes (deterministic: the same compaction writes the same bytes)."""
        import json

        return json.dumps(
            {"version": 1, "object": self.name, "records": self.records,
             "inputs": [list(c) for c in self.inputs], "covers": [list(c) for c in self.covers]},
            sort_keys=True,
        ).encode("utf-8")

    @staticmethod
    def from_json(data: bytes) -> "Manifest":
        """Parse :meth:`to_json`'s bytes (``ValueError`` if they are not a manifest)."""
        import json

        try:
            raw = json.loads(data.decode("utf-8"))
            inputs = [CoveredFile(str(n), int(s), int(f), int(c)) for n, s, f, c in raw["inputs"]]
            covers = [CoveredFile(str(n), int(s), int(f), int(c)) for n, s, f, c in raw["covers"]]
            return Manifest(str(raw["object"]), int(raw["records"]), inputs, covers)
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a compaction manifest: {exc}") from exc


def compacted_name(first: str, content_id: str) -> str:
    """The merged object's name: it sorts before ``first`` (the first file merged) and says what it is."""
    secs = first[len(_PREFIX):len(_PREFIX) + 10] if first.startswith(_PREFIX) else ""
    before = int(secs) - 1 if secs.isdigit() and int(secs) > 0 else 0
    return "%s%010d%s%s" % (_PREFIX, before, _COMPACTED, content_id)


def compaction_id(name: str) -> Optional[str]:
    """The content id of a compacted object's name (:func:`compacted_name`), else None."""
    if not name.startswith(_PREFIX) or _COMPACTED not in name:
        return None
    tail = name.rsplit(_COMPACTED, 1)[1]
    return tail if len(tail) == 16 and all(c in "0123456789abcdef" for c in tail) else None


def manifest_name(content_id: str) -> str:
    """The manifest's name for a compacted object's content id (no ``tfevents`` in it: readers skip it)."""
    return f"{_MANIFEST_PREFIX}{content_id}.json"


def manifest_id(name: str) -> Optional[str]:
    """The content id of a manifest's name, else None."""
    if name.startswith(_MANIFEST_PREFIX) and name.endswith(".json"):
        tail = name[len(_MANIFEST_PREFIX):-5]
        return tail if len(tail) == 16 else None
    return None


def read_manifest(path: str, storage_options: Optional[Mapping[str, Any]] = None) -> Optional[Manifest]:
    """The manifest of the compacted object ``path`` (a file path or URL), or None if ``path`` is
    not a compacted object or its manifest is missing or unreadable."""
    sep = "/" if "://" in path else os.sep
    directory, _, name = path.rpartition(sep)
    content_id = compaction_id(name)
    if content_id is None:
        return None
    storage = storage_of(path, storage_options)
    try:
        data = storage.read_bytes(storage.join(directory, manifest_name(content_id)))
        manifest = Manifest.from_json(data) if data is not None else None
    except (OSError, ValueError):
        return None
    return manifest if manifest is not None and manifest.name == name else None
