"""``eventwriter compact``, ``upload-pending`` and ``fetch-projector``: the maintenance of runs on object storage."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..maintenance import DEFAULT_MIN_AGE, compact, fetch_projector, upload_pending
from .common import add_storage_options, storage_options


def _cmd_compact(args: argparse.Namespace) -> int:
    try:
        result = compact(args.url, storage_options(args), min_age=args.min_age)
    except (ValueError, FileExistsError, RuntimeError) as exc:
        sys.stderr.write(f"eventwriter: {exc}\n")
        return 1
    sys.stdout.write(f"{result.merged}: {result.records} records from {len(result.removed)} files (removed)\n")
    return 0


def _cmd_upload_pending(args: argparse.Namespace) -> int:
    from ..storage.spill import spill_dirs

    dirs = list(args.dirs) or spill_dirs()
    if not dirs:
        sys.stdout.write("nothing pending\n")
        return 0
    failed = 0
    for spill_dir in dirs:
        try:
            sent = upload_pending(spill_dir, storage_options(args), force=args.force)
            sys.stdout.write(f"{spill_dir}: uploaded {sent} records\n")
        except RuntimeError as exc:
            sys.stderr.write(f"eventwriter: {exc}\n")
            failed += 1
    return 1 if failed else 0


def _cmd_fetch_projector(args: argparse.Namespace) -> int:
    try:
        paths = fetch_projector(args.url, args.destination, storage_options(args))
    except (ValueError, FileNotFoundError) as exc:
        sys.stderr.write(f"eventwriter: {exc}\n")
        return 1
    for path in paths:
        sys.stdout.write(path + "\n")
    sys.stdout.write(f"view with: tensorboard --logdir {args.destination}\n")
    return 0


def register(sub: Any) -> None:
    """Add ``compact``, ``upload-pending`` and ``fetch-projector`` to the ``eventwriter`` parser."""
    p = sub.add_parser("compact", help="merge a finished remote run's segments into one object, then delete them")
    p.add_argument("url")
    p.add_argument(
        "--min-age",
        type=float,
        default=DEFAULT_MIN_AGE,
        help="refuse a run whose newest event is younger than this many seconds (default %(default)g: it may be live)",
    )
    add_storage_options(p, legacy_short=True)  # -o KEY=VALUE: the deprecated spelling
    p.set_defaults(func=_cmd_compact)
    p = sub.add_parser("upload-pending", help="upload records a writer kept on local disk when the store failed")
    p.add_argument("dirs", nargs="*", metavar="DIR", help="spill directories (default: all under the pending root)")
    p.add_argument("--force", action="store_true", help="even if the writing process still runs on this host")
    add_storage_options(p, legacy_short=True)  # -o KEY=VALUE: the deprecated spelling
    p.set_defaults(func=_cmd_upload_pending)
    p = sub.add_parser("fetch-projector", help="copy a remote run's projector and event files to a local directory")
    p.add_argument("url")
    p.add_argument("destination")
    add_storage_options(p, legacy_short=True)  # -o KEY=VALUE: the deprecated spelling
    p.set_defaults(func=_cmd_fetch_projector)
