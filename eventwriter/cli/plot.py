"""``eventwriter plot LOGDIR --tag TAG -o FILE``: one scalar tag of every run drawn to an image (matplotlib)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_plot(args: argparse.Namespace) -> int:
    """``eventwriter plot LOGDIR --tag TAG -o FILE``: the tag's scalar curve of every run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import frames

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


def register(sub: Any) -> None:
    """Add ``plot`` to the ``eventwriter`` parser."""
    p = sub.add_parser("plot", help="draw one scalar tag of every run to an image (matplotlib)")
    p.add_argument("logdir")
    p.add_argument("--tag", required=True)
    p.add_argument("-o", "--output", required=True, help="image file (.png, .svg, .pdf)")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="only these runs")
    p.set_defaults(func=cmd_plot)
