"""The ``eventwriter`` command: inspect a logdir, dump or explain a file record by record, verify files.

Exit codes: 0 success; 1 a damaged or suspicious file (``verify``), unreadable input, or
(``verify``) no event files at all; 2 bad usage or a path that does not exist. ``inspect`` of a
directory without event files says so and exits 0. Entries named like event files that are not
regular files (FIFOs, dangling or looping links) are skipped with a message, never opened.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import sys
import warnings
from datetime import datetime, timezone
from typing import Any, List, Optional, Sequence

from .record import CorruptRecordError, RecordError, TruncatedRecordError


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


def _no_event_files(path: str) -> str:
    return f"no event files under {path} (no file name contains 'tfevents')"


def _fail(message: str, code: int = 1) -> int:
    sys.stderr.write(f"eventwriter: {message}\n")
    return code


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .reader import describe
    from .storage import storage_for

    runs = describe(args.logdir)
    if args.json and not runs:
        sys.stderr.write(f"eventwriter: {_no_event_files(args.logdir)}\n")
    if args.json:
        out = [
            {
                "run": r.name,
                "files": r.files,
                "writers": r.writers,
                "tags": {name: {k: _json_number(v) for k, v in vars(t).items()} for name, t in sorted(r.tags.items())},
                "problems": r.problems,
            }
            for r in runs
        ]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 1 if any(r.problems for r in runs) else 0
    if not runs:
        sys.stderr.write(f"eventwriter: {_no_event_files(args.logdir)}\n")
        return 0
    for run in runs:
        sys.stdout.write(f"run {run.name}\n")
        for path in run.files:
            sys.stdout.write(f"  file {path.rsplit('/', 1)[-1].rsplit(os.sep, 1)[-1]} ({storage_for(path).size(path)} bytes)\n")
        sys.stdout.write(f"  writer {', '.join(run.writers) or '-'}\n")
        for problem in run.problems:
            sys.stdout.write(f"  DAMAGED {problem} (TensorBoard stops reading this file there)\n")
        width = max([len(t) for t in run.tags] + [3])
        sys.stdout.write(f"  {'tag':<{width}}  {'plugin':<26} {'count':>7} {'steps':>15}  wall time (UTC)\n")
        for name, tag in sorted(run.tags.items()):
            steps = f"{tag.first_step}..{tag.last_step}"
            times = f"{_time(tag.first_wall_time)} .. {_time(tag.last_wall_time)}"
            sys.stdout.write(f"  {name:<{width}}  {tag.plugin:<26} {tag.count:>7} {steps:>15}  {times}\n")
    return 1 if any(r.problems for r in runs) else 0


def _jsonable(message: Any) -> Any:
    """The message as JSON-ready data: every field a reader expects (``step`` 0 included) and
    64-bit integers as numbers (protobuf's JSON mapping would quote them)."""
    from google.protobuf import json_format

    try:  # protobuf >= 5.26 renamed the option; 4.25 only knows the old name
        data = json_format.MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    except TypeError:
        data = json_format.MessageToDict(message, preserving_proto_field_name=True, including_default_value_fields=True)
    return _unquote_int64(message.DESCRIPTOR, data)


_INT64_TYPES = (3, 4, 6, 16, 18)  # FieldDescriptor.TYPE_INT64, UINT64, FIXED64, SFIXED64, SINT64


def _unquote_int64(descriptor: Any, data: Any) -> Any:
    for field in descriptor.fields:
        if field.name not in data:
            continue
        value = data[field.name]
        repeated = isinstance(value, list)
        items = value if repeated else [value]
        if field.message_type is not None and not field.message_type.GetOptions().map_entry:
            items = [_unquote_int64(field.message_type, item) if isinstance(item, dict) else item for item in items]
        elif field.type in _INT64_TYPES:
            items = [int(item) if isinstance(item, str) and item.lstrip("-").isdigit() else item for item in items]
        data[field.name] = items if repeated else items[0]
    return data


def _cmd_dump(args: argparse.Namespace) -> int:
    from .reader import read_file_events

    problem = 0
    try:
        for rec in read_file_events(args.file, strict=True):
            row = {"offset": rec.offset, "length": len(rec.payload), "event": _jsonable(rec.event)}
            if args.raw:
                row["payload_base64"] = base64.b64encode(rec.payload).decode("ascii")
            sys.stdout.write(json.dumps(row) + "\n")
    except TruncatedRecordError as exc:
        sys.stderr.write(f"eventwriter: {exc} (the file may still be being written)\n")
    except CorruptRecordError as exc:
        hint = " (not an event file?)" if exc.offset == 0 else ""
        problem = _fail(f"{exc}{hint}")
    return problem


def _verify_file(path: str) -> Optional[str]:
    from .reader import check_event, read_file_events

    count = 0
    try:
        for rec in read_file_events(path, strict=True):
            if count == 0 and rec.event.WhichOneof("what") != "file_version":
                return f"{path}: offset {rec.offset}: first record is not a file_version event"
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
    from .reader import event_files

    paths: List[str] = []
    for target in args.paths:
        files = event_files(target)
        if not files:
            return _fail(_no_event_files(target))
        paths.extend(files)
    bad = 0
    for path in paths:
        problem = _verify_file(path)
        if problem:
            bad += 1
            sys.stdout.write(f"FAIL {problem}\n")
            if not args.all:
                return 1
        elif not args.quiet:
            sys.stdout.write(f"ok   {path}\n")
    return 1 if bad else 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from .explain import explain
    from .storage import storage_for

    with storage_for(args.file).open_read(args.file) as stream:
        data = stream.read()
    try:
        result = explain(data, args.record)
    except ValueError as exc:
        return _fail(str(exc), 2)
    sys.stdout.write(result.text)
    return 1 if result.damaged else 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eventwriter`` command."""
    parser = argparse.ArgumentParser(prog="eventwriter", description="Inspect, dump and verify TensorBoard event files.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="runs, files, writers and every tag with its plugin, count, steps and times")
    p.add_argument("logdir")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_inspect)
    p = sub.add_parser("dump", help="one JSON object per record (offset, length, event)")
    p.add_argument("file")
    p.add_argument("--raw", action="store_true", help="also print each payload in base64")
    p.set_defaults(func=_cmd_dump)
    p = sub.add_parser("explain", help="annotated hex dump: framing, CRCs and every protobuf field of each record")
    p.add_argument("file")
    p.add_argument("--record", type=int, metavar="N", help="only record N (0 is the file_version record)")
    p.set_defaults(func=_cmd_explain)
    p = sub.add_parser("verify", help="check every record of every event file; exit 1 on the first problem")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--all", action="store_true", help="report every bad file instead of stopping at the first")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=_cmd_verify)
    from .run_maintenance import register

    register(sub)
    from .export import add_commands

    add_commands(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    from .storage import storage_for

    args = build_parser().parse_args(argv)
    targets = [getattr(args, attr, None) for attr in ("logdir", "file", "url")] + list(getattr(args, "paths", None) or [])
    for path in filter(None, targets):
        if storage_for(path).kind(path) == "missing":
            return _fail(f"no such file or directory: {path}", 2)
    if getattr(args, "file", None) is not None:
        kind = storage_for(args.file).kind(args.file)
        if kind == "dir":
            return _fail(f"{args.file} is a directory; dump takes one event file", 2)
        if kind == "other":  # opening a FIFO would block forever
            return _fail(f"{args.file}: not a regular file (a FIFO, socket, dangling or looping link); not read")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except CorruptRecordError as exc:
        hint = "this is not an event file" if exc.offset == 0 else "run 'eventwriter verify' for details"
        return _fail(f"{exc}; {hint}")
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except (NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        return _fail(str(exc), 2)
    except OSError as exc:  # a FIFO, a dangling or looping link given by name, an I/O error
        return _fail(str(exc))


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Warnings (skipped files, malformed values) as one plain line each, without source lines."""
    sys.stderr.write(f"eventwriter: warning: {message}\n")
