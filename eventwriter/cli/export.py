"""``eventwriter export LOGDIR -o FILE``: one kind of value of every run to Parquet/CSV/JSONL/Feather.

The progress bar goes to stderr (tqdm when installed, else a plain one), and only when stderr is
a terminal or ``--progress`` asks for it; the library itself never writes to a terminal. The
logdir and the output may be local paths or URLs: every file is reached through the storage seam.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional, Tuple

from .common import add_storage_options, fail, storage_options


def kinds() -> Tuple[str, ...]:
    """The kinds ``--kind`` accepts: the tables of :mod:`eventwriter.frames`, and ``hparams``."""
    from ..frames.kinds import KINDS

    return tuple(KINDS) + ("hparams",)


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


def _logdir_bytes(logdir: str, options: Any) -> int:
    # Sized through the storage seam: the logdir may be a URL (os.path.getsize would fail there),
    # a run, or one event file.
    from ..logdir import event_files
    from ..storage import storage_for

    return sum(storage_for(f, options).size(f) for f in event_files(logdir, options))


def _table(args: argparse.Namespace, options: Any, progress: Optional[Callable[[int], None]]) -> Any:
    from .. import frames

    if args.kind == "hparams":
        return frames.hparams(args.logdir, runs=args.runs, format="pandas", storage_options=options)
    return frames.read(args.logdir, args.kind, runs=args.runs, tags=args.tags, format="pandas", progress=progress, storage_options=options)


def cmd_export(args: argparse.Namespace) -> int:
    """``eventwriter export LOGDIR -o FILE``: every value of one kind to Parquet/CSV/JSONL/Feather."""
    from ..frames.export import FORMATS, format_of, write_table

    if format_of(args.output) is None:
        return fail(f"-o must end in one of {', '.join(FORMATS)}, got {args.output!r}", 2)
    if args.kind not in kinds():
        return fail(f"--kind must be one of {', '.join(kinds())}, got {args.kind!r}", 2)
    options = storage_options(args)
    show = args.progress or (args.progress is None and sys.stderr.isatty())
    bar = _progress_bar(_logdir_bytes(args.logdir, options)) if show and args.kind != "hparams" else None
    try:
        frame = _table(args, options, bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    write_table(frame, args.output, storage_options=options)
    sys.stderr.write(f"eventwriter: wrote {len(frame)} rows to {args.output}\n")
    return 0


def register(sub: Any) -> None:
    """Add ``export`` to the ``eventwriter`` parser."""
    p = sub.add_parser("export", help="write one kind of value (default scalars) to .parquet/.csv/.jsonl/.feather")
    p.add_argument("logdir")
    p.add_argument("-o", "--output", required=True, help="output file or URL; its extension picks the format")
    p.add_argument("--kind", default="scalars", metavar="KIND",
                   help="a table of eventwriter.frames (scalars, the default; histograms, tensors, ...) or hparams")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="only these runs")
    p.add_argument("--tags", nargs="+", metavar="TAG", help="only these tags")
    p.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar on stderr (default: when stderr is a terminal)"
    )
    add_storage_options(p)
    p.set_defaults(func=cmd_export)
