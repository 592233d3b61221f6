"""add_pr_curve against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_pr_curve.py)."""

from __future__ import annotations

import numpy as np
import pytest
from support.tbutil import plugin_accumulator, write_both

from eventwriter.summaries.pr_curve import pr_curve_summary
from eventwriter.tensor_codec import tensor_to_numpy

torch = pytest.importorskip("torch")

from test_pr_curve import RNG, _curve, _expected  # noqa: E402


def _write_both(tmp_path, calls):
    return [plugin_accumulator(run) for run in write_both(tmp_path, calls)]


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


def test_large_weighted_input_sums_like_numpy_blocks():
    # > 65536 examples with fractional weights: numpy.histogram (torch) sums per 65536-block.
    n = 150_000
    labels, predictions, weights = RNG.integers(0, 2, n), RNG.random(n).astype(np.float32), RNG.random(n)
    from torch.utils.tensorboard.summary import pr_curve as torch_pr_curve

    theirs = np.array(torch_pr_curve("pr", labels, predictions, 127, weights).value[0].tensor.float_val, np.float32)
    ours = tensor_to_numpy(pr_curve_summary("pr", labels, predictions, 127, weights).value[0].tensor)
    np.testing.assert_array_equal(ours.reshape(-1), theirs)


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
