"""Helpers of the framework-adapter tests: run a script where TensorFlow and tensorboard cannot be imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def run_script(script, *args, env=None, blocked=True, timeout=300, python=None, cwd=None):
    """Run ``script`` in a fresh interpreter (through blocked.py unless ``blocked=False``); return stdout.

    Fails the test with the script's stderr when it exits non-zero (3: a blocked module was imported).
    """
    full_env = dict(os.environ)
    full_env.update({"PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE)]), "TF_CPP_MIN_LOG_LEVEL": "3",
                     "JAX_PLATFORMS": "cpu", "PYTHONWARNINGS": "ignore"})
    full_env.update(env or {})
    command = [python or sys.executable] + ([str(HERE / "blocked.py")] if blocked else []) + [str(script), *map(str, args)]
    proc = subprocess.run(command, capture_output=True, text=True, env=full_env, timeout=timeout, cwd=cwd)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stderr[-6000:]}")
    return proc.stdout


def doc_snippets(section: str):
    """The fenced python blocks of ``## <section>`` in docs/integrations.md, in order."""
    import re

    text = (ROOT / "docs" / "integrations.md").read_text(encoding="utf-8")
    parts = re.split(r"^## ", text, flags=re.M)
    body = next(p for p in parts if p.startswith(section))
    return re.findall(r"^```python\n(.*?)^```", body, flags=re.M | re.S)


def run_snippets(section, tmp_path, env=None):
    """Run every python block of a docs section, each in a fresh blocked interpreter with ``tmp_path`` as cwd."""
    blocks = doc_snippets(section)
    assert blocks, f"no python blocks in section {section!r}"
    for i, code in enumerate(blocks):
        script = tmp_path / f"snippet{i}.py"
        script.write_text(code)
        run_script(script, env=env, cwd=tmp_path)
    return blocks
