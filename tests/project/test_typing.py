"""The library's annotations are consistent: mypy finds no errors in eventwriter/."""

from __future__ import annotations

import subprocess
import sys

import pytest
from support.processes import ROOT



def test_mypy_is_clean():
    pytest.importorskip("mypy", reason="mypy comes with the test extra")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "eventwriter"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
