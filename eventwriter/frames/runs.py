"""Run-level rules applied after a run's files are decoded: which plugin owns a tag, and purges.

These follow ``plugin_event_accumulator`` (docs/FORMAT.md §5.3, §5.6): a tag belongs to the plugin of
its first value that carries metadata in the run; with ``file_version`` ≥ 2 the first
``SessionLog.START`` of a run is ignored and every later one drops all earlier rows with
``step ≥`` its step; without a ``file_version`` ≥ 2, a summary event whose step is below the
previous summary event's step drops the earlier rows of its own tags with ``step ≥`` its step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .filepass import NO_ROWS, FileChunk

SEQ_SHIFT = 32  # seq = file number << 32 | record number: one order over a run's files


@dataclass
class RunState:
    """What a run's rules remember between reads (a follower keeps it across polls)."""

    file_version: Optional[float] = None
    seen_start: bool = False
    most_recent_step: int = -1
    tag_meta: Dict[str, Tuple[int, str, bytes]] = field(default_factory=dict)
    purges: List[Tuple[int, int, Optional[List[str]]]] = field(default_factory=list)


@dataclass
class RunRows:
    """A run's rows after the rules.

    ``tag`` lists the tag names in sorted order and ``tag_code`` holds each row's index into it;
    rows are in read order, and ``order`` (when not ``None``) is the permutation that puts them
    in table order (by tag, then read order), applied when runs are copied into the table.
    """

    tag: List[str]
    tag_code: np.ndarray
    step: np.ndarray
    wall_time: np.ndarray
    columns: Dict[str, object]
    plugins: Dict[str, str] = field(default_factory=dict)
    order: Optional[np.ndarray] = None



def _gather(
    chunks: Sequence[Tuple[int, FileChunk]], name: str, dtype: Any, total: int, convert: Callable[[int, np.ndarray], np.ndarray]
) -> np.ndarray:
    """One array of attribute ``name`` of every chunk, emptying each chunk's array once copied.

    Copying into one preallocated array, chunk by chunk, keeps a single copy of the rows alive
    instead of the chunks' arrays plus their concatenation.
    """
    if len(chunks) == 1:  # one file: its array is the run's, no copy
        only = np.asarray(convert(0, getattr(chunks[0][1], name)), dtype)
        setattr(chunks[0][1], name, NO_ROWS)
        return only
    out = np.empty(total, dtype)
    at = 0
    for k, (_, chunk) in enumerate(chunks):
        part = getattr(chunk, name)
        out[at : at + len(part)] = convert(k, part)
        at += len(part)
        setattr(chunk, name, NO_ROWS)
    return out


def _gather_column(chunks: Sequence[Tuple[int, FileChunk]], name: str, total: int) -> object:
    parts = [chunk.columns.get(name, []) for _, chunk in chunks]
    if len(parts) == 1:
        chunks[0][1].columns.pop(name, None)
        return parts[0]
    if parts and all(isinstance(p, np.ndarray) for p in parts):
        out = np.empty(total, np.result_type(*parts))
        at = 0
        for (_, chunk), part in zip(chunks, parts):
            out[at : at + len(part)] = part
            at += len(part)
            chunk.columns[name] = NO_ROWS
        return out
    merged = [x for p in parts for x in p]
    for _, chunk in chunks:
        chunk.columns.pop(name, None)
    return merged


def _select(values: object, index: np.ndarray) -> object:
    return values[index] if isinstance(values, np.ndarray) else [values[i] for i in index.tolist()]  # type: ignore[index]


def resolve(chunks: Sequence[Tuple[int, FileChunk]], state: RunState, wants: Callable[[Optional[str]], bool]) -> RunRows:
    """Combine one run's chunks (``(number, chunk)``, numbers increasing in read order) under the run's rules.

    ``wants(plugin)`` says whether a tag of that plugin belongs to the kind being read.
    ``state`` is updated (plugins, file version, purges), so repeated calls continue a run.
    The chunks' row arrays are consumed: they are emptied as they are copied into the run's rows.
    """
    # Plugin of each tag: the earliest metadata in the run.
    for number, chunk in chunks:
        base = number << SEQ_SHIFT
        for name, (rec, plugin, content) in chunk.tag_meta.items():
            where = base | rec
            old = state.tag_meta.get(name)
            if old is None or where < old[0]:
                state.tag_meta[name] = (where, plugin, content)

    index: Dict[str, int] = {}
    remaps: List[np.ndarray] = []
    fv_seq: List[int] = []
    fv_val: List[float] = []
    st_seq: List[int] = []
    st_step: List[int] = []
    sm_seq: List[np.ndarray] = []
    sm_step: List[np.ndarray] = []
    for number, chunk in chunks:
        base = number << SEQ_SHIFT
        remaps.append(np.array([index.setdefault(t, len(index)) for t in chunk.tags] or [0], dtype=np.int32))
        fv_seq += [base | r for r, _ in chunk.file_versions]
        fv_val += [v for _, v in chunk.file_versions]
        st_seq += [base | r for r, _ in chunk.starts]
        st_step += [s for _, s in chunk.starts]
        sm_seq.append(chunk.summary_rec + base)
        sm_step.append(chunk.summary_step)
    names = list(index)  # in code order
    total = sum(len(chunk.step) for _, chunk in chunks)
    fv_seq_a = np.array(fv_seq, np.int64)

    def version_at(s: np.ndarray) -> np.ndarray:
        # File version in force at any seq (a file_version event takes effect at its own record).
        prior = np.full(len(s), np.nan if state.file_version is None else state.file_version)
        if len(fv_seq_a):
            pos = np.searchsorted(fv_seq_a, s, side="right") - 1
            has = pos >= 0
            prior[has] = np.array(fv_val)[pos[has]]
        return prior

    # Restarts: with file_version >= 2, every SessionLog.START after the run's first.
    restarts: List[Tuple[int, int]] = []
    if st_seq:
        for s, t, v in zip(st_seq, st_step, version_at(np.array(st_seq, np.int64)).tolist()):
            if not v >= 2:
                continue
            if not state.seen_start:
                state.seen_start = True
                continue
            restarts.append((s, t))
    # Without file_version >= 2: a summary event whose step goes back.
    summary_seq = np.concatenate(sm_seq) if sm_seq else np.zeros(0, np.int64)
    summary_step = np.concatenate(sm_step) if sm_step else np.zeros(0, np.int64)
    late: List[Tuple[int, int]] = []
    if len(summary_seq):
        previous = np.concatenate(([state.most_recent_step], summary_step[:-1]))
        for i in np.flatnonzero((summary_step < previous) & ~(version_at(summary_seq) >= 2)).tolist():
            late.append((int(summary_seq[i]), int(summary_step[i])))
        state.most_recent_step = int(summary_step[-1])
    if fv_val:
        state.file_version = fv_val[-1]

    identity = [bool((remap == np.arange(len(remap))).all()) for remap in remaps]
    tag = _gather(chunks, "tag", np.int32, total, lambda k, part: part if identity[k] or not len(part) else remaps[k][part])
    step = _gather(chunks, "step", np.int64, total, lambda k, part: part)
    keep = np.ones(total, bool)
    if restarts or late:
        # Record order over the run's chunks, needed only to apply purges.
        seq = _gather(chunks, "rec", np.int64, total, lambda k, part: part.astype(np.int64) + (chunks[k][0] << SEQ_SHIFT))
        for s, t in restarts:
            state.purges.append((s, t, None))
            keep &= ~((seq < s) & (step >= t))
        for at, back_to in late:
            own = np.unique(tag[seq == at])
            state.purges.append((at, back_to, [names[c] for c in own.tolist()]))
            keep &= ~((seq < at) & (step >= back_to) & np.isin(tag, own))
        del seq
    else:
        for _, chunk in chunks:
            chunk.rec = NO_ROWS
    wall = _gather(chunks, "wall_time", np.float64, total, lambda k, part: part)
    columns: Dict[str, object] = {}
    for name in dict.fromkeys(c for _, chunk in chunks for c in chunk.columns):
        columns[name] = _gather_column(chunks, name, total)

    # Only tags whose run-level plugin belongs to the kind.
    wanted = np.array([wants(state.tag_meta.get(t, (0, None, b""))[1]) for t in names] + [False], bool)
    if total:
        keep &= wanted[tag]
    if not keep.all():
        idx = np.flatnonzero(keep)
        tag = tag[idx]
        step = step[idx]
        wall = wall[idx]
        for name in columns:
            columns[name] = _select(columns[name], idx)
        del idx
    del keep
    plugins = {t: state.tag_meta[t][1] for t in names if t in state.tag_meta}
    # Only names with rows: which other tags a file holds depends on how its records were
    # decoded, and must not show up as empty categories of the table.
    used = np.flatnonzero(np.bincount(tag, minlength=len(names))) if len(tag) else np.zeros(0, np.int64)
    names = [names[c] for c in used.tolist()]
    sorted_names = sorted(names)
    # Codes into the sorted names, in one look-up from the original codes.
    lookup = np.zeros(max(len(index), 1), np.int32)
    rank = {tag_name: i for i, tag_name in enumerate(sorted_names)}
    for code, tag_name in zip(used.tolist(), names):
        lookup[code] = rank[tag_name]
    key = lookup[tag] if len(tag) else tag
    del tag
    order = None
    if len(key) and (np.diff(key) < 0).any():
        # Rows by tag name, read order within a tag (stable; 16-bit keys use numpy's radix sort).
        order = np.argsort(key.astype(np.uint16) if len(sorted_names) < 65536 else key, kind="stable")
    return RunRows(sorted_names, key, step, wall, columns, plugins, order)
