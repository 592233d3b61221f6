"""The same Fashion-MNIST training loop with three writers, timed in one process.

    python benchmarks/bench_training.py                  # full default run: 1 epoch, 15000 steps
    python benchmarks/bench_training.py --max-steps 3000 # quicker
    python benchmarks/bench_training.py --repeat 3       # median of 3 rounds per writer

Writers: ``NullWriter`` (discards everything: the cost of the loop itself),
``eventwriter.SummaryWriter`` and ``torch.utils.tensorboard.SummaryWriter``. Each timed run
covers creating the writer, :func:`training.train` (which logs everything the tutorial logs
plus per-epoch metrics, histograms, figures and hparams) and ``close()``. Before timing, every
writer does a tiny warm-up run so one-off costs (imports, font cache, the first JIT trace) are
not charged to whoever runs first, and the order of the writers rotates between rounds.

Prints wall times, eventwriter's and torch's overhead over the null writer, eventwriter's
time relative to torch's, and the final test accuracy (identical for the three writers: the
writer does not influence training). Makes no assertions.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from eventwriter import NullWriter  # noqa: E402
from training import TrainConfig, load_fashion_mnist, train  # noqa: E402


def _eventwriter(logdir: str) -> Any:
    from eventwriter import SummaryWriter

    return SummaryWriter(log_dir=logdir)


def _torch(logdir: str) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=logdir)


WRITERS: dict[str, Callable[[str], Any]] = {
    "null": lambda logdir: NullWriter(log_dir=logdir),
    "eventwriter": _eventwriter,
    "torch": _torch,
}


class TimedWriter:
    """Wraps a writer and adds up the wall time spent in each of its methods."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer
        self.seconds: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._writer, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

        return timed


def _disk_usage(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass
class Measurement:
    """One timed run."""

    seconds: float  # wall time
    cpu_seconds: float  # CPU time of the whole process (all threads, writer threads included)
    accuracy: float  # final test accuracy
    size: int  # bytes written to the logdir
    methods: dict[str, float]  # wall time inside each writer method


def run_once(name: str, data: Any, config: TrainConfig, scratch: Path) -> Measurement:
    """Create the writer, train, close; time it all."""
    logdir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=scratch))
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    writer = TimedWriter(WRITERS[name](str(logdir)))
    result = train(writer, data, config)
    writer.close()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    size = _disk_usage(logdir)
    shutil.rmtree(logdir)
    return Measurement(seconds, cpu_seconds, result.test_accuracy, size, writer.seconds)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("FASHION_MNIST_DIR") or "data/fashion-mnist"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=None,
                        help="limit the training steps (default: all 15000 of an epoch)")
    parser.add_argument("--log-interval", type=int, default=1000)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (as the CLI)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; medians are reported")
    parser.add_argument("--writers", default="null,eventwriter,torch",
                        help="comma-separated subset of: " + ", ".join(WRITERS))
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args(argv)

    names = [name.strip() for name in args.writers.split(",")]
    unknown = set(names) - set(WRITERS)
    if unknown:
        parser.error(f"unknown writers: {', '.join(sorted(unknown))}")

    torch.set_num_threads(args.threads)
    data = load_fashion_mnist(args.data_dir, download=False)
    config = TrainConfig(epochs=args.epochs, max_steps=args.max_steps,
                         log_interval=args.log_interval, test_limit=args.test_limit,
                         seed=args.seed, progress=False)
    steps = min(args.epochs * -(-len(data.train_images) // config.batch_size),
                args.max_steps or sys.maxsize)
    print(f"Fashion-MNIST training benchmark: {steps} steps of batch {config.batch_size}, "
          f"log interval {config.log_interval}, test images "
          f"{config.test_limit or len(data.test_images)}, {args.repeat} round(s)")
    print(f"python {platform.python_version()}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")

    runs: dict[str, list[Measurement]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        scratch = Path(tmp)
        if not args.no_warmup:
            warmup = TrainConfig(max_steps=20, log_interval=10, test_limit=100, seed=args.seed,
                                 progress=False)
            for name in names:
                run_once(name, data, warmup, scratch)
        for round_index in range(args.repeat):
            order = names[round_index % len(names):] + names[:round_index % len(names)]
            for name in order:
                run = run_once(name, data, config, scratch)
                runs[name].append(run)
                print(f"  round {round_index + 1}: {name:<12} {run.seconds:8.2f} s wall "
                      f"{run.cpu_seconds:8.2f} s CPU", flush=True)

    def median(name: str, value: Callable[[Measurement], float]) -> float:
        return statistics.median(value(run) for run in runs[name])

    wall = {name: median(name, lambda run: run.seconds) for name in names}
    cpu = {name: median(name, lambda run: run.cpu_seconds) for name in names}
    inside = {name: median(name, lambda run: sum(run.methods.values())) for name in names}

    def relative(values: dict[str, float], name: str, base: str, percent: bool) -> str:
        if base not in values or name == base:
            return f"{'':>9}"
        ratio = values[name] / values[base]
        return f"{(ratio - 1) * 100:+8.1f}%" if percent else f"{ratio:8.3f}x"

    print()
    print("medians over the rounds; 'in writer' = wall time spent inside the writer's methods")
    print(f"{'writer':<12} {'wall s':>8} {'vs null':>9} {'vs torch':>9} {'CPU s':>8} "
          f"{'vs null':>9} {'in writer':>10} {'% of null':>9} {'logdir':>8} {'test acc':>9}")
    for name in names:
        share = (f"{inside[name] / wall['null'] * 100:8.1f}%" if "null" in wall else f"{'':>9}")
        print(f"{name:<12} {wall[name]:8.2f} {relative(wall, name, 'null', True)} "
              f"{relative(wall, name, 'torch', False)} {cpu[name]:8.2f} "
              f"{relative(cpu, name, 'null', True)} {inside[name]:10.3f} {share} "
              f"{runs[name][-1].size / 1e6:6.1f}MB {runs[name][-1].accuracy:9.4f}")

    print()
    print("median seconds inside each writer method (the calls' arguments are built outside):")
    used = sorted({method for name in names for run in runs[name] for method in run.methods})
    print(f"{'method':<16}" + "".join(f"{name:>13}" for name in names))
    for method in used:
        print(f"{method:<16}" + "".join(
            f"{median(name, lambda run: run.methods.get(method, 0.0)):13.3f}" for name in names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
