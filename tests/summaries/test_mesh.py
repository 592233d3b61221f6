"""Meshes: values and MeshPluginData through TensorBoard's loader; input checks (against torch:
test_mesh_torch.py)."""

from __future__ import annotations


import numpy as np
import pytest
from tensorboard.plugins.mesh import metadata as tb_mesh_metadata

from eventwriter.summaries.mesh import mesh_summary


RNG = np.random.default_rng(5)


VERTICES = RNG.standard_normal((2, 6, 3)).astype(np.float32)


FACES = np.array([[[0, 1, 2], [2, 3, 4], [3, 4, 5]]] * 2, dtype=np.int32)


COLORS = RNG.integers(0, 256, (2, 6, 3)).astype(np.uint8)


def test_one_event_with_parts_in_torch_order_and_bitmask():
    summary = mesh_summary("m", VERTICES, colors=COLORS, faces=FACES)
    assert [v.tag for v in summary.value] == ["m_VERTEX", "m_FACE", "m_COLOR"]
    contents = [tb_mesh_metadata.parse_plugin_metadata(v.metadata.plugin_data.content) for v in summary.value]
    assert [c.content_type for c in contents] == [1, 2, 3]
    assert {c.components for c in contents} == {14}
    assert [list(c.shape) for c in contents] == [[2, 6, 3], [2, 3, 3], [2, 6, 3]]
    only_colors = mesh_summary("m", VERTICES, colors=COLORS)
    assert {tb_mesh_metadata.parse_plugin_metadata(v.metadata.plugin_data.content).components for v in only_colors.value} == {
        (1 << 1) | (1 << 3)
    }


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"vertices": np.zeros((6, 3))}, ValueError, r"vertices must have shape \(B, N, 3\), got \(6, 3\)"),
        ({"vertices": np.zeros((1, 6, 2))}, ValueError, r"vertices must have shape \(B, N, 3\)"),
        ({"vertices": np.full((1, 2, 3), np.nan)}, ValueError, "vertices must be finite"),
        ({"vertices": np.array([[["a", "b", "c"]]])}, TypeError, "vertices must hold real numbers"),
        ({"faces": np.zeros((2, 3, 3))}, ValueError, "faces must have the vertices' batch size 1"),
        ({"faces": np.array([[[0, 1, 9]]])}, ValueError, "faces must index the 4 vertices"),
        ({"faces": np.array([[[0, 1, -1]]])}, ValueError, "faces must index the 4 vertices"),
        ({"faces": np.array([[[0, 1, 1.5]]])}, ValueError, "faces must hold whole-number vertex indices"),
        ({"colors": np.zeros((1, 3, 3))}, ValueError, r"colors must have one row per vertex \(4\)"),
        ({"colors": np.full((1, 4, 3), 300)}, ValueError, r"colors must be in 0..255"),
        ({"colors": np.full((1, 4, 3), -1.0)}, ValueError, r"colors must be in 0..255"),
        ({"config_dict": "camera"}, TypeError, "config_dict must be a dict"),
        ({"config_dict": {"x": object()}}, TypeError, "config_dict must be JSON-serializable"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, error, match):
    args = dict(vertices=np.zeros((1, 4, 3)))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        mesh_summary("m", **args)


def test_fractional_colors_warn():
    with pytest.warns(UserWarning, match="look like 0..1 values"):
        mesh_summary("m", np.zeros((1, 2, 3)), colors=np.full((1, 2, 3), 0.5))
    with pytest.warns(UserWarning, match="fractional values are truncated"):
        mesh_summary("m", np.zeros((1, 2, 3)), colors=np.full((1, 2, 3), 100.5))
