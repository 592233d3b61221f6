"""Precision-recall curves, computed as torch's ``add_pr_curve`` does (docs/FORMAT.md §4).

Layout: one ``Summary.Value{tag, tensor, metadata}``. The tensor is DT_FLOAT of shape
``[6, T]`` whose rows are true positives, false positives, true negatives, false negatives,
precision and recall; column ``i`` belongs to threshold ``i / (T - 1)``. The metadata names plugin
``pr_curves`` with content ``PrCurvePluginData{version 0, num_thresholds T}``. TensorBoard takes
``T`` from the tensor's shape.

The math: each prediction ``p`` falls in bucket ``floor(p * (T - 1))`` (computed in the
predictions' own float dtype, as torch does). Per bucket, positives add ``label * weight`` and
negatives ``(1 - label) * weight``. TP and FP are reverse cumulative sums over the buckets,
``TN = FP[0] - FP``, ``FN = TP[0] - TP``, ``precision = TP / max(1e-7, TP + FP)``,
``recall = TP / max(1e-7, TP + FN)``. For ``num_thresholds <= 127`` the values equal torch's.

Differences from torch:
* ``num_thresholds`` is not capped at 127 (any value >= 2 works; TensorBoard has no limit).
* Inputs are checked: labels and predictions must have the same number of elements, predictions
  must be finite and in [0, 1] (torch silently drops the others), labels must be in [0, 1]
  (bool, 0/1 or soft labels; torch turns a label of 2 into negative false-positive counts), and
  weights must be finite, non-negative and of the labels' length (or a single number).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import protos
from ..metadata import PLUGIN_PR_CURVES, summary_metadata
from ..arrays import real_array
from ..tensor_codec import tensor_proto

__all__ = ["pr_curve_summary", "pr_curve_raw_summary"]

_MINIMUM_COUNT = 1e-7
# numpy.histogram accumulates weighted counts in blocks of this many values; torch's counts are
# sums in that order, so we add block by block too (identical floats for fractional weights).
_NUMPY_HISTOGRAM_BLOCK = 65536


def _check_num_thresholds(num_thresholds: Any) -> int:
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)):
        raise TypeError(f"num_thresholds must be an int, got {type(num_thresholds).__name__}")
    if num_thresholds < 2:
        raise ValueError(f"num_thresholds must be at least 2, got {num_thresholds}")
    return int(num_thresholds)



def _summary(tag: str, data: np.ndarray, num_thresholds: int) -> "protos.Summary":
    content = protos.PrCurvePluginData(version=0, num_thresholds=num_thresholds).SerializeToString()
    value = protos.Summary.Value(
        tag=tag,
        tensor=tensor_proto(data.astype(np.float32)),
        metadata=summary_metadata(PLUGIN_PR_CURVES, content),
    )
    return protos.Summary(value=[value])


def pr_curve_summary(
    tag: str,
    labels: Any,
    predictions: Any,
    num_thresholds: int = 127,
    weights: Any = None,
) -> "protos.Summary":
    """Summary with the precision-recall curve of ``predictions`` against ``labels``.

    Args:
        tag: the series name.
        labels: ground truth per example: bool, 0/1, or a soft label in [0, 1] (any shape).
        predictions: probability of the positive class per example, in [0, 1] (any shape with
            the same number of elements as ``labels``).
        num_thresholds: number of thresholds (columns), at least 2; not capped at 127.
        weights: optional weight per example (same number of elements) or one number.

    Returns:
        ``Summary{value: [{tag, tensor DT_FLOAT [6, num_thresholds], metadata pr_curves}]}``.

    Raises:
        TypeError: non-numeric inputs, or ``num_thresholds`` not an int.
        ValueError: sizes differ, labels empty, NaN or outside [0, 1], predictions non-finite or
            outside [0, 1], negative or non-finite weights, ``num_thresholds`` < 2.
    """
    count = _check_num_thresholds(num_thresholds)
    label_array = real_array(labels, "labels").reshape(-1)
    prediction_array = real_array(predictions, "predictions").reshape(-1)
    if label_array.size != prediction_array.size:
        raise ValueError(
            f"labels and predictions must have the same number of elements, got {label_array.size} "
            f"and {prediction_array.size}"
        )
    if label_array.size == 0:
        raise ValueError("labels and predictions must not be empty")

    low, high = float(label_array.min()), float(label_array.max())
    if low != low or high != high:
        raise ValueError("labels must not contain NaN")
    if low < 0.0 or high > 1.0:
        raise ValueError(f"labels must be in [0, 1] (bool, 0/1 or soft labels), got values in [{low}, {high}]")

    if prediction_array.dtype.kind == "f":
        low, high = float(prediction_array.min()), float(prediction_array.max())
        if low != low or high != high:
            raise ValueError("predictions must not contain NaN")
        if low < 0.0 or high > 1.0:
            raise ValueError(f"predictions must be in [0, 1], got values in [{low}, {high}]")
        if prediction_array.dtype == np.float16 and count - 1 > 2048:
            prediction_array = prediction_array.astype(np.float32)  # (T - 1) would round in float16
    elif prediction_array.size and (prediction_array.min() < 0 or prediction_array.max() > 1):
        raise ValueError("predictions must be in [0, 1]")

    weight: Any
    if weights is None:
        weight = 1.0
    else:
        weight = real_array(weights, "weights").astype(np.float64).reshape(-1)
        if weight.size == 1:
            weight = float(weight[0])
            bad = not (weight >= 0.0 and weight != float("inf"))
        else:
            if weight.size != label_array.size:
                raise ValueError(
                    f"weights must be one number or have one element per label ({label_array.size}), "
                    f"got {weight.size}"
                )
            bad = not (np.all(np.isfinite(weight)) and float(weight.min()) >= 0.0)
        if bad:
            raise ValueError("weights must be finite and non-negative")

    # Same expressions and dtypes as torch, so the floats agree bit for bit.
    buckets = np.floor(prediction_array * (count - 1)).astype(np.intp)
    if weights is None and label_array.dtype.kind in "biu":
        # 0/1 labels without weights: whole counts, so one unweighted bincount over
        # (bucket, label) pairs gives exactly torch's two weighted histograms.
        buckets *= 2
        buckets += label_array.astype(bool)
        pairs = np.bincount(buckets, minlength=2 * count).reshape(count, 2).astype(np.float64)
        fp_buckets, tp_buckets = pairs[:, 0], pairs[:, 1]
    else:
        float_labels = label_array.astype(np.float64)
        positive_weight = float_labels * weight
        negative_weight = (1.0 - float_labels) * weight
        tp_buckets = np.zeros(count, dtype=np.float64)
        fp_buckets = np.zeros(count, dtype=np.float64)
        for start in range(0, buckets.size, _NUMPY_HISTOGRAM_BLOCK):
            block = slice(start, start + _NUMPY_HISTOGRAM_BLOCK)
            tp_buckets += np.bincount(buckets[block], weights=positive_weight[block], minlength=count)
            fp_buckets += np.bincount(buckets[block], weights=negative_weight[block], minlength=count)

    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(_MINIMUM_COUNT, tp + fn)
    return _summary(tag, np.stack((tp, fp, tn, fn, precision, recall)), count)


def pr_curve_raw_summary(
    tag: str,
    true_positive_counts: Any,
    false_positive_counts: Any,
    true_negative_counts: Any,
    false_negative_counts: Any,
    precision: Any,
    recall: Any,
    num_thresholds: int = 127,
    weights: Any = None,
) -> "protos.Summary":
    """Summary with a precision-recall curve from precomputed per-threshold values, stored as given.

    Args:
        tag: the series name.
        true_positive_counts, false_positive_counts, true_negative_counts, false_negative_counts,
        precision, recall: one value per threshold each (1-D, all the same length).
        num_thresholds: recorded in the metadata as given (TensorBoard reads the number of
            thresholds from the arrays' length); not capped at 127.
        weights: accepted for compatibility with torch and ignored, as torch does.

    Returns:
        ``Summary{value: [{tag, tensor DT_FLOAT [6, len], metadata pr_curves}]}``.

    Raises:
        TypeError: non-numeric arrays, or ``num_thresholds`` not an int.
        ValueError: arrays not 1-D, empty or of different lengths; negative or non-finite counts;
            precision or recall outside [0, 1]; ``num_thresholds`` < 2.
    """
    count = _check_num_thresholds(num_thresholds)
    names = (
        "true_positive_counts",
        "false_positive_counts",
        "true_negative_counts",
        "false_negative_counts",
        "precision",
        "recall",
    )
    arrays = [
        real_array(value, name)
        for name, value in zip(
            names,
            (true_positive_counts, false_positive_counts, true_negative_counts, false_negative_counts, precision, recall),
        )
    ]
    for name, array in zip(names, arrays):
        if array.ndim != 1 or array.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array, got shape {array.shape}")
    lengths = {array.size for array in arrays}
    if len(lengths) != 1:
        found = ", ".join(f"{name}={array.size}" for name, array in zip(names, arrays))
        raise ValueError(f"the six arrays must have the same length, got {found}")
    for name, array in zip(names[:4], arrays[:4]):
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"{name} must be finite and non-negative")
    for name, array in zip(names[4:], arrays[4:]):
        if not np.all((array >= 0) & (array <= 1)):
            raise ValueError(f"{name} must lie in [0, 1] (and not be NaN)")
    return _summary(tag, np.stack([array.astype(np.float64) for array in arrays]), count)
