"""The fsspec backend of the storage seam: ``s3://``, ``gs://``, ``az://``/``abfs://``, ``memory://``, any fsspec URL.

Imported only when a URL is given, so ``import eventwriter`` and local logging never import fsspec.

* Event files are written as sealed segments (:mod:`eventwriter.storage.segments`): no byte is
  uploaded twice, each segment is one request, and each is a complete event file.
* Side files (projector TSVs, sprites) are single PUTs: an object is replaced atomically.
* ``update_atomic`` (the projector config merge) is a compare-and-swap loop on the store's
  conditional writes (:mod:`eventwriter.storage.objects`), with no lock file.
* Credentials and endpoints: ``storage_options`` go to fsspec as they are; otherwise each store's
  standard environment applies (``AWS_*`` including ``AWS_ENDPOINT_URL_S3``,
  ``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_CONNECTION_STRING``...).
* Retries: s3fs retries on top of botocore's, and the stream retries on top of both. Unless the
  caller's ``storage_options`` say otherwise, s3fs makes one attempt and botocore's standard mode
  at most three, so one logical upload never turns into dozens of requests. Segment uploads are
  cancelled after the policy's ``request_secs`` (async stores), so a store that hangs or trickles
  holds no request for longer.
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any, BinaryIO, Callable, Dict, Iterable, Iterator, List, Mapping, Optional

from .faults import backoff_delays, is_transient
from .objects import ObjectOps
from .policy import DEFAULT_UPLOAD_SECS, UploadPolicy
from .seam import WalkEntry
from .segments import RemoteEventStream

_OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl"}


def _store_options(protocol: str, options: Mapping[str, Any]) -> Dict[str, Any]:
    """The caller's options plus our defaults for retries and timeouts where the caller set none."""
    opts = dict(options)
    if protocol in ("s3", "s3a"):
        config = dict(opts.get("config_kwargs") or {})
        config.setdefault("retries", {"mode": "standard", "total_max_attempts": 3})
        config.setdefault("connect_timeout", 10)
        config.setdefault("read_timeout", 60)
        opts["config_kwargs"] = config
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint and "endpoint_url" not in opts and "endpoint_url" not in (opts.get("client_kwargs") or {}):
            opts["endpoint_url"] = endpoint
    return opts


class RemoteStorage:
    """One fsspec filesystem behind the :class:`eventwriter.storage.Storage` protocol.

    Args:
        url: any path on the filesystem (it picks the protocol).
        storage_options: keyword arguments for the fsspec filesystem.
        policy: upload cadence, retry budget, memory limit and spill directory of event streams.
    """

    def __init__(self, url: str, storage_options: Optional[Mapping[str, Any]] = None, policy: Optional[UploadPolicy] = None) -> None:
        try:
            import fsspec
        except ImportError as exc:
            raise ImportError(
                f"logging to {url!r} needs fsspec and the store's package: pip install \".[s3]\" in the eventwriter checkout "
                "(or [gcs], [azure])"
            ) from exc
        protocol = url.split("://", 1)[0]
        self.url = url
        self.protocol = protocol
        self.storage_options = dict(storage_options or {})
        self.fs = fsspec.filesystem(protocol, **_store_options(protocol, self.storage_options))
        if protocol in ("s3", "s3a") and "retries" not in self.storage_options:
            self.fs.retries = 1  # s3fs's own loop (5 attempts) would multiply botocore's and ours
        self.ops = ObjectOps(self.fs)
        self.policy = policy or UploadPolicy()

    # -- paths -------------------------------------------------------------------------------

    def join(self, base: str, *parts: str) -> str:
        """``base/part/...`` with single slashes."""
        out = base.rstrip("/")
        for part in parts:
            out += "/" + part.strip("/")
        return out

    # -- Storage -----------------------------------------------------------------------------

    def makedirs(self, path: str) -> None:
        """Object stores have no directories; other filesystems get them created."""
        if self.protocol not in _OBJECT_STORES:
            self.fs.makedirs(path, exist_ok=True)

    def open_stream(
        self, directory: str, new_name: Callable[[], str], header: bytes, max_file_bytes: Optional[int] = None
    ) -> RemoteEventStream:
        """Sealed segments in ``directory`` (see :mod:`eventwriter.storage.segments`)."""
        return RemoteEventStream(self, directory, new_name, header, max_file_bytes, self.policy)

    # -- what segments need (storage.segments.SegmentStore) ------------------------------------

    def put_new(self, url: str, data: bytes, timeout: Optional[float] = None) -> None:
        """Create ``url`` exclusively in one request (``FileExistsError`` if taken), cancelled after ``timeout``."""
        self.ops.put_new(url, data, timeout=timeout)

    def read_object(self, url: str, timeout: Optional[float] = None) -> Optional[bytes]:
        """The object's bytes or None, in one request cancelled after ``timeout``."""
        return self.ops.read(url, timeout=timeout)

    def read_bytes(self, path: str) -> Optional[bytes]:
        """The object's bytes, or None if it does not exist."""
        try:
            return self._retrying(lambda: self.fs.cat_file(path))
        except FileNotFoundError:
            return None

    def write_atomic(self, path: str, chunks: Iterable[bytes]) -> None:
        """One PUT: an object store replaces an object atomically."""
        data = b"".join(chunks)
        self._retrying(lambda: self.fs.pipe_file(path, data))

    def update_atomic(self, path: str, transform: Callable[[Optional[bytes]], bytes], timeout: float) -> None:
        """Compare-and-swap loop: read with its version, write only if unchanged, else read again."""
        deadline = time.monotonic() + timeout
        delays = backoff_delays(first=0.05, cap=1.0)
        with self.ops.serialized():
            while True:
                old, version = self._retrying(functools.partial(self.ops.read_versioned, path))
                if self._retrying(functools.partial(self.ops.put_if, path, transform(old), version)):
                    return
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"gave up after {timeout:g} s: {path!r} kept changing under concurrent writers")
                time.sleep(next(delays))

    def open_read(self, path: str) -> BinaryIO:
        """``fs.open(path, "rb")``; a directory raises ``IsADirectoryError``."""
        if self.kind(path) == "dir":
            import errno

            raise IsADirectoryError(errno.EISDIR, f"{path!r} is a directory")
        return self.fs.open(path, "rb")

    def size(self, path: str) -> int:
        """Size of the object in bytes."""
        return int(self.fs.size(path))

    def kind(self, path: str) -> str:
        """``"file"``, ``"dir"`` (a prefix with objects under it, or a bucket) or ``"missing"``."""
        try:
            info = self.fs.info(path)
        except (FileNotFoundError, OSError):
            return "missing"
        kind = info.get("type")
        return "file" if kind == "file" else "dir" if kind == "directory" else "other"

    def walk(self, root: str) -> Iterator[WalkEntry]:
        """Every prefix under ``root`` in sorted order (object stores have no links, so no loops)."""
        self.fs.invalidate_cache()
        stripped_root = self.fs._strip_protocol(root).rstrip("/")
        tree: Dict[str, List[str]] = {}
        for directory, _dirs, files in self.fs.walk(root):
            tree[directory.rstrip("/")] = sorted(files)
        for directory in sorted(tree):
            rest = directory[len(stripped_root):] if directory.startswith(stripped_root) else ""
            yield WalkEntry(root.rstrip("/") + rest, tree[directory], [])

    def remove(self, path: str) -> None:
        """Delete the object; missing is fine."""
        try:
            self._retrying(lambda: self.fs.rm_file(path))
        except FileNotFoundError:
            pass

    def list_names(self, directory: str) -> List[str]:
        """Sorted names directly under ``directory`` (empty if none)."""
        try:
            entries = self.fs.ls(directory, detail=False, refresh=True)
        except TypeError:
            entries = self.fs.ls(directory, detail=False)
        except FileNotFoundError:
            return []
        return sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in entries)

    # -- internals ---------------------------------------------------------------------------

    def _retrying(self, call: Callable[[], Any]) -> Any:
        """``call()`` retried with backoff on transient errors for at most the policy's retry_secs."""
        deadline = time.monotonic() + self.policy.retry_secs
        delays = backoff_delays()
        while True:
            try:
                return call()
            except Exception as exc:
                delay = next(delays)
                if isinstance(exc, FileNotFoundError) or not is_transient(exc) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)


def remote_storage(
    url: str,
    storage_options: Optional[Mapping[str, Any]] = None,
    *,
    upload_secs: Optional[float] = None,
    retry_secs: Optional[float] = None,
) -> RemoteStorage:
    """The backend for ``url`` (called by :func:`eventwriter.storage.storage_for`).

    ``upload_secs`` sets the event streams' upload interval (default :data:`DEFAULT_UPLOAD_SECS`),
    ``retry_secs`` the total wait of ``flush()``/``close()`` (default :data:`eventwriter.storage.policy.DEFAULT_RETRY_SECS`).
    """
    policy = UploadPolicy(interval=DEFAULT_UPLOAD_SECS if upload_secs is None else float(upload_secs))
    if retry_secs is not None:
        policy.retry_secs = float(retry_secs)
    return RemoteStorage(url, storage_options, policy)
