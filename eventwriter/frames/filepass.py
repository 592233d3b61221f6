"""One pass over a stretch of an event file's bytes: the rows of one kind plus what purging needs.

:mod:`.file_reader` runs it on each window of a file and joins the windows with
:class:`ChunkBuilder`; that is the unit of work a worker process runs. It frames the bytes and checks every CRC
(:mod:`.framing`), decodes scalar-shaped records with numpy (:mod:`.scalar_shape`), parses every
other record with protobuf, and keeps, besides the rows, each tag's first plugin metadata, the
``file_version`` and ``SessionLog.START`` events and the step of every summary event: the run-level
steps (plugin choice, purges) happen after all files of a run are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np

from ..metadata import PLUGIN_SCALARS
from ..record import HEADER_SIZE, InvalidEventError
from ..wire import SESSION_START
from .framing import Damage, frame
from .kinds import KINDS, Kind
from .options import ReadOptions, as_options
from .scalar_shape import ScalarRows, decode_scalars
from .values import parse_file_version, value_view

NO_ROWS = np.zeros(0, np.int64)  # what a consumed chunk's or run's row arrays are left holding
_SCALAR_META = (PLUGIN_SCALARS, b"")  # what TensorBoard's rewrite gives a simple_value (docs/FORMAT.md §5.2)

Refusal = Tuple[int, str, str]
"""A value refused before decoding: ``(record offset, tag, reason)``."""


@dataclass
class FileChunk:
    """What one file contributed. ``rec`` numbers records in the file (file order).

    ``tags`` lists the chunk's tag names; ``tag`` holds codes into it. ``columns`` holds the kind's
    own columns, aligned with ``rec``. ``tag_meta[tag] = (rec, plugin, content)`` is the tag's
    first plugin metadata in this file. ``refused`` lists values that were not decoded because
    they claim more memory than their bytes can hold (see :func:`declared_elements`).
    """

    path: str
    start: int
    end: int = 0
    truncated: bool = False
    damage: Optional[Damage] = None
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
    refused: List[Refusal] = field(default_factory=list)


def _note_meta(tag_meta: Dict[str, Tuple[int, str, bytes]], tag: str, rec: int, meta: Tuple[str, bytes]) -> None:
    old = tag_meta.get(tag)
    if old is None or rec < old[0]:
        tag_meta[tag] = (rec, meta[0], meta[1])


def declared_elements(tensor: Any) -> int:
    """The element count a ``TensorProto`` declares by its shape (Python ints: no overflow)."""
    return math.prod(max(int(d.size), 0) for d in tensor.tensor_shape.dim)


@dataclass
class _Rows:
    """Rows of one decoding path, as parallel columns (record, tag code, step, wall time, kind columns)."""

    rec: List[Any] = field(default_factory=list)
    tag: List[Any] = field(default_factory=list)
    step: List[Any] = field(default_factory=list)
    wall: List[Any] = field(default_factory=list)
    values: List[Any] = field(default_factory=list)


def read_chunk(
    path: str,
    data: bytes,
    start: int,
    options: Union[ReadOptions, str],
    file_version: Optional[float] = None,
) -> FileChunk:
    """Decode ``data`` (the file's bytes from offset ``start``) for ``options.kind``.

    Only complete records are used; ``end`` is the file offset after the last sound one.
    ``file_version`` is the version in force before ``data`` when the caller knows it (the same
    file's earlier bytes set it), which lets the summary steps be summarised as below.
    """
    options = as_options(options)
    spec = KINDS[options.kind]
    buf = np.frombuffer(data, dtype=np.uint8)
    framing, groups = frame(buf)
    chunk = FileChunk(path, start, start + framing.end, framing.truncated)
    if framing.damage is not None:
        cls, offset, message = framing.damage
        chunk.damage = (cls, start + offset, message)
    tag_codes: Dict[str, int] = {}
    fast_parts, slow = _decode_fast(groups, tensors=options.kind != "tensors")
    fast = _fast_rows(fast_parts, chunk, tag_codes, slow)
    slow_index = np.sort(np.concatenate(slow)) if slow else np.zeros(0, np.int64)
    rows, summary_rec, summary_step, cut = _parse_slow(buf, framing.offsets, framing.lengths, slow_index, chunk, tag_codes, spec, options)
    _summary_steps(chunk, fast, summary_rec, summary_step, file_version, len(framing.offsets))
    chunk.tags = [t for t, _ in sorted(tag_codes.items(), key=lambda kv: kv[1])]
    _assemble(chunk, fast, rows, spec, options)
    n_records = len(framing.offsets)
    if cut < n_records:
        _cut(chunk, cut)
        chunk.end = start + int(framing.offsets[cut])
        chunk.truncated = False
    chunk.records = min(cut, n_records)
    order = np.argsort(chunk.rec, kind="stable")  # rows in file order
    if len(order) and not (order == np.arange(len(order))).all():
        _take(chunk, order)
    return chunk


FastParts = List[Tuple[np.ndarray, ScalarRows]]  # (record indices, their decoded rows) per length


def _decode_fast(groups: List[Tuple[int, np.ndarray, Optional[np.ndarray]]], tensors: bool) -> Tuple[FastParts, List[np.ndarray]]:
    """Split the framed records: those of a scalar shape, decoded in numpy, and the rest (record indices)."""
    fast_parts: FastParts = []
    slow: List[np.ndarray] = []
    for _length, index, matrix in groups:
        if matrix is None:
            slow.append(index)
            continue
        rows = decode_scalars(matrix, tensors)
        if len(rows.rows):
            fast_parts.append((index[rows.rows], rows))
            if len(rows.rows) < len(index):
                rest = np.ones(len(index), bool)
                rest[rows.rows] = False
                slow.append(index[rest])
        else:
            slow.append(index)
    return fast_parts, slow


def _fast_rows(fast_parts: FastParts, chunk: FileChunk, tag_codes: Dict[str, int], slow: List[np.ndarray]) -> _Rows:
    """The numpy-decoded rows with their tag codes; notes each tag's first ``scalars`` metadata.

    A tag name that is not UTF-8 sends its records to the protobuf path (which rejects them).
    """
    out = _Rows()
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
            recs, rows.tag_codes, rows.meta = recs[keep], rows.tag_codes[keep], rows.meta[keep]
            rows.step, rows.wall_time, rows.value = rows.step[keep], rows.wall_time[keep], rows.value[keep]
        # The first record of each tag that carries (or implies) metadata gives the tag its plugin.
        first = np.full(len(names), -1, np.int64)
        with_meta = np.flatnonzero(rows.meta)
        order = with_meta[np.argsort(rows.tag_codes[with_meta], kind="stable")]
        codes_sorted = rows.tag_codes[order]
        heads = np.flatnonzero(np.r_[True, codes_sorted[1:] != codes_sorted[:-1]]) if len(order) else np.zeros(0, np.int64)
        for h in heads.tolist():
            first[codes_sorted[h]] = recs[order[h]]
        remap = np.full(len(names), -1, np.int32)
        for i, name in enumerate(names):
            if name is None:
                continue
            if first[i] >= 0:
                _note_meta(chunk.tag_meta, name, int(first[i]), _SCALAR_META)
            remap[i] = tag_codes.setdefault(name, len(tag_codes))
        out.rec.append(recs)
        out.step.append(rows.step)
        out.wall.append(rows.wall_time)
        out.tag.append(remap[rows.tag_codes])
        out.values.append(rows.value)
    return out


def _parse_slow(
    buf: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    slow_index: np.ndarray,
    chunk: FileChunk,
    tag_codes: Dict[str, int],
    spec: Kind,
    options: ReadOptions,
) -> Tuple[_Rows, List[int], List[int], int]:
    """Every other record through protobuf, in file order: ``(rows, summary records, their steps, cut)``.

    ``cut`` is the first record that does not parse as an Event (the number of records if none).
    """
    from .. import protos

    rows = _Rows()
    summary_rec: List[int] = []
    summary_step: List[int] = []
    cut = len(offsets)
    tags = options.tags
    raw = buf.data
    for i in slow_index.tolist():
        off = int(offsets[i]) + HEADER_SIZE
        length = int(lengths[i])
        try:
            event = protos.Event.FromString(bytes(raw[off : off + length]))
        except Exception as exc:  # protobuf's DecodeError (or upb's equivalents)
            cut = i
            chunk.damage = (InvalidEventError, chunk.start + int(offsets[i]), f"payload does not parse as an Event ({exc})")
            break
        what = event.WhichOneof("what")
        if what == "file_version":
            chunk.file_versions.append((i, parse_file_version(event.file_version)))
        elif what == "session_log":
            if event.session_log.status == SESSION_START:
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
            built = _build(spec, view, length, options.payload, chunk, int(offsets[i]))
            if built is None:
                continue
            code = tag_codes.setdefault(view.tag, len(tag_codes))
            for row in built if spec.many else (built,):
                rows.rec.append(i)
                rows.tag.append(code)
                rows.step.append(event.step)
                rows.wall.append(event.wall_time)
                rows.values.append(row)
    return rows, summary_rec, summary_step, cut


def _build(spec: Kind, view: Any, record_length: int, payload: bool, chunk: FileChunk, offset: int) -> Any:
    """The kind's row(s) for one value, or None; a value that would cost more than its bytes is refused.

    Every element a writer really stores takes at least one byte of the record, so only a
    tensor that declares more elements than its record has bytes (one value broadcast to a huge
    shape, docs/FORMAT.md §3.3) can make memory follow a claim instead of the bytes.
    """
    if view.field == "tensor":
        declared = declared_elements(view.data)
        if declared > max(record_length, 1):
            chunk.refused.append((chunk.start + offset, view.tag, f"its shape declares {declared} elements in a {record_length}-byte record"))
            return None
    try:
        return spec.build(view.field, view.data, payload)
    except MemoryError:  # never let a value take the reader down; say which one it was
        chunk.refused.append((chunk.start + offset, view.tag, "decoding it ran out of memory"))
        return None


def _summary_steps(
    chunk: FileChunk, fast: _Rows, summary_rec: List[int], summary_step: List[int], file_version: Optional[float], n_records: int
) -> None:
    """Record the step of every summary event (what out-of-order purging needs), summarised when possible."""
    if fast.rec:
        all_rec = np.concatenate([*fast.rec, np.array(summary_rec, np.int64)])
        all_step = np.concatenate([*fast.step, np.array(summary_step, np.int64)])
    else:
        all_rec, all_step = np.array(summary_rec, np.int64), np.array(summary_step, np.int64)
    order = np.argsort(all_rec, kind="stable")
    chunk.summary_rec, chunk.summary_step = all_rec[order], all_step[order]
    versions = chunk.file_versions
    first_summary = int(chunk.summary_rec[0]) if len(chunk.summary_rec) else n_records
    known = (versions and versions[0][0] < first_summary) or (file_version is not None and file_version >= 2)
    if known and all(v >= 2 for _, v in versions) and len(chunk.summary_rec) > 1:
        # Every summary event here is read under file_version >= 2, where steps going back purge
        # nothing: only the last step matters (it carries over to the next file).
        chunk.summary_rec, chunk.summary_step = chunk.summary_rec[-1:], chunk.summary_step[-1:]


def _assemble(chunk: FileChunk, fast: _Rows, rows: _Rows, spec: Kind, options: ReadOptions) -> None:
    """Fill the chunk's row arrays: fast rows (values only for the scalars kind), then protobuf rows."""
    parts_rec = [np.array(rows.rec, np.int64)]
    parts_tag = [np.array(rows.tag, np.int32)]
    parts_step = [np.array(rows.step, np.int64)]
    parts_wall = [np.array(rows.wall, np.float64)]
    if options.kind == "scalars":
        value = np.array([r[0] for r in rows.values], np.float64)
        if fast.rec:
            f_rec, f_tag = np.concatenate(fast.rec), np.concatenate(fast.tag)
            f_step, f_wall = np.concatenate(fast.step), np.concatenate(fast.wall)
            f_val = np.concatenate(fast.values).astype(np.float64)
            keep = f_tag >= 0
            if options.tags is not None:
                wanted = np.array([name in options.tags for name in chunk.tags] + [False], bool)
                keep &= wanted[f_tag]
            if not keep.all():
                f_rec, f_tag, f_step, f_wall, f_val = f_rec[keep], f_tag[keep], f_step[keep], f_wall[keep], f_val[keep]
            parts_rec.insert(0, f_rec)
            parts_tag.insert(0, f_tag)
            parts_step.insert(0, f_step)
            parts_wall.insert(0, f_wall)
            value = np.concatenate([f_val, value])
        chunk.columns = {"value": value}
    else:
        chunk.columns = {name: [r[j] for r in rows.values] for j, name in enumerate(spec.columns)}
    chunk.rec = np.concatenate(parts_rec).astype(np.int32)  # records of one file fit in 32 bits
    chunk.tag = np.concatenate(parts_tag)
    chunk.step, chunk.wall_time = np.concatenate(parts_step), np.concatenate(parts_wall)


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
        self._refused: List[Refusal] = []

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
        self._refused += chunk.refused
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
        out.refused = self._refused
        return out
