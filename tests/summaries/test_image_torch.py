"""add_image, add_images, add_image_with_boxes, add_figure against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_image.py)."""

from __future__ import annotations


import numpy as np
import pytest

from eventwriter import SummaryWriter
from eventwriter.summaries.image import image_summary, images_summary
from support.tbutil import write_both

torch = pytest.importorskip("torch")
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402


from test_figure import _figure  # noqa: E402
from test_image import _decode, _images  # noqa: E402


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


def test_figures_match_torch(tmp_path):
    def log(w):
        w.add_figure("single", _figure(0), 0)
        w.add_figure("list", [_figure(1), _figure(2), _figure(3)], 1)

    theirs, ours = _both(tmp_path, log)
    _assert_same(theirs, ours)
    (_, width, height, pixels), = ours["list"][1]
    assert (width, height) == (3 * 150, 100) and pixels.shape == (100, 450, 3)


def test_bfloat16_and_requires_grad_tensors():
    value = torch.rand(3, 4, 5, requires_grad=True)
    expected = image_summary("t", value.detach().to(torch.bfloat16).float().numpy())
    assert image_summary("t", value.to(torch.bfloat16)) == expected
    image_summary("t", value)  # no "call detach() first" error
