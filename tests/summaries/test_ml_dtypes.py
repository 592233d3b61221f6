"""JAX's narrow floats (ml_dtypes bfloat16, float8, ...) are logged like float32, without importing JAX.

Every value of these types is exactly a float32, so what TensorBoard's loaders read back must
equal the float32 conversion of the input.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector import projector_config_pb2

from eventwriter import SummaryWriter
from support.tbutil import legacy_accumulator, plugin_accumulator, scalar_series, tensor_values

ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes comes with the test extra")

NAMES = [
    name
    for name in (
        "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e4m3b11fnuz",
        "float8_e3m4", "float8_e4m3", "float8_e8m0fnu", "float4_e2m1fn", "float6_e2m3fn", "float6_e3m2fn",
    )
    if hasattr(ml_dtypes, name)  # older ml_dtypes releases have fewer types
]


def _values(dtype, n=64):
    # values every type can hold (float8_e8m0fnu holds only powers of two; float4 only a few)
    candidates = np.array([0.5, 1.0, 2.0, 1.5, 0.25, 4.0, 3.0, 0.75], dtype=np.float32)
    narrow = np.resize(candidates, n).astype(dtype)
    return narrow, narrow.astype(np.float32)


@pytest.mark.parametrize("name", NAMES)
def test_scalar_histogram_tensor(tmp_path, name):
    dtype = getattr(ml_dtypes, name)
    narrow, exact = _values(dtype)
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("scalar", dtype(4.0), 0)  # a numpy scalar of the narrow type
        w.add_scalar("scalar", narrow[3:4], 1)  # a one-element array
        w.add_scalar("new_style", narrow[0], 0, new_style=True)
        w.add_histogram("hist", narrow, 0)
        w.add_tensor("tensor", narrow.reshape(8, 8), 0)
    acc = plugin_accumulator(tmp_path)
    assert scalar_series(acc, "scalar") == [(0, 4.0), (1, float(exact[3]))]
    assert scalar_series(acc, "new_style") == [(0, 0.5)]
    ((_, tensor),) = tensor_values(acc, "tensor")
    assert tensor.dtype == np.float32 and tensor.shape == (8, 8)
    np.testing.assert_array_equal(tensor, exact.reshape(8, 8))
    (histo,) = legacy_accumulator(tmp_path).Histograms("hist")
    assert histo.histogram_value.num == exact.size
    assert histo.histogram_value.min == exact.min() and histo.histogram_value.max == exact.max()
    assert histo.histogram_value.sum == pytest.approx(float(exact.sum()))


@pytest.mark.parametrize("name", ["bfloat16", "float8_e4m3fn"])
def test_image_and_embedding(tmp_path, name):
    dtype = getattr(ml_dtypes, name)
    pixels = np.linspace(0, 1, 3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    narrow = pixels.astype(dtype)
    with SummaryWriter(tmp_path) as w:
        w.add_image("img", narrow, 0)
        w.add_embedding(narrow.reshape(3, 64).T, label_img=np.broadcast_to(narrow[None, :1], (64, 1, 8, 8)))
    legacy = legacy_accumulator(tmp_path)
    (image,) = legacy.Images("img")
    decoded = np.array(Image.open(__import__("io").BytesIO(image.encoded_image_string)))
    expected = np.clip(narrow.astype(np.float32) * np.float32(255), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(decoded, expected)
    config = projector_config_pb2.ProjectorConfig()
    with open(tmp_path / "projector_config.pbtxt", encoding="utf-8") as f:
        text_format.Parse(f.read(), config)
    (entry,) = config.embeddings
    with open(os.path.join(tmp_path, entry.tensor_path), encoding="ascii") as f:
        rows = [[float(v) for v in line.split("\t")] for line in f.read().splitlines()]
    np.testing.assert_array_equal(np.array(rows), narrow.reshape(3, 64).T.astype(np.float64))
    assert entry.sprite.image_path and list(entry.sprite.single_image_dim) == [8, 8]


def test_jax_arrays_if_installed(tmp_path):
    jnp = pytest.importorskip("jax.numpy")
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("loss", jnp.bfloat16(0.5), 0)
        w.add_histogram("h", jnp.arange(10, dtype=jnp.bfloat16), 0)
    assert scalar_series(plugin_accumulator(tmp_path), "loss") == [(0, 0.5)]
