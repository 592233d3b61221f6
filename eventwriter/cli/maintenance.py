"""``eventwriter compact``, ``upload-pending`` and ``fetch-projector``: the maintenance of runs on object storage."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..maintenance import DEFAULT_LOCK_WAIT, DEFAULT_MIN_AGE, LocalRunError, compact, fetch_projector, upload_pending

from .common import add_storage_options, storage_options


def _cmd_compact(args: argparse.Namespace) -> int:
    try:
        result = compact(args.url, storage_options(args), min_age=args.min_age, wait=args.wait)
    except LocalRunError as exc:
        sys.stderr.write(f"eventwriter: {exc}\n")
        return 2
    except ImportError:
        raise  # a missing store package: main() names the extra to install
    except Exception as exc:  # a damaged record, a live run, the lock, the store: one line each
        sys.stderr.write(f"eventwriter: {exc}\n" if isinstance(exc, (OSError, ValueError, RuntimeError)) else
                         f"eventwriter: {args.url}: {type(exc).__name__}: {exc}\n")
        return 1
    if result.finished:
        sys.stdout.write(f"finished an interrupted compaction: removed {len(result.finished)} files already merged\n")
    if result.merged and len(result.removed) > len(result.finished):
        merged = len(result.removed) - len(result.finished)
        sys.stdout.write(f"{result.merged}: {result.records} records from {merged} files (removed)\n")
    elif not result.finished:
        sys.stdout.write(f"{args.url}: nothing to compact\n")
    return 0


def _cmd_upload_pending(args: argparse.Namespace) -> int:
    import os

    from ..storage.spill import spill_dirs

    given = list(args.dirs)
    dirs = given or spill_dirs()
    if not dirs:
        sys.stdout.write("nothing pending\n")
        return 0
    failed = 0
    for spill_dir in dirs:
        if given and not os.path.isdir(spill_dir):
            sys.stderr.write(f"eventwriter: {spill_dir}: no such spill directory (nothing to upload, or already uploaded)\n")
            continue
        try:
            sent = upload_pending(spill_dir, storage_options(args), wait=args.wait)
            sys.stdout.write(f"{spill_dir}: uploaded {sent} records\n")
        except ImportError:
            raise  # a missing store package: main() names the extra to install
        except Exception as exc:  # report this directory, go on with the others
            sys.stderr.write(f"eventwriter: {spill_dir}: {type(exc).__name__}: {exc}\n")
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
    wait_help = "wait at most this many seconds for another run holding the lock (default %(default)g)"
    p.add_argument("--wait", type=float, default=DEFAULT_LOCK_WAIT, help=wait_help)
    add_storage_options(p, legacy_short=True)  # -o KEY=VALUE: the deprecated spelling
    p.set_defaults(func=_cmd_compact)
    p = sub.add_parser("upload-pending", help="upload records a writer kept on local disk when the store failed")
    p.add_argument("dirs", nargs="*", metavar="DIR", help="spill directories (default: all under the pending root)")
    p.add_argument("--wait", type=float, default=DEFAULT_LOCK_WAIT, help=wait_help)
    p.add_argument(
        "--force", action="store_true",
        help="accepted for compatibility: a directory's lock now tells whether its writer still runs",
    )
    add_storage_options(p, legacy_short=True)  # -o KEY=VALUE: the deprecated spelling
    p.set_defaults(func=_cmd_upload_pending)
    p = sub.add_parser("fetch-projector", help="copy a remote run's projector and event files to a local directory")
    p.add_argument("url")
    p.add_argument("destination")
    add_storage_options(p, legacy_short=True)  # -o KEY=VALUE: the deprecated spelling
    p.set_defaults(func=_cmd_fetch_projector)
