"""The local filesystem backend of the storage seam.

Guarantees it provides (the README's "Guarantees" section relies on them):

* Event files are created with ``O_EXCL``: a writer never truncates or appends to another
  writer's file, even on a name collision. Only whole records are handed to ``os.write``, and a
  short write keeps the remainder, so a file never holds a partial record except at its tail.
* ``sync`` is ``fsync``. With ``max_file_bytes``, a stream starts a new file (again beginning
  with the header) once the current one would grow past the limit; the finished file is synced
  first, so ``sync`` stays a barrier for every file of the stream.
* ``update_atomic`` holds an exclusive ``flock`` on ``.<name>.lock`` beside the file (opened
  read-only, without following a planted symlink, with the umask-respecting mode 0666, so a
  group-shared logdir works for every member), waits at most ``timeout`` seconds for it, and
  replaces the file with ``os.replace``. Temporary files of processes that died mid-write are
  removed by later writes to the same directory.
* ``walk`` follows symlinks to directories, as TensorBoard does (a ``latest -> exp3`` link is a
  run), but never enters a directory that is already on the path being walked, so link loops end.
  Entries that are not regular files (FIFOs, sockets, dangling links) are reported as skipped and
  never opened: reading a FIFO would block forever.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import threading
import time
import uuid
from typing import BinaryIO, Callable, Iterable, Iterator, List, Optional, Tuple

from .seam import WalkEntry

_process_lock = threading.Lock()  # flock does not order threads that share one open file description
_TMP_SUFFIX = ".tmp"
_STALE_TMP_SECS = 3600.0  # a temp file this old is abandoned even if its pid looks alive (pid reuse)


class LocalEventStream:
    """One local event file (several with ``max_file_bytes``), appended to with ``os.write``."""

    def __init__(
        self, directory: str, new_name: Callable[[], str], header: bytes, max_file_bytes: Optional[int] = None
    ) -> None:
        self._directory = directory
        self._new_name = new_name
        self._header = header
        self._max = max_file_bytes
        self._fd = -1
        self._path = ""
        self._size = 0
        # Guards the descriptor's identity against sync() from another thread: sync works on a
        # duplicate taken under it, so it never blocks a write nor syncs a descriptor that was
        # closed (and maybe reused) meanwhile.
        self._fd_lock = threading.Lock()
        self._open_next()

    @property
    def path(self) -> str:
        """The file currently being written."""
        return self._path

    @property
    def closed(self) -> bool:
        """True once the stream released its descriptor."""
        return self._fd < 0

    def _open_next(self) -> None:
        # O_EXCL: never truncate or append to another writer's file, even on a name collision.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        for _ in range(100):
            path = os.path.join(self._directory, self._new_name())
            try:
                fd = os.open(path, flags, 0o644)
                break
            except FileExistsError:
                continue
            except OSError as exc:
                raise type(exc)(exc.errno, f"cannot create event file in {self._directory!r}: {exc.strerror}") from exc
        else:
            raise FileExistsError(errno.EEXIST, f"no free event file name in {self._directory!r}")
        try:
            _write_all(fd, self._header)
        except OSError as exc:
            os.close(fd)
            raise type(exc)(exc.errno, f"cannot write event file {path!r}: {exc.strerror}") from exc
        self._fd, self._path, self._size = fd, path, len(self._header)

    def write(self, data: bytes) -> None:
        """Append ``data``; on ``OSError`` its ``written`` attribute counts the bytes that made it."""
        if self._fd < 0:
            raise ValueError(f"event file {self._path!r} is closed")
        if self._max is not None and self._size > len(self._header) and self._size + len(data) > self._max:
            os.fsync(self._fd)  # the finished file must be as durable as a sync() would make it
            with self._fd_lock:
                fd, self._fd = self._fd, -1
                os.close(fd)
            try:
                self._open_next()
            except OSError as exc:
                exc.written = 0  # type: ignore[attr-defined]
                raise
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            self._size += getattr(exc, "written", 0)
            raise
        self._size += len(data)

    def sync(self, deadline: Optional[float] = None) -> None:
        """``fsync`` the current file (a no-op once closed: close already synced). ``deadline`` is
        for object stores; a local ``fsync`` is not interrupted. Safe from any thread."""
        with self._fd_lock:
            if self._fd < 0:
                return
            fd = os.dup(self._fd)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self, deadline: Optional[float] = None) -> None:
        """``fsync`` and close; if the sync fails the descriptor stays open for a retry."""
        if self._fd < 0:
            return
        os.fsync(self._fd)
        with self._fd_lock:
            fd, self._fd = self._fd, -1
            if fd >= 0:
                os.close(fd)

    def release(self) -> None:
        """Close without ``fsync`` (a writer dropped by the garbage collector: the data is already
        in the OS, and one ``fsync`` per dropped writer would stall everyone else)."""
        with self._fd_lock:
            fd, self._fd = self._fd, -1
            if fd >= 0:
                os.close(fd)

    def abandon(self) -> None:
        """Release the descriptor without writing (after ``fork()``, in the child)."""
        self._fd_lock = threading.Lock()  # the parent's threads may have held it at the fork
        with contextlib.suppress(OSError):
            self.release()


def _write_all(fd: int, data: bytes) -> None:
    """Write all of ``data``; on failure the OSError carries ``written``, the bytes that made it."""
    view = memoryview(data)
    done = 0
    while done < len(view):
        try:
            done += os.write(fd, view[done:])
        except OSError as exc:
            exc.written = done  # type: ignore[attr-defined]
            raise


class LocalStorage:
    """The local filesystem (see the module docstring for its guarantees)."""

    def join(self, base: str, *parts: str) -> str:
        """``os.path.join``."""
        return os.path.join(base, *parts)

    def makedirs(self, path: str) -> None:
        """Create ``path`` with its parents; safe when several processes race to create it."""
        try:
            os.makedirs(path, exist_ok=True)
        except FileExistsError as exc:  # a file is in the way
            raise NotADirectoryError(errno.ENOTDIR, f"cannot create log directory {path!r}: a file is in the way") from exc
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot create log directory {path!r}: {exc.strerror}") from exc

    def open_stream(
        self, directory: str, new_name: Callable[[], str], header: bytes, max_file_bytes: Optional[int] = None
    ) -> LocalEventStream:
        """A new exclusively created event file in ``directory`` (see :class:`LocalEventStream`)."""
        return LocalEventStream(directory, new_name, header, max_file_bytes)

    def read_bytes(self, path: str) -> Optional[bytes]:
        """The file's bytes, or None if it does not exist."""
        try:
            with self.open_read(path) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> None:
        """Write a temporary file beside ``path`` (mode 0666 minus the umask), then ``os.replace`` it."""
        directory, name = os.path.split(path)
        self._remove_stale_tmp(directory)
        tmp = os.path.join(directory, f".{name}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:8]}{_TMP_SUFFIX}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                for chunk in chunks:
                    f.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @staticmethod
    def _remove_stale_tmp(directory: str) -> None:
        """Delete temp files (``.<name>.<host>.<pid>.<8 hex>.tmp``) left in ``directory`` by
        processes of this host that died mid-write, and any such file older than an hour.

        Every temp file of the directory counts, not only those of the file being written now: a
        re-logged embedding writes uniquely named files, so a killed call's temp file would never
        share a name with a later one. A live process's temp file younger than an hour is never touched.
        """
        host = socket.gethostname()
        try:
            entries = [e for e in os.scandir(directory or ".") if e.name.startswith(".") and e.name.endswith(_TMP_SUFFIX)]
        except OSError:
            return
        now = time.time()
        for entry in entries:
            parts = entry.name[: -len(_TMP_SUFFIX)].rsplit(".", 2)  # .<name>.<host>, pid, random
            if len(parts) != 3 or len(parts[2]) != 8 or not parts[1].isdigit():
                continue  # not one of ours
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            dead = parts[0].endswith("." + host) and not pid_alive(int(parts[1]))
            if dead or age > _STALE_TMP_SECS:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)

    def update_atomic(self, path: str, transform: Callable[[Optional[bytes]], bytes], timeout: float) -> None:
        """Read-modify-write ``path`` under an exclusive lock on ``.<name>.lock`` beside it."""
        directory, name = os.path.split(path)
        with _file_lock(os.path.join(directory, f".{name}.lock"), timeout):
            self.write_atomic(path, [transform(self.read_bytes(path))])

    def open_read(self, path: str) -> BinaryIO:
        """Open a regular file for reading; anything else (a FIFO...) raises instead of blocking."""
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
                error = IsADirectoryError if stat.S_ISDIR(mode) else OSError
                raise error(errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL, f"{path!r} is {kind}")
            if hasattr(os, "set_blocking"):
                os.set_blocking(fd, True)
            return os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise

    def size(self, path: str) -> int:
        """``os.stat(path).st_size``."""
        return os.stat(path).st_size

    def kind(self, path: str) -> str:
        """``"file"``, ``"dir"``, ``"missing"`` or ``"other"`` (FIFO, socket, dangling or looping link)."""
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            return "other" if os.path.lexists(path) else "missing"
        except OSError:  # ELOOP, EACCES on a parent...
            return "other"
        if stat.S_ISREG(mode):
            return "file"
        return "dir" if stat.S_ISDIR(mode) else "other"

    def walk(self, root: str) -> Iterator[WalkEntry]:
        """Sorted, link-following, loop-safe walk (see the module docstring)."""
        yield from self._walk(root, ())

    def _walk(self, directory: str, ancestors: Tuple[Tuple[int, int], ...]) -> Iterator[WalkEntry]:
        try:
            info = os.stat(directory)
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        here = ancestors + ((info.st_dev, info.st_ino),)
        files: List[str] = []
        skipped: List[str] = []
        subdirs: List[str] = []
        for entry in entries:
            try:
                mode = entry.stat().st_mode  # follows links
            except OSError:  # dangling or looping link
                skipped.append(entry.name)
                continue
            if stat.S_ISREG(mode):
                files.append(entry.name)
            elif stat.S_ISDIR(mode):
                subdirs.append(entry.name)
            else:
                skipped.append(entry.name)
        yield WalkEntry(directory, files, skipped)
        for name in subdirs:
            path = os.path.join(directory, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            if (info.st_dev, info.st_ino) in here:  # a link back up the path: a loop
                continue
            yield from self._walk(path, here)

    def remove(self, path: str) -> None:
        """Delete a file; missing is fine."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    def list_names(self, directory: str) -> List[str]:
        """Sorted entry names of ``directory`` (empty if missing)."""
        try:
            return sorted(os.listdir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return []


def pid_alive(pid: int) -> bool:
    """True if process ``pid`` of this host exists (owned by anyone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


@contextlib.contextmanager
def _file_lock(lock_path: str, timeout: float) -> Iterator[None]:
    """Exclusive lock on ``lock_path`` for threads and processes, waiting at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    if not _process_lock.acquire(timeout=max(0.0, timeout)):
        raise TimeoutError(f"gave up after {timeout:g} s waiting for the lock {lock_path!r} (held by another thread)")
    try:
        # Read-only is enough for flock; O_NOFOLLOW so a planted symlink cannot make us create a
        # file elsewhere; 0o666 so the umask decides (a group-shared logdir stays shared).
        flags = os.O_RDONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(lock_path, flags, 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OSError(exc.errno, f"refusing to use the lock file {lock_path!r}: it is a symbolic link") from exc
            raise
        try:
            _lock_fd(fd, lock_path, deadline, timeout)
            try:
                yield
            finally:
                _unlock_fd(fd)
        finally:
            os.close(fd)
    finally:
        _process_lock.release()


def _lock_fd(fd: int, lock_path: str, deadline: float, timeout: float) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: msvcrt retries for 10 s itself
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
        return
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"gave up after {timeout:g} s waiting for the lock {lock_path!r} (another process holds it)"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _unlock_fd(fd: int) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
        return
    fcntl.flock(fd, fcntl.LOCK_UN)


LOCAL = LocalStorage()
"""The one local backend (it holds no state of its own)."""
