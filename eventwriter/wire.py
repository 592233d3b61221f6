"""Hand-written protobuf wire encoding for the few messages on the hot path.

Building a ``Summary``/``Event`` message object for every ``add_scalar`` call costs more than
everything else the call does, so the scalar path and the file header are encoded here directly,
byte for byte as protobuf would serialize them (proto3: default-valued scalars omitted, fields in
field-number order). ``tests/format/test_wire.py`` checks every function against the protobuf runtime and
against TensorBoard's own ``Event`` parser. Everything else goes through :mod:`eventwriter.protos`.

Field numbers (docs/FORMAT.md §3.1, §3.2): Event 1 wall_time (double), 2 step (int64), 3 file_version
(string), 4 graph_def (bytes), 5 summary, 7 session_log, 8 tagged_run_metadata,
10 source_metadata; TaggedRunMetadata 1 tag, 2 run_metadata (bytes); Summary 1 value; Summary.Value 1 tag,
2 simple_value (float), 8 tensor, 9 metadata; TensorProto 1 dtype, 5 float_val (packed);
SummaryMetadata 1 plugin_data; PluginData 1 plugin_name; SourceMetadata 1 writer; SessionLog 1 status.
The new-style scalar (a rank-0 DT_FLOAT tensor with ``scalars`` metadata, as the framework adapters
write ``tf.summary.scalar``'s) is encoded here too: :func:`tensor_scalar_parts`.
"""

from __future__ import annotations

import math
import struct
from functools import lru_cache
from typing import Tuple

from .metadata import PLUGIN_SCALARS

_KEYED_DOUBLE = struct.Struct("<Bd")
_FLOAT = struct.Struct("<f")
_FLOAT_PACK = _FLOAT.pack

# Protobuf wire types (docs/FORMAT.md §3, "Wire refresher").
VARINT, FIXED64, LENGTH_DELIMITED, FIXED32 = 0, 1, 2, 5


def field_key(field: int, wire_type: int) -> int:
    """The key of a field (``field << 3 | wire_type``): one byte for field numbers 1 to 15."""
    return field << 3 | wire_type


# The keys of every field the hand encoders write and the frames fast path recognises, each
# defined here once (docs/FORMAT.md §3.1-§3.3).
KEY_WALL_TIME = field_key(1, FIXED64)  # Event.wall_time (double)
KEY_STEP = field_key(2, VARINT)  # Event.step (int64)
KEY_FILE_VERSION = field_key(3, LENGTH_DELIMITED)  # Event.file_version (string)
KEY_GRAPH_DEF = field_key(4, LENGTH_DELIMITED)  # Event.graph_def (bytes)
KEY_SUMMARY = field_key(5, LENGTH_DELIMITED)  # Event.summary
KEY_SESSION_LOG = field_key(7, LENGTH_DELIMITED)  # Event.session_log
KEY_TAGGED_RUN_METADATA = field_key(8, LENGTH_DELIMITED)  # Event.tagged_run_metadata
KEY_SOURCE_METADATA = field_key(10, LENGTH_DELIMITED)  # Event.source_metadata
KEY_SOURCE_WRITER = field_key(1, LENGTH_DELIMITED)  # SourceMetadata.writer
KEY_SESSION_STATUS = field_key(1, VARINT)  # SessionLog.status
KEY_RUN_METADATA_TAG = field_key(1, LENGTH_DELIMITED)  # TaggedRunMetadata.tag
KEY_RUN_METADATA = field_key(2, LENGTH_DELIMITED)  # TaggedRunMetadata.run_metadata (bytes)
KEY_VALUE = field_key(1, LENGTH_DELIMITED)  # Summary.value
KEY_TAG = field_key(1, LENGTH_DELIMITED)  # Summary.Value.tag
KEY_SIMPLE_VALUE = field_key(2, FIXED32)  # Summary.Value.simple_value (float)
KEY_TENSOR = field_key(8, LENGTH_DELIMITED)  # Summary.Value.tensor
KEY_METADATA = field_key(9, LENGTH_DELIMITED)  # Summary.Value.metadata
KEY_PLUGIN_DATA = field_key(1, LENGTH_DELIMITED)  # SummaryMetadata.plugin_data
KEY_PLUGIN_NAME = field_key(1, LENGTH_DELIMITED)  # SummaryMetadata.PluginData.plugin_name
KEY_DTYPE = field_key(1, VARINT)  # TensorProto.dtype
KEY_TENSOR_SHAPE = field_key(2, LENGTH_DELIMITED)  # TensorProto.tensor_shape
KEY_TENSOR_CONTENT = field_key(4, LENGTH_DELIMITED)  # TensorProto.tensor_content (bytes)
KEY_FLOAT_VAL = field_key(5, LENGTH_DELIMITED)  # TensorProto.float_val, packed

SESSION_START = 1  # SessionLog.SessionStatus.START
FILE_VERSION_PREFIX = "brain.Event:"  # Event.file_version is this plus the version number
FILE_VERSION = FILE_VERSION_PREFIX + "2"  # what every current writer writes (docs/FORMAT.md §1.3)



def parse_file_version(text: str) -> float:
    """The number after ``brain.Event:`` as TensorBoard's Python loader parses it (-1 if it is not a number).

    A version >= 2 selects the ``SessionLog.START`` purge rule, anything else (or no
    ``file_version`` at all) the out-of-order step rule (docs/FORMAT.md §1.3, §5.6).
    """
    try:
        return float(text.split(FILE_VERSION_PREFIX)[-1])
    except ValueError:
        return -1.0


_KEY_STEP = bytes((KEY_STEP,))
_KEY_FILE_VERSION = bytes((KEY_FILE_VERSION,))
_KEY_GRAPH_DEF = bytes((KEY_GRAPH_DEF,))
_KEY_SUMMARY = bytes((KEY_SUMMARY,))
_KEY_SESSION_LOG = bytes((KEY_SESSION_LOG,))
_KEY_TAGGED_RUN_METADATA = bytes((KEY_TAGGED_RUN_METADATA,))
_KEY_SOURCE_METADATA = bytes((KEY_SOURCE_METADATA,))
_KEY_VALUE = bytes((KEY_VALUE,))
_KEY_TAG = bytes((KEY_TAG,))
_KEY_SIMPLE_VALUE = bytes((KEY_SIMPLE_VALUE,))


_ONE_BYTE = [bytes((i,)) for i in range(128)]


def varint(value: int) -> bytes:
    """Encode an integer as a protobuf varint (negative int64 values take ten bytes)."""
    if 0 <= value < 0x80:
        return _ONE_BYTE[value]
    if value < 0:
        value += 1 << 64
    if value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(key: bytes, payload: bytes) -> bytes:
    """Encode a string/bytes/message field: key, varint length, payload."""
    return key + varint(len(payload)) + payload


def float32_bytes(value: float) -> bytes:
    """Little-endian float32 of ``value``, rounding out-of-range finite values to +-inf.

    ``struct`` refuses doubles beyond float32's range; protobuf's float fields (and numpy) store
    them as infinities, which is what TensorBoard then shows.
    """
    try:
        return _FLOAT_PACK(value)
    except OverflowError:
        return _FLOAT.pack(math.copysign(math.inf, value))


def event_prefix(wall_time: float, step: int | None) -> bytes:
    """Encode the ``wall_time`` and (if not None and non-zero) ``step`` fields of an Event."""
    if step:
        return _KEYED_DOUBLE.pack(KEY_WALL_TIME, wall_time) + _KEY_STEP + varint(step)
    return _KEYED_DOUBLE.pack(KEY_WALL_TIME, wall_time)


def simple_value_entry(tag: str) -> bytes:
    """Return the constant part of a ``Summary.Value{tag, simple_value}`` for ``tag``.

    The result is the Value's tag field followed by the simple_value key; append the four
    float32 bytes and wrap with :func:`summary_field` to finish the Event.
    """
    if not tag:  # proto3 omits an empty string
        return _KEY_SIMPLE_VALUE
    return length_delimited(_KEY_TAG, tag.encode("utf-8")) + _KEY_SIMPLE_VALUE


def simple_value_prefix(tag: str) -> bytes:
    """Return everything of ``Event.summary{value{tag, simple_value}}`` but the 4 float32 bytes.

    The Value's length is the same for every value of a tag, so the whole prefix can be computed
    once per tag; append :func:`float32_bytes` to complete the field.
    """
    entry = simple_value_entry(tag)
    value_len = len(entry) + 4
    value_field = _KEY_VALUE + varint(value_len)
    return _KEY_SUMMARY + varint(len(value_field) + value_len) + value_field + entry


def summary_event(wall_time: float, step: int | None, summary_bytes: bytes) -> bytes:
    """Encode ``Event{wall_time, step, summary}`` around an already serialized Summary."""
    return event_prefix(wall_time, step) + length_delimited(_KEY_SUMMARY, summary_bytes)


def graph_event(wall_time: float, graph_def_bytes: bytes) -> bytes:
    """Encode ``Event{wall_time, graph_def}`` (no step: graphs are written at step 0)."""
    return event_prefix(wall_time, None) + length_delimited(_KEY_GRAPH_DEF, graph_def_bytes)


def tagged_run_metadata_event(wall_time: float, tag: str, run_metadata_bytes: bytes) -> bytes:
    """Encode ``Event{wall_time, tagged_run_metadata{tag, run_metadata}}``."""
    tagged = length_delimited(bytes((KEY_RUN_METADATA_TAG,)), tag.encode("utf-8"))
    tagged += length_delimited(bytes((KEY_RUN_METADATA,)), run_metadata_bytes)
    return event_prefix(wall_time, None) + length_delimited(_KEY_TAGGED_RUN_METADATA, tagged)


def summary_field(value_bytes: bytes) -> bytes:
    """Wrap one encoded ``Summary.Value`` as the Event's ``summary`` field."""
    value_field = length_delimited(_KEY_VALUE, value_bytes)
    return length_delimited(_KEY_SUMMARY, value_field)


def file_version_event(wall_time: float, writer_name: str | None, step: int | None = None) -> bytes:
    """Encode ``Event{wall_time, step, file_version="brain.Event:2", source_metadata{writer}}``."""
    out = event_prefix(wall_time, step) + length_delimited(_KEY_FILE_VERSION, FILE_VERSION.encode("ascii"))
    if writer_name:
        out += length_delimited(_KEY_SOURCE_METADATA, length_delimited(bytes((KEY_SOURCE_WRITER,)), writer_name.encode("utf-8")))
    return out


@lru_cache(maxsize=1)
def float_dtype_field() -> bytes:
    """``TensorProto.dtype = DT_FLOAT``, key included (the enum value read from :mod:`eventwriter.protos` once)."""
    from .protos import DT_FLOAT

    return bytes((KEY_DTYPE, DT_FLOAT))


@lru_cache(maxsize=1)
def float_tensor_head() -> bytes:
    """A rank-0 ``TensorProto{dtype: DT_FLOAT, float_val: [v]}`` up to ``v``'s 4 float32 bytes.

    No ``tensor_shape`` (an empty shape is rank 0) and ``float_val`` packed: what protobuf writes for
    ``scalar_summary(tag, v, new_style=True)``'s tensor.
    """
    return float_dtype_field() + bytes((KEY_FLOAT_VAL, 4))


@lru_cache(maxsize=1)
def scalars_metadata_field() -> bytes:
    """``Summary.Value.metadata = SummaryMetadata{plugin_data{plugin_name: "scalars"}}``, key included."""
    plugin_data = length_delimited(bytes((KEY_PLUGIN_NAME,)), PLUGIN_SCALARS.encode("ascii"))
    return length_delimited(bytes((KEY_METADATA,)), length_delimited(bytes((KEY_PLUGIN_DATA,)), plugin_data))


def tensor_scalar_parts(tag: str) -> Tuple[bytes, bytes]:
    """A new-style scalar's ``Event.summary`` field split around the 4 float32 bytes of its value.

    ``Event.summary{value{tag, tensor{DT_FLOAT, float_val: [v]}, metadata{"scalars"}}}`` is
    ``head + float32_bytes(v) + tail``, byte for byte what protobuf writes for
    ``scalar_summary(tag, v, new_style=True)`` (the frames fast path decodes this shape). Every
    part but the value is the same for every value of a tag, so it is computed once per tag;
    put :func:`event_prefix` in front.
    """
    tensor = float_tensor_head()
    entry = length_delimited(_KEY_TAG, tag.encode("utf-8")) if tag else b""  # proto3 omits an empty string
    entry += bytes((KEY_TENSOR,)) + varint(len(tensor) + 4) + tensor
    tail = scalars_metadata_field()
    value_len = len(entry) + 4 + len(tail)
    value_field = _KEY_VALUE + varint(value_len)
    return _KEY_SUMMARY + varint(len(value_field) + value_len) + value_field + entry, tail


def session_start_event(wall_time: float, step: int | None) -> bytes:
    """Encode ``Event{wall_time, step, session_log{status: START}}``."""
    return event_prefix(wall_time, step) + length_delimited(_KEY_SESSION_LOG, bytes((KEY_SESSION_STATUS, SESSION_START)))
