"""The storage seam: every filesystem operation eventwriter performs goes through a :class:`Storage`.

Why a seam: the same event-file, projector, reader and CLI code must work on a local disk and on
object stores (``s3://``, ``gs://``, ``az://`` through fsspec), whose rules differ (a local file
can be appended to and ``fsync``-ed; an object can only be written whole). Each backend is one
implementation of the protocol below; the rest of the library never calls ``os`` file functions
itself, and tests inject faults by handing a backend of their own to the code under test.

* :mod:`eventwriter.storage.local` — the local filesystem (``O_EXCL`` creation, appends,
  ``fsync``, ``flock``-guarded read-modify-write, symlink-loop-safe walking).
* :mod:`eventwriter.storage.remote` — any fsspec URL (imported only for URLs, so local logging
  never imports fsspec).

A new backend: implement :class:`Storage` (and :class:`EventStream` for its event files), then
teach :func:`storage_for` its URL scheme.
"""

from __future__ import annotations

import sys
from typing import Any, List, Mapping, Optional

from .seam import EventStream, Storage, WalkEntry, is_url

__all__ = ["EventStream", "Storage", "WalkEntry", "finish_uploads", "is_url", "storage_for"]


def storage_for(
    path: Any,
    storage_options: Optional[Mapping[str, Any]] = None,
    *,
    upload_secs: Optional[float] = None,
    retry_secs: Optional[float] = None,
) -> Storage:
    """The backend for ``path``: local for plain paths, fsspec for URLs.

    Args:
        path: a local path or a URL such as ``s3://bucket/run``.
        storage_options: keyword arguments for the fsspec filesystem (credentials, endpoint...);
            ignored for local paths.
        upload_secs: for URLs, the longest time a logged record waits before it is uploaded
            (default :data:`eventwriter.storage.policy.DEFAULT_UPLOAD_SECS`); ignored locally.
        retry_secs: for URLs, the total time ``flush()``/``close()`` wait for the store
            (default :data:`eventwriter.storage.policy.DEFAULT_RETRY_SECS`); ignored locally.

    Raises:
        TypeError: ``path`` is not a string or path-like.
        ImportError: a URL was given but fsspec (or the store's package) is not installed.
    """
    import os

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if is_url(text):
        from .remote import remote_storage

        return remote_storage(text, storage_options, upload_secs=upload_secs, retry_secs=retry_secs)
    from .local import LOCAL

    return LOCAL


def finish_uploads(budget: Optional[float] = None) -> List[str]:
    """Wait for every object-store stream still uploading (those of dropped writers too), each
    within its retry budget (or ``budget`` seconds), in parallel; for the interpreter-exit hook.

    Returns a line for each stream whose records could not all be uploaded, naming the spill
    directory that keeps them. Local streams have nothing to wait for.
    """
    segments = sys.modules.get("eventwriter.storage.segments")
    if segments is None:  # no stream on an object store was ever opened
        return []
    lines: List[str] = segments.finish_all(budget)
    return lines
