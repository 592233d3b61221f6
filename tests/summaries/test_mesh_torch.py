"""add_mesh against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_mesh.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support.tbutil import plugin_accumulator, tensor_values, write_both
from tensorboard.plugins.mesh import metadata as tb_mesh_metadata


torch = pytest.importorskip("torch")

from test_mesh import COLORS, FACES, VERTICES  # noqa: E402


CONFIG = {"camera": {"cls": "PerspectiveCamera", "fov": 75}, "lights": [{"cls": "AmbientLight", "intensity": 0.75}]}


def _write_both(tmp_path, calls):
    return [plugin_accumulator(run) for run in write_both(tmp_path, calls)]


@pytest.mark.parametrize(
    "parts",
    [
        {},
        {"faces": FACES},
        {"colors": COLORS},
        {"faces": FACES, "colors": COLORS},
        {"faces": torch.from_numpy(FACES), "colors": torch.from_numpy(COLORS.astype(np.int64))},
    ],
    ids=["vertices", "faces", "colors", "all", "tensors"],
)
@pytest.mark.parametrize("config", [None, CONFIG], ids=["noconfig", "config"])
def test_mesh_matches_torch(tmp_path, parts, config):
    vertices = torch.from_numpy(VERTICES)
    theirs, ours = _write_both(tmp_path, lambda w: w.add_mesh("cube", vertices, config_dict=config, global_step=4, **parts))
    tags = sorted(ours.Tags()["tensors"])
    assert tags == sorted(theirs.Tags()["tensors"])
    expected = ["cube_VERTEX"] + (["cube_FACE"] if "faces" in parts else []) + (["cube_COLOR"] if "colors" in parts else [])
    assert tags == sorted(expected)
    for tag in tags:
        mine, other = ours.SummaryMetadata(tag), theirs.SummaryMetadata(tag)
        assert mine.plugin_data.plugin_name == other.plugin_data.plugin_name == "mesh"
        our_data = tb_mesh_metadata.parse_plugin_metadata(mine.plugin_data.content)
        their_data = tb_mesh_metadata.parse_plugin_metadata(other.plugin_data.content)
        assert our_data == their_data
        assert our_data.name == "cube"
        assert json.loads(our_data.json_config) == (config or {})
        [(our_step, a)], [(their_step, b)] = tensor_values(ours, tag), tensor_values(theirs, tag)
        assert our_step == their_step == 4
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
