"""Errors on the writing side: full disks, failed fsyncs, permissions, short writes; nothing logged is lost."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import time

import pytest

from eventwriter import SummaryWriter
from eventwriter.event_file import EventFileWriter
from eventwriter.reader import scalars
from support.faults import Disk, FaultyStorage, install, mounted_tmpfs, open_fds
from support.tbutil import plugin_accumulator, scalar_series
import errno
from eventwriter.storage import local
from support.processes import ROOT


N = 3000


def _steps(logdir) -> list:
    return [s for s, _ in scalar_series(plugin_accumulator(logdir), "x")]


@pytest.fixture
def tiny_tmpfs(tmp_path):
    """A real 1 MiB tmpfs (root only); unmounted afterwards."""
    with mounted_tmpfs(tmp_path / "disk", "1m") as mount:
        yield mount


@pytest.mark.parametrize("retry", ["close", "flush"])
def test_close_on_full_disk_keeps_everything_for_a_retry(tmp_path, monkeypatch, retry):
    """#1: close() raises ENOSPC; after space is freed a retried close()/flush() writes all 3,000."""
    disk = Disk(free=20_000)  # room for about a sixth of the records
    install(monkeypatch, FaultyStorage(disk))
    fds = open_fds(str(tmp_path))
    w = SummaryWriter(tmp_path)
    for i in range(N):
        w.add_scalar("x", float(i), i)
    with pytest.raises(OSError, match="No space left"):
        w.close()
    with pytest.raises(OSError, match="No space left"):  # still full: the retry fails too, loses nothing
        w.close()
    disk.free = None  # space freed
    getattr(w, retry)()
    w.close()
    assert _steps(tmp_path) == list(range(N))
    assert scalars(tmp_path)["."]["x"][-1].value == N - 1
    gc.collect()
    assert open_fds(str(tmp_path)) == fds


def test_failed_final_fsync_is_retried_and_new_records_go_to_a_new_file(tmp_path, monkeypatch):
    """#1: only the fsync of close() fails: the file keeps its descriptor until a retry succeeds."""
    disk = Disk()
    install(monkeypatch, FaultyStorage(disk))
    fds = open_fds(str(tmp_path))
    w = SummaryWriter(tmp_path)
    for i in range(100):
        w.add_scalar("x", float(i), i)
    disk.sync_errors = 1
    with pytest.raises(OSError, match="Input/output error"):
        w.close()
    assert open_fds(str(tmp_path)) == fds + 1  # kept for the retry, not leaked
    w.add_scalar("x", 100.0, 100)  # after close(), as in torch: a new file
    w.close()
    assert _steps(tmp_path) == list(range(101))
    assert open_fds(str(tmp_path)) == fds


def test_event_file_writer_close_keeps_data_on_failure(tmp_path):
    """#1 at the EventFileWriter level, with the storage handed in directly."""
    disk = Disk(free=1000)
    writer = EventFileWriter(str(tmp_path), storage=FaultyStorage(disk))
    from eventwriter import wire
    from eventwriter.record import encode_record

    for i in range(200):
        writer.write_record(encode_record(wire.event_prefix(1.0, i) + wire.simple_value_prefix("x") + wire.float32_bytes(float(i))))
    with pytest.raises(OSError):
        writer.close()
    assert not writer.released
    disk.free = None
    writer.close()
    assert writer.released
    assert _steps(tmp_path) == list(range(200))


def test_close_on_a_real_full_tmpfs(tiny_tmpfs):
    """#1 on a real filesystem: fill a 1 MiB tmpfs, log 3,000 scalars, close() fails, free, retry."""
    filler = tiny_tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"\1" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    os.truncate(filler, os.path.getsize(filler) - 40_960)  # ~40 KB left: about a third of the records
    logdir = tiny_tmpfs / "run"
    logdir.mkdir()
    fds = open_fds(str(tiny_tmpfs))
    w = SummaryWriter(logdir)
    for i in range(N):
        w.add_scalar("x", float(i), i)
    with pytest.raises(OSError, match="No space left"):
        w.close()
    os.unlink(filler)
    w.close()
    w.flush()
    gc.collect()
    assert open_fds(str(tiny_tmpfs)) == fds
    assert _steps(logdir) == list(range(N))


def test_a_dropped_writer_that_cannot_write_says_so(tmp_path):
    """#1: nothing is lost silently: a writer collected with unwritable records warns."""
    from eventwriter import wire
    from eventwriter.record import encode_record

    disk = Disk(free=0)
    writer = EventFileWriter(str(tmp_path), storage=FaultyStorage(disk))
    writer.write_record(encode_record(wire.event_prefix(1.0, 1) + wire.simple_value_prefix("x") + wire.float32_bytes(1.0)))
    failed = False
    try:
        writer.flush()
    except OSError:  # not pytest.raises: its traceback would keep the writer alive
        failed = True
    assert failed
    import weakref

    ref = weakref.ref(writer)
    with pytest.warns(RuntimeWarning, match="could not be written"):
        del writer
        deadline = time.monotonic() + 10
        while ref() is not None and time.monotonic() < deadline:  # the background thread lets go
            gc.collect()
            time.sleep(0.05)


def test_a_writer_that_cannot_finish_at_exit_says_so(tmp_path):
    """#1: at interpreter exit a full disk is reported on stderr, not swallowed."""
    code = f"""
import sys
sys.path[:0] = [{ROOT!r}, {os.path.join(ROOT, "tests")!r}]
from support.faults import Disk, FaultyStorage
from eventwriter.event_file import EventFileWriter
from eventwriter.record import encode_record
w = EventFileWriter({str(tmp_path)!r}, storage=FaultyStorage(Disk(free=0)))
w.write_record(encode_record(b"\\x09" + bytes(8)))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "could not be finished" in done.stderr and "No space left" in done.stderr


def _make_unwritable(path) -> None:
    """chmod 555 stops ordinary users; root also needs the directory made immutable (chattr +i)."""
    os.chmod(path, 0o555)
    if os.geteuid() == 0:
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a directory unwritable for root here: {done.stderr!r}")


def test_disk_error_surfaces_and_nothing_is_lost(tmp_path, monkeypatch):
    disk = Disk()
    install(monkeypatch, FaultyStorage(disk))
    w = SummaryWriter(tmp_path)
    disk.free = 0  # the disk is full
    for i in range(10):
        w.add_scalar("x", float(i), i)
    with pytest.raises(OSError, match="No space left|ENOSPC|writing event file"):
        w.flush()
    disk.free = None  # the disk has room again
    for i in range(10, 20):
        w.add_scalar("x", float(i), i)
    w.close()
    assert [s for s, _ in scalar_series(plugin_accumulator(tmp_path), "x")] == list(range(20))


def test_background_disk_error_is_raised_by_next_call(tmp_path, monkeypatch):
    disk = Disk()
    install(monkeypatch, FaultyStorage(disk))
    w = SummaryWriter(tmp_path)
    disk.write_errno = errno.EIO
    w.add_scalar("x", 1.0, 1)
    accepted = 0  # calls after the first that returned normally: their records must survive
    deadline = time.monotonic() + 10
    with pytest.raises(OSError, match="Input/output error"):
        while time.monotonic() < deadline:  # the background thread hits the error within HANDOFF_SECS
            w.add_scalar("x", 2.0, 2)
            accepted += 1
            time.sleep(0.05)
    disk.write_errno = None
    w.close()
    # Nothing queued before or after the failed background write is lost once the disk recovers;
    # only the call that raised wrote nothing.
    assert scalar_series(plugin_accumulator(tmp_path), "x") == [(1, 1.0)] + [(2, 2.0)] * accepted


def test_permission_error_names_the_path(tmp_path, monkeypatch):
    real_open = os.open

    def deny(path, *args, **kwargs):
        if "tfevents" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(local.os, "open", deny)  # the local backend's own message is under test
    with pytest.raises(PermissionError, match=str(tmp_path)):
        SummaryWriter(tmp_path / "run")


def test_unwritable_logdir_is_a_clear_error_and_nothing_is_created(tmp_path):
    logdir = tmp_path / "locked"
    logdir.mkdir()
    _make_unwritable(logdir)
    try:
        with pytest.raises(PermissionError, match=str(logdir)):
            SummaryWriter(logdir)
        with pytest.raises(PermissionError, match=str(logdir)):
            SummaryWriter(logdir / "sub")  # the directory itself cannot be created
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(logdir)])
        os.chmod(logdir, 0o755)
    assert os.listdir(logdir) == []


def test_short_write_then_error_keeps_records_whole_and_unique(tmp_path, monkeypatch):
    """The disk takes part of a buffer (splitting a record), then fails: after recovery every
    record is there exactly once."""
    disk = Disk()
    install(monkeypatch, FaultyStorage(disk))
    w = SummaryWriter(tmp_path)
    disk.free = 1000  # whichever thread writes first (flush or the background one) hits it
    for i in range(50):
        w.add_scalar("x", float(i), i)
    with pytest.raises(OSError, match="No space left"):
        w.flush()
    assert disk.free == 0  # the disk took what fit (1000 bytes: not a record boundary)
    disk.free = None
    w.close()
    assert [s for s, _ in scalar_series(plugin_accumulator(tmp_path), "x")] == list(range(50))
    subprocess.run([sys.executable, "-m", "eventwriter", "verify", "-q", str(tmp_path)], check=True, cwd=ROOT)
