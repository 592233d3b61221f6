"""Records that could not be uploaded yet, kept in a local directory (one per event stream).

Why: while an object store is unreachable, a training run keeps logging. Holding everything in
memory would grow without bound, so past a limit the pending records move to disk; and when the
store refuses for good (``flush()``/``close()`` gave up, or the process died), the records stay
there for ``eventwriter upload-pending`` to send later. Nothing is created until it is needed:
a healthy run leaves no directory behind.

Layout of one spill directory::

    target.json    {"directory": URL, "suffix": ..., "host": ..., "pid": ...}
    header.bin     the file_version record every uploaded segment starts with
    records.bin    pending records, whole and in order (the oldest first)
    state.json     {"uploaded": N}: the first N bytes of records.bin are already in the store
    inflight.bin   a segment whose upload had started (its outcome unknown) ...
    inflight.json  ... and the name it was being uploaded under
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import uuid
from typing import Any, Dict, List, Optional, Tuple

from .local import LOCAL

_LEN = struct.Struct("<Q")


def default_root() -> str:
    """``$EVENTWRITER_PENDING_DIR``, else ``$XDG_CACHE_HOME/eventwriter/pending`` (``~/.cache/...``)."""
    root = os.environ.get("EVENTWRITER_PENDING_DIR")
    if root:
        return root
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "eventwriter", "pending")


def record_ends(data: bytes) -> List[int]:
    """Offsets just past each whole record of ``data`` (framing: u64 length, u32 crc, data, u32 crc)."""
    ends = []
    pos = 0
    while pos + 12 <= len(data):
        (length,) = _LEN.unpack_from(data, pos)
        end = pos + 16 + length
        if end > len(data):
            break
        ends.append(end)
        pos = end
    return ends


def count_records(data: bytes) -> int:
    """Number of whole records in ``data``."""
    return len(record_ends(data))


def _write_json(path: str, value: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Spill:
    """The spill directory of one event stream, created on first use."""

    def __init__(self, root: Optional[str], directory_url: str, suffix: str, header: bytes) -> None:
        self._root = root or default_root()
        self._url = directory_url
        self._suffix = suffix
        self._header = header
        self.path = ""
        self._size = 0  # bytes in records.bin
        self._uploaded = 0  # leading bytes of records.bin already in the store
        self.records = 0  # records in records.bin not yet uploaded

    @property
    def pending_bytes(self) -> int:
        """Bytes of records on disk that are not in the store yet."""
        return self._size - self._uploaded

    def _ensure(self) -> None:
        if self.path:
            return
        path = os.path.join(self._root, f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:12]}")
        os.makedirs(path)
        with open(os.path.join(path, "header.bin"), "wb") as f:
            f.write(self._header)
        _write_json(os.path.join(path, "state.json"), {"uploaded": 0})
        _write_json(
            os.path.join(path, "target.json"),
            {"directory": self._url, "suffix": self._suffix, "host": socket.gethostname(), "pid": os.getpid()},
        )
        self.path = path

    def append(self, data: bytes, records: int) -> None:
        """Add whole records at the end (fsync-ed: they must outlive the process)."""
        self._ensure()
        with open(os.path.join(self.path, "records.bin"), "ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._size += len(data)
        self.records += records

    def take(self, limit: int) -> Tuple[bytes, int, int]:
        """Up to ``limit`` bytes of the oldest pending records (at least one whole record).

        Returns (data, record count, end offset to pass to :meth:`commit` once uploaded).
        """
        if not self.pending_bytes:
            return b"", 0, self._uploaded
        with open(os.path.join(self.path, "records.bin"), "rb") as f:
            f.seek(self._uploaded)
            data = f.read(max(limit, 1))
            if len(data) < self.pending_bytes:
                ends = record_ends(data)
                if not ends:  # one record larger than the limit: take it whole
                    f.seek(self._uploaded)
                    head = f.read(12)
                    (length,) = _LEN.unpack_from(head, 0)
                    f.seek(self._uploaded)
                    data = f.read(16 + length)
                    ends = [len(data)]
                data = data[: ends[-1]]
        return data, count_records(data), self._uploaded + len(data)

    def commit(self, end: int, records: int) -> None:
        """Mark records.bin up to ``end`` as uploaded; remove the directory once nothing is left."""
        self._uploaded = end
        self.records -= records
        if self._uploaded >= self._size and not os.path.exists(os.path.join(self.path, "inflight.bin")):
            self.discard()
        else:
            _write_json(os.path.join(self.path, "state.json"), {"uploaded": self._uploaded})

    def save_inflight(self, name: str, data: bytes) -> None:
        """Keep a segment whose upload may or may not have happened (the CLI checks the store)."""
        self._ensure()
        with open(os.path.join(self.path, "inflight.bin"), "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        _write_json(os.path.join(self.path, "inflight.json"), {"name": name})

    def clear_inflight(self) -> None:
        """The segment saved by :meth:`save_inflight` is now known to be in the store."""
        if not self.path:
            return
        for name in ("inflight.json", "inflight.bin"):
            try:
                os.unlink(os.path.join(self.path, name))
            except FileNotFoundError:
                pass
        if self._uploaded >= self._size:
            self.discard()

    def discard(self) -> None:
        """Delete the directory (everything in it is in the store)."""
        if self.path:
            shutil.rmtree(self.path, ignore_errors=True)
        self.path = ""
        self._size = self._uploaded = 0
        self.records = 0


# -- reading a spill directory left behind (``eventwriter upload-pending``) ----------------------


def spill_dirs(root: Optional[str] = None) -> List[str]:
    """The spill directories under ``root`` (default :func:`default_root`), sorted; none if it is missing."""
    root = root or default_root()
    return [LOCAL.join(root, name) for name in LOCAL.list_names(root)]


def _read(spill_dir: str, name: str) -> bytes:
    path = LOCAL.join(spill_dir, name)
    data = LOCAL.read_bytes(path)
    if data is None:
        raise FileNotFoundError(f"{path}: missing from the spill directory")
    return data


def read_target(spill_dir: str) -> Dict[str, Any]:
    """``target.json``: where the records belong (``directory``, ``suffix``) and who wrote them (``host``, ``pid``)."""
    target: Dict[str, Any] = json.loads(_read(spill_dir, "target.json").decode("utf-8"))
    return target


def read_header(spill_dir: str) -> bytes:
    """``header.bin``: the file_version record each uploaded segment starts with."""
    return _read(spill_dir, "header.bin")


def read_inflight(spill_dir: str) -> Optional[Tuple[str, bytes]]:
    """``(name, segment bytes)`` of the segment whose upload had started, or None if there is none."""
    meta = LOCAL.read_bytes(LOCAL.join(spill_dir, "inflight.json"))
    if meta is None:
        return None
    return json.loads(meta.decode("utf-8"))["name"], _read(spill_dir, "inflight.bin")


def forget_inflight(spill_dir: str) -> None:
    """Drop the in-flight segment (it is in the store now)."""
    for name in ("inflight.json", "inflight.bin"):
        LOCAL.remove(LOCAL.join(spill_dir, name))


def read_pending(spill_dir: str) -> bytes:
    """The whole records of ``records.bin`` not uploaded yet (past ``state.json``'s offset); empty if none."""
    records = LOCAL.read_bytes(LOCAL.join(spill_dir, "records.bin"))
    if records is None:
        return b""
    uploaded = int(json.loads(_read(spill_dir, "state.json").decode("utf-8")).get("uploaded", 0))
    rest = records[uploaded:]
    return rest[: (record_ends(rest) or [0])[-1]]


def remove_spill_dir(spill_dir: str) -> None:
    """Delete a spill directory whose records are all in the store."""
    shutil.rmtree(spill_dir)
