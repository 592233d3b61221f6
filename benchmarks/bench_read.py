"""Side-by-side benchmark: reading 10 runs × 2 tags × 50,000 scalars back into a table.

Competitors, all in one run on the same logdir (written with eventwriter):
  tbparse ``SummaryReader(logdir).scalars``; TensorBoard's legacy ``EventAccumulator`` and
  ``plugin_event_accumulator`` (size guidance 0, one per run); ``eventwriter.reader.scalars``;
  TensorBoard's Rust data server (``tensorboard --load_fast=true --samples_per_plugin scalars=N``,
  timed from launch until its HTTP API serves every point of every run and tag);
  and ``eventwriter.frames.scalars`` (cold: first call in a fresh process, worker start included;
  warm: best of --repeat; in-process: ``workers=0``).
Also measures the peak resident memory of ``frames.scalars`` against the size of its table, on
that logdir and on one run holding the same rows in a single event file.

``--tf2``: the same count of scalars with the record shape TensorFlow 2 writes
(``tf.summary.scalar``: a rank-0 float tensor with ``scalars`` metadata; the bytes are checked
against a real TensorFlow file by tests/reader/test_foreign_files.py), read by ``frames`` (warm,
cold, in-process), ``plugin_event_accumulator`` and tbparse.

``--workers``: what the automatic worker pool's thresholds rest on: ``frames.scalars`` in a fresh
process with ``workers=0`` and ``workers=2``, first call and best of the next three, on logdirs
written by eventwriter and by torch of several sizes.

Run: .venv/bin/python benchmarks/bench_read.py [--runs 10] [--points 50000] [--repeat 3] [--skip-server] [--tf2] [--workers]
No assertions: machines are noisy. Prints times and ratios (competitor / frames warm).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

TAGS = ("loss/train", "accuracy")


def build(logdir: str, runs: int, points: int) -> None:
    from eventwriter import SummaryWriter

    for r in range(runs):
        with SummaryWriter(os.path.join(logdir, f"run{r:02d}")) as writer:
            for step in range(points):
                writer.add_scalar(TAGS[0], 1.0 / (step + 1), step)
                writer.add_scalar(TAGS[1], step / points, step)


def build_tf2(logdir: str, runs: int, points: int) -> None:
    """``runs`` runs of 2 tags x ``points`` scalars in TensorFlow 2's record shape (one file per run)."""
    import numpy as np

    from eventwriter import wire
    from eventwriter.frames.scalar_shape import templates
    from eventwriter.record import encode_record

    tf2 = templates()[1]  # tensor_content + scalars metadata on every record, as TensorFlow 2.21 writes
    keys = [wire.length_delimited(bytes((wire.KEY_TAG,)), tag.encode()) for tag in TAGS]
    for r in range(runs):
        run = os.path.join(logdir, f"run{r:02d}")
        os.makedirs(run)
        with open(os.path.join(run, f"events.out.tfevents.1796400000.host.{r}.0.v2"), "wb") as out:
            out.write(encode_record(wire.file_version_event(1.7964e9, "tensorflow.core.util.events_writer")))
            for step in range(points):
                parts = []
                for key, value in zip(keys, (1.0 / (step + 1), step / points)):
                    body = key + tf2.middle + np.float32(value).tobytes() + tf2.suffix
                    parts.append(encode_record(wire.event_prefix(1.7964e9 + step, step) + wire.summary_field(body)))
                out.write(b"".join(parts))


def build_torch(logdir: str, runs: int, points: int) -> None:
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    for r in range(runs):
        writer = TorchWriter(os.path.join(logdir, f"run{r:02d}"))
        for step in range(points):
            writer.add_scalar(TAGS[0], 1.0 / (step + 1), step)
            writer.add_scalar(TAGS[1], step / points, step)
        writer.close()


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_dirs(logdir: str):
    return sorted(os.path.join(logdir, d) for d in os.listdir(logdir))


def bench_tbparse(logdir: str):
    from tbparse import SummaryReader

    return timed(lambda: len(SummaryReader(logdir).scalars))


def bench_legacy(logdir: str):
    from tensorboard.backend.event_processing import event_accumulator as ea

    def go():
        n = 0
        for run in run_dirs(logdir):
            acc = ea.EventAccumulator(run, size_guidance={ea.SCALARS: 0})
            acc.Reload()
            n += sum(len(acc.Scalars(t)) for t in acc.Tags()["scalars"])
        return n

    return timed(go)


def bench_plugin(logdir: str):
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea

    def go():
        n = 0
        for run in run_dirs(logdir):
            acc = pea.EventAccumulator(run, size_guidance={pea.TENSORS: 0})
            acc.Reload()
            n += sum(len(acc.Tensors(t)) for t in acc.Tags()["tensors"])
        return n

    return timed(go)


def bench_reader(logdir: str):
    from eventwriter.reader import scalars

    return timed(lambda: sum(len(s) for tags in scalars(logdir).values() for s in tags.values()))


def bench_server(logdir: str, points: int, runs: int):
    from support.tbserver import TensorBoardServer

    from eventwriter import frames

    table = frames.scalars(logdir)  # which (run, tag) series to wait for; not timed
    series = sorted({(str(r), str(t)) for r, t in zip(table["run"], table["tag"])})
    del table
    server = TensorBoardServer(logdir, load_fast=True, extra_args=["--samples_per_plugin", f"scalars={points}"])
    start = time.perf_counter()
    server.start(timeout=300)
    try:
        # One series at a time, so that polling (each answer is a full JSON series) does not load
        # the server more than needed; a series counts once it serves every point.
        deadline = time.monotonic() + 900
        total = 0
        for run, tag in series:
            query = urllib.parse.urlencode({"run": run, "tag": tag})
            while time.monotonic() < deadline:
                try:
                    data = server.get_json(f"/data/plugin/scalars/scalars?{query}", timeout=120)
                except Exception:
                    data = []
                if len(data) >= points:
                    total += len(data)
                    break
                time.sleep(0.2)
        elapsed = time.perf_counter() - start
        complete = total == len(series) * points
        return elapsed, (total if complete else f"incomplete: {total} points")
    finally:
        server.stop()


_CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
from eventwriter import frames
import pandas, pyarrow  # imported before the baseline: the table libraries are not the reader's memory
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak to the current RSS
base = rss()
t = time.perf_counter()
df = frames.scalars({logdir!r}, workers={workers})
cold = time.perf_counter() - t
peak = hwm()
table = int(df.memory_usage(deep=True).sum())
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
frames.pool.shutdown() if hasattr(frames, "pool") else None
print(json.dumps(dict(cold=cold, rows=len(df), base=base, peak=peak, table=table, children=children)))
"""


_COLD_WARM = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from eventwriter import frames
import pandas
t = time.perf_counter()
n = len(frames.scalars({logdir!r}, workers={workers}))
cold = time.perf_counter() - t
warm = []
for _ in range(3):
    t = time.perf_counter()
    frames.scalars({logdir!r}, workers={workers})
    warm.append(time.perf_counter() - t)
print(json.dumps(dict(cold=cold, warm=min(warm), rows=n)))
"""


def cold_warm(logdir: str, workers) -> dict:
    """First call and best warm call of ``frames.scalars`` in a fresh process."""
    code = _COLD_WARM.format(root=ROOT, logdir=logdir, workers=workers)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def logdir_bytes(logdir: str) -> int:
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(logdir) for f in files)


def bench_tf2(tmp: str, runs: int, points: int, repeat: int, skip_slow: bool) -> None:
    from eventwriter import frames

    logdir = os.path.join(tmp, "tf2")
    print(f"\nbuilding {runs} runs x {len(TAGS)} tags x {points} scalars in TensorFlow 2's record shape ...", flush=True)
    build_tf2(logdir, runs, points)
    print(f"logdir: {logdir_bytes(logdir) / 1e6:.1f} MB", flush=True)
    results = {}
    cold = child_run(logdir, None)
    results["frames.scalars, cold (fresh process)"] = (cold["cold"], cold["rows"])
    frames.scalars(logdir, workers=2)  # start the pool
    warm = min(timed(lambda: len(frames.scalars(logdir, workers=2)))[0] for _ in range(repeat))
    results[f"frames.scalars, warm, workers=2 (best of {repeat})"] = (warm, runs * len(TAGS) * points)
    serial = min(timed(lambda: len(frames.scalars(logdir, workers=0)))[0] for _ in range(repeat))
    results[f"frames.scalars, workers=0 (best of {repeat})"] = (serial, runs * len(TAGS) * points)
    frames.pool.shutdown()
    if not skip_slow:
        results["plugin_event_accumulator (size_guidance 0)"] = bench_plugin(logdir)
        results["tbparse SummaryReader(...).scalars"] = bench_tbparse(logdir)
    print(f"\n{'reader (TF2 scalars)':<64} {'time':>9} {'rows':>9} {'vs frames warm':>15}")
    for name, (seconds, rows) in results.items():
        print(f"{name:<64} {seconds:>8.3f}s {str(rows):>9} {seconds / warm:>14.1f}x")


def bench_workers(tmp: str) -> None:
    print("\nworkers=0 against workers=2, fresh process each (first call; best of the next 3):")
    cases = (
        ("eventwriter", build, 10, 8000),
        ("torch", build_torch, 10, 8000),
        ("eventwriter", build, 10, 50000),
        ("eventwriter", build, 10, 160000),
    )
    for i, (writer, make, runs, points) in enumerate(cases):
        logdir = os.path.join(tmp, f"workers{i}")
        make(logdir, runs, points)
        size = logdir_bytes(logdir) / 1e6
        serial, pool = cold_warm(logdir, 0), cold_warm(logdir, 2)
        print(
            f"  {writer:<11} {size:6.1f} MB: workers=0 {serial['cold']:.3f} s first / {serial['warm']:.3f} s warm; "
            f"workers=2 {pool['cold']:.3f} s first / {pool['warm']:.3f} s warm",
            flush=True,
        )


def child_run(logdir: str, workers) -> dict:
    code = _CHILD.format(root=ROOT, logdir=logdir, workers=workers)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--points", type=int, default=50_000, help="scalars per tag per run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--logdir", help="reuse (or create) this logdir instead of a temporary one")
    parser.add_argument("--skip-server", action="store_true", help="leave out the Rust data server")
    parser.add_argument("--skip-slow", action="store_true", help="leave out tbparse and the accumulators")
    parser.add_argument("--skip-memory", action="store_true", help="leave out the peak-memory measurement")
    parser.add_argument("--tf2", action="store_true", help="also read the same count of scalars in TensorFlow 2's record shape")
    parser.add_argument("--workers", action="store_true", help="also measure workers=0 against workers=2 by logdir size")
    parser.add_argument("--only", choices=("tf2", "workers"), help="run only this extra part")
    args = parser.parse_args()
    if args.only:
        with tempfile.TemporaryDirectory() as tmp:
            if args.only == "tf2":
                bench_tf2(tmp, args.runs, args.points, args.repeat, args.skip_slow)
            else:
                bench_workers(tmp)
        return

    with tempfile.TemporaryDirectory() as tmp:
        logdir = args.logdir or os.path.join(tmp, "logdir")
        if not os.path.isdir(logdir) or not os.listdir(logdir):
            print(f"building {args.runs} runs x {len(TAGS)} tags x {args.points} scalars ...", flush=True)
            build(logdir, args.runs, args.points)
        size = sum(os.path.getsize(os.path.join(d, f)) for d in run_dirs(logdir) for f in os.listdir(d))
        expected = args.runs * len(TAGS) * args.points
        print(f"logdir: {size / 1e6:.1f} MB, {expected} scalars", flush=True)

        from eventwriter import frames

        results = {}
        cold = child_run(logdir, None)
        results["frames.scalars, cold (fresh process, default workers)"] = (cold["cold"], cold["rows"])
        frames.scalars(logdir, workers=2)  # start the pool
        warm = min(timed(lambda: len(frames.scalars(logdir, workers=2)))[0] for _ in range(args.repeat))
        results["frames.scalars, warm, workers=2 (best of %d)" % args.repeat] = (warm, expected)
        serial = min(timed(lambda: len(frames.scalars(logdir, workers=0)))[0] for _ in range(args.repeat))
        results["frames.scalars, workers=0 (best of %d)" % args.repeat] = (serial, expected)
        arrow = min(timed(lambda: frames.scalars(logdir, format="arrow").num_rows)[0] for _ in range(args.repeat))
        results["frames.scalars, format='arrow' (best of %d)" % args.repeat] = (arrow, expected)
        frames.pool.shutdown()
        results["eventwriter.reader.scalars"] = bench_reader(logdir)
        if not args.skip_slow:
            results["tbparse SummaryReader(...).scalars"] = bench_tbparse(logdir)
            results["EventAccumulator (legacy, size_guidance 0)"] = bench_legacy(logdir)
            results["plugin_event_accumulator (size_guidance 0)"] = bench_plugin(logdir)
        if not args.skip_server:
            results[f"Rust data server, HTTP serves every point (scalars={args.points})"] = bench_server(logdir, args.points, args.runs)

        print(f"\n{'reader':<64} {'time':>9} {'rows':>9} {'vs frames warm':>15}")
        for name, (seconds, rows) in results.items():
            print(f"{name:<64} {seconds:>8.3f}s {str(rows):>9} {seconds / warm:>14.1f}x")

        if args.tf2:
            bench_tf2(tmp, args.runs, args.points, args.repeat, args.skip_slow)
        if args.workers:
            bench_workers(tmp)
        if args.skip_memory:
            return
        single = os.path.join(tmp, "single")
        print(f"\nbuilding one run, one file of {expected} scalars ...", flush=True)
        build(single, 1, expected // len(TAGS))
        print("\npeak resident memory of frames.scalars (fresh process, pandas format):")
        cases = (("workers (default)", logdir, None), ("in-process (workers=0)", logdir, 0), ("one file, in-process", single, 0))
        for label, where, workers in cases:
            m = child_run(where, workers)
            growth = m["peak"] - m["base"]
            print(
                f"  {label:<24} table {m['table'] / 1e6:6.1f} MB; peak RSS growth of the calling process "
                f"{growth / 1e6:6.1f} MB = {growth / m['table']:.2f}x the table"
            )


if __name__ == "__main__":
    main()
