"""Decode the common scalar record shapes straight from payload bytes, without protobuf objects.

eventwriter, torch and tensorboardX all write ``add_scalar`` as the same bytes (checked on real
files)::

    09 <wall_time f64>  [10 <step varint>]  2a <n>  0a <n-2>  0a <len> <tag>  15 <value f32>

i.e. ``Event{wall_time, step, summary{value{tag, simple_value}}}`` with one-byte lengths.
TensorFlow 2 (``tf.summary.scalar``, Keras) writes a rank-0 float tensor instead, with the
``scalars`` plugin metadata after it (on every record, or on the first one of a tag only)::

    ... 0a <len> <tag>  42 0a 08 01 12 00 22 04 <value f32>  [4a 0b 0a 09 0a 07 "scalars"]

and torch's or eventwriter's ``new_style=True`` (or TensorBoard's own ``scalar_pb``) the same
tensor with ``float_val`` (``2a 04``) and with or without the empty shape (``12 00``). Each of
these shapes is a :class:`Template`: the bytes between the tag and the value, and after it.

For a batch of payloads of one length, every payload whose bytes follow a template exactly is
decoded with vector operations; any other is left to the protobuf path. A payload is accepted only
if every structural byte matches, so an accepted payload parses to the same Event under protobuf
(the templates' tag lengths differ for one payload length, so at most one template can match).
The batch comes as a ``length × n`` matrix (row ``j`` = byte ``j`` of every payload), so each
check reads one contiguous row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, List, Tuple

import numpy as np

from ..wire import (
    KEY_FLOAT_VAL,
    KEY_SIMPLE_VALUE,
    KEY_STEP,
    KEY_SUMMARY,
    KEY_TAG,
    KEY_TENSOR,
    KEY_TENSOR_CONTENT,
    KEY_TENSOR_SHAPE,
    KEY_VALUE,
    KEY_WALL_TIME,
    float_dtype_field,
    float_tensor_head,
    scalars_metadata_field,
)

_STEP_AT = 10  # the step varint starts after the wall_time key and its 8 bytes, and the step key
_VARINT_MORE = 0x80  # a varint byte with this bit set is followed by another
_VARINT_BITS = 0x7F
_ONE_BYTE_LENGTH = 0x80  # lengths below this are one varint byte, which the templates assume


@dataclass(frozen=True)
class Template:
    """One scalar record shape: ``middle`` sits between the tag and the 4 value bytes, ``suffix`` after them.

    ``tensor``: the value is a tensor (else ``simple_value``); ``meta``: the value carries or
    implies ``scalars`` plugin metadata (``simple_value`` always does, after TensorBoard's rewrite).
    """

    middle: bytes
    suffix: bytes
    tensor: bool
    meta: bool


@lru_cache(maxsize=1)
def templates() -> Tuple[Template, ...]:
    """Every scalar record shape the fast path decodes (the shapes eventwriter writes come from :mod:`eventwriter.wire`)."""
    meta_suffix = scalars_metadata_field()
    dtype = float_dtype_field()
    empty_shape = bytes((KEY_TENSOR_SHAPE, 0))
    tensors = (
        dtype + empty_shape + bytes((KEY_TENSOR_CONTENT, 4)),  # TensorFlow 2
        float_tensor_head(),  # torch / eventwriter new_style and the framework adapters
        dtype + empty_shape + bytes((KEY_FLOAT_VAL, 4)),  # TensorBoard's scalar_pb
    )
    out = [Template(bytes((KEY_SIMPLE_VALUE,)), b"", tensor=False, meta=True)]
    for inner in tensors:
        middle = bytes((KEY_TENSOR, len(inner) + 4)) + inner
        out.append(Template(middle, meta_suffix, tensor=True, meta=True))
        out.append(Template(middle, b"", tensor=True, meta=False))
    return tuple(out)


@dataclass
class ScalarRows:
    """Payloads decoded from one batch: ``rows`` indexes the batch; ``tag_codes`` index ``tags``.

    ``meta`` says, per row, whether the value carries (or implies) ``scalars`` metadata.
    """

    rows: np.ndarray
    step: np.ndarray
    wall_time: np.ndarray
    value: np.ndarray  # float32
    tag_codes: np.ndarray
    meta: np.ndarray
    tags: List[bytes] = field(default_factory=list)


def _empty() -> ScalarRows:
    return ScalarRows(
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(0, bool)
    )


def _step_varint(cols: np.ndarray, width: int) -> np.ndarray:
    """Decode the ``width``-byte step varints starting at byte 10 (int64; negative steps wrap as in protobuf)."""
    step = cols[_STEP_AT].astype(np.uint64) & np.uint64(_VARINT_BITS)
    for j in range(1, width):
        step |= (cols[_STEP_AT + j].astype(np.uint64) & np.uint64(_VARINT_BITS)) << np.uint64(7 * j)
    return step.view(np.int64)


def _distinct_tags(tag_cols: np.ndarray) -> Tuple[np.ndarray, List[bytes]]:
    """Codes and distinct values of fixed-width byte strings given as ``width × n`` (few distinct expected)."""
    width, n = tag_cols.shape
    if width == 0:
        return np.zeros(n, np.int32), [b""]
    codes = np.full(n, -1, dtype=np.int32)
    tags: List[bytes] = []
    remaining = None  # None: every row
    while len(tags) < 8:
        block = tag_cols if remaining is None else tag_cols[:, remaining]
        if not block.shape[1]:
            return codes, tags
        same = (block == block[:, :1]).all(axis=0)
        where = np.flatnonzero(same) if remaining is None else remaining[same]
        codes[where] = len(tags)
        tags.append(block[:, 0].tobytes())
        remaining = np.flatnonzero(~same) if remaining is None else remaining[~same]
    if remaining is not None and len(remaining):  # many tags of one length: sort them out in one go
        rest = np.ascontiguousarray(tag_cols[:, remaining].T).view(np.dtype((np.void, width))).ravel()
        values, inverse = np.unique(rest, return_inverse=True)
        codes[remaining] = inverse.ravel() + len(tags)
        tags.extend(v.tobytes() for v in values)
    return codes, tags


def _step_widths(cols: np.ndarray) -> np.ndarray:
    """Per payload: 0 without a step, the step varint's byte count (1-10), or -1 for another shape."""
    length = cols.shape[0]
    lead = cols[0] == KEY_WALL_TIME
    has_step = lead & (cols[9] == KEY_STEP)
    no_step = lead & (cols[9] == KEY_SUMMARY)
    width = np.where(no_step, 0, -1).astype(np.int8)
    open_ = has_step.copy()
    for j in range(min(10, length - _STEP_AT - 1)):  # the first byte below 0x80 ends the varint
        ends = open_ & (cols[_STEP_AT + j] < _VARINT_MORE)
        width[ends] = j + 1
        open_ &= ~ends
        if not open_.any():
            break
    return width


def _match(m: np.ndarray, p: int, t: Template) -> Tuple[np.ndarray, int]:
    """Which columns of ``m`` (summary at byte ``p``) follow template ``t``, and its tag length (-1: none can)."""
    length = m.shape[0]
    tag_len = length - p - 10 - len(t.middle) - len(t.suffix)
    value_len = tag_len + 2 + len(t.middle) + 4 + len(t.suffix)
    summary_len = value_len + 2
    if not (0 <= tag_len < _ONE_BYTE_LENGTH and value_len < _ONE_BYTE_LENGTH and summary_len < _ONE_BYTE_LENGTH):
        return np.zeros(m.shape[1], bool), -1
    ok = (
        (m[p] == KEY_SUMMARY)
        & (m[p + 1] == summary_len)
        & (m[p + 2] == KEY_VALUE)
        & (m[p + 3] == value_len)
        & (m[p + 4] == KEY_TAG)
        & (m[p + 5] == tag_len)
    )
    at = p + 6 + tag_len
    for j, byte in enumerate(t.middle):
        ok &= m[at + j] == byte
    for j, byte in enumerate(t.suffix):
        ok &= m[length - len(t.suffix) + j] == byte
    return ok, tag_len


def decode_scalars(cols: np.ndarray, tensors: bool = True) -> ScalarRows:
    """Decode the payloads of ``cols`` (``L × n`` bytes) that have one of the scalar shapes.

    ``tensors=False`` decodes ``simple_value`` records only (tensor records go to protobuf).
    """
    length, n = cols.shape
    if length < 16 or n == 0:
        return _empty()
    width = _step_widths(cols)
    parts: List[Tuple[ScalarRows, List[bytes]]] = []
    tag_index: Dict[bytes, int] = {}
    present = np.unique(width).tolist()
    shapes = templates() if tensors else templates()[:1]
    for w in present:
        if w < 0:
            continue
        p = _STEP_AT + w if w else 9
        sel = np.arange(n) if len(present) == 1 else np.flatnonzero(width == w)
        m = cols if len(present) == 1 else cols[:, sel]
        valid = np.ones(len(sel), bool)  # _step_widths checked the wall time and step keys
        if w == 10:
            valid &= m[_STEP_AT + 9] <= 1  # a 10-byte varint holds at most 64 bits
        for t in shapes:
            if not len(sel):
                break
            ok, tag_len = _match(m, p, t)
            ok &= valid
            if not ok.any():
                continue
            hit = m if ok.all() else m[:, ok]
            codes, tags = _distinct_tags(hit[p + 6 : p + 6 + tag_len])
            remap = np.array([tag_index.setdefault(tag, len(tag_index)) for tag in tags], dtype=np.int32)
            at = length - len(t.suffix) - 4
            rows = ScalarRows(
                sel[ok],
                _step_varint(hit, w) if w else np.zeros(hit.shape[1], np.int64),
                np.ascontiguousarray(hit[1:9].T).view("<f8").ravel(),
                np.ascontiguousarray(hit[at : at + 4].T).view("<f4").ravel(),
                remap[codes],
                np.full(hit.shape[1], t.meta),
            )
            parts.append((rows, tags))
            if ok.all():
                break
            sel, m, valid = sel[~ok], m[:, ~ok], valid[~ok]
    if not parts:
        return _empty()
    tags_all = [t for t, _ in sorted(tag_index.items(), key=lambda kv: kv[1])]
    if len(parts) == 1:
        parts[0][0].tags = tags_all
        return parts[0][0]
    rows_list = [q for q, _ in parts]
    return ScalarRows(
        np.concatenate([q.rows for q in rows_list]),
        np.concatenate([q.step for q in rows_list]),
        np.concatenate([q.wall_time for q in rows_list]),
        np.concatenate([q.value for q in rows_list]),
        np.concatenate([q.tag_codes for q in rows_list]),
        np.concatenate([q.meta for q in rows_list]),
        tags_all,
    )
