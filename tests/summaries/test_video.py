"""Video: add_video as a Pillow-built animated GIF, read back through TensorBoard's loaders.

torch's add_video needs ``moviepy.editor`` (gone in moviepy 2), so instead of a differential test the
decoded GIF frames are compared with frames tiled independently here, from torch's documented
layout: N padded to a power of two, rows = 2 ** floor(log2(N) / 2).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageSequence
from tensorboard.backend.event_processing import event_file_loader
from tensorboard.compat.proto import event_pb2

from eventwriter import SummaryWriter
from eventwriter.summaries.video import video_summary
from support.tbutil import plugin_accumulator, plugins_by_tag, tensor_values

# (rows, cols) of torch's grid for N clips, written out rather than computed.
GRID = {1: (1, 1), 2: (1, 2), 3: (1, 4), 4: (2, 2), 5: (2, 4), 8: (2, 4)}


def _expected_frames(video: np.ndarray) -> np.ndarray:
    """(T, rows*H, cols*W, 3) uint8 frames as torch lays them out (gray shown as RGB)."""
    n, t, c, h, w = video.shape
    if video.dtype == np.uint8:
        pixels = video
    else:
        pixels = np.floor(np.clip(video.astype(np.float32) * np.float32(255), 0, 255)).astype(np.uint8)
    rows, cols = GRID[n]
    out = np.zeros((t, rows * h, cols * w, 3), dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        for k in range(t):
            for y in range(h):
                for x in range(w):
                    out[k, r * h + y, col * w + x] = pixels[i, k, :, y, x]  # 1 channel broadcasts to 3
    return out


def _decode_gif(data: bytes, fps: float) -> list:
    """Every displayed frame, expanding frames that Pillow merged (their delay is a multiple)."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "GIF" and image.info.get("loop") == 0
    frames = []
    for frame in ImageSequence.Iterator(image):
        repeat = frame.info["duration"] / (int(1000 / fps / 10) * 10)
        assert repeat == int(repeat) >= 1
        frames += [np.array(frame.convert("RGB"))] * int(repeat)
    return frames


def _write_and_load(tmp_path, videos: dict, fps=4):
    with SummaryWriter(str(tmp_path)) as writer:
        for step, (tag, video) in enumerate(videos.items()):
            writer.add_video(tag, video, step, fps=fps)
    acc = plugin_accumulator(tmp_path)
    plugins = plugins_by_tag(acc)
    out = {}
    for tag in videos:
        ((step, blob),) = tensor_values(acc, tag)
        width, height, gif = blob.tolist()
        out[tag] = (plugins[tag], step, int(width), int(height), gif)
    return out


def _gray_video(n, t=4, h=3, w=5, seed=0):
    return np.random.default_rng(seed).random((n, t, 1, h, w), dtype=np.float32)


def _few_colour_video(n, t=3, h=4, w=3, seed=0):
    """RGB clips with few distinct colours, which GIF stores exactly."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    return palette[rng.integers(0, 40, (n, t, h, w))].transpose(0, 1, 4, 2, 3).copy()


@pytest.mark.parametrize("n", [1, 3, 5])
def test_gray_and_rgb_clips_decode_to_torchs_layout(tmp_path, n):
    videos = {"gray": _gray_video(n, seed=n), "rgb": _few_colour_video(n, seed=n)}
    loaded = _write_and_load(tmp_path, videos)
    for step, (tag, video) in enumerate(videos.items()):
        plugin, got_step, width, height, gif = loaded[tag]
        expected = _expected_frames(video)
        assert (plugin, got_step) == ("images", step)
        assert (height, width) == expected.shape[1:3]
        frames = _decode_gif(gif, fps=4)
        assert len(frames) == video.shape[1]
        for got, want in zip(frames, expected):
            np.testing.assert_array_equal(got, want)


def test_colorspace_dimensions_and_frame_delay(tmp_path):
    """The raw Summary.Image (before TensorBoard migrates it): colorspace C, tiled size, 200 ms frames."""
    with SummaryWriter(str(tmp_path)) as writer:
        writer.add_video("gray", _gray_video(2, t=3), 0, fps=5)
        writer.add_video("rgb", _few_colour_video(4), 1, fps=5)
    (path,) = tmp_path.glob("events.out.tfevents.*")
    images = {}
    for record in event_file_loader.RawEventFileLoader(str(path)).Load():
        for value in event_pb2.Event.FromString(record).summary.value:
            if value.HasField("image"):
                images[value.tag] = value.image
    assert (images["gray"].colorspace, images["gray"].height, images["gray"].width) == (1, 3, 10)
    assert (images["rgb"].colorspace, images["rgb"].height, images["rgb"].width) == (3, 8, 6)
    gif = Image.open(io.BytesIO(images["gray"].encoded_image_string))
    assert gif.n_frames == 3 and gif.info["duration"] == 200


def test_out_of_range_floats_are_clipped_not_wrapped():
    video = np.array([-1.0, 0.5, 1.0, 1.5, 3.0, 0.999], dtype=np.float32).reshape(1, 1, 1, 1, 6)
    gif = video_summary("v", video).value[0].image.encoded_image_string
    (frame,) = _decode_gif(gif, fps=4)
    np.testing.assert_array_equal(frame[0, :, 0], [0, 127, 255, 255, 255, 254])


def test_uint8_values_are_kept():
    """torch divides uint8 by 255 and multiplies back in float32, which is exact for all 256 values."""
    values = np.arange(256, dtype=np.uint8).reshape(1, 1, 1, 16, 16)
    gif = video_summary("v", values).value[0].image.encoded_image_string
    (frame,) = _decode_gif(gif, fps=4)
    np.testing.assert_array_equal(frame[:, :, 0], values[0, 0, 0])
    assert (np.float32(np.arange(256)) / np.float32(255) * np.float32(255)).astype(np.uint8).tolist() == list(range(256))


def test_256_colours_are_exact():
    colours = np.arange(256 * 3, dtype=np.int64).reshape(256, 3) * 7919 % 256
    colours[:, 0] = np.arange(256)  # all distinct
    video = colours.astype(np.uint8).reshape(1, 1, 16, 16, 3).transpose(0, 1, 4, 2, 3)
    (frame,) = _decode_gif(video_summary("v", video).value[0].image.encoded_image_string, fps=4)
    np.testing.assert_array_equal(frame, _expected_frames(video)[0])


def test_many_colours_are_quantized_close():
    video = np.random.default_rng(0).random((1, 2, 3, 20, 20), dtype=np.float32)
    frames = _decode_gif(video_summary("v", video).value[0].image.encoded_image_string, fps=4)
    expected = _expected_frames(video)
    assert len(frames) == 2
    error = np.abs(np.stack(frames).astype(int) - expected.astype(int))
    assert error.mean() < 20


def test_torch_tensor_input():
    torch = pytest.importorskip("torch")
    video = torch.rand(2, 2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    assert video_summary("v", video) == video_summary("v", video.numpy())


@pytest.mark.parametrize(
    "kwargs, exc, word",
    [
        ({"vid_tensor": np.zeros((2, 3, 1, 4))}, ValueError, "vid_tensor"),
        ({"vid_tensor": np.zeros((1, 2, 2, 4, 4))}, ValueError, "vid_tensor"),
        ({"vid_tensor": np.zeros((1, 0, 3, 4, 4))}, ValueError, "vid_tensor"),
        ({"vid_tensor": "video"}, TypeError, "vid_tensor"),
        ({"fps": 0}, ValueError, "fps"),
        ({"fps": -2.0}, ValueError, "fps"),
        ({"fps": float("nan")}, ValueError, "fps"),
        ({"fps": "4"}, TypeError, "fps"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, word):
    args = {"tag": "v", "vid_tensor": np.zeros((1, 2, 3, 4, 4), dtype=np.float32), **kwargs}
    with pytest.raises(exc, match=word):
        video_summary(**args)


def test_failed_call_writes_nothing(tmp_path):
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(ValueError):
            writer.add_video("bad", np.zeros((1, 2, 3, 4)), 0)
        writer.add_video("good", np.zeros((1, 2, 3, 4, 4)), 1)
    assert sorted(plugins_by_tag(plugin_accumulator(tmp_path))) == ["good"]


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.parametrize("load_fast", [True, False])
def test_running_tensorboard_serves_the_gif(tmp_path, tb_server, load_fast):
    """Both loaders list the video under Images and serve the GIF bytes as image/gif."""
    import urllib.parse

    video = _few_colour_video(3, t=4)
    with SummaryWriter(str(tmp_path / "run")) as writer:
        writer.add_video("v", video, 2, fps=4)
    # Keep every sample (the server's default for images is 10 per tag).
    server = tb_server(tmp_path, load_fast=load_fast, extra_args=["--samples_per_plugin", "images=100"])
    server.wait_for(lambda tags: "v" in tags.get("run", {}), "/data/plugin/images/tags")
    query = urllib.parse.urlencode({"run": "run", "tag": "v", "sample": 0})
    (entry,) = server.get_json("/data/plugin/images/images?" + query)
    assert entry["step"] == 2
    content_type, body = server.get_with_type("/data/plugin/images/individualImage?" + entry["query"])
    assert content_type == "image/gif"
    frames = _decode_gif(body, fps=4)
    assert len(frames) == 4
    for got, want in zip(frames, _expected_frames(video)):
        np.testing.assert_array_equal(got, want)
