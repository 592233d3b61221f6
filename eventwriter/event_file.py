"""One event file: created exclusively, appended to by many threads, durable within a fraction of a second.

Durability model (why it looks like this):

* Records are framed in the caller's thread and appended to an in-memory buffer under a lock,
  so records never interleave and ``add_scalar`` costs a few microseconds, not a syscall.
* A single background thread, shared by every writer in the process, hands buffered bytes to the
  operating system at most :data:`HANDOFF_SECS` after they were logged. Once ``os.write``
  returned, the bytes survive the death of the process (even SIGKILL); only a machine crash can
  still lose them, which is what ``flush()`` (``fsync``) is for.
* A buffer larger than :data:`MAX_BUFFER_BYTES` is written out right away by the caller.
* An ``OSError`` met by the background thread is kept and raised by the next call on this writer
  (write, flush or close); the unwritten bytes stay buffered, so a retry after the disk has room
  again loses nothing. Only whole records are handed to ``os.write``, and a short write keeps the
  remainder, so a file never holds a partial record except at its tail.
* After ``fork()`` the child drops the buffer it inherited (the parent writes it) and treats the
  writer as closed, so nothing is written twice; :class:`eventwriter.SummaryWriter` then opens a
  fresh file for the child on its next call.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, Optional

from . import wire
from .logdir import event_file_name
from .record import encode_record

if TYPE_CHECKING:
    from .storage import Storage

HANDOFF_SECS = 0.2
MAX_BUFFER_BYTES = 1 << 20
WRITER_NAME = "eventwriter"

_live_writers: "weakref.WeakSet[EventFileWriter]" = weakref.WeakSet()


class WriterClosedError(ValueError):
    """The event file writer was closed; :class:`eventwriter.SummaryWriter` opens a new file instead."""


class EventFileWriter:
    """Appends framed event records to one new event file in ``logdir``.

    Args:
        logdir: directory of the run; created (with parents) if missing, safely when several
            processes create it at once.
        filename_suffix: appended to the file name, as in torch.
        first_step: if not None, the ``purge_step`` protocol: after the header, an Event with this
            step and ``file_version`` and an Event with ``SessionLog.START`` (docs/FORMAT.md §5.6).
        storage: the backend (:mod:`eventwriter.storage`); default: the one for ``logdir``.
        max_file_bytes: start a new file (repeating the ``file_version`` header, never the purge
            records) once the current one would grow past this many bytes.

    Raises:
        OSError: the directory or the file cannot be created (the message names the path).
    """

    def __init__(
        self,
        logdir: str,
        filename_suffix: str = "",
        first_step: Optional[int] = None,
        storage: Optional["Storage"] = None,
        max_file_bytes: Optional[int] = None,
    ) -> None:
        if storage is None:
            from .storage import storage_for

            storage = storage_for(logdir)
        self._logdir = logdir
        self._lock = threading.Lock()  # guards _buffer, _pending, _error, _closed
        self._io_lock = threading.Lock()  # orders hand-overs to the stream, sync and close
        self._buffer: list[bytes] = []
        self._pending = 0
        self._error: Optional[OSError] = None
        # Two steps of close(): _closed (no more records accepted; SummaryWriter opens a new file)
        # and _released (the stream is synced and closed). Between them a failed close keeps the
        # stream open for a retry of close() or flush().
        self._closed = False
        self._released = False
        self._pid = os.getpid()
        storage.makedirs(logdir)
        now = time.time()
        header = encode_record(wire.file_version_event(now, WRITER_NAME))
        self._stream = storage.open_stream(logdir, lambda: event_file_name(time.time(), filename_suffix), header, max_file_bytes)
        self._path = self._stream.path
        if first_step is not None:
            restart = encode_record(wire.file_version_event(now, None, first_step))
            restart += encode_record(wire.session_start_event(now, first_step))
            try:
                self._stream.write(restart)
            except OSError as exc:
                self._stream.abandon()
                raise type(exc)(exc.errno, f"cannot write event file {self._path!r}: {exc.strerror}") from exc
        _live_writers.add(self)

    @property
    def path(self) -> str:
        """Path of the event file being written (the newest one, with rotation)."""
        return self._stream.path

    @property
    def closed(self) -> bool:
        """True once :meth:`close` began: the writer accepts no more records (also in a forked child)."""
        return self._closed

    @property
    def released(self) -> bool:
        """True once :meth:`close` succeeded (the file is synced and its descriptor released)."""
        return self._released

    def get_logdir(self) -> str:
        """Directory the event file lives in (torch's ``FileWriter.get_logdir``)."""
        return self._logdir

    def write_record(self, record: bytes) -> None:
        """Queue one framed record (or several concatenated); it reaches the OS within HANDOFF_SECS.

        Raises:
            WriterClosedError: the writer is closed (a ``ValueError``).
            OSError: an earlier background write failed (raised once; the data is kept for retry).
        """
        with self._lock:
            if self._error is not None or self._closed:
                if self._error is not None:
                    self._raise_pending_error()
                raise WriterClosedError(f"event file {self.path!r} is closed")
            buffer = self._buffer
            was_empty = not buffer
            buffer.append(record)
            self._pending += len(record)
            big = self._pending >= MAX_BUFFER_BYTES
        if big:
            self._drain()
        elif was_empty:
            _flusher.schedule(self)

    def write_event(self, payload: bytes) -> None:
        """Frame one serialized Event and queue it (see :meth:`write_record`)."""
        self.write_record(encode_record(payload))

    def add_event(self, event: Any) -> None:
        """Queue an Event message (any protobuf ``Event``, e.g. ours or TensorBoard's) or its bytes."""
        self.write_event(bytes(event) if isinstance(event, (bytes, bytearray)) else event.SerializeToString())

    def add_summary(self, summary: Any, global_step: Optional[int] = None, walltime: Optional[float] = None) -> None:
        """Queue an Event holding ``summary`` (a Summary message or its bytes), like torch's FileWriter."""
        from .stamps import event_step, event_wall_time

        body = bytes(summary) if isinstance(summary, (bytes, bytearray)) else summary.SerializeToString()
        self.write_event(wire.summary_event(event_wall_time(walltime), event_step(global_step), body))

    def flush(self) -> None:
        """Hand everything queued so far to the stream and sync it (``fsync``): a barrier.

        Raises:
            OSError: writing or syncing failed (the unwritten data stays queued).
        """
        if self._pid != os.getpid():
            return
        self._drain()
        with self._io_lock:
            if not self._released:  # close() in another thread already synced and released it
                self._sync()

    def close(self) -> None:
        """Flush and close the file. Calling it again does nothing.

        If writing the queued records fails (a full disk...), the writer stays open with its data
        queued and the error is raised: a later ``close()`` or ``flush()`` retries, and nothing is
        lost. If only the final ``fsync`` fails, the writer accepts no more records but keeps its
        descriptor, and ``close()`` or ``flush()`` retries the ``fsync``.
        """
        if self._released:
            return
        if self._pid != os.getpid():
            self._closed = self._released = True
            return
        self._drain()
        with self._io_lock:
            while True:
                with self._lock:
                    if self._released:
                        return
                    if self._error is not None:
                        self._raise_pending_error()
                    if not self._buffer:
                        # Sealed in the same critical section that saw the buffer empty: a record
                        # logged by another thread from now on goes to a new file, never lost.
                        self._closed = True
                        break
                    data = b"".join(self._buffer)  # logged by another thread since the drain
                    self._buffer, self._pending = [], 0
                self._write_locked(data, background=False)  # raises with the data put back
            try:
                self._stream.close()
            except OSError as exc:
                raise type(exc)(exc.errno, f"closing event file {self.path!r} failed: {exc.strerror}") from exc
            self._released = True
        _live_writers.discard(self)

    def __del__(self) -> None:
        # A writer dropped without close(): its records were handed to the OS by the background
        # thread (queued data keeps the writer alive until then), so only the descriptor is left
        # to release. No fsync here: one per dropped writer would stall every live writer.
        try:
            if self._released or self._pid != os.getpid():
                return
            if not self._buffer and self._error is None:
                self._closed = self._released = True
                self._stream.release()
            else:
                self.close()
        except Exception as exc:  # never raise from a finalizer, but never lose data silently
            try:
                import warnings

                warnings.warn(
                    f"event file writer {self.path!r} was dropped without close() and its last "
                    f"{self._pending} bytes could not be written: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )
            except Exception:
                pass

    # -- internals -------------------------------------------------------------------------

    def _raise_pending_error(self) -> None:
        error, self._error = self._error, None
        if error is None:  # pragma: no cover - callers check first
            return
        raise type(error)(error.errno, f"writing event file {self.path!r} failed: {error.strerror}") from error

    def _sync(self) -> None:
        try:
            self._stream.sync()
        except OSError as exc:
            raise type(exc)(exc.errno, f"syncing event file {self.path!r} failed: {exc.strerror}") from exc

    def _drain(self, background: bool = False) -> None:
        """Hand the buffer to the stream. In the background thread, keep errors for the next call."""
        if self._pid != os.getpid():
            return
        with self._io_lock:
            with self._lock:
                if self._error is not None and not background:
                    self._raise_pending_error()
                if not self._buffer or self._closed:
                    return
                data = b"".join(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
                self._buffer = []
                self._pending = 0
            self._write_locked(data, background)

    def _write_locked(self, data: bytes, background: bool) -> None:
        """Write ``data`` to the stream (``_io_lock`` held); what did not make it goes back in front."""
        try:
            self._stream.write(data)
        except OSError as exc:
            done = getattr(exc, "written", 0)
            with self._lock:
                # Put back what did not reach the file, ahead of anything queued meanwhile.
                self._buffer.insert(0, data[done:])
                self._pending += len(data) - done
                if background:
                    self._error = exc
            if not background:
                raise type(exc)(exc.errno, f"writing event file {self.path!r} failed: {exc.strerror}") from exc

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._buffer = []
        self._pending = 0
        self._closed = self._released = True
        self._stream.abandon()


class _Flusher:
    """The one background thread that hands queued records to the OS for every writer."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: set[EventFileWriter] = set()
        self._thread: Optional[threading.Thread] = None

    def schedule(self, writer: EventFileWriter) -> None:
        with self._cond:
            self._pending.add(writer)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="eventwriter-flusher", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
            # Let records accumulate briefly: one write per interval instead of one per record.
            time.sleep(HANDOFF_SECS)
            self._drain_pending()

    def _drain_pending(self) -> None:
        # A method of its own so that no reference to a writer outlives the hand-off (a local of
        # the loop above would keep the last batch alive, and dropped writers uncollected).
        with self._cond:
            batch, self._pending = self._pending, set()
        for writer in batch:
            try:
                writer._drain(background=True)
            except Exception:  # pragma: no cover - _drain keeps OSErrors itself
                pass

    def reset_after_fork(self) -> None:
        self._cond = threading.Condition()
        self._pending = set()
        self._thread = None


_flusher = _Flusher()


def _after_fork_in_child() -> None:
    _flusher.reset_after_fork()
    for writer in list(_live_writers):
        writer._after_fork_in_child()
    _live_writers.clear()


def _close_all_at_exit() -> None:
    for writer in list(_live_writers):
        try:
            writer.close()
        except Exception as exc:  # cannot be retried now, but must not go unnoticed
            try:
                import sys

                sys.stderr.write(f"eventwriter: at exit, event file {writer.path!r} could not be finished: {exc}\n")
            except Exception:
                pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)
