"""Multi-process logging cost: NullWriter calls, and a 2-process DDP training job.

    python benchmarks/bench_distributed.py                   # calls + DDP jobs, full epoch
    python benchmarks/bench_distributed.py --max-steps 3000  # shorter jobs
    python benchmarks/bench_distributed.py --repeat 3        # medians of 3 rounds

1. **Calls on the other ranks.** ns per call of the writer that
   ``eventwriter.distributed.rank_zero_writer`` returns on ranks other than 0 (a ``NullWriter``),
   next to ``eventwriter.SummaryWriter``'s own ``add_scalar`` on rank 0.
2. **A 2-process DDP job** (``torchrun --standalone --nproc_per_node 2``, gloo, CPU) running
   :func:`training.train` as ``python -m training`` does, once with ``NullWriter`` on every rank
   and once with ``rank_zero_writer`` (eventwriter on rank 0). Rank 0's writer is wrapped in
   ``bench_training.TimedWriter``, which adds up the wall time spent inside its methods. Reported:
   that time as a share of the NullWriter job's training wall time (target <= 3%), rank 0's
   training wall time, and the whole job's wall time (torchrun start to exit), for both writers.
   The writers alternate between rounds. Makes no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def bench_calls(number: int = 200_000) -> None:
    """Part 1: ns per writer call on a non-writing rank, and add_scalar on the writing rank."""
    import numpy as np

    from eventwriter.distributed import rank_zero_writer

    values = np.random.default_rng(0).standard_normal(10_000)
    with tempfile.TemporaryDirectory(prefix="bench-dist-calls-") as tmp:
        other = rank_zero_writer(os.path.join(tmp, "run"), rank=1)
        real = rank_zero_writer(os.path.join(tmp, "run"), rank=0)
        cases = [
            ("empty lambda (the timing loop itself)", lambda: None),
            ("NullWriter.add_scalar", lambda: other.add_scalar("loss", 0.5, 7)),
            ("NullWriter.add_histogram", lambda: other.add_histogram("w", values, 7)),
            ("NullWriter.add_text", lambda: other.add_text("t", "x", 7)),
            ("NullWriter.add_figure(close=False)",
             lambda: other.add_figure("f", None, 7, close=False)),
            ("SummaryWriter.add_scalar (rank 0)", lambda: real.add_scalar("loss", 0.5, 7)),
        ]
        print(f"writer calls, best of 5 x {number:,}:")
        for name, call in cases:
            best = min(timeit.repeat(call, number=number, repeat=5)) / number
            print(f"  {name:<38} {best * 1e9:8.0f} ns/call")
        real.close()


def worker(args: argparse.Namespace) -> int:
    """One rank of the DDP job (run by torchrun); rank 0 writes a JSON report."""
    import torch

    from bench_training import TimedWriter
    from eventwriter import NullWriter
    from eventwriter.distributed import rank_zero_writer
    from training import TrainConfig, load_fashion_mnist, train
    from training.cluster import join_cluster

    torch.set_num_threads(1)
    data = load_fashion_mnist(args.data_dir, download=False)
    cluster = join_cluster("cpu", timeout_seconds=600)
    try:
        config = TrainConfig(epochs=1, max_steps=args.max_steps, log_interval=args.log_interval,
                             test_limit=args.test_limit, seed=args.seed, progress=False,
                             device=cluster.device)
        logdir = cluster.broadcast(tempfile.mkdtemp(prefix=f"{args.writer}-", dir=args.scratch))
        cluster.all_gather(None)  # start together
        started = time.perf_counter()
        inner = (NullWriter(log_dir=logdir) if args.writer == "null"
                 else rank_zero_writer(logdir, rank=cluster.rank))
        writer = TimedWriter(inner)
        result = train(writer, data, config, cluster)
        writer.close()
        seconds = time.perf_counter() - started
        if cluster.is_main:
            report = {"seconds": seconds, "methods": writer.seconds,
                      "accuracy": result.test_accuracy, "steps": result.steps,
                      "files": sum(1 for p in Path(logdir).rglob("*") if p.is_file())}
            Path(args.report).write_text(json.dumps(report))
    finally:
        cluster.leave()
    return 0


def run_job(name: str, args: argparse.Namespace, scratch: str) -> dict[str, Any]:
    """Start one torchrun job; returns rank 0's report plus the job's wall time."""
    report = os.path.join(scratch, f"{name}.json")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc_per_node", "2", __file__, "--worker", "--writer", name,
               "--report", report, "--scratch", scratch, "--data-dir", str(args.data_dir),
               "--log-interval", str(args.log_interval), "--seed", str(args.seed)]
    if args.max_steps:
        command += ["--max-steps", str(args.max_steps)]
    if args.test_limit:
        command += ["--test-limit", str(args.test_limit)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    job_seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name} job failed:\n{done.stderr[-3000:]}")
    result = json.loads(Path(report).read_text())
    result["job_seconds"] = job_seconds
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or, with --worker, one rank of it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("FASHION_MNIST_DIR") or "data/fashion-mnist"))
    parser.add_argument("--max-steps", type=int, default=None,
                        help="steps per rank (default: a full epoch, 7500 steps of 4 per rank)")
    parser.add_argument("--log-interval", type=int, default=1000)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-calls", action="store_true", help="skip part 1")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--writer", choices=("null", "eventwriter"), help=argparse.SUPPRESS)
    parser.add_argument("--report", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    import torch

    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs")
    if not args.no_calls:
        bench_calls()
        print()
    names = ["null", "eventwriter"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    print(f"2-process DDP job (gloo, CPU, batch 4 per rank, log interval {args.log_interval}, "
          f"steps {args.max_steps or 'a full epoch'}, test images {args.test_limit or 10000}), "
          f"{args.repeat} round(s):")
    with tempfile.TemporaryDirectory(prefix="bench-dist-") as scratch:
        for round_index in range(args.repeat):
            order = names if round_index % 2 == 0 else names[::-1]
            for name in order:
                run = run_job(name, args, scratch)
                runs[name].append(run)
                print(f"  round {round_index + 1}: {name:<12} job {run['job_seconds']:7.2f} s, "
                      f"rank 0 training {run['seconds']:7.2f} s, inside writer "
                      f"{sum(run['methods'].values()):6.3f} s, accuracy {run['accuracy']:.4f}, "
                      f"{run['files']} files", flush=True)

    def median(name: str, key: str) -> float:
        if key == "inside":
            return statistics.median(sum(r["methods"].values()) for r in runs[name])
        return statistics.median(r[key] for r in runs[name])

    null_train = median("null", "seconds")
    print()
    print(f"{'writer':<12} {'job wall s':>10} {'rank-0 train s':>15} {'in writer s':>12} "
          f"{'% of null train':>16}")
    for name in names:
        inside = median(name, "inside")
        print(f"{name:<12} {median(name, 'job_seconds'):10.2f} {median(name, 'seconds'):15.2f} "
              f"{inside:12.3f} {inside / null_train * 100:15.2f}%")
    job_ratio = median("eventwriter", "job_seconds") / median("null", "job_seconds")
    print(f"job wall time eventwriter / null: {job_ratio:.3f}")
    methods = sorted({m for r in runs["eventwriter"] for m in r["methods"]})
    print("eventwriter, median seconds inside each method on rank 0:")
    for method in methods:
        print(f"  {method:<16} "
              f"{statistics.median(r['methods'].get(method, 0.0) for r in runs['eventwriter']):8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
