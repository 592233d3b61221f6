"""Remote logging under attack: a real S3 API server (moto) behind the project's own fault proxy.

Each test replays one way a store, a disk or the process can fail (issue 15), and reads the run
back with TensorBoard's EventAccumulator, ``eventwriter.frames`` and a raw count of the records:
what was logged is stored, each record once. No test asserts a duration: where timing is the
point, the fault lasts "forever" (a hang the test releases itself), so finishing at all is the
proof, and the measured figures are printed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eventwriter import SummaryWriter
from eventwriter.cli import main as cli_main
from eventwriter.storage.errors import UploadError
from support.faults import mounted_tmpfs
from support.processes import STEP_LOGGER

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.store


def _writer(url, upload_secs=60.0, retry_secs=3.0, request_secs=None, memory_limit=None, **kwargs):
    """A SummaryWriter on ``url`` with short budgets (the policy is shared by its streams)."""
    writer = SummaryWriter(url, upload_secs=upload_secs, retry_secs=retry_secs, **kwargs)
    policy = writer._storage.policy
    if request_secs is not None:
        policy.request_secs = request_secs
    if memory_limit is not None:
        policy.memory_limit = memory_limit
    return writer


def _close_with_the_store_back(writer, fault_proxy, rule):
    """End the fault, then close: everything still pending is stored. The short budget given to
    ``_writer`` made the outage quick to test; with the store well again, uploading what piled up
    (megabytes, through the proxy, on a loaded machine) may take longer than that, so the writer
    gets a budget that only a store still failing would exhaust."""
    fault_proxy.remove(rule)
    writer._storage.policy.retry_secs = 60.0
    writer.close()


def _spill_dirs(root):
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def _check(url, tag, logged, moto_s3, kind="scalars", context=None):
    from support.remote_check import assert_exactly_once

    assert_exactly_once(url, tag, logged, moto_s3.storage_options, kind=kind, context=context)


def _in_thread(target, timeout):
    """Run ``target`` in a thread; (finished, result or exception, seconds taken)."""
    out = {}

    def run():
        start = time.monotonic()
        try:
            out["value"] = target()
        except BaseException as exc:  # noqa: B036 - handed to the test
            out["value"] = exc
        out["secs"] = time.monotonic() - start

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    return not thread.is_alive(), out.get("value"), out.get("secs")


# -- item 9: a store that hangs ------------------------------------------------------------------


def test_a_hanging_store_holds_up_neither_logging_nor_other_writers_and_close_keeps_its_budget(fault_proxy, moto_s3, tmp_path):
    """The store accepts every PUT and never answers. Logging must not wait on it (the logging
    loop finishes while the hang lasts), a local writer in the same process keeps handing its
    records to the OS, and close() returns within its budget, with the records on local disk."""
    from support.tbutil import loader_events

    url = f"s3://{moto_s3.bucket()}/run"
    hang = fault_proxy.add("hang", method="PUT", path="tfevents")
    remote = _writer(url, upload_secs=0.5, retry_secs=2.0, request_secs=2.0)
    local = SummaryWriter(str(tmp_path / "local"))
    latencies = []

    def log():
        for step in range(400):
            start = time.perf_counter()
            remote.add_scalar("s", float(step), step)
            if step % 40 == 0:
                remote.add_text("t", "x" * 300_000, step)  # past the 1 MiB hand-off: the caller's own thread hands over
            latencies.append(time.perf_counter() - start)
            local.add_scalar("l", float(step), step)
            time.sleep(0.005)

    finished, error, secs = _in_thread(log, timeout=300)
    assert finished, "add_* waited on a store that never answers"
    assert error is None, error
    # The local writer's records reach its file while the store still hangs.
    deadline = time.monotonic() + 60
    while True:
        events = [e for path in (tmp_path / "local").iterdir() for e in loader_events(path)]
        if sum(1 for e in events if e.HasField("summary")) == 400:
            break
        assert time.monotonic() < deadline, "the local writer's records never reached its file while the store hung"
        time.sleep(0.2)
    local.close()
    assert fault_proxy.count("PUT", "tfevents", "hang") >= 1  # the store really was hanging
    finished, closed, close_secs = _in_thread(remote.close, timeout=300)
    assert finished, "close() did not return while the store hung"
    assert isinstance(closed, UploadError) and not closed.permanent, closed
    assert url in str(closed) and closed.spill_dir and "upload-pending" in str(closed)
    assert closed.unsaved_records == 0 and closed.pending_records > 0  # all on local disk
    latencies.sort()
    print(f"\nhanging store: worst add_* {latencies[-1] * 1000:.1f} ms, p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms "
          f"over {len(latencies)} calls; close() {close_secs:.2f} s with retry_secs=2")
    _close_with_the_store_back(remote, fault_proxy, hang)  # the next close() uploads everything
    _check(url, "s", range(400), moto_s3)
    _check(url, "t/text_summary", range(0, 400, 40), moto_s3, kind="text")
    assert not _spill_dirs(os.environ["EVENTWRITER_PENDING_DIR"])


def test_a_trickling_store_does_not_make_close_unbounded(fault_proxy, moto_s3):
    """The store answers every request one byte a minute (the PUTs do reach it: this is also a
    lost answer, found again by the next attempt's conditional create): each request is cut at its
    timeout, close() gives up within its budget, and once the store is well again everything is
    stored once."""
    url = f"s3://{moto_s3.bucket()}/run"
    trickle = fault_proxy.add("trickle", method=None, path="tfevents", seconds=60.0)
    writer = _writer(url, upload_secs=0.5, retry_secs=2.0, request_secs=1.0)
    for step in range(50):
        writer.add_scalar("s", float(step), step)
    finished, closed, secs = _in_thread(writer.close, timeout=300)
    assert finished, "close() did not return while the store trickled"
    assert isinstance(closed, UploadError), closed
    print(f"\ntrickling store: close() gave up after {secs:.2f} s (retry_secs=2, request_secs=1)")
    _close_with_the_store_back(writer, fault_proxy, trickle)
    _check(url, "s", range(50), moto_s3)


# -- item 10: a store that refuses for good --------------------------------------------------------


@pytest.mark.parametrize(
    "status, code, hint",
    [(404, "NoSuchBucket", "does not exist"), (403, "AccessDenied", "access denied"), (403, "InvalidAccessKeyId", "not valid"),
     (400, "ExpiredToken", "expired")],
)
def test_a_permanent_refusal_is_raised_by_the_next_call_and_not_retried(fault_proxy, moto_s3, status, code, hint):
    url = f"s3://{moto_s3.bucket()}/run"
    fault_proxy.add("error", method="PUT", path="tfevents", status=status, code=code)
    writer = _writer(url, upload_secs=0.2, retry_secs=120.0)  # a budget that must not be spent
    logged, error = [], None
    for step in range(3000):
        try:
            writer.add_scalar("s", float(step), step)
        except UploadError as exc:
            error = exc
            break
        logged.append(step)
        time.sleep(0.005)
    assert error is not None, "add_* kept returning normally while the store refused every upload"
    message = str(error)
    assert error.permanent and url in message and code in message and hint in message, message
    assert error.spill_dir and f"eventwriter upload-pending {error.spill_dir}" in message, message
    for call in (lambda: writer.add_scalar("s", 0.0, 0), writer.flush):  # every later call says so too
        with pytest.raises(UploadError, match=code):
            call()
    puts = fault_proxy.count("PUT", "tfevents")
    with pytest.raises(UploadError, match=code) as info:
        writer.close()
    assert fault_proxy.count("PUT", "tfevents") == puts, "close() retried a permanent refusal"
    assert info.value.pending_records == len(logged) and info.value.unsaved_records == 0
    writer.close()  # closed: nothing more to say
    fault_proxy.clear()  # fixed (bucket created, credentials renewed): upload what was kept
    assert cli_main(["upload-pending", info.value.spill_dir]) == 0
    _check(url, "s", logged, moto_s3)


_MISSING_BUCKET_CHILD = r"""
import sys
from eventwriter import SummaryWriter
with SummaryWriter(sys.argv[1], upload_secs=0.2) as w:
    for step in range(100000):
        w.add_scalar("loss", 1.0 / (step + 1), step)
        __import__("time").sleep(0.002)
"""


def test_a_missing_bucket_gives_one_clear_message_and_no_noise_at_exit(moto_s3, tmp_path):
    """The README's ``with`` form on a bucket that does not exist: the first add_* after the first
    upload raises the store's refusal (URL, what to do, where the records are); close() in
    ``__exit__`` does not hide it behind a second error; nothing more is printed at exit."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), EVENTWRITER_PENDING_DIR=str(tmp_path / "pending"), **moto_s3.env)
    url = "s3://no-such-bucket-ew/run"
    proc = subprocess.run([sys.executable, "-c", _MISSING_BUCKET_CHILD, url], env=env, capture_output=True, text=True, timeout=300)
    err = proc.stderr
    assert proc.returncode == 1, err
    assert err.count("Traceback") == 1 and err.count("UploadError") == 1, err
    assert "During handling" not in err and "another exception" not in err, err
    assert "NoSuchBucket" in err and url in err and "create it" in err and "upload-pending" in err, err
    assert "cannot schedule new futures" not in err and "at exit" not in err, err
    assert len(_spill_dirs(tmp_path / "pending")) == 1


# -- item 2: a burst larger than the memory limit --------------------------------------------------


def test_a_burst_over_the_memory_limit_on_a_healthy_store_needs_no_disk(fault_proxy, moto_s3, tmp_path, monkeypatch):
    """Spill directory unwritable (a file in its path, like a read-only home), store healthy, a
    burst of six memory limits within one upload interval: segments are sealed and uploaded at
    once, the training thread sees no error, and everything is stored once."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("EVENTWRITER_PENDING_DIR", str(blocker / "pending"))
    url = f"s3://{moto_s3.bucket()}/run"
    writer = _writer(url, upload_secs=60, memory_limit=2 << 20)
    for step in range(120):
        writer.add_text("big", f"{step} " + "x" * 100_000, step)
    writer.close()
    _check(url, "big/text_summary", range(120), moto_s3, kind="text")
    assert fault_proxy.count("PUT", "tfevents") >= 3  # sealed at the limit (close() alone would send one)


def test_store_down_and_spill_unwritable_keeps_records_in_memory_until_the_store_is_back(fault_proxy, moto_s3, tmp_path, monkeypatch):
    """Both the store and the spill directory fail: nothing is lost or torn, the training thread
    sees no error, close() says the records are in memory only, and a later close() stores them."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("EVENTWRITER_PENDING_DIR", str(blocker / "pending"))
    url = f"s3://{moto_s3.bucket()}/run"
    down = fault_proxy.add("error", method="PUT", path="tfevents", status=503, code="SlowDown")
    writer = _writer(url, upload_secs=0.3, retry_secs=1.5, memory_limit=256 << 10)
    for step in range(300):
        writer.add_text("t", f"{step} " + "y" * 5_000, step)
        writer.add_scalar("s", float(step), step)
    with pytest.raises(UploadError) as info:
        writer.close()
    assert info.value.unsaved_records == info.value.pending_records > 0
    assert "memory only" in str(info.value) and "refused" in str(info.value), str(info.value)
    _close_with_the_store_back(writer, fault_proxy, down)
    _check(url, "s", range(300), moto_s3)
    _check(url, "t/text_summary", range(300), moto_s3, kind="text")


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 256 KiB tmpfs (root only); unmounted afterwards."""
    with mounted_tmpfs(tmp_path / "disk", "256k") as mount:
        yield mount


def test_a_spill_directory_that_fills_up_holds_only_whole_segments(fault_proxy, moto_s3, tiny_disk, monkeypatch):
    """The spill disk fills during an outage: what is on it is whole segments (no torn record), the
    rest stays in memory, and nothing is lost or stored twice once the store is back."""
    from eventwriter.storage.spill import SpillDir

    monkeypatch.setenv("EVENTWRITER_PENDING_DIR", str(tiny_disk / "pending"))
    url = f"s3://{moto_s3.bucket()}/run"
    down = fault_proxy.add("error", method="PUT", path="tfevents", status=500, code="InternalError")
    writer = _writer(url, upload_secs=0.2, retry_secs=1.0)
    for step in range(150):
        writer.add_text("t", f"{step} " + "z" * 4_000, step)
        if step % 30 == 29:
            time.sleep(0.5)  # a few intervals: segments go to disk until it is full
    with pytest.raises(UploadError) as info:
        writer.flush()
    assert 0 < info.value.unsaved_records < info.value.pending_records, str(info.value)
    spill = SpillDir(info.value.spill_dir, -1, {})
    for entry in spill.entries():
        from eventwriter.storage.spill import count_records

        assert count_records(spill.read(entry.seq)) == entry.records  # every file on disk is whole
    _close_with_the_store_back(writer, fault_proxy, down)
    _check(url, "t/text_summary", range(150), moto_s3, kind="text")


# -- item 1: a writer dropped without close() ------------------------------------------------------

_DROPPED_CHILD = r"""
import sys
from eventwriter import SummaryWriter
w = SummaryWriter(sys.argv[1], upload_secs=60)
w._storage.policy.retry_secs = float(sys.argv[2])
for step in range(100):
    w.add_scalar("s", float(step), step)
del w
"""


def test_a_dropped_writer_uploads_at_exit(fault_proxy, moto_s3, tmp_path):
    url = f"s3://{moto_s3.bucket()}/run"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", _DROPPED_CHILD, url, "30"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    _check(url, "s", range(100), moto_s3)


def test_a_dropped_writer_on_a_failing_store_says_where_its_records_are(fault_proxy, moto_s3, tmp_path):
    url = f"s3://{moto_s3.bucket()}/run"
    fault_proxy.add("error", method="PUT", path="tfevents", status=503, code="SlowDown")
    pending = tmp_path / "pending"
    env = dict(os.environ, PYTHONPATH=str(ROOT), EVENTWRITER_PENDING_DIR=str(pending))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _DROPPED_CHILD, url, "2"], env=env, capture_output=True, text=True, timeout=300)
    print(f"\nexit with a failing store took {time.monotonic() - start:.1f} s (retry_secs=2, interpreter start included)")
    (spill,) = _spill_dirs(pending)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "at exit" in lines[0] and str(spill) in lines[0] and "100 records" in lines[0], proc.stderr
    fault_proxy.clear()
    assert cli_main(["upload-pending", str(spill)]) == 0
    _check(url, "s", range(100), moto_s3)


# -- item 3: SIGKILL during an outage --------------------------------------------------------------



@pytest.mark.slow
def test_sigkill_during_an_outage_loses_only_the_last_moments(fault_proxy, moto_s3, tmp_path):
    """upload_secs=1, the store fails every PUT from about 2 s on, SIGKILL about 8 s later: the
    records of the outage are on local disk (fsync'd segments), so upload-pending stores all but
    the last moments' records, none twice. The lag is printed; the test asserts only that records
    logged well before the kill (three upload intervals plus slack) survive."""
    url = f"s3://{moto_s3.bucket()}/run"
    pending = tmp_path / "pending"
    env = dict(os.environ, PYTHONPATH=str(ROOT), EVENTWRITER_PENDING_DIR=str(pending))
    proc = subprocess.Popen([sys.executable, "-c", STEP_LOGGER, url], env=env, stdout=subprocess.PIPE, text=True)
    logged: dict = {}
    reader = threading.Thread(target=lambda: [logged.setdefault(int(a), float(b)) for a, b in map(str.split, proc.stdout)])
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while len(logged) < 40:  # about 2 s of logging
            assert time.monotonic() < deadline, "the child logged nothing"
            time.sleep(0.1)
        outage_from = time.time()
        fault_proxy.add("error", method="PUT", path="tfevents", status=503, code="SlowDown")
        time.sleep(8)
    finally:
        proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        proc.wait(timeout=30)
        reader.join(30)
        proc.stdout.close()
    fault_proxy.clear()
    for spill in _spill_dirs(pending):
        assert cli_main(["upload-pending", str(spill)]) == 0
    from support.remote_check import raw_steps

    stored = raw_steps(url, "t", moto_s3.storage_options)
    assert len(stored) == len(set(stored)), "a record stored twice"
    assert set(stored) <= set(logged) | {max(logged) + 1}
    during = [s for s, t in logged.items() if t >= outage_from]
    lost = sorted(set(logged) - set(stored))
    must_survive = [s for s, t in logged.items() if t < killed_at - 3 * 1.0 - 2.0]
    newest = max((logged[s] for s in stored if s in logged), default=outage_from)
    print(f"\nSIGKILL during an outage: {len(logged)} logged, {len(during)} during the outage, {len(lost)} lost "
          f"(all logged in the last {killed_at - min((logged[s] for s in lost), default=killed_at):.2f} s); "
          f"newest stored record logged {killed_at - newest:.2f} s before the kill")
    assert not set(must_survive) - set(stored), f"records logged long before the kill were lost: {sorted(set(must_survive) - set(stored))[:10]}"
    from support.remote_check import tensorboard_steps

    assert sorted(tensorboard_steps(url, "t")) == sorted(stored)


# -- item 11: the clock steps back -----------------------------------------------------------------


class _SteppingClock:
    """``time`` for event_file: every call to ``time()`` is 10 s earlier than the previous one."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        self.now -= 10.0
        return self.now

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.mark.parametrize("scheme", ["file", "s3"])
def test_a_clock_stepping_back_keeps_segment_names_bounded_and_sorted(scheme, moto_s3, s3_run, tmp_path, monkeypatch):
    from eventwriter import event_file

    segments = 150 if scheme == "file" else 30
    url = f"file://{tmp_path}/run" if scheme == "file" else s3_run
    if scheme == "file":
        (tmp_path / "run").mkdir()
    monkeypatch.setattr(event_file, "time", _SteppingClock())
    writer = _writer(url, upload_secs=60)
    for step in range(segments):
        writer.add_scalar("s", float(step), step)
        writer.flush()  # one segment each
    writer.close()
    if scheme == "file":
        names = sorted(os.listdir(tmp_path / "run"))
    else:
        from support.remote_check import event_objects

        names = event_objects(url, moto_s3.storage_options)
    assert len(names) == segments
    assert max(map(len, names)) - min(map(len, names)) <= 1, names[-3:]
    from eventwriter.reader import scalars

    points = scalars(url, moto_s3.storage_options if scheme == "s3" else None)["."]["s"]
    assert [p.step for p in points] == list(range(segments))  # read in name order = logged order
    if scheme == "s3":
        _check(url, "s", range(segments), moto_s3)


# -- the shared flusher keeps any error for the writer's next call -----------------------------------


def test_the_background_thread_keeps_a_non_oserror_for_the_next_call_with_the_records(tmp_path, monkeypatch):
    from support.faults import Disk, FaultyStorage, FaultyStream, install

    class Broken(FaultyStream):
        failures = 1

        def write(self, data):
            if Broken.failures:
                Broken.failures -= 1
                raise RuntimeError("a bug in a stream")
            super().write(data)

    class BrokenStorage(FaultyStorage):
        def open_stream(self, directory, new_name, header, max_file_bytes=None):
            return Broken(super().open_stream(directory, new_name, header, max_file_bytes)._inner, self.disk)

    install(monkeypatch, BrokenStorage(Disk()))
    writer = SummaryWriter(str(tmp_path / "run"))
    writer.add_scalar("s", 0.0, 0)
    deadline = time.monotonic() + 30
    raised = None
    step = 1
    while raised is None and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            writer.add_scalar("s", float(step), step)
            step += 1
        except RuntimeError as exc:
            raised = exc
    assert raised is not None and "a bug in a stream" in str(raised)
    writer.close()
    from support.tbutil import legacy_accumulator

    assert [e.step for e in legacy_accumulator(tmp_path / "run").Scalars("s")] == list(range(step))
