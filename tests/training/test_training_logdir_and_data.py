"""The training example's logdir, data and log interval (issue 16 items 14 and 15).

* ``--logdir s3://bucket/x`` wrote a local directory ``s3:/bucket/x`` and printed a local
  TensorBoard command; now any URL the library takes works, alone and under torchrun, with the
  rerun rule (``<logdir>_2``) applied on the store (a real moto_server).
* The torchrun command from the docs failed from a fresh clone (no ``FASHION_MNIST_DIR``: the data
  beside the checkout was not found), and both ranks printed the error.
* ``--max-steps`` below ``--log-interval`` logged no training curve, silently.

Runs are read back with TensorBoard's own loaders (over ``s3://`` through its boto3 reader).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("torchvision")

from support.tbutil import plugin_accumulator, scalar_series  # noqa: E402

from training import cli as training_cli  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--max-steps", "20", "--test-limit", "100", "--seed", "1", "--no-progress", "--no-download"]

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def _env(**extra):
    """The environment of a fresh clone: no FASHION_MNIST_DIR (the data is found beside the checkout)."""
    env = {k: v for k, v in os.environ.items() if k not in ("FASHION_MNIST_DIR",)}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **extra)
    return env


def _run(args, env, cwd, launcher=()):
    command = [sys.executable, "-m", *(["torch.distributed.run", *launcher, "-m"] if launcher else []), "training", *args]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=400)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"training did not finish within 400 s:\n{err[-3000:]}")
    return process.returncode, out, err


def _tb_series(url, env, tag):
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")}, S3_ENDPOINT=env["AWS_ENDPOINT_URL_S3"])
    try:
        acc = pea.EventAccumulator(url, size_guidance={pea.TENSORS: 0})
        acc.Reload()
        return scalar_series(acc, tag)
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def store_env(moto_s3, tmp_path):
    """The moto store's AWS variables, without S3_ENDPOINT (TensorBoard's own variable, which the
    printed command must then set)."""
    env = _env(**moto_s3.env, EVENTWRITER_PENDING_DIR=str(tmp_path / "pending"))
    env.pop("S3_ENDPOINT")
    return env, moto_s3.bucket()


def test_a_remote_logdir_is_logged_to_on_the_store(store_env, tmp_path):
    env, bucket = store_env
    url = f"s3://{bucket}/experiments/fashion"
    code, out, err = _run(["--logdir", url, *TINY], env, tmp_path)
    assert code == 0, err
    assert not (tmp_path / "s3:").exists() and list(tmp_path.iterdir()) == []  # nothing local
    assert out.splitlines()[-1] == f"S3_ENDPOINT={env['AWS_ENDPOINT_URL_S3']} tensorboard --logdir {url}"
    assert [step for step, _ in _tb_series(url, env, "training loss")] == list(range(1, 20, 2))

    code, out, err = _run(["--logdir", url, *TINY], env, tmp_path)  # a rerun: the store's next free name
    assert code == 0, err
    assert f"{url} already holds a run; logging this one to {url}_2" in err
    assert out.splitlines()[-1].endswith(f"tensorboard --logdir {url}_2")
    assert _tb_series(f"{url}_2", env, "training loss") == _tb_series(url, env, "training loss")  # same seed


def test_torchrun_from_a_fresh_clone_logs_to_a_remote_logdir(store_env, tmp_path):
    env, bucket = store_env
    url = f"s3://{bucket}/dist"
    code, out, err = _run(["--logdir", url, *TINY], env, ROOT, launcher=["--standalone", "--nproc_per_node", "2"])
    assert code == 0, err[-3000:]
    assert not (ROOT / "s3:").exists()
    assert out.splitlines()[-1].endswith(f"tensorboard --logdir {url}")
    # 20 synchronised steps logged every 2: ten points, written once (by rank 0).
    assert [step for step, _ in _tb_series(url, env, "training loss")] == list(range(1, 20, 2))


def test_under_torchrun_a_data_error_is_printed_once(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _run(["--data-dir", str(empty), "--logdir", str(tmp_path / "runs"), *TINY], _env(), tmp_path,
                          launcher=["--standalone", "--nproc_per_node", "2"])
    assert code != 0
    assert err.count(f"error: Fashion-MNIST files not found in {empty}") == 1, err


def test_the_data_beside_the_checkout_is_found_without_the_variable(monkeypatch):
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    shared = ROOT.parent / "shared" / "data" / "fashion-mnist"
    if not shared.is_dir():
        pytest.skip("no shared data beside this checkout")
    assert training_cli.default_data_dir() == shared.resolve()


def _in_process(argv):
    import contextlib
    import io

    import torch

    threads = torch.get_num_threads()
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = training_cli.main(argv)
    finally:
        torch.set_num_threads(threads)
    return code, out.getvalue(), err.getvalue()


def test_a_quick_run_logs_a_training_curve(tmp_path):
    code, out, err = _in_process(["--logdir", str(tmp_path / "quick"), *TINY])
    assert code == 0, err
    assert "logging every 2 steps" in err
    assert [s for s, _ in scalar_series(plugin_accumulator(tmp_path / "quick"), "training loss")] == list(range(1, 20, 2))


def test_an_interval_longer_than_the_run_is_warned_about(tmp_path):
    code, out, err = _in_process(["--logdir", str(tmp_path / "long"), "--log-interval", "50", *TINY])
    assert code == 0, err
    assert "warning: --log-interval 50 is more than the 20 steps of this run" in err
    assert "training loss" not in plugin_accumulator(tmp_path / "long").Tags()["tensors"]
