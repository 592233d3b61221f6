"""The shared read path of every kind: list files, decode them (in workers), apply run rules."""

from __future__ import annotations

import os
import warnings
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ..record import BadDataCrcError, BadLengthCrcError, CorruptRecordError, InvalidEventError, RecordTooLargeError
from .filepass import FileChunk
from .kinds import KINDS
from .pool import read_jobs
from .runs import RunRows, RunState, resolve
from .source import file_size, list_runs
from .table import FORMATS, Columns, combine

PathLike = Union[str, "os.PathLike[str]"]
Names = Union[None, str, Iterable[str]]
_DAMAGE = {
    "bad length CRC": BadLengthCrcError,
    "bad data CRC": BadDataCrcError,
    "record too large": RecordTooLargeError,
    "invalid event": InvalidEventError,
}


class DamagedFileWarning(UserWarning):
    """A file has a damaged record: its rows before the damage were kept, the rest skipped."""


def names_arg(value: Names, name: str) -> Optional[frozenset]:
    """Normalise a ``runs=``/``tags=`` argument to a frozenset of strings (None = all)."""
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset((value,))
    try:
        items = frozenset(value)
    except TypeError:
        raise TypeError(f"{name} must be None, a string or an iterable of strings, got {type(value).__name__}") from None
    if not all(isinstance(v, str) for v in items):
        raise TypeError(f"{name} must contain only strings")
    return items


def check_common(kind: str, format: str, on_damage: str) -> None:
    """Validate the arguments every reader shares."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    if format not in FORMATS and format != "dask":
        raise ValueError(f"format must be one of {FORMATS + ('dask',)}, got {format!r}")
    if on_damage not in ("warn", "raise", "ignore"):
        raise ValueError(f"on_damage must be 'warn', 'raise' or 'ignore', got {on_damage!r}")


def report_damage(chunk: FileChunk, on_damage: str) -> None:
    """Warn about, raise for, or ignore a chunk's damaged record."""
    if chunk.damage is None or on_damage == "ignore":
        return
    what, offset, message = chunk.damage
    if on_damage == "raise":
        raise _DAMAGE.get(what, CorruptRecordError)(message, offset, chunk.path)
    warnings.warn(
        f"{chunk.path}: {what} at byte {offset}: {message}; rows before it are kept, the rest of the file is skipped (as TensorBoard stops there)",
        DamagedFileWarning,
        stacklevel=4,
    )


def selected_runs(logdir: PathLike, runs: Optional[frozenset], storage_options: Optional[Mapping[str, Any]]) -> Dict[str, List[str]]:
    """Runs (and their files) to read, after the ``runs=`` filter."""
    found = list_runs(logdir, storage_options)
    if runs is None:
        return found
    return {run: files for run, files in found.items() if run in runs}


def read_columns(
    logdir: PathLike,
    kind: str,
    runs: Names = None,
    tags: Names = None,
    payload: bool = False,
    workers: Optional[int] = None,
    on_damage: str = "warn",
    storage_options: Optional[Mapping[str, Any]] = None,
    progress: Optional[Callable[[int], None]] = None,
    states: Optional[Dict[str, RunState]] = None,
) -> Columns:
    """Read ``kind`` rows of every selected run under ``logdir`` into a :class:`Columns`."""
    run_filter = names_arg(runs, "runs")
    tag_filter = names_arg(tags, "tags")
    spec = KINDS[kind]
    files = selected_runs(logdir, run_filter, storage_options)
    jobs: List[Tuple[str, int]] = []
    owner: List[Tuple[str, int]] = []
    for run, paths in files.items():
        for number, path in enumerate(paths):
            jobs.append((path, 0))
            owner.append((run, number))
    sizes = [file_size(path, storage_options) for path, _ in jobs]
    pending: Dict[str, List[Tuple[int, FileChunk]]] = {run: [] for run in files}
    remaining = {run: len(paths) for run, paths in files.items()}
    done: Dict[str, RunRows] = {}

    def take(i: int, chunk: FileChunk) -> None:
        # Resolve a run as soon as its last file is in, so decoded files are not all held at once.
        run, number = owner[i]
        report_damage(chunk, on_damage)
        pending[run].append((number, chunk))
        remaining[run] -= 1
        if remaining[run] == 0:
            state = RunState()
            if states is not None:
                states[run] = state
            run_chunks = sorted(pending.pop(run), key=lambda nc: nc[0])
            done[run] = resolve(run_chunks, state, spec.wants)

    for run in [r for r, n in remaining.items() if n == 0]:
        take_empty = RunState()
        if states is not None:
            states[run] = take_empty
        done[run] = resolve([], take_empty, spec.wants)
    read_jobs(jobs, sizes, kind, tag_filter, payload, storage_options, workers, progress, take)
    parts: List[Tuple[str, RunRows]] = [(run, done[run]) for run in files]
    return finish(parts, kind)


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
