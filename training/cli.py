"""Command line: ``python -m training`` or ``train``.

Trains the tutorial's network on Fashion-MNIST and logs the run with
``eventwriter.SummaryWriter``. Re-running into a logdir that already holds files never mixes
runs: the new run goes to the first free sibling ``<logdir>_2``, ``<logdir>_3``, ... and the
program says so. The last line printed is the command that opens the run in TensorBoard.

Under ``torchrun --nproc_per_node N`` (``WORLD_SIZE`` > 1) the same command trains with
DistributedDataParallel: rank 0 picks the seed and the run directory (the rerun rule applies
once, to the job) and broadcasts them; rank 0 alone writes the run and prints. If another rank
dies, the survivors stop within the process-group timeout (``--dist-timeout``) with an error
naming their rank; torchrun itself stops the survivors as soon as one worker fails.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import sys
from dataclasses import replace
from pathlib import Path

import torch

from eventwriter.distributed import rank_zero_writer

from .cluster import Cluster, cluster_requested, join_cluster
from .data import DataUnavailableError, FashionMNIST, load_fashion_mnist
from .loop import TrainConfig, train

__all__ = ["build_parser", "default_data_dir", "main", "new_run_dir", "resolve_device"]

DEFAULT_LOGDIR = "runs/fashion_mnist_experiment_1"


def default_data_dir() -> Path:
    """``$FASHION_MNIST_DIR`` if set, else ``./data/fashion-mnist``."""
    return Path(os.environ.get("FASHION_MNIST_DIR") or "data/fashion-mnist")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (defaults = the tutorial's settings)."""
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train the PyTorch TensorBoard tutorial's CNN on Fashion-MNIST, "
                    "logging through eventwriter.",
    )
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="directory with the four IDX files, .gz or raw "
                             "(default: $FASHION_MNIST_DIR, else ./data/fashion-mnist)")
    parser.add_argument("--no-download", action="store_true",
                        help="fail instead of downloading missing files through torchvision")
    parser.add_argument("--logdir", type=Path, default=Path(DEFAULT_LOGDIR),
                        help=f"run directory (default: {DEFAULT_LOGDIR}); if it already holds "
                             "files, the first free <logdir>_2, <logdir>_3, ... is used")
    parser.add_argument("--epochs", type=_positive_int, default=1, help="(default: 1)")
    parser.add_argument("--batch-size", type=_positive_int, default=4,
                        help="images per step and per process (default: 4); under torchrun "
                             "the effective batch is N times this")
    parser.add_argument("--lr", type=float, default=0.001,
                        help="SGD learning rate (default: 0.001)")
    parser.add_argument("--momentum", type=float, default=0.9,
                        help="SGD momentum (default: 0.9)")
    parser.add_argument("--log-interval", type=_positive_int, default=1000,
                        help="log loss and the predictions figure every N steps (default: 1000)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto",
                        help="auto (default) = cuda when available, else cpu")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed (default: a fresh one, printed and logged)")
    parser.add_argument("--max-steps", type=_positive_int, default=None,
                        help="stop after N training steps (quick runs)")
    parser.add_argument("--test-limit", type=_positive_int, default=None,
                        help="evaluate on the first N test images only (quick runs)")
    parser.add_argument("--num-workers", type=int, default=0,
                        help="DataLoader worker processes (default: 0, data is in memory)")
    parser.add_argument("--threads", type=_positive_int, default=1,
                        help="torch CPU threads (default: 1; with the tutorial's batches of 4, "
                             "splitting each small kernel over cores costs more than it saves)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--save-model", type=Path, default=None, metavar="PATH",
                        help="save the trained weights (state_dict) to PATH with torch.save")
    parser.add_argument("--dist-timeout", type=float, default=180.0, metavar="SECONDS",
                        help="under torchrun: how long a rank waits for the others before "
                             "giving up (default: 180)")
    return parser


def resolve_device(choice: str) -> str:
    """Map ``auto``/``cpu``/``cuda`` to a usable device name.

    Raises:
        ValueError: ``cuda`` was asked for but is not available.
    """
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available (use --device cpu)")
    return choice


def new_run_dir(logdir: Path) -> Path:
    """Create and return a fresh, empty run directory for ``logdir``.

    ``logdir`` itself is used when it does not exist or is empty. Otherwise the first
    ``<logdir>_<n>`` (n = 2, 3, ...) that can be created is used. Creation is exclusive, so two
    runs started at once never share a directory.
    """
    candidate, n = logdir, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return candidate
        except FileExistsError:
            if candidate.is_dir() and not any(candidate.iterdir()):
                return candidate  # an empty directory holds no run to mix with
        n += 1
        candidate = logdir.with_name(f"{logdir.name}_{n}")


class _Terminated(BaseException):
    """SIGTERM arrived (torchrun stops the surviving workers this way when one fails)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.logdir.exists() and not args.logdir.is_dir():  # e.g. --logdir README.md
        print(f"error: --logdir {args.logdir} is a file, not a directory", file=sys.stderr)
        return 2
    try:
        device = resolve_device(args.device)
        config = TrainConfig(  # checked now; the seed and device are settled in _run
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            momentum=args.momentum, log_interval=args.log_interval, max_steps=args.max_steps,
            test_limit=args.test_limit, device=device,
            num_workers=args.num_workers, progress=not args.no_progress,
        )
        if args.dist_timeout <= 0:
            raise ValueError(f"--dist-timeout must be > 0, got {args.dist_timeout}")
        data = load_fashion_mnist(args.data_dir or default_data_dir(),
                                  download=not args.no_download)
    except (ValueError, DataUnavailableError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not cluster_requested():
        return _run(args, data, config, None)

    try:
        cluster = join_cluster(device, args.dist_timeout)
    except (ValueError, RuntimeError) as exc:
        print(f"error: cannot join the torchrun job: {exc}", file=sys.stderr)
        return 2
    # Turn torchrun's SIGTERM into an exception, so the writer is closed on the way out.
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(args, data, replace(config, device=cluster.device), cluster)
    except _Terminated:
        print(f"rank {cluster.rank}: stopped by SIGTERM (torchrun stops every worker when one "
              "fails)", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)
        cluster.leave()


def _run(args: argparse.Namespace, data: FashionMNIST, config: TrainConfig,
         cluster: Cluster | None) -> int:
    """Train and log; ``cluster`` is None for a single process."""
    main_rank = cluster is None or cluster.is_main
    where = "" if cluster is None else f"rank {cluster.rank}: "
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    logdir: Path | None = None
    problem = ""
    if main_rank:
        try:
            logdir = new_run_dir(args.logdir)
        except OSError as exc:
            problem = f"cannot create the run directory: {exc}"
    if cluster is not None:  # rank 0 decides; the others learn its seed and run directory
        seed, logdir, problem = cluster.broadcast((seed, logdir, problem))
    if logdir is None:
        print(f"error: {where}{problem}", file=sys.stderr)
        return 2
    config = replace(config, seed=seed)

    if main_rank:
        if logdir != args.logdir:
            print(f"{args.logdir} already holds a run; logging this one to {logdir}",
                  file=sys.stderr)
        ranks = "" if cluster is None else (
            f"; {cluster.world_size} processes, effective batch "
            f"{cluster.world_size * args.batch_size}")
        print(f"Fashion-MNIST from {data.source}: {len(data.train_images)} training and "
              f"{len(data.test_images)} test images; device {config.device}, seed {seed}{ranks}",
              file=sys.stderr)

    torch.set_num_threads(args.threads)
    writer = rank_zero_writer(str(logdir), rank=0 if cluster is None else cluster.rank)
    try:
        result = train(writer, data, config, cluster)
    except KeyboardInterrupt:
        print(f"{where}interrupted; what was logged so far is in {logdir}", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        if cluster is None:
            raise
        # A collective failed: another rank died, or did not answer within --dist-timeout.
        print(f"error: {where}training stopped because another process failed or timed out "
              f"({exc}); what rank 0 logged so far is in {logdir}", file=sys.stderr)
        return 1
    finally:
        writer.close()

    if not main_rank:
        return 0
    if args.save_model is not None:
        args.save_model.parent.mkdir(parents=True, exist_ok=True)
        torch.save(result.model.state_dict(), args.save_model)
    print(f"test accuracy {result.test_accuracy:.4f} after {result.steps} steps "
          f"({result.seconds:.1f} s, {result.images_per_second:.0f} images/s)")
    print(f"tensorboard --logdir {shlex.quote(str(logdir.resolve()))}")
    return 0
