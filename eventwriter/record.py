"""TFRecord framing: encode one record, and read records back with precise damage reports.

On-disk layout of one record (docs/FORMAT.md §2), all little-endian, no padding, no file header::

    uint64 length
    uint32 masked_crc32c(the 8 length bytes)
    byte   payload[length]          # one serialized Event
    uint32 masked_crc32c(payload)

Writers must emit a record with a single write so that a crash leaves at most a truncated tail,
which readers treat as "not yet complete" rather than as corruption. This module only sees bytes
and file objects; it knows nothing about events.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Callable, Iterator, List, NamedTuple

from .crc import MASK_DELTA, MASK_ROTATE, crc32c, masked_crc32c

_LENGTH = struct.Struct("<Q")
_CRC = struct.Struct("<I")
HEADER_SIZE = 12  # length + its CRC
FOOTER_SIZE = 4
# protobuf refuses messages of 2 GiB or more, so a longer length field can only be damage.
MAX_RECORD_LENGTH = (1 << 31) - 1


# A length field can claim up to 2 GiB; reading a long body in chunks means memory follows the
# bytes that are really there, not the claim (a 16-byte file must not cost a 2 GiB allocation).
_CHUNK = 1 << 24

_LEFT = 32 - MASK_ROTATE  # the rotation's other half, for the inline mask below
_headers: dict = {}  # payload length -> the 12 header bytes; small events repeat a few lengths


def encode_record(payload: bytes) -> bytes:
    """Frame ``payload`` as one TFRecord (header, payload, footer) in a single bytes object."""
    size = len(payload)
    header = _headers.get(size)
    if header is None:
        length = _LENGTH.pack(size)
        header = length + _CRC.pack(masked_crc32c(length))
        if size < 65536:
            _headers[size] = header
    crc = crc32c(payload)  # masked inline (see crc.mask): this runs once per logged event
    return header + payload + _CRC.pack((((crc >> MASK_ROTATE) | (crc << _LEFT)) + MASK_DELTA) & 0xFFFFFFFF)


def record_ends(data: bytes, start: int = 0) -> List[int]:
    """Offsets just past each whole record of ``data`` from ``start`` on, by the length fields alone.

    No CRC is checked: this splits bytes that were framed by :func:`encode_record` in this process
    (to cut a buffer at record boundaries, or count its records). Reading untrusted bytes is
    :func:`read_records`' job.
    """
    ends = []
    pos = start
    size = len(data)
    unpack = _LENGTH.unpack_from
    while pos + HEADER_SIZE <= size:
        end = pos + HEADER_SIZE + unpack(data, pos)[0] + FOOTER_SIZE
        if end > size:
            break
        ends.append(end)
        pos = end
    return ends


class RecordError(Exception):
    """Base class for problems found while reading records; ``offset`` is the record's start."""

    kind = "error"

    def __init__(self, message: str, offset: int, path: str | None = None) -> None:
        self.offset = offset
        self.path = path
        self.message = message
        where = f"{path}: " if path else ""
        super().__init__(f"{where}{self.kind} at byte {offset}: {message}")


class TruncatedRecordError(RecordError):
    """The file ends inside a record: normal for a file that is still being written."""

    kind = "truncated record"


class CorruptRecordError(RecordError):
    """A record is damaged; TensorBoard's readers stop at it for good (docs/FORMAT.md §2.1)."""

    kind = "corrupt record"


class BadLengthCrcError(CorruptRecordError):
    """The CRC of the 8-byte length field does not match."""

    kind = "bad length CRC"


class BadDataCrcError(CorruptRecordError):
    """The CRC of the payload does not match."""

    kind = "bad data CRC"


class RecordTooLargeError(CorruptRecordError):
    """The length field has a valid CRC but is absurd (at least 2 GiB)."""

    kind = "record too large"


class InvalidEventError(CorruptRecordError):
    """The payload's CRC is valid but it does not parse as an Event."""

    kind = "invalid event"


class Record(NamedTuple):
    """One record read from a file: its start ``offset`` and its ``payload`` bytes."""

    offset: int
    payload: bytes

    @property
    def size(self) -> int:
        """Bytes this record occupies on disk, framing included."""
        return HEADER_SIZE + len(self.payload) + FOOTER_SIZE


def read_records(stream: BinaryIO, path: str | None = None, start: int = 0) -> Iterator[Record]:
    """Yield the records of ``stream`` from byte ``start`` on, checking both CRCs.

    Raises:
        TruncatedRecordError: the stream ends inside a record (after all complete records).
        BadLengthCrcError, BadDataCrcError, RecordTooLargeError: the record at ``offset`` is damaged.
    """
    offset = start
    if start:
        stream.seek(start)
    read = stream.read
    while True:
        header = read(HEADER_SIZE)
        if not header:
            return
        if len(header) < HEADER_SIZE:
            raise TruncatedRecordError(f"{len(header)} of {HEADER_SIZE} header bytes", offset, path)
        length_bytes = header[:8]
        if _CRC.unpack_from(header, 8)[0] != masked_crc32c(length_bytes):
            raise BadLengthCrcError("the length field does not match its CRC", offset, path)
        (length,) = _LENGTH.unpack(length_bytes)
        if length > MAX_RECORD_LENGTH:
            raise RecordTooLargeError(f"length field says {length} bytes", offset, path)
        body = read(length + FOOTER_SIZE) if length < _CHUNK else _read_up_to(read, length + FOOTER_SIZE)
        if len(body) < length + FOOTER_SIZE:
            raise TruncatedRecordError(
                f"{len(body)} of {length + FOOTER_SIZE} payload and footer bytes", offset, path
            )
        payload = body[:length]
        if _CRC.unpack_from(body, length)[0] != masked_crc32c(payload):
            raise BadDataCrcError("the payload does not match its CRC", offset, path)
        yield Record(offset, payload)
        offset += HEADER_SIZE + length + FOOTER_SIZE


def _read_up_to(read: Callable[[int], bytes], size: int) -> bytes:
    """Read ``size`` bytes, or fewer at the end of the stream, in chunks of at most 16 MiB."""
    parts = []
    remaining = size
    while remaining:
        part = read(min(remaining, _CHUNK))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts)
