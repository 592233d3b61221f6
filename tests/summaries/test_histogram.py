"""Histograms: exact buckets, read back through TensorBoard's loaders; input errors (against torch:
test_histogram_torch.py)."""

from __future__ import annotations

import numpy as np
import pytest
from support.tbutil import legacy_accumulator, plugin_accumulator

from eventwriter import SummaryWriter
from eventwriter.summaries.histogram import histogram_raw_summary, histogram_summary, tensorflow_bin_edges



EDGES = tensorflow_bin_edges()


def _torch_default_bins():
    # The 1549 "tensorflow" edges exactly as torch's SummaryWriter builds them.
    edge, positive = 1e-12, []
    while edge < 1e20:
        positive.append(edge)
        edge *= 1.1
    return [-e for e in positive[::-1]] + [0] + positive


TORCH_BINS = _torch_default_bins()


def test_edges_match_torch():
    assert len(EDGES) == 1549
    assert EDGES.tolist() == TORCH_BINS
    assert not EDGES.flags.writeable


RNG = np.random.default_rng(1234)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tensorflow_buckets_equal_numpy_on_adversarial_values(dtype):
    # Every edge (rounded to the dtype), its neighbouring floats, extremes, subnormals, zeros and
    # random bit patterns: the lookup-table bucketing must agree with numpy.histogram exactly.
    info = np.finfo(dtype)
    edges = EDGES.astype(dtype)
    special = np.array([0.0, -0.0, info.smallest_subnormal, -info.smallest_subnormal, info.tiny, -info.tiny, 1.0, -1.0], dtype)
    int_type = np.int32 if dtype == np.float32 else np.int64
    bits = np.random.default_rng(7).integers(np.iinfo(int_type).min, np.iinfo(int_type).max, 400_000, dtype=int_type)
    random = bits.view(dtype)
    random = random[np.isfinite(random) & (np.abs(random) <= EDGES[-1])]
    values = np.concatenate(
        [edges, np.nextafter(edges, dtype(np.inf)), np.nextafter(edges, dtype(-np.inf)), special, random]
    )
    if dtype == np.float64:
        values = np.concatenate([values, EDGES, -EDGES])
    values = values[np.abs(values.astype(np.float64)) <= EDGES[-1]]
    histo = histogram_summary("h", values).value[0].histo
    counts, _ = np.histogram(values.astype(np.float64), EDGES)
    nonzero = np.flatnonzero(counts)
    first, last = nonzero[0], nonzero[-1]
    expected = ([0] if first == 0 else [counts[first - 1]]) + counts[first : last + 1].tolist()
    assert list(histo.bucket) == expected
    assert list(histo.bucket_limit) == EDGES[first : last + 2].tolist()
    assert sum(histo.bucket) == len(values)


def test_all_values_beyond_the_bins_raise():
    with pytest.raises(ValueError, match="values: all 2 value"):
        histogram_summary("h", np.array([1e21, 2e21]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_raise(bad):
    with pytest.raises(ValueError, match="values must be finite, got 1 NaN or infinite"):
        histogram_summary("h", np.array([1.0, bad, 2.0], dtype=np.float32))


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"values": []}, ValueError, "values must not be empty"),
        ({"values": np.array([1 + 2j])}, TypeError, "values must hold real numbers"),
        ({"values": ["a", "b"]}, TypeError, "values must hold real numbers"),
        ({"values": None}, TypeError, "values"),
        ({"values": [1.0], "bins": "nope"}, ValueError, "bins must be 'tensorflow'"),
        ({"values": [1.0], "bins": 0}, ValueError, "bins must be a positive number"),
        ({"values": [1.0], "bins": True}, TypeError, "bins must be"),
        ({"values": [1.0], "bins": [3.0, 1.0]}, ValueError, "bins as edges must be finite and increase"),
        ({"values": [1.0], "max_bins": 0}, ValueError, "max_bins must be at least 1"),
        ({"values": [1.0], "max_bins": 2.5}, TypeError, "max_bins must be an int"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        histogram_summary("h", **kwargs)


@pytest.mark.parametrize(
    "override,error,match",
    [
        ({"bucket_counts": [1, 2]}, ValueError, "bucket_limits and bucket_counts must have the same length, got 3 and 2"),
        ({"bucket_limits": [[1, 2, 3]]}, ValueError, "bucket_limits must be 1-D"),
        ({"bucket_counts": ["a", "b", "c"]}, TypeError, "bucket_counts must hold real numbers"),
        ({"min": "zero"}, TypeError, "min must be a real number"),
        ({"num": [1, 2]}, TypeError, "num must be a real number"),
    ],
)
def test_histogram_raw_bad_input(override, error, match):
    args = dict(min=0, max=3, num=6, sum=9, sum_squares=19, bucket_limits=[1, 2, 3], bucket_counts=[1, 2, 3])
    args.update(override)
    with pytest.raises(error, match=match):
        histogram_raw_summary("raw", **args)


def test_failed_call_writes_nothing(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    with pytest.raises(ValueError):
        writer.add_histogram("h", np.array([np.nan]), 0)
    writer.add_histogram("ok", np.ones(3), 1)
    writer.close()
    acc = legacy_accumulator(tmp_path)
    assert acc.Tags()["histograms"] == ["ok"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_input_split_across_threads_matches_numpy(dtype):
    """Inputs big enough to be bucketed on two threads give numpy's exact counts."""
    from eventwriter.summaries import histogram as histogram_module

    size = histogram_module._PARALLEL_MIN_SIZE * 2 + 17
    values = (RNG.standard_normal(size) * np.exp(RNG.uniform(-10, 10, size))).astype(dtype)
    values[::1000] = 0.0
    histo = histogram_summary("h", values).value[0].histo
    edges = histogram_module.tensorflow_bin_edges()
    counts, _ = np.histogram(values.astype(np.float64), bins=edges)
    nonzero = np.flatnonzero(counts)
    first, last = int(nonzero[0]), int(nonzero[-1])
    expected = counts[first - 1 : last + 1] if first > 0 else np.concatenate(([0], counts[: last + 1]))
    assert list(histo.bucket) == expected.astype(np.float64).tolist()
    assert histo.num == size and histo.min == float(values.min()) and histo.max == float(values.max())
    with pytest.raises(ValueError, match="finite"):
        bad = values.copy()
        bad[size - 3] = np.nan
        histogram_summary("h", bad)


@pytest.mark.parametrize(
    "overrides, words",
    [
        (dict(bucket_counts=[-1.0, 4.0]), "bucket_counts"),
        (dict(bucket_counts=[np.nan, 4.0]), "bucket_counts"),
        (dict(bucket_limits=[1.0, 0.5]), "bucket_limits"),
        (dict(num=-3), "num"),
        (dict(min=2.0, max=1.0), "min"),
    ],
)
def test_raw_histogram_rejects_impossible_values(tmp_path, overrides, words):
    from eventwriter import SummaryWriter as OurWriter

    args = dict(min=0.0, max=1.0, num=5, sum=2.0, sum_squares=1.0, bucket_limits=[0.5, 1.0], bucket_counts=[1.0, 4.0])
    args.update(overrides)
    with OurWriter(tmp_path) as w:
        with pytest.raises(ValueError, match=words):
            w.add_histogram_raw("h", **args)
    assert plugin_accumulator(tmp_path).Tags()["tensors"] == []
