"""An event stream on an object store: sealed segments, uploaded once each, in name order.

Object stores cannot append, and re-uploading a growing file makes traffic quadratic in the run's
length. So the stream collects records in memory and, at most ``interval`` seconds after the
oldest of them arrived (at once when they reach the memory limit, or at ``sync()``), seals them
into a *segment*: a complete event file (the ``file_version`` header, then the records) uploaded
with one exclusive-create request under a name that sorts after the previous segment
(TensorBoard reads a run's files in name order and never goes back). Every byte is uploaded once,
plus one header per segment.

Threads, and why nothing waits on the network but the uploader's requests:

* ``write()`` (the event file's hand-off, from the shared flusher or a training thread) appends to
  memory under a short lock and returns. It never touches the network or the disk.
* One manager thread per stream seals, writes to the spill directory and schedules requests. It
  never holds a lock that ``write()`` waits on across I/O.
* Each request runs in a worker thread of its own, with a timeout (cancelled on async stores), so
  a store that hangs or trickles delays neither the manager nor anyone else.
* ``sync()``/``close()`` wait on a condition with one deadline (``retry_secs``), requests in flight
  included, then give up: everything not stored is on local disk and the error says where.

Faults:

* A failed upload is retried with jittered exponential backoff, under the same name and with the
  same bytes (a sealed segment never changes). A retried exclusive create answered "already
  exists" for an object whose content is exactly the segment means an earlier attempt succeeded
  (its answer was lost): done, not a duplicate. Different content means another writer's object:
  a fresh name is taken (and recorded on disk first, if the segment is there).
* While the store fails (an attempt failed, or one has been in flight for longer than
  ``interval``), every sealed segment is written to the spill directory
  (:mod:`eventwriter.storage.spill`) and dropped from memory: a SIGKILL during an outage loses at
  most the records of the last ``interval`` or two. Past ``memory_limit`` bytes, segments waiting
  for upload are written there too. A healthy store never needs the disk.
* Permanent refusals (:func:`eventwriter.storage.faults.is_permanent`: missing bucket, access
  denied, bad credentials) are not retried: the records go to the spill directory and every later
  call of the writer raises :class:`~eventwriter.storage.errors.UploadError` until it is closed.
* If the spill directory cannot be written either, the records stay in memory (nothing is torn
  or lost while the process lives) and the error says so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
import time
from collections import deque
from typing import Callable, Deque, List, Optional, Protocol, Set

from ..record import record_ends
from .errors import UploadError
from .faults import backoff_delays, describe, is_permanent, remedy
from .policy import UploadPolicy
from .spill import SpillDir, count_records

_HANDOFF_LAG = 0.3  # records reach the stream up to 0.2 s after they were logged (event_file.HANDOFF_SECS)
_ABANDON_GRACE = 5.0  # a request past its timeout by this much is abandoned (stores that ignore cancellation)
_MAX_ABANDONED = 2  # requests left running in the background per stream, at most
_DISK_RETRY_SECS = 2.0  # after the spill directory refused, wait this long before writing to it again
_PERSIST_GRACE = 30.0  # how long a giving-up sync() waits for the manager to put everything on disk
_MAX_NAMES = 100  # fresh names tried for one segment before giving up (other writers' objects)


class SegmentStore(Protocol):
    """What uploading a segment needs of a store (:class:`eventwriter.storage.remote.RemoteStorage` has it)."""

    def join(self, base: str, *parts: str) -> str:
        """``base/part/...``."""

    def put_new(self, url: str, data: bytes, timeout: Optional[float] = None) -> None:
        """Create ``url`` with ``data`` in one request; ``FileExistsError`` if the name is taken."""

    def read_object(self, url: str, timeout: Optional[float] = None) -> Optional[bytes]:
        """The object's bytes, or None if there is none."""


def upload_segment(
    store: SegmentStore,
    directory: str,
    name: str,
    data: bytes,
    fresh_name: Callable[[], str],
    timeout: Optional[float] = None,
    before_rename: Optional[Callable[[str], None]] = None,
) -> str:
    """Create the segment ``data`` in ``directory`` exclusively; returns the name it is stored under.

    Tries ``name`` first. An object already there with exactly ``data`` is an earlier attempt of
    ours whose answer was lost: done, nothing sent twice. An object with other bytes is another
    writer's: ``fresh_name()`` gives the next name to try, and ``before_rename(new_name)`` is
    called before anything is sent under it (a caller that keeps the segment on disk records the
    name there first, so a later retry checks it before sending again).

    Used by the writer's uploader and by ``eventwriter upload-pending``. One attempt: errors are
    raised for the caller to retry with the same name (``timeout`` bounds each request).

    Raises:
        FileExistsError: ``_MAX_NAMES`` names in a row were taken.
        OSError: the store failed, or answered "exists" for a name that holds nothing (a
            transient glitch: retry under the same name).
    """
    deadline = None if timeout is None else time.monotonic() + timeout

    def left() -> Optional[float]:
        return None if deadline is None else max(0.001, deadline - time.monotonic())

    for _ in range(_MAX_NAMES):
        url = store.join(directory, name)
        try:
            store.put_new(url, data, left())
            return name
        except FileExistsError:
            existing = store.read_object(url, left())
            if existing == data:
                return name  # an earlier attempt succeeded; its answer was lost
            if existing is None:
                raise OSError(errno.EAGAIN, f"{url}: the store answered 'already exists' but holds no such object; retried later") from None
            name = fresh_name()
            if before_rename is not None:
                before_rename(name)
    raise FileExistsError(errno.EEXIST, f"no free segment name in {directory!r} after {_MAX_NAMES} tries")


class _Segment:
    """A sealed segment: its name and bytes never change, except the name on a collision."""

    __slots__ = ("seq", "name", "data", "size", "records", "end", "sealed", "spilled", "lock")

    def __init__(self, seq: int, name: str, data: bytes, end: int, sealed: float) -> None:
        self.seq = seq
        self.name = name
        self.data: Optional[bytes] = data  # None once it lives only in the spill directory
        self.size = len(data)
        self.records: Optional[int] = None  # counted by the manager, outside the stream's lock
        self.end = end  # the stream's byte count once this segment is stored
        self.sealed = sealed
        self.spilled = False
        self.lock = threading.Lock()  # orders renames (request worker) and spilling (manager)

    def count(self) -> int:
        if self.records is None:
            data = self.data
            self.records = count_records(data) if data is not None else 0
        return self.records


class _Request:
    """One upload attempt running in a worker thread."""

    __slots__ = ("segment", "started", "give_up_at", "done", "error", "abandoned", "thread")

    def __init__(self, segment: _Segment, started: float, give_up_at: float) -> None:
        self.segment = segment
        self.started = started
        self.give_up_at = give_up_at
        self.done = False
        self.error: Optional[BaseException] = None
        self.abandoned = False
        self.thread: Optional[threading.Thread] = None


# Streams whose manager thread runs (strong references: a dropped writer's stream must live until
# it has uploaded). The interpreter-exit hook waits for them (:func:`finish_all`).
_active: Set["RemoteEventStream"] = set()
_active_lock = threading.Lock()


class RemoteEventStream:
    """The :class:`eventwriter.storage.EventStream` of an object store (see the module docstring).

    Args:
        store: where segments go (:class:`SegmentStore`).
        directory: URL of the run directory.
        new_name: gives a fresh event file name, each sorting after the previous one.
        header: the ``file_version`` record every segment starts with.
        max_file_bytes: largest segment, header included (None: the policy's ``segment_bytes``).
        policy: cadence, budgets, memory limit and spill root.
    """

    def __init__(
        self,
        store: SegmentStore,
        directory: str,
        new_name: Callable[[], str],
        header: bytes,
        max_file_bytes: Optional[int],
        policy: UploadPolicy,
    ) -> None:
        self._store = store
        self._directory = directory
        self._new_name = new_name
        self._header = header
        self._policy = policy
        self._segment_cap = max(1, min(policy.segment_bytes, max_file_bytes or policy.segment_bytes) - len(header))
        self._lock = threading.Lock()  # short critical sections only, never across I/O
        self._cond = threading.Condition(self._lock)
        self._mem: List[bytes] = []
        self._mem_bytes = 0
        self._mem_since: Optional[float] = None  # monotonic arrival of the oldest record in memory
        self._written = 0  # bytes accepted by write()
        self._sealed = 0  # bytes sealed into segments
        self._stored = 0  # bytes in the store (segments are stored in order)
        self._seal_to = 0  # sync()/close()/release() want everything up to here sealed now
        self._queue: Deque[_Segment] = deque()
        self._seq = 0
        self._next_name = new_name()
        self._request: Optional[_Request] = None
        self._abandoned: List[threading.Thread] = []
        self._retry_at: Optional[float] = None
        self._delays = backoff_delays(cap=10.0)
        self._failures = 0  # consecutive failed attempts
        self._last_error: Optional[BaseException] = None
        self._error: Optional[UploadError] = None  # permanent: raised by every later call
        self._reported = False  # the permanent error (or a give-up) reached the user
        self._spill: Optional[SpillDir] = None
        self._disk_error: Optional[OSError] = None
        self._disk_retry_at = 0.0
        self._persist_asked = 0  # give-ups ask the manager to put everything on disk ...
        self._persist_done = 0  # ... and it answers with the number of the request it served
        self._released = False
        self._closed = False
        self._thread: Optional[threading.Thread] = None
        self.segments_uploaded = 0

    # -- EventStream -----------------------------------------------------------------------

    @property
    def path(self) -> str:
        """URL of the next segment to be sealed."""
        return self._store.join(self._directory, self._next_name)

    def write(self, data: bytes) -> None:
        """Queue whole records in memory; the manager uploads them within the policy's interval.

        Raises:
            UploadError: the store refused for good (the records were still accepted: they go to
                the spill directory, and the error's ``written`` says all of them were taken).
            ValueError: the stream is closed.
        """
        with self._lock:
            if self._closed:
                raise ValueError(f"event stream {self.path!r} is closed")
            self._mem.append(data)
            self._mem_bytes += len(data)
            self._written += len(data)
            if self._mem_since is None:
                self._mem_since = time.monotonic()
                self._cond.notify_all()
            elif self._mem_bytes >= self._policy.memory_limit:
                self._cond.notify_all()
            self._start_manager_locked()
            if self._error is None:
                return
            self._reported = True
            raised = self._refusal_locked()
        raised.written = len(data)  # type: ignore[attr-defined]
        raise raised

    def sync(self, deadline: Optional[float] = None) -> None:
        """Return once everything written so far is in the store.

        ``deadline`` (``time.monotonic()``) defaults to now plus the policy's ``retry_secs``.

        Raises:
            UploadError: the store refused for good, or the deadline passed: the records not
                stored are in the spill directory the error names (the manager keeps retrying).
        """
        self._wait_stored(deadline)

    def close(self, deadline: Optional[float] = None) -> None:
        """Upload everything, then stop; a close that raised may be retried (unless the error is permanent)."""
        if self._closed:
            return
        try:
            self._wait_stored(deadline)
        except UploadError as exc:
            if exc.permanent:
                self._shut(release_spill=True)
            raise
        self._shut(release_spill=True)

    def release(self) -> None:
        """For a writer dropped without close(): the manager uploads everything now, then ends."""
        with self._lock:
            if self._closed:
                return
            self._released = True
            self._seal_to = self._written
            self._retry_at = None
            if self._mem or self._queue or self._request is not None:
                self._start_manager_locked()
            self._cond.notify_all()

    def abandon(self) -> None:
        """After fork(), in the child: the parent uploads what was queued; drop it all here."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._mem, self._mem_bytes, self._mem_since = [], 0, None
        self._queue = deque()
        self._request = None
        self._abandoned = []
        self._spill = None  # its lock descriptor was closed in the child (spill.py); the parent keeps it
        self._closed = True
        self._thread = None

    # -- waiting (caller threads) ----------------------------------------------------------

    def _wait_stored(self, deadline: Optional[float]) -> None:
        if deadline is None:
            deadline = time.monotonic() + self._policy.retry_secs
        with self._lock:
            if self._closed:
                return
            target = self._written
            self._seal_to = max(self._seal_to, target)
            if self._request is None:
                self._retry_at = None  # the caller waits: try again now, not after the backoff
            self._start_manager_locked()
            self._cond.notify_all()
            while self._stored < target and self._error is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if self._stored >= target:
                return
        raise self._give_up()

    def _give_up(self) -> UploadError:
        """Ask the manager to put everything not stored on disk (bounded wait), then describe it."""
        with self._lock:
            self._persist_asked += 1
            asked = self._persist_asked
            self._start_manager_locked()
            self._cond.notify_all()
            until = time.monotonic() + _PERSIST_GRACE
            while self._persist_done < asked and self._thread is not None:
                left = until - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._reported = True
            return self._error_locked()

    def _error_locked(self) -> UploadError:
        """The error to raise now: pending records, where they are kept, and what to do."""
        segments = list(self._queue)
        in_memory = len(record_ends(b"".join(self._mem))) if self._mem else 0
        pending = sum(s.count() for s in segments) + in_memory
        unsaved = sum(s.count() for s in segments if not s.spilled) + in_memory
        spill_dir = self._spill.path if self._spill is not None else ""
        if not pending:
            where = ""
        elif spill_dir and not unsaved:
            where = f", kept in {spill_dir}"
        elif spill_dir:
            where = f", kept in {spill_dir} except {unsaved} held in memory only"
        else:
            where = ", held in memory only"
        if unsaved and self._disk_error is not None:
            where += f" (the spill directory refused them: {self._disk_error})"
        base = self._error
        if base is not None:
            text = f"{base.strerror}; {pending} records pending{where}"
            if spill_dir:
                text += f"; once that is fixed, run `eventwriter upload-pending {spill_dir}`"
            error = UploadError(text, url=self._directory, pending_records=pending, spill_dir=spill_dir,
                                unsaved_records=unsaved, permanent=True)
            error.cause = base.cause
            return error
        last = self._last_error
        reason = describe(last) if last is not None else "no answer in time"
        text = (f"cannot upload to {self._directory} within {self._policy.retry_secs:g} s ({reason}); "
                f"{pending} records pending{where}: the next flush()/close() retries")
        if spill_dir:
            text += f", and once this process has ended `eventwriter upload-pending {spill_dir}` uploads them"
        error = UploadError(text, url=self._directory, pending_records=pending, spill_dir=spill_dir, unsaved_records=unsaved)
        error.cause = last
        return error

    def _refusal_locked(self) -> UploadError:
        """The permanent error as later calls raise it: what went wrong, what to do, where the records are."""
        base = self._error
        assert base is not None
        text = base.strerror or ""
        spill_dir = self._spill.path if self._spill is not None else ""
        if spill_dir:
            text += (f"; the records logged so far are kept in {spill_dir}: once that is fixed, close the "
                     f"writer and run `eventwriter upload-pending {spill_dir}`")
        error = UploadError(text, url=self._directory, spill_dir=spill_dir, permanent=True)
        error.cause = base.cause
        return error

    def _shut(self, release_spill: bool) -> None:
        with self._lock:
            self._closed = True
            spill = self._spill
            self._cond.notify_all()
        if release_spill and spill is not None:
            spill.release()  # upload-pending may take over now, even while this process lives

    # -- the manager thread ----------------------------------------------------------------

    def _start_manager_locked(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="eventwriter-uploader", daemon=True)
            with _active_lock:
                _active.add(self)
            self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    action = self._next_action()
                if action is None:
                    return
                try:
                    action()
                except Exception as exc:  # a bug must not stop the uploads: the records stay queued
                    with self._lock:
                        self._last_error = exc
                        self._failures += 1
                        self._retry_at = time.monotonic() + next(self._delays)
                    time.sleep(0.1)
        finally:
            with self._lock:
                self._thread = None
                self._cond.notify_all()
            with _active_lock:
                _active.discard(self)

    def _troubled(self, now: float) -> bool:
        """The store is failing: an attempt failed, or the current one is overdue."""
        if self._failures or self._error is not None:
            return True
        request = self._request
        return request is not None and now - request.started > self._policy.interval

    def _next_action(self) -> Optional[Callable[[], None]]:
        """What the manager does next (lock held); waits until something is due. None: exit."""
        while True:
            now = time.monotonic()
            if self._closed:
                return None
            request = self._request
            if request is not None:
                if request.done:
                    self._request = None
                    return lambda: self._finished(request)
                if now >= request.give_up_at:
                    self._abandon_locked(request, now)
                    continue
            self._abandoned = [t for t in self._abandoned if t.is_alive()]
            if self._mem and self._seal_due(now):
                self._seal_locked(now)
                return self._count_new
            if self._persist_done < self._persist_asked:
                asked = self._persist_asked
                return lambda: self._persist_everything(asked)
            victim = self._to_persist(now)
            if victim is not None:
                return lambda: self._persist_one(victim)
            if (
                self._request is None
                and self._queue
                and self._error is None
                and (self._retry_at is None or now >= self._retry_at)
                and len(self._abandoned) < _MAX_ABANDONED
            ):
                return self._start_request
            if self._released and not self._mem and self._request is None:
                if not self._queue:
                    return None  # a dropped writer's records are all stored
                if self._error is not None and all(s.spilled for s in self._queue):
                    return self._retire  # refused for good, everything on disk: upload-pending's now
            self._cond.wait(self._wake_in(now))

    def _retire(self) -> None:
        """A released stream the store refused for good: its segments are on disk; let go of them."""
        with self._lock:
            self._closed = True
            spill = self._spill
            self._cond.notify_all()
        if spill is not None:
            spill.release()

    def _seal_due(self, now: float) -> bool:
        if self._seal_to > self._sealed or self._released or self._error is not None:
            return True
        if self._mem_bytes >= self._policy.memory_limit:
            return True
        return self._mem_since is not None and now >= self._mem_since + max(0.0, self._policy.interval - _HANDOFF_LAG)

    def _wake_in(self, now: float) -> Optional[float]:
        """Seconds until the next timer (None: until notified)."""
        times = []
        if self._mem_since is not None:
            times.append(self._mem_since + max(0.0, self._policy.interval - _HANDOFF_LAG))
        if self._request is not None:
            times.append(self._request.give_up_at)
            times.append(self._request.started + self._policy.interval + 0.01)  # when it becomes overdue
        elif self._queue and self._retry_at is not None and self._error is None:
            times.append(self._retry_at)
        if self._abandoned:
            times.append(now + 1.0)
        if any(not s.spilled for s in self._queue) and self._disk_error is not None:
            times.append(self._disk_retry_at)
        for segment in self._queue:
            if not segment.spilled:
                times.append(segment.sealed + self._policy.interval)
                break
        # Only timers still ahead: one already past was acted on, or is gated by another (the
        # disk's retry time, the abandoned requests), whose own timer is in the list.
        ahead = [t for t in times if t > now]
        if not ahead:
            return None
        return max(0.005, min(ahead) - now)

    def _seal_locked(self, now: float) -> None:
        """Move the memory queue into sealed segments (lock held: joins bytes, no I/O)."""
        cap = self._segment_cap
        while self._mem:
            taken: List[bytes] = []
            size = 0
            while self._mem and (not taken or size + len(self._mem[0]) <= cap):
                chunk = self._mem.pop(0)
                taken.append(chunk)
                size += len(chunk)
            body = b"".join(taken) if len(taken) > 1 else taken[0]
            if len(body) > cap:  # one hand-off larger than a segment: cut it at a record boundary
                ends = [e for e in record_ends(body) if e <= cap] or record_ends(body)[:1]
                if ends and ends[-1] < len(body):
                    self._mem.insert(0, body[ends[-1]:])
                    body = body[: ends[-1]]
            self._mem_bytes -= len(body)
            self._sealed += len(body)
            self._seq += 1
            self._queue.append(_Segment(self._seq, self._next_name, self._header + body, self._sealed, now))
            self._next_name = self._new_name()
        self._mem_since = None
        self._mem_bytes = 0

    def _count_new(self) -> None:
        """Count the records of fresh segments outside the lock (for messages)."""
        with self._lock:
            fresh = [s for s in self._queue if s.records is None]
        for segment in fresh:
            segment.count()

    def _to_persist(self, now: float) -> Optional[_Segment]:
        """The next segment that should be on local disk, if the disk may be tried now."""
        if now < self._disk_retry_at:
            return None
        in_flight = self._request.segment if self._request is not None else None
        troubled = self._troubled(now)
        in_memory = self._mem_bytes + sum(s.size for s in self._queue if s.data is not None)
        for segment in self._queue:
            if segment.spilled:
                continue
            if troubled or now - segment.sealed >= self._policy.interval:
                return segment
            if in_memory > self._policy.memory_limit and segment is not in_flight:
                return segment
        return None

    # -- manager actions (no lock held on entry) -------------------------------------------

    def _ensure_spill(self) -> SpillDir:
        if self._spill is None:
            self._spill = SpillDir.create(self._policy.spill_dir, self._directory)
        return self._spill

    def _persist(self, segment: _Segment) -> bool:
        """Write one segment to the spill directory and drop it from memory. False if the disk refused."""
        try:
            spill = self._ensure_spill()
            with segment.lock:
                data = segment.data
                if segment.spilled or data is None:
                    return True
                spill.add(segment.seq, segment.name, data, segment.count())
                segment.spilled = True
        except OSError as exc:
            with self._lock:
                # The records stay in memory (nothing was removed); the disk is tried again later.
                self._disk_error = exc
                self._disk_retry_at = time.monotonic() + _DISK_RETRY_SECS
                self._cond.notify_all()
            return False
        with self._lock:
            segment.data = None
            self._disk_error = None
            self._cond.notify_all()
        return True

    def _persist_one(self, segment: _Segment) -> None:
        self._persist(segment)

    def _persist_everything(self, asked: int) -> None:
        """A giving-up sync(): seal what is in memory and put every segment not stored on disk."""
        with self._lock:
            if self._mem:
                self._seal_locked(time.monotonic())
            pending = [s for s in self._queue if not s.spilled]
        for segment in pending:
            if not self._persist(segment):
                break  # the disk refuses: the error says how many records are in memory only
        with self._lock:
            self._persist_done = max(self._persist_done, asked)
            self._cond.notify_all()

    def _start_request(self) -> None:
        with self._lock:
            if self._request is not None or not self._queue:
                return
            segment = self._queue[0]
            data = segment.data
        if data is None:  # it lives in the spill directory only
            try:
                if self._spill is None:
                    raise FileNotFoundError(errno.ENOENT, f"segment {segment.name} is neither in memory nor on disk")
                data = self._spill.read(segment.seq)
            except OSError as exc:
                with self._lock:
                    self._disk_error = exc
                    self._disk_retry_at = time.monotonic() + _DISK_RETRY_SECS
                    self._retry_at = self._disk_retry_at
                    self._cond.notify_all()
                return
        now = time.monotonic()
        request = _Request(segment, now, now + self._policy.request_secs + _ABANDON_GRACE)
        thread = threading.Thread(target=self._attempt, args=(request, data), name="eventwriter-upload", daemon=True)
        request.thread = thread
        with self._lock:
            self._request = request
        thread.start()

    def _attempt(self, request: _Request, data: bytes) -> None:
        """The worker: one upload of the segment (a fresh name on a collision)."""
        segment = request.segment

        def before_rename(name: str) -> None:
            if request.abandoned:
                raise OSError(errno.ECANCELED, "request abandoned")
            with segment.lock:
                if segment.spilled and self._spill is not None:
                    self._spill.rename(segment.seq, name, segment.count())  # on disk before it is sent
                segment.name = name

        error: Optional[BaseException] = None
        try:
            upload_segment(self._store, self._directory, segment.name, data, self._new_name,
                           timeout=self._policy.request_secs, before_rename=before_rename)
        except BaseException as exc:  # any failure of the attempt is the manager's to judge
            error = exc
        with self._lock:
            request.done = True
            request.error = error
            self._cond.notify_all()

    def _abandon_locked(self, request: _Request, now: float) -> None:
        """A request past its timeout on a store that ignored the cancellation: its outcome is
        unknown; the segment is retried under the same name (a late success is found that way)."""
        request.abandoned = True
        if request.thread is not None:
            self._abandoned.append(request.thread)
        self._request = None
        self._failures += 1
        self._last_error = TimeoutError(f"no answer within {self._policy.request_secs:g} s")
        self._retry_at = now + next(self._delays)

    def _finished(self, request: _Request) -> None:
        """Handle the outcome of the request (lock not held)."""
        segment = request.segment
        error = request.error
        if error is None:
            with self._lock:
                if self._queue and self._queue[0] is segment:
                    self._queue.popleft()
                self._stored = max(self._stored, segment.end)
                self.segments_uploaded += 1
                self._failures = 0
                self._last_error = None
                self._retry_at = None
                self._delays = backoff_delays(cap=10.0)
                spill = self._spill if segment.spilled else None
                self._cond.notify_all()
            if spill is not None:
                try:
                    spill.remove(segment.seq)
                    with self._lock:
                        empty = not any(s.spilled for s in self._queue)
                    if empty and spill.discard_if_empty():
                        with self._lock:
                            if self._spill is spill:
                                self._spill = None
                except OSError:
                    pass  # a leftover file is found by upload-pending, which checks the store first
            return
        if is_permanent(error):
            how = remedy(error)
            what = describe(error)
            refusal = UploadError(f"cannot upload to {self._directory}: " + (f"{how} ({what})" if how else what),
                                  url=self._directory, permanent=True)
            refusal.cause = error
            with contextlib.suppress(OSError):  # where the records will be kept, for the message
                self._ensure_spill()
            with self._lock:
                self._failures += 1
                self._last_error = error
                self._error = refusal
                self._cond.notify_all()
            return
        with self._lock:
            self._failures += 1
            self._last_error = error
            self._retry_at = time.monotonic() + next(self._delays)
            self._cond.notify_all()

    # -- interpreter exit ------------------------------------------------------------------

    def _begin_exit(self) -> bool:
        """Seal everything and upload it now (as for a dropped writer). True if a failure of this
        stream already reached the user (then a permanent one is not reported again)."""
        with self._lock:
            reported = self._reported
            if not self._closed:
                self._released = True
                self._seal_to = self._written
                self._retry_at = None
                self._start_manager_locked()
                self._cond.notify_all()
            return reported

    def _finish_at_exit(self, deadline: float, reported: bool) -> Optional[str]:
        """Wait until ``deadline`` for everything to be stored; a line for stderr if it was not."""
        try:
            self._wait_stored(deadline)
            return None
        except UploadError as exc:
            if exc.permanent and reported and not exc.unsaved_records:
                return None  # the user has the message, and every record is on local disk
            return f"eventwriter: at exit, {exc.strerror}"


def finish_all(budget: Optional[float] = None) -> List[str]:
    """At interpreter exit: give every stream still uploading (dropped writers' included) its
    retry budget (or ``budget`` seconds), all in parallel, to store what it holds.

    Returns one line for each stream that could not, naming the directory that keeps its records
    (an empty list: everything is stored).
    """
    with _active_lock:
        streams = list(_active)
    start = time.monotonic()
    reported = [stream._begin_exit() for stream in streams]
    lines = []
    for stream, told in zip(streams, reported):
        limit = stream._policy.retry_secs if budget is None else budget
        line = stream._finish_at_exit(start + limit, told)
        if line:
            lines.append(line)
    return lines


def _reset_after_fork() -> None:
    _active.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

__all__ = ["RemoteEventStream", "SegmentStore", "UploadPolicy", "finish_all", "upload_segment"]
