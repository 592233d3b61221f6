"""Per-store object operations the generic fsspec API lacks: exclusive create and compare-and-swap.

* exclusive create (``put_new``): fsspec's ``pipe_file(mode="create")``, which s3fs sends as
  ``If-None-Match: *``, gcsfs as ``ifGenerationMatch=0`` and adlfs as ``overwrite=False``; a
  store that refuses answers ``FileExistsError``.
* compare-and-swap (``read_versioned`` + ``put_if``): S3 ``ETag`` + ``If-Match`` (and
  ``If-None-Match: *`` for a first version), Azure ``ETag`` + ``match_condition``, GCS
  ``generation`` + ``ifGenerationMatch``. Other filesystems (``memory://``, ``file://``, ...)
  have no such condition: their writes are serialized within the process only, and two processes
  merging at once can lose one update (the README says so).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, ContextManager, Optional, Tuple

from .faults import precondition_failed

Version = Any
"""Opaque version token: an ETag, a GCS generation, or None for "absent"."""

PROCESS_WRITE_LOCK = threading.RLock()  # re-entered: a read-modify-write may create the object
"""Orders exclusive creates and read-modify-writes on stores without conditional writes
(``memory://``, ``file://``...), within this process: the only exclusion such stores allow."""


def _protocol(fs: Any) -> str:
    proto = fs.protocol
    return proto[0] if isinstance(proto, (tuple, list)) else str(proto)


class ObjectOps:
    """Exclusive create and compare-and-swap for the filesystem ``fs``."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs
        name = _protocol(fs)
        self.kind = "s3" if name in ("s3", "s3a") else "gcs" if name in ("gs", "gcs") else (
            "azure" if name in ("az", "abfs", "abfss", "adl") else "other"
        )

    @property
    def conditional(self) -> bool:
        """True if the store checks preconditions (so :meth:`put_if` is safe between processes)."""
        return self.kind != "other"

    def serialized(self) -> ContextManager[Any]:
        """What a read-modify-write holds: nothing on a conditional store, else :data:`PROCESS_WRITE_LOCK`."""
        return contextlib.nullcontext() if self.conditional else PROCESS_WRITE_LOCK

    def _call(self, name: str, timeout: Optional[float], *args: Any, **kwargs: Any) -> Any:
        """``fs.<name>(*args, **kwargs)``; on an async filesystem (s3fs, gcsfs, adlfs) with
        ``timeout``, the request is cancelled after that many seconds (``TimeoutError``), so a
        store that hangs or trickles cannot hold the caller, nor leave requests running behind it."""
        fs = self.fs
        if timeout is not None and getattr(fs, "async_impl", False) and getattr(fs, "loop", None) is not None:
            from fsspec.asyn import sync

            method: Callable[..., Any] = getattr(fs, "_" + name)
            return sync(fs.loop, method, *args, timeout=max(timeout, 0.001), **kwargs)
        return getattr(fs, name)(*args, **kwargs)

    def read(self, path: str, timeout: Optional[float] = None) -> Optional[bytes]:
        """The object's bytes, or None if it does not exist (one request, cancelled after ``timeout``)."""
        try:
            return bytes(self._call("cat_file", timeout, path))
        except FileNotFoundError:
            return None

    def put_new(self, path: str, data: bytes, timeout: Optional[float] = None) -> None:
        """Create ``path`` with ``data``; ``FileExistsError`` if it already exists.

        ``timeout`` bounds the request on async filesystems (see :meth:`_call`); then the outcome
        is unknown, and a retry of the same create finds out (an equal object means it succeeded).
        """
        fs = self.fs
        if self.kind in ("s3", "gcs", "azure"):
            try:
                self._call("pipe_file", timeout, path, data, mode="create")
            except FileExistsError:
                raise
            except Exception as exc:
                if precondition_failed(exc):
                    raise FileExistsError(path) from exc
                raise
            return
        with PROCESS_WRITE_LOCK:
            try:
                with fs.open(path, "xb") as f:
                    f.write(data)
                return
            except (NotImplementedError, ValueError, TypeError):
                pass
            if fs.exists(path):
                raise FileExistsError(path)
            fs.pipe_file(path, data)

    def read_versioned(self, path: str) -> Tuple[Optional[bytes], Version]:
        """Content of ``path`` (None if absent) and the version token a later :meth:`put_if` checks."""
        fs = self.fs
        try:
            if self.kind == "s3":
                bucket, key, _ = fs.split_path(path)
                head = fs.call_s3("head_object", Bucket=bucket, Key=key)
                etag = head["ETag"]
                # Read after the version: a change in between makes put_if fail, never succeed wrongly.
                return fs.cat_file(path), etag
            if self.kind == "gcs":
                fs.invalidate_cache(path)
                generation = fs.info(path)["generation"]
                return fs.cat_file(f"{path}#{generation}" if "#" not in path else path), generation
            if self.kind == "azure":
                return self._azure_read(path)
            return fs.cat_file(path), "local"
        except FileNotFoundError:
            return None, None

    def _azure_read(self, path: str) -> Tuple[Optional[bytes], Version]:
        """Content and ETag from one download (adlfs's listing cache could hand a stale ETag)."""
        from fsspec.asyn import sync

        fs = self.fs
        container, blob, _ = fs.split_path(path)

        async def download() -> Tuple[bytes, str]:
            from azure.core.exceptions import ResourceNotFoundError

            async with fs.service_client.get_blob_client(container=container, blob=blob) as client:
                try:
                    stream = await client.download_blob()
                except ResourceNotFoundError as exc:
                    raise FileNotFoundError(path) from exc
                return await stream.readall(), stream.properties.etag

        return sync(fs.loop, download)

    def put_if(self, path: str, data: bytes, version: Version) -> bool:
        """Write ``data`` to ``path`` only if it is still at ``version`` (None: still absent).

        Returns False when another writer got there first (the caller reads again and retries).
        """
        if version is None:
            try:
                self.put_new(path, data)
                return True
            except FileExistsError:
                return False
        fs = self.fs
        try:
            if self.kind == "s3":
                bucket, key, _ = fs.split_path(path)
                fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, IfMatch=version)
                fs.invalidate_cache(path)
            elif self.kind == "gcs":
                bucket, key, _ = fs.split_path(path)
                fs.call(
                    "POST", f"{fs._location}/upload/storage/v1/b/{bucket}/o", uploadType="media", name=key,
                    ifGenerationMatch=str(version), data=data, json_out=True,
                )
                fs.invalidate_cache(path)
            elif self.kind == "azure":
                from azure.core import MatchConditions

                fs.pipe_file(path, data, overwrite=True, etag=version, match_condition=MatchConditions.IfNotModified)
            else:
                fs.pipe_file(path, data)
        except Exception as exc:
            if precondition_failed(exc):
                return False
            raise
        return True
