"""The ``eventwriter`` command: inspect a logdir, dump or explain a file record by record, verify files.

Exit codes: 0 success; 1 a damaged or suspicious file (``verify``), unreadable input, or
(``verify``) no event files at all; 2 bad usage or a path that does not exist. ``inspect`` of a
directory without event files says so and exits 0. Entries named like event files that are not
regular files (FIFOs, dangling or looping links) are skipped with a message, never opened.
"""

from __future__ import annotations

import argparse
import importlib
import warnings
from typing import List, Optional, Sequence

from ..record import CorruptRecordError
from .common import fail, missing_dependency, show_warning, storage_options

COMMANDS = ("inspect", "dump", "explain", "verify", "export", "plot", "maintenance")
"""Modules of this package that add commands: each has ``register(subparsers)``, and each command's
parser sets ``func`` to the function that runs it and returns the exit code."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eventwriter`` command."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="eventwriter", description="Inspect, verify, explain, export and maintain TensorBoard event files and logdirs."
    )
    parser.add_argument("--version", action="version", version=f"eventwriter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    named = [getattr(args, attr, None) for attr in ("logdir", "file", "url")] + list(getattr(args, "paths", None) or [])
    targets: List[str] = [t for t in named if t]
    try:
        return _run(args, targets)
    except ImportError as exc:  # an optional package (pandas, matplotlib, s3fs, ...) is missing
        message = missing_dependency(exc, args.command, targets)
        if message is None:
            raise
        return fail(message, 2)


def _run(args: argparse.Namespace, targets: List[str]) -> int:
    from ..storage import storage_for

    options = storage_options(args)
    for path in targets:
        if storage_for(path, options).kind(path) == "missing":
            return fail(f"no such file or directory: {path}", 2)
    if getattr(args, "file", None) is not None:
        kind = storage_for(args.file, options).kind(args.file)
        if kind == "dir":
            return fail(f"{args.file} is a directory; {args.command} takes one event file", 2)
        if kind == "other":  # opening a FIFO would block forever
            return fail(f"{args.file}: not a regular file (a FIFO, socket, dangling or looping link); not read")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = show_warning
            return int(args.func(args))
    except CorruptRecordError as exc:
        hint = "this is not an event file" if exc.offset == 0 else "run 'eventwriter verify' for details"
        return fail(f"{exc}; {hint}")
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except (NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        return fail(str(exc), 2)
    except OSError as exc:  # a FIFO, a dangling or looping link given by name, an I/O error
        return fail(str(exc))
