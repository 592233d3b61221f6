"""CRC-32C of many equal-length byte strings at once, in numpy.

CRC-32C is affine over GF(2): for payloads of a fixed length ``L``, the CRC is the CRC of ``L``
zero bytes XOR the contribution of each byte, and the contribution of byte value ``b`` at position
``j`` depends only on ``(j, b)``. So one 256-entry table per position ("slicing-by-L") turns the
CRCs of ``n`` records into ``L`` table look-ups over columns of an ``n × L`` byte matrix, with no
per-record Python work. The tables for a length are built once (``L`` vector steps) and cached.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Tuple

import numpy as np

from ..crc import MASK_DELTA, MASK_ROTATE, POLY


def _byte_table() -> np.ndarray:
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ np.uint32(POLY), crc >> 1).astype(np.uint32)
    return crc


_TABLE = _byte_table()


def _zero_byte(register: np.ndarray) -> np.ndarray:
    """Advance CRC registers by one zero byte."""
    return _TABLE[register & 0xFF] ^ (register >> 8)


@lru_cache(maxsize=256)
def _position_tables(length: int) -> Tuple[np.ndarray, int]:
    """Per-position tables for ``length``-byte inputs, and the CRC of ``length`` zero bytes.

    ``tables[j, b]`` is what byte ``b`` at position ``j`` contributes to the final register: the
    one-byte step for ``b`` followed by ``length - 1 - j`` zero-byte steps.
    """
    tables = np.empty((length, 256), dtype=np.uint32)
    if length:
        current = _TABLE.copy()
        for j in range(length - 1, -1, -1):
            tables[j] = current
            current = _zero_byte(current)
    register = 0xFFFFFFFF
    for _ in range(length):
        register = int(_TABLE[register & 0xFF]) ^ (register >> 8)
    return tables, register ^ 0xFFFFFFFF


def crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-32C of each row of a 2-D ``uint8`` array (every row is one byte string), as ``uint32``."""
    if rows.ndim != 2 or rows.dtype != np.uint8:
        raise TypeError(f"rows must be a 2-D uint8 array, got {rows.dtype} with shape {rows.shape}")
    return crc32c_columns(np.ascontiguousarray(rows.T))


def crc32c_columns(columns: np.ndarray) -> np.ndarray:
    """CRC-32C of each column of a 2-D ``uint8`` array (``length × n``: byte ``j`` of every string in row ``j``)."""
    if columns.ndim != 2 or columns.dtype != np.uint8:
        raise TypeError(f"columns must be a 2-D uint8 array, got {columns.dtype} with shape {columns.shape}")
    length, n = columns.shape
    tables, zero_crc = _position_tables(length)
    out = np.full(n, zero_crc, dtype=np.uint32)
    for j in range(length):
        out ^= tables[j].take(columns[j])
    return out


def mask(crc: np.ndarray) -> np.ndarray:
    """TFRecord's CRC mask (:func:`eventwriter.crc.mask`) applied to an array of CRCs."""
    crc = crc.astype(np.uint32, copy=False)
    return ((crc >> np.uint32(MASK_ROTATE)) | (crc << np.uint32(32 - MASK_ROTATE))) + np.uint32(MASK_DELTA)


def masked_crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """Masked CRC-32C of each row of a 2-D ``uint8`` array, as stored in TFRecord footers."""
    return mask(crc32c_rows(rows))


def masked_crc32c_columns(columns: np.ndarray) -> np.ndarray:
    """Masked CRC-32C of each column of a ``length × n`` ``uint8`` array."""
    return mask(crc32c_columns(columns))
