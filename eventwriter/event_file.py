"""One event file: created exclusively, appended to by many threads, durable within a fraction of a second.

Durability model (why it looks like this):

* Records are framed in the caller's thread and appended to an in-memory buffer under a lock,
  so records never interleave and ``add_scalar`` costs a few microseconds, not a syscall.
* A single background thread, shared by every writer in the process, hands buffered bytes to the
  operating system at most :data:`HANDOFF_SECS` after they were logged. Once ``os.write``
  returned, the bytes survive the death of the process (even SIGKILL); only a machine crash can
  still lose them, which is what ``flush()`` (``fsync``) is for.
* A buffer larger than :data:`MAX_BUFFER_BYTES` is written out right away by the caller.
* An error met by the background thread (an ``OSError``, or anything else) is kept and raised by
  the next call on this writer (write, flush or close); the unwritten bytes stay buffered, so a
  retry after the disk has room again loses nothing. Only whole records are handed to
  ``os.write``, and a short write keeps the remainder, so a file never holds a partial record
  except at its tail. A store that refused for good (:class:`~eventwriter.storage.errors.UploadError`
  with ``permanent``) makes every later call raise, until ``close()``.
* The shared thread never waits for one writer: a writer busy in another thread's hand-off is
  simply visited again next round, and ``flush()``/``close()`` wait for their stream (a local
  ``fsync``, an upload) without holding the lock that hand-offs take.
* An object store's stream needs the network at interpreter exit; that hook runs before Python
  shuts down its thread pools (see :func:`_finish_remote_at_exit`).
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
from .storage.errors import UploadError
from .storage.seam import is_url

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
        self._io_lock = threading.Lock()  # orders hand-overs to the stream (never held across a sync)
        self._close_lock = threading.Lock()  # one close() at a time
        self._buffer: list[bytes] = []
        self._pending = 0
        self._error: Optional[BaseException] = None
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
        if is_url(logdir):
            _register_network_exit_hook()

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
            OSError: an earlier background write failed (raised once; the data is kept for retry);
                an :class:`~eventwriter.storage.errors.UploadError` the store refused for good is
                raised by every call until ``close()``, and the record is not logged.
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
            # Never wait here for a hand-off running in another thread: that thread takes this
            # buffer too, and the shared thread comes back for anything left.
            try:
                handed = self._drain(wait=False)
            except UploadError as exc:
                # The stream took the records (it keeps them on local disk) and says the store
                # refused them: this call's record is logged, so the next call raises that.
                with self._lock:
                    self._error = exc
                handed = True
            if not handed:
                _flusher.schedule(self)
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

    def flush(self, deadline: Optional[float] = None) -> None:
        """Hand everything queued so far to the stream and sync it (``fsync``): a barrier.

        ``deadline`` (``time.monotonic()``) bounds the wait of a stream on an object store.

        Raises:
            OSError: writing or syncing failed (the unwritten data stays queued).
        """
        if self._pid != os.getpid():
            return
        self._drain()
        if not self._released:  # close() in another thread already synced and released it
            self._sync(deadline)

    def close(self, deadline: Optional[float] = None) -> None:
        """Flush and close the file. Calling it again does nothing.

        If writing the queued records fails (a full disk...), the writer stays open with its data
        queued and the error is raised: a later ``close()`` or ``flush()`` retries, and nothing is
        lost. If only the final ``fsync`` (or upload) fails, the writer accepts no more records but
        keeps its stream, and ``close()`` or ``flush()`` retries. A store that refused for good
        raises its :class:`~eventwriter.storage.errors.UploadError` once (the records are in the
        spill directory it names) and the writer is closed.

        ``deadline`` (``time.monotonic()``) bounds the wait of a stream on an object store.
        """
        if self._released:
            return
        if self._pid != os.getpid():
            self._closed = self._released = True
            return
        with self._close_lock:
            if self._released:
                return
            self._hand_over_for_close()
            try:
                # Not under _io_lock: the wait for the stream (an fsync, an upload) must not hold
                # up the shared thread's hand-offs of this writer, nor the training thread.
                self._stream.close() if deadline is None else self._stream.close(deadline)
            except UploadError as exc:
                if exc.permanent:  # retrying cannot help; the records are on local disk
                    self._released = True
                    _live_writers.discard(self)
                raise
            except OSError as exc:
                raise type(exc)(exc.errno, f"closing event file {self.path!r} failed: {exc.strerror}") from exc
            self._released = True
        _live_writers.discard(self)

    def _hand_over_for_close(self) -> None:
        """Give every queued record to the stream and seal the writer (``_closed``)."""
        permanent = isinstance(self._error, UploadError) and self._error.permanent
        if not permanent:
            self._drain()
        with self._io_lock:
            while True:
                with self._lock:
                    if self._error is not None and not permanent:
                        self._raise_pending_error()
                    if not self._buffer:
                        # Sealed in the same critical section that saw the buffer empty: a record
                        # logged by another thread from now on goes to a new file, never lost.
                        self._closed = True
                        return
                    data = b"".join(self._buffer)  # logged by another thread since the drain
                    self._buffer, self._pending = [], 0
                try:
                    self._write_locked(data, background=False)  # raises with the data put back
                except UploadError as exc:
                    if not exc.permanent:
                        raise
                    # The stream took the records (for its spill directory) and says it cannot
                    # upload them; close() reports that once, below.
                    permanent = True

    def __del__(self) -> None:
        # A writer dropped without close(): its records were handed over by the background thread
        # (queued data keeps the writer alive until then), so only the stream is left to release.
        # No fsync and no upload wait here: one per dropped writer would stall every live writer
        # (a store's stream uploads in its own thread, and the exit hook waits for it).
        try:
            if self._released or self._pid != os.getpid():
                return
            if self._buffer:
                self._drain(background=True)
            unwritten = self._pending
            self._closed = self._released = True
            self._stream.release()
            if unwritten:
                raise self._error or OSError("the records could not be handed over")
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
        """Raise the error the background thread kept (``_lock`` held)."""
        error = self._error
        if error is None:  # pragma: no cover - callers check first
            return
        if isinstance(error, UploadError):
            if not error.permanent:  # a refusal for good stays: every call says so until close()
                self._error = None
            raise error.again()
        self._error = None
        if isinstance(error, OSError):
            raise type(error)(error.errno, f"writing event file {self.path!r} failed: {error.strerror}") from error
        raise error  # anything else the background thread met, as it was (its records are kept)

    def _sync(self, deadline: Optional[float] = None) -> None:
        try:
            self._stream.sync() if deadline is None else self._stream.sync(deadline)
        except UploadError:
            raise  # it names the URL and the spill directory itself
        except OSError as exc:
            raise type(exc)(exc.errno, f"syncing event file {self.path!r} failed: {exc.strerror}") from exc

    def _drain(self, background: bool = False, wait: bool = True) -> bool:
        """Hand the buffer to the stream. In the background thread, keep errors for the next call.

        With ``wait=False``, returns False at once if another thread is handing over (it takes
        this buffer too, or the shared thread comes back for it).
        """
        if self._pid != os.getpid():
            return True
        if not self._io_lock.acquire(blocking=wait):
            return False
        try:
            with self._lock:
                if self._error is not None and not background:
                    self._raise_pending_error()
                if not self._buffer or self._closed:
                    return True
                data = b"".join(self._buffer) if len(self._buffer) > 1 else self._buffer[0]
                self._buffer = []
                self._pending = 0
            self._write_locked(data, background)
        finally:
            self._io_lock.release()
        return True

    def _write_locked(self, data: bytes, background: bool) -> None:
        """Write ``data`` to the stream (``_io_lock`` held); what did not make it goes back in front."""
        try:
            self._stream.write(data)
        except Exception as exc:  # not only OSError: whatever it is, the records are kept
            done = getattr(exc, "written", 0) if isinstance(exc, OSError) else 0
            with self._lock:
                # Put back what did not reach the file, ahead of anything queued meanwhile.
                if done < len(data):
                    self._buffer.insert(0, data[done:])
                    self._pending += len(data) - done
                if background:
                    self._error = exc
            if not background:
                if isinstance(exc, UploadError) or not isinstance(exc, OSError):
                    raise
                raise type(exc)(exc.errno, f"writing event file {self.path!r} failed: {exc.strerror}") from exc

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._close_lock = threading.Lock()
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
        busy = []
        for writer in batch:
            try:
                if not writer._drain(background=True, wait=False):
                    busy.append(writer)  # another thread is handing over: never wait for one writer
            except Exception as exc:  # pragma: no cover - _drain keeps errors itself
                with writer._lock:
                    writer._error = writer._error or exc
        if busy:
            with self._cond:
                self._pending.update(busy)
                self._cond.notify()

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
        if writer._released or writer._pid != os.getpid():
            continue
        try:
            writer.close()
        except Exception as exc:  # cannot be retried now, but must not go unnoticed
            try:
                import sys

                sys.stderr.write(f"eventwriter: at exit, event file {writer.path!r} could not be finished: {exc}\n")
            except Exception:
                pass


_network_hook = False


def _register_network_exit_hook() -> None:
    """Run :func:`_finish_remote_at_exit` at interpreter exit while uploads can still run.

    ``atexit`` handlers run after Python has shut its thread pools down, and the store's client
    needs one (aiohttp resolves names in the loop's executor): an upload from an ``atexit``
    handler fails with "cannot schedule new futures after interpreter shutdown". Hooks
    registered with ``threading._register_atexit`` run before that, newest first, so
    ``concurrent.futures.thread`` (which registers the pool shutdown) is imported before ours.
    """
    global _network_hook
    if _network_hook:
        return
    _network_hook = True
    import concurrent.futures.thread  # noqa: F401  (registers its exit hook before ours: it runs after)

    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(_finish_remote_at_exit)
        else:  # pragma: no cover - Python < 3.9
            atexit.register(_finish_remote_at_exit)
    except RuntimeError:  # pragma: no cover - a writer created while the interpreter shuts down
        pass


def _finish_remote_at_exit() -> None:
    """At exit: hand every object-store writer's records to its stream, then give every stream
    still uploading (dropped writers' included) its retry budget, in parallel. Whatever could not
    be uploaded stays in a spill directory, which one line on stderr names."""
    import sys

    try:
        _finish_remote()
    except BaseException as exc:  # an exit hook that raises would skip Python's own shutdown steps
        try:
            sys.stderr.write(f"eventwriter: at exit, uploads could not be finished: {type(exc).__name__}: {exc}\n")
        except Exception:
            pass


def _finish_remote() -> None:
    import sys

    for writer in list(_live_writers):
        if not is_url(writer._logdir) or writer._released or writer._pid != os.getpid():
            continue
        try:
            writer._drain(background=True)
            with writer._lock:
                writer._closed = writer._released = True
            writer._stream.release()
        except Exception as exc:
            sys.stderr.write(f"eventwriter: at exit, {writer.path!r} could not be finished: {exc}\n")
        _live_writers.discard(writer)
    from .storage import finish_uploads

    for line in finish_uploads():
        try:
            sys.stderr.write(line + "\n")
        except Exception:
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)
