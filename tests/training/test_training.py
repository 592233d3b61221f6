"""The Fashion-MNIST training package, end to end on the real data.

A short run (300 steps of batch 4, 1000 test images) is logged with eventwriter and read
back with TensorBoard's own loaders; the same loop logged with torch's SummaryWriter must
give the same runs, tags and plugins; a real ``tensorboard`` must enable every dashboard.
"""

from __future__ import annotations

import contextlib
import gzip
import inspect
import io
import math
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from google.protobuf import text_format  # noqa: E402
from PIL import Image  # noqa: E402
from tensorboard.plugins.hparams import plugin_data_pb2  # noqa: E402
from tensorboard.plugins.projector import projector_config_pb2  # noqa: E402
from support.tbutil import plugin_accumulator, plugins_by_tag, run_dirs, scalar_series, tensor_values  # noqa: E402

from training import CLASSES, NullWriter, TrainConfig, load_fashion_mnist, train  # noqa: E402
from training.cli import main  # noqa: E402
from training.data import DataUnavailableError, read_idx  # noqa: E402

pytestmark = pytest.mark.torch

os.environ.setdefault(
    "FASHION_MNIST_DIR", str(Path(__file__).resolve().parents[3] / "shared" / "data" / "fashion-mnist")
)
DATA_DIR = Path(os.environ["FASHION_MNIST_DIR"])

# A few hundred steps; lr 0.01 instead of the tutorial's 0.001 so that 300 steps of batch 4
# already learn something (about 60% test accuracy instead of chance).
SHORT_ARGS = ["--max-steps", "300", "--log-interval", "100", "--batch-size", "4", "--lr", "0.01",
              "--test-limit", "1000", "--seed", "7", "--no-progress", "--no-download"]
SHORT = TrainConfig(max_steps=300, log_interval=100, batch_size=4, lr=0.01, test_limit=1000,
                    seed=7, progress=False)
LOG_STEPS = [99, 199, 299]
PARAMETERS = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
              "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
HPARAM_TAGS = {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
HPARAM_METRICS = {"hparam/test_accuracy", "hparam/test_loss", "hparam/training_loss"}
DASHBOARDS = ["scalars", "images", "graphs", "projector", "pr_curves", "histograms", "hparams"]


def _expected_tags() -> dict[str, str]:
    """``{tag: plugin}`` the loop must log (over all runs of a logdir)."""
    tags = {
        "four_fashion_mnist_images": "images",
        "__run_graph__": "graphs",
        "training loss": "scalars",
        "learning rate": "scalars",
        "predictions vs. actuals": "images",
        "test loss": "scalars",
        "accuracy/test": "scalars",
        "confusion matrix": "images",
    }
    tags.update({f"accuracy/{name}": "scalars" for name in CLASSES})
    tags.update({name: "pr_curves" for name in CLASSES})
    tags.update({f"weights/{p}": "histograms" for p in PARAMETERS})
    tags.update({f"gradients/{p}": "histograms" for p in PARAMETERS})
    tags.update({tag: "hparams" for tag in HPARAM_TAGS})
    tags.update({tag: "scalars" for tag in HPARAM_METRICS})
    return tags


@contextlib.contextmanager
def _torch_threads():
    """Restore torch's thread count after a call of the CLI (which sets it)."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with _torch_threads(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def _accumulators(logdir: Path) -> dict:
    return {run: plugin_accumulator(path) for run, path in run_dirs(logdir).items()}


def _tags_by_run(accumulators: dict) -> dict[str, dict[str, str]]:
    return {run: plugins_by_tag(acc) for run, acc in accumulators.items()}


@pytest.fixture(scope="module")
def data():
    return load_fashion_mnist(DATA_DIR, download=False)


@pytest.fixture(scope="module")
def eventwriter_run(tmp_path_factory):
    """The short run through the command line (eventwriter.SummaryWriter): logdir, stdout."""
    logdir = tmp_path_factory.mktemp("eventwriter") / "run"
    code, out, err = _run_cli(SHORT_ARGS + ["--logdir", str(logdir)])
    assert code == 0, err
    return logdir, out


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory, data):
    """The same loop and settings logged with torch.utils.tensorboard.SummaryWriter."""
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path_factory.mktemp("torch") / "run"
    writer = SummaryWriter(log_dir=str(logdir))
    with _torch_threads():
        torch.set_num_threads(1)
        train(writer, data, SHORT)
    writer.close()
    return logdir


def test_short_run_logs_every_tag_with_its_plugin(eventwriter_run):
    logdir, out = eventwriter_run
    tags = _tags_by_run(_accumulators(logdir))
    # eventwriter writes hparams into the run itself (run_name=None): one run, all tags.
    assert list(tags) == ["."]
    assert tags["."] == {**_expected_tags(), "step1": "graph_tagged_run_metadata"}
    assert out.splitlines()[-1] == f"tensorboard --logdir {logdir.resolve()}"


def test_short_run_values_are_sane(eventwriter_run):
    logdir, out = eventwriter_run
    acc = plugin_accumulator(logdir)

    loss = scalar_series(acc, "training loss")
    assert [step for step, _ in loss] == LOG_STEPS
    assert all(math.isfinite(value) and value > 0 for _, value in loss)
    assert loss[0][1] > loss[-1][1]
    assert loss[0][1] < 2.4  # below ln(10) + a little: it is a mean cross-entropy over 10 classes
    assert scalar_series(acc, "learning rate") == [(s, pytest.approx(0.01)) for s in LOG_STEPS]

    (accuracy_step, accuracy), = scalar_series(acc, "accuracy/test")
    assert accuracy_step == LOG_STEPS[-1]
    assert accuracy > 0.3  # chance is 0.1; this run reaches about 0.6
    assert f"test accuracy {accuracy:.4f} after 300 steps" in out
    per_class = [scalar_series(acc, f"accuracy/{name}")[0][1] for name in CLASSES]
    assert all(0.0 <= value <= 1.0 for value in per_class)
    # The test-set prefix has about 100 images per class, so the mean of the per-class
    # accuracies is close to the overall accuracy.
    assert abs(np.mean(per_class) - accuracy) < 0.05
    (test_loss_step, test_loss), = scalar_series(acc, "test loss")
    assert math.isfinite(test_loss) and test_loss < loss[0][1]

    grid_width, grid_height, grid_png = tensor_values(acc, "four_fashion_mnist_images")[0][1]
    grid = Image.open(io.BytesIO(grid_png))
    assert grid.size == (int(grid_width), int(grid_height)) == (4 * 30 + 2, 32)  # make_grid, padding 2
    assert [step for step, _ in tensor_values(acc, "predictions vs. actuals")] == LOG_STEPS
    figure = Image.open(io.BytesIO(tensor_values(acc, "predictions vs. actuals")[0][1][2]))
    assert figure.format == "PNG" and figure.size[0] > figure.size[1]

    for parameter in PARAMETERS:
        (step, histogram), = tensor_values(acc, f"weights/{parameter}")
        assert step == LOG_STEPS[-1] and histogram.ndim == 2 and histogram.shape[1] == 3
        assert histogram[:, 2].sum() > 0

    for name in CLASSES:
        (step, curve), = tensor_values(acc, name)
        assert step == 0 and curve.shape == (6, 127)
        true_positives, false_negatives = curve[0, 0], curve[3, 0]
        assert true_positives + false_negatives > 0  # every class occurs in the test prefix

    graph = acc.Graph()
    ops = {node.op for node in graph.node}
    names = " ".join(node.name for node in graph.node)
    assert "aten::_convolution" in ops or "aten::conv2d" in ops
    assert all(layer in names for layer in ("conv1", "conv2", "fc1", "fc2", "fc3"))

    start = plugin_data_pb2.HParamsPluginData.FromString(
        acc.SummaryMetadata("_hparams_/session_start_info").plugin_data.content).session_start_info
    assert start.hparams["lr"].number_value == pytest.approx(0.01)
    assert start.hparams["batch_size"].number_value == 4
    assert start.hparams["seed"].number_value == 7
    assert start.hparams["optimizer"].string_value == "SGD"
    assert scalar_series(acc, "hparam/test_accuracy")[-1][1] == pytest.approx(accuracy)


def test_projector_config_is_valid(eventwriter_run, data):
    logdir, _ = eventwriter_run
    config = text_format.Parse((logdir / "projector_config.pbtxt").read_text(),
                               projector_config_pb2.ProjectorConfig())
    (embedding,) = config.embeddings
    for relative in (embedding.tensor_path, embedding.metadata_path, embedding.sprite.image_path):
        path = (logdir / relative).resolve()
        assert path.is_file() and logdir.resolve() in path.parents
    rows = (logdir / embedding.tensor_path).read_text().splitlines()
    matrix = np.array([[float(v) for v in row.split("\t")] for row in rows])
    assert matrix.shape == (100, 784)
    assert matrix.min() >= 0.0 and matrix.max() <= 1.0 and matrix.max() > 0.5
    labels = (logdir / embedding.metadata_path).read_text().splitlines()
    assert len(labels) == 100 and set(labels) <= set(CLASSES)
    # Each row is a real training image with the label shown for it.
    train_rows = data.train_images.reshape(-1, 784).float().numpy() / 255
    for row, label in zip(matrix[:5], labels[:5]):
        index = int(np.argmin(np.abs(train_rows - row).sum(axis=1)))
        assert np.abs(train_rows[index] - row).max() < 1e-5
        assert CLASSES[int(data.train_labels[index])] == label
    assert list(embedding.sprite.single_image_dim) == [28, 28]
    sprite = Image.open(logdir / embedding.sprite.image_path)
    assert sprite.size[0] % 28 == 0 and sprite.size[1] % 28 == 0
    assert (sprite.size[0] // 28) * (sprite.size[1] // 28) >= 100


def test_torch_writer_gives_same_runs_tags_and_plugins(eventwriter_run, torch_run):
    ours, _ = eventwriter_run
    ours_tags = _tags_by_run(_accumulators(ours))
    torch_tags = _tags_by_run(_accumulators(torch_run))

    # torch's add_hparams (run_name=None) writes into a timestamped sub-run; eventwriter keeps
    # it in the run. Everything else is the same run, tag and plugin.
    (sub_run,) = set(torch_tags) - {"."}
    assert set(torch_tags[sub_run]) == HPARAM_TAGS | HPARAM_METRICS
    merged = {**torch_tags["."], **torch_tags[sub_run]}
    assert set(ours_tags) == {"."}
    assert ours_tags["."] == merged

    # Same seed, same loop: the logged numbers agree whichever writer logged them.
    ours_acc, torch_acc = plugin_accumulator(ours), plugin_accumulator(torch_run)
    for tag in ("training loss", "accuracy/test", "test loss"):
        expected = scalar_series(torch_acc, tag)
        assert scalar_series(ours_acc, tag) == [(s, pytest.approx(v, rel=1e-5)) for s, v in expected]
    for name in CLASSES:
        np.testing.assert_allclose(tensor_values(ours_acc, name)[0][1],
                                   tensor_values(torch_acc, name)[0][1], rtol=1e-5, atol=1e-6)

    def embeddings(logdir: Path) -> list[tuple[str, str]]:
        config = text_format.Parse((logdir / "projector_config.pbtxt").read_text(),
                                   projector_config_pb2.ProjectorConfig())
        return [(e.tensor_name, e.tensor_path) for e in config.embeddings]

    assert embeddings(ours) == embeddings(torch_run)


@pytest.mark.server
def test_tensorboard_enables_every_dashboard(eventwriter_run, tb_server):
    logdir, _ = eventwriter_run
    server = tb_server(logdir)
    listing = server.wait_for(
        lambda plugins: all(plugins.get(name, {}).get("enabled") for name in DASHBOARDS),
        "/data/plugins_listing", timeout=90)
    assert all(listing[name]["enabled"] for name in DASHBOARDS)
    scalar_tags = server.wait_for(lambda tags: "training loss" in tags.get(".", {}),
                                  "/data/plugin/scalars/tags", timeout=60)
    assert "accuracy/test" in scalar_tags["."]
    pr_tags = server.get_json("/data/plugin/pr_curves/tags")
    assert set(pr_tags["."]) == set(CLASSES)


def test_missing_files_give_a_clear_error_and_no_logdir(tmp_path):
    empty, logdir = tmp_path / "empty", tmp_path / "logs"
    empty.mkdir()
    code, out, err = _run_cli(["--data-dir", str(empty), "--no-download", "--logdir", str(logdir)])
    assert code == 2 and out == ""
    assert str(empty) in err and "download disabled" in err
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in err
    assert not logdir.exists()


def test_failed_download_names_the_directory(tmp_path, monkeypatch):
    import torchvision.datasets.utils

    def offline(url, root, filename=None, md5=None, max_redirect_hops=3):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets.utils, "download_url", offline)
    target = tmp_path / "not-yet" / "fashion-mnist"
    with pytest.raises(DataUnavailableError) as info:
        load_fashion_mnist(target, download=True)
    message = str(info.value)
    assert str(target) in message and "network is unreachable" in message
    assert not target.exists()  # a failed download leaves nothing behind


def test_idx_reader_accepts_raw_and_gzip_and_rejects_bad_files(tmp_path):
    gz = DATA_DIR / "t10k-labels-idx1-ubyte.gz"
    raw = tmp_path / "t10k-labels-idx1-ubyte"
    raw.write_bytes(gzip.decompress(gz.read_bytes()))
    from_gz, from_raw = read_idx(gz, 0x801), read_idx(raw, 0x801)
    assert from_gz.shape == (10000,) and np.array_equal(from_gz, from_raw)

    with pytest.raises(DataUnavailableError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx(raw, 0x803)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(raw.read_bytes()[:-1])
    with pytest.raises(DataUnavailableError, match="implies 10008"):
        read_idx(truncated, 0x801)
    not_gzip = tmp_path / "broken.gz"
    not_gzip.write_bytes(b"not gzip at all")
    with pytest.raises(DataUnavailableError, match="cannot read"):
        read_idx(not_gzip, 0x801)


def test_rerun_into_an_existing_logdir_starts_a_new_run(tmp_path):
    logdir = tmp_path / "experiment"
    tiny = ["--max-steps", "20", "--log-interval", "10", "--test-limit", "100", "--seed", "1",
            "--no-progress", "--no-download", "--logdir", str(logdir)]
    assert _run_cli(tiny)[0] == 0
    first = {p: p.stat().st_size for p in logdir.rglob("*") if p.is_file()}

    code, out, err = _run_cli(tiny)
    assert code == 0
    second = tmp_path / "experiment_2"
    assert f"{logdir} already holds a run; logging this one to {second}" in err
    assert out.splitlines()[-1] == f"tensorboard --logdir {second.resolve()}"
    assert {p: p.stat().st_size for p in logdir.rglob("*") if p.is_file()} == first
    assert list(run_dirs(logdir)) == list(run_dirs(second)) == ["."]
    assert scalar_series(plugin_accumulator(second), "training loss") == \
        scalar_series(plugin_accumulator(logdir), "training loss")  # same seed, same numbers

    assert _run_cli(tiny)[0] == 0
    assert (tmp_path / "experiment_3").is_dir()


def test_same_seed_same_run_other_seed_other_run(data):
    def losses(seed: int) -> list[tuple[int, float]]:
        config = TrainConfig(max_steps=40, log_interval=10, test_limit=100, seed=seed,
                             progress=False)
        return train(NullWriter(), data, config).losses

    first = losses(3)
    assert len(first) == 4
    assert losses(3) == first
    assert losses(4) != first


def test_null_writer_mirrors_torch_summary_writer():
    from torch.utils.tensorboard import SummaryWriter

    public = [name for name, _ in inspect.getmembers(SummaryWriter, inspect.isfunction)
              if not name.startswith("_") or name in ("__enter__", "__exit__")]
    for name in public:
        theirs = inspect.signature(getattr(SummaryWriter, name))
        ours = inspect.signature(getattr(NullWriter, name))
        if name in ("__init__", "__exit__"):
            continue  # NullWriter accepts any constructor arguments
        assert [(p.name, p.default) for p in ours.parameters.values()] == \
            [(p.name, p.default) for p in theirs.parameters.values()], name


def test_training_logdir_that_is_a_file_is_an_error(tmp_path, capsys):
    """A new user's `python -m training --logdir README.md`: an error, no README.md_2/ run."""
    pytest.importorskip("torch")
    from training.cli import main

    readme = tmp_path / "README.md"
    readme.write_text("# notes\n")
    assert main(["--logdir", str(readme), "--no-download", "--max-steps", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is a file, not a directory" in err and str(readme) in err
    assert sorted(os.listdir(tmp_path)) == ["README.md"]
