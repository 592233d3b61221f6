"""Decode the common scalar record shape straight from payload bytes, without protobuf objects.

eventwriter, torch and tensorboardX all write ``add_scalar`` as the same bytes (checked on real
files)::

    09 <wall_time f64>  [10 <step varint>]  2a <n>  0a <n-2>  0a <len> <tag>  15 <value f32>

i.e. ``Event{wall_time, step, summary{value{tag, simple_value}}}`` with one-byte lengths. For a
batch of payloads of one length, every row whose bytes follow this template exactly is decoded
with vector operations; any other row is left to the protobuf path. A row is accepted only if
every structural byte matches, so an accepted row parses to the same Event under protobuf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np


@dataclass
class ScalarRows:
    """Rows decoded from one batch: ``rows`` indexes the batch; ``tag_codes`` index ``tags``."""

    rows: np.ndarray
    step: np.ndarray
    wall_time: np.ndarray
    value: np.ndarray  # float32
    tag_codes: np.ndarray
    tags: List[bytes]


def _step_varint(matrix: np.ndarray, width: int) -> np.ndarray:
    """Decode the ``width``-byte step varints at column 10 (int64, negative steps wrap as protobuf's)."""
    step = np.zeros(len(matrix), dtype=np.uint64)
    for j in range(width):
        step |= (matrix[:, 10 + j].astype(np.uint64) & np.uint64(0x7F)) << np.uint64(7 * j)
    return step.view(np.int64)


def _distinct_tags(tag_bytes: np.ndarray) -> tuple:
    """Codes and distinct values of fixed-width byte rows (few distinct values expected)."""
    n, width = tag_bytes.shape
    if n == 0:
        return np.zeros(0, np.int32), []
    if width == 0:
        return np.zeros(n, np.int32), [b""]
    codes = np.full(n, -1, dtype=np.int32)
    tags: List[bytes] = []
    remaining = np.arange(n)
    while len(remaining) and len(tags) < 8:
        first = tag_bytes[remaining[0]]
        same = (tag_bytes[remaining] == first).all(axis=1)
        codes[remaining[same]] = len(tags)
        tags.append(first.tobytes())
        remaining = remaining[~same]
    if len(remaining):  # many tags of one length: sort them out in one go
        rest = np.ascontiguousarray(tag_bytes[remaining]).view(np.dtype((np.void, width))).ravel()
        values, inverse = np.unique(rest, return_inverse=True)
        codes[remaining] = inverse.ravel() + len(tags)
        tags.extend(v.tobytes() for v in values)
    return codes, tags


def decode_scalars(matrix: np.ndarray) -> ScalarRows:
    """Decode the rows of ``matrix`` (``n × L`` payload bytes) that have the simple-value shape."""
    n, length = matrix.shape
    empty = ScalarRows(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.float32), np.zeros(0, np.int32), [])
    if length < 16 or n == 0:
        return empty
    candidates = np.flatnonzero(matrix[:, 0] == 0x09)
    if not len(candidates):
        return empty
    has_step = matrix[candidates, 9] == 0x10
    # Varint width: the first byte below 0x80 from column 10 on (at most 10 bytes).
    width = np.zeros(len(candidates), dtype=np.int64)
    open_ = has_step.copy()
    for j in range(min(10, length - 11)):
        ends = open_ & (matrix[candidates, 10 + j] < 0x80)
        width[ends] = j + 1
        open_ &= ~ends
    width[open_] = -1  # unterminated: not this shape
    parts: List[ScalarRows] = []
    tag_index: dict = {}
    for w in np.unique(width[has_step | (width == 0)]).tolist() if len(width) else []:
        if w < 0:
            continue
        sel = candidates[(width == w) & (has_step if w else ~has_step)]
        p = 10 + w if w else 9
        summary_len = length - p - 2
        value_len = summary_len - 2
        tag_len = value_len - 7
        if not (0 <= tag_len < 128 and value_len < 128 and summary_len < 128):
            continue
        m = matrix[sel]
        ok = (
            (m[:, p] == 0x2A)
            & (m[:, p + 1] == summary_len)
            & (m[:, p + 2] == 0x0A)
            & (m[:, p + 3] == value_len)
            & (m[:, p + 4] == 0x0A)
            & (m[:, p + 5] == tag_len)
            & (m[:, p + 6 + tag_len] == 0x15)
        )
        if w:
            ok &= ~((w == 10) & (m[:, 19] > 1))  # a 10-byte varint holds at most 64 bits
        sel, m = sel[ok], m[ok]
        if not len(sel):
            continue
        codes, tags = _distinct_tags(m[:, p + 6 : p + 6 + tag_len])
        remap = np.array([tag_index.setdefault(t, len(tag_index)) for t in tags], dtype=np.int32)
        parts.append(
            ScalarRows(
                sel,
                _step_varint(m, w) if w else np.zeros(len(sel), np.int64),
                np.ascontiguousarray(m[:, 1:9]).view("<f8").ravel(),
                np.ascontiguousarray(m[:, length - 4 :]).view("<f4").ravel(),
                remap[codes],
                [],
            )
        )
    if not parts:
        return empty
    tags_all = [t for t, _ in sorted(tag_index.items(), key=lambda kv: kv[1])]
    if len(parts) == 1:
        parts[0].tags = tags_all
        return parts[0]
    return ScalarRows(
        np.concatenate([q.rows for q in parts]),
        np.concatenate([q.step for q in parts]),
        np.concatenate([q.wall_time for q in parts]),
        np.concatenate([q.value for q in parts]),
        np.concatenate([q.tag_codes for q in parts]),
        tags_all,
    )
