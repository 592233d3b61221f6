"""Run-level rules applied after a run's files are decoded: which plugin owns a tag, and purges.

These follow ``plugin_event_accumulator`` (docs/FORMAT.md §5.3, §5.6): a tag belongs to the plugin of
its first value that carries metadata in the run; with ``file_version`` ≥ 2 the first
``SessionLog.START`` of a run is ignored and every later one drops all earlier rows with
``step ≥`` its step; without a ``file_version`` ≥ 2, a summary event whose step is below the
previous summary event's step drops the earlier rows of its own tags with ``step ≥`` its step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .filepass import FileChunk

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
    """A run's rows after the rules: tag names (per row), steps, wall times, seq and kind columns."""

    tag: List[str]
    tag_code: np.ndarray
    step: np.ndarray
    wall_time: np.ndarray
    seq: np.ndarray
    columns: Dict[str, object]
    plugins: Dict[str, str] = field(default_factory=dict)


def resolve(chunks: Sequence[Tuple[int, FileChunk]], state: RunState, wants) -> RunRows:
    """Combine one run's chunks (``(file number, chunk)`` in read order) under the run's rules.

    ``wants(plugin)`` says whether a tag of that plugin belongs to the kind being read.
    ``state`` is updated (plugins, file version, purges), so repeated calls continue a run.
    """
    # Plugin of each tag: the earliest metadata in the run.
    for number, chunk in chunks:
        base = number << SEQ_SHIFT
        for name, (rec, plugin, content) in chunk.tag_meta.items():
            where = base | rec
            old = state.tag_meta.get(name)
            if old is None or where < old[0]:
                state.tag_meta[name] = (where, plugin, content)

    names: List[str] = []
    index: Dict[str, int] = {}
    seqs: List[np.ndarray] = []
    tags: List[np.ndarray] = []
    steps: List[np.ndarray] = []
    walls: List[np.ndarray] = []
    columns: Dict[str, list] = {}
    fv_seq: List[int] = []
    fv_val: List[float] = []
    st_seq: List[int] = []
    st_step: List[int] = []
    sm_seq: List[np.ndarray] = []
    sm_step: List[np.ndarray] = []
    for number, chunk in chunks:
        base = number << SEQ_SHIFT
        remap = np.array([index.setdefault(t, len(index)) for t in chunk.tags] or [0], dtype=np.int32)
        seqs.append(chunk.rec.astype(np.int64) + base)
        tags.append(remap[chunk.tag] if len(chunk.tag) else chunk.tag)
        steps.append(chunk.step)
        walls.append(chunk.wall_time)
        for name, col in chunk.columns.items():
            columns.setdefault(name, []).append(col)
        fv_seq += [base | r for r, _ in chunk.file_versions]
        fv_val += [v for _, v in chunk.file_versions]
        st_seq += [base | r for r, _ in chunk.starts]
        st_step += [s for _, s in chunk.starts]
        sm_seq.append(chunk.summary_rec + base)
        sm_step.append(chunk.summary_step)
    names = [t for t, _ in sorted(index.items(), key=lambda kv: kv[1])]
    seq = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
    tag = np.concatenate(tags).astype(np.int32) if tags else np.zeros(0, np.int32)
    step = np.concatenate(steps) if steps else np.zeros(0, np.int64)
    wall = np.concatenate(walls) if walls else np.zeros(0, np.float64)
    merged: Dict[str, object] = {}
    for name, parts in columns.items():
        if all(isinstance(p, np.ndarray) for p in parts):
            merged[name] = np.concatenate(parts)
        else:
            merged[name] = [x for p in parts for x in p]

    keep = np.ones(len(step), bool)
    # File version in force at any seq (a file_version event takes effect at its own record).
    fv_seq_a = np.array(fv_seq, np.int64)

    def version_at(s: np.ndarray) -> np.ndarray:
        prior = np.full(len(s), np.nan if state.file_version is None else state.file_version)
        if len(fv_seq_a):
            pos = np.searchsorted(fv_seq_a, s, side="right") - 1
            has = pos >= 0
            prior[has] = np.array(fv_val)[pos[has]]
        return prior

    if st_seq:
        versions = version_at(np.array(st_seq, np.int64))
        for s, t, v in zip(st_seq, st_step, versions.tolist()):
            if not v >= 2:
                continue
            if not state.seen_start:
                state.seen_start = True
                continue
            state.purges.append((s, t, None))
            keep &= ~((seq < s) & (step >= t))
    summary_seq = np.concatenate(sm_seq) if sm_seq else np.zeros(0, np.int64)
    summary_step = np.concatenate(sm_step) if sm_step else np.zeros(0, np.int64)
    if len(summary_seq):
        previous = np.concatenate(([state.most_recent_step], summary_step[:-1]))
        versions = version_at(summary_seq)
        late = np.flatnonzero((summary_step < previous) & ~(versions >= 2))
        for i in late.tolist():
            at, back_to = int(summary_seq[i]), int(summary_step[i])
            own = np.unique(tag[seq == at])
            state.purges.append((at, back_to, [names[c] for c in own.tolist()]))
            keep &= ~((seq < at) & (step >= back_to) & np.isin(tag, own))
        state.most_recent_step = int(summary_step[-1])
    if fv_val:
        state.file_version = fv_val[-1]

    # Only tags whose run-level plugin belongs to the kind.
    wanted = np.array([wants(state.tag_meta.get(t, (0, None, b""))[1]) for t in names] + [False], bool)
    if len(tag):
        keep &= wanted[tag]
    if not keep.all():
        idx = np.flatnonzero(keep)
        seq, tag, step, wall = seq[idx], tag[idx], step[idx], wall[idx]
        for name, col in merged.items():
            merged[name] = col[idx] if isinstance(col, np.ndarray) else [col[i] for i in idx.tolist()]  # type: ignore[index]
    plugins = {t: state.tag_meta[t][1] for t in names if t in state.tag_meta}
    # Rows by tag name, read order within a tag (stable; 16-bit keys use numpy's radix sort).
    rank = np.argsort(np.argsort(np.array(names, dtype=object))).astype(np.int32) if names else np.zeros(0, np.int32)
    sorted_names = sorted(names)
    if len(tag):
        key = rank[tag]
        tag = key
        if (np.diff(key) < 0).any():
            order = np.argsort(key.astype(np.uint16) if len(names) < 65536 else key, kind="stable")
            seq, tag, step, wall = seq[order], tag[order], step[order], wall[order]
            for name, col in merged.items():
                merged[name] = col[order] if isinstance(col, np.ndarray) else [col[i] for i in order.tolist()]  # type: ignore[index]
    del seq  # only the purges needed it
    return RunRows(sorted_names, tag, step, wall, np.zeros(0, np.int64), merged, plugins)
