"""An event stream on an object store: sealed segments, uploaded once each, in name order.

Object stores cannot append, and re-uploading a growing file makes traffic quadratic in the run's
length. So the stream collects records in memory and, at most ``interval`` seconds after the
oldest of them arrived (or at ``sync()``), seals them into a *segment*: a complete event file
(the ``file_version`` header, then the records) uploaded with one exclusive-create request under a
fresh name that sorts after the previous segment (TensorBoard reads a run's files in name order
and never goes back). Every byte is uploaded once, plus one header per segment.

Faults:

* A failed upload is retried with jittered exponential backoff, under the same name and with the
  same bytes. A retried exclusive create answered "already exists" for an object whose content
  is exactly the segment means an earlier attempt succeeded (its answer was lost): done, not a
  duplicate. Different content means a name collision with another writer: a new name is taken.
* While the store is unreachable, records keep arriving: past ``memory_limit`` bytes they move to
  a local spill directory (:mod:`eventwriter.storage.spill`), so memory stays bounded.
* ``sync()`` (behind ``flush()``/``close()``) retries for at most ``retry_secs``; then it keeps
  everything on local disk and raises ``OSError`` naming the URL, the number of pending records
  and the command that uploads them later. The background thread keeps retrying meanwhile.
"""

from __future__ import annotations

import errno
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, List, Optional

from .faults import backoff_delays, is_transient
from .spill import Spill, count_records, record_ends

if TYPE_CHECKING:
    from .remote import RemoteStorage

_HANDOFF_LAG = 0.3  # records reach the stream up to 0.2 s after they were logged (event_file.HANDOFF_SECS)


@dataclass
class UploadPolicy:
    """When and how the segments of a remote event stream are uploaded.

    Attributes:
        interval: seconds after which a logged record is in the store at the latest
            (``min(flush_secs, upload_secs)`` for a SummaryWriter).
        retry_secs: how long ``flush()``/``close()`` keep retrying before they raise.
        memory_limit: bytes of pending records held in memory before they spill to disk.
        segment_bytes: largest segment (a longer backlog is uploaded as several).
        spill_dir: root of the spill directories (default :func:`spill.default_root`).
    """

    interval: float = 10.0
    retry_secs: float = 60.0
    memory_limit: int = 16 << 20
    segment_bytes: int = 64 << 20
    spill_dir: Optional[str] = None


@dataclass
class _Segment:
    name: str
    data: bytes
    records: int
    spill_end: Optional[int]  # records.bin offset to commit once uploaded (None: not from the spill)
    spill_records: int


class RemoteEventStream:
    """The :class:`eventwriter.storage.EventStream` of :class:`eventwriter.storage.remote.RemoteStorage`."""

    def __init__(
        self,
        storage: "RemoteStorage",
        directory: str,
        new_name: Callable[[], str],
        header: bytes,
        max_file_bytes: Optional[int],
        policy: UploadPolicy,
        suffix: str = "",
    ) -> None:
        self._storage = storage
        self._directory = directory
        self._new_name = new_name
        self._header = header
        self._policy = policy
        self._segment_cap = max(1, min(policy.segment_bytes, max_file_bytes or policy.segment_bytes) - len(header))
        self._cond = threading.Condition()  # guards the memory queue and the flags
        self._upload_lock = threading.Lock()  # one upload at a time; guards _inflight and _spill
        self._chunks: List[bytes] = []
        self._chunk_bytes = 0
        self._chunk_records = 0
        self._oldest: Optional[float] = None  # monotonic arrival of the oldest record not uploaded
        self._retry_at: Optional[float] = None
        self._spill = Spill(policy.spill_dir, directory, suffix, header)
        self._inflight: Optional[_Segment] = None
        self._name = new_name()
        self._last_name = ""
        self._closed = False
        self._released = False
        self._thread: Optional[threading.Thread] = None
        self.segments_uploaded = 0

    # -- EventStream -----------------------------------------------------------------------

    @property
    def path(self) -> str:
        """URL of the segment being collected (the next one to be uploaded)."""
        return self._storage.join(self._directory, self._name)

    def write(self, data: bytes) -> None:
        """Queue whole records; they are uploaded within the policy's interval."""
        records = count_records(data)
        with self._cond:
            if self._closed:
                raise ValueError(f"event stream {self.path!r} is closed")
            self._chunks.append(data)
            self._chunk_bytes += len(data)
            self._chunk_records += records
            if self._oldest is None:
                self._oldest = time.monotonic()
            over = self._chunk_bytes > self._policy.memory_limit
            self._cond.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="eventwriter-uploader", daemon=True)
                self._thread.start()
        if over:
            self._spill_memory()

    def sync(self) -> None:
        """Upload everything written so far; raise ``OSError`` after ``retry_secs`` of failures."""
        deadline = time.monotonic() + self._policy.retry_secs
        delays = backoff_delays()
        with self._upload_lock:
            while True:
                try:
                    if not self._upload_step():
                        return
                    delays = backoff_delays()
                except Exception as exc:
                    delay = next(delays)
                    if not is_transient(exc) or time.monotonic() + delay > deadline:
                        self._give_up(exc)
                    time.sleep(delay)

    def close(self) -> None:
        """Upload everything, then stop the background uploader; a failed close may be retried."""
        if self._closed:
            return
        self.sync()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def release(self) -> None:
        """For a writer dropped without close(): the background thread uploads what is left, then ends."""
        with self._cond:
            self._released = True
            if self._thread is None and (self._chunks or self._inflight is not None):
                self._thread = threading.Thread(target=self._run, name="eventwriter-uploader", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def abandon(self) -> None:
        """After fork(), in the child: the parent uploads what was queued; drop it all here."""
        self._cond = threading.Condition()
        self._upload_lock = threading.Lock()
        self._chunks, self._chunk_bytes, self._chunk_records = [], 0, 0
        self._inflight = None
        self._spill = Spill(self._policy.spill_dir, self._directory, "", self._header)
        self._closed = True
        self._thread = None

    # -- internals -------------------------------------------------------------------------

    def _pending(self) -> bool:
        return bool(self._chunks) or self._inflight is not None or self._spill.pending_bytes > 0

    def _run(self) -> None:
        """Background uploader: one attempt when the oldest record is due, backoff after failures."""
        delays = backoff_delays(cap=30.0)
        while True:
            with self._cond:
                while True:
                    if self._closed:
                        return
                    if self._released and not self._pending():
                        return
                    now = time.monotonic()
                    if self._retry_at is not None:
                        due: Optional[float] = self._retry_at
                    elif self._oldest is not None or self._inflight is not None or self._spill.pending_bytes:
                        base = self._oldest if self._oldest is not None else now
                        due = base + max(0.0, self._policy.interval - _HANDOFF_LAG)
                    else:
                        due = None
                    if self._released and due is not None:
                        due = min(due, now)
                    if due is not None and due <= now:
                        break
                    self._cond.wait(None if due is None else due - now)
            if not self._upload_lock.acquire(timeout=1.0):
                continue  # sync() in the caller's thread is uploading
            try:
                self._upload_step()
                self._retry_at = None
                delays = backoff_delays(cap=30.0)
            except Exception:
                self._retry_at = time.monotonic() + next(delays)
            finally:
                self._upload_lock.release()

    def _spill_memory(self) -> None:
        with self._upload_lock:
            with self._cond:
                if self._chunk_bytes <= self._policy.memory_limit:
                    return
                chunks, records = self._chunks, self._chunk_records
                self._chunks, self._chunk_bytes, self._chunk_records = [], 0, 0
            self._spill.append(b"".join(chunks), records)

    def _seal(self) -> Optional[_Segment]:
        """The next segment: the spilled backlog first (the oldest records), then the memory queue."""
        body = b""
        records = 0
        spill_end: Optional[int] = None
        spill_records = 0
        if self._spill.pending_bytes:
            body, spill_records, spill_end = self._spill.take(self._segment_cap)
            records = spill_records
        if not self._spill.pending_bytes or spill_end == self._spill._size:
            with self._cond:
                room = self._segment_cap - len(body)
                taken: List[bytes] = []
                size = 0
                while self._chunks and (size + len(self._chunks[0]) <= room or (not body and not taken)):
                    chunk = self._chunks.pop(0)
                    taken.append(chunk)
                    size += len(chunk)
                memory = b"".join(taken)
                if not body and len(memory) > room:  # one oversized write: split at record boundaries
                    ends = [e for e in record_ends(memory) if e <= room] or record_ends(memory)[:1]
                    self._chunks.insert(0, memory[ends[-1]:])
                    memory = memory[: ends[-1]]
                n = count_records(memory)
                self._chunk_bytes = sum(len(c) for c in self._chunks)
                self._chunk_records -= n
                if not self._chunks:
                    self._oldest = None
                body += memory
                records += n
        if not body:
            return None
        name = self._name
        if name <= self._last_name:  # a clock step back: never sort before the previous segment
            name = self._last_name + ".1"
        return _Segment(name, self._header + body, records, spill_end, spill_records)

    def _upload_step(self) -> bool:
        """Upload one segment (``_upload_lock`` held). True if more is pending afterwards."""
        if self._inflight is None:
            self._inflight = self._seal()
            if self._inflight is None:
                return False
        segment = self._inflight
        for _ in range(100):
            url = self._storage.join(self._directory, segment.name)
            try:
                self._storage.ops.put_new(url, segment.data)
                break
            except FileExistsError:
                if self._storage.read_bytes(url) == segment.data:
                    break  # an earlier attempt succeeded; its answer was lost
                segment.name = self._new_name()  # another writer's object: take a fresh name
        else:
            raise FileExistsError(errno.EEXIST, f"no free segment name in {self._directory!r}")
        self._inflight = None
        self.segments_uploaded += 1
        self._last_name = segment.name
        self._name = self._new_name()
        if segment.spill_end is not None:
            self._spill.commit(segment.spill_end, segment.spill_records)
        self._spill.clear_inflight()
        return self._pending()

    def _give_up(self, exc: BaseException) -> None:
        """Keep everything pending on local disk and raise the error flush()/close() report."""
        with self._cond:
            chunks, records = self._chunks, self._chunk_records
            self._chunks, self._chunk_bytes, self._chunk_records = [], 0, 0
            self._oldest = None
        try:
            if chunks:
                self._spill.append(b"".join(chunks), records)
            if self._inflight is not None:
                self._spill.save_inflight(self._inflight.name, self._inflight.data)
        except OSError as disk:  # the local disk failed too: keep the records in memory instead
            with self._cond:
                self._chunks.insert(0, b"".join(chunks))
                self._chunk_bytes += sum(len(c) for c in chunks)
                self._chunk_records += records
            raise OSError(errno.EIO, f"cannot upload to {self._directory} ({exc}) nor keep the records on local disk ({disk})") from exc
        pending = self._spill.records + (self._inflight.records - self._inflight.spill_records if self._inflight else 0)
        message = (
            f"cannot upload to {self._directory}: {pending} records pending, kept in {self._spill.path}; "
            f"the next flush()/close() retries, or run `eventwriter upload-pending {self._spill.path}` "
            f"(last error: {type(exc).__name__}: {exc})"
        )
        error = OSError(errno.EIO, message)
        error.pending_records = pending  # type: ignore[attr-defined]
        error.spill_dir = self._spill.path  # type: ignore[attr-defined]
        raise error from exc
