"""Images: add_image, add_images, add_image_with_boxes read back with TensorBoard's loaders; PNG
encoding and input checks (against torch: test_image_torch.py; figures: test_figure.py)."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from eventwriter import SummaryWriter
from eventwriter.summaries.image import image_summary, image_with_boxes_summary, images_summary
from eventwriter.summaries.png import encode_png
from support.tbutil import plugin_accumulator, plugins_by_tag, tensor_values


def _decode(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.array(image)


def _images(logdir) -> dict:
    """``{tag: (plugin, [(step, width, height, pixels)])}`` as TensorBoard's loader returns them."""
    acc = plugin_accumulator(logdir)
    out = {}
    for tag, plugin in plugins_by_tag(acc).items():
        rows = []
        for step, blob in tensor_values(acc, tag):
            width, height, png = blob.tolist()
            rows.append((step, int(width), int(height), _decode(png)))
        out[tag] = (plugin, rows)
    return out


@pytest.mark.parametrize("channels", [3, 4])
def test_boxes_do_not_touch_the_callers_array(channels):
    image = np.zeros((20, 20, channels), dtype=np.uint8)
    image_with_boxes_summary("t", image, [[1, 1, 10, 10]], labels=["x"], dataformats="HWC")
    assert not image.any()


def test_pixel_rule_independent_of_torch():
    """float x -> trunc(clip(x * 255)): no rounding, no wrap-around; NaN -> 0; uint8 as is."""
    values = np.array([[0.0, 0.5, 1.0, 1.5, -0.5, 0.999, 100.0, np.nan, np.inf, -np.inf]], dtype=np.float32)
    png = image_summary("t", values, dataformats="HW").value[0].image.encoded_image_string
    np.testing.assert_array_equal(_decode(png)[0, :, 0], [0, 127, 255, 255, 0, 254, 255, 0, 255, 0])
    raw = np.array([[0, 7, 128, 255]], dtype=np.uint8)
    png = image_summary("t", raw, dataformats="HW").value[0].image.encoded_image_string
    np.testing.assert_array_equal(_decode(png)[0, :, 1], [0, 7, 128, 255])


def test_summary_shape_is_torchs():
    summary = images_summary("grid", np.zeros((3, 3, 4, 5), dtype=np.float32))
    (value,) = summary.value
    assert value.tag == "grid" and value.WhichOneof("value") == "image"
    assert not value.HasField("metadata")
    assert (value.image.height, value.image.width, value.image.colorspace) == (4, 15, 3)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_encoder_round_trips(channels):
    pixels = np.random.default_rng(channels).integers(0, 256, (17, 23, channels), dtype=np.uint8)
    decoded = _decode(encode_png(pixels))
    np.testing.assert_array_equal(decoded.reshape(pixels.shape), pixels)


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: image_summary("t", np.zeros((3, 4))), ValueError, ["img_tensor", "dataformats"]),
        (lambda: image_summary("t", np.zeros((3, 4, 5)), dataformats="CHWX"), ValueError, ["dataformats"]),
        (lambda: image_summary("t", np.zeros((3, 4, 5)), dataformats="CCH"), ValueError, ["dataformats"]),
        (lambda: image_summary("t", np.zeros((3, 4, 5)), dataformats="NHW"), ValueError, ["dataformats"]),
        (lambda: image_summary("t", np.zeros((3, 4, 5)), dataformats=3), TypeError, ["dataformats"]),
        (lambda: image_summary("t", np.zeros((2, 4, 5))), ValueError, ["img_tensor", "channels"]),
        (lambda: image_summary("t", np.zeros((3, 0, 5))), ValueError, ["img_tensor", "empty"]),
        (lambda: image_summary("t", np.zeros((3, 4, 5), dtype=complex)), TypeError, ["img_tensor"]),
        (lambda: image_summary("t", None), TypeError, ["img_tensor"]),
        (lambda: image_summary("t", np.zeros((3, 4, 5)), rescale=0), ValueError, ["rescale"]),
        (lambda: image_summary("t", np.zeros((3, 4, 5)), rescale="2"), TypeError, ["rescale"]),
        (lambda: images_summary("t", np.zeros((0, 3, 4, 5))), ValueError, ["img_tensor"]),
        (lambda: images_summary("t", np.zeros((2, 5, 4, 5))), ValueError, ["img_tensor", "channels"]),
        (lambda: image_with_boxes_summary("t", np.zeros((3, 9, 9)), np.zeros(4)), ValueError, ["box_tensor"]),
        (lambda: image_with_boxes_summary("t", np.zeros((3, 9, 9)), np.zeros((2, 5))), ValueError, ["box_tensor"]),
        (lambda: image_with_boxes_summary("t", np.zeros((3, 9, 9)), [[0, 0, np.nan, 1]]), ValueError, ["box_tensor"]),
        (lambda: image_with_boxes_summary("t", np.zeros((3, 9, 9)), np.zeros((2, 4)), labels=["a"]), ValueError,
         ["labels", "2"]),
        (lambda: image_with_boxes_summary("t", np.zeros((3, 9, 9)), np.zeros((2, 4)), labels=[1, 2]), TypeError,
         ["labels"]),
    ],
)
def test_bad_input_names_the_argument(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_failed_call_writes_nothing(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError):
            writer.add_image("bad", np.zeros((3, 4)), 0)
        with pytest.raises(ValueError):
            writer.add_image_with_boxes("bad_boxes", np.zeros((3, 9, 9)), np.zeros((1, 3)), 0)
        writer.add_image("good", np.zeros((3, 4, 4)), 1)
    assert sorted(_images(tmp_path)) == ["good"]


def test_media_modules_import_nothing_heavy():
    code = (
        "import sys, eventwriter.summaries.image, eventwriter.summaries.video, eventwriter.summaries.audio\n"
        "heavy = [m for m in ('torch', 'tensorflow', 'tensorboard', 'matplotlib', 'PIL') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[2]))
