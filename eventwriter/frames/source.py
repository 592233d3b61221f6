"""The one place where the frames layer lists and opens event files: through the storage seam.

Every file the frames layer reads is found by :func:`list_runs` and opened by :func:`open_at`,
for local paths and store URLs alike (``s3://``, ``gs://``, ``az://``, any fsspec URL, with
``storage_options`` for fsspec): :mod:`eventwriter.storage` picks the backend, and
:func:`eventwriter.logdir.run_files` applies TensorBoard's run rules on top of it.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO, Dict, List, Mapping, Optional

from ..logdir import run_files
from ..storage import storage_for


def list_runs(logdir: "str | os.PathLike[str]", storage_options: Optional[Mapping[str, Any]] = None) -> Dict[str, List[str]]:
    """Map each run under ``logdir`` (``.`` for the logdir itself) to its event files in read order.

    ``logdir`` may also be one event file: it is then the only file of run ``.`` (as
    :func:`eventwriter.reader.read_events` and tbparse accept a file).
    """
    path = os.fspath(logdir)
    if storage_for(path, storage_options).kind(path) == "file":
        return {".": [path]}
    return run_files(path, storage_options)


def open_at(path: str, start: int = 0, storage_options: Optional[Mapping[str, Any]] = None) -> BinaryIO:
    """The event file ``path`` open for reading, positioned at byte ``start``."""
    stream = storage_for(path, storage_options).open_read(path)
    if start:
        stream.seek(start)
    return stream


def file_size(path: str, storage_options: Optional[Mapping[str, Any]] = None) -> int:
    """The current size of ``path`` in bytes."""
    return int(storage_for(path, storage_options).size(path))
