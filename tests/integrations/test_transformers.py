"""eventwriter.integrations.transformers.TensorBoardCallback against transformers' own TensorBoardCallback.

The training legs are real ``Trainer.train`` runs of a tiny BERT built from a config
(tests/integrations/fw_transformers_job.py). Ours runs with ``report_to="none"`` in a process
where TensorFlow, tensorboard and tensorboardX cannot be imported; transformers' own callback
(``report_to="tensorboard"``, which needs tensorboard) runs the same seeded job in a normal
process. Both logdirs are read here with TensorBoard's loaders and compared tag by tag, step by
step and value by value (float32), except the values that measure time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from runner import run_snippets
from fw_support import (ROOT, blocked_check, blocked_preamble, event_files, plugin_view, read_reports,
                        run_job, scalars_by_run)

JOB = "fw_transformers_job.py"
TIMING = re.compile(r"runtime|per_second")  # values that measure this machine, not the training
HPARAMS_TAGS = {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}


def _needs_transformers():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")


def _train(tmp_path: Path, which: str, *args: str, log_dir: str = "tb", env=None, launcher=()) -> tuple:
    """Run the job with ``which`` callback in ``tmp_path/which``; returns (log dir, reports)."""
    cwd = tmp_path / which
    cwd.mkdir(parents=True, exist_ok=True)
    ours = which.startswith("ours")
    block = ["--block"] if ours else []
    run_job(JOB, ["--callback", "ours" if ours else "hf", "--log-dir", log_dir, *block, *args], cwd=cwd, env=env,
            launcher=launcher)
    return cwd / log_dir, read_reports(cwd)


def _args_json(text: str) -> dict:
    args = json.loads(text)
    args.pop("report_to")  # ["tensorboard"] for transformers' callback, [] with report_to="none"
    args.pop("logging_dir", None)  # transformers 4.x: where its callback was told to write (the job sets it)
    return args


def _strings_dropped_by_theirs(reports: list) -> set:
    """Tags transformers' own callback leaves out: before 4.47 it dropped string logs with a warning."""
    import transformers

    # the jobs must have run the transformers this process sees (e.g. a 4.x put first on PYTHONPATH)
    assert {r["transformers"] for r in reports} == {transformers.__version__}
    version = tuple(int(part) for part in transformers.__version__.split(".")[:2])
    return {"eval/verdict/text_summary"} if version < (4, 47) else set()


def _compare(ours: str, theirs: str, *, hparams: bool, ours_only: frozenset = frozenset()) -> dict:
    """Same tags, steps, values (timing values: steps only) and text; returns our plugin view.

    ``ours_only``: tags beyond the hparams ones that only eventwriter's callback writes.
    """
    mine, reference = plugin_view(ours), plugin_view(theirs)
    extra = set(mine["tags"]) - set(reference["tags"])
    assert extra == (HPARAMS_TAGS if hparams else set()) | ours_only
    assert {t: p for t, p in mine["tags"].items() if t not in extra} == reference["tags"]
    assert reference["scalars"], "the job logs scalars"
    for tag, points in reference["scalars"].items():
        got = mine["scalars"][tag]
        if TIMING.search(tag):
            assert [s for s, _ in got] == [s for s, _ in points], tag
        else:
            assert got == points, tag
    for tag, points in reference["text"].items():
        got = mine["text"][tag]
        assert [s for s, _ in got] == [s for s, _ in points], tag
        if tag == "args/text_summary":
            assert [_args_json(t) for _, t in got] == [_args_json(t) for _, t in points]
        else:
            assert got == points, tag
    # the legacy loader (tbparse and most tools) sees the same scalars too
    legacy_ours, legacy_theirs = scalars_by_run(Path(ours))["."], scalars_by_run(Path(theirs))["."]
    assert sorted(legacy_ours) == sorted(legacy_theirs)
    for tag, points in legacy_theirs.items():
        if not TIMING.search(tag):
            assert legacy_ours[tag] == points, tag
    return mine


def test_module_imports_without_tensorboard():
    _needs_transformers()
    code = blocked_preamble() + "import eventwriter.integrations.transformers as m\nassert m.TensorBoardCallback\n" + blocked_check()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert out.returncode == 0, out.stdout + out.stderr
    # and where tensorboard is installed and importable, importing the module still does not load it
    code = "import eventwriter.integrations.transformers\n" + blocked_check()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert out.returncode == 0, out.stdout + out.stderr


def test_rewrite_logs_matches_transformers():
    _needs_transformers()
    from transformers.integrations.integration_utils import rewrite_logs as theirs

    from eventwriter.integrations.transformers import rewrite_logs

    logs = {"loss": 1.0, "eval_loss": 2.0, "test_acc": 0.5, "epoch": 1.5, "evaluation": 3, "eval_": 4}
    assert rewrite_logs(logs) == theirs(logs)


def test_hooks_by_hand_read_back(tmp_path, monkeypatch):
    """on_train_begin / on_log / on_train_end with real TrainingArguments and TrainerState."""
    _needs_transformers()
    import numpy as np
    from support.tbutil import legacy_accumulator
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from eventwriter.integrations.transformers import TensorBoardCallback

    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "from-env"))
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    state, control = TrainerState(), TrainerControl()
    callback = TensorBoardCallback()
    callback.on_train_begin(args, state, control)
    for step in (1, 2):
        state.global_step = step
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            callback.on_log(args, state, control, logs={"loss": 1.0 / step, "eval_f32": np.float32(0.5), "note": "ok",
                                                         "flag": True, "bad": [1, 2]})
        assert len(caught) == (1 if step == 1 else 0)  # one warning per key that cannot be logged
        assert "'train/bad'" in str(caught[0].message) if caught else True
    callback.on_train_end(args, state, control)
    assert callback.tb_writer is None
    run = tmp_path / "from-env"
    acc = legacy_accumulator(run)
    assert [(e.step, e.value) for e in acc.Scalars("train/loss")] == [(1, 1.0), (2, 0.5)]
    assert [(e.step, e.value) for e in acc.Scalars("eval/f32")] == [(1, 0.5), (2, 0.5)]
    assert [(e.step, e.value) for e in acc.Scalars("train/flag")] == [(1, 1.0), (2, 1.0)]
    view = plugin_view(str(run))
    assert view["text"]["train/note/text_summary"] == [(1, "ok"), (2, "ok")]
    assert json.loads(view["text"]["args/text_summary"][0][1])["output_dir"] == str(tmp_path / "out")
    assert view["hparams"]["values"]["learning_rate"] == args.learning_rate
    assert set(view["hparams"]["values"]) == set(args.to_sanitized_dict())


def test_default_run_dir_kept_for_evaluate_after_train_and_trials_nested(tmp_path, monkeypatch):
    _needs_transformers()
    from support.tbutil import run_dirs
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from eventwriter.integrations.transformers import TensorBoardCallback

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    args = TrainingArguments(output_dir=str(tmp_path / "out"), report_to="none", use_cpu=True)
    state, control = TrainerState(), TrainerControl()
    callback = TensorBoardCallback(log_hparams=False)
    callback.on_train_begin(args, state, control)
    callback.on_log(args, state, control, logs={"loss": 1.0})
    callback.on_train_end(args, state, control)
    callback.on_log(args, state, control, logs={"eval_loss": 2.0})  # trainer.evaluate() after train()
    callback.on_train_end(args, state, control)
    runs = run_dirs(tmp_path / "out")
    assert len(runs) == 1 and next(iter(runs)).startswith("runs" + os.sep), runs
    run = next(iter(runs.values()))
    assert len(event_files(Path(run))) == 2  # the second writer: a new file in the same run
    assert set(scalars_by_run(Path(run))["."]) == {"train/loss", "eval/loss"}

    state.is_hyper_param_search, state.trial_name = True, "trial-7"
    trial = TensorBoardCallback(log_dir=str(tmp_path / "search"), log_hparams=False)
    trial.on_train_begin(args, state, control)
    trial.on_log(args, state, control, logs={"loss": 3.0})
    trial.on_train_end(args, state, control)
    assert list(run_dirs(tmp_path / "search")) == ["trial-7"]


def test_bad_arguments_raise_type_error_naming_them():
    _needs_transformers()
    from eventwriter.integrations.transformers import TensorBoardCallback

    for kwargs, name in ((dict(log_dir=3), "log_dir"), (dict(log_hparams="yes"), "log_hparams"),
                         (dict(storage_options=["k"]), "storage_options")):
        with pytest.raises(TypeError, match=name):
            TensorBoardCallback(**kwargs)


# --- Trainer.train, differential ----------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("hparams", [True, False], ids=["hparams", "no-hparams"])
def test_train_matches_transformers_callback(tmp_path, hparams):
    _needs_transformers()
    flags = ["--string-metric"] + ([] if hparams else ["--no-hparams"])
    ours, reports = _train(tmp_path, "ours", *flags)
    theirs, their_reports = _train(tmp_path, "theirs", *flags)
    assert "eventwriter.integrations.transformers.TensorBoardCallback" in reports[0]["callbacks"]
    assert not any("integration_utils" in c for c in reports[0]["callbacks"])  # report_to="none": ours only
    assert any("integration_utils.TensorBoardCallback" in c for c in their_reports[0]["callbacks"])
    assert not reports[0]["writer_left_open"]
    view = _compare(str(ours), str(theirs), hparams=hparams, ours_only=frozenset(_strings_dropped_by_theirs(reports + their_reports)))
    steps = [s for s, _ in view["scalars"]["train/loss"]]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert [s for s, _ in view["text"]["eval/verdict/text_summary"]] == [3, 6]
    if hparams:
        args = _args_json(view["text"]["args/text_summary"][0][1])
        assert view["hparams"]["values"]["learning_rate"] == args["learning_rate"] == 1e-3
        assert view["hparams"]["values"]["max_steps"] == 6
        assert view["hparams"]["metrics"] == []


# --- torchrun -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_torchrun_two_processes_only_process_zero_writes(tmp_path):
    """``torchrun --nproc_per_node 2`` (gloo, CPU): one run, written by process 0 only."""
    _needs_transformers()
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    log_dir, reports = _train(tmp_path, "ours", launcher=launcher)
    assert [(r["rank"], r["world_zero"]) for r in reports] == [(0, True), (1, False)]
    files = event_files(log_dir)
    assert len(files) == 1 and f".{reports[0]['pid']}." in files[0].name
    view = plugin_view(str(log_dir))
    assert [s for s, _ in view["scalars"]["train/loss"]] == [1, 2, 3, 4, 5, 6]
    args = json.loads(view["text"]["args/text_summary"][0][1])
    assert args["ddp_backend"] == "gloo"


# --- remote log_dir -----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.store
def test_s3_log_dir_matches_local_transformers(tmp_path, moto_s3):
    _needs_transformers()
    import fsspec

    bucket = moto_s3.bucket()
    env = dict(moto_s3.env, EVENTWRITER_PENDING_DIR=str(tmp_path / "pending"),
               EW_STORAGE_OPTIONS=json.dumps(moto_s3.storage_options))
    _train(tmp_path, "ours", "--storage-env", log_dir=f"s3://{bucket}/hf/run", env=env)
    local = tmp_path / "downloaded"
    fsspec.filesystem("s3", **moto_s3.storage_options).get(f"{bucket}/hf/run", str(local), recursive=True)
    assert event_files(local)
    theirs, _ = _train(tmp_path, "theirs")
    _compare(str(local), str(theirs), hparams=True)


# --- documentation ------------------------------------------------------------------------------

@pytest.mark.slow
def test_doc_snippets_run_without_tensorboard(tmp_path):
    """Every python block of the doc's Hugging Face section runs in a process without tensorboard."""
    _needs_transformers()
    run_snippets("Hugging Face Trainer", tmp_path, env={"OMP_NUM_THREADS": "1"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scalars = scalars_by_run(tmp_path)
    assert any("train/loss" in tags for tags in scalars.values()), scalars.keys()
