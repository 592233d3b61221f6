"""The automatic worker pool never breaks a script (issue 16, item 21).

``forkserver`` workers import the program's ``__main__`` anew; a plain script without
``if __name__ == "__main__":`` that calls ``frames`` from its top level would run again in every
worker (and crash with ``BrokenProcessPool``, after re-running whatever the script does first).
``frames`` reads in-process when the pool cannot start safely, and uses it when it can.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pandas")

from eventwriter import SummaryWriter  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _logdir(tmp_path):
    for r in range(3):
        with SummaryWriter(str(tmp_path / "logs" / f"r{r}")) as w:
            for step in range(2000):
                w.add_scalar("loss", step, step)
    return tmp_path / "logs"


def _run(tmp_path, body, name="script.py"):
    script = tmp_path / name
    script.write_text(textwrap.dedent(body))
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)


PRELUDE = """
    import sys
    from eventwriter import frames
    from eventwriter.frames import pool
    pool.MIN_PARALLEL_BYTES = 0  # as if the logdir were large
    pool._MIN_PARALLEL_BYTES = 0  # (its name before issue 16)
    with open("ran.txt", "a") as f:
        f.write("top level ran\\n")  # what a script does before reading (training, say)
"""


@pytest.mark.parametrize("workers", [None, 2])
def test_a_script_without_a_main_guard_reads_in_process(tmp_path, workers):
    logdir = _logdir(tmp_path)
    done = _run(tmp_path, PRELUDE + f"""
    table = frames.scalars({str(logdir)!r}, workers={workers})
    print(len(table), pool._pool is None)
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["6000", "True"]
    assert (tmp_path / "ran.txt").read_text() == "top level ran\n"  # the script ran once, in no worker


def test_a_guarded_script_uses_the_pool(tmp_path):
    logdir = _logdir(tmp_path)
    done = _run(tmp_path, PRELUDE + f"""
    def main():
        table = frames.scalars({str(logdir)!r})
        print(len(table), pool._pool is not None)

    if __name__ == "__main__":
        main()
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["6000", "True"]
    # each worker imported the script (as __mp_main__) and ran its unguarded top level: harmless
    # here, and the reason an unguarded call must not start workers
    assert (tmp_path / "ran.txt").read_text().count("top level ran") >= 2


def test_code_run_with_python_c_uses_the_pool(tmp_path):
    logdir = _logdir(tmp_path)
    code = (
        "from eventwriter import frames; from eventwriter.frames import pool; pool.MIN_PARALLEL_BYTES = 0; "
        f"t = frames.scalars({str(logdir)!r}); print(len(t), pool._pool is not None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["6000", "True"]


def test_pool_is_safe_reads_the_guard():
    from eventwriter.frames.pool import _guarded_lines

    source = textwrap.dedent(
        """
        import x
        x.read()
        def f():
            if __name__ == "__main__":
                pass
        if __name__ == "__main__":
            x.read()
            x.more()
        else:
            x.other()
        try:
            if "__main__" == __name__:
                x.read()
        finally:
            pass
        """
    )
    assert _guarded_lines(source) == [(8, 9), (14, 14)]
