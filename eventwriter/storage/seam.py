"""The storage seam's contract: what a backend must offer (:class:`Storage`, :class:`EventStream`).

Declared apart from :func:`eventwriter.storage.storage_for` so that backends import the contract
without importing the function that picks them (no import circle).
"""

from __future__ import annotations

from typing import BinaryIO, Callable, Iterable, Iterator, List, NamedTuple, Optional, Protocol

__all__ = ["EventStream", "Storage", "WalkEntry", "is_url"]


class EventStream(Protocol):
    """An event file (or, on an object store, a series of sealed segments) open for appending.

    ``write`` hands whole records over; ``sync`` is the durability barrier behind
    ``SummaryWriter.flush()``. Every new file the stream starts begins with the ``header`` it
    was opened with (the ``file_version`` record), so each file stands on its own.
    """

    @property
    def path(self) -> str:
        """Path or URL of the file currently being written."""

    def write(self, data: bytes) -> None:
        """Hand ``data`` (whole records) over. On ``OSError`` the exception's ``written`` attribute
        says how many leading bytes did reach the file; the caller keeps the rest for a retry.
        A store's stream only queues the bytes: it never waits on the network here."""

    def sync(self, deadline: Optional[float] = None) -> None:
        """Make everything written so far durable (``fsync``; on a store: uploaded). Safe to call
        from any thread, also while another thread writes or closes. On a store, ``deadline``
        (``time.monotonic()``) bounds the wait, requests in flight included."""

    def close(self, deadline: Optional[float] = None) -> None:
        """Sync and release the stream; a failed close may be retried (``deadline`` as for ``sync``)."""

    def release(self) -> None:
        """Close for a writer dropped by the garbage collector: everything written stays (a
        store still uploads it), but the local ``fsync`` barrier is skipped."""

    def abandon(self) -> None:
        """Release the stream without writing anything more (a forked child's inherited copy)."""


class WalkEntry(NamedTuple):
    """One directory met by :meth:`Storage.walk`: its path, its regular files and what was skipped."""

    directory: str
    files: List[str]
    skipped: List[str]
    """Names of entries that are neither regular files nor directories (FIFOs, sockets,
    dangling or looping links): never opened, since reading them could block or fail."""


class Storage(Protocol):
    """Every file operation eventwriter needs, for one kind of filesystem."""

    def join(self, base: str, *parts: str) -> str:
        """Join path components the way this filesystem does."""

    def makedirs(self, path: str) -> None:
        """Create ``path`` and its parents if missing (a no-op on stores without directories)."""

    def open_stream(
        self, directory: str, new_name: Callable[[], str], header: bytes, max_file_bytes: Optional[int] = None
    ) -> EventStream:
        """Create a new event file in ``directory`` (exclusively: never another writer's file).

        ``new_name()`` gives a fresh file name each time it is called; a stream that starts a new
        file (rotation past ``max_file_bytes``, or a new segment on an object store) calls it
        again, and the name sorts after the previous one. ``header`` starts every file.
        """

    def read_bytes(self, path: str) -> Optional[bytes]:
        """The whole content of ``path``, or None if it does not exist."""

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> None:
        """Write ``path`` so that readers see either the old content or all of the new one."""

    def update_atomic(self, path: str, transform: Callable[[Optional[bytes]], bytes], timeout: float) -> None:
        """Replace ``path`` by ``transform(old content or None)`` with no lost update between
        concurrent writers (a lock locally, conditional writes on a store), waiting at most
        ``timeout`` seconds for other writers; raises :class:`TimeoutError` after that."""

    def open_read(self, path: str) -> BinaryIO:
        """Open ``path`` for reading bytes (a context manager)."""

    def size(self, path: str) -> int:
        """Size of the file in bytes."""

    def kind(self, path: str) -> str:
        """``"file"`` (a regular file), ``"dir"``, ``"missing"`` or ``"other"`` (FIFO, socket, ...)."""

    def walk(self, root: str) -> Iterator[WalkEntry]:
        """Every directory under ``root`` (itself included) in sorted order, following links to
        directories but never entering one that is already on the path being walked."""

    def remove(self, path: str) -> None:
        """Delete the file ``path`` (missing is fine)."""

    def list_names(self, directory: str) -> List[str]:
        """Names of the entries of ``directory`` (empty if it does not exist)."""


def is_url(path: str) -> bool:
    """True for ``scheme://...`` paths (object stores and other fsspec filesystems)."""
    head, sep, _ = path.partition("://")
    return bool(sep) and head.replace("+", "").replace("-", "").replace(".", "").isalnum() and len(head) > 1
