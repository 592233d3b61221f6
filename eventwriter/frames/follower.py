"""Follow a live logdir: each :meth:`Follower.poll` returns only the rows written since the last.

The follower remembers, per event file, the offset just past the last complete record it used.
A poll reads each file from there, so a truncated tail (a record half written) is simply read
again, complete, by a later poll; a new file of a run (rotation, a restarted job, a second writer)
is read from its start; a new run directory is picked up too. Run rules continue across polls:
a tag keeps the plugin of its first metadata, and file versions and steps carry over.

A poll is all-or-nothing: offsets, run state and restarts change only when :meth:`Follower.poll`
returns. When it raises part-way (a transient storage error, a file removed between listing and
reading, a damaged record with ``on_damage="raise"``), nothing moves, no warning is given, and the
next poll reads the same bytes again, so no row is lost.

A run compacted on an object store (``eventwriter compact``) gets one merged object in place
of its files; its manifest says which files it holds and where their records are, so the
follower returns only the records of files it had not read yet, and skips those files if they
are still listed (compaction not finished).

Rows already returned are never taken back. A restart that TensorBoard would purge (a second
``SessionLog.START``, e.g. ``purge_step``) removes the stale rows of the same poll only; every
restart is recorded in :attr:`Follower.restarts` as ``(run, step)`` so that callers can drop their
rows with ``step >= step`` themselves.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

import numpy as np

from ..logdir import read_manifest
from .file_reader import read_file
from .filepass import FileChunk
from .kinds import KINDS
from .options import ReadOptions
from .reading import DamagedFileWarning, Names, PathLike, check_format, report_chunk
from .runs import RunRows, RunState, resolve
from .source import file_size, list_runs
from .table import Columns, combine, render


class Follower:
    """Incremental reader of one kind of a (live) logdir.

    >>> follower = Follower("runs", "scalars")     # doctest: +SKIP
    >>> new_rows = follower.poll()                  # doctest: +SKIP

    Args:
        logdir: the logdir (or run directory) to follow.
        kind: as for :func:`eventwriter.frames.read`.
        runs, tags, format, payload, on_damage, storage_options: as for
            :func:`eventwriter.frames.read` (``format="dask"`` is not available here).
    """

    def __init__(
        self,
        logdir: PathLike,
        kind: str = "scalars",
        *,
        runs: Names = None,
        tags: Names = None,
        format: str = "pandas",
        payload: bool = False,
        on_damage: str = "warn",
        storage_options: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.options = ReadOptions.of(kind, runs=runs, tags=tags, payload=payload, on_damage=on_damage, storage_options=storage_options)
        check_format(format)
        if format == "dask":
            raise ValueError("format must be 'pandas', 'arrow' or 'polars' for a Follower, got 'dask'")
        self.logdir = logdir
        self.kind = kind
        self.format = format
        self.payload = payload
        self.on_damage = on_damage
        self.storage_options = storage_options
        self.offsets: Dict[str, int] = {}
        self._dead: Set[str] = set()
        self._states: Dict[str, RunState] = {}
        self._numbers: Dict[str, int] = {}
        self.restarts: List[Tuple[str, int]] = []

    def poll(self) -> Any:
        """Rows added since the previous call (all rows on the first call), as a table.

        All-or-nothing: if it raises, the follower is left as it was before the call.
        """
        options = self.options
        found = list_runs(self.logdir, self.storage_options)
        # This poll's changes, committed only once every run is read and the table is built.
        offsets: Dict[str, int] = {}
        dead: Set[str] = set()
        numbers: Dict[str, int] = {}
        states: Dict[str, RunState] = {}
        restarts: List[Tuple[str, int]] = []
        reports: List[FileChunk] = []
        notes: List[str] = []
        parts: List[Tuple[str, RunRows]] = []
        for run, paths in found.items():
            if options.runs is not None and run not in options.runs:
                continue
            number = self._numbers.get(run, 0)
            chunks = []
            for path in paths:
                if path in self._dead:
                    continue
                offset = offsets.get(path, self.offsets.get(path, 0))
                size = file_size(path, self.storage_options)
                if size < offset:  # replaced by a shorter file: read it anew
                    notes.append(f"{path} shrank from {offset} to {size} bytes; reading it again from the start")
                    offset = 0
                if size == offset:
                    continue
                seen = self._merged_files(path, offsets) if path not in self.offsets and path not in offsets else []
                chunk = read_file(path, offset, options)
                if seen:
                    _drop_records(chunk, seen)
                offsets[path] = chunk.end
                if chunk.damage is not None:
                    dead.add(path)  # TensorBoard never reads past a damaged record either
                if self.on_damage == "raise":
                    report_chunk(chunk, "raise")  # before anything is committed
                reports.append(chunk)
                chunks.append((number, chunk))
                number += 1
            if not chunks:
                continue
            numbers[run] = number
            state = copy.deepcopy(self._states.get(run)) or RunState()
            before = len(state.purges)
            rows = resolve(chunks, state, KINDS[self.kind].wants)
            states[run] = state
            restarts += [(run, step) for _, step, tags in state.purges[before:] if tags is None]
            if len(rows.step):
                parts.append((run, rows))
        table = (
            render(combine(parts, KINDS[self.kind].columns) if parts else _empty(self.kind), self.format)
            if self.kind != "tensors"
            else render(_tensor_cols(parts), self.format)
        )
        self.offsets.update(offsets)
        self._dead |= dead
        self._numbers.update(numbers)
        self._states.update(states)
        self.restarts += restarts
        for note in notes:
            warnings.warn(note, RuntimeWarning, stacklevel=2)
        for chunk in reports:
            report_chunk(chunk, self.on_damage)
        return table


    def _merged_files(self, path: str, offsets: Dict[str, int]) -> List[Tuple[int, int]]:
        """For a compacted object seen for the first time: the record ranges it holds that were
        returned already (from the files it replaces); the files not read yet are marked read in
        this poll's ``offsets``, since their records come from it now."""
        manifest = read_manifest(path, self.storage_options)
        if manifest is None:
            return []
        directory = path[: len(path) - len(manifest.name)]
        seen = []
        for covered in manifest.covers:
            source = directory + covered.name
            done = offsets.get(source, self.offsets.get(source, 0))
            if done >= covered.size:
                seen.append((covered.first, covered.first + covered.records))
            else:
                offsets[source] = max(done, covered.size)
        return seen


def _drop_records(chunk: FileChunk, ranges: List[Tuple[int, int]]) -> None:
    """Remove from ``chunk`` the rows (and purge markers) of records in ``ranges`` (``[start, stop)``)."""

    def outside(rec: np.ndarray) -> np.ndarray:
        keep = np.ones(len(rec), bool)
        for start, stop in ranges:
            keep &= (rec < start) | (rec >= stop)
        return keep

    index = np.flatnonzero(outside(chunk.rec))
    chunk.rec, chunk.tag = chunk.rec[index], chunk.tag[index]
    chunk.step, chunk.wall_time = chunk.step[index], chunk.wall_time[index]
    for name, col in chunk.columns.items():
        chunk.columns[name] = col[index] if isinstance(col, np.ndarray) else [col[i] for i in index.tolist()]
    keep = outside(chunk.summary_rec)
    chunk.summary_rec, chunk.summary_step = chunk.summary_rec[keep], chunk.summary_step[keep]
    chunk.starts = [(rec, step) for rec, step in chunk.starts if outside(np.array([rec]))[0]]


def _empty(kind: str) -> Columns:
    return combine([], KINDS[kind].columns)


def _tensor_cols(parts: List[Tuple[str, RunRows]]) -> Columns:
    from .reading import finish

    return finish(parts, "tensors")


__all__ = ["Follower", "DamagedFileWarning"]
