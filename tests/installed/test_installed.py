"""Smoke tests of eventwriter as a user installs it: the built wheel, in a venv without torch.

``scripts/test-installed`` builds the wheel, installs it (not editable) into a fresh venv together
with proto-plus and tensorboard, copies this file to a temporary directory outside the checkout and
runs it there, so nothing from the checkout is importable. The checkout's path comes in
``EVENTWRITER_CHECKOUT``. This file has no conftest and imports nothing from ``tests/``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

CHECKOUT = Path(os.environ.get("EVENTWRITER_CHECKOUT", "/nonexistent")).resolve()


def _cli(*args, cwd):
    exe = shutil.which("eventwriter", path=os.path.dirname(sys.executable))
    assert exe is not None, "the eventwriter console script is not installed"
    return subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_eventwriter_comes_from_site_packages_not_the_checkout():
    import eventwriter

    path = Path(eventwriter.__file__).resolve()
    assert path.is_relative_to(Path(sysconfig.get_paths()["purelib"]).resolve())
    assert not path.is_relative_to(CHECKOUT / "eventwriter")  # the venv may live in the checkout, the source may not
    assert all(Path(entry or ".").resolve() != CHECKOUT for entry in sys.path)
    assert importlib.util.find_spec("torch") is None, "this venv must not have torch"
    assert (path.parent / "py.typed").is_file()
    assert (path.parent / "_proto" / "event_pb2.py").is_file()
    for stub in (path.parent / "_proto").glob("*.pyi"):  # type stubs must not point at proto-plus's `proto`
        assert "from proto import" not in stub.read_text(), stub.name


def test_the_wheel_installs_only_the_library():
    dist = importlib.metadata.distribution("eventwriter")
    top = {Path(str(f)).parts[0] for f in dist.files or []}
    assert "proto" not in top and "training" not in top
    assert {t for t in top if not t.endswith((".dist-info", ".data"))} <= {"eventwriter", "..", "bin"}
    assert [ep.name for ep in dist.entry_points if ep.group == "console_scripts"] == ["eventwriter"]
    assert shutil.which("train", path=os.path.dirname(sys.executable)) is None
    top_level = (dist.read_text("top_level.txt") or "eventwriter").split()
    assert top_level == ["eventwriter"]


def test_proto_plus_still_works_beside_eventwriter():
    code = (
        "import eventwriter, eventwriter.protos, proto\n"
        "assert proto.Message and proto.Field, 'proto-plus was shadowed'\n"
        "class Pet(proto.Message):\n"
        "    name = proto.Field(proto.STRING, number=1)\n"
        "assert Pet.deserialize(Pet.serialize(Pet(name='rex'))).name == 'rex'\n"
        "import importlib.metadata as m\n"
        "assert any(str(f).startswith('proto/') for f in m.distribution('proto-plus').files)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_import_is_light():
    code = "import sys, eventwriter; print(sorted(m for m in ('numpy', 'google.protobuf', 'torch') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _write_every_kind(logdir):
    import numpy as np

    from eventwriter import SummaryWriter, protos

    rng = np.random.default_rng(0)
    with SummaryWriter(logdir) as w:
        for step in range(3):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("acc", 0.5, 2, new_style=True)
        w.add_scalars("pair", {"a": 1.0, "b": 2.0}, 1)
        w.add_text("notes", "installed", 1)
        w.add_tensor("t", np.arange(4, dtype=np.uint8), 1)
        w.add_histogram("h", rng.normal(size=1000), 1)
        w.add_histogram_raw("raw", 0, 2, 3, 3, 5, [0, 1, 2], [0, 2, 1], 1)
        w.add_image("im", rng.random((3, 8, 8)), 1)
        w.add_images("ims", rng.random((4, 3, 8, 8)), 1)
        w.add_image_with_boxes("boxes", rng.random((3, 16, 16)), np.array([[1, 1, 8, 8]]), 1)
        w.add_video("vid", rng.random((1, 3, 3, 8, 8)), 1)
        w.add_audio("snd", np.sin(np.arange(800) / 10) * 0.5, 1, sample_rate=8000)
        w.add_pr_curve("pr", rng.integers(0, 2, 50), rng.random(50), 1)
        w.add_pr_curve_raw("prraw", [3, 1], [1, 0], [0, 1], [0, 2], [0.75, 1.0], [1.0, 1 / 3], 1, num_thresholds=2)
        w.add_custom_scalars_multilinechart(["loss", "acc"])
        w.add_mesh("mesh", rng.random((1, 4, 3)), faces=np.array([[[0, 1, 2], [1, 2, 3]]]), global_step=1)
        graph = protos.GraphDef(node=[protos.NodeDef(name="input/x", op="IO Node")])
        w.add_graph(graph)
        w.add_embedding(rng.random((5, 3)), metadata=list("abcde"), label_img=rng.random((5, 1, 4, 4)), global_step=1)
        w.add_hparams({"lr": 0.1, "bn": True}, {"hp/loss": 1 / 3})


def test_write_every_kind_and_read_it_back(tmp_path):
    from eventwriter.reader import describe, read_events, scalars

    _write_every_kind(tmp_path)
    ours = scalars(tmp_path)
    assert [p.value for p in ours["."]["loss"]] == pytest.approx([1.0, 0.5, 1 / 3])
    assert ours["pair_a"]["pair"][0].value == 1.0
    tags = {name: info.plugin for run in describe(tmp_path) for name, info in run.tags.items()}
    expected = {
        "notes/text_summary": "text", "t": "tensor", "h": "histograms", "im": "images", "vid": "images",
        "snd": "audio", "pr": "pr_curves", "prraw": "pr_curves", "custom_scalars__config__": "custom_scalars",
        "mesh_VERTEX": "mesh", "_hparams_/experiment": "hparams", "__run_graph__": "graphs",
    }  # fmt: skip
    assert {t: tags.get(t) for t in expected} == expected
    assert sum(1 for _ in read_events(tmp_path)) > 20
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "00001/default/tensors.tsv"' in config
    assert len((tmp_path / "00001" / "default" / "tensors.tsv").read_text().splitlines()) == 5


def test_tensorboard_loaders_read_it(tmp_path):
    pytest.importorskip("tensorboard")
    import numpy as np
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    _write_every_kind(tmp_path)
    acc = pea.EventAccumulator(str(tmp_path), size_guidance={pea.TENSORS: 0})
    acc.Reload()
    plugins = {tag: acc.SummaryMetadata(tag).plugin_data.plugin_name for tag in acc.Tags()[pea.TENSORS]}
    assert {plugins[t] for t in ("loss", "h", "im", "snd", "pr", "mesh_VERTEX", "notes/text_summary")} == {
        "scalars", "histograms", "images", "audio", "pr_curves", "mesh", "text",
    }  # fmt: skip
    losses = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors("loss")]
    assert losses == pytest.approx([1.0, 0.5, 1 / 3])
    assert list(tensor_util.make_ndarray(acc.Tensors("t")[0].tensor_proto)) == list(np.arange(4, dtype=np.uint8))
    assert acc.Tags()["graph"] is True


def test_the_command_line(tmp_path):
    _write_every_kind(tmp_path / "logs")
    (event_file,) = sorted((tmp_path / "logs").glob("*tfevents*"))
    inspect = _cli("inspect", tmp_path / "logs", cwd=tmp_path)
    assert inspect.returncode == 0, inspect.stderr
    assert "notes/text_summary" in inspect.stdout and "run pair_a" in inspect.stdout
    dump = _cli("dump", event_file, cwd=tmp_path)
    assert dump.returncode == 0 and '"file_version": "brain.Event:2"' in dump.stdout
    verify = _cli("verify", tmp_path / "logs", "--all", cwd=tmp_path)
    assert verify.returncode == 0 and verify.stdout.count("ok ") == 3  # the run, pair_a, pair_b
    explain = _cli("explain", event_file, "--record", "0", cwd=tmp_path)
    assert explain.returncode == 0, explain.stderr
    assert '3 file_version (LEN string) = "brain.Event:2"' in explain.stdout and "== computed" in explain.stdout
    module = subprocess.run([sys.executable, "-m", "eventwriter", "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert module.returncode == 0 and "explain" in module.stdout
    damaged = bytearray(event_file.read_bytes())
    damaged[-2] ^= 0xFF
    event_file.write_bytes(bytes(damaged))
    assert _cli("verify", event_file, cwd=tmp_path).returncode == 1
    assert "MISMATCH" in _cli("explain", event_file, cwd=tmp_path).stdout
