"""Side-by-side benchmark: logging to s3:// with eventwriter, tensorboardX and torch on one moto server.

The tests' fault proxy (tests/support/faultproxy.py) in front of the S3 API server counts every
upload request and its body bytes.
Each writer logs the same scalars for ``--intervals`` flush intervals (``flush()`` marks an
interval), then closes. Reported per writer: request-body bytes uploaded, requests, bytes finally
stored, uploaded/stored, seconds spent in the logging calls, and seconds until one event logged
without flush() is visible in the store (capped at ``--visible-cap``).

Two fault scenarios follow, through the tests' fault proxy (``tests/support/faultproxy.py``):

* ``--hang-secs``: the store accepts every PUT and never answers. eventwriter logs scalars (and
  a 300 kB text every 40 steps) for that long; reported: the slowest and the 99th-percentile
  ``add_*`` call, the hand-off lag of a local writer logging in the same process, and how long
  ``close()`` took against its ``retry_secs`` budget.
* ``--outage-kill``: a child logs 20 scalars a second with ``upload_secs=1``; every PUT fails
  from 2 s on, and the child is SIGKILLed 20 s later; ``eventwriter upload-pending`` then uploads
  what the child kept on local disk. Reported: records logged, stored, lost, and how long before
  the kill the oldest lost record was logged.

Run: .venv/bin/python benchmarks/bench_remote.py [--intervals 60] [--per-interval 100] [--only faults]
No assertions: the figures go to benchmarks/README.md ("Logging to object storage").
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))


def stored_bytes(client, bucket: str, prefix: str) -> int:
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        total += sum(o["Size"] for o in page.get("Contents", []))
    return total


def steps_in_store(url: str) -> set:
    from eventwriter.reader import scalars

    try:
        runs = scalars(url)
    except Exception:
        return set()
    return {p.step for tags in runs.values() for p in tags.get("probe", [])}


def run_writer(name, make, url, args, proxy, client, bucket, prefix):
    before = proxy.uploads()
    writer = make(url)
    in_calls = 0.0
    step = 0
    for _ in range(args.intervals):
        start = time.perf_counter()
        for _ in range(args.per_interval):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
            step += 1
        writer.flush()
        in_calls += time.perf_counter() - start
    # visibility: one event logged without flush()
    writer.add_scalar("probe", 1.0, 7)
    logged = time.monotonic()
    visible = None
    while time.monotonic() - logged < args.visible_cap:
        if 7 in steps_in_store(url):
            visible = time.monotonic() - logged
            break
        time.sleep(0.25)
    start = time.perf_counter()
    writer.close()
    in_calls += time.perf_counter() - start
    after = proxy.uploads()
    stored = stored_bytes(client, bucket, prefix)
    return {
        "writer": name,
        "requests": after[0] - before[0],
        "uploaded": after[1] - before[1],
        "stored": stored,
        "in_calls": in_calls,
        "visible": visible,
    }


def hanging_store(server, hang_secs: float, retry_secs: float) -> None:
    """The store never answers a PUT: latency of the logging calls, a local writer's lag, close()."""
    from support.faultproxy import FaultProxy
    from support.tbutil import loader_events

    from eventwriter import SummaryWriter
    from eventwriter.storage.errors import UploadError

    proxy = FaultProxy(server.port).start()
    saved = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="ew-bench-hang-")
    os.environ.update(proxy.env(server.env))
    os.environ["EVENTWRITER_PENDING_DIR"] = os.path.join(tmp, "pending")
    try:
        proxy.add("hang", method="PUT", path="tfevents")
        remote = SummaryWriter(f"s3://{server.bucket()}/run", upload_secs=1)
        remote._storage.policy.retry_secs = retry_secs
        local_dir = os.path.join(tmp, "local")
        local = SummaryWriter(local_dir)
        latencies, lags = [], []
        start = time.monotonic()
        step = 0
        while time.monotonic() - start < hang_secs:
            t0 = time.perf_counter()
            remote.add_scalar("s", float(step), step)
            if step % 40 == 0:
                remote.add_text("t", "x" * 300_000, step)
            latencies.append(time.perf_counter() - t0)
            local.add_scalar("l", float(step), step)
            if step % 100 == 0:  # how long until this local record is in the file
                logged = time.monotonic()
                want = step
                while True:
                    names = os.listdir(local_dir)
                    steps = {e.step for n in names for e in loader_events(os.path.join(local_dir, n)) if e.HasField("summary")}
                    if want in steps or time.monotonic() - logged > 30:
                        break
                    time.sleep(0.01)
                lags.append(time.monotonic() - logged)
            step += 1
            time.sleep(0.005)
        local.close()
        t0 = time.monotonic()
        try:
            remote.close()
            outcome = "stored (unexpected)"
        except UploadError as exc:
            outcome = f"raised, {exc.pending_records} records kept on disk ({exc.unsaved_records} only in memory)"
        close_secs = time.monotonic() - t0
        latencies.sort()
        print(f"hanging store, {hang_secs:g} s, {len(latencies)} logging calls: worst add_* {latencies[-1] * 1000:.1f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.2f} ms, median {latencies[len(latencies) // 2] * 1e6:.0f} us")
        print(f"  local writer in the same process: worst hand-off lag {max(lags):.2f} s over {len(lags)} probes")
        print(f"  close(): {close_secs:.2f} s with retry_secs={retry_secs:g}; {outcome}")
        proxy.clear()  # the store answers again: the next close() stores everything
        remote.close()
    finally:
        proxy.stop()
        os.environ.clear()
        os.environ.update(saved)




def outage_kill(server, outage_at: float, kill_after: float) -> None:
    """SIGKILL during an outage: how much of what was logged reaches the store via upload-pending."""
    from support.faultproxy import FaultProxy
    from support.processes import STEP_LOGGER

    from eventwriter.maintenance import upload_pending
    from eventwriter.reader import scalars
    from eventwriter.storage.spill import spill_dirs

    proxy = FaultProxy(server.port).start()
    tmp = tempfile.mkdtemp(prefix="ew-bench-kill-")
    pending = os.path.join(tmp, "pending")
    url = f"s3://{server.bucket()}/run"
    env = dict(os.environ, PYTHONPATH=ROOT, EVENTWRITER_PENDING_DIR=pending, **proxy.env(server.env))
    try:
        proc = subprocess.Popen([sys.executable, "-c", STEP_LOGGER, url], env=env, stdout=subprocess.PIPE, text=True)
        logged = {}
        reader = threading.Thread(target=lambda: [logged.setdefault(int(a), float(b)) for a, b in map(str.split, proc.stdout)])
        reader.start()
        while not logged:
            time.sleep(0.05)
        time.sleep(outage_at)
        proxy.add("error", method="PUT", path="tfevents", status=503, code="SlowDown")
        outage_from = time.time()
        time.sleep(kill_after + random.uniform(0.0, 1.0))  # anywhere in the upload interval
        proc.send_signal(signal.SIGKILL)
        killed = time.time()
        proc.wait()
        reader.join()
        proc.stdout.close()
        proxy.clear()
        options = server.storage_options
        for spill in spill_dirs(pending):
            upload_pending(spill, options)
        stored = [p.step for p in scalars(url, options).get(".", {}).get("t", [])]
        lost = sorted(set(logged) - set(stored))
        during = sum(1 for t in logged.values() if t >= outage_from)
        oldest_lost = killed - min((logged[s] for s in lost), default=killed)
        print(f"SIGKILL {kill_after:g} s into an outage (upload_secs=1): {len(logged)} logged, {during} during the outage, "
              f"{len(stored)} stored ({len(stored) - len(set(stored))} twice), {len(lost)} lost, "
              f"all logged in the last {oldest_lost:.2f} s before the kill")
    finally:
        proxy.stop()


def fault_scenarios(args: argparse.Namespace) -> None:
    """The hanging store, then ``args.kills`` SIGKILLs during an outage, on a fresh moto server."""
    from support.stores import MotoS3

    server = MotoS3().start()
    try:
        hanging_store(server, args.hang_secs, args.retry_secs)
        for _ in range(args.kills):
            outage_kill(server, 2.0, args.kill_after)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intervals", type=int, default=60)
    parser.add_argument("--per-interval", type=int, default=100)
    parser.add_argument("--visible-cap", type=float, default=30.0)
    parser.add_argument("--hang-secs", type=float, default=20.0)
    parser.add_argument("--retry-secs", type=float, default=5.0, help="close()'s budget in the hanging-store run")
    parser.add_argument("--kill-after", type=float, default=20.0, help="seconds into the outage (plus 0-1 s at random)")
    parser.add_argument("--kills", type=int, default=5, help="SIGKILL runs")
    parser.add_argument("--only", choices=["writers", "faults"], help="run only the side-by-side part or only the fault part")
    args = parser.parse_args()

    import boto3
    from support.stores import MotoS3

    if args.only == "faults":
        fault_scenarios(args)
        return
    server = MotoS3().start()
    from support.faultproxy import FaultProxy

    proxy = FaultProxy(server.port).start()
    endpoint = f"http://127.0.0.1:{proxy.port}"
    os.environ.update(server.env)
    os.environ.update({"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ENDPOINT_URL": endpoint, "S3_ENDPOINT": endpoint,
                       "S3_USE_HTTPS": "0", "S3_VERIFY_SSL": "0"})
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{server.port}", aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    bucket = server.bucket()
    writers = []

    from eventwriter import SummaryWriter as Ours

    writers.append(("eventwriter", Ours))
    try:
        from tensorboardX import SummaryWriter as TBX

        writers.append(("tensorboardX", TBX))
    except ImportError:
        print("tensorboardX not installed: skipped")
    try:
        from torch.utils.tensorboard import SummaryWriter as Torch

        writers.append(("torch", Torch))
    except ImportError:
        print("torch not installed: skipped")
    results = []
    try:
        for name, cls in writers:
            prefix = f"{name}/run"
            try:
                results.append(run_writer(name, cls, f"s3://{bucket}/{prefix}", args, proxy, client, bucket, prefix))
            except Exception as exc:  # report, keep benchmarking the others
                print(f"{name}: failed: {type(exc).__name__}: {exc}")
    finally:
        proxy.server.shutdown()
        server.stop()
    print(f"{args.intervals} flush intervals x {args.per_interval} scalars, S3 API (moto) behind a counting proxy")
    print(f"{'writer':<13} {'uploaded B':>11} {'uploads':>9} {'stored B':>9} {'up/stored':>9} {'in calls s':>10} {'visible s':>9}")
    for r in results:
        vis = f"{r['visible']:.1f}" if r["visible"] is not None else f">{args.visible_cap:g}"
        ratio = r["uploaded"] / r["stored"] if r["stored"] else float("nan")
        print(f"{r['writer']:<13} {r['uploaded']:>11} {r['requests']:>9} {r['stored']:>9} {ratio:>9.2f} {r['in_calls']:>10.3f} {vis:>9}")
    if args.only != "writers":
        fault_scenarios(args)


if __name__ == "__main__":
    main()
