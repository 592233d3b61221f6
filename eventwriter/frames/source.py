"""The one place that lists and opens event files, so the storage backend can be swapped here.

Every file the frames layer reads is found by :func:`list_runs` and read by :func:`read_bytes`.
Local paths go through :func:`eventwriter.reader.run_files` (TensorBoard's run rules). When the
storage seam (``eventwriter.storage``) is present, URLs (``s3://``, ``gs://``, ``az://``, …) go
through its backend; until then they are refused with a clear error.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional

from ..reader import run_files


def _is_url(path: str) -> bool:
    return "://" in path


def _storage(path: str, storage_options: Optional[Mapping[str, Any]]) -> Any:
    try:
        from ..storage import storage_for  # type: ignore[attr-defined]
    except ImportError:
        raise ValueError(
            f"logdir {path!r} is a URL, but this eventwriter has no storage backends "
            "(eventwriter.storage); only local paths can be read"
        ) from None
    return storage_for(path, storage_options)


def list_runs(logdir: "str | os.PathLike[str]", storage_options: Optional[Mapping[str, Any]] = None) -> Dict[str, List[str]]:
    """Map each run under ``logdir`` (``.`` for the logdir itself) to its event files in read order."""
    path = os.fspath(logdir)
    if _is_url(path):
        try:
            return run_files(path, storage_options=storage_options)  # type: ignore[call-arg]
        except TypeError:
            raise ValueError(f"logdir {path!r} is a URL, but eventwriter.reader.run_files cannot list URLs yet") from None
    if storage_options:
        raise ValueError("storage_options applies only to URL logdirs (s3://, gs://, az://)")
    return run_files(path)


def read_bytes(path: str, start: int = 0, storage_options: Optional[Mapping[str, Any]] = None) -> bytes:
    """The bytes of the event file ``path`` from offset ``start`` to its current end."""
    if _is_url(path):
        with _storage(path, storage_options).open_read(path) as stream:
            if start:
                stream.seek(start)
            return stream.read()
    with open(path, "rb") as stream:
        if start:
            stream.seek(start)
        return stream.read()


def file_size(path: str, storage_options: Optional[Mapping[str, Any]] = None) -> int:
    """The current size of ``path`` in bytes."""
    if _is_url(path):
        return int(_storage(path, storage_options).size(path))
    return os.path.getsize(path)
