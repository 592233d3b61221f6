"""``format="dask"``: a lazy Dask DataFrame with one partition per event file.

Each partition reads and decodes one file where it runs (a worker of any Dask cluster), so a
logdir larger than one machine's memory can be reduced in parallel. Run rules are applied within
each file only: a tag's plugin comes from its first metadata in that file (old-style values always
carry it), and purges (restarts, ``purge_step``) that span files are not applied; use the pandas,
Arrow or Polars formats, which read a run's files together, when that matters.
"""

from __future__ import annotations

from typing import Any, List, Tuple

from .file_reader import read_file
from .kinds import KINDS
from .options import ReadOptions
from .reading import PathLike, finish, report_chunk, selected_runs
from .runs import RunState, resolve
from .table import to_pandas


def _as_strings(frame: Any) -> Any:
    # Dask needs the same dtypes in every partition; per-file categories would differ.
    frame["run"] = frame["run"].astype(object)
    frame["tag"] = frame["tag"].astype(object)
    return frame


def read_partition(job: Tuple[str, str], options: ReadOptions) -> Any:
    """One partition: the rows of one event file that ``options`` asks for, as a pandas DataFrame."""
    run, path = job
    chunk = read_file(path, 0, options)
    report_chunk(chunk, options.on_damage)
    rows = resolve([(0, chunk)], RunState(), KINDS[options.kind].wants)
    return _as_strings(to_pandas(finish([(run, rows)], options.kind)))


def dask_frame(logdir: PathLike, options: ReadOptions) -> Any:
    """A Dask DataFrame of the rows ``options`` asks for, one partition per event file (in read order)."""
    import dask.dataframe as dd

    jobs: List[Tuple[str, str]] = [
        (run, path) for run, paths in selected_runs(logdir, options.runs, options.storage_options).items() for path in paths
    ]
    meta = _as_strings(to_pandas(finish([], options.kind)))
    if not jobs:
        return dd.from_pandas(meta, npartitions=1)
    return dd.from_map(read_partition, jobs, options=options, meta=meta, enforce_metadata=False, divisions=None)
