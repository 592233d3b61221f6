"""Every summary kind, written without torch, read by TensorBoard's loaders and served by a real server.

Runs in the protobuf-4.25 venv too (no torch, no matplotlib there).
"""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from PIL import Image

from support.kinds import LOSS, SOUND, WEIGHTS, write_everything
from support.served import served_data, wait_until_loaded
from support.tbutil import plugin_accumulator, plugins_by_tag, scalar_series, tensor_values

EXPECTED_PLUGINS = {
    "loss": "scalars",
    "weights": "histograms",
    "img": "images",
    "grid": "images",
    "vid": "images",
    "snd": "audio",
    "notes/text_summary": "text",
    "pr": "pr_curves",
    "custom_scalars__config__": "custom_scalars",
    "mesh_VERTEX": "mesh",
    "mesh_FACE": "mesh",
    "mesh_COLOR": "mesh",
    "_hparams_/experiment": "hparams",
    "_hparams_/session_start_info": "hparams",
    "_hparams_/session_end_info": "hparams",
    "hp/accuracy": "scalars",
    "raw": "tensor",
    "__run_graph__": "graphs",
}


def test_plugin_accumulator_reads_every_kind(tmp_path):
    write_everything(tmp_path)
    acc = plugin_accumulator(tmp_path)
    assert plugins_by_tag(acc) == EXPECTED_PLUGINS
    assert scalar_series(acc, "loss") == [(s, float(np.float32(v))) for s, v in enumerate(LOSS)]
    (_, raw), = tensor_values(acc, "raw")
    assert raw.dtype == np.uint8 and raw.tolist() == [[0, 1, 2], [3, 4, 5]]  # torch gets uint8 wrong
    (_, hist), = tensor_values(acc, "weights")[:1]
    assert hist.shape[1] == 3 and hist[:, 2].sum() == pytest.approx(1000)
    (_, pr), = tensor_values(acc, "pr")
    assert pr.shape == (6, 11)
    assert [(n.name, n.op, list(n.input)) for n in acc.Graph().node] == [("x", "Placeholder", []), ("relu", "Relu", ["x"])]


@pytest.mark.server
@pytest.mark.parametrize("load_fast", [True, False], ids=["rust", "python"])
def test_every_dashboard_serves_our_data(tmp_path, tb_server, load_fast):
    write_everything(tmp_path)
    server = tb_server(tmp_path, load_fast=load_fast)
    wait_until_loaded(server, ".")
    listing = server.get_json("/data/plugins_listing")
    assert listing["distributions"]["enabled"] and listing["timeseries"]["enabled"]
    served = served_data(server, ".")

    assert [(step, value) for _, step, value in served["scalars/loss"]] == [(s, pytest.approx(v)) for s, v in enumerate(LOSS)]

    hists = served["histograms"]
    assert len(hists) == 3
    for (_, _step, buckets), expected in zip(hists, WEIGHTS):
        assert sum(b[2] for b in buckets) == pytest.approx(1000)
        assert buckets[0][0] == pytest.approx(expected.min()) and buckets[-1][1] == pytest.approx(expected.max())
    assert len(served["distributions"]) == 3

    for tag, size, mime in (("img", (10, 8), "image/png"), ("grid", (6 * 5 + 2 * 6, 6 + 2 * 1), "image/png"), ("vid", (8, 8), "image/gif")):
        assert len(served[f"images/{tag}"]) == 1, tag
        (content_type, body), = served[f"images/{tag}/blobs"]
        assert content_type == mime, tag
        image = Image.open(io.BytesIO(body))
        if tag != "grid":
            assert image.size == size, tag
        if tag == "vid":
            assert image.n_frames == 4

    assert served["audio"][0]["contentType"] == "audio/wav"
    (content_type, body), = served["audio/blobs"]
    assert content_type == "audio/wav"
    with wave.open(io.BytesIO(body)) as wav:
        assert wav.getframerate() == 8000 and wav.getnframes() == len(SOUND)

    assert "<strong>markdown</strong>" in served["text"][0]["text"]

    entry = served["pr_curves"]["."][0]
    assert entry["step"] == 0 and len(entry["precision"]) >= 2

    assert served["custom_scalars"]["category"][0]["title"] == "Training"

    assert {m["content_type"] for m in served["mesh"]} == {1, 2, 3}  # VERTEX, FACE, COLOR
    np.testing.assert_array_equal(np.frombuffer(served["mesh/VERTEX"], dtype=np.float32).reshape(-1, 3)[1], [1, 0, 0])

    experiment = served["hparams/experiment"]
    names = {h["name"] for h in experiment["hparamInfos"]}
    assert names == {"lr", "optimizer", "batchnorm"}
    types = {h["name"]: h.get("type") for h in experiment["hparamInfos"]}
    assert types["batchnorm"] == "DATA_TYPE_BOOL"
    (group,) = served["hparams/session_groups"]["sessionGroups"]
    assert group["hparams"]["batchnorm"] is True and group["hparams"]["optimizer"] == "sgd"
    metrics = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
    assert metrics["hp/accuracy"] == pytest.approx(0.9)

    graph = served["graph"].decode()
    assert 'name: "relu"' in graph and 'input: "x"' in graph
