"""eventwriter.integrations.clu.MetricWriter and .flax.SummaryWriter from a real ``jax.jit`` training loop.

The loop (jax_train.py) runs in a subprocess where tensorflow, tensorboard and tensorboardX cannot
be imported; CLU's writer runs inside CLU's own AsyncWriter and MultiWriter. This process reads
the logdir back with TensorBoard's loaders and compares it with the values the loop computed. The
differential tests run the same loop through CLU's and Flax's own tf.summary writers where
TensorFlow is installed (the .venv-tf leg of scripts/test) and require the same logdir.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from runner import HERE, run_script, run_snippets
from readback import assert_same, contents

TRAIN = HERE / "jax_train.py"
STEPS = 12
MEDIA_STEPS = [4, 8, 12]

pytestmark = pytest.mark.slow


def _train(tmp_path, writer, *extra, env=None):
    pytest.importorskip("jax")
    logdir = tmp_path / writer
    run_script(TRAIN, writer, logdir, "--record", tmp_path / f"{writer}.json", *extra, env=env)
    with open(tmp_path / f"{writer}.json") as handle:
        return logdir, json.load(handle)


def _check_common(data, record, histogram_tags=("w", "x")):
    assert list(data) == ["."]  # one run: the logdir itself, as CLU's and Flax's writers
    run = data["."]
    steps = list(range(1, STEPS + 1))
    assert run["loss"].plugin == "scalars" and run["loss"].steps == steps
    assert [v for _, v in run["loss"].points] == [float(np.float32(v)) for v in record["values"]["loss"]]
    # bfloat16 JAX scalars: logged exactly (every bfloat16 is a float32).
    assert [v for _, v in run["loss_bf16"].points] == record["values"]["loss_bf16"]
    for tag in histogram_tags:
        assert run[tag].plugin == "histograms" and run[tag].steps == MEDIA_STEPS
    w = np.asarray(record["w"], np.float64).reshape(-1)
    buckets = run["w"].points[-1][1]
    assert buckets.shape == (30, 3) and buckets[:, 2].sum() == w.size
    assert buckets[0, 0] == w.min() and buckets[-1, 1] == w.max()
    x = run["x"].points[-1][1]  # bfloat16 values, 12 buckets
    assert x.shape == (12, 3) and x[:, 2].sum() == 64 * 4
    assert run["tone"].plugin == "audio"
    (rate, samples), label = run["tone"].points[0][1][0]
    assert rate == 8000 and samples.shape == (200, 2) and label == b""
    expected = np.sin(np.linspace(0, 40, 400, dtype=np.float32)).reshape(200, 2) * np.float32([0.5, 1.0])
    np.testing.assert_allclose(samples / 32768.0, expected, atol=1.5 / 32768)
    assert run["note"].plugin == "text" and run["note"].points[-1][1] == b"step **12**"
    hparams = run["_hparams_/session_start_info"]
    assert hparams.plugin == "hparams" and hparams.steps == [0]
    return run


def test_clu_writer_in_async_and_multi_writer(tmp_path):
    """CLU's AsyncWriter(MultiWriter) around ours, fed JAX arrays (float32, bfloat16, int32) from a jit loop."""
    logdir, record = _train(tmp_path, "clu")
    data = contents(logdir)
    run = _check_common(data, record)
    assert [v for _, v in run["step_int"].points] == list(map(float, range(1, STEPS + 1)))
    width, height, frames = run["frames"].points[-1][1]
    assert (width, height) == (8, 6) and len(frames) == 4  # every image of the batch is a sample
    base = np.linspace(0.0, 1.0, 6 * 8 * 3, dtype=np.float32).reshape(6, 8, 3)
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(frame, np.clip(base * np.float32((i + 1) / 4) * np.float32(255.5), 0, 255).astype(np.uint8))
    assert len(run["gray"].points[-1][1][2]) == 2 and run["gray"].points[-1][1][2][0].ndim == 2  # 1 channel stays gray
    assert run["first"].points[-1][1][2][0].shape == (6, 8, 3)
    assert run["raw"].plugin == "" and run["raw"].points[0][1].tolist() == [[0, 1, 2], [3, 4, 5]]
    hp = run["_hparams_/session_start_info"].points[0][1]["hparams"]
    assert hp == {"lr": 0.1, "model.kind": "linear", "model.width": 4.0, "shuffle": False}


def test_flax_writer_drop_in(tmp_path):
    """The flax.metrics.tensorboard.SummaryWriter methods from a jit loop, flax's image shape rules included."""
    logdir, record = _train(tmp_path, "flax")
    run = _check_common(contents(logdir), record)
    assert len(run["frames"].points[-1][1][2]) == 3  # max_outputs=3 of 4
    assert len(run["stack"].points[-1][1][2]) == 2  # [K, H, W] with max_outputs=2
    gray = run["gray"].points[-1][1][2][0]
    assert gray.shape == (6, 8, 3) and np.all(gray[..., 0] == gray[..., 2])  # [H, W] repeated to RGB, as flax does
    assert [s for s, _ in run["raw"].points] == MEDIA_STEPS and run["raw"].points[-1][1].dtype == np.int32


@pytest.mark.parametrize("writer", ["clu", "flax"])
def test_only_rank_zero_writes(tmp_path, writer):
    """A two-process job: the process with rank 1 (as passed from jax.process_index()) creates nothing."""
    pytest.importorskip("jax")
    run_script(TRAIN, writer, tmp_path / "logs", "--rank", "1")
    assert not (tmp_path / "logs").exists()
    run_script(TRAIN, writer, tmp_path / "env", env={"RANK": "1", "WORLD_SIZE": "2"})  # or the launcher's RANK
    assert not (tmp_path / "env").exists()
    run_script(TRAIN, writer, tmp_path / "logs", "--rank", "0")
    assert contents(tmp_path / "logs")["."]["loss"].steps == list(range(1, STEPS + 1))


def test_rank_from_jax_distributed(tmp_path):
    """Once jax.distributed is initialised, the writers take the rank from jax.process_index()
    (here 0 of a one-process job) over the launcher's environment (RANK=1 here)."""
    pytest.importorskip("jax")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "dist.py"
    script.write_text(
        "import sys, jax\n"
        f"jax.distributed.initialize(coordinator_address='127.0.0.1:{port}', num_processes=1, process_id=0)\n"
        "from eventwriter.integrations.clu import MetricWriter\nfrom eventwriter.integrations.flax import SummaryWriter\n"
        "clu, flax = MetricWriter(sys.argv[1] + '/clu'), SummaryWriter(sys.argv[1] + '/flax')\n"
        "clu.write_scalars(1, {'loss': jax.numpy.float32(0.5)}); flax.scalar('loss', 0.5, 1)\n"
        "clu.close(); flax.close()\n"
    )
    run_script(script, tmp_path / "logs", env={"RANK": "1", "WORLD_SIZE": "2"})
    for name in ("clu", "flax"):
        assert contents(tmp_path / "logs" / name)["."]["loss"].points == [(1, 0.5)]


@pytest.mark.store
def test_remote_log_dir(tmp_path, s3_run, moto_s3):
    """An s3:// logdir (flax writer): the event file lands in the bucket, readable by TensorBoard's loaders."""
    import fsspec

    script = tmp_path / "remote.py"
    script.write_text(
        "import json, sys\nimport jax.numpy as jnp\nfrom eventwriter.integrations.flax import SummaryWriter\n"
        "w = SummaryWriter(sys.argv[1], storage_options=json.loads(sys.argv[2]))\n"
        "for step in range(5):\n    w.scalar('loss', jnp.bfloat16(1.0 / (step + 1)), step)\n"
        "w.histogram('h', jnp.arange(10.0), 4)\nw.close()\n"
    )
    run_script(script, s3_run, json.dumps(moto_s3.storage_options),
               env={k: v for k, v in os.environ.items() if k.startswith(("AWS_", "EVENTWRITER_"))})
    fs = fsspec.filesystem("s3", **moto_s3.storage_options)
    fs.get(s3_run.replace("s3://", "") + "/", str(tmp_path / "copy"), recursive=True)
    run = contents(tmp_path / "copy")["."]
    import ml_dtypes

    assert run["loss"].steps == list(range(5))
    assert [v for _, v in run["loss"].points] == [float(ml_dtypes.bfloat16(1.0 / (s + 1))) for s in range(5)]
    assert run["h"].steps == [4]


def test_docs_snippets(tmp_path):
    """The JAX section of docs/integrations.md (CLU and Flax) runs as written, TensorFlow blocked."""
    pytest.importorskip("jax")
    assert len(run_snippets("JAX", tmp_path)) == 2
    clu = contents(tmp_path / "logs" / "clu")["."]
    assert clu["loss"].steps == list(range(100)) and clu["w"].steps == [0, 20, 40, 60, 80]
    assert len(clu["frames"].points[0][1][2]) == 2 and clu["_hparams_/session_start_info"].plugin == "hparams"
    flax = contents(tmp_path / "logs" / "flax")["."]
    assert [v for _, v in flax["train_loss"].points][:2] == [1.0, 0.5]
    assert flax["weights"].points[0][1].shape == (20, 3) and len(flax["samples"].points[0][1][2]) == 3
    assert {"tone", "notes", "_hparams_/session_start_info"} <= set(flax)


def test_errors_name_the_argument(tmp_path):
    pytest.importorskip("jax")
    from eventwriter.integrations.clu import MetricWriter
    from eventwriter.integrations.flax import SummaryWriter

    flax_writer = SummaryWriter(tmp_path / "f")
    with pytest.raises(ValueError, match="textdata"):
        flax_writer.text("t", 3, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="single number"):
        flax_writer.scalar("s", np.ones(3), 0)
    with pytest.raises(ValueError, match="image must be"):
        flax_writer.image("i", np.ones((1, 2, 3, 4, 5)), 0)
    flax_writer.close()
    clu_writer = MetricWriter(tmp_path / "c")
    with pytest.raises(ValueError, match=r"scalars\['a'\]"):
        clu_writer.write_scalars(0, {"a": np.ones(2)})
    with pytest.raises(TypeError, match="hparams"):
        clu_writer.write_hparams({"opt": object()})
    with pytest.raises(ValueError, match="sample_rate"):
        clu_writer.write_audios(0, {"a": np.zeros((1, 5, 1))}, sample_rate=0)
    with pytest.raises(ValueError, match=r"videos\['v'\]"):
        clu_writer.write_videos(0, {"v": np.zeros((2, 2))})
    clu_writer.close()


def test_videos_are_written_as_gif(tmp_path):
    """write_videos (CLU's TensorFlow writer only warns): an animated GIF in the Images dashboard."""
    from eventwriter.integrations.clu import MetricWriter

    writer = MetricWriter(tmp_path)
    writer.write_videos(3, {"clip": np.random.default_rng(0).random((5, 8, 10, 3), dtype=np.float32)})
    writer.close()
    from support.tbutil import plugin_accumulator
    from tensorboard.util import tensor_util

    acc = plugin_accumulator(tmp_path)
    blob = tensor_util.make_ndarray(acc.Tensors("clip")[0].tensor_proto)
    assert acc.Tensors("clip")[0].step == 3 and blob[2][:6] == b"GIF89a"


# -- differential: CLU's and Flax's own tf.summary writers (the .venv-tf leg) --------------------


@pytest.mark.parametrize("writer", ["clu", "flax"])
def test_differential_same_as_tf_writer(tmp_path, writer):
    """The same jit loop through CLU's / Flax's TensorFlow writer and through ours: the same tags,
    plugins, steps and values (scalars at float32, histogram buckets, image pixels, WAV samples,
    text, hparams and their group name)."""
    pytest.importorskip("tensorflow")
    for kind in (writer, f"{writer}-tf"):
        run_script(TRAIN, kind, tmp_path / kind, blocked=False)
    ours, theirs = contents(tmp_path / writer), contents(tmp_path / f"{writer}-tf")
    assert len(theirs["."]) >= 10
    assert_same(ours, theirs)
