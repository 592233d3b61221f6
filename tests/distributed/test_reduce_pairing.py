"""reduce_scalars on a real 2-process gloo group: calls that do not pair up raise on every rank.

Issue 16 items 12 and 13: a skipped call paired with the next one and reduced two different steps
(1.0 + 101.0 = 102.0) as valid; tags joined with NUL collided; a launcher rank without a world
size, or beyond it, reduced over one process.
"""

from __future__ import annotations

import json
import time

import pytest
from support.serverproc import free_port

from eventwriter.distributed import (RANK_ENV_VARS, WORLD_SIZE_ENV_VARS, get_rank,
                                     rank_zero_writer, reduce_scalars)


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    mp = pytest.importorskip("torch.multiprocessing")
    from support import rankcalls

    outdir = tmp_path_factory.mktemp("pairing")
    context = mp.spawn(rankcalls.worker, args=(free_port(), str(outdir)), nprocs=2, join=False)
    deadline = time.monotonic() + 240
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the 2-rank job did not finish within 240 s")
    return [json.loads((outdir / f"rank{k}.json").read_text()) for k in range(2)]


@pytest.mark.torch
@pytest.mark.slow
def test_tags_with_nul_do_not_collide(reports):
    for report in reports:
        assert report["nul_tags"]["error"] == "ValueError", report["nul_tags"]
        assert "rank 0: sum ['a\\x00b', 'c']; rank 1: sum ['a', 'b\\x00c']" in report["nul_tags"]["message"]


@pytest.mark.torch
@pytest.mark.slow
def test_a_skipped_call_is_caught_at_the_mispaired_call_on_every_rank(reports):
    for report in reports:
        outcome = report["skipped_step"]
        assert outcome.get("error") == "ValueError", outcome  # not {"loss": 102.0}
        assert "rank 0: sum ['loss'] at step 0; rank 1: sum ['loss'] at step 1" in outcome["message"]
        assert "skipped a call" in outcome["message"]
        assert report["after_skip"] == {"result": {"loss": 4.0}}


@pytest.mark.torch
@pytest.mark.slow
def test_a_call_that_failed_on_one_rank_is_not_paired_with_the_next(reports):
    rank0, rank1 = reports
    assert rank1["local_failure"]["error"] == "TypeError"
    for report in reports:
        outcome = report["after_local_failure"]
        assert outcome.get("error") == "ValueError", outcome  # not {"x": 3.0}
        assert "rank 0: sum ['x'] (call 4); rank 1: sum ['x'] (call 5)" in outcome["message"]
        assert report["recovered"] == {"result": {"x": 2.0}}  # the ranks agree on the count again


@pytest.fixture
def clean_env(monkeypatch):
    for name in RANK_ENV_VARS + WORLD_SIZE_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("env, message", [
    ({"RANK": "3"}, "RANK=3 but no world size is set"),
    ({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2 is not below the world size WORLD_SIZE=2"),
    ({"SLURM_PROCID": "4", "SLURM_NTASKS": "4"}, "SLURM_PROCID=4 is not below the world size SLURM_NTASKS=4"),
])
def test_a_rank_beyond_the_world_size_is_a_launcher_mistake(clean_env, tmp_path, env, message):
    for name, value in env.items():
        clean_env.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        get_rank()
    with pytest.raises(ValueError, match=message):
        reduce_scalars({"loss": 1.0})  # not {"loss": 1.0}, reduced over nobody
    with pytest.raises(ValueError, match=message):
        rank_zero_writer(tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_consistent_launcher_variables_still_work(clean_env):
    clean_env.setenv("RANK", "1")
    clean_env.setenv("WORLD_SIZE", "2")
    assert get_rank() == 1
    clean_env.delenv("WORLD_SIZE")
    clean_env.setenv("RANK", "0")  # rank 0 of an unstated size: a single process
    assert get_rank() == 0 and reduce_scalars({"a": 1}) == {"a": 1.0}


def test_step_must_be_an_int(clean_env):
    with pytest.raises(TypeError, match="step must be an int or None, got str"):
        reduce_scalars({"a": 1.0}, step="3")
