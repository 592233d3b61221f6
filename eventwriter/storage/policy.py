"""How event streams on object stores upload: one home for every default (no fsspec import).

The writer reads :data:`DEFAULT_UPLOAD_SECS` without importing fsspec; the remote backend, the
segment uploader and ``eventwriter upload-pending`` all take their figures from
:class:`UploadPolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

DEFAULT_UPLOAD_SECS = 10.0
"""Default ``upload_secs`` of :class:`eventwriter.SummaryWriter` for URL logdirs: TensorBoard
stays about ten seconds behind, and a run leaves at most one segment per 10 s of logging."""

DEFAULT_RETRY_SECS = 60.0
"""How long ``flush()``/``close()`` (and the exit hook) keep retrying transient errors."""

DEFAULT_REQUEST_SECS = 60.0
"""Longest wait for one request (connect, send, answer) before it is given up as "outcome unknown"."""

DEFAULT_MEMORY_LIMIT = 16 << 20
"""Bytes of pending records held in memory: reaching it seals a segment at once, and past it
segments that cannot be uploaded move to the spill directory."""

DEFAULT_SEGMENT_BYTES = 64 << 20
"""Largest segment (one object); a longer backlog is uploaded as several."""


@dataclass
class UploadPolicy:
    """When and how the segments of a remote event stream are uploaded.

    Attributes:
        interval: seconds after which a logged record is in the store at the latest
            (``min(flush_secs, upload_secs)`` for a SummaryWriter). While the store fails, it is
            also how long a segment waits in memory before it is written to the spill directory.
        retry_secs: total time ``flush()``/``close()`` wait for the store (requests in flight
            included) before they raise; also the exit hook's budget.
        request_secs: longest wait for one request before its outcome is taken as unknown (the
            segment is then retried under the same name, which is how a late success is found).
        memory_limit: bytes of pending records held in memory (see :data:`DEFAULT_MEMORY_LIMIT`).
        segment_bytes: largest segment.
        spill_dir: root of the spill directories (default :func:`eventwriter.storage.spill.default_root`).
    """

    interval: float = DEFAULT_UPLOAD_SECS
    retry_secs: float = DEFAULT_RETRY_SECS
    request_secs: float = DEFAULT_REQUEST_SECS
    memory_limit: int = DEFAULT_MEMORY_LIMIT
    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    spill_dir: Optional[str] = None
