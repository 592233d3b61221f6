"""One pass over a stretch of an event file's bytes: the rows of one kind plus what purging needs.

:mod:`.file_reader` runs it on each window of a file and joins the windows with
:class:`ChunkBuilder`; that is the unit of work a worker process runs. It frames the bytes and checks every CRC
(:mod:`.framing`), decodes scalar-shaped records with numpy (:mod:`.scalar_shape`), parses every
other record with protobuf, and keeps, besides the rows, each tag's first plugin metadata, the
``file_version`` and ``SessionLog.START`` events and the step of every summary event: the run-level
steps (plugin choice, purges) happen after all files of a run are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional, Tuple, Union

import numpy as np

from ..record import HEADER_SIZE
from .framing import frame
from .kinds import KINDS
from .scalar_shape import decode_scalars
from .values import parse_file_version, value_view

_SESSION_START = 1  # SessionLog.START
NO_ROWS = np.zeros(0, np.int64)  # what a consumed chunk's or run's row arrays are left holding


@dataclass
class FileChunk:
    """What one file contributed. ``rec`` numbers records in the file (file order).

    ``tags`` lists the chunk's tag names; ``tag`` holds codes into it. ``columns`` holds the kind's
    own columns, aligned with ``rec``. ``tag_meta[tag] = (rec, plugin, content)`` is the tag's
    first plugin metadata in this file.
    """

    path: str
    start: int
    end: int = 0
    truncated: bool = False
    damage: Optional[Tuple[str, int, str]] = None
    records: int = 0
    rec: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tag: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    tags: List[str] = field(default_factory=list)
    step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    wall_time: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    columns: Dict[str, Any] = field(default_factory=dict)
    tag_meta: Dict[str, Tuple[int, str, bytes]] = field(default_factory=dict)
    file_versions: List[Tuple[int, float]] = field(default_factory=list)
    starts: List[Tuple[int, int]] = field(default_factory=list)
    summary_rec: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    summary_step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _note_meta(tag_meta: Dict[str, Tuple[int, str, bytes]], tag: str, rec: int, meta: Tuple[str, bytes]) -> None:
    old = tag_meta.get(tag)
    if old is None or rec < old[0]:
        tag_meta[tag] = (rec, meta[0], meta[1])


def read_chunk(
    path: str,
    data: bytes,
    start: int,
    kind: str,
    tags: Optional[FrozenSet[str]] = None,
    payload: bool = False,
    file_version: Optional[float] = None,
) -> FileChunk:
    """Decode ``data`` (the file's bytes from offset ``start``) for ``kind``.

    Only complete records are used; ``end`` is the file offset after the last sound one.
    ``file_version`` is the version in force before ``data`` when the caller knows it (the same
    file's earlier bytes set it), which lets the summary steps be summarised as below.
    """
    spec = KINDS[kind]
    buf = np.frombuffer(data, dtype=np.uint8)
    framing, groups = frame(buf)
    chunk = FileChunk(path, start, start + framing.end, framing.truncated)
    if framing.damage is not None:
        what, offset, message = framing.damage
        chunk.damage = (what, start + offset, message)
    offsets, lengths = framing.offsets, framing.lengths
    n_records = len(offsets)

    fast_parts = []
    slow: List[np.ndarray] = []
    for _length, index, matrix in groups:
        if matrix is None:
            slow.append(index)
            continue
        rows = decode_scalars(matrix)
        if len(rows.rows):
            fast_parts.append((index[rows.rows], rows))
            if len(rows.rows) < len(index):
                rest = np.ones(len(index), bool)
                rest[rows.rows] = False
                slow.append(index[rest])
        else:
            slow.append(index)

    # Tag names of the fast rows; a name that is not UTF-8 goes to the protobuf path (which rejects it).
    fast_rec, fast_step, fast_wall, fast_value, fast_tag = [], [], [], [], []
    tag_codes: Dict[str, int] = {}
    for recs, rows in fast_parts:
        names: List[Optional[str]] = []
        for tag_raw in rows.tags:
            try:
                names.append(tag_raw.decode("utf-8"))
            except UnicodeDecodeError:
                names.append(None)
        bad = [i for i, n in enumerate(names) if n is None]
        if bad:
            is_bad = np.isin(rows.tag_codes, bad)
            slow.append(recs[is_bad])
            keep = ~is_bad
            recs, rows.tag_codes = recs[keep], rows.tag_codes[keep]
            rows.step, rows.wall_time, rows.value = rows.step[keep], rows.wall_time[keep], rows.value[keep]
        fast_rec.append(recs)
        fast_step.append(rows.step)
        fast_wall.append(rows.wall_time)
        # First record of each tag in this batch: the plugin metadata the rewrite gives it.
        first = np.full(len(names), -1, np.int64)
        order = np.argsort(rows.tag_codes, kind="stable")
        codes_sorted = rows.tag_codes[order]
        heads = np.flatnonzero(np.r_[True, codes_sorted[1:] != codes_sorted[:-1]]) if len(order) else np.zeros(0, np.int64)
        for h in heads.tolist():
            first[codes_sorted[h]] = recs[order[h]]
        remap = np.full(len(names), -1, np.int32)
        for i, name in enumerate(names):
            if name is None or first[i] < 0:
                continue
            _note_meta(chunk.tag_meta, name, int(first[i]), ("scalars", b""))
            remap[i] = tag_codes.setdefault(name, len(tag_codes))
        fast_tag.append(remap[rows.tag_codes])
        fast_value.append(rows.value)

    # Every other record through protobuf, in file order.
    from .. import protos

    slow_index = np.sort(np.concatenate(slow)) if slow else np.zeros(0, np.int64)
    cut = n_records
    s_rec: List[int] = []
    s_tag: List[int] = []
    s_step: List[int] = []
    s_wall: List[float] = []
    s_cols: List[Tuple[Any, ...]] = []
    summary_rec: List[int] = []
    summary_step: List[int] = []
    build = spec.build
    raw = buf.data
    for i in slow_index.tolist():
        off = int(offsets[i]) + HEADER_SIZE
        try:
            event = protos.Event.FromString(bytes(raw[off : off + int(lengths[i])]))
        except Exception as exc:  # protobuf's DecodeError (or upb's equivalents)
            cut = i
            chunk.damage = ("invalid event", start + int(offsets[i]), f"payload does not parse as an Event ({exc})")
            break
        what = event.WhichOneof("what")
        if what == "file_version":
            chunk.file_versions.append((i, parse_file_version(event.file_version)))
        elif what == "session_log":
            if event.session_log.status == _SESSION_START:
                chunk.starts.append((i, event.step))
        elif what in ("graph_def", "tagged_run_metadata"):
            summary_rec.append(i)  # the loader turns these into summary events too
            summary_step.append(event.step)
        if what != "summary":
            continue
        summary_rec.append(i)
        summary_step.append(event.step)
        for value in event.summary.value:
            view = value_view(value)
            if view.meta is not None:
                _note_meta(chunk.tag_meta, view.tag, i, view.meta)
            if tags is not None and view.tag not in tags:
                continue
            built = build(view.field, view.data, payload)
            if built is None:
                continue
            code = tag_codes.setdefault(view.tag, len(tag_codes))
            for row in built if spec.many else (built,):
                s_rec.append(i)
                s_tag.append(code)
                s_step.append(event.step)
                s_wall.append(event.wall_time)
                s_cols.append(row)

    # Assemble: fast rows (scalars only carry values for the scalars kind), then protobuf rows.
    if fast_rec:
        f_rec = np.concatenate(fast_rec)
        f_step = np.concatenate(fast_step)
        f_tag = np.concatenate(fast_tag)
        all_summary_rec = np.concatenate([f_rec, np.array(summary_rec, np.int64)])
        all_summary_step = np.concatenate([f_step, np.array(summary_step, np.int64)])
    else:
        all_summary_rec = np.array(summary_rec, np.int64)
        all_summary_step = np.array(summary_step, np.int64)
    order = np.argsort(all_summary_rec, kind="stable")
    chunk.summary_rec, chunk.summary_step = all_summary_rec[order], all_summary_step[order]
    versions = chunk.file_versions
    first_summary = int(chunk.summary_rec[0]) if len(chunk.summary_rec) else n_records
    known = (versions and versions[0][0] < first_summary) or (file_version is not None and file_version >= 2)
    if known and all(v >= 2 for _, v in versions) and len(chunk.summary_rec) > 1:
        # Every summary event here is read under file_version >= 2, where steps going back purge
        # nothing: only the last step matters (it carries over to the next file).
        chunk.summary_rec, chunk.summary_step = chunk.summary_rec[-1:], chunk.summary_step[-1:]

    name_of = [t for t, _ in sorted(tag_codes.items(), key=lambda kv: kv[1])]
    chunk.tags = name_of
    parts_rec = [np.array(s_rec, np.int64)]
    parts_tag = [np.array(s_tag, np.int32)]
    parts_step = [np.array(s_step, np.int64)]
    parts_wall = [np.array(s_wall, np.float64)]
    if kind == "scalars" and fast_rec:
        f_wall = np.concatenate(fast_wall)
        f_val = np.concatenate(fast_value).astype(np.float64)
        keep = f_tag >= 0
        if tags is not None:
            wanted = np.array([name in tags for name in name_of] + [False], bool)
            keep &= wanted[f_tag]
        if not keep.all():
            f_rec, f_tag, f_step, f_wall, f_val = f_rec[keep], f_tag[keep], f_step[keep], f_wall[keep], f_val[keep]
        parts_rec.insert(0, f_rec)
        parts_tag.insert(0, f_tag)
        parts_step.insert(0, f_step)
        parts_wall.insert(0, f_wall)
        s_val = np.array([r[0] for r in s_cols], np.float64)
        chunk.columns = {"value": np.concatenate([f_val, s_val])}
    else:
        chunk.columns = {name: [r[j] for r in s_cols] for j, name in enumerate(spec.columns)}
        if kind == "scalars":
            chunk.columns = {"value": np.array(chunk.columns["value"], np.float64)}
    rec = np.concatenate(parts_rec).astype(np.int32)  # records of one file fit in 32 bits
    chunk.rec, chunk.tag = rec, np.concatenate(parts_tag)
    chunk.step, chunk.wall_time = np.concatenate(parts_step), np.concatenate(parts_wall)

    if cut < n_records:
        _cut(chunk, cut)
        chunk.end = start + int(offsets[cut])
        chunk.truncated = False
    chunk.records = min(cut, n_records)
    # Rows in file order.
    order = np.argsort(chunk.rec, kind="stable")
    if len(order) and not (order == np.arange(len(order))).all():
        _take(chunk, order)
    return chunk


def _take(chunk: FileChunk, index: np.ndarray) -> None:
    chunk.rec, chunk.tag = chunk.rec[index], chunk.tag[index]
    chunk.step, chunk.wall_time = chunk.step[index], chunk.wall_time[index]
    idx = index.tolist() if any(isinstance(v, list) for v in chunk.columns.values()) else None
    for name, col in chunk.columns.items():
        chunk.columns[name] = col[index] if isinstance(col, np.ndarray) else [col[i] for i in idx]  # type: ignore[union-attr]


def _cut(chunk: FileChunk, cut: int) -> None:
    """Drop everything from record ``cut`` on (the first damaged record)."""
    _take(chunk, np.flatnonzero(chunk.rec < cut))
    keep = chunk.summary_rec < cut
    chunk.summary_rec, chunk.summary_step = chunk.summary_rec[keep], chunk.summary_step[keep]
    chunk.tag_meta = {t: m for t, m in chunk.tag_meta.items() if m[0] < cut}
    chunk.file_versions = [fv for fv in chunk.file_versions if fv[0] < cut]
    chunk.starts = [s for s in chunk.starts if s[0] < cut]


class _Growing:
    """A 1-D array appended to in place: grown by half its size with ``realloc``, shrunk at the end.

    Large numpy buffers live in their own memory mappings, which ``realloc`` moves without copying;
    the rows of a whole file therefore never exist twice, while each window's arrays are freed
    as soon as they are appended.
    """

    def __init__(self, dtype: Any) -> None:
        self.array = np.empty(0, dtype)
        self.size = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.size + len(values)
        if values.dtype != self.array.dtype and np.result_type(values, self.array) != self.array.dtype:
            self.array = self.array.astype(np.result_type(values, self.array))
        if need > len(self.array):
            self.array.resize(max(need, len(self.array) * 3 // 2, 4096), refcheck=False)
        self.array[self.size : need] = values
        self.size = need

    def finish(self) -> np.ndarray:
        self.array.resize(self.size, refcheck=False)
        return self.array


class ChunkBuilder:
    """Joins the chunks of consecutive windows of one file into one :class:`FileChunk`.

    Each added chunk starts where the previous one ended; record numbers continue across them,
    tag codes are renumbered into one name list, and the end, truncation and damage are those of
    the last chunk. Added chunks are emptied, so only the joined rows stay in memory.
    """

    def __init__(self) -> None:
        self._first: Optional[FileChunk] = None
        self._last: Optional[FileChunk] = None
        self._tag_codes: Dict[str, int] = {}
        self._records = 0
        self._arrays = {
            "rec": _Growing(np.int32),
            "tag": _Growing(np.int32),
            "step": _Growing(np.int64),
            "wall_time": _Growing(np.float64),
            "summary_rec": _Growing(np.int64),
            "summary_step": _Growing(np.int64),
        }
        self._columns: Dict[str, Union[_Growing, List[Any]]] = {}
        self._meta: Dict[str, Tuple[int, str, bytes]] = {}
        self._file_versions: List[Tuple[int, float]] = []
        self._starts: List[Tuple[int, int]] = []

    def add(self, chunk: FileChunk) -> None:
        """Append the rows of ``chunk`` (the next window of the file)."""
        base = self._records
        if self._first is None:
            self._first = chunk
        self._last = chunk
        remap = np.array([self._tag_codes.setdefault(t, len(self._tag_codes)) for t in chunk.tags] or [0], dtype=np.int32)
        self._arrays["rec"].extend(chunk.rec + base)
        self._arrays["tag"].extend(remap[chunk.tag] if len(chunk.tag) else chunk.tag)
        self._arrays["step"].extend(chunk.step)
        self._arrays["wall_time"].extend(chunk.wall_time)
        self._arrays["summary_rec"].extend(chunk.summary_rec + base)
        self._arrays["summary_step"].extend(chunk.summary_step)
        for name, col in chunk.columns.items():
            # A kind's column is an array in every chunk (scalars' values) or a list in every chunk.
            if name not in self._columns:
                self._columns[name] = _Growing(col.dtype) if isinstance(col, np.ndarray) else []
            self._columns[name].extend(col)
        for name, (at, plugin, content) in chunk.tag_meta.items():
            _note_meta(self._meta, name, at + base, (plugin, content))
        self._file_versions += [(at + base, v) for at, v in chunk.file_versions]
        self._starts += [(at + base, step) for at, step in chunk.starts]
        self._records += chunk.records
        chunk.rec = chunk.tag = chunk.step = chunk.wall_time = chunk.summary_rec = chunk.summary_step = NO_ROWS
        chunk.columns = {}

    def finish(self) -> FileChunk:
        """The joined chunk (at least one chunk must have been added)."""
        if self._first is None or self._last is None:
            raise ValueError("ChunkBuilder.finish: no chunk was added")
        last = self._last
        out = FileChunk(self._first.path, self._first.start, last.end, last.truncated, last.damage)
        out.records = self._records
        out.tags = list(self._tag_codes)
        out.rec, out.tag = self._arrays["rec"].finish(), self._arrays["tag"].finish()
        out.step, out.wall_time = self._arrays["step"].finish(), self._arrays["wall_time"].finish()
        out.summary_rec, out.summary_step = self._arrays["summary_rec"].finish(), self._arrays["summary_step"].finish()
        out.columns = {name: col.finish() if isinstance(col, _Growing) else col for name, col in self._columns.items()}
        out.tag_meta, out.file_versions, out.starts = self._meta, self._file_versions, self._starts
        return out
