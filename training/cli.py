"""Command line: ``python -m training`` or ``train``.

Trains the tutorial's network on Fashion-MNIST and logs the run with
``eventwriter.SummaryWriter``. Re-running into a logdir that already holds files never mixes
runs: the new run goes to the first free sibling ``<logdir>_2``, ``<logdir>_3``, ... and the
program says so. ``--logdir`` may be any URL eventwriter logs to (``s3://bucket/runs/x``,
``gs://``, ``az://``, ...): the free name is then found by listing the store and claimed with the
store's exclusive create. The last line printed is the command that opens the run in TensorBoard.

Under ``torchrun --nproc_per_node N`` (``WORLD_SIZE`` > 1) the same command trains with
DistributedDataParallel: rank 0 picks the seed and the run directory (the rerun rule applies
once, to the job) and broadcasts them; rank 0 alone writes the run and prints. If another rank
dies, the survivors stop within the process-group timeout (``--dist-timeout``) with an error
naming their rank; torchrun itself stops the survivors as soon as one worker fails.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import socket
import time
import shlex
import signal
import sys
from dataclasses import replace
from pathlib import Path

import torch

from eventwriter.distributed import rank_zero_writer
from eventwriter.storage import is_url, storage_for

from .cluster import Cluster, cluster_requested, join_cluster
from .data import DataUnavailableError, FashionMNIST, load_fashion_mnist
from .loop import TrainConfig, train

__all__ = ["build_parser", "default_data_dir", "log_interval", "main", "new_run_dir", "resolve_device",
           "tensorboard_command"]

DEFAULT_LOGDIR = "runs/fashion_mnist_experiment_1"
DEFAULT_LOG_INTERVAL = 1000
CLAIM_NAME = ".training-run"
"""The object that claims a run prefix on an object store (stores have no exclusive mkdir)."""

# The dataset shipped beside the checkout (what scripts/train points $FASHION_MNIST_DIR at), so
# that `torchrun -m training` from a fresh clone finds it too.
SHARED_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "fashion-mnist"


def default_data_dir() -> Path:
    """``$FASHION_MNIST_DIR`` if set; else ``../shared/data/fashion-mnist`` beside the checkout if
    it exists; else ``./data/fashion-mnist`` (where missing files are downloaded)."""
    if os.environ.get("FASHION_MNIST_DIR"):
        return Path(os.environ["FASHION_MNIST_DIR"])
    return SHARED_DATA_DIR if SHARED_DATA_DIR.is_dir() else Path("data/fashion-mnist")


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
                        help="directory with the four IDX files, .gz or raw (default: "
                             "$FASHION_MNIST_DIR, else ../shared/data/fashion-mnist beside the "
                             "checkout, else ./data/fashion-mnist)")
    parser.add_argument("--no-download", action="store_true",
                        help="fail instead of downloading missing files through torchvision")
    parser.add_argument("--logdir", default=DEFAULT_LOGDIR,
                        help=f"run directory or URL such as s3://bucket/runs/x (default: "
                             f"{DEFAULT_LOGDIR}); if it already holds files, the first free "
                             "<logdir>_2, <logdir>_3, ... is used")
    parser.add_argument("--epochs", type=_positive_int, default=1, help="(default: 1)")
    parser.add_argument("--batch-size", type=_positive_int, default=4,
                        help="images per step and per process (default: 4); under torchrun "
                             "the effective batch is N times this")
    parser.add_argument("--lr", type=float, default=0.001,
                        help="SGD learning rate (default: 0.001)")
    parser.add_argument("--momentum", type=float, default=0.9,
                        help="SGD momentum (default: 0.9)")
    parser.add_argument("--log-interval", type=_positive_int, default=None,
                        help=f"log loss and the predictions figure every N steps (default: "
                             f"{DEFAULT_LOG_INTERVAL}, or a tenth of the run when that is shorter)")
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


def new_run_dir(logdir: str | os.PathLike[str]) -> str:
    """Create (or claim) and return a fresh, empty run directory for ``logdir``.

    ``logdir`` itself is used when it does not exist or is empty. Otherwise the first
    ``<logdir>_<n>`` (n = 2, 3, ...) that can be taken is used. Taking is exclusive, so two runs
    started at once never share a directory: ``mkdir`` on a local disk; on an object store (a
    URL), an exclusive create of a small ``.training-run`` object under a prefix that holds
    nothing yet (TensorBoard ignores it).
    """
    text = os.fspath(logdir)
    if is_url(text):
        return _claim_remote_run(text.rstrip("/"))
    base = Path(text)
    candidate, n = base, 1
    while True:
        try:
            candidate.mkdir(parents=True)
            return str(candidate)
        except FileExistsError:
            if candidate.is_dir() and not any(candidate.iterdir()):
                return str(candidate)  # an empty directory holds no run to mix with
        n += 1
        candidate = base.with_name(f"{base.name}_{n}")


class _Taken(Exception):
    """Another run claimed the prefix first."""


def _claim_remote_run(url: str) -> str:
    storage = storage_for(url)
    claim = f"{socket.gethostname()} {os.getpid()} {time.time():.3f}\n".encode()

    def take(old: bytes | None) -> bytes:
        if old is not None:
            raise _Taken()
        return claim

    candidate, n = url, 1
    while True:
        if not storage.list_names(candidate):
            try:  # compare-and-swap from "absent": exactly one of two racing runs wins
                storage.update_atomic(storage.join(candidate, CLAIM_NAME), take, timeout=30.0)
                return candidate
            except _Taken:
                pass
        n += 1
        candidate = f"{url}_{n}"


def tensorboard_command(logdir: str) -> str:
    """The command that opens ``logdir`` in TensorBoard (an S3 endpoint other than AWS's is passed
    on as ``S3_ENDPOINT``, the variable TensorBoard's S3 reader uses)."""
    if not is_url(logdir):
        return f"tensorboard --logdir {shlex.quote(str(Path(logdir).resolve()))}"
    command = f"tensorboard --logdir {shlex.quote(logdir)}"
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if logdir.startswith(("s3://", "s3a://")) and endpoint and not os.environ.get("S3_ENDPOINT"):
        command = f"S3_ENDPOINT={shlex.quote(endpoint)} {command}"
    return command


def log_interval(args: argparse.Namespace, train_images: int, world_size: int) -> tuple[int, str]:
    """The log interval to use, and a warning when the run is too short to log a training curve.

    Without ``--log-interval``, a run shorter than ten intervals of 1000 steps logs every tenth
    of its steps instead, so a quick ``--max-steps 300`` run still draws ``training loss``.
    """
    per_rank = math.ceil(train_images / world_size)
    steps = args.epochs * math.ceil(per_rank / args.batch_size)
    if args.max_steps is not None:
        steps = min(steps, args.max_steps)
    if args.log_interval is None:
        return max(1, min(DEFAULT_LOG_INTERVAL, steps // 10)), ""
    if args.log_interval > steps:
        return args.log_interval, (
            f"warning: --log-interval {args.log_interval} is more than the {steps} steps of this "
            "run: 'training loss', 'learning rate' and 'predictions vs. actuals' get no points "
            "(leave --log-interval out to log every tenth of the run)")
    return args.log_interval, ""


class _Terminated(BaseException):
    """SIGTERM arrived (torchrun stops the surviving workers this way when one fails)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if not is_url(args.logdir) and os.path.exists(args.logdir) and not os.path.isdir(args.logdir):
        print(f"error: --logdir {args.logdir} is a file, not a directory", file=sys.stderr)  # e.g. README.md
        return 2
    try:
        device = resolve_device(args.device)
        config = TrainConfig(  # checked now; the seed and device are settled in _run
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            momentum=args.momentum, log_interval=args.log_interval or DEFAULT_LOG_INTERVAL,
            max_steps=args.max_steps,
            test_limit=args.test_limit, device=device,
            num_workers=args.num_workers, progress=not args.no_progress,
        )
        if args.dist_timeout <= 0:
            raise ValueError(f"--dist-timeout must be > 0, got {args.dist_timeout}")
        data = load_fashion_mnist(args.data_dir or default_data_dir(),
                                  download=not args.no_download)
    except (ValueError, DataUnavailableError) as exc:
        # Under torchrun every process meets the same problem: one message per machine is enough.
        if os.environ.get("LOCAL_RANK", "0") == "0":
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
    logdir: str | None = None
    problem = ""
    if main_rank:
        try:
            logdir = new_run_dir(args.logdir)
        except (OSError, ImportError, TimeoutError) as exc:  # ImportError: no fsspec for a URL
            problem = f"cannot create the run directory: {exc}"
    if cluster is not None:  # rank 0 decides; the others learn its seed and run directory
        seed, logdir, problem = cluster.broadcast((seed, logdir, problem))
    if logdir is None:
        print(f"error: {where}{problem}", file=sys.stderr)
        return 2
    interval, warning = log_interval(args, len(data.train_images), 1 if cluster is None else cluster.world_size)
    config = replace(config, seed=seed, log_interval=interval)

    if main_rank:
        if warning:
            print(warning, file=sys.stderr)
        if logdir.rstrip("/") != args.logdir.rstrip("/") and os.path.normpath(logdir) != os.path.normpath(args.logdir):
            print(f"{args.logdir} already holds a run; logging this one to {logdir}",
                  file=sys.stderr)
        ranks = "" if cluster is None else (
            f"; {cluster.world_size} processes, effective batch "
            f"{cluster.world_size * args.batch_size}")
        print(f"Fashion-MNIST from {data.source}: {len(data.train_images)} training and "
              f"{len(data.test_images)} test images; device {config.device}, seed {seed}, "
              f"logging every {interval} steps{ranks}",
              file=sys.stderr)

    torch.set_num_threads(args.threads)
    writer = rank_zero_writer(logdir, rank=0 if cluster is None else cluster.rank)
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
    print(tensorboard_command(logdir))
    return 0
