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
import warnings
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Union

if TYPE_CHECKING:
    from .storage import Storage

PathLike = Union[str, "os.PathLike[str]"]

# Shared by every writer in the process, as in TensorBoard's writer: with the pid it makes names
# unique even for several writers opened in the same second in one directory.
_file_counter = itertools.count()


def event_file_name(wall_time: float, suffix: str = "") -> str:
    """Return ``events.out.tfevents.<%010d secs>.<host>.<pid>.<%05d counter><suffix>``.

    Names must sort chronologically: TensorBoard's Python loader reads a run's files in
    lexicographic order and never goes back to an earlier file. The zero-padded seconds order
    files of different seconds; the zero-padded counter orders files one process opens within a
    second (torch's unpadded counter sorts ``.10`` before ``.2``, e.g. when code closes and
    reopens its writer often, as the PyTorch tutorial does).
    """
    return "events.out.tfevents.%010d.%s.%d.%05d%s" % (
        int(wall_time),
        socket.gethostname(),
        os.getpid(),
        next(_file_counter),
        suffix,
    )


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
