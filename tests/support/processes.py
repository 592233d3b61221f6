"""Child processes for tests: the ``eventwriter`` command and logging scripts, with bounded waits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
"""The checkout (the directory holding ``eventwriter/``)."""


def run_cli(*args, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python -m eventwriter ARGS`` from the checkout with a bounded wait."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.update(kwargs.pop("env", {}))
    return subprocess.run(
        [sys.executable, "-m", "eventwriter", *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env, **kwargs
    )


def writer_child(code: str, logdir) -> subprocess.Popen:
    """Start ``python -c`` with ``SummaryWriter`` imported and ``LOGDIR`` in ``code`` replaced by ``logdir``;
    its stdout is a pipe (see :func:`wait_line`)."""
    script = "import sys, time\nsys.path.insert(0, %r)\nfrom eventwriter import SummaryWriter\n" % ROOT
    script += textwrap.dedent(code).replace("LOGDIR", repr(str(logdir)))
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)


def wait_line(proc: subprocess.Popen, expected: str, timeout: float = 30.0) -> None:
    """Wait (bounded) for the child's next stdout line and check it is ``expected``."""
    result = {}
    reader = threading.Thread(target=lambda: result.setdefault("line", proc.stdout.readline()))
    reader.start()
    reader.join(timeout)
    assert result.get("line", "").strip() == expected, f"child did not print {expected!r}"


STEP_LOGGER = r"""
import sys, time
from eventwriter import SummaryWriter
w = SummaryWriter(sys.argv[1], upload_secs=1)
step = 0
while True:
    w.add_scalar("t", float(step), step)
    print(step, time.time(), flush=True)
    step += 1
    time.sleep(0.05)
"""
"""A ``python -c`` script that logs scalar ``t`` every 50 ms to the URL in ``argv[1]`` (``upload_secs=1``)
and prints ``step wall_time`` for each, until it is killed: the SIGKILL tests' and benchmark's child."""
