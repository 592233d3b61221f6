"""``eventwriter dump FILE``: one JSON object per record (offset, length, event).

The event is protobuf's JSON mapping of every field, defaults included, with 64-bit integers as
numbers and, beside each ``tensor_content``, its ``"decoded"`` value (an extra key, not a field).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
from typing import Any

from ..record import CorruptRecordError, TruncatedRecordError
from .common import add_storage_options, fail, storage_options


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


def _json_float(value: Any) -> Any:
    """Non-finite floats spelled as protobuf's JSON mapping spells them (``"NaN"``, ``"Infinity"``)."""
    if isinstance(value, list):
        return [_json_float(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _decode_tensor_content(event: Any, data: Any) -> None:
    """Add ``"decoded"`` beside each ``tensor_content``: TF2 writes scalars, histograms and other
    numeric tensors as raw bytes there, which JSON would show only as base64 (docs/FORMAT.md §3.3)."""
    if event.WhichOneof("what") != "summary":
        return
    from ..tensor_codec import tensor_to_numpy

    for value, shown in zip(event.summary.value, data.get("summary", {}).get("value", [])):
        if value.WhichOneof("value") == "tensor" and value.tensor.tensor_content:
            try:
                shown["tensor"]["decoded"] = _json_float(tensor_to_numpy(value.tensor).tolist())
            except (ValueError, TypeError) as exc:  # a dtype or size the bytes do not fit
                shown["tensor"]["decoded"] = f"not decodable: {exc}"


def _cmd_dump(args: argparse.Namespace) -> int:
    from ..reader import read_file_events

    problem = 0
    try:
        for rec in read_file_events(args.file, strict=True, storage_options=storage_options(args)):
            event = _jsonable(rec.event)
            _decode_tensor_content(rec.event, event)
            row = {"offset": rec.offset, "length": len(rec.payload), "event": event}
            if args.raw:
                row["payload_base64"] = base64.b64encode(rec.payload).decode("ascii")
            sys.stdout.write(json.dumps(row) + "\n")
    except TruncatedRecordError as exc:
        sys.stderr.write(f"eventwriter: {exc} (the file may still be being written)\n")
    except CorruptRecordError as exc:
        hint = " (not an event file?)" if exc.offset == 0 else ""
        problem = fail(f"{exc}{hint}")
    return problem


def register(sub: Any) -> None:
    """Add ``dump`` to the ``eventwriter`` parser."""
    p = sub.add_parser("dump", help="one JSON object per record (offset, length, event)")
    p.add_argument("file")
    p.add_argument("--raw", action="store_true", help="also print each payload in base64")
    add_storage_options(p)
    p.set_defaults(func=_cmd_dump)
