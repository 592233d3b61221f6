"""Read many event files in worker processes.

Decoding is CPU-bound Python and numpy, so threads would queue on the GIL; files go to processes.
The pool is started once (``forkserver``: workers are forked from a clean process that has
already imported numpy and this package, so they start fast and never inherit the caller's
threads) and kept for later calls; it is shut down at interpreter exit.

Two things can go wrong with processes, and neither may break the caller:

* **A worker dies** (the OOM killer, a SIGKILL): the pool is broken for good. It is replaced and
  the files that had not come back are read again, each on its own; a file that kills a worker
  a second time is reported as that file's :class:`WorkerCrashError`.
* **The main module would run again.** Like every start method but ``fork``, ``forkserver``
  imports the program's ``__main__`` in each worker. A script that calls ``frames`` from its top
  level, outside ``if __name__ == "__main__":``, would run again in every worker (and fail there).
  :func:`pool_is_safe` finds where the main module is executing; when the pool cannot start
  safely, the files are read in this process instead.
"""

from __future__ import annotations

import ast
import atexit
import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .file_reader import read_file
from .filepass import FileChunk
from .options import ReadOptions

# Below this size, starting or feeding workers costs more than it saves (benchmarks/README.md,
# "Reading": on a 2-core machine, reading in-process was faster up to 156 MB, cold and warm).
MIN_PARALLEL_BYTES = 256 << 20
_pool: Optional[ProcessPoolExecutor] = None
_pool_size = 0

Job = Tuple[str, int]  # (path, start offset)


class WorkerCrashError(RuntimeError):
    """Reading one file killed a worker process twice (out of memory, a signal): ``path`` names it."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path}: reading this file killed a worker process twice (out of memory or a signal?); not read")


def read_job(job: Job, options: ReadOptions) -> FileChunk:
    """Read one file from its offset and decode it, a window at a time (in a worker or in-process)."""
    path, start = job
    return read_file(path, start, options)


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


def _discard_pool() -> None:
    """Forget a broken pool (its processes are gone); the next call starts a fresh one."""
    global _pool
    broken, _pool = _pool, None
    if broken is not None:
        broken.shutdown(wait=False, cancel_futures=True)


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


def _guarded_lines(source: str) -> List[Tuple[int, int]]:
    """Line ranges of module-level ``if __name__ == "__main__":`` bodies (nested in other blocks too)."""
    ranges: List[Tuple[int, int]] = []

    def is_main_test(test: ast.expr) -> bool:
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
            return False
        sides = [test.left, test.comparators[0]]
        names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
        mains = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
        return len(names) == 1 and len(mains) == 1

    def visit(statements: Sequence[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if isinstance(node, ast.If) and is_main_test(node.test) and node.body:
                ranges.append((node.body[0].lineno, max(getattr(n, "end_lineno", n.lineno) or n.lineno for n in node.body)))
                visit(node.orelse)
                continue
            for name in ("body", "orelse", "finalbody", "handlers"):
                visit(getattr(node, name, []) or [])

    visit(ast.parse(source).body)
    return ranges


@lru_cache(maxsize=16)
def _guarded_in(path: str, mtime: float) -> Tuple[Tuple[int, int], ...]:
    with open(path, encoding="utf-8") as source:
        return tuple(_guarded_lines(source.read()))


def _main_source(main: Any) -> Optional[str]:
    """The file the workers would run as the main module, or None when they would run none."""
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        return getattr(spec, "origin", None) or "<unknown>"
    return getattr(main, "__file__", None)


def pool_is_safe() -> bool:
    """Whether worker processes can start without running any of the caller's code again.

    Workers import the main module anew (as ``__mp_main__``), so they run its top level up to
    the ``if __name__ == "__main__":`` block. That is harmless only while the main thread's
    ``__main__`` code is inside such a block (or the main module has no file: an interactive
    session, ``python -c``, a notebook). Inside a worker, a pool is never started.
    """
    if multiprocessing.parent_process() is not None:
        return False  # a worker (ours or anyone's) reads in-process
    main = sys.modules.get("__main__")
    if main is None:
        return True
    path = _main_source(main)
    if path is None:
        return True
    frame = sys._current_frames().get(threading.main_thread().ident or -1)
    line = None
    while frame is not None:  # the outermost frame running the main module's top level
        if frame.f_globals is vars(main) and frame.f_code.co_name == "<module>":
            line = frame.f_lineno
        frame = frame.f_back
    if line is None:
        return False  # its top level has finished (or never ran): re-importing it would run all of it
    try:
        guarded = _guarded_in(path, os.path.getmtime(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return False
    return any(first <= line <= last for first, last in guarded)


def use_workers(sizes: Sequence[int], workers: Optional[int]) -> int:
    """How many worker processes a read of files of ``sizes`` bytes uses (0: read in-process)."""
    size = default_workers() if workers is None else workers
    size = min(size, len(sizes))
    if size <= 1:
        return 0
    if workers is None and sum(sizes) < MIN_PARALLEL_BYTES:
        return 0
    return size if pool_is_safe() else 0


def read_jobs(
    jobs: Sequence[Job],
    sizes: Sequence[int],
    options: ReadOptions,
    progress: Optional[Callable[[int], None]] = None,
    consume: Optional[Callable[[int, FileChunk], None]] = None,
) -> List[FileChunk]:
    """Decode every job, in worker processes when it pays (``options.workers``); results in job order.

    ``progress(bytes)`` is called as each file is done. With ``consume(index, chunk)``, each
    result is handed over as soon as it is ready and not kept (the returned list is empty).

    Raises:
        WorkerCrashError: a file killed a worker process, and killed it again when read alone.
    """
    results: List[Any] = [None] * len(jobs)

    def deliver(i: int, chunk: FileChunk) -> None:
        if consume:
            consume(i, chunk)
        else:
            results[i] = chunk
        if progress:
            progress(sizes[i])

    size = use_workers(sizes, options.workers)
    if not size:
        for i, job in enumerate(jobs):
            deliver(i, read_job(job, options))
        return [] if consume else results
    # Largest files first so that no worker is left with a big file at the end.
    order = sorted(range(len(jobs)), key=lambda i: -sizes[i])
    lost = _run_parallel(jobs, order, options, size, deliver)
    for i in lost:  # files in flight when a worker died: each again, alone, in a fresh pool
        _run_alone(jobs[i], i, options, size, deliver)
    return [] if consume else results


def _submit(size: int, job: Job, options: ReadOptions) -> "Future[FileChunk]":
    try:
        return _executor(size).submit(read_job, job, options)
    except BrokenProcessPool:  # broken by an earlier call: replace it once
        _discard_pool()
        return _executor(size).submit(read_job, job, options)


def _run_parallel(jobs: Sequence[Job], order: List[int], options: ReadOptions, size: int, deliver: Callable[[int, FileChunk], None]) -> List[int]:
    """Run ``jobs`` in ``order`` on the pool; returns the jobs lost to a worker's death (in order)."""
    futures: Dict[int, "Future[FileChunk]"] = {}
    try:
        for i in order:
            futures[i] = _submit(size, jobs[i], options)
    except BrokenProcessPool:
        pass  # the fresh pool broke at once: whatever was not submitted is lost too
    lost: List[int] = []
    for i in order:
        future = futures.pop(i, None)
        if future is None:
            lost.append(i)
            continue
        try:
            chunk = future.result()
        except BrokenProcessPool:
            lost.append(i)
            continue
        deliver(i, chunk)
    if lost:
        _discard_pool()
    return lost


def _run_alone(job: Job, i: int, options: ReadOptions, size: int, deliver: Callable[[int, FileChunk], None]) -> None:
    """Read one file that was in flight when a worker died, with no other file in the pool."""
    try:
        chunk = _submit(size, job, options).result()
    except BrokenProcessPool as exc:
        _discard_pool()
        raise WorkerCrashError(job[0]) from exc
    deliver(i, chunk)
