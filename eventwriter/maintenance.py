"""Maintenance of runs on object storage: compact segments, upload pending records, fetch projector files.

The ``eventwriter compact``, ``upload-pending`` and ``fetch-projector`` commands
(:mod:`eventwriter.cli.maintenance`) call these functions.
"""

from __future__ import annotations

import io
import os
import socket
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .record import encode_record, read_records

_SEGMENT_BYTES = 64 << 20
DEFAULT_MIN_AGE = 300.0  # seconds since a run's newest event before compact takes it for finished


@dataclass
class CompactResult:
    """What :func:`compact` did: the merged object, the segments it replaced, records kept."""

    merged: str
    removed: List[str]
    records: int


def _compact_name(first: str) -> str:
    """A name that sorts before ``first`` (an ``events.out.tfevents.<secs>...`` name)."""
    head = "events.out.tfevents."
    secs = first[len(head):len(head) + 10] if first.startswith(head) else ""
    before = int(secs) - 1 if secs.isdigit() and int(secs) > 0 else 0
    return "%s%010d.compacted.%s" % (head, before, socket.gethostname())


def compact(url: str, storage_options: Optional[Dict[str, Any]] = None, min_age: float = DEFAULT_MIN_AGE) -> CompactResult:
    """Merge the event files directly in ``url`` (a finished run) into one object, then delete them.

    Every record of every file is checked (both CRCs) before anything is written; the headers of
    the 2nd and later files (their ``file_version`` records) are dropped. The merged object's name
    sorts before the segments, it is created exclusively, read back and compared byte for byte,
    and only then are the segments deleted. Between that write and the last delete, a reader that
    lists the run sees the events twice (README: "Logging to object storage").

    A run whose newest event was logged less than ``min_age`` seconds ago (by its ``wall_time``)
    is taken for live and left alone: its writer may still be retrying a segment that compaction
    would merge and delete, and the retry would then store those events a second time.

    Raises:
        ValueError: fewer than two event files, or a damaged record (nothing is changed then).
        RuntimeError: the run looks live (nothing is changed); ``min_age=0`` overrides.
    """
    if not min_age >= 0:
        raise ValueError(f"min_age must be a number of seconds >= 0, got {min_age!r}")
    from . import protos
    from .logdir import is_event_file_name
    from .storage import storage_for

    storage = storage_for(url, storage_options)
    names = [n for n in storage.list_names(url) if is_event_file_name(n)]
    if len(names) < 2:
        raise ValueError(f"{url}: {len(names)} event file(s); nothing to compact")
    parts: List[bytes] = []
    count = 0
    newest = float("-inf")
    for index, name in enumerate(names):
        path = storage.join(url, name)
        data = storage.read_bytes(path)
        if data is None:
            raise ValueError(f"{path}: disappeared while compacting")
        for position, record in enumerate(read_records(io.BytesIO(data), path)):
            event = protos.Event.FromString(record.payload)
            newest = max(newest, event.wall_time)
            if index > 0 and position == 0 and event.WhichOneof("what") == "file_version" and not event.step:
                continue  # each segment's own header; the merged file keeps the first one
            parts.append(encode_record(record.payload))
            count += 1
    age = time.time() - newest
    if age < min_age:
        raise RuntimeError(
            f"{url}: its newest event was logged {max(age, 0.0):.0f} s ago (less than {min_age:g} s), so its writer may still be "
            "running; compact finished runs, or pass --min-age 0 if you know it has stopped"
        )
    merged = b"".join(parts)
    target = storage.join(url, _compact_name(names[0]))
    ops = getattr(storage, "ops", None)
    if ops is not None:
        ops.put_new(target, merged)
    else:
        if storage.kind(target) != "missing":
            raise FileExistsError(f"{target} already exists")
        storage.write_atomic(target, [merged])
    if storage.read_bytes(target) != merged:
        raise OSError(f"{target}: the merged object does not read back as written; segments kept")
    for name in names:
        storage.remove(storage.join(url, name))
    return CompactResult(target, [storage.join(url, n) for n in names], count)


def upload_pending(spill_dir: str, storage_options: Optional[Dict[str, Any]] = None, force: bool = False) -> int:
    """Upload the records a writer kept in ``spill_dir``; returns how many records were sent.

    They go to the run they belong to, under names that sort after every event file already
    there (a live TensorBoard never returns to an earlier file). A segment whose upload had
    started is first looked for under its own name: found with the same bytes, it is not sent
    again. The directory is deleted afterwards.

    Raises:
        RuntimeError: the writing process is still alive on this host (it retries itself);
            ``force=True`` overrides.
    """
    from .logdir import event_file_name, is_event_file_name
    from .storage import spill, storage_for
    from .storage.local import pid_alive

    target = spill.read_target(spill_dir)
    if not force and target.get("host") == socket.gethostname() and pid_alive(int(target.get("pid", 0))):
        raise RuntimeError(f"{spill_dir}: process {target['pid']} that owns it is still running (it retries itself)")
    directory = target["directory"]
    storage = storage_for(directory, storage_options)
    header = spill.read_header(spill_dir)
    last = max([n for n in storage.list_names(directory) if is_event_file_name(n)], default="")
    serial = [0]

    def next_name() -> str:
        nonlocal last
        name = event_file_name(time.time(), target.get("suffix", ""))
        if name <= last:
            serial[0] += 1
            name = "%s.%05d" % (last, serial[0])
        last = name
        return name

    def put(data: bytes) -> None:
        ops = getattr(storage, "ops", None)
        for _ in range(100):
            path = storage.join(directory, next_name())
            try:
                if ops is not None:
                    ops.put_new(path, data)
                else:
                    storage.write_atomic(path, [data])
                return
            except FileExistsError:
                continue
        raise FileExistsError(f"no free event file name in {directory}")

    sent = 0
    inflight = spill.read_inflight(spill_dir)
    if inflight is not None:
        name, data = inflight
        if storage.read_bytes(storage.join(directory, name)) != data:
            put(data)
        sent += spill.count_records(data) - 1
        spill.forget_inflight(spill_dir)
    rest = spill.read_pending(spill_dir)
    while rest:
        ends = spill.record_ends(rest[:_SEGMENT_BYTES]) or spill.record_ends(rest)[:1]
        chunk, rest = rest[: ends[-1]], rest[ends[-1]:]
        put(header + chunk)
        sent += len(ends)
    spill.remove_spill_dir(spill_dir)
    return sent


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
