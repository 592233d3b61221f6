"""CRC-32C (Castagnoli) and the masked form TFRecord stores (docs/FORMAT.md §2).

TFRecord does not use zlib's CRC-32: it uses CRC-32C (reflected polynomial 0x82F63B78) and then
"masks" it (rotate right by 15, add 0xA282EAD8) so that a CRC computed over data that itself
contains CRCs is not trivially zero. The native ``crc32c`` wheel is ~1000x faster than Python; the
pure-Python table version below is the fallback when the wheel is missing or broken (a broken
wheel once made tensorboardX fail to import).
"""

from __future__ import annotations

import warnings
from typing import Callable

POLY = 0x82F63B78
"""CRC-32C's reflected polynomial (Castagnoli)."""
MASK_DELTA = 0xA282EAD8
"""The constant TFRecord's mask adds after rotating the CRC."""
MASK_ROTATE = 15
"""How many bits TFRecord's mask rotates the CRC right by."""
_U32 = 0xFFFFFFFF


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _make_table()


def crc32c_python(data: bytes) -> int:
    """CRC-32C of ``data`` computed in pure Python (slow; the fallback)."""
    crc = _U32
    table = _TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _U32


crc32c: Callable[[bytes], int]

try:  # the native implementation; any failure to load it falls back to Python
    from crc32c import crc32c as _crc32c_native

    if _crc32c_native(b"123456789") != 0xE3069283:  # pragma: no cover - a broken wheel
        raise ImportError("crc32c wheel returned a wrong check value")
    crc32c = _crc32c_native
    NATIVE = True
except Exception as exc:  # pragma: no cover - exercised by tests through a subprocess
    warnings.warn(
        f"eventwriter: native crc32c unavailable ({exc}); using the pure-Python CRC, which is "
        "much slower. Install the 'crc32c' package to fix this.",
        RuntimeWarning,
        stacklevel=2,
    )
    crc32c = crc32c_python
    NATIVE = False


def mask(crc: int) -> int:
    """Apply TFRecord's CRC mask: rotate right by :data:`MASK_ROTATE` bits, then add :data:`MASK_DELTA` (mod 2^32)."""
    return (((crc >> MASK_ROTATE) | (crc << (32 - MASK_ROTATE))) + MASK_DELTA) & _U32


def masked_crc32c(data: bytes) -> int:
    """Masked CRC-32C of ``data``, as stored in TFRecord headers and footers."""
    return mask(crc32c(data))
