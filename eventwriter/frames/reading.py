"""The shared read path of every kind: list files, decode them (in workers), apply run rules."""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from ..reader import MalformedValueWarning
from .filepass import FileChunk
from .kinds import KINDS
from .options import Names, ReadOptions, names_arg
from .pool import read_jobs
from .runs import RunRows, RunState, resolve
from .source import file_size, list_runs
from .table import FORMATS, Columns, combine

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "DamagedFileWarning",
    "Names",
    "PathLike",
    "check_format",
    "names_arg",
    "read_columns",
    "report_damage",
    "report_chunk",
    "selected_runs",
    "finish",
]


class DamagedFileWarning(UserWarning):
    """A file has a damaged record: its rows before the damage were kept, the rest skipped."""


def check_format(format: str) -> None:
    """Validate ``format`` (``dask`` included)."""
    if format not in FORMATS and format != "dask":
        raise ValueError(f"format must be one of {FORMATS + ('dask',)}, got {format!r}")


def report_damage(chunk: FileChunk, on_damage: str) -> None:
    """Warn about, raise for, or ignore a chunk's damaged record."""
    if chunk.damage is None or on_damage == "ignore":
        return
    cls, offset, message = chunk.damage
    if on_damage == "raise":
        raise cls(message, offset, chunk.path)
    warnings.warn(
        f"{chunk.path}: {cls.kind} at byte {offset}: {message}; rows before it are kept, "
        "the rest of the file is skipped (as TensorBoard stops there)",
        DamagedFileWarning,
        stacklevel=4,
    )


def report_refused(chunk: FileChunk, on_damage: str) -> None:
    """Warn about (or raise, or ignore) the values of a chunk that were refused before decoding."""
    if on_damage == "ignore":
        return
    for offset, tag, reason in chunk.refused:
        problem = MalformedValueWarning(chunk.path, offset, tag, reason)
        if on_damage == "raise":
            raise problem
        warnings.warn(problem, stacklevel=4)


def report_chunk(chunk: FileChunk, on_damage: str) -> None:
    """Everything a chunk has to report: refused values, then a damaged record."""
    report_refused(chunk, on_damage)
    report_damage(chunk, on_damage)


def selected_runs(logdir: PathLike, runs: Optional[frozenset], storage_options: Optional[Mapping[str, Any]]) -> Dict[str, List[str]]:
    """Runs (and their files) to read, after the ``runs=`` filter."""
    found = list_runs(logdir, storage_options)
    if runs is None:
        return found
    return {run: files for run, files in found.items() if run in runs}


def read_columns(
    logdir: PathLike,
    options: ReadOptions,
    progress: Optional[Callable[[int], None]] = None,
    states: Optional[Dict[str, RunState]] = None,
) -> Columns:
    """Read the rows ``options`` asks for under ``logdir`` into a :class:`Columns`.

    ``states``, when given, receives each run's :class:`RunState` (its plugins, versions, purges).
    """
    spec = KINDS[options.kind]
    files = selected_runs(logdir, options.runs, options.storage_options)
    jobs: List[Tuple[str, int]] = []
    owner: List[Tuple[str, int]] = []
    for run, paths in files.items():
        for number, path in enumerate(paths):
            jobs.append((path, 0))
            owner.append((run, number))
    sizes = [file_size(path, options.storage_options) for path, _ in jobs]
    pending: Dict[str, List[Tuple[int, FileChunk]]] = {run: [] for run in files}
    remaining = {run: len(paths) for run, paths in files.items()}
    done: Dict[str, RunRows] = {}

    def take(i: int, chunk: FileChunk) -> None:
        # Resolve a run as soon as its last file is in, so decoded files are not all held at once.
        run, number = owner[i]
        report_chunk(chunk, options.on_damage)
        pending[run].append((number, chunk))
        remaining[run] -= 1
        if remaining[run] == 0:
            state = RunState()
            if states is not None:
                states[run] = state
            run_chunks = sorted(pending.pop(run), key=lambda nc: nc[0])
            done[run] = resolve(run_chunks, state, spec.wants)

    for run in [r for r, n in remaining.items() if n == 0]:
        empty = RunState()
        if states is not None:
            states[run] = empty
        done[run] = resolve([], empty, spec.wants)
    read_jobs(jobs, sizes, options, progress, take)
    parts: List[Tuple[str, RunRows]] = [(run, done[run]) for run in files]
    return finish(parts, options.kind)


def finish(parts: List[Tuple[str, RunRows]], kind: str) -> Columns:
    """Combine runs; the ``tensors`` kind also gets each tag's plugin."""
    cols = combine(parts, KINDS[kind].columns)
    if kind == "tensors":
        plugin = {}
        for r, (_, rows) in enumerate(parts):
            for t, p in rows.plugins.items():
                plugin[(r, t)] = p
        column = [plugin.get((r, cols.tags[t]), "") for r, t in zip(cols.run_code.tolist(), cols.tag_code.tolist())]
        cols.data = {"step": cols.data.pop("step"), "wall_time": cols.data.pop("wall_time"), "plugin": column, **cols.data}
    return cols
