"""Images for the Images dashboard: ``add_image``, ``add_images``, ``add_image_with_boxes``, ``add_figure``.

Every builder returns one ``Summary.Value{tag, image=Summary.Image{height, width, colorspace,
encoded_image_string=PNG}}`` without metadata, as torch writes it (docs/FORMAT.md §4), so both loaders
migrate it to the Images dashboard's blob sequence ``[b"W", b"H", png]``.

Pixel rules (torch's, so the decoded pixels equal torch's):

* ``dataformats`` names the axes: a permutation of ``HW``, ``CHW`` or ``NCHW``. ``HW`` and 1-channel
  images are repeated to 3 channels (RGB); 4 channels are kept as RGBA (colorspace 4).
* A batch (``N`` in the format) is tiled into one image: ``min(N, 8)`` columns, ``ceil(N / 8)``
  rows, row-major from the top-left, unused cells black.
* ``uint8`` is used as is. Every other dtype (floats, ints, bool) is multiplied by 255 in float32,
  clipped to [0, 255] and truncated to uint8, so out-of-range values saturate instead of wrapping
  around. NaN becomes 0.

The PNG is written by :mod:`eventwriter.summaries.png` (zlib level 1): the decoded pixels are torch's, the
bytes are not. Pillow is needed only for boxes (``ImageDraw``) and ``rescale``.

:func:`tf_image_summary` writes ``tf.summary.image``'s shape instead, for the framework adapters
(Keras, CLU, Flax): up to ``max_outputs`` images of a batch as samples of one new-style tensor,
pixels converted by ``tf.image.convert_image_dtype``'s rule (:func:`tf_pixels`).
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, List, Optional, Sequence

import numpy as np

from .. import protos
from .png import encode_png
from ..arrays import real_array
from ..metadata import PLUGIN_IMAGES, summary_metadata
from ..tensor_codec import tensor_proto

GRID_COLUMNS = 8  # torch's make_grid default: images per row of an add_images grid
_FORMAT_LETTERS = (frozenset("HW"), frozenset("CHW"), frozenset("NCHW"))


def image_summary(tag: str, img_tensor: Any, dataformats: str = "CHW", rescale: float = 1) -> "protos.Summary":
    """Summary for ``add_image``: one image (or a tiled batch if ``dataformats`` has ``N``).

    Args:
        tag: the series name.
        img_tensor: array-like (numpy, torch tensor on any device, nested lists). Floats are in
            [0, 1], uint8 in [0, 255]; see the module docstring for the exact rule.
        dataformats: axis order, a permutation of ``"CHW"``, ``"HW"`` or ``"NCHW"`` (e.g. ``"HWC"``).
        rescale: resize factor applied with Pillow's Lanczos filter; the summary's height and width
            are those of the resized image.

    Returns:
        ``Summary`` with one ``image`` value.

    Raises:
        TypeError: ``img_tensor`` is not a real-valued array, or ``dataformats``/``rescale`` have the
            wrong type.
        ValueError: ``dataformats`` is not a valid axis order, its length differs from the rank of
            ``img_tensor``, the channel count is not 1, 3 or 4, an axis is empty, or ``rescale``
            is not positive.
    """
    pixels = image_pixels(img_tensor, dataformats)
    pixels = _rescaled(pixels, rescale)
    return _image_value(tag, pixels)


def images_summary(tag: str, img_tensor: Any, dataformats: str = "NCHW") -> "protos.Summary":
    """Summary for ``add_images``: a batch tiled into one grid image (8 per row, torch's layout).

    Args:
        tag: the series name.
        img_tensor: array-like batch; pixel values as for :func:`image_summary`.
        dataformats: axis order, normally a permutation of ``"NCHW"`` (e.g. ``"NHWC"``).

    Returns:
        ``Summary`` with one ``image`` value.

    Raises:
        TypeError, ValueError: as for :func:`image_summary`; also an empty batch.
    """
    return _image_value(tag, image_pixels(img_tensor, dataformats))


def image_with_boxes_summary(
    tag: str,
    img_tensor: Any,
    box_tensor: Any,
    labels: Optional[Sequence[str]] = None,
    dataformats: str = "CHW",
    rescale: float = 1,
) -> "protos.Summary":
    """Summary for ``add_image_with_boxes``: the image with red boxes (width 2) and optional labels.

    Boxes are drawn with Pillow before the optional rescale. A label is written in black with
    Pillow's default font on a red background, sitting on the box's bottom-left corner.

    Args:
        tag: the series name.
        img_tensor: the image, as for :func:`image_summary`.
        box_tensor: array-like of shape (N, 4): ``[x1, y1, x2, y2]`` per box, in pixels.
        labels: N strings (a single ``str`` counts as one label), or None. Empty strings draw no label.
        dataformats: axis order of ``img_tensor``.
        rescale: resize factor, as for :func:`image_summary`.

    Returns:
        ``Summary`` with one ``image`` value.

    Raises:
        TypeError: as for :func:`image_summary`; ``labels`` is not a sequence of strings.
        ValueError: as for :func:`image_summary`; ``box_tensor`` is not (N, 4) or not finite;
            ``labels`` does not have N entries.
    """
    pixels = image_pixels(img_tensor, dataformats)
    boxes = real_array(box_tensor, "box_tensor")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"box_tensor must have shape (N, 4) as [x1, y1, x2, y2] rows, got shape {boxes.shape}")
    if boxes.dtype.kind == "f" and not np.isfinite(boxes).all():
        raise ValueError("box_tensor must contain only finite coordinates")
    label_list = _label_list(labels, boxes.shape[0])
    _check_rescale(rescale)

    from PIL import Image

    image = Image.fromarray(pixels)
    _draw_boxes(image, boxes.tolist(), label_list)
    return _image_value(tag, _rescaled(np.asarray(image), rescale))


def figure_summary(tag: str, figure: Any, close: bool = True) -> "protos.Summary":
    """Summary for ``add_figure``: a matplotlib figure rendered by the Agg canvas (RGB, alpha dropped).

    A list of figures is tiled like ``add_images`` (all figures must render to the same size).
    With ``close=False`` the figure gets its original canvas back after rendering.

    Args:
        tag: the series name.
        figure: a ``matplotlib.figure.Figure`` or a list/tuple of them.
        close: close each figure (``pyplot.close``) after rendering.

    Returns:
        ``Summary`` with one ``image`` value.

    Raises:
        TypeError: ``figure`` is not a Figure or a non-empty list of Figures.
        ValueError: the figures of a list render to different sizes.
    """
    from matplotlib.figure import Figure

    figures = list(figure) if isinstance(figure, (list, tuple)) else [figure]
    if not figures or not all(isinstance(f, Figure) for f in figures):
        raise TypeError(
            f"figure must be a matplotlib Figure or a non-empty list of Figures, got {type(figure).__name__}"
        )
    rendered = [_render_figure(f, close) for f in figures]
    if not isinstance(figure, (list, tuple)):
        return _image_value(tag, rendered[0])
    sizes = {r.shape for r in rendered}
    if len(sizes) != 1:
        raise ValueError(f"figure: all figures of a list must render to the same size, got {sorted(sizes)}")
    return _image_value(tag, _grid(np.stack(rendered), "NHWC"))


def image_pixels(img_tensor: Any, dataformats: str, name: str = "img_tensor") -> np.ndarray:
    """Apply torch's image rules and return the ``(H, W, 3 or 4)`` uint8 pixels that get encoded.

    Args:
        img_tensor: array-like image or batch.
        dataformats: axis order (see :func:`image_summary`).
        name: argument name used in error messages.

    Raises:
        TypeError, ValueError: as for :func:`image_summary`.
    """
    fmt = _parse_dataformats(dataformats)
    array = real_array(img_tensor, name)
    if array.ndim != len(fmt):
        raise ValueError(
            f"{name} has {array.ndim} dimensions (shape {array.shape}) but dataformats {dataformats!r} "
            f"names {len(fmt)}"
        )
    if 0 in array.shape:
        raise ValueError(f"{name} must not have an empty axis, got shape {array.shape}")
    if "C" in fmt and array.shape[fmt.index("C")] not in (1, 3, 4):
        raise ValueError(
            f"{name} must have 1, 3 or 4 channels (axis C of {dataformats!r}), got {array.shape[fmt.index('C')]}"
        )
    pixels = to_uint8(array, name)
    if len(fmt) == 4:
        return _grid(pixels, fmt)
    if len(fmt) == 2:
        pixels, fmt = pixels[:, :, None], fmt + "C"
    perm = [fmt.index(a) for a in "HWC"]
    hwc = pixels.transpose(perm)
    if hwc.shape[2] != 1 and hwc.flags.c_contiguous:
        return hwc
    out = np.empty(hwc.shape[:2] + (3 if hwc.shape[2] == 1 else hwc.shape[2],), dtype=np.uint8)
    _copy_in_source_order(pixels, out.transpose(np.argsort(perm)))  # gray broadcasts to RGB, as torch does
    return out


def to_uint8(array: np.ndarray, name: str) -> np.ndarray:
    """torch's pixel rule: uint8 as is; anything else ``x * 255`` in float32, clipped, truncated; NaN -> 0.

    Raises:
        TypeError: the dtype is not real-valued (complex, strings).
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return _saturated_uint8(array, 255)


def _saturated_uint8(array: np.ndarray, scale: float) -> np.ndarray:
    """``array * scale`` in float32, clipped to [0, 255] and truncated to uint8; NaN becomes 0."""
    scaled = np.multiply(array, np.float32(scale), dtype=np.float32)
    np.clip(scaled, 0, 255, out=scaled)
    nan = np.isnan(scaled)
    if nan.any():  # casting NaN to uint8 is undefined (and warns): make it 0, like torch on x86
        scaled[nan] = 0
    return scaled.astype(np.uint8)


def tf_image_summary(tag: str, images: Any, max_outputs: int = 3) -> "protos.Summary":
    """Summary as ``tf.summary.image`` writes it: several images as samples of one tensor.

    The value is a ``DT_STRING`` tensor of shape ``[2 + n]``: width, height (decimal strings), then
    one PNG per image, for the first ``n = min(k, max_outputs)`` images; metadata plugin
    ``images`` with empty content and no data class (as the framework adapters have always
    written it; TensorBoard derives the data class from the plugin).

    Args:
        tag: the series name.
        images: ``[k, h, w, c]`` array-like (numpy, JAX, torch...), ``c`` 1 to 4; pixel values as
            :func:`tf_pixels` converts them.
        max_outputs: at most this many images are kept (0 or less: none, only the size).

    Returns:
        ``Summary`` with one ``tensor`` value and ``images`` metadata.

    Raises:
        TypeError: ``images`` is not real-valued.
        ValueError: not rank 4, or ``c`` not in 1..4.
    """
    data = real_array(images, "images")
    if data.ndim != 4 or data.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"images must be [k, height, width, channels] with 1 to 4 channels, got shape {data.shape}")
    kept = data[: max(0, int(max_outputs))]
    encoded = [encode_png(frame) for frame in tf_pixels(kept)]
    strings = np.array([str(data.shape[2]).encode(), str(data.shape[1]).encode(), *encoded], dtype=object)
    value = protos.Summary.Value(tag=tag, tensor=tensor_proto(strings), metadata=summary_metadata(PLUGIN_IMAGES))
    return protos.Summary(value=[value])


def tf_pixels(data: np.ndarray) -> np.ndarray:
    """Pixels as ``tf.image.convert_image_dtype(data, tf.uint8, saturate=True)`` converts them.

    uint8 as is; bool to 0/255; other integers rescaled from their dtype's range (a right shift);
    floats ×255.5 in float32, clipped to [0, 255] and truncated, NaN to 0.
    """
    if data.dtype == np.uint8:
        return data
    if data.dtype == np.bool_:
        return data.astype(np.uint8) * 255
    if data.dtype.kind in "iu":
        # Integer to integer: TF scales by the ratio of the ranges (a right shift for wider types).
        info = np.iinfo(data.dtype)
        shift = max(0, info.bits - 8 - (1 if info.min < 0 else 0))
        return np.clip(data.astype(np.int64) >> shift, 0, 255).astype(np.uint8)
    return _saturated_uint8(data, 255.5)  # float32 products, as TF computes them for float32 images


def _image_value(tag: str, pixels: np.ndarray) -> "protos.Summary":
    height, width, channels = pixels.shape
    image = protos.Summary.Image(
        height=height, width=width, colorspace=channels, encoded_image_string=encode_png(pixels)
    )
    return protos.Summary(value=[protos.Summary.Value(tag=tag, image=image)])


def _parse_dataformats(dataformats: Any) -> str:
    if not isinstance(dataformats, str):
        raise TypeError(f"dataformats must be a str such as 'CHW', got {type(dataformats).__name__}")
    fmt = dataformats.upper()
    if len(set(fmt)) != len(fmt) or frozenset(fmt) not in _FORMAT_LETTERS:
        raise ValueError(
            f"dataformats must be a permutation of 'HW', 'CHW' or 'NCHW' (e.g. 'HWC', 'NHWC'), got {dataformats!r}"
        )
    return fmt


def _grid(batch: np.ndarray, fmt: str) -> np.ndarray:
    """Tile a uint8 batch (axes named by ``fmt``) into one (rows*H, cols*W, 3 or 4) image like torch's make_grid.

    ``min(N, 8)`` columns, ``ceil(N / cols)`` rows, row-major, unused cells black.
    """
    nchw = batch.transpose([fmt.index(a) for a in "NCHW"])
    count, channels, height, width = nchw.shape
    cols = min(count, GRID_COLUMNS)
    rows = -(-count // cols)
    full = count // cols  # rows without empty cells
    out_channels = 3 if channels == 1 else channels
    canvas = np.zeros((rows, height, cols, width, out_channels), dtype=np.uint8)
    # Both copies below walk the axes in the source's order (e.g. H, W, C for NHWC input).
    order = [1 + "CHW".index(a) for a in fmt if a != "N"]
    if full:
        source = nchw[: full * cols].reshape(full, cols, channels, height, width)
        target = canvas[:full].transpose(0, 2, 4, 1, 3)  # (full, cols, C, H, W) view into the canvas
        walk = [0, 1] + [axis + 1 for axis in order]
        _copy_in_source_order(source.transpose(walk), target.transpose(walk))
    rest = count - full * cols
    if rest:
        source = nchw[full * cols :]
        target = canvas[full, :, :rest].transpose(1, 3, 0, 2)  # (rest, C, H, W)
        walk = [0] + order
        _copy_in_source_order(source.transpose(walk), target.transpose(walk))
    return canvas.reshape(rows * height, cols * width, out_channels)


def _copy_in_source_order(source: np.ndarray, target: np.ndarray) -> None:
    """``target[...] = source`` (broadcasting a size-1 channel axis), walking the axes in the given order.

    A ufunc with ``out=`` iterates in the order of the axes as passed, so a contiguous source is
    read sequentially and the target is written strided; ``copyto``/slice assignment follow the
    target's layout instead, which makes CHW -> HWC about 3x slower.
    """
    np.positive(source, out=target)


def _check_rescale(rescale: Any) -> None:
    if isinstance(rescale, bool) or not isinstance(rescale, numbers.Real):
        raise TypeError(f"rescale must be a number, got {type(rescale).__name__}")
    if not (math.isfinite(rescale) and float(rescale) > 0):
        raise ValueError(f"rescale must be a positive finite number, got {rescale}")


def _rescaled(pixels: np.ndarray, rescale: Any) -> np.ndarray:
    _check_rescale(rescale)
    if rescale == 1:
        return pixels
    height, width = pixels.shape[:2]
    size = (int(width * rescale), int(height * rescale))
    if min(size) < 1:
        raise ValueError(f"rescale {rescale} shrinks the {width}x{height} image to nothing")
    if size == (width, height):
        return pixels
    from PIL import Image

    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def _label_list(labels: Any, count: int) -> Optional[List[str]]:
    if labels is None:
        return None
    if isinstance(labels, str):
        labels = [labels]
    try:
        label_list = list(labels)
    except TypeError:
        raise TypeError(f"labels must be a list of str, got {type(labels).__name__}") from None
    if not all(isinstance(label, str) for label in label_list):
        raise TypeError("labels must be a list of str")
    if len(label_list) != count:
        raise ValueError(f"labels has {len(label_list)} entries but box_tensor has {count} boxes")
    return label_list


def _draw_boxes(image: Any, boxes: List[List[float]], labels: Optional[List[str]]) -> None:
    from PIL import ImageDraw, ImageFont

    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default() if labels and any(labels) else None
    for index, (x1, y1, x2, y2) in enumerate(boxes):
        # One closed polyline, so the corners are drawn the way torch draws them.
        draw.line([(x1, y1), (x1, y2), (x2, y2), (x2, y1), (x1, y1)], fill="red", width=2)
        label = labels[index] if labels else ""
        if not label or font is None:
            continue
        left, top, right, bottom = font.getbbox(label)
        text_width, text_height = right - left, bottom - top
        margin = float(math.ceil(0.05 * text_height))
        draw.rectangle([(x1, y2 - text_height - 2 * margin), (x1 + text_width, y2)], fill="red")
        draw.text((x1 + margin, y2 - text_height - margin), label, fill="black", font=font)


def _render_figure(figure: Any, close: bool) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    original_canvas = figure.canvas
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    pixels = np.array(np.asarray(canvas.buffer_rgba())[:, :, :3])  # copy: the buffer dies with the canvas
    if close:
        # Only pyplot keeps figures alive; one it never saw needs no closing (and importing
        # pyplot just to close it would cost a backend set-up).
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close(figure)
    else:
        figure.set_canvas(original_canvas)
    return pixels
