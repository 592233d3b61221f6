"""The ``export`` and ``plot`` commands: a logdir's values to a file, or scalar curves to an image.

Only :mod:`eventwriter.cli` calls this module; the library itself never writes to a terminal. The
progress bar goes to stderr (tqdm when installed, else a plain one), and only when stderr is a
terminal or ``--progress`` asks for it.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Optional

FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".feather": "feather"}
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
    from .reader import run_files

    return sum(os.path.getsize(f) for files in run_files(logdir).values() for f in files)


def _table(args: argparse.Namespace, progress: Optional[Callable[[int], None]]) -> Any:
    from . import frames

    if args.kind == "hparams":
        return frames.hparams(args.logdir, runs=args.runs, format="pandas")
    return frames.read(args.logdir, args.kind, runs=args.runs, tags=args.tags, format="pandas", progress=progress)


def _jsonable_frame(frame: Any) -> Any:
    """Columns that CSV/JSON cannot hold (numpy arrays, bytes) as lists and base64 text."""
    import base64

    import numpy as np

    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = [
                v.tolist() if isinstance(v, np.ndarray) else base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for v in out[name]
            ]
    return out


def write_table(frame: Any, output: str) -> None:
    """Write a pandas DataFrame to ``output`` in the format its extension names."""
    kind = FORMATS[os.path.splitext(output)[1].lower()]
    if kind in ("parquet", "feather"):
        import pyarrow as pa

        frame = (
            _jsonable_frame(frame)
            if any(frame[c].dtype == object and len(frame) and hasattr(frame[c].iloc[0], "dtype") for c in frame.columns)
            else frame
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if kind == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, output)
        else:
            import pyarrow.feather as feather

            feather.write_feather(table, output)
    elif kind == "csv":
        import json

        flat = _jsonable_frame(frame)
        for name in flat.columns:
            if flat[name].dtype == object and any(isinstance(v, list) for v in flat[name]):
                flat[name] = [json.dumps(v) if isinstance(v, list) else v for v in flat[name]]
        flat.to_csv(output, index=False)
    else:
        import json

        import numpy as np

        # json's float repr round-trips exactly (pandas' to_json keeps only 10 digits by default).
        flat = _jsonable_frame(frame)
        columns = list(flat.columns)
        values = [flat[c].astype(object).tolist() if flat[c].dtype != object else flat[c].tolist() for c in columns]
        with open(output, "w", encoding="utf-8") as out:
            for row in zip(*values):
                out.write(json.dumps({c: (v.item() if isinstance(v, np.generic) else v) for c, v in zip(columns, row)}) + "\n")


def cmd_export(args: argparse.Namespace) -> int:
    """``eventwriter export LOGDIR -o FILE``: every value of one kind to Parquet/CSV/JSONL/Feather."""
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


def cmd_plot(args: argparse.Namespace) -> int:
    """``eventwriter plot LOGDIR --tag TAG -o FILE``: the tag's scalar curve of every run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import frames

    frame = frames.scalars(args.logdir, runs=args.runs, tags=args.tag)
    if not len(frame):
        sys.stderr.write(f"eventwriter: no scalars with tag {args.tag!r} under {args.logdir}\n")
        return 1
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for run, rows in frame.groupby("run", observed=True, sort=False):
            axes.plot(rows["step"].to_numpy(), rows["value"].to_numpy(), label=str(run), linewidth=1.2)
        axes.set_xlabel("step")
        axes.set_ylabel(args.tag)
        axes.set_title(args.tag)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        figure.savefig(args.output)
    finally:
        plt.close(figure)
    sys.stderr.write(f"eventwriter: plotted {frame['run'].nunique()} run(s) to {args.output}\n")
    return 0


def add_commands(sub: Any) -> None:
    """Register ``export`` and ``plot`` on the ``eventwriter`` command's subparsers."""
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
    p = sub.add_parser("plot", help="draw one scalar tag of every run to an image (matplotlib)")
    p.add_argument("logdir")
    p.add_argument("--tag", required=True)
    p.add_argument("-o", "--output", required=True, help="image file (.png, .svg, .pdf)")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="only these runs")
    p.set_defaults(func=cmd_plot)
