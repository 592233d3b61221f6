"""eventwriter.integrations.keras.TensorBoard: real Keras fits, read back with TensorBoard's loaders.

The fits run in a subprocess where tensorflow, tensorboard and tensorboardX cannot be imported
(blocked.py); this process then reads the logdir with TensorBoard's loaders. The expected tags and
steps follow keras/src/callbacks/tensorboard.py; the values are compared with what Keras itself
reported (History, each batch's logs, evaluate's result, the final weights). The differential
tests at the end compare with keras.callbacks.TensorBoard itself and run only where TensorFlow is
installed (the .venv-tf leg of scripts/test).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest
from runner import HERE, run_script, run_snippets
from readback import assert_same, contents

FIT = HERE / "keras_fit.py"
EPOCHS, TRAIN_BATCHES = 3, 5  # 36 samples in batches of 8; validation 2 batches, evaluate 3
TIMING = ("batch_steps_per_second", "epoch_steps_per_second")


def _record(path):
    data = np.load(path)
    weights = {name: data[f"w:{name}"] for name in json.loads(str(data["weight_names"]))}
    return (json.loads(str(data["history"])), json.loads(str(data["batches"])), json.loads(str(data["evaluation"])),
            int(data["iterations"]), weights)


def _image_of(weight):
    """The [k, h, w, 1] image Keras's _log_weight_as_image makes (channels_last), or None."""
    w = np.squeeze(weight)
    if w.ndim == 1:
        return w.reshape(1, -1, 1, 1)
    if w.ndim == 2:
        w = w.T if w.shape[0] > w.shape[1] else w
        return w.reshape(1, *w.shape, 1)
    if w.ndim == 3:
        return np.transpose(w, (2, 0, 1))[..., None]
    return None


def _check_fit(logdir, record, update_freq=1):
    history, batches, evaluation, iterations, weights = _record(record)
    data = contents(logdir)
    assert sorted(data) == ["train", "validation"]
    train, val = data["train"], data["validation"]
    metrics = ["accuracy", "loss"]

    # Tags and steps, as Keras's callback writes them.
    batch_steps = [s for s in range(1, EPOCHS * TRAIN_BATCHES + 1) if s % update_freq == 0]
    expected_train = {f"batch_{m}": ("scalars", batch_steps) for m in metrics + ["steps_per_second"]}
    expected_train.update({f"epoch_{m}": ("scalars", [0, 1, 2]) for m in metrics + ["learning_rate", "steps_per_second"]})
    expected_train["keras"] = ("graph_keras_model", [0, 0])  # fit and evaluate each attach the model
    for name, weight in weights.items():
        expected_train[f"{name}/histogram"] = ("histograms", [0, 1, 2])
        if _image_of(weight) is not None:
            expected_train[f"{name}/image"] = ("images", [0, 1, 2])
    assert {tag: (s.plugin, s.steps) for tag, s in train.items()} == expected_train
    per_epoch = iterations // (EPOCHS + 0)
    expected_val = {f"epoch_{m}": ("scalars", [0, 1, 2]) for m in metrics}
    expected_val.update({f"evaluation_{m}_vs_iterations": ("scalars", [per_epoch, 2 * per_epoch, 3 * per_epoch, iterations])
                         for m in metrics})
    assert {tag: (s.plugin, s.steps) for tag, s in val.items()} == expected_val

    # Values: what Keras reported, at float32.
    for m in metrics:
        assert [v for _, v in train[f"epoch_{m}"].points] == [float(np.float32(v)) for v in history[m]]
        assert [v for _, v in val[f"epoch_{m}"].points] == [float(np.float32(v)) for v in history[f"val_{m}"]]
        assert [v for _, v in train[f"batch_{m}"].points] == [float(np.float32(b[m])) for b in batches][update_freq - 1::update_freq]
        assert val[f"evaluation_{m}_vs_iterations"].points[-1][1] == float(np.float32(evaluation[m]))
    assert {v for _, v in train["epoch_learning_rate"].points} == {float(np.float32(0.01))}
    assert all(v > 0 for tag in TIMING for _, v in train[tag].points)

    # Histograms and images of the last epoch: the final weights.
    for name, weight in weights.items():
        buckets = train[f"{name}/histogram"].points[-1][1]
        flat = weight.reshape(-1).astype(np.float64)
        assert buckets.shape == (30, 3) and buckets[:, 2].sum() == flat.size
        if flat.min() == flat.max():  # one value: every edge is it, the last bucket holds all
            assert np.all(buckets[:, :2] == flat.max()) and buckets[-1, 2] == flat.size
        else:
            edges = np.linspace(flat.min(), flat.max(), 31)
            np.testing.assert_allclose(buckets[:, 0], edges[:-1])
            assert buckets[-1, 1] == flat.max()
            np.testing.assert_array_equal(buckets[:, 2], np.histogram(flat, bins=edges)[0])
        image = _image_of(weight)
        if image is not None:
            width, height, samples = train[f"{name}/image"].points[-1][1]
            assert (height, width) == image.shape[1:3] and len(samples) == min(3, image.shape[0])
            for got, want in zip(samples, image):
                np.testing.assert_array_equal(got, np.clip(want[..., 0] * np.float32(255.5), 0, 255).astype(np.uint8))
    model = train["keras"].points[-1][1]
    assert model["class_name"] == "Functional"
    assert {layer["config"]["name"] for layer in model["config"]["layers"]} >= {"conv2d", "frozen", "dense", "dense_1"}


@pytest.mark.slow
def test_fit_on_jax_backend_without_tensorflow(tmp_path):
    """model.fit/evaluate on JAX: the runs, tags, steps and values of Keras's own callback."""
    run_script(FIT, "--log-dir", tmp_path / "logs", "--record", tmp_path / "rec.npz", env={"KERAS_BACKEND": "jax"})
    _check_fit(tmp_path / "logs", tmp_path / "rec.npz")


@pytest.mark.slow
def test_fit_on_torch_backend_without_tensorflow(tmp_path):
    """The same fit on the torch backend."""
    pytest.importorskip("torch")
    run_script(FIT, "--log-dir", tmp_path / "logs", "--record", tmp_path / "rec.npz", env={"KERAS_BACKEND": "torch"})
    _check_fit(tmp_path / "logs", tmp_path / "rec.npz")


@pytest.mark.slow
def test_update_freq_every_second_batch_keeps_every_epoch(tmp_path):
    """update_freq=2: batch_* at batches 2, 4, ...; the epoch summaries of every epoch (Keras's own
    drops those of epochs whose last batch is not a multiple of 2, see docs/integrations.md)."""
    run_script(FIT, "--log-dir", tmp_path / "logs", "--record", tmp_path / "rec.npz", "--update-freq", "2",
               env={"KERAS_BACKEND": "jax"})
    _check_fit(tmp_path / "logs", tmp_path / "rec.npz", update_freq=2)


@pytest.mark.slow
def test_batch_logs_from_keras_thread_pool_in_order(tmp_path):
    """Without steps per second the callback lets Keras run batch-end hooks in its thread pool: the
    batch summaries still carry each batch's own step and values, in step order."""
    run_script(FIT, "--log-dir", tmp_path / "logs", "--record", tmp_path / "rec.npz", "--threaded", env={"KERAS_BACKEND": "jax"})
    data = np.load(tmp_path / "rec.npz")
    assert any(name != "MainThread" for name in json.loads(str(data["batch_threads"])))  # Keras did use its pool
    batches = json.loads(str(data["batches"]))
    train = contents(tmp_path / "logs")["train"]
    for m in ("loss", "accuracy"):
        assert train[f"batch_{m}"].steps == list(range(1, EPOCHS * TRAIN_BATCHES + 1))
        assert [v for _, v in train[f"batch_{m}"].points] == [float(np.float32(b[m])) for b in batches]
    assert "batch_steps_per_second" not in train


@pytest.mark.slow
def test_update_freq_epoch_writes_no_batch_summaries(tmp_path):
    run_script(FIT, "--log-dir", tmp_path / "logs", "--update-freq", "epoch", env={"KERAS_BACKEND": "jax"})
    train = contents(tmp_path / "logs")["train"]
    assert not [tag for tag in train if tag.startswith("batch_")]
    assert train["epoch_loss"].steps == [0, 1, 2]


@pytest.mark.slow
def test_embedding_layer_projector(tmp_path):
    """embeddings_freq=1: the Embedding layer's vectors and labels in files TensorBoard's Projector reads."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector import projector_config_pb2

    labels = tmp_path / "tokens.tsv"
    labels.write_text("".join(f"token{i}\n" for i in range(12)))
    run_script(FIT, "--log-dir", tmp_path / "logs", "--record", tmp_path / "rec.npz", "--embedding-metadata", labels,
               env={"KERAS_BACKEND": "jax"})
    *_, weights = _record(tmp_path / "rec.npz")
    train = tmp_path / "logs" / "train"
    config = text_format.Parse((train / "projector_config.pbtxt").read_text(), projector_config_pb2.ProjectorConfig())
    by_name = {e.tensor_name: e for e in config.embeddings}
    assert sorted(by_name) == [f"tokens:{epoch:05d}" for epoch in range(EPOCHS)]
    last = by_name[f"tokens:{EPOCHS - 1:05d}"]
    vectors = np.loadtxt(train / last.tensor_path, delimiter="\t", dtype=np.float32)
    np.testing.assert_array_equal(vectors, weights["tokens/embeddings"])
    assert (train / last.metadata_path).read_text().splitlines() == [f"token{i}" for i in range(12)]
    assert "epoch_loss" in contents(tmp_path / "logs")["train"]


@pytest.mark.slow
def test_docs_snippet(tmp_path):
    """The Keras section of docs/integrations.md runs as written (TensorFlow blocked) and logs what it says."""
    run_snippets("Keras 3", tmp_path, env={"KERAS_BACKEND": "jax"})
    data = contents(tmp_path / "logs" / "keras")
    assert sorted(data) == ["train", "validation"]
    assert data["train"]["epoch_mae"].steps == [0, 1, 2] and data["train"]["batch_loss"].steps == list(range(1, 19))
    assert "sequential/dense/kernel/histogram" in data["train"] and len(data["validation"]["evaluation_loss_vs_iterations"].steps) == 4


def test_bad_arguments_raise(monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))  # Keras's default backend is TensorFlow
    pytest.importorskip("jax")
    keras = pytest.importorskip("keras")
    from eventwriter.integrations.keras import TensorBoard

    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard("logs", update_freq="sometimes")
    with pytest.raises(ValueError, match="profile_batch"):
        TensorBoard("logs", profile_batch=(5, 2))
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard("logs", histogram_freq=-1)
    with pytest.raises(TypeError, match="embeddings_metadata"):
        TensorBoard("logs", embeddings_metadata=3)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    callback = TensorBoard("unused", write_graph=False, embeddings_freq=1, embeddings_metadata={"nope": "x.tsv"})
    with pytest.raises(ValueError, match="nope"):
        callback.set_model(model)


def test_import_loads_no_tensorflow(tmp_path):
    """Importing the adapter (and keras with it) imports neither TensorFlow nor tensorboard; eventwriter alone imports no adapter."""
    code = (
        "import sys, eventwriter\n"
        "assert not [m for m in sys.modules if m.startswith('eventwriter.integrations')], 'eventwriter imported an adapter'\n"
        "import eventwriter.integrations\n"
        "assert 'keras' not in sys.modules\n"
        "import eventwriter.integrations.keras\n"
        "leaked = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorboard', 'tensorboardX')]\n"
        "assert not leaked, leaked\n"
    )
    script = tmp_path / "import_check.py"
    script.write_text(code)
    run_script(script, blocked=False, env={"KERAS_BACKEND": "jax"})


@pytest.mark.slow
def test_profile_batch_on_jax_writes_a_profile(tmp_path):
    """profile_batch on the JAX backend: JAX's profiler writes train/plugins/profile/<run>/*.xplane.pb."""
    script = tmp_path / "profile.py"
    script.write_text(
        "import os, sys\nos.environ['KERAS_BACKEND'] = 'jax'\nimport numpy as np, keras\n"
        "from eventwriter.integrations.keras import TensorBoard\n"
        "model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])\nmodel.compile('sgd', 'mse')\n"
        "model.fit(np.ones((32, 3)), np.ones(32), batch_size=4, epochs=1, verbose=0,\n"
        "          callbacks=[TensorBoard(sys.argv[1], profile_batch=(2, 3))])\n"
    )
    run_script(script, tmp_path / "logs")
    profiles = list((tmp_path / "logs" / "train" / "plugins" / "profile").glob("*/*.xplane.pb"))
    assert len(profiles) == 1 and profiles[0].stat().st_size > 0
    assert contents(tmp_path / "logs")["train"]["epoch_loss"].steps == [0]


def test_profile_batch_on_torch_backend_raises(tmp_path):
    """Keras has no profiler on the torch backend: asking for one raises, as Keras's own callback does."""
    pytest.importorskip("torch")
    script = tmp_path / "torch_profile.py"
    script.write_text(
        "import os\nos.environ['KERAS_BACKEND'] = 'torch'\nfrom eventwriter.integrations.keras import TensorBoard\n"
        "try:\n    TensorBoard('logs', profile_batch=2)\nexcept ValueError as exc:\n    assert 'torch backend' in str(exc), exc\n"
        "else:\n    raise SystemExit('no ValueError')\n"
    )
    run_script(script)


@pytest.mark.slow
def test_only_rank_zero_writes(tmp_path):
    """Two processes of one job (RANK 0 and 1, as torchrun sets them): one writer, one event file per run."""
    logdir = tmp_path / "logs"
    run_script(FIT, "--log-dir", logdir, "--update-freq", "epoch", env={"KERAS_BACKEND": "jax", "RANK": "1", "WORLD_SIZE": "2"})
    assert not logdir.exists()  # rank 1 created nothing, not even the directory
    run_script(FIT, "--log-dir", logdir, "--update-freq", "epoch", env={"KERAS_BACKEND": "jax", "RANK": "0", "WORLD_SIZE": "2"})
    data = contents(logdir)
    assert sorted(data) == ["train", "validation"] and data["train"]["epoch_loss"].steps == [0, 1, 2]


@pytest.mark.slow
@pytest.mark.store
def test_remote_log_dir(tmp_path, s3_run, moto_s3):
    """log_dir="s3://...": the runs land in the bucket; read back (downloaded) with TensorBoard's loaders."""
    import fsspec

    run_script(FIT, "--log-dir", s3_run, "--update-freq", "epoch", "--storage-options", json.dumps(moto_s3.storage_options),
               env={"KERAS_BACKEND": "jax", **{k: v for k, v in os.environ.items() if k.startswith(("AWS_", "EVENTWRITER_"))}})
    fs = fsspec.filesystem("s3", **moto_s3.storage_options)
    fs.get(s3_run.replace("s3://", "") + "/", str(tmp_path / "copy"), recursive=True)
    data = contents(tmp_path / "copy")
    assert sorted(data) == ["train", "validation"]
    assert data["train"]["epoch_loss"].steps == [0, 1, 2] and data["validation"]["evaluation_loss_vs_iterations"].steps == [5, 10, 15, 15]


# -- differential: Keras's own callback on the TensorFlow backend (the .venv-tf leg) ----------


def _differential(tmp_path, update_freq):
    pytest.importorskip("tensorflow")
    env = {"KERAS_BACKEND": "tensorflow"}
    for which in ("keras", "ours"):
        run_script(FIT, "--callback", which, "--log-dir", tmp_path / which, "--update-freq", update_freq, env=env, blocked=False)
    return contents(tmp_path / "ours"), contents(tmp_path / "keras")


@pytest.mark.slow
@pytest.mark.parametrize("update_freq", ["batch", "epoch"])
def test_differential_same_as_keras_callback(tmp_path, update_freq):
    """Same fit and evaluate on the TensorFlow backend, Keras's callback vs ours: the same runs, tags,
    plugins and steps, equal values (scalars at float32, histogram buckets, image pixels, model config)."""
    ours, theirs = _differential(tmp_path, update_freq)
    assert len([tag for tags in theirs.values() for tag in tags]) > 20
    assert_same(ours, theirs, timing_tags=TIMING)


@pytest.mark.slow
def test_differential_update_freq_2(tmp_path):
    """update_freq=2: the same batch summaries; ours also keeps the epoch summaries Keras's record_if drops."""
    ours, theirs = _differential(tmp_path, "2")
    for run, tags in theirs.items():
        for tag, series in tags.items():
            mine = ours[run][tag]
            assert mine.plugin == series.plugin
            if tag.startswith("batch_"):
                assert mine.steps == series.steps
            else:
                assert set(series.steps) <= set(mine.steps), (run, tag)
    # Keras's own loses epoch 0 here: its last batch (5) is odd, so its record_if is false.
    assert theirs["train"]["epoch_loss"].steps == [1] and ours["train"]["epoch_loss"].steps == [0, 1, 2]
    assert_same({"train": {"epoch_loss": _at(ours["train"]["epoch_loss"], 1)}},
                {"train": {"epoch_loss": theirs["train"]["epoch_loss"]}})


def _at(series, step):
    from readback import Series

    return Series(series.plugin, [p for p in series.points if p[0] == step])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
