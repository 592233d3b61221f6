"""``eventwriter compact`` and ``upload-pending`` under attack: killed at any point, run twice at
once, rerun after a failure; a Follower across a compaction; a local logdir refused.

A real S3 API server (moto) behind the project's fault proxy; processes are real and killed
with SIGKILL; every result is read back with TensorBoard's EventAccumulator, ``eventwriter.frames``
and a raw count of the records (each logged record stored exactly once).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventwriter import SummaryWriter
from eventwriter.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.store


def _env(**extra):
    return dict(os.environ, PYTHONPATH=str(ROOT), **extra)


def _cli(*args):
    """``eventwriter ARGS`` in a child process (started, not waited for)."""
    return subprocess.Popen([sys.executable, "-m", "eventwriter", *args], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _check(url, logged, moto_s3, context=None):
    from support.remote_check import assert_exactly_once

    assert_exactly_once(url, "s", logged, moto_s3.storage_options, context=context)


def _objects(url, moto_s3):
    from support.remote_check import event_objects

    return event_objects(url, moto_s3.storage_options)


def _s3(moto_s3):
    import s3fs

    return s3fs.S3FileSystem(skip_instance_cache=True, **moto_s3.storage_options)


def _segmented_run(moto_s3, steps=100, per_segment=20):
    """A finished run of ``steps`` scalars in ``steps / per_segment`` segments (one flush each)."""
    url = f"s3://{moto_s3.bucket()}/run"
    with SummaryWriter(url, upload_secs=60, storage_options=moto_s3.storage_options) as writer:
        for step in range(steps):
            writer.add_scalar("s", float(step), step)
            if step % per_segment == per_segment - 1:
                writer.flush()
    assert len(_objects(url, moto_s3)) == steps // per_segment
    return url


def _wait_for(condition, what, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- compact: killed, rerun, twice at once ---------------------------------------------------------


@pytest.mark.parametrize("kill_at", ["merged-written", "manifest-written"])
def test_compact_killed_part_way_then_rerun_stores_each_record_once(kill_at, fault_proxy, moto_s3):
    """compact is SIGKILLed (a job's time limit) after it wrote the merged object (while deleting
    the segments), or after its manifest but before the merged object; rerunning it (the natural
    recovery) leaves each record once, in one object."""
    url = _segmented_run(moto_s3)
    if kill_at == "merged-written":
        hold = fault_proxy.add("hang", method="DELETE", path="tfevents")
        ready = lambda: any("compacted" in n for n in _objects(url, moto_s3))  # noqa: E731
    else:
        hold = fault_proxy.add("hang", method="PUT", path="compacted")
        ready = lambda: fault_proxy.count("PUT", "compacted", "hang") > 0  # noqa: E731
    proc = _cli("compact", "--min-age", "0", url)
    try:
        _wait_for(ready, "compact to reach the kill point")
        time.sleep(0.3)  # a delete (or the merged object's PUT) is in flight
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    fault_proxy.remove(hold)
    # Left half done: merged object and segments side by side, or a manifest alone; the killed
    # run's lock names a dead process of this host, so the rerun takes it over at once.
    assert cli_main(["compact", "--min-age", "0", "--wait", "0", url]) == 0
    names = _objects(url, moto_s3)
    assert len(names) == 1 and "compacted" in names[0], names
    _check(url, range(100), moto_s3, context=kill_at)
    assert cli_main(["compact", "--min-age", "0", url]) == 0  # again: nothing to do
    assert _objects(url, moto_s3) == names
    _check(url, range(100), moto_s3, context=f"{kill_at}, third run")


def test_two_compacts_at_once_store_each_record_once(moto_s3, s3_run):
    for trial in range(3):
        url = _segmented_run(moto_s3)
        procs = [_cli("compact", "--min-age", "0", url) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        names = _objects(url, moto_s3)
        assert len(names) == 1 and "compacted" in names[0], (trial, names, outs)
        _check(url, range(100), moto_s3, context=f"trial {trial}")


def test_compact_is_refused_while_another_holds_the_lock(moto_s3, s3_run):
    """A live lock (another compact running) makes compact wait, then say so; nothing changes."""
    import json

    url = _segmented_run(moto_s3)
    fs = _s3(moto_s3)
    fs.pipe_file(f"{url}/eventwriter-compact.lock", json.dumps(
        {"host": "elsewhere", "pid": 1, "token": "x", "expires": time.time() + 600}).encode())
    before = _objects(url, moto_s3)
    proc = _cli("compact", "--min-age", "0", "--wait", "1", url)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "another compact is running" in err, err
    assert _objects(url, moto_s3) == before


def test_compact_refuses_a_local_logdir_and_a_live_idle_writer_keeps_everything(tmp_path):
    """An idle local writer still appends to its file: compact must not touch it (exit 2)."""
    run = tmp_path / "run"
    writer = SummaryWriter(str(run))
    for step in range(10):
        writer.add_scalar("s", float(step), step)
    writer.flush()
    with SummaryWriter(str(run)) as other:  # a second, finished file in the same run
        other.add_scalar("o", 1.0, 0)
    before = sorted(os.listdir(run))
    for target in (str(run), f"file://{run}"):
        proc = subprocess.run([sys.executable, "-m", "eventwriter", "compact", "--min-age", "0", target],
                              env=_env(), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "object stores" in proc.stderr and "live writer" in proc.stderr, proc.stderr
    assert sorted(os.listdir(run)) == before
    for step in range(10, 30):
        writer.add_scalar("s", float(step), step)
    writer.close()
    from support.tbutil import legacy_accumulator

    assert [e.step for e in legacy_accumulator(run).Scalars("s")] == list(range(30))


# -- a Follower across a compaction ------------------------------------------------------------------


def test_a_follower_does_not_return_rows_again_after_the_run_is_compacted(fault_proxy, moto_s3):
    pytest.importorskip("pandas")
    from eventwriter import frames

    options = moto_s3.storage_options
    url = f"s3://{moto_s3.bucket()}/run"
    with SummaryWriter(url, upload_secs=60, storage_options=options) as writer:
        for step in range(30):
            writer.add_scalar("s", float(step), step)
            if step % 10 == 9:
                writer.flush()
    follower = frames.Follower(url, "scalars", storage_options=options)
    assert sorted(follower.poll()["step"]) == list(range(30))
    with SummaryWriter(url, upload_secs=60, storage_options=options) as writer:  # not read yet when compacted
        for step in range(30, 35):
            writer.add_scalar("s", float(step), step)
    # A fresh follower in the middle of compaction (merged object and segments side by side).
    hold = fault_proxy.add("hang", method="DELETE", path="tfevents")
    proc = _cli("compact", "--min-age", "0", url)
    try:
        _wait_for(lambda: any("compacted" in n for n in _objects(url, moto_s3)), "the merged object")
        midway = frames.Follower(url, "scalars", storage_options=options)
        assert sorted(midway.poll()["step"]) == list(range(35))  # each row once, though listed twice
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    fault_proxy.remove(hold)
    assert cli_main(["compact", "--min-age", "0", url]) == 0
    assert len(_objects(url, moto_s3)) == 1
    assert sorted(follower.poll()["step"]) == list(range(30, 35))  # only what it had not seen
    assert len(follower.poll()) == 0
    assert len(midway.poll()) == 0
    with SummaryWriter(url, upload_secs=60, storage_options=options) as writer:
        writer.add_scalar("s", 35.0, 35)
    assert follower.poll()["step"].tolist() == [35]
    # compacted again (the merged object merged with the new segment): still nothing twice
    assert cli_main(["compact", "--min-age", "0", url]) == 0
    assert len(follower.poll()) == 0
    assert sorted(frames.Follower(url, "scalars", storage_options=options).poll()["step"]) == list(range(36))
    _check(url, range(36), moto_s3)


# -- upload-pending ------------------------------------------------------------------------------

_OUTAGE_CHILD = r"""
import os, sys, time
from eventwriter import SummaryWriter
w = SummaryWriter(sys.argv[1], upload_secs=0.2)
steps, batches = int(sys.argv[2]), int(sys.argv[3])
for step in range(steps):
    w.add_scalar("s", float(step), step)
    if step % (steps // batches) == steps // batches - 1:
        time.sleep(1.0)  # an interval or more: one segment per batch, written to the spill directory
time.sleep(1.0)
os.kill(os.getpid(), 9)
"""


def _spilled(fault_proxy, moto_s3, tmp_path, steps=100, batches=5):
    """A run whose writer was killed during an outage: ``batches`` segments in one spill directory."""
    url = f"s3://{moto_s3.bucket()}/run"
    pending = tmp_path / "pending"
    down = fault_proxy.add("error", method="PUT", path="tfevents", status=503, code="SlowDown")
    proc = subprocess.run([sys.executable, "-c", _OUTAGE_CHILD, url, str(steps), str(batches)],
                          env=_env(EVENTWRITER_PENDING_DIR=str(pending)), capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    fault_proxy.remove(down)
    (spill,) = [p for p in pending.iterdir()]
    assert len(list(spill.glob("*.seg"))) >= 2
    return url, str(spill)


def test_upload_pending_twice_at_once_stores_each_record_once(fault_proxy, moto_s3, tmp_path):
    for trial in range(5):
        trial_dir = tmp_path / str(trial)
        trial_dir.mkdir()
        url, spill = _spilled(fault_proxy, moto_s3, trial_dir)
        stall = fault_proxy.add("stall", method="PUT", path="tfevents", seconds=0.3)  # make them overlap
        procs = [_cli("upload-pending", spill) for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        fault_proxy.remove(stall)
        assert [p.returncode for p in procs] == [0, 0], outs
        assert "No such file" not in "".join(o[1] for o in outs), outs
        _check(url, range(100), moto_s3, context=f"trial {trial}")
        assert not os.path.exists(spill)


def test_upload_pending_rerun_after_a_failure_part_way_sends_nothing_twice(fault_proxy, moto_s3, tmp_path):
    url, spill = _spilled(fault_proxy, moto_s3, tmp_path)
    refuse = fault_proxy.add("error", method="PUT", path="tfevents", status=403, code="AccessDenied", after=2)
    assert cli_main(["upload-pending", spill]) == 1  # two segments stored, then refused
    fault_proxy.remove(refuse)
    assert fault_proxy.count("PUT", "tfevents", "forwarded") == 2
    assert cli_main(["upload-pending", spill]) == 0
    _check(url, range(100), moto_s3)
    assert not os.path.exists(spill)


def test_upload_pending_killed_mid_upload_then_rerun_sends_nothing_twice(fault_proxy, moto_s3, tmp_path):
    """Killed while a PUT it sent is in flight (the store got it: the answer is lost with the
    process): the rerun finds that segment under its recorded name and does not send it again."""
    url, spill = _spilled(fault_proxy, moto_s3, tmp_path)
    lost = fault_proxy.add("lost_answer", method="PUT", path="tfevents", after=1, times=1)
    hang = fault_proxy.add("hang", method="PUT", path="tfevents", after=2)
    proc = _cli("upload-pending", spill)
    try:
        _wait_for(lambda: fault_proxy.count("PUT", "tfevents", "hang") > 0, "the third upload")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    fault_proxy.remove(hang)
    fault_proxy.remove(lost)
    assert cli_main(["upload-pending", spill]) == 0
    _check(url, range(100), moto_s3)


def test_upload_pending_reports_a_failing_directory_and_processes_the_others(fault_proxy, moto_s3, tmp_path, capsys):
    url, spill = _spilled(fault_proxy, moto_s3, tmp_path / "a")
    broken = tmp_path / "b" / "broken"
    broken.mkdir(parents=True)
    (broken / "target.json").write_text("{}")
    missing = tmp_path / "missing"
    assert cli_main(["upload-pending", str(broken), str(missing), spill]) == 1
    err = capsys.readouterr().err
    assert str(broken) in err and "not a spill directory" in err, err
    assert str(missing) in err and "no such spill directory" in err, err
    _check(url, range(100), moto_s3)


def test_upload_pending_after_a_given_up_close_stores_each_record_once(fault_proxy, moto_s3, tmp_path):
    """close() gives up during an outage (part of its records already spilled to disk, the last
    segment saved by close() itself), the process ends, and upload-pending stores them all once."""
    child = r"""
import sys, time
from eventwriter import SummaryWriter
w = SummaryWriter(sys.argv[1], upload_secs=0.2)
w._storage.policy.retry_secs = 1.0
w._storage.policy.memory_limit = 4096
for step in range(300):
    w.add_scalar("s", float(step), step)
    if step % 100 == 99:
        time.sleep(0.6)
try:
    w.close()
except OSError as exc:
    print("GAVE UP", exc.pending_records, exc.spill_dir, flush=True)
"""
    url = f"s3://{moto_s3.bucket()}/run"
    pending = tmp_path / "pending"
    down = fault_proxy.add("error", method="PUT", path="tfevents", status=503, code="SlowDown")
    proc = subprocess.run([sys.executable, "-c", child, url], env=_env(EVENTWRITER_PENDING_DIR=str(pending)),
                          capture_output=True, text=True, timeout=300)
    assert "GAVE UP 300" in proc.stdout, proc.stdout + proc.stderr
    fault_proxy.remove(down)
    (spill,) = list(pending.iterdir())
    assert cli_main(["upload-pending", str(spill)]) == 0
    _check(url, range(300), moto_s3)


def test_upload_pending_refuses_while_the_writer_lives(fault_proxy, moto_s3, tmp_path, monkeypatch):
    monkeypatch.setenv("EVENTWRITER_PENDING_DIR", str(tmp_path / "pending"))
    url = f"s3://{moto_s3.bucket()}/run"
    down = fault_proxy.add("error", method="PUT", path="tfevents", status=503, code="SlowDown")
    writer = SummaryWriter(url, upload_secs=0.2)
    writer._storage.policy.retry_secs = 0.5
    for step in range(20):
        writer.add_scalar("s", float(step), step)
    with pytest.raises(OSError) as info:
        writer.flush()
    spill = info.value.spill_dir
    assert cli_main(["upload-pending", spill]) == 1  # this process's writer holds it: it retries itself
    proc = subprocess.run([sys.executable, "-m", "eventwriter", "upload-pending", spill], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "still running" in proc.stderr, proc.stderr
    fault_proxy.remove(down)
    writer._storage.policy.retry_secs = 60.0  # a loaded machine may need more than half a second
    writer.close()
    _check(url, range(20), moto_s3)
    assert not os.path.exists(spill)
