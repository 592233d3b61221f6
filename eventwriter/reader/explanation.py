"""Annotated hex dump of an event file: the framing and every protobuf field of every record.

``eventwriter explain FILE`` prints, for each record, the length and its masked CRC-32C, the
payload and its CRC (each stored value next to the one computed from the bytes), then the
payload's protobuf fields: offset in the file, the bytes, field number, wire type, name, type
and value, with nested messages indented. ``SummaryMetadata.PluginData.content`` is decoded with
the plugin message its ``plugin_name`` selects, and bytes fields that hold a serialized message
(``Event.graph_def``, ``TaggedRunMetadata.run_metadata``, the custom-scalar ``Layout`` in a
tensor's ``string_val``) are decoded too. The layout itself is described in docs/FORMAT.md §2
and §3.

The wire is walked by hand rather than with ``Message.FromString`` so that every field keeps
its byte offset and encoding, and so that a damaged record is still shown as far as it goes.
Field names and types come from the descriptors in :mod:`eventwriter.protos`; a field that
eventwriter's schema does not declare is shown with its number and raw value.

This module is pure: bytes in, text out. The ``eventwriter explain`` command in ``cli.py``
reads the file and prints the text.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

from ..crc import masked_crc32c
from ..metadata import (
    PLUGIN_AUDIO,
    PLUGIN_CUSTOM_SCALARS,
    PLUGIN_HISTOGRAMS,
    PLUGIN_HPARAMS,
    PLUGIN_IMAGES,
    PLUGIN_MESH,
    PLUGIN_PR_CURVES,
    PLUGIN_SCALARS,
    PLUGIN_TEXT,
)
from ..record import FOOTER_SIZE, HEADER_SIZE, MAX_RECORD_LENGTH
from ..wire import FIXED32, FIXED64, LENGTH_DELIMITED, VARINT

WIRE_TYPES = {VARINT: "VARINT", FIXED64: "I64", LENGTH_DELIMITED: "LEN", FIXED32: "I32"}
"""Names of the protobuf wire types that proto3 uses (3 and 4, groups, never appear)."""

_HEX_BYTES = 12  # bytes shown on one line before "…"
_TEXT_CHARS = 72  # characters of a string value shown before "…"
_LIST_ITEMS = 8  # elements of a packed field shown before "…"

# protobuf's FieldDescriptor.TYPE_* numbers: stable since proto2, so no runtime import needed here.
_DOUBLE, _FLOAT, _INT64, _UINT64, _INT32, _FIXED64, _FIXED32, _BOOL = 1, 2, 3, 4, 5, 6, 7, 8
_STRING, _GROUP, _MESSAGE, _BYTES, _UINT32, _ENUM, _SFIXED32, _SFIXED64, _SINT32, _SINT64 = range(9, 19)
_TYPE_NAMES = {
    _DOUBLE: "double", _FLOAT: "float", _INT64: "int64", _UINT64: "uint64", _INT32: "int32",
    _FIXED64: "fixed64", _FIXED32: "fixed32", _BOOL: "bool", _STRING: "string", _BYTES: "bytes",
    _UINT32: "uint32", _ENUM: "enum", _SFIXED32: "sfixed32", _SFIXED64: "sfixed64",
    _SINT32: "sint32", _SINT64: "sint64",
}  # fmt: skip
_VARINT_TYPES = {_INT64, _UINT64, _INT32, _BOOL, _UINT32, _ENUM, _SINT32, _SINT64}
_I64_TYPES = {_DOUBLE, _FIXED64, _SFIXED64}
_I32_TYPES = {_FLOAT, _FIXED32, _SFIXED32}
_I64_FORMAT = {_DOUBLE: "<d", _FIXED64: "<Q", _SFIXED64: "<q"}
_I32_FORMAT = {_FLOAT: "<f", _FIXED32: "<I", _SFIXED32: "<i"}


class WireError(ValueError):
    """The bytes are not a valid protobuf message (raised while walking a payload)."""


@dataclass
class Field:
    """One protobuf field as it sits on the wire.

    ``offset`` is the key's position in the file; ``head`` holds the key and, for LEN fields,
    the length prefix; ``body`` the value's bytes. ``name`` is empty when the schema does not
    declare the field. ``value`` is the decoded Python value (a list for a packed field, None
    for a nested message, whose fields are in ``children``). ``note`` says how the bytes of a
    ``bytes`` field were decoded further.
    """

    offset: int
    number: int
    wire_type: int
    head: bytes
    body: bytes
    name: str = ""
    type_name: str = ""
    value: Any = None
    children: List["Field"] = field(default_factory=list)
    note: str = ""
    descriptor: Any = None  # the message type of ``children``


@dataclass
class RecordView:
    """One record: its framing with stored and computed CRCs, and the payload's fields.

    ``length_crc_computed``/``data_crc_computed`` are None when the bytes to compute them are
    missing. ``problem`` describes the damage or truncation found, if any; ``error`` says why
    the payload stopped decoding, if it did.
    """

    index: int
    offset: int
    length_bytes: bytes
    length: int
    length_crc_stored: Optional[int]
    length_crc_computed: int
    payload: bytes = b""
    data_crc_stored: Optional[int] = None
    data_crc_computed: Optional[int] = None
    fields: List[Field] = field(default_factory=list)
    problem: str = ""
    error: str = ""

    @property
    def damaged(self) -> bool:
        """True when a CRC does not match, the record is cut short or the payload does not decode."""
        return bool(self.problem or self.error)


@dataclass(frozen=True)
class Explanation:
    """The text of ``eventwriter explain`` and whether it found damage."""

    text: str
    damaged: bool


# ---------------------------------------------------------------------------------------------
# wire walking


def _varint(buf: bytes, pos: int, end: int) -> Tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("varint runs past the end of the message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")


def _signed(value: int, bits: int = 64) -> int:
    value &= (1 << 64) - 1
    if value >> 63:
        value -= 1 << 64
    if bits == 32:  # int32 keeps the low 32 bits, sign-extended
        value = (value + (1 << 31)) % (1 << 32) - (1 << 31)
    return value


def _scalar(ftype: int, raw: int) -> Any:
    """A varint's value for a field of protobuf type ``ftype``."""
    if ftype == _BOOL:
        return raw != 0
    if ftype == _INT32 or ftype == _ENUM:
        return _signed(raw, 32)
    if ftype == _INT64:
        return _signed(raw)
    if ftype in (_SINT32, _SINT64):
        return (raw >> 1) ^ -(raw & 1)
    if ftype == _UINT32:
        return raw & 0xFFFFFFFF
    return raw


def _packed(ftype: int, body: bytes) -> List[Any]:
    """Elements of a packed repeated field."""
    if ftype in _I64_TYPES:
        if len(body) % 8:
            raise WireError(f"packed 64-bit field of {len(body)} bytes")
        return [v for (v,) in struct.iter_unpack(_I64_FORMAT[ftype], body)]
    if ftype in _I32_TYPES:
        if len(body) % 4:
            raise WireError(f"packed 32-bit field of {len(body)} bytes")
        return [v for (v,) in struct.iter_unpack(_I32_FORMAT[ftype], body)]
    values, pos = [], 0
    while pos < len(body):
        raw, pos = _varint(body, pos, len(body))
        values.append(_scalar(ftype, raw))
    return values


def _type_label(desc: Any) -> str:
    """``Summary.Value`` for ``eventwriter.Summary.Value``: the package never reaches the wire."""
    package = desc.file.package
    name = desc.full_name
    return name[len(package) + 1 :] if package and name.startswith(package + ".") else name


def decode_fields(buf: bytes, descriptor: Any, base: int = 0) -> List[Field]:
    """Walk ``buf`` as a message of ``descriptor``; ``base`` is ``buf``'s offset in the file.

    Raises:
        WireError: the bytes are not a valid message (the fields before the fault are lost).
    """
    fields: List[Field] = []
    pos, end = 0, len(buf)
    while pos < end:
        start = pos
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError(f"field number 0 at byte {base + start}")
        fdesc = descriptor.fields_by_number.get(number) if descriptor is not None else None
        ftype = fdesc.type if fdesc is not None else None
        if wire == VARINT:
            raw, pos = _varint(buf, pos, end)
            head, body = buf[start:pos], b""
            value: Any = _scalar(ftype, raw) if ftype in _VARINT_TYPES else raw
        elif wire == FIXED64 or wire == FIXED32:
            size = 8 if wire == FIXED64 else 4
            if pos + size > end:
                raise WireError(f"{size}-byte field runs past the end of the message")
            head, body = buf[start:pos], buf[pos : pos + size]
            pos += size
            formats = _I64_FORMAT if wire == FIXED64 else _I32_FORMAT
            fmt = formats.get(ftype, "<Q" if wire == FIXED64 else "<I")  # type: ignore[arg-type]
            (value,) = struct.unpack(fmt, body)
        elif wire == LENGTH_DELIMITED:
            size, pos = _varint(buf, pos, end)
            if pos + size > end:
                raise WireError(f"length {size} runs past the end of the message")
            head, body = buf[start:pos], buf[pos : pos + size]
            pos += size
            value = None
        else:
            raise WireError(f"wire type {wire} at byte {base + start} (not used by proto3)")
        item = Field(base + start, number, wire, head, body, value=value)
        if fdesc is not None:
            item.name = fdesc.name
            item.type_name = _TYPE_NAMES.get(ftype, "")  # type: ignore[arg-type]
            if ftype == _ENUM:
                item.type_name = _type_label(fdesc.enum_type)
            if wire == LENGTH_DELIMITED:
                body_base = base + start + len(head)
                if ftype == _MESSAGE:
                    item.type_name = _type_label(fdesc.message_type)
                    item.descriptor = fdesc.message_type
                    item.children = decode_fields(body, fdesc.message_type, body_base)
                elif ftype == _STRING:
                    item.value = body.decode("utf-8", errors="replace")
                elif ftype == _BYTES:
                    item.value = body
                else:  # a packed repeated scalar
                    item.value = _packed(ftype, body)  # type: ignore[arg-type]
                    item.type_name = f"packed {item.type_name}"
            elif (wire == VARINT) != (ftype in _VARINT_TYPES) or (wire == FIXED64) != (ftype in _I64_TYPES):
                item.note = f"wire type {wire} does not match the declared {item.type_name}"
        elif wire == LENGTH_DELIMITED:
            item.value = body
        fields.append(item)
    _decode_embedded(fields, descriptor)
    return fields


# Plugin name -> the message its PluginData.content holds (docs/FORMAT.md §3.5).
_PLUGIN_CONTENT = {
    PLUGIN_SCALARS: "ScalarPluginData",
    PLUGIN_IMAGES: "ImagePluginData",
    PLUGIN_AUDIO: "AudioPluginData",
    PLUGIN_HISTOGRAMS: "HistogramPluginData",
    PLUGIN_TEXT: "TextPluginData",
    PLUGIN_PR_CURVES: "PrCurvePluginData",
    PLUGIN_MESH: "MeshPluginData",
    PLUGIN_HPARAMS: "HParamsPluginData",
    PLUGIN_CUSTOM_SCALARS: "Layout",
}
# (message, bytes field) -> the message serialized in those bytes.
_EMBEDDED = {
    ("Event", "graph_def"): "GraphDef",
    ("TaggedRunMetadata", "run_metadata"): "RunMetadata",
}


def _decode_as(item: Field, message: str, why: str) -> None:
    from .. import protos

    desc = getattr(protos, message).DESCRIPTOR
    try:
        item.children = decode_fields(item.body, desc, item.offset + len(item.head))
        item.descriptor = desc
        item.note = f"{why}: decoded as {_type_label(desc)}"
    except WireError as exc:
        item.note = f"{why}: not a valid {_type_label(desc)} ({exc})"


def _first(fields: List[Field], name: str) -> Optional[Field]:
    return next((f for f in fields if f.name == name), None)


def _decode_embedded(fields: List[Field], descriptor: Any) -> None:
    """Decode ``bytes`` fields that hold a serialized message, using the siblings in ``fields``."""
    if descriptor is None:
        return
    label = _type_label(descriptor)
    if label == "SummaryMetadata.PluginData":
        name = _first(fields, "plugin_name")
        plugin = name.value if name is not None else ""
        message = _PLUGIN_CONTENT.get(plugin)
        content = _first(fields, "content")
        if message and content is not None:
            _decode_as(content, message, f"content of plugin {plugin!r}")
        elif message and plugin != PLUGIN_CUSTOM_SCALARS and name is not None:
            name.note = f"no content: an empty {message} (version 0)"
    elif label == "Summary.Value":
        metadata = _first(fields, "metadata")
        plugin_data = _first(metadata.children, "plugin_data") if metadata else None
        name = _first(plugin_data.children, "plugin_name") if plugin_data else None
        tensor = _first(fields, "tensor")
        if name is not None and name.value == PLUGIN_CUSTOM_SCALARS and tensor is not None:
            for item in tensor.children:
                if item.name == "string_val":
                    _decode_as(item, "Layout", "custom-scalar layout")
        if tensor is not None:
            _decode_tensor_content(tensor)
    for item in fields:
        message = _EMBEDDED.get((label, item.name))
        if message and item.wire_type == LENGTH_DELIMITED:
            _decode_as(item, message, f"serialized {message}")


def _decode_tensor_content(tensor: Field) -> None:
    """Note the value of a ``tensor_content``: TF2 writes scalars and other numeric tensors as raw
    bytes there, read with the sibling ``dtype`` and ``tensor_shape`` (docs/FORMAT.md §3.3)."""
    content = _first(tensor.children, "tensor_content")
    if content is None:
        return
    from .. import protos
    from ..tensor_codec import tensor_to_numpy

    try:
        array = tensor_to_numpy(protos.TensorProto.FromString(tensor.body))
    except Exception as exc:  # noqa: BLE001 - shown, not raised: explain describes damaged input too
        content.note = f"not decodable with this dtype and shape: {exc}"
        return
    flat = array.ravel().tolist()
    shown = ", ".join(_float32(v) if array.dtype.kind == "f" and array.dtype.itemsize == 4 else repr(v) for v in flat[:_LIST_ITEMS])
    if array.ndim == 0:
        content.note = f"decoded: {shown} ({array.dtype.name}, scalar)"
    else:
        more = f", … ({len(flat)} values)" if len(flat) > _LIST_ITEMS else ""
        content.note = f"decoded: [{shown}{more}] ({array.dtype.name}, shape {list(array.shape)})"


# ---------------------------------------------------------------------------------------------
# framing


def explain_records(data: bytes) -> Iterator[RecordView]:
    """Yield every record of ``data`` (an event file's bytes) with its framing and fields.

    Stops after a record whose length cannot be trusted (bad length CRC or an absurd length)
    or that is cut short; continues past a bad data CRC or an undecodable payload.
    """
    offset, index = 0, 0
    while offset < len(data):
        view, offset = _frame(data, offset, index)
        yield view
        if offset < 0:
            return
        index += 1


def _frame(data: bytes, offset: int, index: int) -> Tuple[RecordView, int]:
    """The record at ``offset`` and where the next one starts (-1 when reading must stop)."""
    from .. import protos

    length_bytes = data[offset : offset + 8]
    stored = data[offset + 8 : offset + HEADER_SIZE]
    view = RecordView(
        index,
        offset,
        length_bytes,
        int.from_bytes(length_bytes, "little"),
        int.from_bytes(stored, "little") if len(stored) == 4 else None,
        masked_crc32c(length_bytes),
    )
    length = view.length
    if view.length_crc_stored is None:
        view.problem = f"truncated: the file ends inside the 12-byte header ({len(data) - offset} bytes left)"
        return view, -1
    if view.length_crc_stored != view.length_crc_computed:
        view.problem = "length CRC mismatch: the length cannot be trusted; TensorBoard stops reading here"
        return view, -1
    if length > MAX_RECORD_LENGTH:
        view.problem = f"length {length} is absurd (protobuf messages are below 2 GiB)"
        return view, -1
    start = offset + HEADER_SIZE
    view.payload = data[start : start + length]
    footer = data[start + length : start + length + FOOTER_SIZE]
    if len(view.payload) < length or len(footer) < FOOTER_SIZE:
        have = len(view.payload) + len(footer)
        view.problem = (
            f"truncated: {have} of {length + FOOTER_SIZE} payload and CRC bytes present "
            "(a file still being written ends like this)"
        )
        return view, -1
    view.data_crc_stored = int.from_bytes(footer, "little")
    view.data_crc_computed = masked_crc32c(view.payload)
    if view.data_crc_stored != view.data_crc_computed:
        view.problem = "data CRC mismatch: TensorBoard stops reading here"
    try:
        view.fields = decode_fields(view.payload, protos.Event.DESCRIPTOR, start)
    except WireError as exc:
        view.error = f"payload is not a valid Event: {exc}"
    return view, start + length + FOOTER_SIZE


# ---------------------------------------------------------------------------------------------
# text


def _hex(chunk: bytes, limit: int = _HEX_BYTES) -> str:
    text = " ".join(f"{b:02x}" for b in chunk[:limit])
    return text + (" …" if len(chunk) > limit else "")


def _float32(value: float) -> str:
    """The shortest decimal that reads back as the same float32."""
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.unpack("<f", struct.pack("<f", float(text)))[0] == value:
            return text
    return repr(value)  # pragma: no cover - 9 digits always suffice


def _text(value: str) -> str:
    shown = value if len(value) <= _TEXT_CHARS else value[:_TEXT_CHARS] + "…"
    return '"' + shown.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _sniff(body: bytes) -> str:
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return ", PNG image"
    if body[:6] in (b"GIF87a", b"GIF89a"):
        return ", GIF image"
    if body[:4] == b"RIFF" and body[8:12] == b"WAVE":
        return ", WAV audio"
    return ""


def _value(item: Field, enum_names: Dict[int, str]) -> str:
    value = item.value
    if isinstance(value, list):
        if item.type_name.endswith("float"):
            shown = [_float32(v) for v in value[:_LIST_ITEMS]]
        else:
            shown = [enum_names.get(v, repr(v)) if enum_names else repr(v) for v in value[:_LIST_ITEMS]]
        more = f", … ({len(value)} values)" if len(value) > _LIST_ITEMS else ""
        return "[" + ", ".join(shown) + more + "]"
    if isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
            if text.isprintable():
                return f"b{_text(text)} ({len(value)} bytes)"
        except UnicodeDecodeError:
            pass
        return f"{len(value)} bytes{_sniff(value)}"
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float):
        return _float32(value) if item.type_name == "float" else repr(value)
    if enum_names and value in enum_names:
        return f"{enum_names[value]} ({value})"
    return repr(value)


def _enum_names(item: Field, descriptor: Any) -> Dict[int, str]:
    fdesc = descriptor.fields_by_number.get(item.number) if descriptor is not None else None
    if fdesc is None or fdesc.enum_type is None:
        return {}
    return {v.number: v.name for v in fdesc.enum_type.values}


def _render_fields(out: List[str], fields: List[Field], descriptor: Any, depth: int) -> None:
    indent = "  " * depth
    for item in fields:
        wire = WIRE_TYPES.get(item.wire_type, str(item.wire_type))
        name = item.name or "(not in eventwriter's schema)"
        label = f"{indent}{item.number} {name}"
        if item.children or (item.name and item.value is None and item.wire_type == LENGTH_DELIMITED):
            hexed = _hex(item.head)
            kind = f"{wire} {item.type_name}, {len(item.body)} bytes"
            described = f"{label} ({kind})"
        else:
            hexed = _hex(item.head + item.body)
            kind = f"{wire} {item.type_name}".rstrip()
            described = f"{label} ({kind}) = {_value(item, _enum_names(item, descriptor))}"
        if item.note:
            described += f"  [{item.note}]"
        out.append(f"  {item.offset:08x}  {hexed:<{_HEX_BYTES * 3 + 1}} {described}")
        if item.children:
            _render_fields(out, item.children, item.descriptor, depth + 1)


def _crc_line(what: str, stored: Optional[int], computed: Optional[int]) -> str:
    if stored is None:
        return f"{what}: missing (file ends)"
    verdict = "==" if stored == computed else "!= MISMATCH"
    return f"{what}: stored 0x{stored:08x} {verdict} computed 0x{computed:08x}"


def render(view: RecordView) -> str:
    """The annotated dump of one record."""
    from .. import protos

    width = _HEX_BYTES * 3 + 1
    total = HEADER_SIZE + view.length + FOOTER_SIZE
    out = [f"record {view.index} at offset {view.offset} ({total} bytes with framing)"]
    out.append(f"  {view.offset:08x}  {_hex(view.length_bytes):<{width}} length = {view.length} (uint64 LE)")
    stored_bytes = (view.length_crc_stored or 0).to_bytes(4, "little") if view.length_crc_stored is not None else b""
    crc = _crc_line("masked CRC-32C of the 8 length bytes", view.length_crc_stored, view.length_crc_computed)
    out.append(f"  {view.offset + 8:08x}  {_hex(stored_bytes):<{width}} {crc}")
    if view.data_crc_stored is not None:
        start = view.offset + HEADER_SIZE
        out.append(f"  {start:08x}  {'':<{width}} payload: {view.length} bytes, one Event")
        _render_fields(out, view.fields, protos.Event.DESCRIPTOR, 1)
        if view.error:
            out.append(f"  {'':8}  {'':<{width}} ERROR {view.error}")
        footer = view.data_crc_stored.to_bytes(4, "little")
        crc = _crc_line("masked CRC-32C of the payload", view.data_crc_stored, view.data_crc_computed)
        out.append(f"  {start + view.length:08x}  {_hex(footer):<{width}} {crc}")
    if view.problem:
        out.append(f"  DAMAGE {view.problem}")
    return "\n".join(out) + "\n"


def explain(data: bytes, record: Optional[int] = None) -> Explanation:
    """Annotate the records of an event file's bytes: all of them, or only record number ``record``.

    Raises:
        ValueError: ``record`` is negative or beyond the last record.
    """
    if record is not None and record < 0:
        raise ValueError(f"record must be 0 or more, got {record}")
    parts: List[str] = []
    damaged = False
    count = 0
    for view in explain_records(data):
        count += 1
        if record is None or view.index == record:
            parts.append(render(view))
            damaged = damaged or view.damaged
        if record is not None and view.index >= record:
            break
    if record is not None and not parts:
        raise ValueError(f"record {record} does not exist: the file has {count} records")
    if not data:
        parts.append("empty file: no records\n")
    return Explanation("\n".join(parts), damaged)
