"""Decode the common scalar record shape straight from payload bytes, without protobuf objects.

eventwriter, torch and tensorboardX all write ``add_scalar`` as the same bytes (checked on real
files)::

    09 <wall_time f64>  [10 <step varint>]  2a <n>  0a <n-2>  0a <len> <tag>  15 <value f32>

i.e. ``Event{wall_time, step, summary{value{tag, simple_value}}}`` with one-byte lengths. For a
batch of payloads of one length, every payload whose bytes follow this template exactly is
decoded with vector operations; any other is left to the protobuf path. A payload is accepted only
if every structural byte matches, so an accepted payload parses to the same Event under protobuf.
The batch comes as a ``length × n`` matrix (row ``j`` = byte ``j`` of every payload), so each
check reads one contiguous row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np


@dataclass
class ScalarRows:
    """Payloads decoded from one batch: ``rows`` indexes the batch; ``tag_codes`` index ``tags``."""

    rows: np.ndarray
    step: np.ndarray
    wall_time: np.ndarray
    value: np.ndarray  # float32
    tag_codes: np.ndarray
    tags: List[bytes] = field(default_factory=list)


def _empty() -> ScalarRows:
    return ScalarRows(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.float32), np.zeros(0, np.int32))


def _step_varint(cols: np.ndarray, width: int) -> np.ndarray:
    """Decode the ``width``-byte step varints starting at byte 10 (int64; negative steps wrap as in protobuf)."""
    step = cols[10].astype(np.uint64) & np.uint64(0x7F)
    for j in range(1, width):
        step |= (cols[10 + j].astype(np.uint64) & np.uint64(0x7F)) << np.uint64(7 * j)
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


def decode_scalars(cols: np.ndarray) -> ScalarRows:
    """Decode the payloads of ``cols`` (``L × n`` bytes) that have the simple-value shape."""
    length, n = cols.shape
    if length < 16 or n == 0:
        return _empty()
    lead = cols[0] == 0x09
    has_step = lead & (cols[9] == 0x10)
    no_step = lead & (cols[9] == 0x2A)
    # Varint width: the first byte below 0x80 from byte 10 on (at most 10 bytes).
    width = np.where(no_step, 0, -1).astype(np.int8)
    open_ = has_step.copy()
    for j in range(min(10, length - 11)):
        ends = open_ & (cols[10 + j] < 0x80)
        width[ends] = j + 1
        open_ &= ~ends
        if not open_.any():
            break
    parts: List[ScalarRows] = []
    tag_index: Dict[bytes, int] = {}
    present = np.unique(width).tolist()
    for w in present:
        if w < 0:
            continue
        p = 10 + w if w else 9
        summary_len = length - p - 2
        value_len = summary_len - 2
        tag_len = value_len - 7
        if not (0 <= tag_len < 128 and value_len < 128 and summary_len < 128):
            continue
        if len(present) == 1:
            sel, m = None, cols
        else:
            sel = np.flatnonzero(width == w)
            m = cols[:, sel]
        ok = (
            (m[p] == 0x2A)
            & (m[p + 1] == summary_len)
            & (m[p + 2] == 0x0A)
            & (m[p + 3] == value_len)
            & (m[p + 4] == 0x0A)
            & (m[p + 5] == tag_len)
            & (m[p + 6 + tag_len] == 0x15)
        )
        if w:
            ok &= m[0] == 0x09
            if w == 10:
                ok &= m[19] <= 1  # a 10-byte varint holds at most 64 bits
        elif sel is None:
            ok &= no_step
        if not ok.all():
            sel = np.flatnonzero(ok) if sel is None else sel[ok]
            m = m[:, ok]
        elif sel is None:
            sel = np.arange(n)
        if not len(sel):
            continue
        codes, tags = _distinct_tags(m[p + 6 : p + 6 + tag_len])
        remap = np.array([tag_index.setdefault(t, len(tag_index)) for t in tags], dtype=np.int32)
        parts.append(
            ScalarRows(
                sel,
                _step_varint(m, w) if w else np.zeros(len(sel), np.int64),
                np.ascontiguousarray(m[1:9].T).view("<f8").ravel(),
                np.ascontiguousarray(m[length - 4 :].T).view("<f4").ravel(),
                remap[codes],
            )
        )
    if not parts:
        return _empty()
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
