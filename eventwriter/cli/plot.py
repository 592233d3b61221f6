"""``eventwriter plot LOGDIR --tag TAG -o FILE``: one scalar tag of every run drawn to an image (matplotlib)."""

from __future__ import annotations

import argparse
import io
import os
import sys
from typing import Any

from .common import add_storage_options, fail, storage_options


def run_label(logdir: str, run: str) -> str:
    """The legend label of ``run``: its name, and the logdir's own name for the logdir itself (``.``)."""
    if run != ".":
        return run
    path = logdir.split("://", 1)[-1].rstrip("/\\")
    name = os.path.basename(os.path.abspath(path)) if "://" not in logdir else path.rsplit("/", 1)[-1]
    return name or logdir


def cmd_plot(args: argparse.Namespace) -> int:
    """``eventwriter plot LOGDIR --tag TAG -o FILE``: the tag's scalar curve of every run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .. import frames
    from ..storage import storage_for

    from matplotlib.backend_bases import FigureCanvasBase

    extension = os.path.splitext(args.output)[1].lstrip(".").lower() or "png"
    supported = FigureCanvasBase.get_supported_filetypes()
    if extension not in supported:
        return fail(f"-o must end in an image format matplotlib writes ({', '.join(sorted(supported))}), got {args.output!r}", 2)
    options = storage_options(args)
    frame = frames.scalars(args.logdir, runs=args.runs, tags=args.tag, storage_options=options)
    if not len(frame):
        every = frames.scalars(args.logdir, runs=args.runs, storage_options=options)
        tags = sorted(str(t) for t in every["tag"].unique())
        known = f"scalar tags there: {', '.join(repr(t) for t in tags)}" if tags else "it holds no scalars"
        return fail(f"no scalars with tag {args.tag!r} under {args.logdir}; {known}")
    figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
    try:
        for run, rows in frame.groupby("run", observed=True, sort=False):
            axes.plot(rows["step"].to_numpy(), rows["value"].to_numpy(), label=run_label(args.logdir, str(run)), linewidth=1.2)
        axes.set_xlabel("step")
        axes.set_ylabel(args.tag)
        axes.set_title(args.tag)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
        figure.tight_layout()
        image = io.BytesIO()
        figure.savefig(image, format=extension)
    finally:
        plt.close(figure)
    # Through the storage seam, so the image may go to a URL too.
    storage_for(args.output, options).write_atomic(args.output, [image.getvalue()])
    sys.stderr.write(f"eventwriter: plotted {frame['run'].nunique()} run(s) to {args.output}\n")
    return 0


def register(sub: Any) -> None:
    """Add ``plot`` to the ``eventwriter`` parser."""
    p = sub.add_parser("plot", help="draw one scalar tag of every run to an image (matplotlib)")
    p.add_argument("logdir")
    p.add_argument("--tag", required=True)
    p.add_argument("-o", "--output", required=True, help="image file or URL (.png, .svg, .pdf)")
    p.add_argument("--runs", nargs="+", metavar="RUN", help="only these runs")
    add_storage_options(p)
    p.set_defaults(func=cmd_plot)
