"""``eventwriter verify PATH...``: check every record of every event file; exit 1 on the first problem."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any, List, Mapping, Optional

from ..record import CorruptRecordError, RecordError
from .common import add_storage_options, fail, no_event_files, storage_options


NO_FILE_VERSION = (
    "no file_version record (written by old TensorFlow or a plain TFRecord writer); TensorBoard reads it, "
    "with the older purge rule (docs/FORMAT.md §1.3)"
)


def _verify_file(path: str, options: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """Why the file at ``path`` is damaged, or None when it is sound (a missing ``file_version``
    record is only warned about: TensorBoard reads such files)."""
    from ..reader import check_event, read_file_events

    count = 0
    try:
        for rec in read_file_events(path, strict=True, storage_options=options):
            if count == 0 and rec.event.WhichOneof("what") != "file_version":
                warnings.warn(f"{path}: {NO_FILE_VERSION}", stacklevel=1)
            reason = check_event(rec.event)
            if reason:
                return f"{path}: offset {rec.offset}: bad event: {reason}"
            count += 1
    except RecordError as exc:
        if count == 0 and exc.offset == 0 and isinstance(exc, CorruptRecordError):
            return f"{path}: offset 0: not an event file ({exc.kind}: {exc.message})"
        return f"{path}: offset {exc.offset}: {exc.kind}: {exc.message}"
    except OSError as exc:
        return f"{path}: cannot be read: {exc.strerror or exc}"
    if count == 0:
        return f"{path}: offset 0: empty file: no records"
    return None


def _cmd_verify(args: argparse.Namespace) -> int:
    from ..reader import event_files

    options = storage_options(args)
    paths: List[str] = []
    for target in args.paths:
        files = event_files(target, options)
        if not files:
            return fail(no_event_files(target))
        paths.extend(files)
    bad = 0
    for path in paths:
        problem = _verify_file(path, options)
        if problem:
            bad += 1
            sys.stdout.write(f"FAIL {problem}\n")
            if not args.all:
                return 1
        elif not args.quiet:
            sys.stdout.write(f"ok   {path}\n")
    return 1 if bad else 0


def register(sub: Any) -> None:
    """Add ``verify`` to the ``eventwriter`` parser."""
    p = sub.add_parser("verify", help="check every record of every event file; exit 1 on the first problem")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--all", action="store_true", help="report every bad file instead of stopping at the first")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    add_storage_options(p)
    p.set_defaults(func=_cmd_verify)
