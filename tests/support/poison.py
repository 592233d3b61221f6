"""A worker-process hook for tests: reading a file whose path contains ``poison`` kills the worker.

Installed as the ``initializer`` of a frames worker pool (see tests/reader/test_frames_hostile.py):
it replaces ``eventwriter.frames.pool.read_job`` in the worker, which is what the pool's pickled
calls look up there, so the parent process is untouched.
"""

from __future__ import annotations

import os
import signal


def install() -> None:
    """Make this (worker) process die with SIGKILL when it is asked to read a poisoned path."""
    from eventwriter.frames import pool

    real = pool.read_job

    def read_job(job, options):
        if "poison" in job[0]:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(job, options)

    pool.read_job = read_job
