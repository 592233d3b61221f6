"""Find the records of an in-memory event file and check both CRCs of each, in numpy.

Framing is sequential by nature (a record's length says where the next one starts), but event
files repeat a few record lengths in a fixed cycle (two scalar tags alternate, say). The framer
learns the cycle from the last records it walked, predicts the next thousands of record starts at
once and verifies them in one vector step: a prediction is accepted only up to the first record
whose length field differs from the predicted one, so by induction every accepted offset is a true
record start. Where the prediction fails it walks record by record, so any file is framed exactly;
regular files are framed almost entirely by the vector steps.

The CRCs are then checked for all records at once: length CRCs through a per-length lookup, payload
CRCs with :mod:`.batch_crc` over the records of each length (native ``crc32c`` per record for long
or rare lengths). Damage ends the file at the first bad record, as in TensorBoard's readers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple, Type

import numpy as np

from ..crc import masked_crc32c
from ..record import HEADER_SIZE, MAX_RECORD_LENGTH, BadDataCrcError, BadLengthCrcError, CorruptRecordError, RecordTooLargeError
from .batch_crc import masked_crc32c_columns

_U64 = struct.Struct("<Q")
_FRAMING = HEADER_SIZE + 4  # header + footer bytes around each payload
_MAX_PERIOD = 8
_MIN_BATCH_ROWS = 16  # below this many records of one length, the native CRC per record is faster
_MAX_BATCH_LENGTH = 2048  # longer payloads: the native CRC per record is faster than columns

Damage = Tuple[Type[CorruptRecordError], int, str]
"""A damaged record: the reader's exception class for it, the record's offset and a message."""


@dataclass
class Framing:
    """The sound records of a byte buffer and how the buffer ends.

    ``offsets``/``lengths`` (int64) locate each sound record (offset of its header, payload length).
    ``end`` is the offset just past the last sound record: where a follower resumes. ``damage`` is
    ``None`` for a clean or truncated end, else the :data:`Damage` of the first damaged record;
    ``truncated`` says the buffer ends inside a record (a live file).
    """

    offsets: np.ndarray
    lengths: np.ndarray
    end: int
    truncated: bool
    damage: Optional[Damage]


def _u32_at(buf: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Little-endian uint32 at each byte offset of ``starts``."""
    out = buf.take(starts).astype(np.uint32)
    for k in (1, 2, 3):
        out |= buf.take(starts + k).astype(np.uint32) << np.uint32(8 * k)
    return out


def _u64_at(buf: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Little-endian uint64 at each byte offset of ``starts``."""
    return _u32_at(buf, starts).astype(np.uint64) | (_u32_at(buf, starts + 4).astype(np.uint64) << np.uint64(32))


def _columns_at(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``width × n`` bytes: row ``j`` holds byte ``j`` after each start (one take per row)."""
    out = np.empty((width, len(starts)), np.uint8)
    for j in range(width):
        buf.take(starts + j, out=out[j])
    return out


def _period(history: List[int]) -> int:
    """The shortest cycle (≤ 8) the last record lengths repeat with, or 0 if none is seen."""
    for p in range(1, _MAX_PERIOD + 1):
        if len(history) >= 2 * p and history[-p:] == history[-2 * p : -p]:
            return p
    return 0


def _walk(buf: np.ndarray, start: int) -> Tuple[np.ndarray, np.ndarray, int]:
    """Record starts and lengths by their length fields alone (no CRC yet), and where walking stopped."""
    size = len(buf)
    raw = buf.data  # memoryview for struct
    chunks_off: List[np.ndarray] = []
    chunks_len: List[np.ndarray] = []
    off_list: List[int] = []
    len_list: List[int] = []
    history: List[int] = []
    pos = start
    batch = 256
    walk_budget = 2 * _MAX_PERIOD  # records to walk one by one before predicting again
    while True:
        period = _period(history) if walk_budget <= 0 else 0
        if period:
            pattern = np.array(history[-period:], dtype=np.int64)
            steps = pattern + _FRAMING
            cycle = int(steps.sum())
            cycles = min(batch, (size - pos) // cycle)
            if cycles >= 1:
                within = np.concatenate(([0], np.cumsum(steps)[:-1]))
                starts = (pos + np.arange(cycles, dtype=np.int64)[:, None] * cycle + within).ravel()
                expected = np.tile(pattern, cycles)
                found = _u64_at(buf, starts)
                bad = np.flatnonzero(found != expected.astype(np.uint64))
                good = int(bad[0]) if len(bad) else len(starts)
                if good:
                    if off_list:
                        chunks_off.append(np.array(off_list, dtype=np.int64))
                        chunks_len.append(np.array(len_list, dtype=np.int64))
                        off_list, len_list = [], []
                    chunks_off.append(starts[:good])
                    chunks_len.append(expected[:good])
                    pos = int(starts[good - 1] + expected[good - 1]) + _FRAMING
                    history = [int(x) for x in expected[max(0, good - 2 * _MAX_PERIOD) : good]]
                if good == len(starts):
                    batch = min(batch * 4, 1 << 20)
                    continue
                batch = 256
            walk_budget = 2 * _MAX_PERIOD
        # one record by its length field
        if size - pos < HEADER_SIZE:
            break
        (length,) = _U64.unpack_from(raw, pos)
        if length > MAX_RECORD_LENGTH or pos + length + _FRAMING > size:
            break
        off_list.append(pos)
        len_list.append(length)
        history.append(length)
        if len(history) > 4 * _MAX_PERIOD:
            del history[: 2 * _MAX_PERIOD]
        pos += length + _FRAMING
        walk_budget -= 1
    if off_list:
        chunks_off.append(np.array(off_list, dtype=np.int64))
        chunks_len.append(np.array(len_list, dtype=np.int64))
    if chunks_off:
        return np.concatenate(chunks_off), np.concatenate(chunks_len), pos
    return np.zeros(0, np.int64), np.zeros(0, np.int64), pos


def payload_groups(lengths: np.ndarray) -> List[Tuple[int, np.ndarray]]:
    """Group record indices by payload length: ``[(length, indices), ...]``."""
    if not len(lengths):
        return []
    # Stable, so each group stays in file order; 16-bit keys get numpy's linear-time radix sort.
    order = np.argsort(lengths.astype(np.uint16) if lengths.max() < 65536 else lengths, kind="stable")
    sorted_lengths = lengths[order]
    bounds = [0, *(np.flatnonzero(np.diff(sorted_lengths)) + 1).tolist(), len(order)]
    return [(int(sorted_lengths[a]), order[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def check_payloads(buf: np.ndarray, offsets: np.ndarray, length: int, index: np.ndarray) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Check the payload CRCs of records ``index`` (all of payload ``length``).

    Returns a boolean array (CRC sound) and, when the records were checked in a batch, their
    payloads as a ``length × n`` byte matrix (one row per byte position) for decoders to reuse.
    """
    starts = offsets[index] + HEADER_SIZE
    stored = _u32_at(buf, starts + length)
    if len(index) >= _MIN_BATCH_ROWS and length <= _MAX_BATCH_LENGTH:
        columns = _columns_at(buf, starts, length)
        return masked_crc32c_columns(columns) == stored, columns
    raw = buf.data
    computed = np.fromiter((masked_crc32c(bytes(raw[s : s + length])) for s in starts.tolist()), dtype=np.uint32, count=len(starts))
    return computed == stored, None


def frame(buf: np.ndarray, start: int = 0) -> Tuple[Framing, List[Tuple[int, np.ndarray, Optional[np.ndarray]]]]:
    """Frame ``buf`` (uint8) from byte ``start`` and check every CRC.

    Returns the :class:`Framing` and, per payload length, ``(length, record indices, payload
    columns or None)`` covering exactly the sound records (see :func:`check_payloads`).
    """
    offsets, lengths, stop = _walk(buf, start)
    damage: Optional[Damage] = None
    cut = len(offsets)
    all_groups = payload_groups(lengths)
    for length, index in all_groups:  # length CRCs: one expected value per distinct length
        stored = _u32_at(buf, offsets[index] + 8)
        bad = np.flatnonzero(stored != masked_crc32c(_U64.pack(length)))
        if len(bad) and int(index[bad[0]]) < cut:
            cut = int(index[bad[0]])
            damage = (BadLengthCrcError, int(offsets[cut]), "the length field does not match its CRC")
    groups = []
    for length, index in all_groups:
        index = index[index < cut]
        if not len(index):
            continue
        ok, matrix = check_payloads(buf, offsets, length, index)
        if not ok.all():
            first = int(index[np.flatnonzero(~ok)[0]])
            if first < cut:
                cut = first
                damage = (BadDataCrcError, int(offsets[first]), "the payload does not match its CRC")
        groups.append((length, index, matrix))
    truncated = False
    if cut == len(offsets) and stop < len(buf):
        # The walk stopped before the end: a partial record (live file) or a damaged header.
        raw = buf.data
        if len(buf) - stop < HEADER_SIZE:
            truncated = True
        else:
            header_crc = int(np.frombuffer(raw[stop + 8 : stop + 12], "<u4")[0])
            if header_crc != masked_crc32c(bytes(raw[stop : stop + 8])):
                damage = (BadLengthCrcError, stop, "the length field does not match its CRC")
            elif _U64.unpack_from(raw, stop)[0] > MAX_RECORD_LENGTH:
                damage = (RecordTooLargeError, stop, f"length field says {_U64.unpack_from(raw, stop)[0]} bytes")
            else:
                truncated = True
    if cut < len(offsets):
        keep = []
        for length, index, matrix in groups:
            sel = index < cut
            if sel.all():
                keep.append((length, index, matrix))
            elif sel.any():
                keep.append((length, index[sel], None if matrix is None else np.ascontiguousarray(matrix[:, sel])))
        groups = keep
        end = int(offsets[cut])
        offsets, lengths = offsets[:cut], lengths[:cut]
    else:
        end = stop
    return Framing(offsets, lengths, end, truncated, damage), groups
