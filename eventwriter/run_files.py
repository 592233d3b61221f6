"""The event files of one run: the current file, one per ``add_scalars`` sub-run, and those not yet closed.

Why a registry: torch's writer semantics need more than one open file per run. ``add_scalars``
writes each key to a sub-run directory with a file of its own; logging after ``close()`` opens a
fresh file in the same directory (the PyTorch tutorial relies on it); and a file whose ``close()``
failed (a full disk) keeps its queued records until a later ``close()`` or ``flush()`` finishes it.
Any number of threads may log while others call ``close()`` or ``flush()``: a record logged while
its file is being sealed goes to the next file, once, never lost (:meth:`RunFiles.write`).
"""

from __future__ import annotations

import threading
from typing import Callable, Dict, List, Optional

from .event_file import EventFileWriter, WriterClosedError

OpenFile = Callable[[str, Optional[int]], EventFileWriter]
"""Opens a new event file in a directory (``first_step``: the purge protocol's step, or None)."""


class RunFiles:
    """The event files of the run in ``log_dir``, opened with ``open_file``.

    Args:
        log_dir: the run's directory.
        open_file: ``open_file(directory, first_step)`` creates a new event file there.
        purge_step: written (once) at the start of the run's first file, as torch does.
    """

    def __init__(self, log_dir: str, open_file: OpenFile, purge_step: Optional[int] = None) -> None:
        self._log_dir = log_dir
        self._open_file = open_file
        self._purge_step = purge_step
        self._lock = threading.RLock()
        self.current: Optional[EventFileWriter] = None
        """The run's own file (torch's ``file_writer``); None after a successful close()."""
        self.by_dir: Optional[Dict[str, EventFileWriter]] = None
        """Every open file by directory, sub-runs included (torch's ``all_writers``)."""
        self._unfinished: List[EventFileWriter] = []  # replaced files whose close() has not succeeded

    def open(self) -> EventFileWriter:
        """The run's file, opening a new one if the previous one was closed."""
        writer = self.current
        if writer is not None and not writer.closed:
            return writer
        with self._lock:
            writer = self.current
            if writer is None or writer.closed:
                # Files whose close() has not succeeded yet (a full disk; or close() still running
                # in another thread) stay here until a close() or flush() finishes them.
                self._unfinished.extend(w for w in (self.by_dir or {}).values() if not w.released)
                writer = self._open_file(self._log_dir, self._purge_step)
                self._purge_step = None
                self.current = writer
                self.by_dir = {writer.get_logdir(): writer}
            return writer

    def write(self, record: bytes) -> None:
        """Queue ``record`` on the run's file, reopening it if ``close()`` ran, even concurrently."""
        writer = self.current
        if writer is None or writer._closed:
            writer = self.open()
        try:
            writer.write_record(record)
        except WriterClosedError:  # close() in another thread won the race: log to the new file
            self._deliver(self.open, record)

    def write_to(self, run_dir: str, record: bytes) -> None:
        """Queue ``record`` on the file of the sub-run in ``run_dir`` (``add_scalars``)."""
        self._deliver(lambda: self._sub_run(run_dir), record)

    @staticmethod
    def _deliver(current_writer: Callable[[], EventFileWriter], record: bytes) -> None:
        """Queue ``record`` on ``current_writer()``, asking again each time a close() wins the race.

        Every retry means another thread sealed the file between choosing it and writing to it;
        the loop ends as soon as one file stays open for the length of one append.
        """
        while True:
            try:
                current_writer().write_record(record)
                return
            except WriterClosedError:
                continue

    def _sub_run(self, run_dir: str) -> EventFileWriter:
        with self._lock:  # reentrant; held so a concurrent close() cannot drop by_dir in between
            self.open()
            files = self.by_dir
            if files is None:  # pragma: no cover - open() just set it under this lock
                raise RuntimeError("the run's files vanished while the lock was held")
            writer = files.get(run_dir)
            if writer is None or writer.closed:
                if writer is not None and not writer.released:
                    self._unfinished.append(writer)
                writer = self._open_file(run_dir, None)
                files[run_dir] = writer
            return writer

    def every_file(self) -> List[EventFileWriter]:
        """Every file that is open or not yet finished (a failed close)."""
        with self._lock:
            current = list(self.by_dir.values()) if self.by_dir else []
            return current + [w for w in self._unfinished if w not in current]

    def flush(self, deadline: Optional[float] = None) -> None:
        """Flush (hand over and ``fsync``; on a store: upload) every file; raises the first ``OSError``.

        ``deadline`` (``time.monotonic()`` seconds) bounds the uploads of all files together.
        """
        for writer in self.every_file():
            writer.flush(deadline)

    def close(self, deadline: Optional[float] = None) -> None:
        """Close every file; a file that fails keeps its records for the next close() or flush().

        ``deadline`` (``time.monotonic()`` seconds) bounds the uploads of all files together.

        Raises:
            OSError: the first file that could not be closed (the others are closed anyway).
        """
        error: Optional[BaseException] = None
        for writer in self.every_file():
            try:
                writer.close(deadline)
            except OSError as exc:  # keep closing the others; this one stays, with its data, for a retry
                error = error or exc
        with self._lock:
            # Forget only the files that really closed: a failed one keeps its queued records,
            # and the next close() or flush() retries it (torch also drops writers only on success).
            if self.by_dir:
                self.by_dir = {k: w for k, w in self.by_dir.items() if not w.released} or None
            self._unfinished = [w for w in self._unfinished if not w.released]
            if self.current is not None and self.current.released:
                self.current = None
        if error is not None:
            raise error
