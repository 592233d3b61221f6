"""eventwriter.integrations.lightning.TensorBoardLogger against Lightning's own TensorBoardLogger.

The training legs are real ``Trainer.fit`` runs (tests/integrations/fw_lightning_job.py). Ours runs
in a process where TensorFlow, tensorboard and tensorboardX cannot be imported; Lightning's own
logger (which needs tensorboard) runs the same seeded job in a normal process. Both logdirs are
read here with TensorBoard's loaders and compared run by run, tag by tag, step by step, value by
value (float32).
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from runner import run_snippets
from fw_support import (ROOT, blocked_check, blocked_preamble, event_files, plugin_view, read_reports,
                        run_job, scalars_by_run)

JOB = "fw_lightning_job.py"


def _needs_lightning():
    pytest.importorskip("torch")
    pytest.importorskip("lightning")


def _fit(tmp_path: Path, which: str, *args: str, env=None) -> tuple:
    """Run the job with ``which`` logger in ``tmp_path/which``; returns (save_dir, reports)."""
    cwd = tmp_path / which
    cwd.mkdir(parents=True, exist_ok=True)
    block = ["--block"] if which.startswith("ours") else []
    run_job(JOB, ["--logger", "ours" if which.startswith("ours") else "lightning", "--save-dir", "logs", *block, *args],
            cwd=cwd, env=env)
    return cwd / "logs", read_reports(cwd)


def _compare_runs(ours: Path, theirs: Path, *, hparams_metrics=None) -> None:
    """Same runs, scalar tags, steps and float32 values (both loaders), text, HParams and graph."""
    from support.tbutil import run_dirs

    ours_scalars, their_scalars = scalars_by_run(ours), scalars_by_run(theirs)
    assert sorted(ours_scalars) == sorted(their_scalars)
    for run, tags in their_scalars.items():
        assert sorted(ours_scalars[run]) == sorted(tags), run
        for tag, points in tags.items():
            assert ours_scalars[run][tag] == points, (run, tag)
    ours_runs, their_runs = run_dirs(ours), run_dirs(theirs)
    for run, directory in their_runs.items():
        mine, reference = plugin_view(ours_runs[run]), plugin_view(directory)
        assert mine["tags"] == reference["tags"], run
        assert mine["scalars"] == reference["scalars"], run
        assert mine["text"] == reference["text"], run
        assert mine["graph"] == reference["graph"], run
        if reference["hparams"] is None:
            assert mine["hparams"] is None, run
            continue
        got, want = dict(mine["hparams"]), dict(reference["hparams"])
        # differences on purpose (module docstring): bools stay bools; metric names carry the prefix
        got_types, want_types = got.pop("types"), want.pop("types")
        bool_keys = {k for k, v in got_types.items() if v == 2}  # DATA_TYPE_BOOL
        assert {k: v for k, v in want_types.items() if k not in bool_keys} == {k: v for k, v in got_types.items() if k not in bool_keys}
        assert all(want_types[k] == 3 for k in bool_keys)  # torch: FLOAT64
        if hparams_metrics is not None:
            assert got.pop("metrics") == hparams_metrics[0] and want.pop("metrics") == hparams_metrics[1]
        assert got == want, run


def _graph_nodes(run_dir: str) -> list:
    from support.tbutil import plugin_accumulator

    graph = plugin_accumulator(run_dir).Graph()
    return sorted((n.name, n.op, tuple(n.input)) for n in graph.node)


def _layout(save_dir: Path) -> list:
    """Relative paths of every directory and non-event file (event file names differ by time and pid)."""
    return sorted(str(p.relative_to(save_dir)) for p in save_dir.rglob("*") if "tfevents" not in p.name)


# --- imports ------------------------------------------------------------------------------------

def test_import_eventwriter_loads_no_integration():
    code = "import sys, eventwriter; print(sorted(m for m in sys.modules if m.startswith('eventwriter.integrations')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(ROOT))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_module_imports_without_tensorboard():
    _needs_lightning()
    code = blocked_preamble() + "import eventwriter.integrations.lightning as m\nassert m.TensorBoardLogger\n" + blocked_check()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert out.returncode == 0, out.stdout + out.stderr
    # and where tensorboard is installed and importable, importing the module still does not load it
    code = "import eventwriter.integrations.lightning\n" + blocked_check()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert out.returncode == 0, out.stdout + out.stderr


# --- without a Trainer --------------------------------------------------------------------------

def test_constructor_and_layout_match_lightning(tmp_path):
    _needs_lightning()
    from lightning.pytorch.loggers import TensorBoardLogger as Theirs

    from eventwriter.integrations.lightning import TensorBoardLogger as Ours

    for name in ("version_0", "version_3_old", "version_x", "other"):
        (tmp_path / "exp" / name).mkdir(parents=True)
    (tmp_path / "exp" / "version_9").write_text("a file, not a run")
    cases = [dict(name="exp"), dict(name="exp", version=5, sub_dir="train"), dict(name="", version="run_a"),
             dict(name=None), dict(name="exp", sub_dir=Path("val"))]
    for kwargs in cases:
        ours, theirs = Ours(tmp_path, **kwargs), Theirs(tmp_path, **kwargs)
        for attr in ("name", "version", "root_dir", "log_dir", "save_dir", "sub_dir", "group_separator"):
            assert getattr(ours, attr) == getattr(theirs, attr), (kwargs, attr)
    assert Ours(tmp_path, name="exp").version == 4  # version_3_old counts as 3, as in Lightning


@pytest.mark.parametrize("kwargs, message", [
    (dict(save_dir=3), "save_dir"), (dict(save_dir="x", name=1), "name"), (dict(save_dir="x", version=True), "version"),
    (dict(save_dir="x", prefix=None), "prefix"), (dict(save_dir="x", sub_dir=1.5), "sub_dir"),
    (dict(save_dir="x", storage_options="k=v"), "storage_options"), (dict(save_dir="x", max_queu=3), "max_queu"),
])
def test_bad_arguments_raise_type_error_naming_them(kwargs, message):
    _needs_lightning()
    from eventwriter.integrations.lightning import TensorBoardLogger

    with pytest.raises(TypeError, match=message):
        TensorBoardLogger(**kwargs)


def test_direct_calls_read_back(tmp_path):
    """log_metrics / log_hyperparams / finalize called by hand, as Lightning users also do."""
    _needs_lightning()
    import numpy as np
    import torch
    from support.tbutil import legacy_accumulator

    from eventwriter.integrations.lightning import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path, name="hand", prefix="p", default_hp_metric=False, flush_secs=5)
    params = {"lr": 0.1, "arr": np.arange(3), "one": torch.tensor([2.5]), "np": np.float32(0.5)}
    logger.log_hyperparams(params)
    assert not list(tmp_path.rglob("*tfevents*")), "no metric: Lightning writes no record, only hparams.yaml"
    logger.log_metrics({"loss": torch.tensor(0.25), "acc": 0.5}, step=3)
    logger.log_hyperparams(params, metrics={"best": 0.9}, step=3)
    with pytest.raises(TypeError, match=r"metrics\['bad'\]"):
        logger.log_metrics({"bad": "text"}, step=4)
    logger.finalize("success")
    run = tmp_path / "hand" / "version_0"
    acc = legacy_accumulator(run)
    assert [(e.step, e.value) for e in acc.Scalars("p-loss")] == [(3, 0.25)]
    assert [(e.step, e.value) for e in acc.Scalars("p-best")] == [(3, np.float32(0.9))]
    view = plugin_view(str(run))["hparams"]
    assert view["metrics"] == ["p-best"]
    assert view["values"] == {"lr": 0.1, "arr": "[0 1 2]", "one": 2.5, "np": 0.5}
    import yaml

    saved = yaml.unsafe_load((run / "hparams.yaml").read_text())
    assert sorted(saved) == ["arr", "lr", "np", "one"]


# --- Trainer.fit, differential ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("args, metrics", [
    ([], None),
    (["--prefix", "exp", "--sub-dir", "train", "--name", "custom", "--version", "7"], (["exp-hp_metric"], ["hp_metric"])),
    (["--no-default-hp-metric", "--name", "", "--version", "run_a", "--epochs", "1"], None),
], ids=["defaults", "prefix-subdir-version", "no-hp-metric"])
def test_fit_matches_lightnings_own_logger(tmp_path, args, metrics):
    _needs_lightning()
    ours, ours_reports = _fit(tmp_path, "ours", "--log-graph", *args)
    theirs, their_reports = _fit(tmp_path, "theirs", "--log-graph", *args)
    _compare_runs(ours, theirs, hparams_metrics=metrics)
    assert _layout(ours) == _layout(theirs)  # version dirs, sub-runs, checkpoints, hparams.yaml
    (mine,), (reference,) = ours_reports, their_reports
    import lightning

    assert mine["lightning"] == reference["lightning"] == lightning.__version__  # the one under test ran
    for key in ("log_dir", "version", "root_dir"):
        assert mine[key] == reference[key]
    assert mine["experiment"] == "SummaryWriter"
    for yaml_file in theirs.rglob("hparams.yaml"):
        assert (ours / yaml_file.relative_to(theirs)).read_text() == yaml_file.read_text()
    from support.tbutil import run_dirs

    graphs = [run for run in run_dirs(theirs) if plugin_view(run_dirs(theirs)[run])["graph"]]
    assert graphs, "the job logs a graph"
    for run in graphs:
        assert _graph_nodes(run_dirs(ours)[run]) == _graph_nodes(run_dirs(theirs)[run])


@pytest.mark.slow
def test_second_fit_gets_the_next_version(tmp_path):
    _needs_lightning()
    _fit(tmp_path, "ours", "--epochs", "1", "--no-checkpoint")
    _, reports = _fit(tmp_path, "ours", "--epochs", "1", "--no-checkpoint")
    assert reports[0]["version"] == 1
    assert sorted(p.name for p in (tmp_path / "ours" / "logs" / "lightning_logs").iterdir()) == ["version_0", "version_1"]


@pytest.mark.slow
def test_pytorch_lightning_package_too(tmp_path):
    """With only ``pytorch_lightning`` importable, the logger subclasses its Logger and writes the same."""
    _needs_lightning()
    pytest.importorskip("pytorch_lightning")
    ours, reports = _fit(tmp_path, "ours", "--flavor", "pytorch_lightning", "--epochs", "1")
    theirs, _ = _fit(tmp_path, "theirs", "--epochs", "1")
    assert reports[0]["logger_module"] == "pytorch_lightning.loggers.logger"
    _compare_runs(ours, theirs)


# --- DDP ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_ddp_two_processes_only_rank_zero_writes(tmp_path):
    """A real 2-process DDP fit on CPU (gloo): one run, written by rank 0's process only."""
    _needs_lightning()
    save_dir, reports = _fit(tmp_path, "ours", "--devices", "2", "--epochs", "1")
    assert [r["rank"] for r in reports] == [0, 1]
    assert [r["experiment"] for r in reports] == ["SummaryWriter", "NullWriter"]
    files = event_files(save_dir)
    assert files and all(f".{reports[0]['pid']}." in f.name for f in files), files
    scalars = scalars_by_run(save_dir)["lightning_logs/version_0"]
    # every rank logged its own rank; only rank 0's values were written
    assert scalars["direct/rank"] and {v for _, v in scalars["direct/rank"]} == {0.0}
    assert scalars["rank_seen"] and {v for _, v in scalars["rank_seen"]} == {0.0}
    assert [s for s, _ in scalars["train/loss"]] == list(range(4))  # 64 samples / 2 ranks / batch 8
    assert len(list(save_dir.rglob("hparams.yaml"))) == 1


# --- remote save_dir ----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.store
def test_s3_save_dir_matches_local_lightning(tmp_path, moto_s3):
    """``save_dir="s3://..."`` on a moto S3 server: versions listed there, same logs as Lightning's local run."""
    _needs_lightning()
    import fsspec

    bucket = moto_s3.bucket()
    env = dict(moto_s3.env, EVENTWRITER_PENDING_DIR=str(tmp_path / "pending"),
               EW_STORAGE_OPTIONS=json.dumps(moto_s3.storage_options))
    url = f"s3://{bucket}/exp"
    _, first = _fit(tmp_path, "ours-1", "--no-checkpoint", "--epochs", "1", "--save-dir", url, env=env)
    # the second run passes storage_options explicitly and must find version_0 on the store
    _, second = _fit(tmp_path, "ours-2", "--no-checkpoint", "--epochs", "1", "--save-dir", url, "--storage-env", env=env)
    assert (first[0]["version"], second[0]["version"]) == (0, 1)
    assert second[0]["log_dir"] == f"{url}/lightning_logs/version_1"
    fs = fsspec.filesystem("s3", **moto_s3.storage_options)
    local = tmp_path / "downloaded"
    fs.get(f"{bucket}/exp", str(local), recursive=True)
    theirs, _ = _fit(tmp_path, "theirs", "--no-checkpoint", "--epochs", "1")
    for version in ("version_0", "version_1"):
        ours_run = local / "lightning_logs" / version
        their_run = theirs / "lightning_logs" / "version_0"
        _compare_runs(ours_run, their_run)
        assert (ours_run / "hparams.yaml").read_text() == (their_run / "hparams.yaml").read_text()


# --- documentation ------------------------------------------------------------------------------

@pytest.mark.slow
def test_doc_snippets_run_without_tensorboard(tmp_path):
    """Every python block of the doc's Lightning section runs in a process without tensorboard."""
    _needs_lightning()
    run_snippets("PyTorch Lightning", tmp_path, env={"OMP_NUM_THREADS": "1"})
    runs = [p for p in tmp_path.rglob("*tfevents*")]
    assert runs, "the snippets log something"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert any(scalars_by_run(tmp_path).values())
