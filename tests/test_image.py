"""Images: add_image / add_images / add_image_with_boxes / add_figure, differential against torch.

Both writers log the same inputs; both logdirs are read back with TensorBoard's plugin event
accumulator and compared per tag: plugin, steps, width/height and the decoded PNG pixels (the PNG
bytes themselves differ: other encoder settings).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from eventwriter import SummaryWriter
from eventwriter.summaries.image import image_summary, image_with_boxes_summary, images_summary
from eventwriter.summaries.png import encode_png
from support.tbutil import plugin_accumulator, plugins_by_tag, tensor_values, write_both

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402


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


def _both(tmp_path, log):
    """Run ``log(writer)`` with torch's and our SummaryWriter; return both read-back results."""
    theirs, ours = write_both(tmp_path, log)
    return _images(theirs), _images(ours)


def _assert_same(theirs: dict, ours: dict) -> None:
    assert sorted(ours) == sorted(theirs)
    for tag, (plugin, rows) in theirs.items():
        our_plugin, our_rows = ours[tag]
        assert our_plugin == plugin == "images", tag
        assert len(our_rows) == len(rows), tag
        for (step, width, height, pixels), (our_step, our_width, our_height, our_pixels) in zip(rows, our_rows):
            assert (our_step, our_width, our_height) == (step, width, height), tag
            assert our_pixels.shape == pixels.shape, tag
            np.testing.assert_array_equal(our_pixels, pixels, err_msg=tag)


def _rand(*shape, low=0.0, high=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator) * (high - low) + low


def test_single_images_match_torch(tmp_path):
    uint8 = torch.randint(0, 256, (3, 9, 13), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    out_of_range = _rand(3, 7, 5, low=-1.0, high=2.0, seed=2)
    rgba = _rand(6, 5, 4, seed=3)

    def log(w):
        w.add_image("chw_float", _rand(3, 10, 12), 0)
        w.add_image("chw_float", _rand(3, 10, 12, seed=9), 5)
        w.add_image("hwc_float", _rand(10, 12, 3), 1, dataformats="HWC")
        w.add_image("hw_float", _rand(8, 11), 2, dataformats="HW")
        w.add_image("chw_uint8", uint8, 3)
        w.add_image("chw_float64", _rand(3, 6, 6).double(), 3)
        w.add_image("out_of_range", out_of_range, 4)
        w.add_image("rgba_hwc", rgba, 5, dataformats="HWC")
        w.add_image("gray_chw", _rand(1, 9, 7), 6)
        w.add_image("gray_hwc", _rand(9, 7, 1), 7, dataformats="HWC")
        w.add_image("wch_lowercase", _rand(7, 3, 9), 8, dataformats="wch")
        w.add_image("permuted_view", _rand(10, 12, 3, seed=5).permute(2, 0, 1), 10)
        w.add_image("strided_slice", _rand(3, 20, 24, seed=6)[:, ::2, ::3], 11)
        w.add_image("int64_scaled_too", torch.tensor([[0, 1, 2], [-1, 1, 0]]), 9, dataformats="HW")

    theirs, ours = _both(tmp_path, log)
    _assert_same(theirs, ours)
    assert ours["rgba_hwc"][1][0][3].shape == (6, 5, 4)
    assert ours["gray_chw"][1][0][3].shape == (9, 7, 3)
    assert [row[0] for row in ours["chw_float"][1]] == [0, 5]


def test_add_images_grids_match_torch(tmp_path):
    batch_uint8 = torch.randint(0, 256, (8, 3, 4, 4), generator=torch.Generator().manual_seed(5), dtype=torch.uint8)

    def log(w):
        w.add_images("nchw_11", _rand(11, 3, 5, 4), 0)
        w.add_images("nchw_gray_17", _rand(17, 1, 4, 6, seed=1), 1)
        w.add_images("nhwc_3", _rand(3, 6, 5, 3, seed=2), 2, dataformats="NHWC")
        w.add_images("nchw_8_uint8", batch_uint8, 3)
        w.add_images("nhwc_gray_9", _rand(9, 5, 5, 1, seed=3), 4, dataformats="NHWC")
        w.add_image("image_with_nchw", _rand(2, 3, 4, 4, seed=4), 5, dataformats="NCHW")

    theirs, ours = _both(tmp_path, log)
    _assert_same(theirs, ours)
    _, rows = ours["nchw_11"]
    assert (rows[0][1], rows[0][2]) == (8 * 4, 2 * 5)  # 8 columns, 2 rows, zero-filled
    assert (rows[0][3][5:, 12:] == 0).all()


def test_rgba_grid_extension():
    """torch's make_grid refuses 4 channels; here an RGBA batch tiles like RGB, empty cells transparent black."""
    batch = np.random.default_rng(0).integers(0, 256, (3, 4, 5, 6), dtype=np.uint8)  # N, C, H, W
    value = images_summary("rgba", batch).value[0]
    assert (value.image.colorspace, value.image.height, value.image.width) == (4, 5, 18)
    pixels = _decode(value.image.encoded_image_string)
    for i in range(3):
        np.testing.assert_array_equal(pixels[:, 6 * i : 6 * (i + 1)], batch[i].transpose(1, 2, 0))


def test_boxes_match_torch(tmp_path):
    boxes = torch.tensor([[2.0, 3.0, 40.0, 30.0], [30.5, 20.25, 70.0, 55.0]])

    def log(w):
        w.add_image_with_boxes("boxes", _rand(3, 60, 80), boxes, 0)
        w.add_image_with_boxes("labels", _rand(3, 60, 80, seed=1), boxes, 1, labels=["cat", "a dog"])
        w.add_image_with_boxes("int_boxes_hwc", _rand(40, 50, 3, seed=2), torch.tensor([[5, 5, 20, 30]]), 2,
                               dataformats="HWC", labels=["x"])
        w.add_image_with_boxes("empty_label", _rand(3, 30, 30, seed=3), torch.tensor([[1, 1, 20, 20]]), 3,
                               labels=[""])
        w.add_image_with_boxes("no_boxes", _rand(3, 20, 20, seed=4), torch.zeros((0, 4)), 4)

    theirs, ours = _both(tmp_path, log)
    _assert_same(theirs, ours)
    pixels = ours["boxes"][1][0][3]
    assert tuple(pixels[3, 20]) == (255, 0, 0)  # on the top edge of the first box


@pytest.mark.parametrize("channels", [3, 4])
def test_boxes_do_not_touch_the_callers_array(channels):
    image = np.zeros((20, 20, channels), dtype=np.uint8)
    image_with_boxes_summary("t", image, [[1, 1, 10, 10]], labels=["x"], dataformats="HWC")
    assert not image.any()


def test_boxes_rescale_pixels_match_torch_and_size_is_real(tmp_path):
    """torch reports the pre-resize size with rescale != 1; the pixels still match, our size is the real one."""
    image = _rand(3, 20, 30)
    boxes = torch.tensor([[2.0, 2.0, 15.0, 12.0]])
    with TorchWriter(str(tmp_path / "torch")) as w:
        w.add_image_with_boxes("r", image, boxes, 0, rescale=2, labels=["hi"])
    with SummaryWriter(str(tmp_path / "ours")) as w:
        w.add_image_with_boxes("r", image, boxes, 0, rescale=2, labels=["hi"])
    (_, _, _, their_pixels), = _images(tmp_path / "torch")["r"][1]
    (_, width, height, our_pixels), = _images(tmp_path / "ours")["r"][1]
    np.testing.assert_array_equal(our_pixels, their_pixels)
    assert (width, height) == (60, 40) and our_pixels.shape == (40, 60, 3)


def _figure(seed: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3, 2), dpi=50)
    ax.plot(np.cos(np.arange(20) * 0.3 + seed), color="tab:blue")
    ax.set_title(f"figure {seed}")
    return fig


def test_figures_match_torch(tmp_path):
    def log(w):
        w.add_figure("single", _figure(0), 0)
        w.add_figure("list", [_figure(1), _figure(2), _figure(3)], 1)

    theirs, ours = _both(tmp_path, log)
    _assert_same(theirs, ours)
    (_, width, height, pixels), = ours["list"][1]
    assert (width, height) == (3 * 150, 100) and pixels.shape == (100, 450, 3)


def test_figure_close_flag():
    import matplotlib.pyplot as plt

    from eventwriter.summaries.image import figure_summary

    kept = _figure(0)
    canvas = kept.canvas
    figure_summary("f", kept, close=False)
    assert plt.fignum_exists(kept.number) and kept.canvas is canvas
    closed = _figure(1)
    figure_summary("f", closed)
    assert not plt.fignum_exists(closed.number)
    plt.close(kept)


def test_pixel_rule_independent_of_torch():
    """float x -> trunc(clip(x * 255)): no rounding, no wrap-around; NaN -> 0; uint8 as is."""
    values = np.array([[0.0, 0.5, 1.0, 1.5, -0.5, 0.999, 100.0, np.nan, np.inf, -np.inf]], dtype=np.float32)
    png = image_summary("t", values, dataformats="HW").value[0].image.encoded_image_string
    np.testing.assert_array_equal(_decode(png)[0, :, 0], [0, 127, 255, 255, 0, 254, 255, 0, 255, 0])
    raw = np.array([[0, 7, 128, 255]], dtype=np.uint8)
    png = image_summary("t", raw, dataformats="HW").value[0].image.encoded_image_string
    np.testing.assert_array_equal(_decode(png)[0, :, 1], [0, 7, 128, 255])


def test_bfloat16_and_requires_grad_tensors():
    value = torch.rand(3, 4, 5, requires_grad=True)
    expected = image_summary("t", value.detach().to(torch.bfloat16).float().numpy())
    assert image_summary("t", value.to(torch.bfloat16)) == expected
    image_summary("t", value)  # no "call detach() first" error


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


def test_bad_figure():
    from eventwriter.summaries.image import figure_summary

    for bad in (np.zeros((3, 4, 4)), [], [_figure(0), "x"]):
        with pytest.raises(TypeError, match="figure"):
            figure_summary("f", bad)


def test_figures_of_different_sizes():
    import matplotlib.pyplot as plt

    from eventwriter.summaries.image import figure_summary

    small, large = plt.figure(figsize=(2, 2), dpi=50), plt.figure(figsize=(3, 2), dpi=50)
    with pytest.raises(ValueError, match="figure"):
        figure_summary("f", [small, large])


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
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(__import__("pathlib").Path(__file__).parents[1]))


def test_add_figure_does_not_import_pyplot_for_plain_figures(tmp_path):
    """A Figure made without pyplot is rendered and 'closed' without importing pyplot (a backend set-up)."""
    code = (
        "import sys\n"
        "from matplotlib.figure import Figure\n"
        "from eventwriter import SummaryWriter\n"
        "fig = Figure(figsize=(2, 1)); fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])\n"
        f"w = SummaryWriter({str(tmp_path)!r}); w.add_figure('f', fig, 0); w.close()\n"
        "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no pyplot')\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "no pyplot"
    acc = plugin_accumulator(tmp_path)
    assert acc.Tags()["tensors"] == ["f"]
