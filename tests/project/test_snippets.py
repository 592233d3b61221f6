"""Every fenced ``python`` block of README.md and of docs/*.md (FORMAT.md aside: its examples are
checked by tests/project/test_docs.py) runs as written, and so does every ``bash`` block made only of
``eventwriter`` commands (issue 16 item 16).

A page's blocks run in order, each in its own subprocess, in one temporary directory, as a reader
following the page would run them. A docs page starts where the README's example leaves a reader
(its ``runs/demo``). A block that names an ``s3://`` bucket runs against a real moto_server, with the
AWS environment pointing at it and that bucket created first. A block that calls
``init_process_group`` runs under ``torchrun`` with two processes. A block that imports a package
that is not installed (torch, keras, ...) is skipped, naming it.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# docs/integrations.md is run by tests/integrations/, in processes where TensorFlow and tensorboard
# cannot be imported (a stronger check than here, and each framework only once).
PAGES = ["README.md"] + sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md") if p.name not in ("FORMAT.md", "integrations.md"))
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.M | re.S)
BIN = Path(sys.executable).parent


def blocks(page: str):
    """``(language, first line number, code)`` of every fenced python/bash block of ``page``."""
    text = (ROOT / page).read_text()
    for match in FENCE.finditer(text):
        language, code = match.group(1), match.group(2)
        if language in ("python", "bash"):
            yield language, text[: match.start()].count("\n") + 2, code


def _command_lines(code: str):
    return [line.split("  #", 1)[0].strip() for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def runnable(language: str, code: str) -> bool:
    """Python blocks all; bash blocks only when every line is an ``eventwriter`` command."""
    if language == "python":
        return True
    lines = _command_lines(code)
    return bool(lines) and all(line.startswith("eventwriter ") for line in lines)


def missing_modules(code: str):
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return sorted(name for name in names if importlib.util.find_spec(name) is None)


CASES = [
    pytest.param(page, line, language, code, id=f"{page}:{line}")
    for page in PAGES
    for language, line, code in blocks(page)
    if runnable(language, code)
]


def test_the_pages_have_runnable_blocks():
    pages = {case.values[0] for case in CASES}
    assert {"README.md", "docs/multi-process.md", "docs/reading.md"} <= pages
    assert sum(1 for case in CASES if case.values[0] == "README.md") >= 5


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory):
    """One directory per page, holding what the page's earlier blocks left (the README example first)."""
    made = {}

    def for_page(page: str) -> Path:
        if page not in made:
            made[page] = tmp_path_factory.mktemp(page.replace("/", "_"))
            if page != "README.md":
                (language, _, example) = next(b for b in blocks("README.md") if b[0] == "python")
                _run_python(example, made[page], dict(os.environ))
        return made[page]

    return for_page


def _run_python(code: str, cwd: Path, env: dict, torchrun: bool = False):
    script = cwd / "snippet.py"
    script.write_text(code)
    if torchrun:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    else:
        command = [sys.executable, str(script)]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


def _store_env(request, code: str, env: dict, cwd: Path) -> dict:
    buckets = sorted(set(re.findall(r"s3://([a-z0-9][a-z0-9.-]+)", code)))
    if not buckets:
        return env
    moto_s3 = request.getfixturevalue("moto_s3")
    import boto3

    client = boto3.client("s3", endpoint_url=moto_s3.endpoint, aws_access_key_id="testing",
                          aws_secret_access_key="testing", region_name="us-east-1")
    for bucket in buckets:
        try:
            client.create_bucket(Bucket=bucket)
        except client.exceptions.BucketAlreadyOwnedByYou:
            pass
    return {**env, **moto_s3.env, "EVENTWRITER_PENDING_DIR": str(cwd / "pending")}


@pytest.mark.parametrize("page, line, language, code", CASES)
def test_block_runs(request, workdirs, page, line, language, code):
    cwd = workdirs(page)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
    env.update(PYTHONPATH=str(ROOT), PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}", OMP_NUM_THREADS="1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    env = _store_env(request, code, env, cwd)
    if language == "bash":
        for command in _command_lines(code):
            done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        return
    missing = missing_modules(code)
    if missing:
        pytest.skip(f"needs {', '.join(missing)}, not installed")
    _run_python(code, cwd, env, torchrun="init_process_group" in code)


def test_bash_commands_are_split_like_a_shell():
    assert _command_lines("eventwriter inspect runs   # a comment\n# only a comment\n\neventwriter verify runs\n") == \
        ["eventwriter inspect runs", "eventwriter verify runs"]
    assert shlex.split("eventwriter export runs -o x.csv")[0] == "eventwriter"
