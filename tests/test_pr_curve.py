"""PR curves: same tensors as torch (for <= 127 thresholds), any threshold count, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from support.tbutil import plugin_accumulator, tensor_values, write_both
from tensorboard.plugins.pr_curve import plugin_data_pb2 as tb_pr_pb2

from eventwriter import SummaryWriter
from eventwriter.summaries.pr_curve import pr_curve_raw_summary, pr_curve_summary
from eventwriter.tensor_codec import tensor_to_numpy

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(99)


def _write_both(tmp_path, calls):
    return [plugin_accumulator(run) for run in write_both(tmp_path, calls)]


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


CASES = {
    "int_labels_float32_tensor": (RNG.integers(0, 2, 1000), torch.from_numpy(RNG.random(1000).astype(np.float32)), None),
    "bool_labels_float64": (RNG.random(300) > 0.4, RNG.random(300), None),
    "weighted": (RNG.integers(0, 2, 500), RNG.random(500).astype(np.float32), RNG.random(500)),
    "soft_labels": (RNG.random(200), RNG.random(200), None),
    "edges_0_and_1": (np.array([1, 0, 1, 0, 1]), np.array([0.0, 1.0, 1.0, 0.5, 0.0]), None),
    "tensor_labels": (torch.tensor([1, 1, 0, 0]), torch.tensor([0.9, 0.2, 0.7, 0.1]), None),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("thresholds", [2, 5, 127])
def test_pr_curve_matches_torch(tmp_path, name, thresholds):
    labels, predictions, weights = CASES[name]
    theirs, ours = _write_both(
        tmp_path, lambda w: w.add_pr_curve("pr", labels, predictions, 7, num_thresholds=thresholds, weights=weights)
    )
    (our_meta, our_values), (their_meta, their_values) = _curve(ours, "pr"), _curve(theirs, "pr")
    assert our_meta == their_meta
    assert our_meta.num_thresholds == thresholds
    [(our_step, mine)], [(their_step, other)] = our_values, their_values
    assert our_step == their_step == 7
    assert mine.dtype == other.dtype == np.float32
    assert mine.shape == other.shape == (6, thresholds)
    np.testing.assert_array_equal(mine, other)
    np.testing.assert_allclose(mine, _expected(np.asarray(labels), np.asarray(predictions), thresholds, weights), rtol=1e-6, atol=1e-6)


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


def test_large_weighted_input_sums_like_numpy_blocks():
    # > 65536 examples with fractional weights: numpy.histogram (torch) sums per 65536-block.
    n = 150_000
    labels, predictions, weights = RNG.integers(0, 2, n), RNG.random(n).astype(np.float32), RNG.random(n)
    from torch.utils.tensorboard.summary import pr_curve as torch_pr_curve

    theirs = np.array(torch_pr_curve("pr", labels, predictions, 127, weights).value[0].tensor.float_val, np.float32)
    ours = tensor_to_numpy(pr_curve_summary("pr", labels, predictions, 127, weights).value[0].tensor)
    np.testing.assert_array_equal(ours.reshape(-1), theirs)


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


def test_pr_curve_raw_matches_torch(tmp_path):
    thresholds = 9
    data = {
        "true_positive_counts": RNG.integers(0, 100, thresholds),
        "false_positive_counts": RNG.integers(0, 100, thresholds),
        "true_negative_counts": torch.from_numpy(RNG.integers(0, 100, thresholds)),
        "false_negative_counts": RNG.integers(0, 100, thresholds).tolist(),
        "precision": RNG.random(thresholds),
        "recall": RNG.random(thresholds).astype(np.float32),
    }
    theirs, ours = _write_both(tmp_path, lambda w: w.add_pr_curve_raw("raw", global_step=2, num_thresholds=thresholds, **data))
    (our_meta, [(our_step, mine)]), (their_meta, [(their_step, other)]) = _curve(ours, "raw"), _curve(theirs, "raw")
    assert our_meta == their_meta and our_step == their_step == 2
    assert mine.dtype == other.dtype and mine.shape == other.shape == (6, thresholds)
    np.testing.assert_array_equal(mine, other)


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
