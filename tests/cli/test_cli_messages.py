"""What the command says (issue 16 items 9 and 11): a missing optional package names its extra,
``--version``, ``plot`` with an unknown tag lists the tags there, and ``plot`` of a run directory
labels the curve with the run's name."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from eventwriter import SummaryWriter, __version__

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, blocked=(), cwd=ROOT):
    """Run the command with the packages in ``blocked`` made impossible to import (as if not installed)."""
    code = ("import sys\n"
            f"for name in {list(blocked)!r}:\n"
            "    sys.modules[name] = None\n"
            "from eventwriter.cli import main\n"
            "raise SystemExit(main(sys.argv[1:]))\n")
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=180, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)})


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("messages")
    with SummaryWriter(str(root / "baseline")) as writer:
        for step in range(10):
            writer.add_scalar("loss/train", 1.0 / (step + 1), step)
            writer.add_scalar("accuracy", step / 10, step)
    return root


@pytest.mark.parametrize("command, blocked, package, extra", [
    (["export", "{logdir}", "-o", "{tmp}/x.parquet"], ["pandas"], "pandas", "frames"),
    (["export", "{logdir}", "-o", "{tmp}/x.parquet"], ["pyarrow"], "pyarrow", "frames"),
    (["plot", "{logdir}", "--tag", "accuracy", "-o", "{tmp}/x.png"], ["matplotlib"], "matplotlib", "figures"),
    (["inspect", "s3://bucket/run"], ["s3fs"], "s3fs", "s3"),
    (["verify", "gs://bucket/run"], ["fsspec"], "fsspec", "gcs"),
])
def test_a_missing_optional_package_is_one_line_naming_the_extra(logdir, tmp_path, command, blocked, package, extra):
    args = [part.format(logdir=logdir, tmp=tmp_path) for part in command]
    done = _cli(*args, blocked=blocked, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "ModuleNotFoundError" not in done.stderr
    (line,) = done.stderr.splitlines()
    assert line == (f"eventwriter: {command[0]} needs {package}, which is not installed: install eventwriter's "
                    f"[{extra}] extra (pip install \".[{extra}]\" in the eventwriter checkout)")


def test_version():
    done = subprocess.run([sys.executable, "-m", "eventwriter", "--version"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"eventwriter {__version__}"


def test_plot_with_an_unknown_tag_lists_the_tags_there(logdir, tmp_path):
    pytest.importorskip("matplotlib")
    done = _cli("plot", logdir, "--tag", "loss", "-o", tmp_path / "x.png", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (f"eventwriter: no scalars with tag 'loss' under {logdir}; "
                           "scalar tags there: 'accuracy', 'loss/train'\n")
    assert not (tmp_path / "x.png").exists()


def _legend(svg: str) -> list:
    # matplotlib's SVG writer puts each text's string in a comment before its glyphs.
    return re.findall(r"<!-- (.*?) -->", svg)


def test_plot_of_a_run_directory_labels_the_curve_with_the_runs_name(logdir, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curve.svg"
    done = _cli("plot", logdir / "baseline", "--tag", "accuracy", "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    texts = _legend(out.read_text())
    assert "baseline" in texts and "." not in texts
    # From inside the run directory, given as ".", too.
    done = _cli("plot", ".", "--tag", "accuracy", "-o", out, cwd=logdir / "baseline")
    assert done.returncode == 0, done.stderr
    assert "baseline" in _legend(out.read_text())


def test_plot_refuses_an_image_format_it_cannot_write(logdir, tmp_path):
    pytest.importorskip("matplotlib")
    done = _cli("plot", logdir, "--tag", "accuracy", "-o", tmp_path / "x.docx", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "-o must end in an image format matplotlib writes" in done.stderr
