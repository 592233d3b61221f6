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
import errno
import itertools
import os
import socket
import threading
import time
import weakref
from typing import Any, Optional

from . import wire
from .record import encode_record

HANDOFF_SECS = 0.2
MAX_BUFFER_BYTES = 1 << 20
WRITER_NAME = "eventwriter"

# Shared by every writer in the process, as in TensorBoard's writer: with the pid it makes names
# unique even for several writers opened in the same second in one directory.
_file_counter = itertools.count()
_live_writers: "weakref.WeakSet[EventFileWriter]" = weakref.WeakSet()


def event_file_name(wall_time: float, suffix: str = "") -> str:
    """Return ``events.out.tfevents.<%010d secs>.<host>.<pid>.<%05d counter><suffix>``.

    Names must sort chronologically: TensorBoard's Python loader reads a run's files in
    lexicographic order and never goes back to an earlier file. The zero-padded seconds order
    files of different seconds; the zero-padded counter orders files one process opens within a
    second (torch's unpadded counter sorts ``.10`` before ``.2``, e.g. when code closes and
    reopens its writer often, as the PyTorch tutorial does).
    """
    return "events.out.tfevents.%010d.%s.%d.%05d%s" % (
        int(wall_time),
        socket.gethostname(),
        os.getpid(),
        next(_file_counter),
        suffix,
    )


class EventFileWriter:
    """Appends framed event records to one new event file in ``logdir``.

    Args:
        logdir: directory of the run; created (with parents) if missing, safely when several
            processes create it at once.
        filename_suffix: appended to the file name, as in torch.
        first_step: if not None, the ``purge_step`` protocol: after the header, an Event with this
            step and ``file_version`` and an Event with ``SessionLog.START`` (docs/FORMAT.md §5.6).

    Raises:
        OSError: the directory or the file cannot be created (the message names the path).
    """

    def __init__(self, logdir: str, filename_suffix: str = "", first_step: Optional[int] = None) -> None:
        self._logdir = logdir
        self._lock = threading.Lock()  # guards _buffer, _pending, _error, _closed
        self._io_lock = threading.Lock()  # orders writes to the file descriptor
        self._buffer: list[bytes] = []
        self._pending = 0
        self._error: Optional[OSError] = None
        self._closed = False
        self._pid = os.getpid()
        try:
            os.makedirs(logdir, exist_ok=True)
        except OSError as exc:
            raise type(exc)(exc.errno, f"cannot create log directory {logdir!r}: {exc.strerror}") from exc
        now = time.time()
        self._fd, self._path = self._create_file(logdir, now, filename_suffix)
        header = encode_record(wire.file_version_event(now, WRITER_NAME))
        if first_step is not None:
            header += encode_record(wire.file_version_event(now, None, first_step))
            header += encode_record(wire.session_start_event(now, first_step))
        try:
            self._write_all(header)
        except OSError as exc:
            os.close(self._fd)
            raise type(exc)(exc.errno, f"cannot write event file {self._path!r}: {exc.strerror}") from exc
        _live_writers.add(self)

    @staticmethod
    def _create_file(logdir: str, now: float, suffix: str) -> tuple[int, str]:
        # O_EXCL: never truncate or append to another writer's file, even on a name collision.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        for _ in range(100):
            path = os.path.join(logdir, event_file_name(now, suffix))
            try:
                return os.open(path, flags, 0o644), path
            except FileExistsError:
                continue
            except OSError as exc:
                raise type(exc)(exc.errno, f"cannot create event file in {logdir!r}: {exc.strerror}") from exc
        raise FileExistsError(errno.EEXIST, f"no free event file name in {logdir!r}")

    @property
    def path(self) -> str:
        """Path of the event file."""
        return self._path

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (or in a forked child that inherited this writer)."""
        return self._closed

    def get_logdir(self) -> str:
        """Directory the event file lives in (torch's ``FileWriter.get_logdir``)."""
        return self._logdir

    def write_record(self, record: bytes) -> None:
        """Queue one framed record (or several concatenated); it reaches the OS within HANDOFF_SECS.

        Raises:
            ValueError: the writer is closed.
            OSError: an earlier background write failed (raised once; the data is kept for retry).
        """
        with self._lock:
            if self._error is not None or self._closed:
                if self._error is not None:
                    self._raise_pending_error()
                raise ValueError(f"event file {self._path!r} is closed")
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
        """Write everything queued so far to the file and ``fsync`` it: a barrier.

        Raises:
            OSError: writing or syncing failed (the unwritten data stays queued).
        """
        if self.closed:
            return
        self._drain()
        with self._io_lock:
            os.fsync(self._fd)

    def close(self) -> None:
        """Flush and close the file. Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
        if self._pid != os.getpid():
            self._closed = True
            return
        try:
            self.flush()
        finally:
            with self._lock:
                if not self._closed and not self._buffer:
                    self._closed = True
                    os.close(self._fd)
                    _live_writers.discard(self)

    def __del__(self) -> None:
        # A writer dropped without close(): write what is left and release the descriptor (a raw
        # int, which nothing else would close). Queued data keeps the writer alive until the
        # background thread has handed it over, so this normally only closes the file.
        try:
            self.close()
        except Exception:  # never raise from a finalizer
            pass

    # -- internals -------------------------------------------------------------------------

    def _raise_pending_error(self) -> None:
        error, self._error = self._error, None
        assert error is not None  # internal invariant, not user input
        raise type(error)(error.errno, f"writing event file {self._path!r} failed: {error.strerror}") from error

    def _drain(self, background: bool = False) -> None:
        """Hand the buffer to the OS. In the background thread, keep errors for the next call."""
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
            try:
                self._write_all(data)
            except OSError as exc:
                done = getattr(exc, "written", 0)
                with self._lock:
                    # Put back what did not reach the file, ahead of anything queued meanwhile.
                    self._buffer.insert(0, data[done:])
                    self._pending += len(data) - done
                    if background:
                        self._error = exc
                if not background:
                    raise type(exc)(exc.errno, f"writing event file {self._path!r} failed: {exc.strerror}") from exc

    def _write_all(self, data: bytes) -> None:
        """Write all of ``data``; on failure the OSError carries ``written``, the bytes that made it."""
        view = memoryview(data)
        done = 0
        while done < len(view):
            try:
                done += os.write(self._fd, view[done:])
            except OSError as exc:
                exc.written = done  # type: ignore[attr-defined]
                raise

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._buffer = []
        self._pending = 0
        self._closed = True
        try:
            os.close(self._fd)
        except OSError:
            pass


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
        except Exception:  # nothing sensible to do with an error at interpreter exit
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all_at_exit)
