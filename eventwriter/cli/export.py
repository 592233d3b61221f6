"""``eventwriter export LOGDIR -o FILE``: one kind of value of every run to Parquet/CSV/JSONL/Feather.

The progress bar goes to stderr (tqdm when installed, else a plain one), and only when stderr is
a terminal or ``--progress`` asks for it; the library itself never writes to a terminal.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Optional

KINDS = ("scalars", "histograms", "tensors", "text", "pr_curves", "images", "audio", "hparams")


class _PlainBar:
    """A minimal stderr progress bar for when tqdm is not installed."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.shown = max(total, 1), 0, -1

    def update(self, n: int) -> None:
        self.done += n
        percent = min(100, self.done * 100 // self.total)
        if percent != self.shown:
            self.shown = percent
            sys.stderr.write(f"\rreading {percent:3d}% ({self.done >> 20} of {self.total >> 20} MiB)")
            sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def _progress_bar(total: int) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainBar(total)
    return tqdm(total=total, unit="B", unit_scale=True, desc="reading", file=sys.stderr)


def _logdir_bytes(logdir: str) -> int:
    from ..logdir import event_files

    return sum(os.path.getsize(f) for f in event_files(logdir))  # a logdir, a run or one event file


def _table(args: argparse.Namespace, progress: Optional[Callable[[int], None]]) -> Any:
    from .. import frames

    if args.kind == "hparams":
        return frames.hparams(args.logdir, runs=args.runs, format="pandas")
    return frames.read(args.logdir, args.kind, runs=args.runs, tags=args.tags, format="pandas", progress=progress)


def cmd_export(args: argparse.Namespace) -> int:
    """``eventwriter export LOGDIR -o FILE``: every value of one kind to Parquet/CSV/JSONL/Feather."""
    from ..frames.export import FORMATS, write_table

    ext = os.path.splitext(args.output)[1].lower()
    if ext not in FORMATS:
        sys.stderr.write(f"eventwriter: -o must end in one of {', '.join(FORMATS)}, got {args.output!r}\n")
        return 2
    show = args.progress or (args.progress is None and sys.stderr.isatty())
    bar = _progress_bar(_logdir_bytes(args.logdir)) if show and args.kind != "hparams" else None
    try:
        frame = _table(args, bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    write_table(frame, args.output)
    sys.stderr.write(f"eventwriter: wrote {len(frame)} rows to {args.output}\n")
    return 0


def register(sub: Any) -> None:
    """Add ``export`` to the ``eventwriter`` parser."""
    p = sub.add_parser("export", help="write one kind of value (default scalars) to .parquet/.csv/.jsonl/.feather")
    p.add_argument("logdir")
    p.add_argument("-o", "--output", required=True, help="output file; its extension picks the format")
    p.add_argument("--kind", choices=KINDS, default="scalars")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="only these runs")
    p.add_argument("--tags", nargs="+", metavar="TAG", help="only these tags")
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar on stderr (default: when stderr is a terminal)"
    )
    p.set_defaults(func=cmd_export)
