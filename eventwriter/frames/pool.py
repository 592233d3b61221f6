"""Read many event files in worker processes.

Decoding is CPU-bound Python and numpy, so threads would queue on the GIL; files go to processes.
The pool is started once (``forkserver``: workers are forked from a clean process that has
already imported numpy and this package, so they start fast and never inherit the caller's
threads) and kept for later calls; it is shut down at interpreter exit.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from .file_reader import read_file
from .filepass import FileChunk

_MIN_PARALLEL_BYTES = 4 << 20  # below this, starting or feeding workers costs more than it saves
_pool: Optional[ProcessPoolExecutor] = None
_pool_size = 0

Job = Tuple[str, int]  # (path, start offset)


def read_job(job: Job, kind: str, tags: Any, payload: bool, storage_options: Optional[Mapping[str, Any]]) -> FileChunk:
    """Read one file from its offset and decode it, a window at a time (in a worker or in-process)."""
    path, start = job
    return read_file(path, start, kind, tags, payload, storage_options)


def _executor(size: int) -> ProcessPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size != size:
        if _pool is not None:
            _pool.shutdown(wait=True)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["eventwriter.frames.pool"])
        _pool = ProcessPoolExecutor(max_workers=size, mp_context=context)
        _pool_size = size
    return _pool


def shutdown() -> None:
    """Stop the worker processes (they are started again on demand)."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=True, cancel_futures=True)
        _pool = None


atexit.register(shutdown)


def default_workers() -> int:
    """Worker processes to use: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def read_jobs(
    jobs: Sequence[Job],
    sizes: Sequence[int],
    kind: str,
    tags: Any,
    payload: bool,
    storage_options: Optional[Mapping[str, Any]],
    workers: Optional[int],
    progress: Optional[Callable[[int], None]] = None,
    consume: Optional[Callable[[int, FileChunk], None]] = None,
) -> List[FileChunk]:
    """Decode every job, in worker processes when it pays; results in job order.

    ``progress(bytes)`` is called as each file is done. With ``consume(index, chunk)``, each
    result is handed over as soon as it is ready and not kept (the returned list is empty).
    """
    size = default_workers() if workers is None else workers
    size = min(size, len(jobs))
    if size <= 1 or (workers is None and sum(sizes) < _MIN_PARALLEL_BYTES):
        out = []
        for i, (job, nbytes) in enumerate(zip(jobs, sizes)):
            chunk = read_job(job, kind, tags, payload, storage_options)
            if consume:
                consume(i, chunk)
            else:
                out.append(chunk)
            if progress:
                progress(nbytes)
        return out
    executor = _executor(size)
    # Largest files first so that no worker is left with a big file at the end.
    order = sorted(range(len(jobs)), key=lambda i: -sizes[i])
    futures = {i: executor.submit(read_job, jobs[i], kind, tags, payload, storage_options) for i in order}
    results: List[Any] = [None] * len(jobs)
    for i in order:
        chunk = futures.pop(i).result()
        if consume:
            consume(i, chunk)
        else:
            results[i] = chunk
        if progress:
            progress(sizes[i])
    return [] if consume else results
