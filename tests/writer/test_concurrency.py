"""Threads and processes sharing writers and logdirs: close/flush racing logging, forks; records never interleave or double."""

from __future__ import annotations

import os
import subprocess
import sys
import threading


from eventwriter import SummaryWriter
from eventwriter.event_file import EventFileWriter
from eventwriter.reader import scalars
from support.tbutil import plugin_accumulator, scalar_series
from eventwriter.storage import local
from eventwriter.reader import run_files
from support.processes import ROOT, wait_line, writer_child


def test_close_flush_and_logging_race_from_threads(tmp_path):
    """#7: close()/flush() in some threads while others log: no error, no record lost or doubled."""
    w = SummaryWriter(tmp_path)
    errors: list = []
    stop = threading.Event()
    per_thread = 4000

    def log(k: int) -> None:
        try:
            for i in range(per_thread):
                w.add_scalar(f"t{k}", float(i), i)
                if i % 5 == 0:  # a slower path: a wider window between choosing the file and writing
                    w.add_text(f"text{k}", "x" * 1000, i)
                if i % 40 == 0:  # sub-run files are chosen and sealed on their own path
                    w.add_scalars(f"s{k}", {"a": float(i)}, i)
        except BaseException as exc:  # noqa: BLE001 - any error fails the test
            errors.append(exc)

    def churn(action: str) -> None:
        try:
            while not stop.is_set():
                getattr(w, action)()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up at once
    loggers = [threading.Thread(target=log, args=(k,)) for k in range(3)]
    churners = [threading.Thread(target=churn, args=(a,)) for a in ("close", "flush", "close", "flush")]
    try:
        for t in churners + loggers:
            t.start()
        for t in loggers:
            t.join()
        stop.set()
        for t in churners:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    w.close()
    assert errors == []
    runs = scalars(tmp_path)
    series = runs["."]
    for k in range(3):
        assert [p.step for p in series[f"t{k}"]] == list(range(per_thread))
        assert [p.step for p in runs[f"s{k}_a"][f"s{k}"]] == list(range(0, per_thread, 40))
    acc = plugin_accumulator(tmp_path)
    assert [s for s, _ in scalar_series(acc, "t0")] == list(range(per_thread))


def test_logging_survives_close_winning_the_race_repeatedly(tmp_path, monkeypatch):
    """#7: a file sealed between choosing it and writing, again and again: the record still lands once.

    Replays deterministically what the threaded test above hits by chance: another thread's close()
    runs right after this thread picked the run's (or a sub-run's) file, and again on the next file.
    """
    w = SummaryWriter(tmp_path)
    w.add_scalars("loss", {"a": 0.0}, 0)
    real_write = EventFileWriter.write_record
    races = {"left": 0}

    def close_first(self, record):
        if races["left"]:
            races["left"] -= 1
            self.close()  # what a concurrent close() does just before this append
        return real_write(self, record)

    monkeypatch.setattr(EventFileWriter, "write_record", close_first)
    for step in range(1, 4):
        races["left"] = 3
        w.add_scalar("x", float(step), step)
        races["left"] = 3
        w.add_scalars("loss", {"a": float(step)}, step)
    monkeypatch.undo()
    w.close()
    assert [p.step for p in scalars(tmp_path)["."]["x"]] == [1, 2, 3]
    assert [p.step for p in scalars(tmp_path)["loss_a"]["loss"]] == [0, 1, 2, 3]


def test_flush_never_syncs_a_closed_descriptor(tmp_path, monkeypatch):
    """#7: flush() racing close() must not fsync a descriptor number close() already released."""

    closed: set = set()
    bad: list = []
    real_close, real_fsync = os.close, os.fsync

    def tracking_close(fd):
        closed.add(fd)
        return real_close(fd)

    def tracking_fsync(fd):
        if fd in closed:
            bad.append(fd)
        return real_fsync(fd)

    monkeypatch.setattr(local.os, "close", tracking_close)
    monkeypatch.setattr(local.os, "fsync", tracking_fsync)
    for round_ in range(200):
        closed.clear()
        w = SummaryWriter(tmp_path / str(round_ % 5))
        w.add_scalar("x", 1.0, 1)
        t = threading.Thread(target=w.flush)
        t.start()
        w.close()
        t.join()
    assert bad == []


def test_eight_threads_ten_thousand_scalars_each(tmp_path):
    w = SummaryWriter(tmp_path)

    def work(k: int) -> None:
        for i in range(10_000):
            w.add_scalar(f"thread{k}", float(i), i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    series = scalars(tmp_path)["."]
    assert sorted(series) == [f"thread{k}" for k in range(8)]
    for k in range(8):
        assert [p.step for p in series[f"thread{k}"]] == list(range(10_000))
        assert [p.value for p in series[f"thread{k}"]] == [float(i) for i in range(10_000)]
    subprocess.run([sys.executable, "-m", "eventwriter", "verify", "-q", str(tmp_path)], check=True, cwd=ROOT)


def test_four_processes_on_one_logdir(tmp_path):
    logdir = tmp_path / "shared" / "deep"  # created concurrently by all four
    procs = [
        writer_child(
            f"""
            w = SummaryWriter(LOGDIR)
            for i in range(2000):
                w.add_scalar("p{k}", float(i), i)
            w.close()
            print("done", flush=True)
            """,
            logdir,
        )
        for k in range(4)
    ]
    for proc in procs:
        wait_line(proc, "done", timeout=60)
        assert proc.wait(30) == 0
    files = run_files(logdir)["."]
    assert len(files) == 4 and len(set(files)) == 4
    series = scalars(logdir)["."]
    for k in range(4):
        assert [p.step for p in series[f"p{k}"]] == list(range(2000))


def test_fork_child_does_not_duplicate_parent_data(tmp_path):
    w = SummaryWriter(tmp_path)
    for i in range(50):
        w.add_scalar("x", float(i), i)  # buffered, not yet handed to the OS
    pid = os.fork()
    if pid == 0:  # child: log one value of its own, then exit without atexit
        try:
            w.add_scalar("child", 1.0, 1)
            w.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    w.close()
    series = scalars(tmp_path)["."]
    assert [p.step for p in series["x"]] == list(range(50))
    assert [p.step for p in series["child"]] == [1]
