"""The error an object-store event stream raises when records could not be stored.

Declared in a module of its own (no fsspec) so that the event file layer and the writer can
recognise it: a *permanent* error (a missing bucket, refused credentials) is raised again by every
later call of the writer until it is closed, as TensorBoard's own async writer re-raises a failure
of its worker; a transient one (the store did not answer in time) is raised once by the
``flush()``/``close()`` that gave up, and the next one retries.
"""

from __future__ import annotations

import errno
from typing import Optional

__all__ = ["UploadError"]


class UploadError(OSError):
    """Records logged to an object store are not (all) stored.

    Attributes:
        url: the run directory the records belong to.
        pending_records: records not in the store when the error was raised.
        spill_dir: the local directory that keeps them (empty if none was needed or possible).
        unsaved_records: of those, records neither in the store nor in ``spill_dir`` (the local
            disk failed too): they live only in this process's memory.
        permanent: the store refused for good (retrying cannot help until something is changed).
        cause: the store client's own exception (the message already says what it said; it is not
            chained, so a traceback shows one message, not the client's internals).
    """

    def __init__(
        self,
        message: str,
        *,
        url: str = "",
        pending_records: int = 0,
        spill_dir: str = "",
        unsaved_records: int = 0,
        permanent: bool = False,
    ) -> None:
        super().__init__(errno.EIO, message)
        self.cause: Optional[BaseException] = None
        self.url = url
        self.pending_records = pending_records
        self.spill_dir = spill_dir
        self.unsaved_records = unsaved_records
        self.permanent = permanent

    def again(self) -> "UploadError":
        """A fresh copy to raise once more (raising one object repeatedly would pile up tracebacks)."""
        copy = UploadError(
            self.strerror or "",
            url=self.url,
            pending_records=self.pending_records,
            spill_dir=self.spill_dir,
            unsaved_records=self.unsaved_records,
            permanent=self.permanent,
        )
        copy.cause = self.cause
        copy.__suppress_context__ = True
        return copy
