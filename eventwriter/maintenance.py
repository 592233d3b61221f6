"""Maintenance of runs on object storage: compact segments, upload pending records, fetch projector files.

The ``eventwriter compact``, ``upload-pending`` and ``fetch-projector`` commands
(:mod:`eventwriter.cli.maintenance`) call these functions. Both ``compact`` and
``upload_pending`` may be killed at any point and run again, and may run twice at once: each
takes a lock first, records what it is about to do before doing it, and on its next run finishes
or checks whatever a killed run left half done, so no record is lost or stored twice.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from .record import encode_record, read_records

if TYPE_CHECKING:
    from .logdir import Manifest
    from .storage.remote import RemoteStorage

DEFAULT_MIN_AGE = 300.0  # seconds since a run's newest event before compact takes it for finished
DEFAULT_LOCK_WAIT = 60.0  # how long compact/upload-pending wait for another one to finish
LOCK_NAME = "eventwriter-compact.lock"
LOCK_SECS = 600.0  # a compact lock not renewed for this long belongs to a run that died


class LocalRunError(ValueError):
    """``compact`` was given a local directory: local event files need no compaction, and one may
    still be appended to by a live writer, which would lose everything it logs afterwards."""


class CompactionBusy(RuntimeError):
    """Another ``compact`` holds the run's lock (and did not finish within the wait)."""


@dataclass
class CompactResult:
    """What :func:`compact` did.

    Attributes:
        merged: URL of the merged object ("" if there was nothing to merge).
        removed: URLs of the event files deleted (merged into ``merged``, or into an object a
            killed compaction had already written: ``finished`` lists those).
        records: records in the merged object.
        finished: files a previous, interrupted compaction had merged and this run deleted.
    """

    merged: str
    removed: List[str]
    records: int
    finished: List[str] = field(default_factory=list)


# -- compact -----------------------------------------------------------------------------------


class _RunLock:
    """``<run>/eventwriter-compact.lock``: created exclusively, taken over by compare-and-swap once
    its holder is gone (expired, or a dead process of this host), renewed the same way."""

    def __init__(self, storage: "RemoteStorage", url: str) -> None:
        self.storage = storage
        self.path = storage.join(url, LOCK_NAME)
        self.url = url
        self.token = uuid.uuid4().hex
        self.version: Any = None

    def _body(self) -> bytes:
        return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "token": self.token,
                           "expires": time.time() + LOCK_SECS}).encode("utf-8")

    def acquire(self, wait: float) -> None:
        from .storage.local import pid_alive

        ops = self.storage.ops
        deadline = time.monotonic() + wait
        while True:
            try:
                ops.put_new(self.path, self._body())
                self.version = ops.read_versioned(self.path)[1]
                return
            except FileExistsError:
                pass
            old, version = ops.read_versioned(self.path)
            if old is not None:
                try:
                    held = json.loads(old.decode("utf-8"))
                    expires, host, pid = float(held["expires"]), str(held["host"]), int(held["pid"])
                except (ValueError, KeyError, TypeError):
                    expires, host, pid = 0.0, "", 0  # unreadable: taken for stale
                gone = expires < time.time() or (host == socket.gethostname() and not pid_alive(pid))
                if gone and ops.put_if(self.path, self._body(), version):
                    self.version = ops.read_versioned(self.path)[1]
                    return
                if time.monotonic() >= deadline:
                    raise CompactionBusy(
                        f"{self.url}: another compact is running (process {pid} on {host}; its lock expires in "
                        f"{max(0.0, expires - time.time()):.0f} s); try again later"
                    )
            time.sleep(0.5)

    def renew(self) -> None:
        """Push the expiry on; raises :class:`CompactionBusy` if another run took the lock over."""
        if not self.storage.ops.put_if(self.path, self._body(), self.version):
            raise CompactionBusy(f"{self.url}: the compaction lock was taken over by another run; nothing deleted")
        self.version = self.storage.ops.read_versioned(self.path)[1]

    def release(self) -> None:
        old, _ = self.storage.ops.read_versioned(self.path)
        if old is not None and self.token.encode() in old:
            self.storage.remove(self.path)


def _kept(payloads: List[bytes], first: bool) -> List[bytes]:
    """The records of one file that go into a merged object: all of the first file's; of the
    others, all but their own ``file_version`` header (the merged file keeps the first one)."""
    from . import protos

    if first or not payloads:
        return payloads
    head = protos.Event.FromString(payloads[0])
    if head.WhichOneof("what") == "file_version" and not head.step:
        return payloads[1:]
    return payloads


def _remote(url: str, storage_options: Optional[Dict[str, Any]]) -> "RemoteStorage":
    from .storage.remote import remote_storage

    return remote_storage(url, storage_options)


def compact(
    url: str, storage_options: Optional[Dict[str, Any]] = None, min_age: float = DEFAULT_MIN_AGE, wait: float = DEFAULT_LOCK_WAIT
) -> CompactResult:
    """Merge the event files directly in ``url`` (a finished run on an object store) into one object.

    Every record of every file is checked (both CRCs) before anything is written; the headers of
    the 2nd and later files (their ``file_version`` records) are dropped. First a manifest
    (``eventwriter-compacted.<id>.json``: which files, where their records are), then the merged
    object (``events.out.tfevents.<secs>.compacted.<id>``, sorting before the files it replaces,
    ``<id>`` from its content) are written, the merged object is read back and compared byte for
    byte, and only then are the files deleted. Between that write and the last delete a reader
    that lists the run sees the events twice (``eventwriter.frames.Follower`` does not: it reads
    the manifest).

    Safe to kill at any point and to run again: a merged object whose files are still there is
    checked against them (by the manifest's record ranges) and they are deleted; nothing is
    merged twice. Two runs at once: the second waits (at most ``wait`` seconds) for the run's
    lock (``eventwriter-compact.lock``, expiring after 10 minutes without renewal), then finds the
    work done.

    A run whose newest event was logged less than ``min_age`` seconds ago (by its ``wall_time``)
    is taken for live and left alone: its writer may still be retrying a segment that compaction
    would merge and delete, and the retry would then store those events a second time.

    Raises:
        LocalRunError: ``url`` is a local directory (nothing is changed).
        ValueError: a damaged record, or a merged object that does not hold what its manifest
            says (nothing is deleted then).
        RuntimeError: the run looks live (nothing is changed; ``min_age=0`` overrides), or
            :class:`CompactionBusy`.
    """
    from . import protos
    from .logdir import CoveredFile, Manifest, compaction_id, compacted_name, is_event_file_name, manifest_id, manifest_name
    from .storage import is_url

    if not min_age >= 0:
        raise ValueError(f"min_age must be a number of seconds >= 0, got {min_age!r}")
    if not is_url(url) or url.split("://", 1)[0] in ("file", "local"):
        raise LocalRunError(
            f"{url}: compact works on runs in object stores (s3://, gs://, az://...). Local event files need no "
            "compaction, and one may still be appended to by a live writer, which would lose everything it logs next"
        )
    storage = _remote(url, storage_options)
    lock = _RunLock(storage, url)
    lock.acquire(wait)
    try:
        listing = storage.list_names(url)
        names = sorted(n for n in listing if is_event_file_name(n))
        records: Dict[str, List[bytes]] = {}
        sizes: Dict[str, int] = {}
        newest = float("-inf")
        for name in names:
            path = storage.join(url, name)
            data = storage.read_bytes(path)
            if data is None:
                raise ValueError(f"{path}: disappeared while compacting (another process is changing the run)")
            sizes[name] = len(data)
            payloads = [r.payload for r in read_records(io.BytesIO(data), path)]
            for payload in payloads:
                newest = max(newest, protos.Event.FromString(payload).wall_time)
            records[name] = payloads
        age = time.time() - newest
        if names and age < min_age:
            raise RuntimeError(
                f"{url}: its newest event was logged {max(age, 0.0):.0f} s ago (less than {min_age:g} s), so its writer may "
                "still be running; compact finished runs, or pass --min-age 0 if you know it has stopped"
            )
        # Manifests: those of merged objects present; the rest are leftovers of a killed run.
        manifests: Dict[str, "Manifest"] = {}
        stale_manifests = []
        for name in listing:
            if manifest_id(name) is None:
                continue
            raw = storage.read_bytes(storage.join(url, name))
            try:
                manifest = Manifest.from_json(raw or b"")
            except ValueError:
                manifest = None
            if manifest is not None and manifest.name in records and compaction_id(manifest.name) == manifest_id(name):
                manifests[manifest.name] = manifest
            else:
                stale_manifests.append(name)
        # 1. Finish what a killed compaction left: files its merged object holds.
        finished: List[str] = []
        for merged_name, manifest in manifests.items():
            held = records[merged_name]
            for source in manifest.inputs:
                if source.name not in records or source.name == merged_name:
                    continue
                if _kept(records[source.name], source.first == 0) != held[source.first:source.first + source.records]:
                    raise ValueError(
                        f"{storage.join(url, merged_name)} does not hold the records of {source.name} as its manifest says; "
                        "nothing deleted"
                    )
                finished.append(source.name)
        # 2. Merge what is left, if more than one file.
        remaining = [n for n in names if n not in finished]
        target = ""
        merged_count = 0
        merged_inputs: List[str] = []
        if len(remaining) >= 2:
            parts: List[bytes] = []
            inputs, covers = [], []
            for index, name in enumerate(remaining):
                kept = _kept(records[name], index == 0)
                dropped = len(records[name]) - len(kept)
                first = len(parts)
                inputs.append(CoveredFile(name, sizes[name], first, len(kept)))
                covers.append(CoveredFile(name, sizes[name], first, len(kept)))
                for inner in manifests[name].covers if name in manifests else []:
                    start = max(0, inner.first - dropped)
                    end = inner.first + inner.records - dropped
                    if end > start:
                        covers.append(CoveredFile(inner.name, inner.size, first + start, end - start))
                parts.extend(kept)
            merged = b"".join(encode_record(p) for p in parts)
            content_id = hashlib.sha256(merged).hexdigest()[:16]
            target = compacted_name(remaining[0], content_id)
            manifest = Manifest(target, len(parts), inputs, covers)
            storage.write_atomic(storage.join(url, manifest_name(content_id)), [manifest.to_json()])
            target_url = storage.join(url, target)
            try:
                storage.ops.put_new(target_url, merged)
            except FileExistsError:
                if storage.read_bytes(target_url) != merged:
                    raise ValueError(f"{target_url} exists with other content; nothing deleted") from None
            if storage.read_bytes(target_url) != merged:
                raise OSError(f"{target_url}: the merged object does not read back as written; nothing deleted")
            merged_count = len(parts)
            merged_inputs = [n for n in remaining if n != target]
        elif len(remaining) == 1 and remaining[0] in manifests:
            target, merged_count = remaining[0], manifests[remaining[0]].records
        lock.renew()  # still ours: nobody else deletes or merges meanwhile
        removed = []
        for name in finished + merged_inputs:
            storage.remove(storage.join(url, name))
            removed.append(storage.join(url, name))
        for name in merged_inputs:  # the merged object's manifest carries theirs on
            content = compaction_id(name)
            if content is not None:
                storage.remove(storage.join(url, manifest_name(content)))
        for name in stale_manifests:
            storage.remove(storage.join(url, name))
        return CompactResult(storage.join(url, target) if target else "", removed, merged_count,
                             [storage.join(url, n) for n in finished])
    finally:
        lock.release()


# -- upload-pending ----------------------------------------------------------------------------


def upload_pending(spill_dir: str, storage_options: Optional[Dict[str, Any]] = None, wait: float = DEFAULT_LOCK_WAIT) -> int:
    """Upload the segments a writer kept in ``spill_dir``; returns how many records are now stored.

    Each goes to the run it belongs to, under its recorded name if that still sorts after every
    event file in the run, else under a name that does (a live TensorBoard never returns to an
    earlier file); the new name is recorded before anything is sent. A recorded name is looked
    up first: found with the same bytes (an upload whose answer was lost), it is not sent again.
    Each segment is removed from ``spill_dir`` as soon as it is stored, and the directory once empty.

    The directory's lock is held throughout: while its writer lives (it retries itself), or while
    another ``upload_pending`` runs, this one waits at most ``wait`` seconds. Safe to kill and
    run again at any point.

    Raises:
        eventwriter.storage.spill.SpillBusy: the lock was not free within ``wait`` seconds.
        ValueError: not a spill directory (of this version).
        OSError: the store failed (after retries within its retry budget) or refused for good;
            what was not uploaded stays in ``spill_dir``.
    """
    from .logdir import is_event_file_name, name_after
    from .storage.spill import SpillDir

    spill = SpillDir.claim(spill_dir, timeout=wait)
    if spill is None:
        return 0  # gone or empty: another process uploaded it meanwhile
    try:
        directory = str(spill.target["directory"])
        storage = _remote(directory, storage_options)
        last = max((n for n in storage.list_names(directory) if is_event_file_name(n)), default="")
        stored = 0
        for entry in spill.entries():
            data = spill.read(entry.seq)
            name = entry.name
            if name <= last:
                # Maybe uploaded already, its answer lost: look before sending again.
                if storage.read_object(storage.join(directory, name)) == data:
                    spill.remove(entry.seq)
                    stored += entry.records
                    continue
                name = name_after(name, last)
                spill.rename(entry.seq, name, entry.records)  # recorded before it is sent
            name = _send(storage, directory, name, data, last, lambda new, e=entry: spill.rename(e.seq, new, e.records))
            spill.remove(entry.seq)  # progress is kept after each segment
            last = max(last, name)
            stored += entry.records
        spill.discard_if_empty()
        return stored
    finally:
        spill.release()


def _send(storage: "RemoteStorage", directory: str, name: str, data: bytes, last: str, record_name: Any) -> str:
    """Upload one segment (retrying transient errors within the retry budget); the name it is stored under."""
    from .logdir import event_file_name, name_after
    from .storage.faults import backoff_delays, is_permanent
    from .storage.segments import upload_segment

    tried = [name]

    def fresh() -> str:  # another writer's object holds the name: one that sorts after both
        tried.append(name_after(event_file_name(time.time()), max(last, tried[-1])))
        return tried[-1]

    deadline = time.monotonic() + storage.policy.retry_secs
    delays = backoff_delays()
    while True:
        try:
            return upload_segment(storage, directory, tried[-1], data, fresh, storage.policy.request_secs, record_name)
        except Exception as exc:
            delay = next(delays)
            if is_permanent(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)


def fetch_projector(url: str, destination: str, storage_options: Optional[Dict[str, Any]] = None) -> List[str]:
    """Copy a run's projector files (config, tensors, metadata, sprites) and event files to ``destination``.

    TensorBoard's projector plugin resolves asset paths on the local disk only, so an embedding
    logged to ``s3://`` is viewed with ``tensorboard --logdir <destination>``. Returns the local
    paths written.
    """
    from . import protos
    from .projector import CONFIG_NAME
    from .logdir import is_event_file_name
    from .storage import storage_for
    from .storage.local import LOCAL

    storage = storage_for(url, storage_options)
    config_bytes = storage.read_bytes(storage.join(url, CONFIG_NAME))
    if config_bytes is None:
        raise FileNotFoundError(f"{storage.join(url, CONFIG_NAME)}: no projector config in this run")
    from google.protobuf import text_format

    config = text_format.Parse(config_bytes.decode("utf-8"), protos.ProjectorConfig())
    relative = [CONFIG_NAME]
    for embedding in config.embeddings:
        for rel in (embedding.tensor_path, embedding.metadata_path, embedding.sprite.image_path):
            if rel:
                relative.append(rel)
    relative += [n for n in storage.list_names(url) if is_event_file_name(n)]
    written = []
    for rel in relative:
        parts = [p for p in rel.split("/") if p]
        if any(p in ("..", ".") for p in parts) or not parts:
            raise ValueError(f"{url}: refusing the path {rel!r} from the projector config")
        data = storage.read_bytes(storage.join(url, *parts))
        if data is None:
            raise FileNotFoundError(f"{storage.join(url, *parts)}: listed in the projector config but missing")
        local = os.path.join(destination, *parts)
        LOCAL.makedirs(os.path.dirname(local))
        LOCAL.write_atomic(local, [data])
        written.append(local)
    return written
