"""Segments that could not be uploaded yet, kept in a local directory (one per event stream).

Why: while an object store is unreachable a training run keeps logging. Holding everything in
memory would grow without bound and die with the process, so a segment that cannot be uploaded
within one upload interval is written here, as a complete event file under the object name it is
(or was) being uploaded under; when the store refuses for good, or the process dies, the
segments stay here for ``eventwriter upload-pending``. Nothing is created until it is needed: a
run on a healthy store leaves no directory behind.

Layout of one spill directory::

    target.json       {"version": 2, "directory": URL, "host": ..., "pid": ...}
    lock              flock-ed by its owner: the writing process while it lives, else upload-pending
    <seq>.name        {"name": object name, "records": N}: the name the segment is being uploaded under
    <seq>.seg         the segment's bytes (the file_version header, then N records)

Crash safety: a file is written under a temporary name, ``fsync``-ed and renamed into place, and
the directory is ``fsync``-ed, so a segment is either complete or absent (never a torn record).
``<seq>.name`` is written before ``<seq>.seg`` and removed after it: a segment on disk always
knows its name. A name changes (atomic replace of ``<seq>.name``) *before* the segment is sent
under the new one, and a segment is removed only once it is in the store, so whoever uploads it
next checks the recorded name first and never stores it twice.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import threading
import time
import uuid
from typing import Any, Dict, List, NamedTuple, Optional

from ..record import record_ends

FORMAT_VERSION = 2
_SEG = ".seg"
_NAME = ".name"
_TMP = ".tmp"

# Lock descriptors this process holds. A forked child closes its copies (without unlocking: the
# lock belongs to the open file description, which the parent still holds), so that a child
# outliving its parent does not keep the directory locked.
_held_fds: "set[int]" = set()
_held_paths: "dict[int, str]" = {}  # lock descriptor -> spill directory, for "held by this process"
_held_lock = threading.Lock()


def default_root() -> str:
    """``$EVENTWRITER_PENDING_DIR``, else ``$XDG_CACHE_HOME/eventwriter/pending`` (``~/.cache/...``)."""
    root = os.environ.get("EVENTWRITER_PENDING_DIR")
    if root:
        return root
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "eventwriter", "pending")


def count_records(segment: bytes) -> int:
    """Records of a segment, its ``file_version`` header not counted."""
    return max(0, len(record_ends(segment)) - 1)


class SpillBusy(RuntimeError):
    """Another process holds the spill directory's lock (its writer, or another upload-pending)."""


class Entry(NamedTuple):
    """One segment kept in a spill directory."""

    seq: int
    name: str
    records: int


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(directory: str, name: str, data: bytes) -> None:
    """``directory/name`` = ``data``, complete or absent: temporary file, fsync, rename, fsync the directory."""
    final = os.path.join(directory, name)
    tmp = f"{final}.{uuid.uuid4().hex[:8]}{_TMP}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def _lock(path: str, timeout: float, role: str) -> Optional[int]:
    """An exclusive ``flock`` on ``path`` (created if missing), waiting at most ``timeout`` s; None if busy.

    The holder writes who it is into the file (``{"role", "host", "pid"}``), for the message of
    whoever finds it busy.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no flock; the pid in target.json is all there is
        fcntl = None  # type: ignore[assignment]
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0), 0o600)
    deadline = time.monotonic() + timeout
    delay = 0.01
    while fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 0.2)
    with _held_lock:
        _held_fds.add(fd)
        _held_paths[fd] = os.path.dirname(os.path.abspath(path))
    with contextlib.suppress(OSError):
        holder = json.dumps({"role": role, "host": socket.gethostname(), "pid": os.getpid()}).encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder, 0)
    return fd


def _unlock(fd: int) -> None:
    with _held_lock:
        _held_fds.discard(fd)
        _held_paths.pop(fd, None)
    os.close(fd)  # closing the only descriptor of the open file description releases the flock


def _held_here(path: str) -> bool:
    with _held_lock:
        return os.path.abspath(path) in _held_paths.values()


def _close_inherited_locks() -> None:
    for fd in list(_held_fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_fds.clear()
    _held_paths.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_inherited_locks)


class SpillDir:
    """One spill directory, locked by this process while the object lives (see the module docstring).

    Create a new one with :meth:`create` (a writer's stream, on first need) or take over one left
    behind with :meth:`claim` (``upload-pending``).
    """

    def __init__(self, path: str, lock_fd: int, target: Dict[str, Any]) -> None:
        self.path = path
        self.target = target
        self._lock_fd: Optional[int] = lock_fd

    @classmethod
    def create(cls, root: Optional[str], directory_url: str) -> "SpillDir":
        """A new, locked spill directory under ``root`` (default :func:`default_root`) for ``directory_url``.

        Raises:
            OSError: the directory cannot be created (read-only home, full disk...).
        """
        root = root or default_root()
        host, pid = socket.gethostname(), os.getpid()
        path = os.path.join(root, f"{host}.{pid}.{uuid.uuid4().hex[:12]}")
        os.makedirs(path, mode=0o700)
        try:
            fd = _lock(os.path.join(path, "lock"), 0.0, "writer")
            if fd is None:  # pragma: no cover - a fresh random name nobody else knows
                raise OSError(errno.EBUSY, f"{path}: locked by another process")
            target = {"version": FORMAT_VERSION, "directory": directory_url, "host": host, "pid": pid}
            try:
                _write_file(path, "target.json", json.dumps(target).encode("utf-8"))
            except BaseException:
                _unlock(fd)
                raise
        except BaseException:
            with contextlib.suppress(OSError):
                for name in os.listdir(path):
                    os.unlink(os.path.join(path, name))
                os.rmdir(path)
            raise
        return cls(path, fd, target)

    @classmethod
    def claim(cls, path: str, timeout: float = 0.0) -> Optional["SpillDir"]:
        """Lock a spill directory left behind, waiting at most ``timeout`` s for its current holder.

        Returns None if the directory is gone or empty (another process uploaded it meanwhile).

        Raises:
            SpillBusy: its writer or another ``upload-pending`` still holds it after ``timeout``.
            ValueError: ``path`` is not a spill directory of this version.
        """
        if not os.path.isdir(path):
            return None
        if _held_here(path):
            raise SpillBusy(f"{path}: its writer in this process still holds it (the writer's next flush() or close() retries)")
        lock = os.path.join(path, "lock")
        try:
            fd = _lock(lock, 0.0, "upload-pending")
            if fd is None:
                holder = _holder(lock)
                if holder.get("role") == "writer" and _alive(holder):
                    raise SpillBusy(f"{path}: its writer (process {holder.get('pid')}) is still running and retries itself")
                fd = _lock(lock, timeout, "upload-pending")
        except FileNotFoundError:  # removed between the check and the open
            return None
        if fd is None:
            holder = _holder(lock)
            raise SpillBusy(f"{path}: still in use by {holder.get('role', 'another process')} (process {holder.get('pid', '?')} on "
                            f"{holder.get('host', '?')}) after waiting {timeout:g} s")
        try:
            raw = _read(os.path.join(path, "target.json"))
            if raw is None:  # the holder finished and removed it while we waited
                _unlock(fd)
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(path, "lock"))
                    os.rmdir(path)
                return None
            target = json.loads(raw.decode("utf-8"))
            if not isinstance(target, dict) or target.get("version") != FORMAT_VERSION or "directory" not in target:
                raise ValueError(f"{path}: not a spill directory of this eventwriter version (target.json: {target!r})")
        except BaseException:
            if fd in _held_fds:
                _unlock(fd)
            raise
        return cls(path, fd, target)

    # -- segments ---------------------------------------------------------------------------

    def add(self, seq: int, name: str, data: bytes, records: int) -> None:
        """Keep a segment (complete or not at all). Raises ``OSError`` if the disk refuses."""
        try:
            self.rename(seq, name, records)
            _write_file(self.path, f"{seq:010d}{_SEG}", data)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.path, f"{seq:010d}{_NAME}"))
            raise

    def rename(self, seq: int, name: str, records: int) -> None:
        """Record that segment ``seq`` is (about to be) uploaded under ``name``: call before sending."""
        meta = json.dumps({"name": name, "records": records}).encode("utf-8")
        _write_file(self.path, f"{seq:010d}{_NAME}", meta)

    def read(self, seq: int) -> bytes:
        """The bytes of segment ``seq``."""
        data = _read(os.path.join(self.path, f"{seq:010d}{_SEG}"))
        if data is None:
            raise FileNotFoundError(errno.ENOENT, f"{self.path}: segment {seq} is missing")
        return data

    def remove(self, seq: int) -> None:
        """Forget segment ``seq`` (it is in the store): its bytes first, then its name."""
        for suffix in (_SEG, _NAME):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.path, f"{seq:010d}{suffix}"))
        _fsync_dir(self.path)

    def entries(self) -> List[Entry]:
        """The segments kept, oldest first; leftovers of an interrupted write are removed."""
        names = sorted(os.listdir(self.path))
        out = []
        for file in names:
            full = os.path.join(self.path, file)
            if file.endswith(_TMP):
                with contextlib.suppress(OSError):
                    os.unlink(full)
            elif file.endswith(_NAME):
                stem = file[: -len(_NAME)]
                if stem + _SEG not in names:  # killed between the name and the bytes: nothing was kept
                    with contextlib.suppress(OSError):
                        os.unlink(full)
                    continue
                meta = json.loads((_read(full) or b"{}").decode("utf-8"))
                out.append(Entry(int(stem), str(meta["name"]), int(meta.get("records", 0))))
        return out

    @property
    def records(self) -> int:
        """Records kept (headers not counted)."""
        return sum(e.records for e in self.entries())

    # -- lifetime ---------------------------------------------------------------------------

    def discard_if_empty(self) -> bool:
        """Remove the directory if no segment is left (then release the lock). True if removed."""
        if self.entries():
            return False
        for name in os.listdir(self.path):
            if name != "lock":
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.path, name))
        # The lock file goes last, while still held: a process waiting on it finds no target.json.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.path, "lock"))
        with contextlib.suppress(OSError):
            os.rmdir(self.path)
        self.release()
        return True

    def release(self) -> None:
        """Release the lock (the directory stays for ``upload-pending``)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                _unlock(fd)


def _holder(lock: str) -> Dict[str, Any]:
    """Who holds a spill directory's lock, as the holder wrote it (empty if unknown)."""
    raw = _read(lock)
    try:
        value = json.loads(raw.decode("utf-8")) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _alive(holder: Dict[str, Any]) -> bool:
    """True if the holder is a process of this host that still runs (a pid elsewhere counts as alive)."""
    from .local import pid_alive

    try:
        pid = int(holder.get("pid", 0))
    except (TypeError, ValueError):
        return False
    return holder.get("host") != socket.gethostname() or (pid > 0 and pid_alive(pid))


def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def spill_dirs(root: Optional[str] = None) -> List[str]:
    """The spill directories under ``root`` (default :func:`default_root`), sorted; none if it is missing."""
    root = root or default_root()
    try:
        names = sorted(os.listdir(root))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [os.path.join(root, n) for n in names if os.path.isdir(os.path.join(root, n))]
