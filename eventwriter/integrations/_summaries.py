"""Summaries as ``tf.summary`` (TensorBoard's v2 summary ops) writes them, encoded without protobuf.

The frameworks' own TensorBoard paths (Keras's callback, CLU's and Flax's writers) all go through
``tf.summary``: new-style tensors with plugin metadata, several image or audio *samples* in one
tensor, 30-bucket ``[k, 3]`` float64 histograms, hparams as a bare ``session_start_info``.
``eventwriter.SummaryWriter``'s torch-shaped methods write one sample per call and torch's
bucketing, so the adapters build these few Summary messages here and hand the bytes to the public
``writer.file_writer.add_summary``. Everything in this module is pure: arrays in, bytes out.

Field numbers are TensorBoard's (docs/FORMAT.md §3); the bytes are what protobuf would produce for
the same message (field order aside, which no reader depends on).
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import time
import wave
from typing import Any, Mapping, Optional, Sequence

import numpy as np

# DataType enum values (tensorboard/compat/proto/types.proto).
_DT_FLOAT, _DT_DOUBLE, _DT_STRING = 1, 2, 7
_DTYPES = {
    "float32": 1, "float64": 2, "int32": 3, "uint8": 4, "int16": 5, "int8": 6, "complex64": 8,
    "int64": 9, "bool": 10, "uint16": 17, "complex128": 18, "float16": 19, "uint32": 22, "uint64": 23,
}
# AudioPluginData.encoding WAV (tensorboard/plugins/audio/plugin_data.proto).
_WAV = 11


def _varint(value: int) -> bytes:
    out = bytearray()
    value &= (1 << 64) - 1  # negative int64 values take ten bytes, as protobuf writes them
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2): string, bytes, message or packed numbers."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def _double_field(number: int, value: float) -> bytes:
    return _varint(number << 3 | 1) + struct.pack("<d", value)


def metadata(plugin_name: str, content: bytes = b"") -> bytes:
    """``SummaryMetadata{plugin_data{plugin_name, content}}``, as the plugins' ``create_summary_metadata`` write it."""
    plugin_data = _field(1, plugin_name.encode("utf-8")) + (_field(2, content) if content else b"")
    return _field(1, plugin_data)


SCALARS = metadata("scalars")
HISTOGRAMS = metadata("histograms")
IMAGES = metadata("images")
TEXT = metadata("text")
AUDIO = metadata("audio", _int_field(2, _WAV))
# Keras's keras_model_summary: plugin "graph_keras_model", content b"1" (its version number).
KERAS_MODEL = metadata("graph_keras_model", b"1")


def _shape(dims: Sequence[int]) -> bytes:
    return b"".join(_field(2, _int_field(1, int(d)) or b"") for d in dims)


def tensor(array: Any) -> bytes:
    """A ``TensorProto`` for a numpy-convertible value (strings as ``DT_STRING``, numbers as raw bytes).

    Narrow floats (bfloat16, float8, ...) are widened to float32, which holds their values exactly:
    TensorBoard's decoder has no bfloat16.

    Raises:
        TypeError: the dtype has no TensorBoard equivalent.
    """
    arr = np.asarray(array)
    if arr.dtype.kind in "SUO":
        flat = [v if isinstance(v, bytes) else str(v).encode("utf-8") for v in arr.reshape(-1).tolist()]
        body = b"".join(_field(8, v) for v in flat)
        return _int_field(1, _DT_STRING) + _field(2, _shape(arr.shape)) + body
    if arr.dtype.kind == "V" or arr.dtype.name not in _DTYPES:
        if arr.dtype.kind == "f" or arr.dtype.name.startswith("float") or arr.dtype.name == "bfloat16":
            arr = arr.astype(np.float32)
        else:
            raise TypeError(f"tensor dtype {arr.dtype} cannot be stored in a TensorBoard summary")
    arr = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
    return _int_field(1, _DTYPES[arr.dtype.name]) + _field(2, _shape(arr.shape)) + _field(4, arr.tobytes())


def summary(tag: str, metadata_bytes: bytes, tensor_bytes: Optional[bytes]) -> bytes:
    """A ``Summary`` with one ``Value{tag, metadata, tensor}`` (no metadata field when ``metadata_bytes`` is empty,
    as ``tf.summary.write`` without metadata)."""
    value = _field(1, tag.encode("utf-8")) + (_field(9, metadata_bytes) if metadata_bytes else b"")
    if tensor_bytes is not None:
        value += _field(8, tensor_bytes)
    return _field(1, value)


def scalar_prefix(tag: str) -> bytes:
    """The bytes of a new-style scalar Summary for ``tag`` up to its 4-byte little-endian float32 value.

    ``tf.summary.scalar`` writes a rank-0 ``DT_FLOAT`` tensor with ``scalars`` metadata; only the
    value changes between calls, so the rest is encoded once per tag.
    """
    tensor_head = _int_field(1, _DT_FLOAT) + _varint(5 << 3 | 2) + b"\x04"  # float_val, packed, 4 bytes
    value_head = _field(1, tag.encode("utf-8")) + _field(9, SCALARS) + _varint(8 << 3 | 2) + _varint(len(tensor_head) + 4) + tensor_head
    return _varint(1 << 3 | 2) + _varint(len(value_head) + 4) + value_head


def scalar_event_parts(tag: str) -> bytes:
    """``Event.summary`` (field 5) up to the 4-byte value of a new-style scalar for ``tag``: the part
    of the scalar's Event that follows its ``wall_time`` and ``step`` (see :func:`event_head`)."""
    prefix = scalar_prefix(tag)
    return _varint(5 << 3 | 2) + _varint(len(prefix) + 4) + prefix


def event_head(wall_time: float, step: int) -> bytes:
    """``Event.wall_time`` (field 1, double) and ``Event.step`` (field 2, omitted when 0, as protobuf does)."""
    return b"\x09" + struct.pack("<d", wall_time) + (_varint(2 << 3) + _varint(step) if step else b"")


def histogram_buckets(values: Any, bucket_count: Optional[int] = None) -> np.ndarray:
    """``tf.summary.histogram``'s buckets: ``[k, 3]`` float64 rows (left edge, right edge, count).

    ``bucket_count`` (default 30) equal-width buckets from the minimum to the maximum; a value on an
    inner edge counts in the bucket to its right, the maximum in the last one. All values equal:
    every edge is that value and the last bucket holds the count. No values: ``bucket_count`` zero rows.

    Raises:
        ValueError: ``bucket_count`` is negative, or the values are not all finite.
    """
    count = 30 if bucket_count is None else int(bucket_count)
    if count < 0:
        raise ValueError(f"the number of histogram buckets must be >= 0, got {bucket_count!r}")
    data = np.asarray(values)
    if data.dtype.kind not in "biuf":  # bfloat16 and the other ml_dtypes floats are kind "V"
        data = data.astype(np.float32)
    data = data.reshape(-1).astype(np.float64)
    if count == 0 or data.size == 0:
        return np.zeros((count, 3))
    if not np.all(np.isfinite(data)):
        raise ValueError("histogram values must be finite (NaN or infinity found)")
    low, high = data.min(), data.max()
    if high == low:
        counts = np.zeros(count)
        counts[-1] = data.size
        edges = np.full(count, high)
        return np.stack([edges, edges, counts], axis=1)
    index = np.minimum(np.floor((data - low) / ((high - low) / count)).astype(np.int64), count - 1)
    counts = np.bincount(index, minlength=count).astype(np.float64)
    edges = np.linspace(low, high, count + 1)
    edges[-1] = high
    return np.stack([edges[:-1], edges[1:], counts], axis=1)


def image_tensor(images: Any, max_outputs: int = 3) -> bytes:
    """``tf.summary.image``'s tensor: ``DT_STRING [2 + n]`` = width, height, then n PNGs.

    ``images`` is ``[k, h, w, c]`` with c in 1..4. Floats are converted as
    ``tf.image.convert_image_dtype(..., uint8, saturate=True)`` does (×255.5, clipped to [0, 255],
    truncated); integers other than uint8 are rescaled from their dtype's range.

    Raises:
        ValueError: not rank 4, or c not in 1..4.
    """
    from PIL import Image

    data = np.asarray(images)
    if data.ndim != 4 or data.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"images must be [k, height, width, channels] with 1 to 4 channels, got shape {data.shape}")
    pixels = to_uint8(data)
    encoded = []
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[data.shape[-1]]
    for frame in pixels[: max(0, int(max_outputs))]:
        buffer = io.BytesIO()
        Image.fromarray(frame[..., 0] if mode == "L" else frame, mode).save(buffer, format="PNG")
        encoded.append(buffer.getvalue())
    strings = [str(data.shape[2]).encode(), str(data.shape[1]).encode(), *encoded]
    return _int_field(1, _DT_STRING) + _field(2, _shape([len(strings)])) + b"".join(_field(8, s) for s in strings)


def to_uint8(data: Any) -> np.ndarray:
    """Pixels as ``tf.image.convert_image_dtype(data, tf.uint8, saturate=True)`` converts them."""
    data = np.asarray(data)
    if data.dtype == np.uint8:
        return data
    if data.dtype == np.bool_:
        return data.astype(np.uint8) * 255
    if data.dtype.kind in "iu":
        # Integer to integer: TF scales by the ratio of the ranges (a right shift for wider types).
        info = np.iinfo(data.dtype)
        shift = max(0, info.bits - 8 - (1 if info.min < 0 else 0))
        return np.clip(data.astype(np.int64) >> shift, 0, 255).astype(np.uint8)
    scaled = data.astype(np.float32) * np.float32(255.5)  # float32 products, as TF computes them
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).astype(np.uint8)


def wav(clip: Any, sample_rate: int) -> bytes:
    """One ``[t, c]`` float clip in [-1, 1] as 16-bit PCM WAV, as ``tf.audio.encode_wav`` encodes it
    (samples ×32768, rounded half away from zero, clamped to int16)."""
    samples = np.asarray(clip, dtype=np.float32)
    scaled = (samples * np.float32(32768.0)).astype(np.float64)  # exact: a power of two
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)  # C's roundf: halves away from zero
    pcm = np.clip(np.nan_to_num(rounded), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(samples.shape[1])
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def audio_tensor(audio: Any, sample_rate: int, max_outputs: int = 3) -> bytes:
    """``tf.summary.audio``'s tensor: ``DT_STRING [n, 2]``, rows (WAV clip, empty label).

    Raises:
        ValueError: ``audio`` is not ``[k, t, c]``, or ``sample_rate`` is not positive.
    """
    data = np.asarray(audio)
    if data.ndim != 3:
        raise ValueError(f"audio must be [k, frames, channels], got shape {data.shape}")
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    clips = [wav(clip, int(sample_rate)) for clip in data[: max(0, int(max_outputs))]]
    body = b"".join(_field(8, c) + _field(8, b"") for c in clips)
    return _int_field(1, _DT_STRING) + _field(2, _shape([len(clips), 2])) + body


# hparams: HParamsPluginData{session_start_info} at step 0, as tensorboard.plugins.hparams'
# hparams() writes it (no experiment: TensorBoard then infers the columns, metrics included).
_NULL_TENSOR = _int_field(1, _DT_FLOAT) + _field(2, _shape([0]))
SESSION_START_INFO_TAG = "_hparams_/session_start_info"


def _proto_value(name: str, value: Any) -> bytes:
    """A ``google.protobuf.Value`` (bool, number or string), as hparams stores each hparam."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return _varint(4 << 3) + (b"\x01" if value else b"\x00")
    if isinstance(value, (int, float)):
        return _double_field(2, float(value))
    if isinstance(value, str):
        return _field(3, value.encode("utf-8"))
    raise TypeError(f"hparams[{name!r}] must be a bool, number or str, got {type(value).__name__}")


def hparams_session_start(hparams: Mapping[str, Any], start_time_secs: Optional[float] = None) -> bytes:
    """The Summary of ``tensorboard.plugins.hparams.api.hparams(hparams)``: session start info, group
    name the SHA-256 of the hparams' JSON (as TensorBoard derives it), no experiment.

    Raises:
        TypeError: a key is not a str, or a value is not a bool, number or str.
    """
    normal = {}
    for key, value in hparams.items():
        if not isinstance(key, str):
            raise TypeError(f"hparams keys must be str, got {type(key).__name__}")
        normal[key] = value.item() if isinstance(value, np.generic) else value
    entries = b"".join(_field(1, _field(1, k.encode("utf-8")) + _field(2, _proto_value(k, normal[k]))) for k in sorted(normal))
    group = hashlib.sha256(json.dumps(normal, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()
    start = time.time() if start_time_secs is None else float(start_time_secs)
    session = entries + _field(4, group.encode("ascii")) + _double_field(5, start)
    content = _field(3, session)  # HParamsPluginData.session_start_info; version 0 is not written
    return summary(SESSION_START_INFO_TAG, metadata("hparams", content), _NULL_TENSOR)
