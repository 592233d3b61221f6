"""``eventwriter inspect LOGDIR``: runs, files, writers and every tag with its plugin, count, steps and times."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import datetime, timezone
from typing import Any, Optional

from .common import add_storage_options, no_event_files, storage_options


def _time(wall_time: Optional[float]) -> str:
    if wall_time is None:
        return "-"
    try:
        return datetime.fromtimestamp(wall_time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError, OSError):  # NaN, inf, 1e20: a wall time no calendar holds
        return f"{wall_time!r} (not a date)"


def _json_number(value: Any) -> Any:
    """NaN and infinities as strings: JSON has no literal for them (json.dumps would emit ``NaN``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    return value


_TAG_FIELDS = ("plugin", "count", "records", "first_step", "last_step", "first_wall_time", "last_wall_time")
UNNAMED = "not named in the file (tensorboardX, older TensorFlow and plain TFRecord writers leave it out)"


def _tag_json(tag: Any) -> Any:
    return {name: _json_number(getattr(tag, name)) for name in _TAG_FIELDS}


def _writers(run: Any) -> str:
    names = list(run.writers)
    if run.unnamed_files:
        files = f"{run.unnamed_files} file{'s' if run.unnamed_files > 1 else ''}"
        names.append(UNNAMED if not run.writers else f"{files} {UNNAMED}")
    return ", ".join(names) or "-"


def _cmd_inspect(args: argparse.Namespace) -> int:
    from ..reader import describe
    from ..storage import storage_for

    options = storage_options(args)
    runs = describe(args.logdir, options)
    if args.json and not runs:
        sys.stderr.write(f"eventwriter: {no_event_files(args.logdir)}\n")
    if args.json:
        out = [
            {
                "run": r.name,
                "files": r.files,
                "writers": r.writers,
                "unnamed_writer_files": r.unnamed_files,
                "tags": {name: _tag_json(t) for name, t in sorted(r.tags.items())},
                "problems": r.problems,
            }
            for r in runs
        ]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 1 if any(r.problems for r in runs) else 0
    if not runs:
        sys.stderr.write(f"eventwriter: {no_event_files(args.logdir)}\n")
        return 0
    for run in runs:
        sys.stdout.write(f"run {run.name}\n")
        for path in run.files:
            sys.stdout.write(f"  file {path.rsplit('/', 1)[-1].rsplit(os.sep, 1)[-1]} ({storage_for(path, options).size(path)} bytes)\n")
        sys.stdout.write(f"  writer {_writers(run)}\n")
        for problem in run.problems:
            sys.stdout.write(f"  DAMAGED {problem} (TensorBoard stops reading this file there)\n")
        width = max([len(t) for t in run.tags] + [3])
        sys.stdout.write(f"  {'tag':<{width}}  {'plugin':<26} {'shown':>7} {'records':>7} {'steps':>15}  wall time (UTC)\n")
        for name, tag in sorted(run.tags.items()):
            steps = f"{tag.first_step}..{tag.last_step}"
            times = f"{_time(tag.first_wall_time)} .. {_time(tag.last_wall_time)}"
            sys.stdout.write(f"  {name:<{width}}  {tag.plugin:<26} {tag.count:>7} {tag.records:>7} {steps:>15}  {times}\n")
        if any(tag.count != tag.records for tag in run.tags.values()):
            sys.stdout.write(
                "  (shown: the values TensorBoard keeps; a tag logged again at an earlier step, as after a restart or\n"
                "   purge_step, replaces that step and the later ones: docs/FORMAT.md §5.6)\n"
            )
    return 1 if any(r.problems for r in runs) else 0


def register(sub: Any) -> None:
    """Add ``inspect`` to the ``eventwriter`` parser."""
    p = sub.add_parser("inspect", help="runs, files, writers and every tag with its plugin, count, steps and times")
    p.add_argument("logdir")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_storage_options(p)
    p.set_defaults(func=_cmd_inspect)
