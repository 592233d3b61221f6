"""``torchrun -m training``: one run, written by one process, on the real data.

Each test starts real torchrun jobs (2 processes, gloo, CPU) as subprocesses with bounded
timeouts and reads the logdir back with TensorBoard's loaders: a standalone 2-process job
compared with the single-process run and with a single-process evaluation of the job's saved
weights; a two-"node" c10d rendezvous on 127.0.0.1; and a job whose rank 1 is killed.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("matplotlib")

from support.serverproc import free_port  # noqa: E402
from support.tbutil import loader_events, plugin_accumulator, run_dirs, scalar_series, tensor_values  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402
from test_training import CLASSES, LOG_STEPS, SHORT_ARGS, _run_cli, _tags_by_run  # noqa: E402

from eventwriter import SummaryWriter  # noqa: E402
from eventwriter.reader import read_events  # noqa: E402
from training import Net, load_fashion_mnist  # noqa: E402
from training.data import make_loader  # noqa: E402
from training.loop import evaluate  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ["FASHION_MNIST_DIR"])
TEST_LIMIT = 1000  # as in SHORT_ARGS


def _torchrun(launcher_args: list[str], training_args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "FASHION_MNIST_DIR": str(DATA_DIR)}
    return subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", *launcher_args, "-m", "training",
         *training_args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)  # so a hung job can be killed as a whole


def _finish(process: subprocess.Popen, timeout: float) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"torchrun did not finish within {timeout} s:\n{err[-3000:]}")
    return process.returncode, out, err


def _event_files(logdir: Path) -> list[Path]:
    return sorted(p for p in logdir.rglob("*") if "tfevents" in p.name)


def _writer_pids(logdir: Path) -> set[str]:
    # events.out.tfevents.<secs>.<host>.<pid>.<counter>
    return {path.name.split(".")[-2] for path in _event_files(logdir)}


def _tag_steps(logdir: Path) -> collections.Counter:
    """(tag, step) of every summary value in every file, through TensorBoard's raw loader."""
    counts: collections.Counter = collections.Counter()
    for path in _event_files(logdir):
        for event in loader_events(path):
            for value in event.summary.value:
                counts[(value.tag, event.step)] += 1
    return counts


def _pr_positives(acc) -> np.ndarray:
    """Positives per class (TP + FN at the lowest threshold) from the logged PR curves."""
    return np.array([tensor_values(acc, name)[0][1][[0, 3], 0].sum() for name in CLASSES])


@pytest.fixture(scope="module")
def data():
    return load_fashion_mnist(DATA_DIR, download=False)


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """``torchrun --standalone --nproc_per_node 2 -m training`` with the short settings."""
    base = tmp_path_factory.mktemp("ddp")
    logdir, model = base / "run", base / "model.pt"
    process = _torchrun(["--standalone", "--nproc_per_node", "2"],
                        SHORT_ARGS + ["--logdir", str(logdir), "--save-model", str(model)])
    code, out, err = _finish(process, timeout=400)
    assert code == 0, err[-3000:]
    return logdir, model, out, err


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    """The same settings in one process (``python -m training``)."""
    logdir = tmp_path_factory.mktemp("single") / "run"
    code, _, err = _run_cli(SHORT_ARGS + ["--logdir", str(logdir)])
    assert code == 0, err
    return logdir


def test_one_run_written_by_one_process(job):
    logdir, _, out, err = job
    assert list(run_dirs(logdir)) == ["."]
    assert not logdir.with_name(logdir.name + "_2").exists()  # the other rank made no run
    assert len(_writer_pids(logdir)) == 1
    assert out.count("test accuracy") == 1  # one rank reports
    assert out.splitlines()[-1] == f"tensorboard --logdir {logdir.resolve()}"
    assert "2 processes, effective batch 8" in err


def test_every_tag_of_the_single_process_run_and_no_duplicate_steps(job, single_run):
    logdir = job[0]
    assert _tags_by_run({".": plugin_accumulator(logdir)}) == \
        _tags_by_run({".": plugin_accumulator(single_run)})
    counts = _tag_steps(logdir)
    assert counts and max(counts.values()) == 1, [k for k, n in counts.items() if n > 1]
    assert set(counts) == set(_tag_steps(single_run))  # the same (tag, step) pairs
    acc = plugin_accumulator(logdir)
    assert [step for step, _ in scalar_series(acc, "training loss")] == LOG_STEPS
    assert [step for step, _ in tensor_values(acc, "predictions vs. actuals")] == LOG_STEPS


def test_accuracy_equals_a_single_process_evaluation_of_the_saved_weights(job, data):
    logdir, model_path, out, _ = job
    net = Net()
    net.load_state_dict(torch.load(model_path, weights_only=True))
    loader = make_loader(data.test_inputs[:TEST_LIMIT], data.test_labels[:TEST_LIMIT], 1000,
                         shuffle=False)
    expected = evaluate(net, loader, "cpu")

    acc = plugin_accumulator(logdir)
    ((_, accuracy),) = scalar_series(acc, "accuracy/test")
    assert accuracy == pytest.approx(expected.accuracy, abs=1e-7)
    assert f"test accuracy {expected.accuracy:.4f} after 300 steps" in out
    ((_, loss),) = scalar_series(acc, "test loss")
    assert loss == pytest.approx(expected.loss, rel=1e-5)
    for label, value in expected.class_accuracy().items():
        assert scalar_series(acc, f"accuracy/{CLASSES[label]}")[0][1] == \
            pytest.approx(value, abs=1e-7)

    # Every test image counted once: the positives of the 10 PR curves are the label counts.
    np.testing.assert_array_equal(_pr_positives(acc),
                                  np.bincount(data.test_labels[:TEST_LIMIT].numpy(), minlength=10))
    # The curves are those of the gathered predictions (all ranks), not of rank 0's shard.
    reference = logdir.parent / "reference"
    with SummaryWriter(str(reference)) as writer:
        for c, name in enumerate(CLASSES):
            writer.add_pr_curve(name, expected.labels == c, expected.probs[:, c], 0)
    reference_acc = plugin_accumulator(reference)
    for name in CLASSES:
        np.testing.assert_allclose(tensor_values(acc, name)[0][1],
                                   tensor_values(reference_acc, name)[0][1], rtol=1e-5, atol=1e-6)

    start = plugin_data_pb2.HParamsPluginData.FromString(
        acc.SummaryMetadata("_hparams_/session_start_info").plugin_data.content).session_start_info
    assert start.hparams["world_size"].number_value == 2
    assert start.hparams["batch_size"].number_value == 4  # per rank


def test_two_node_rendezvous_on_localhost(tmp_path):
    existing = tmp_path / "run"
    existing.mkdir()
    (existing / "earlier.txt").write_text("an earlier run")
    logdir = tmp_path / "run_2"  # the rerun rule applies once, to the job
    port = free_port()
    launcher = ["--nnodes", "2", "--nproc_per_node", "1", "--rdzv-backend", "c10d",
                "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", f"test{port}"]
    tiny = ["--max-steps", "20", "--log-interval", "10", "--test-limit", "200", "--seed", "3",
            "--no-progress", "--no-download", "--logdir", str(existing)]
    nodes = [_torchrun(launcher, tiny) for _ in range(2)]
    results = [_finish(node, timeout=240) for node in nodes]
    for code, _, err in results:
        assert code == 0, err[-3000:]
    assert sum(out.count("test accuracy") for _, out, _ in results) == 1
    assert sum(err.count(f"logging this one to {logdir}") for _, _, err in results) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run_2"]
    assert [p.name for p in existing.iterdir()] == ["earlier.txt"]
    assert list(run_dirs(logdir)) == ["."] and len(_writer_pids(logdir)) == 1
    acc = plugin_accumulator(logdir)
    assert [step for step, _ in scalar_series(acc, "training loss")] == [9, 19]
    assert _pr_positives(acc).sum() == 200
    assert max(_tag_steps(logdir).values()) == 1


def _worker_pid(parent: int, rank: int) -> int | None:
    """The torchrun worker with ``RANK=rank`` among ``parent``'s children (Linux /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            environ = (entry / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


def test_a_dead_rank_stops_the_job_and_leaves_readable_files(tmp_path):
    logdir = tmp_path / "run"
    process = _torchrun(["--standalone", "--nproc_per_node", "2"],
                        ["--max-steps", "100000", "--log-interval", "50", "--test-limit", "200",
                         "--seed", "5", "--no-progress", "--no-download", "--logdir", str(logdir),
                         "--dist-timeout", "60"])
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            # Wait until rank 0 has logged a training loss: training is under way.
            if logdir.exists() and any(ev.event.HasField("summary") and any(
                    v.tag == "training loss" for v in ev.event.summary.value)
                    for ev in read_events(str(logdir))):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the job did not start training within 180 s")
        victim = _worker_pid(process.pid, 1)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        code, _, err = _finish(process, timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert code != 0
    assert time.monotonic() - killed < 120
    # rank 0 says why it stopped (a failed collective, or torchrun's SIGTERM), and torchrun
    # names the dead worker.
    assert re.search(r"rank 0: (training stopped because another process failed"
                     r"|stopped by SIGTERM)", err), err[-3000:]
    assert "exitcode" in err and "-9" in err
    # Every file is sound: whole records only, readable by TensorBoard's loader.
    files = _event_files(logdir)
    assert files
    for path in files:
        verify = subprocess.run([sys.executable, "-m", "eventwriter", "verify", str(path)],
                                cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert loader_events(path)
    assert scalar_series(plugin_accumulator(logdir), "training loss")
