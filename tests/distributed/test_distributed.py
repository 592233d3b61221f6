"""eventwriter.distributed: rank rules, NullWriter on other ranks, and a real 2-process gloo job.

The job (tests/support/distworker.py, started with torch.multiprocessing) checks the reduce helper's
values and its misuse detection, rank-0-only files, per-rank runs and a bounded wait for a rank
that skips a collective. Files are read back with TensorBoard's loaders.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support.serverproc import free_port
from support.tbutil import legacy_accumulator, plugin_accumulator, run_dirs, tensor_values

from eventwriter import NullWriter, SummaryWriter, SummaryWriterLike
from eventwriter.distributed import (RANK_ENV_VARS, WORLD_SIZE_ENV_VARS, get_rank,
                                     get_world_size, per_rank_writer, rank_zero_writer,
                                     reduce_scalars)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch):
    """No launcher variables, whatever the environment running the tests holds."""
    for name in RANK_ENV_VARS + WORLD_SIZE_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# --- rank rules --------------------------------------------------------------------------------

def test_single_process_is_rank_zero_of_one(clean_env):
    assert get_rank() == 0 and get_world_size() == 1


@pytest.mark.parametrize("env, expected", [
    ({"RANK": "3", "SLURM_PROCID": "1"}, 3),  # srun torchrun: SLURM_PROCID is the node
    ({"SLURM_PROCID": "2", "OMPI_COMM_WORLD_RANK": "5", "PMI_RANK": "6"}, 2),
    ({"OMPI_COMM_WORLD_RANK": "5", "PMI_RANK": "6"}, 5),
    ({"PMI_RANK": "6"}, 6),
    ({"RANK": "", "PMI_RANK": "4"}, 4),  # an empty variable counts as unset
])
def test_rank_from_the_launcher_environment_in_order(clean_env, env, expected):
    clean_env.setenv("PMI_SIZE", "8")  # a rank needs a world size above it (issue 16 item 13)
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert get_rank() == expected


@pytest.mark.parametrize("env, expected", [
    ({"WORLD_SIZE": "8", "SLURM_NTASKS": "2"}, 8),
    ({"SLURM_NTASKS": "2", "OMPI_COMM_WORLD_SIZE": "3"}, 2),
    ({"OMPI_COMM_WORLD_SIZE": "3", "PMI_SIZE": "4"}, 3),
    ({"PMI_SIZE": "4"}, 4),
])
def test_world_size_from_the_launcher_environment_in_order(clean_env, env, expected):
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert get_world_size() == expected


def test_explicit_rank_beats_the_environment(clean_env):
    clean_env.setenv("RANK", "3")
    assert get_rank(0) == 0 and get_rank(7) == 7
    assert get_world_size(2) == 2
    assert isinstance(rank_zero_writer(rank=1), NullWriter)


def test_bad_ranks_raise_naming_the_source(clean_env):
    clean_env.setenv("RANK", "zero")
    with pytest.raises(ValueError, match="RANK must be an integer, got 'zero'"):
        get_rank()
    clean_env.setenv("RANK", "-1")
    with pytest.raises(ValueError, match="RANK must be >= 0"):
        get_rank()
    clean_env.setenv("WORLD_SIZE", "0")
    with pytest.raises(ValueError, match="WORLD_SIZE must be >= 1"):
        get_world_size()
    with pytest.raises(TypeError, match="rank must be an int, got bool"):
        get_rank(True)
    with pytest.raises(ValueError, match="rank must be >= 0"):
        get_rank(-2)
    with pytest.raises(TypeError, match="writer_rank must be an int"):
        rank_zero_writer(rank=0, writer_rank="0")
    with pytest.raises(ValueError, match="world_size must be >= 1"):
        get_world_size(0)
    with pytest.raises(TypeError, match="log_dir must be a path"):
        per_rank_writer(None, rank=0)


def test_initialised_torch_distributed_beats_the_environment(clean_env, tmp_path):
    dist = pytest.importorskip("torch.distributed")
    clean_env.setenv("RANK", "4")
    clean_env.setenv("WORLD_SIZE", "9")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)
    try:
        assert get_rank() == 0 and get_world_size() == 1
        assert reduce_scalars({"a": 2.5}, "mean") == {"a": 2.5}  # a real 1-rank collective
    finally:
        dist.destroy_process_group()
    assert get_rank() == 4 and get_world_size() == 9


def test_rank_lookup_never_imports_torch():
    code = (
        "import os, sys\n"
        "os.environ['RANK'] = '2'\n"
        "os.environ['WORLD_SIZE'] = '4'\n"
        "from eventwriter.distributed import get_rank, rank_zero_writer\n"
        "assert get_rank() == 2\n"
        "w = rank_zero_writer('never-created')\n"
        "w.add_scalar('x', 1.0, 0)\n"
        "assert type(w).__name__ == 'NullWriter'\n"
        "heavy = [m for m in ('torch', 'jax', 'numpy', 'google.protobuf') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert not os.path.exists('never-created')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in RANK_ENV_VARS}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=60)
    assert out.returncode == 0, out.stderr


def test_import_eventwriter_stays_light_and_exports_lazily():
    code = (
        "import sys, eventwriter\n"
        "assert 'eventwriter.distributed' not in sys.modules\n"
        "assert eventwriter.NullWriter.__module__ == 'eventwriter.null_writer'\n"
        "f = eventwriter.rank_zero_writer\n"
        "assert 'eventwriter.distributed' in sys.modules and 'torch' not in sys.modules\n"
        "try:\n"
        "    eventwriter.no_such_name\n"
        "except AttributeError as exc:\n"
        "    assert 'no_such_name' in str(exc)\n"
        "else:\n"
        "    raise SystemExit('no AttributeError')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr


# --- NullWriter ------------------------------------------------------------------------------

def _call_every_method(writer) -> None:
    images = np.zeros((3, 8, 8))
    writer.add_scalar("s", 1.0, 0)
    writer.add_scalars("g", {"a": 1.0}, 0)
    writer.add_tensor("t", np.zeros(3), 0)
    writer.add_histogram("h", np.arange(10.0), 0)
    writer.add_histogram_raw("hr", 0.0, 1.0, 2, 1.0, 1.0, [1.0], [2], 0)
    writer.add_image("i", images, 0)
    writer.add_images("is", images[None], 0)
    writer.add_image_with_boxes("ib", images, np.array([[0, 0, 2, 2]]), 0)
    writer.add_figure("f", object(), 0, close=False)
    writer.add_video("v", np.zeros((1, 2, 3, 8, 8)), 0)
    writer.add_audio("a", np.zeros(100), 0)
    writer.add_text("x", "text", 0)
    writer.add_onnx_graph("model.onnx")
    writer.add_graph(object(), None)
    writer.add_embedding(np.zeros((4, 2)), metadata=list("abcd"))
    writer.add_pr_curve("pr", np.array([0, 1]), np.array([0.2, 0.8]), 0)
    writer.add_pr_curve_raw("prr", [1], [1], [1], [1], [0.5], [0.5], 0)
    writer.add_custom_scalars({"c": {"x": ["Multiline", ["s"]]}})
    writer.add_custom_scalars_multilinechart(["s"])
    writer.add_custom_scalars_marginchart(["s", "s", "s"])
    writer.add_mesh("m", np.zeros((1, 3, 3)))
    writer.add_hparams({"lr": 0.1}, {"hparam/x": 1.0})
    writer.flush()
    writer.close()


def test_other_ranks_get_a_null_writer_that_creates_nothing(clean_env, tmp_path):
    logdir = tmp_path / "run"
    clean_env.setenv("RANK", "1")
    clean_env.setenv("WORLD_SIZE", "2")
    writer = rank_zero_writer(logdir)
    assert isinstance(writer, NullWriter) and writer.get_logdir() == str(logdir)
    with writer:
        _call_every_method(writer)
    assert list(tmp_path.iterdir()) == []  # no directory, no file


def test_rank_zero_gets_a_real_writer(clean_env, tmp_path):
    clean_env.setenv("RANK", "0")
    with rank_zero_writer(tmp_path / "run", filename_suffix=".r0") as writer:
        assert isinstance(writer, SummaryWriter)
        writer.add_scalar("s", 2.0, 3)
    (name,) = os.listdir(tmp_path / "run")
    assert name.endswith(".r0")
    events = legacy_accumulator(tmp_path / "run").Scalars("s")
    assert [(e.step, e.value) for e in events] == [(3, 2.0)]


def test_writer_interface_is_nullwriters_public_surface():
    def public(cls) -> dict:
        return {name: inspect.signature(member) for name, member in vars(cls).items()
                if callable(member) and not name.startswith("_")}

    protocol, null = public(SummaryWriterLike), public(NullWriter)
    assert set(protocol) == set(null)
    for name, signature in protocol.items():
        assert [(p.name, p.default) for p in signature.parameters.values()] == \
            [(p.name, p.default) for p in null[name].parameters.values()], name
    assert {name for name in null} <= {name for name in dir(SummaryWriter)}


# --- reduce_scalars without a process group ----------------------------------------------------

def test_reduce_in_a_single_process_returns_floats(clean_env):
    assert reduce_scalars({"a": 1, "b": np.float32(2.5), "c": np.array([3.0])}, "max") == \
        {"a": 1.0, "b": 2.5, "c": 3.0}


def test_reduce_checks_its_arguments(clean_env):
    with pytest.raises(ValueError, match="op must be one of mean, sum, min, max"):
        reduce_scalars({"a": 1.0}, "median")
    with pytest.raises(TypeError, match="values must be a mapping"):
        reduce_scalars([1.0])
    with pytest.raises(TypeError, match=r"values\['a'\] must be a number, got str"):
        reduce_scalars({"a": "1"})
    with pytest.raises(TypeError, match="tags must be str"):
        reduce_scalars({1: 1.0})


def test_reduce_refuses_to_pretend_when_the_launcher_says_several_ranks(clean_env):
    clean_env.setenv("WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match="says 2 ranks but torch.distributed is not initialised"):
        reduce_scalars({"a": 1.0})


# --- a real 2-process gloo job -------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Run tests/support/distworker.py on 2 gloo ranks; returns (outdir, [rank 0 report, rank 1 report])."""
    mp = pytest.importorskip("torch.multiprocessing")
    from support import distworker

    outdir = tmp_path_factory.mktemp("two_ranks")
    context = mp.spawn(distworker.library_worker, args=(free_port(), str(outdir)), nprocs=2,
                       join=False)
    deadline = time.monotonic() + 240
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the 2-rank job did not finish within 240 s")
    reports = [json.loads((outdir / f"rank{k}.json").read_text()) for k in range(2)]
    return outdir, reports


@pytest.mark.torch
@pytest.mark.slow
def test_rank_comes_from_torch_distributed(two_ranks):
    _, reports = two_ranks
    for rank, report in enumerate(reports):
        # RANK was set to the *other* rank in the worker: torch.distributed wins over it.
        assert report["rank"] == rank and report["world_size"] == 2
        assert report["explicit_rank"] == 5


@pytest.mark.torch
@pytest.mark.slow
def test_reduce_values_on_two_ranks(two_ranks):
    _, reports = two_ranks
    # rank 0: loss 1, accuracy 10, tensor 0; rank 1: loss 2, accuracy 20, tensor 2
    expected = {
        "mean": {"loss": 1.5, "accuracy": 15.0, "tensor": 1.0},
        "sum": {"loss": 3.0, "accuracy": 30.0, "tensor": 2.0},
        "min": {"loss": 1.0, "accuracy": 10.0, "tensor": 0.0},
        "max": {"loss": 2.0, "accuracy": 20.0, "tensor": 2.0},
    }
    for report in reports:
        assert report["reduced"] == expected
        assert list(report["reduced"]["mean"]) == ["loss", "accuracy", "tensor"]
        assert report["after_misuse"] == {"rank": 1.0}


@pytest.mark.torch
@pytest.mark.slow
def test_mismatched_calls_fail_on_every_rank_naming_the_tags(two_ranks):
    _, reports = two_ranks
    for report in reports:
        misuse = report["misuse"]
        assert set(misuse) == {"different_tags", "different_length", "different_order",
                               "different_op"}
        assert all(message is not None for message in misuse.values()), misuse
        assert "rank 0: mean ['a']; rank 1: mean ['b']" in misuse["different_tags"]
        assert "rank 1: mean ['a', 'b']" in misuse["different_length"]
        assert "rank 1: mean ['b', 'a']" in misuse["different_order"]
        assert "rank 0: sum ['a']; rank 1: max ['a']" in misuse["different_op"]


@pytest.mark.torch
@pytest.mark.slow
def test_a_skipped_call_fails_within_the_timeout(two_ranks):
    _, (rank0, _) = two_ranks
    assert rank0["skipped_call"] is not None
    assert "did every rank call reduce_scalars, in the same order?" in rank0["skipped_call"]
    assert rank0["skipped_call_seconds"] < 60  # bounded by timeout=3, not the group's 60 s


@pytest.mark.torch
@pytest.mark.slow
def test_only_rank_zero_writes_the_shared_run(two_ranks):
    outdir, (rank0, rank1) = two_ranks
    assert (rank0["writer"], rank1["writer"]) == ("SummaryWriter", "NullWriter")
    shared = outdir / "shared"
    assert rank0["logdir"] == rank1["logdir"] == str(shared)
    names = [p.name for p in shared.iterdir() if "tfevents" in p.name]
    assert names and all(name.split(".")[-2] == str(rank0["pid"]) for name in names)
    acc = legacy_accumulator(shared)
    # The mean over ranks of (rank + 1) * (step + 1): 1.5 * (step + 1), each step once.
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == \
        [(step, 1.5 * (step + 1)) for step in range(5)]
    ((step, text),) = tensor_values(plugin_accumulator(shared), "note/text_summary")
    assert step == 0 and text.reshape(()).item() == b"written by rank 0"

    by_rank1 = outdir / "written_by_rank1"
    assert [p.name.split(".")[-2] for p in by_rank1.iterdir()] == [str(rank1["pid"])]


@pytest.mark.torch
@pytest.mark.slow
def test_per_rank_runs(two_ranks):
    outdir, reports = two_ranks
    shared = outdir / "shared"
    assert set(run_dirs(shared)) == {".", "rank0", "rank1"}
    for rank, report in enumerate(reports):
        run = shared / f"rank{rank}"
        assert report["own_logdir"] == str(run)
        assert {p.name.split(".")[-2] for p in run.iterdir()} == {str(report["pid"])}
        assert [(e.step, e.value) for e in legacy_accumulator(run).Scalars("throughput")] == \
            [(0, 100.0 + rank)]
