"""add_histogram against torch.utils.tensorboard: the same calls through both writers, compared
value by value through TensorBoard's loaders (this file needs torch; the torch-free tests are in
test_histogram.py)."""

from __future__ import annotations

import numpy as np
import pytest
from support.tbutil import legacy_accumulator, plugin_accumulator, tensor_values, write_both

from eventwriter.summaries.histogram import histogram_raw_summary, histogram_summary

torch = pytest.importorskip("torch")
from torch.utils.tensorboard.summary import histogram as torch_histogram  # noqa: E402

from test_histogram import EDGES, RNG, TORCH_BINS  # noqa: E402


def _assert_histo_equal(ours, theirs):
    assert ours.min == theirs.min
    assert ours.max == theirs.max
    assert ours.num == theirs.num
    # torch sums the whole array and uses BLAS dot; we sum per chunk: same values up to rounding.
    assert ours.sum == pytest.approx(theirs.sum, rel=1e-13, abs=1e-12 * max(1.0, abs(ours.max), abs(ours.min)))
    assert ours.sum_squares == pytest.approx(theirs.sum_squares, rel=1e-13, abs=1e-300)
    assert list(ours.bucket_limit) == list(theirs.bucket_limit)
    assert list(ours.bucket) == list(theirs.bucket)


INPUTS = {
    "normal_float32_tensor": torch.from_numpy(RNG.standard_normal(20_000).astype(np.float32)),
    "normal_float64": RNG.standard_normal(5_000),
    "constant": np.full(100, 3.5),
    "single_value": np.array([0.25]),
    "negative_only": -np.abs(RNG.standard_normal(500)) - 1e-3,
    "zeros_and_signed_zero": np.array([0.0, -0.0, 0.0, 1e-300, -1e-300]),
    "ints": RNG.integers(-50, 50, (10, 10)),
    "uint8": RNG.integers(0, 256, 300).astype(np.uint8),
    "bool": RNG.random(50) > 0.5,
    "float16_tensor": torch.randn(1000, generator=torch.Generator().manual_seed(0)).half(),
    "big_endian": RNG.standard_normal(400).astype(">f8"),
    "wide_range": RNG.standard_normal(3_000) * np.exp(RNG.uniform(-40, 40, 3_000)),
    "on_edges": np.concatenate([EDGES[::7], np.nextafter(EDGES[::11], np.inf), np.nextafter(EDGES[::13], -np.inf)]),
}


BIN_SETTINGS = [("tensorflow", None), ("tensorflow", 100), (10, None), ("auto", None), ("fd", None), (30, 7)]


# numpy's estimators ask for ~1e16 bins on these inputs (a MemoryError in torch too): not a case.
ESTIMATOR_UNSUITABLE = {"wide_range", "on_edges"}


@pytest.mark.parametrize(
    "name,bins,max_bins",
    [
        (name, bins, max_bins)
        for name in sorted(INPUTS)
        for bins, max_bins in BIN_SETTINGS
        if not (name in ESTIMATOR_UNSUITABLE and bins in ("auto", "fd"))
    ],
)
def test_builder_matches_torch(name, bins, max_bins):
    values = INPUTS[name]
    if name == "on_edges" and bins == "tensorflow":
        # it holds the float just above the last edge: not counted, with a warning (tested below)
        values = values[np.abs(values) <= EDGES[-1]]
    torch_bins = TORCH_BINS if bins == "tensorflow" else bins
    theirs = torch_histogram("h", values, torch_bins, max_bins=max_bins).value[0]
    ours = histogram_summary("h", values, bins=bins, max_bins=max_bins).value[0]
    assert ours.tag == theirs.tag == "h"
    assert not ours.HasField("metadata")
    _assert_histo_equal(ours.histo, theirs.histo)


def test_explicit_edges_match_torch():
    values = RNG.standard_normal(1000)
    edges = [-3.0, -1.0, 0.0, 0.5, 2.0, 4.0]
    _assert_histo_equal(histogram_summary("h", values, bins=edges).value[0].histo, torch_histogram("h", values, edges).value[0].histo)


def test_large_input_matches_torch_and_chunks_add_up():
    # More than one 65536-value chunk, plus values exactly on the last (closed) edge.
    values = RNG.standard_normal(200_003).astype(np.float32)
    _assert_histo_equal(histogram_summary("h", values).value[0].histo, torch_histogram("h", values, TORCH_BINS).value[0].histo)
    on_last = np.array([EDGES[-1], EDGES[-1], 1.0, EDGES[0]])
    histo = histogram_summary("h", on_last).value[0].histo
    _assert_histo_equal(histo, torch_histogram("h", on_last, TORCH_BINS).value[0].histo)
    assert sum(histo.bucket) == 4


def test_values_beyond_the_bins_warn_and_are_not_counted_like_torch():
    values = np.array([1.0, 2.0, 1e25, -1e30])
    with pytest.warns(UserWarning, match="values: 2 value"):
        ours = histogram_summary("h", values).value[0].histo
    _assert_histo_equal(ours, torch_histogram("h", values, TORCH_BINS).value[0].histo)
    assert sum(ours.bucket) == 2 and ours.num == 4 and ours.max == 1e25


def test_writer_matches_torch_through_both_loaders(tmp_path):
    data = RNG.standard_normal((3, 2000)).astype(np.float32)

    def calls(writer):
        for step in range(3):
            writer.add_histogram("weights", torch.from_numpy(data[step] * (step + 1)), step)
        writer.add_histogram("ints", np.arange(100), 5, bins=10)
        writer.add_histogram("merged", data[0], 6, max_bins=50)

    torch_dir, our_dir = write_both(tmp_path, calls)
    theirs, ours = legacy_accumulator(torch_dir), legacy_accumulator(our_dir)
    assert sorted(ours.Tags()["histograms"]) == sorted(theirs.Tags()["histograms"]) == ["ints", "merged", "weights"]
    for tag in ours.Tags()["histograms"]:
        mine, other = ours.Histograms(tag), theirs.Histograms(tag)
        assert [e.step for e in mine] == [e.step for e in other]
        for a, b in zip(mine, other):
            _assert_histo_equal(a.histogram_value, b.histogram_value)
        # the Distributions dashboard's compressed form
        assert [c.compressed_histogram_values for c in ours.CompressedHistograms(tag)] == [
            c.compressed_histogram_values for c in theirs.CompressedHistograms(tag)
        ]
    theirs, ours = plugin_accumulator(torch_dir), plugin_accumulator(our_dir)
    for tag in ("weights", "ints", "merged"):
        assert ours.SummaryMetadata(tag).plugin_data.plugin_name == "histograms"
        mine, other = tensor_values(ours, tag), tensor_values(theirs, tag)
        assert [s for s, _ in mine] == [s for s, _ in other]
        for (_, a), (_, b) in zip(mine, other):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_histogram_raw_matches_torch(tmp_path):
    values = np.concatenate([np.full(n, i + 0.001) for i, n in enumerate(range(50))])
    counts, limits = np.histogram(values, bins=np.arange(52))
    args = dict(
        min=values.min(),
        max=values.max(),
        num=len(values),
        sum=values.sum(),
        sum_squares=values.dot(values),
        bucket_limits=limits[1:].tolist(),
        bucket_counts=counts.tolist(),
    )
    torch_dir, our_dir = write_both(tmp_path, lambda w: w.add_histogram_raw("raw", global_step=3, **args))
    (mine,), (other,) = legacy_accumulator(our_dir).Histograms("raw"), legacy_accumulator(torch_dir).Histograms("raw")
    assert mine.step == other.step == 3
    assert mine.histogram_value == other.histogram_value
    # numpy and torch inputs are accepted too
    summary = histogram_raw_summary("raw", 0, 1, 2, 1, 1, torch.tensor([0.5, 1.0]), np.array([1, 1]))
    assert list(summary.value[0].histo.bucket) == [1.0, 1.0]
