"""``eventwriter explain FILE``: annotated hex dump: framing, CRCs and every protobuf field of each record."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import add_storage_options, fail, storage_options


def _cmd_explain(args: argparse.Namespace) -> int:
    from ..reader.explanation import explain
    from ..storage import storage_for

    with storage_for(args.file, storage_options(args)).open_read(args.file) as stream:
        data = stream.read()
    try:
        result = explain(data, args.record)
    except ValueError as exc:
        return fail(str(exc), 2)
    sys.stdout.write(result.text)
    return 1 if result.damaged else 0


def register(sub: Any) -> None:
    """Add ``explain`` to the ``eventwriter`` parser."""
    p = sub.add_parser("explain", help="annotated hex dump: framing, CRCs and every protobuf field of each record")
    p.add_argument("file")
    p.add_argument("--record", type=int, metavar="N", help="only record N (0 is the file_version record)")
    add_storage_options(p)
    p.set_defaults(func=_cmd_explain)
