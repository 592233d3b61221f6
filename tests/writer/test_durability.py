"""Durability: what survives SIGKILL, idle hand-off, and writers dropped without close()."""

from __future__ import annotations

import gc
import os
import time

import pytest

from eventwriter import SummaryWriter
from eventwriter.reader import scalars
from support.faults import open_fds
from support.tbutil import plugin_accumulator, scalar_series
import signal
from eventwriter.reader import read_events
from support.processes import wait_line, writer_child


@pytest.mark.slow
def test_dropping_ten_thousand_writers_releases_descriptors_promptly(tmp_path, monkeypatch):
    """#13: dropped writers are released (no fsync) by the background thread; fds stay bounded."""
    fsyncs = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd))[1])
    before = open_fds(str(tmp_path))  # descriptors of files under tmp_path: other tests' threads do not count
    live = SummaryWriter(tmp_path / "live")
    peak = 0
    handoffs = []
    for k in range(10_000):
        w = SummaryWriter(tmp_path / "dropped" / str(k % 100), filename_suffix=f".{k}")
        w.add_scalar("x", float(k), k)
        if k % 10 == 0:  # add_scalars: one more file per sub-run, dropped with the writer
            w.add_scalars("pair", {"a": float(k)}, k)
        del w
        if k % 500 == 0:
            # A live writer's record reaches the OS while dropped writers are being released.
            size = os.path.getsize(live.file_writer.path)
            live.add_scalar("live", float(k), k)
            started = time.monotonic()
            while os.path.getsize(live.file_writer.path) == size and time.monotonic() - started < 30:
                time.sleep(0.005)
            handoffs.append(time.monotonic() - started)
        peak = max(peak, open_fds(str(tmp_path)))
    deadline = time.monotonic() + 30
    while open_fds(str(tmp_path)) > before + 1 and time.monotonic() < deadline:
        gc.collect()
        time.sleep(0.05)
    print(f"peak open descriptors above baseline: {peak - before}; live hand-off max {max(handoffs):.3f} s, "
          f"median {sorted(handoffs)[len(handoffs) // 2]:.3f} s")
    assert open_fds(str(tmp_path)) == before + 1  # only the live writer's file
    assert fsyncs == []  # garbage collection releases without fsync, so nobody waits behind it
    assert peak - before < 2000  # the issue measured 9,082 with an fsync per dropped writer
    live.close()
    assert [p.step for p in scalars(tmp_path / "live")["."]["live"]] == list(range(0, 10_000, 500))
    runs = scalars(tmp_path / "dropped")
    assert sum(len(s["x"]) for s in runs.values() if "x" in s) == 10_000
    assert sum(len(s["pair"]) for s in runs.values() if "pair" in s) == 1_000


def _summaries_on_disk(logdir) -> list:
    return [r.event for r in read_events(logdir) if r.event.HasField("summary")]


def _wait_for_records(logdir, count: int, timeout: float = 60.0) -> None:
    """Poll (bounded) until ``count`` summary records are readable in ``logdir``."""
    deadline = time.monotonic() + timeout
    while len(_summaries_on_disk(logdir)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"fewer than {count} records reached {logdir} within {timeout} s without flush()")
        time.sleep(0.05)


def test_sigkill_while_logging_keeps_a_readable_prefix(tmp_path):
    """Records reach the file while the process logs without flush(); SIGKILL leaves an intact prefix.

    The latency (README: about 0.2 s) is printed, not asserted: a loaded machine can stall any
    thread, and what must hold everywhere is that the records keep arriving and survive the kill.
    """
    proc = writer_child(
        """
        w = SummaryWriter(LOGDIR)
        print("ready", flush=True)
        step = 0
        while True:
            w.add_scalar("x", float(step), step)
            step += 1
            if step % 100 == 0:
                time.sleep(0.001)
        """,
        tmp_path,
    )
    try:
        wait_line(proc, "ready")
        _wait_for_records(tmp_path, 5000)  # arriving while the child keeps logging, with no flush()
    finally:
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    events = _summaries_on_disk(tmp_path)
    steps = [e.step for e in events]
    assert steps == list(range(len(steps))), "records lost or reordered before the tail"
    assert len(steps) >= 5000
    print(f"newest record on disk was logged {killed_at - events[-1].wall_time:.3f} s before the kill")
    # TensorBoard reads the same (a possible partial tail record is skipped, not an error).
    assert len(scalar_series(plugin_accumulator(tmp_path), "x")) == len(steps)


def test_sigkill_after_idle_keeps_everything(tmp_path):
    """Events logged and then left alone (no flush, no close) reach the file and survive SIGKILL."""
    proc = writer_child(
        """
        w = SummaryWriter(LOGDIR)
        for i in range(100):
            w.add_scalar("x", float(i), i)
        w.add_text("t", "hello", 1)
        print("logged", flush=True)
        time.sleep(600)
        """,
        tmp_path,
    )
    try:
        wait_line(proc, "logged")
        logged_at = time.monotonic()
        _wait_for_records(tmp_path, 101)
        print(f"idle records reached the file {time.monotonic() - logged_at:.3f} s after logging")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    acc = plugin_accumulator(tmp_path)
    assert [s for s, _ in scalar_series(acc, "x")] == list(range(100))
    assert "t/text_summary" in acc.Tags()["tensors"]


def test_dropped_writer_releases_its_file_and_keeps_its_data(tmp_path):
    import gc

    before = len(os.listdir("/proc/self/fd"))
    for k in range(20):
        w = SummaryWriter(tmp_path / f"run{k}")
        w.add_scalar("x", float(k), k)
        del w  # no close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        gc.collect()
        if len(os.listdir("/proc/self/fd")) <= before:
            break
        time.sleep(0.1)
    assert len(os.listdir("/proc/self/fd")) <= before
    for k in range(20):
        assert [p.step for p in scalars(tmp_path / f"run{k}")["."]["x"]] == [k]
