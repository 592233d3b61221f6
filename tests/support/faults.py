"""Fault injection through the storage seam: a local backend whose event streams run on a small "disk".

Handed to the code under test with ``EventFileWriter(..., storage=...)`` or, for a SummaryWriter,
by patching :func:`eventwriter.storage.storage_for` (``install(monkeypatch, storage)``); no ``os``
function is patched, so only the files of the writer under test see the faults.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from eventwriter import storage as storage_module
from eventwriter.storage.local import LOCAL


class Disk:
    """Shared fault state: ``free`` bytes left (None = unlimited), and failing ``fsync``/``close``."""

    def __init__(self, free: Optional[int] = None) -> None:
        self.free = free
        self.sync_errors = 0  # the next N syncs (and closes, which sync) fail with EIO
        self.open_errno: Optional[int] = None  # creating a stream fails with this errno
        self.write_errno: Optional[int] = None  # every write fails with this errno, writing nothing
        self.lock = threading.Lock()
        self.writes = 0


class FaultyStream:
    """An :class:`~eventwriter.storage.EventStream` that behaves like the kernel on a full disk:
    it writes what fits (a short write, possibly splitting a record), then fails with ENOSPC."""

    def __init__(self, inner: Any, disk: Disk) -> None:
        self._inner = inner
        self._disk = disk

    @property
    def path(self) -> str:
        return self._inner.path

    def write(self, data: bytes) -> None:
        with self._disk.lock:
            self._disk.writes += 1
            if self._disk.write_errno is not None:
                exc = OSError(self._disk.write_errno, os.strerror(self._disk.write_errno))
                exc.written = 0  # type: ignore[attr-defined]
                raise exc
            room = len(data) if self._disk.free is None else min(len(data), self._disk.free)
            if self._disk.free is not None:
                self._disk.free -= room
        if room:
            self._inner.write(bytes(data[:room]))
        if room < len(data):
            exc = OSError(errno.ENOSPC, "No space left on device")
            exc.written = room  # type: ignore[attr-defined]
            raise exc

    def _maybe_fail_sync(self) -> None:
        with self._disk.lock:
            if self._disk.sync_errors:
                self._disk.sync_errors -= 1
                raise OSError(errno.EIO, "Input/output error")

    def sync(self) -> None:
        self._maybe_fail_sync()
        self._inner.sync()

    def close(self) -> None:
        self._maybe_fail_sync()
        self._inner.close()

    def release(self) -> None:
        self._inner.release()

    def abandon(self) -> None:
        self._inner.abandon()


class FaultyStorage:
    """The local backend, with event streams on a :class:`Disk`."""

    def __init__(self, disk: Disk) -> None:
        self.disk = disk

    def open_stream(self, directory: str, new_name: Callable[[], str], header: bytes, max_file_bytes: Optional[int] = None) -> FaultyStream:
        if self.disk.open_errno is not None:
            raise OSError(self.disk.open_errno, f"cannot create event file in {directory!r}: {os.strerror(self.disk.open_errno)}")
        return FaultyStream(LOCAL.open_stream(directory, new_name, header, max_file_bytes), self.disk)

    def __getattr__(self, name: str) -> Any:
        return getattr(LOCAL, name)


def install(monkeypatch: Any, storage: Any) -> None:
    """Make every writer created from now on in this test use ``storage`` for local paths."""
    real = storage_module.storage_for

    def storage_for(path: Any, storage_options: Any = None, **kwargs: Any) -> Any:
        backend = real(path, storage_options, **kwargs)
        return storage if backend is LOCAL else backend

    monkeypatch.setattr(storage_module, "storage_for", storage_for)


def open_fds(under: Optional[str] = None) -> int:
    """Number of open descriptors of this process (Linux); with ``under``, only those of files below
    that directory (so sockets and files of other tests' background threads do not count)."""
    if under is None:
        return len(os.listdir("/proc/self/fd"))
    prefix = os.path.realpath(under) + os.sep
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(os.path.join("/proc/self/fd", fd))
        except OSError:  # closed meanwhile
            continue
        count += target.startswith(prefix)
    return count


@contextlib.contextmanager
def mounted_tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A real tmpfs of ``size`` (mount's syntax: ``"256k"``, ``"1m"``) at ``mount``, unmounted on exit.

    A full disk is a fault of the kernel's, not of a patched ``os``; mounting needs root, so the
    test skips elsewhere.
    """
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
