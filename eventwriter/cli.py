"""The ``eventwriter`` command: inspect a logdir, dump a file record by record, verify files.

Exit codes: 0 success; 1 a damaged or suspicious file (``verify``), or unreadable input;
2 bad usage or a path that does not exist.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, List, Optional, Sequence

from .record import CorruptRecordError, RecordError, TruncatedRecordError, read_records


def _time(wall_time: Optional[float]) -> str:
    if wall_time is None:
        return "-"
    return datetime.fromtimestamp(wall_time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _fail(message: str, code: int = 1) -> int:
    sys.stderr.write(f"eventwriter: {message}\n")
    return code


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .reader import describe

    runs = describe(args.logdir)
    if args.json:
        out = [
            {
                "run": r.name,
                "files": r.files,
                "writers": r.writers,
                "tags": {name: vars(t) for name, t in sorted(r.tags.items())},
                "problems": r.problems,
            }
            for r in runs
        ]
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
        return 1 if any(r.problems for r in runs) else 0
    if not runs:
        sys.stdout.write(f"{args.logdir}: no event files (no file name contains 'tfevents')\n")
        return 0
    for run in runs:
        sys.stdout.write(f"run {run.name}\n")
        for path in run.files:
            sys.stdout.write(f"  file {os.path.basename(path)} ({os.path.getsize(path)} bytes)\n")
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
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _cmd_dump(args: argparse.Namespace) -> int:
    from .reader import _parse

    problem = 0
    with open(args.file, "rb") as stream:
        try:
            for record in read_records(stream, args.file):
                event = _parse(record, args.file)
                row = {"offset": record.offset, "length": len(record.payload), "event": _jsonable(event)}
                if args.raw:
                    row["payload_base64"] = base64.b64encode(record.payload).decode("ascii")
                sys.stdout.write(json.dumps(row) + "\n")
        except TruncatedRecordError as exc:
            sys.stderr.write(f"eventwriter: {exc} (the file may still be being written)\n")
        except CorruptRecordError as exc:
            hint = " (not an event file?)" if exc.offset == 0 else ""
            problem = _fail(f"{exc}{hint}")
    return problem


def _verify_file(path: str) -> Optional[str]:
    from .reader import _parse, check_event

    count = 0
    with open(path, "rb") as stream:
        try:
            for record in read_records(stream, path):
                event = _parse(record, path)
                if count == 0 and event.WhichOneof("what") != "file_version":
                    return f"{path}: offset {record.offset}: first record is not a file_version event"
                reason = check_event(event)
                if reason:
                    return f"{path}: offset {record.offset}: bad event: {reason}"
                count += 1
        except RecordError as exc:
            return f"{path}: offset {exc.offset}: {exc.kind}: {exc.message}"
    if count == 0:
        return f"{path}: offset 0: empty file: no records"
    return None


def _cmd_verify(args: argparse.Namespace) -> int:
    from .reader import event_files

    paths: List[str] = []
    for target in args.paths:
        files = event_files(target)
        if not files:
            return _fail(f"{target}: no event files (no file name contains 'tfevents')")
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
    p = sub.add_parser("verify", help="check every record of every event file; exit 1 on the first problem")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--all", action="store_true", help="report every bad file instead of stopping at the first")
    p.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    p.set_defaults(func=_cmd_verify)
    from .export import add_commands

    add_commands(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    for attr in ("logdir", "file"):
        path = getattr(args, attr, None)
        if path is not None and not os.path.exists(path):
            return _fail(f"no such file or directory: {path}", 2)
    for path in getattr(args, "paths", None) or []:
        if not os.path.exists(path):
            return _fail(f"no such file or directory: {path}", 2)
    if getattr(args, "file", None) is not None and os.path.isdir(args.file):
        return _fail(f"{args.file} is a directory; dump takes one event file", 2)
    try:
        return int(args.func(args))
    except CorruptRecordError as exc:
        hint = "this is not an event file" if exc.offset == 0 else "run 'eventwriter verify' for details"
        return _fail(f"{exc}; {hint}")
    except (NotADirectoryError, IsADirectoryError, PermissionError) as exc:
        return _fail(str(exc), 2)
    except BrokenPipeError:  # e.g. piped into head
        return 0
