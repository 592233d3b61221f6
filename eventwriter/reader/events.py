"""Events of a file or a logdir, in TensorBoard's read order, with every damaged record named.

A truncated last record is what a live file looks like and ends the file quietly (unless
``strict``), while a damaged record raises a :class:`~eventwriter.record.CorruptRecordError` with its
file and byte offset. All file access goes through the storage seam. It never imports the writer.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional

from .. import protos
from ..logdir import PathLike, event_files, storage_of
from ..record import InvalidEventError, Record, TruncatedRecordError, read_records


@dataclass(frozen=True)
class EventRecord:
    """One event read from disk: the file it came from, its byte offset, the parsed Event and its bytes."""

    path: str
    offset: int
    event: "protos.Event"
    payload: bytes = b""


def _parse(record: Record, path: str) -> "protos.Event":
    try:
        return protos.Event.FromString(record.payload)
    except Exception as exc:  # protobuf raises DecodeError, or RuntimeWarning-ish errors on upb
        raise InvalidEventError(f"payload does not parse as an Event ({exc})", record.offset, path) from exc


def read_file_events(
    path: PathLike, strict: bool = False, storage_options: Optional[Mapping[str, Any]] = None
) -> Iterator[EventRecord]:
    """Yield the events of one event file.

    Args:
        path: the file (a local path or a URL).
        strict: raise :class:`TruncatedRecordError` for an incomplete last record instead of
            stopping quietly before it.
        storage_options: fsspec options for a URL.

    Raises:
        CorruptRecordError (and subclasses): a damaged record, with its byte offset.
        OSError: the file cannot be opened (a FIFO or other non-regular file is refused, not read).
    """
    path = os.fspath(path)
    with storage_of(path, storage_options).open_read(path) as stream:
        try:
            for record in read_records(stream, path):
                yield EventRecord(path, record.offset, _parse(record, path), record.payload)
        except TruncatedRecordError:
            if strict:
                raise


def read_events(
    path: PathLike, strict: bool = False, storage_options: Optional[Mapping[str, Any]] = None
) -> Iterator[EventRecord]:
    """Yield the events of a file, or of every event file of every run under a directory."""
    for file_path in event_files(path, storage_options):
        yield from read_file_events(file_path, strict=strict, storage_options=storage_options)


def check_event(event: "protos.Event") -> Optional[str]:
    """Return why TensorBoard would mishandle ``event`` (non-finite wall time), or None if it is fine."""
    if not math.isfinite(event.wall_time):
        return f"wall_time is {event.wall_time} (TensorBoard's default loader drops the {'file' if math.isnan(event.wall_time) else 'event'})"
    return None
