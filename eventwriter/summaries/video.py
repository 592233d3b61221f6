"""Video for the Images dashboard: ``add_video`` as an animated GIF built with Pillow alone.

torch writes the GIF through ``moviepy.editor``, which moviepy 2 removed; without it torch writes a
Value holding only the tag, which no loader shows (docs/FORMAT.md §4; README, "Differences from torch"). Here the
same tiling and pixel rules feed Pillow's GIF encoder, so grayscale and RGB clips work without
moviepy or imageio.

Layout: ``vid_tensor`` is (N, T, C, H, W). The N clips are padded with black clips to a power of
two and tiled into ``rows = 2 ** floor(log2(N) / 2)`` rows of ``N' / rows`` clips, row-major, so each
of the T frames is one (rows*H, cols*W) image. Pixel values follow the image rule (uint8 as is,
other dtypes ``x * 255`` clipped and truncated). torch divides uint8 by 255 first and multiplies
by 255 again in float32, which returns every one of the 256 values unchanged, so uint8 is used
directly. The Value is ``Summary.Image{height, width, colorspace=C, GIF}`` without metadata;
TensorBoard serves it as ``image/gif`` and the browser plays it.

A GIF frame holds at most 256 colours: grayscale frames and RGB frames with <= 256 distinct
colours decode to exactly the input pixels; RGB frames with more colours are reduced by Pillow's
fast octree quantizer (no dithering). Frame delays are stored in units of 10 ms (``1000 / fps`` ms,
truncated), and Pillow merges identical consecutive frames into one longer frame.
"""

from __future__ import annotations

import io
import math
import numbers
from typing import Any

import numpy as np

from .. import protos
from .image import to_uint8
from ..arrays import real_array


def video_summary(tag: str, vid_tensor: Any, fps: float = 4) -> "protos.Summary":
    """Summary for ``add_video``: N clips tiled into one looping animated GIF.

    Args:
        tag: the series name.
        vid_tensor: array-like of shape (N, T, C, H, W) with C = 1 (grayscale) or 3 (RGB); floats in
            [0, 1] or uint8 in [0, 255].
        fps: frames per second (> 0).

    Returns:
        ``Summary`` with one ``image`` value holding the GIF.

    Raises:
        TypeError: ``vid_tensor`` is not a real-valued array, or ``fps`` is not a number.
        ValueError: ``vid_tensor`` is not 5-D, has an empty axis or C not in (1, 3); ``fps`` is not
            positive and finite.
    """
    if isinstance(fps, bool) or not isinstance(fps, numbers.Real):
        raise TypeError(f"fps must be a number, got {type(fps).__name__}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number, got {fps}")
    array = real_array(vid_tensor, "vid_tensor")
    if array.ndim != 5:
        raise ValueError(f"vid_tensor must have shape (N, T, C, H, W), got {array.ndim} dimensions {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"vid_tensor must not have an empty axis, got shape {array.shape}")
    channels = array.shape[2]
    if channels not in (1, 3):
        raise ValueError(f"vid_tensor must have C = 1 (grayscale) or 3 (RGB) channels, got {channels}")
    frames = tile_clips(to_uint8(array, "vid_tensor"))
    _, height, width, _ = frames.shape
    image = protos.Summary.Image(
        height=height, width=width, colorspace=channels, encoded_image_string=encode_gif(frames, fps)
    )
    return protos.Summary(value=[protos.Summary.Value(tag=tag, image=image)])


def tile_clips(clips: np.ndarray) -> np.ndarray:
    """Tile (N, T, C, H, W) clips into (T, rows*H, cols*W, C) frames, torch's power-of-two grid.

    N is padded with zero (black) clips to the next power of two N'; rows = 2 ** floor(log2(N) / 2)
    and cols = N' / rows.
    """
    count, steps, channels, height, width = clips.shape
    padded = count if count & (count - 1) == 0 else 1 << count.bit_length()
    rows = 1 << ((count.bit_length() - 1) // 2)
    cols = padded // rows
    canvas = np.zeros((steps, rows, height, cols, width, channels), dtype=clips.dtype)
    cells = canvas.transpose(1, 3, 0, 2, 4, 5)  # (rows, cols, T, H, W, C) view into the canvas
    for index in range(count):
        # A ufunc with out= walks the (contiguous) source in order; slice assignment would follow
        # the strided target and is several times slower.
        np.positive(clips[index], out=cells[index // cols, index % cols].transpose(0, 3, 1, 2))
    return canvas.reshape(steps, rows * height, cols * width, channels)


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    """Encode (T, H, W, C) uint8 frames (C = 1 or 3) as an endlessly looping animated GIF.

    Each frame is shown ``1000 / fps`` ms (GIF stores 10 ms units). Grayscale frames and RGB frames
    with at most 256 distinct colours are stored exactly; other RGB frames are reduced to 256
    colours with Pillow's fast octree quantizer.
    """
    from PIL import Image

    if frames.shape[3] == 1:
        images = [Image.fromarray(np.ascontiguousarray(frame[:, :, 0])) for frame in frames]
    else:
        images = [_palette_image(Image.fromarray(np.ascontiguousarray(frame))) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=1000.0 / fps, loop=0)
    return buffer.getvalue()


def _palette_image(image: Any) -> Any:
    """An RGB frame as a 256-colour palette image: exact when it has <= 256 colours."""
    from PIL import Image

    colours = image.getcolors(256)  # None when there are more than 256
    if colours is None:
        # Pillow's GIF writer would use median cut, which is exact for few colours but costs ~10 ms
        # per 64x64 frame of many colours; the octree is ~50x faster at a similar mean error.
        return image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    palette = np.array([rgb for _, rgb in colours], dtype=np.uint8)
    keys = _rgb_keys(palette)
    order = np.argsort(keys)
    indices = order[np.searchsorted(keys[order], _rgb_keys(np.asarray(image)))].astype(np.uint8)
    result = Image.frombytes("P", image.size, indices.tobytes())
    result.putpalette(palette.tobytes())
    return result


def _rgb_keys(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.uint32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
