"""PR curves: tensors through TensorBoard's loaders, any threshold count, input checks (against torch:
test_pr_curve_torch.py)."""

from __future__ import annotations

import numpy as np
import pytest
from support.tbutil import plugin_accumulator, tensor_values
from tensorboard.plugins.pr_curve import plugin_data_pb2 as tb_pr_pb2

from eventwriter import SummaryWriter
from eventwriter.summaries.pr_curve import pr_curve_raw_summary, pr_curve_summary
from eventwriter.tensor_codec import tensor_to_numpy


RNG = np.random.default_rng(99)


def _curve(acc, tag):
    meta = acc.SummaryMetadata(tag)
    assert meta.plugin_data.plugin_name == "pr_curves"
    content = tb_pr_pb2.PrCurvePluginData.FromString(meta.plugin_data.content)
    return content, tensor_values(acc, tag)


def _expected(labels, predictions, thresholds, weights=None):
    """Brute force, one threshold at a time: counts of examples whose bucket is >= i."""
    labels = np.asarray(labels, dtype=np.float64)
    weights = np.ones_like(labels) if weights is None else np.asarray(weights, dtype=np.float64)
    scaled = np.asarray(predictions, dtype=np.float64) * (thresholds - 1)
    rows = []
    for i in range(thresholds):
        above = scaled >= i
        tp = np.sum(labels * weights * above)
        fp = np.sum((1 - labels) * weights * above)
        rows.append((tp, fp))
    tp, fp = np.array(rows).T
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return np.stack([tp, fp, tn, fn, precision, recall])


@pytest.mark.parametrize("thresholds", [200, 500])
def test_more_than_127_thresholds(tmp_path, thresholds):
    labels, predictions = RNG.integers(0, 2, 2000), RNG.random(2000)
    weights = RNG.random(2000)
    writer = SummaryWriter(str(tmp_path))
    writer.add_pr_curve("pr", labels, predictions, 1, num_thresholds=thresholds, weights=weights)
    writer.close()
    meta, [(step, values)] = _curve(plugin_accumulator(tmp_path), "pr")
    assert meta.num_thresholds == thresholds and step == 1
    assert values.shape == (6, thresholds)
    np.testing.assert_allclose(values, _expected(labels, predictions, thresholds, weights), rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"labels": [1, 0, 1]}, ValueError, "same number of elements, got 3 and 4"),
        ({"predictions": [0.1, 0.2, 1.5, 0.3]}, ValueError, r"predictions must be in \[0, 1\]"),
        ({"predictions": [0.1, -0.2, 0.5, 0.3]}, ValueError, r"predictions must be in \[0, 1\]"),
        ({"predictions": [0.1, np.nan, 0.5, 0.3]}, ValueError, "predictions must not contain NaN"),
        ({"predictions": [0.1, np.inf, 0.5, 0.3]}, ValueError, r"predictions must be in \[0, 1\]"),
        ({"predictions": [0, 2, 1, 0]}, ValueError, r"predictions must be in \[0, 1\]"),
        ({"labels": [1.0, np.nan, 0.0, 1.0]}, ValueError, "labels must not contain NaN"),
        ({"labels": [2, 0, 1, 1]}, ValueError, r"labels must be in \[0, 1\]"),
        ({"labels": ["a", "b", "c", "d"]}, TypeError, "labels must hold real numbers"),
        ({"labels": [], "predictions": []}, ValueError, "must not be empty"),
        ({"weights": [1.0, 1.0]}, ValueError, "weights must be one number or have one element per label"),
        ({"weights": [1.0, -1.0, 1.0, 1.0]}, ValueError, "weights must be finite and non-negative"),
        ({"weights": np.nan}, ValueError, "weights must be finite and non-negative"),
        ({"num_thresholds": 1}, ValueError, "num_thresholds must be at least 2"),
        ({"num_thresholds": 2.5}, TypeError, "num_thresholds must be an int"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, error, match):
    args = dict(labels=[1, 0, 1, 0], predictions=[0.9, 0.1, 0.6, 0.4])
    args.update(kwargs)
    with pytest.raises(error, match=match):
        pr_curve_summary("pr", **args)


def test_scalar_weight_equals_repeated_weight():
    labels, predictions = [1, 0, 1, 0], [0.9, 0.1, 0.6, 0.4]
    one = tensor_to_numpy(pr_curve_summary("pr", labels, predictions, 5, weights=2.0).value[0].tensor)
    many = tensor_to_numpy(pr_curve_summary("pr", labels, predictions, 5, weights=[2.0] * 4).value[0].tensor)
    np.testing.assert_array_equal(one, many)
    assert one[0, 0] == 4.0  # two positives of weight 2


def test_pr_curve_raw_bad_input():
    good = [np.arange(5)] * 6
    with pytest.raises(ValueError, match="same length, got .*precision=4"):
        pr_curve_raw_summary("raw", *good[:4], np.arange(4), np.arange(5))
    with pytest.raises(ValueError, match="recall must be a non-empty 1-D array"):
        pr_curve_raw_summary("raw", *good[:5], np.ones((5, 1)))
    with pytest.raises(TypeError, match="precision must hold real numbers"):
        pr_curve_raw_summary("raw", *good[:4], ["x"] * 5, np.arange(5))
    with pytest.raises(ValueError, match="num_thresholds must be at least 2"):
        pr_curve_raw_summary("raw", *good, num_thresholds=0)


@pytest.mark.parametrize(
    "index, bad, words",
    [(0, -1.0, "true_positive_counts"), (3, np.inf, "false_negative_counts"), (4, 1.5, "precision"), (5, np.nan, "recall")],
)
def test_raw_pr_curve_rejects_impossible_values(index, bad, words):
    from eventwriter.summaries.pr_curve import pr_curve_raw_summary

    arrays = [np.array([3.0, 1.0]), np.array([2.0, 0.0]), np.array([0.0, 2.0]), np.array([0.0, 2.0]), np.array([0.6, 1.0]), np.array([1.0, 0.33])]
    arrays[index] = arrays[index].copy()
    arrays[index][0] = bad
    with pytest.raises(ValueError, match=words):
        pr_curve_raw_summary("p", *arrays, num_thresholds=2)
