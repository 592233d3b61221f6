"""Row builders: one function per output kind, from a value's data to that kind's columns.

Each builder takes the ``(field, data)`` of a :class:`~.values.ValueView` and returns a tuple of
the kind's own columns (after ``run, tag, step, wall_time``), or ``None`` when the value cannot be
a row of that kind (for example a string tensor under a scalar tag). Media builders return a list
of rows, one per image or clip. Values follow what TensorBoard's Python data layer stores after
its old-style rewrite (docs/FORMAT.md §5.2).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ..metadata import (
    GRAPH_PLUGINS,
    PLUGIN_AUDIO,
    PLUGIN_HISTOGRAMS,
    PLUGIN_IMAGES,
    PLUGIN_PR_CURVES,
    PLUGIN_SCALARS,
    PLUGIN_TEXT,
    TABLE_PLUGINS,
)
from ..tensor_codec import tensor_to_numpy

Row = Tuple[Any, ...]


def _array(data: Any, text: bool) -> Optional[np.ndarray]:
    """The tensor as an array, or None if it does not decode or is not of the wanted sort.

    ``text``: strings (an object array) are wanted; otherwise numbers.
    """
    try:
        array = tensor_to_numpy(data)
    except ValueError:
        return None
    return array if (array.dtype == object) == text else None


def scalar_row(field: Optional[str], data: Any, payload: bool = False) -> Optional[Row]:
    """``(value,)``: a ``simple_value``, or a numeric tensor of one element."""
    if field == "simple_value":
        return (float(data),)
    if field == "tensor":
        array = _array(data, text=False)
        if array is not None and array.size == 1:
            return (float(array.reshape(()).real),)
    return None


def _trimmed_buckets(histo: Any) -> np.ndarray:
    """An old-style histogram as the ``[k, 3]`` float32 (left, right, count) rows of the data layer."""
    counts = list(histo.bucket)
    nonempty = [i for i, c in enumerate(counts) if c > 0]
    if not nonempty:
        return np.zeros((0, 3), np.float32)
    start, end = nonempty[0], nonempty[-1]
    inner = list(histo.bucket_limit[start:end])
    return np.array([[histo.min] + inner, inner + [histo.max], counts[start : end + 1]], dtype=np.float32).T


def histogram_row(field: Optional[str], data: Any, payload: bool = False) -> Optional[Row]:
    """``(left, right, count)`` lists: the bucket edges and counts of a ``[k, 3]`` histogram."""
    if field == "histo":
        buckets = _trimmed_buckets(data)
    elif field == "tensor":
        array = _array(data, text=False)
        if array is None or array.ndim != 2 or array.shape[1] != 3:
            return None
        buckets = array
    else:
        return None
    columns = buckets.astype(np.float64).T
    return (columns[0].tolist(), columns[1].tolist(), columns[2].tolist())


def text_row(field: Optional[str], data: Any, payload: bool = False) -> Optional[Row]:
    """``(text, shape)``: a string tensor's elements, UTF-8 decoded and joined by newlines."""
    if field != "tensor":
        return None
    array = _array(data, text=True)
    if array is None:
        return None
    texts = [b.decode("utf-8", "replace") for b in array.ravel()]
    return ("\n".join(texts), list(array.shape))


_PR_FIELDS = ("true_positives", "false_positives", "true_negatives", "false_negatives", "precision", "recall")


def pr_curve_row(field: Optional[str], data: Any, payload: bool = False) -> Optional[Row]:
    """Six lists (TP, FP, TN, FN, precision, recall), one entry per threshold."""
    if field != "tensor":
        return None
    array = _array(data, text=False)
    if array is None or array.ndim != 2 or array.shape[0] != 6:
        return None
    return tuple(array.astype(np.float64)[i].tolist() for i in range(6))


def _sniff(blob: bytes) -> str:
    if blob.startswith(b"\x89PNG"):
        return "png"
    if blob.startswith(b"\xff\xd8"):
        return "jpeg"
    if blob.startswith(b"GIF8"):
        return "gif"
    if blob.startswith(b"BM"):
        return "bmp"
    if blob.startswith(b"RIFF") and blob[8:12] == b"WAVE":
        return "wav"
    return "unknown"


def image_rows(field: Optional[str], data: Any, payload: bool = False) -> Optional[List[Row]]:
    """One ``(index, width, height, format, size, data)`` row per image of the value."""
    if field == "image":
        width, height, blobs = data.width, data.height, [data.encoded_image_string]
    elif field == "tensor":
        array = _array(data, text=True)
        if array is None or array.ndim != 1 or len(array) < 2:
            return None
        try:
            width, height = int(array[0]), int(array[1])
        except ValueError:
            return None
        blobs = list(array[2:])
    else:
        return None
    return [(i, width, height, _sniff(b), len(b), b if payload else None) for i, b in enumerate(blobs)]


def audio_rows(field: Optional[str], data: Any, payload: bool = False) -> Optional[List[Row]]:
    """One ``(index, sample_rate, format, size, label, data)`` row per clip of the value."""
    if field == "audio":
        rate: Optional[float] = data.sample_rate
        clips, labels = [data.encoded_audio_string], [""]
    elif field == "tensor":
        array = _array(data, text=True)
        if array is None or array.ndim not in (1, 2):
            return None
        rate = None
        if array.ndim == 2:
            clips = list(array[:, 0])
            labels = [b.decode("utf-8", "replace") for b in array[:, 1]] if array.shape[1] > 1 else [""] * len(clips)
        else:
            clips, labels = list(array), [""] * len(array)
    else:
        return None
    rows = []
    for i, (clip, label) in enumerate(zip(clips, labels)):
        if rate is None and clip[:4] == b"RIFF" and len(clip) >= 28:
            sample_rate: Optional[float] = float(int.from_bytes(clip[24:28], "little"))
        else:
            sample_rate = rate
        rows.append((i, sample_rate, _sniff(clip), len(clip), label, clip if payload else None))
    return rows


def tensor_row(field: Optional[str], data: Any, payload: bool = False) -> Optional[Row]:
    """``(dtype, shape, value)``: any tensor as a numpy array (strings as bytes objects)."""
    if field != "tensor":
        return None
    try:
        array = tensor_to_numpy(data)
    except ValueError:
        return None
    return ("string" if array.dtype == object else str(array.dtype), list(array.shape), array)


class Kind:
    """What a kind reads: its plugins, its columns after ``run, tag, step, wall_time``, its builder."""

    def __init__(self, name: str, plugins: Optional[frozenset], columns: Tuple[str, ...], build: Callable, many: bool = False):
        self.name = name
        self.plugins = plugins  # None: every plugin that no other kind claims
        self.columns = columns
        self.build = build
        self.many = many  # the builder returns a list of rows

    def wants(self, plugin: Optional[str]) -> bool:
        """Whether a tag of ``plugin`` (None: a tag that never had metadata) belongs to this kind.

        ``tensors`` takes every plugin no other kind claims, and tags without any metadata
        (``tf.summary.write`` without a plugin): TensorBoard's accumulator stores those too.
        """
        if self.plugins is None:
            return plugin not in CLAIMED
        return plugin in self.plugins


KINDS: Dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("scalars", frozenset({PLUGIN_SCALARS}), ("value",), scalar_row),
        Kind("histograms", frozenset({PLUGIN_HISTOGRAMS}), ("left", "right", "count"), histogram_row),
        Kind("text", frozenset({PLUGIN_TEXT}), ("text", "shape"), text_row),
        Kind("pr_curves", frozenset({PLUGIN_PR_CURVES}), _PR_FIELDS, pr_curve_row),
        Kind("images", frozenset({PLUGIN_IMAGES}), ("index", "width", "height", "format", "size", "data"), image_rows, many=True),
        Kind("audio", frozenset({PLUGIN_AUDIO}), ("index", "sample_rate", "format", "size", "label", "data"), audio_rows, many=True),
        Kind("tensors", None, ("dtype", "shape", "value"), tensor_row),
    )
}
# Plugins with a kind of their own (or no tensor rows at all) are not repeated under ``tensors``.
CLAIMED = TABLE_PLUGINS | GRAPH_PLUGINS
