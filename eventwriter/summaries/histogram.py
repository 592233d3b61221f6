"""Histograms, bucketed exactly as torch's ``add_histogram`` does, but faster and stricter.

Layout (docs/FORMAT.md §3.2, §4): one ``Summary.Value{tag, histo=HistogramProto}`` without metadata.
``bucket_limit[i]`` is the *right* edge of ``bucket[i]``; TensorBoard uses ``min``/``max`` as the
outermost edges (§5.2). min, max, num, sum and sum_squares are computed from the raw values in
float64: min, max and num exactly as torch's; sum and sum_squares (pairwise sums per chunk, where
torch uses one ``sum()`` and a BLAS ``dot``) agree with torch's to about 1e-15 relative.

``bins="tensorflow"`` (the default) uses TensorBoard's fixed exponential bins: 1549 edges,
``-p[::-1] + [0] + p`` where ``p`` starts at 1e-12 and is multiplied by 1.1 while below 1e20. Every
bin is ``[left, right)`` except the last, ``[left, right]`` (numpy.histogram's convention). Values
beyond the outer edges (about ±9.4e19) are not counted in any bucket, as with torch; a warning says
so. The histogram is then cropped to its support, keeping one empty bucket in front (its right
edge is the left edge of the first non-empty bin). Any other ``bins`` (an int, a numpy estimator
name such as ``"auto"``/``"fd"``, or explicit edges) goes to ``numpy.histogram`` unchanged.
``max_bins`` merges runs of ``len(counts) // max_bins`` adjacent bins before cropping, like torch
(so up to ``2 * max_bins - 1`` bins can remain).

Differences from torch:
* NaN or ±inf values raise ``ValueError``. torch drops them from the "tensorflow" buckets but
  writes min/max/sum = nan/inf (TensorBoard then draws nothing useful), and numpy raises an
  unhelpful error for the other ``bins``.
* Complex values raise ``TypeError`` (torch silently discards the imaginary part).
* Faster: for the "tensorflow" bins the bucket of each value is found with a small lookup table
  indexed by the value's exponent and top mantissa bits plus one integer comparison, instead of
  numpy.histogram's sort. The counts are identical (tests/summaries/test_histogram.py checks every edge and
  its neighbouring floats against numpy.histogram).

:func:`tf_histogram_summary` writes ``tf.summary.histogram``'s shape instead, for the framework
adapters (Keras, CLU, Flax): a ``[k, 3]`` float64 tensor of equal-width buckets
(:func:`tf_histogram_buckets`) with ``histograms`` metadata.
"""

from __future__ import annotations

import concurrent.futures
import math
import threading
import warnings
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from .. import protos
from ..arrays import real_array
from ..metadata import PLUGIN_HISTOGRAMS, summary_metadata
from ..tensor_codec import tensor_proto

__all__ = ["histogram_summary", "histogram_raw_summary", "tensorflow_bin_edges", "tf_histogram_summary", "tf_histogram_buckets"]

TF_BUCKET_COUNT = 30
"""``tf.summary.histogram``'s default number of buckets."""

_NUMPY_BIN_ESTIMATORS = frozenset(("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt"))

_lock = threading.Lock()
_edges: Optional[np.ndarray] = None
_bucketers: Dict[np.dtype, "_Bucketer"] = {}


def tensorflow_bin_edges() -> np.ndarray:
    """Return the 1549 edges of the "tensorflow" bins (read-only float64 array, built once).

    The positive half starts at 1e-12 and is multiplied by 1.1 (in float64, one step at a time, so
    rounding accumulates exactly as in torch and TensorBoard) while it stays below 1e20.
    """
    global _edges
    if _edges is None:
        positive = []
        edge = 1e-12
        while edge < 1e20:
            positive.append(edge)
            edge *= 1.1
        pos = np.array(positive, dtype=np.float64)
        edges = np.concatenate((-pos[::-1], [0.0], pos))
        edges.setflags(write=False)
        _edges = edges
    return _edges


class _Bucketer:
    """Assigns values of one float dtype to the "tensorflow" bins with a table lookup.

    Floats are mapped to unsigned integers that sort like the floats (flip every bit of a
    negative number, only the sign bit of a positive one). An edge ``e`` and a value ``x`` of this
    dtype satisfy ``e <= x`` iff ``key(ceil(e)) <= key(x)``, where ``ceil(e)`` is the smallest
    float of this dtype not below ``e``; the zero edge gets the key of -0.0 so that -0.0 lands in
    ``[0, 1e-12)`` as numpy puts it.

    The key space is cut into intervals of ``2**shift`` keys (exponent plus the top 4 mantissa bits,
    a width ratio of at most 1 + 1/16 < 1.1), so each interval holds at most one edge. For the
    interval of a value, ``table`` stores the number of edges below the interval and the position
    of the one edge inside it, packed so that ``(offset + table[interval]) >> (shift + 1)`` equals
    the number of edges ``<= x``: ``table = (below + 1) << (shift + 1) - edge_offset``, where
    ``edge_offset = 2**shift`` when the interval holds no edge.
    """

    def __init__(self, float_dtype: np.dtype) -> None:
        self.float_dtype = np.dtype(float_dtype)
        mantissa_bits = np.finfo(self.float_dtype).nmant
        uint_dtype = np.dtype("u%d" % self.float_dtype.itemsize)
        sint_dtype = np.dtype("i%d" % self.float_dtype.itemsize)
        self.uint_dtype = uint_dtype
        self.sint_dtype = sint_dtype
        nbits = 8 * self.float_dtype.itemsize
        self.sign_bits = nbits - 1
        self.sign_min = sint_dtype.type(np.iinfo(sint_dtype).min)
        self.shift = mantissa_bits - 4
        self.low_mask = uint_dtype.type((1 << self.shift) - 1)

        edges = tensorflow_bin_edges()
        rounded = edges.astype(self.float_dtype)
        below = rounded.astype(np.float64) < edges  # rounded down: step up to the next float
        rounded[below] = np.nextafter(rounded[below], self.float_dtype.type(np.inf))
        rounded[rounded == 0] = -0.0
        keys = self._keys(rounded.view(sint_dtype), np.empty(len(edges), sint_dtype)).astype(np.uint64)
        # Values equal to the last edge belong in the last (closed) bin. In float32 that edge is
        # not representable, so nothing can equal it.
        self.last_edge_exact = bool(rounded[-1].astype(np.float64) == edges[-1])
        self.num_edges = len(edges)

        intervals = np.arange(1 << (nbits - self.shift), dtype=np.uint64)
        starts = intervals << np.uint64(self.shift)
        edges_below = np.searchsorted(keys, starts, side="left")
        edges_before_end = np.searchsorted(keys, starts + np.uint64(1 << self.shift), side="left")
        if int((edges_before_end - edges_below).max()) > 1:  # pragma: no cover - guards the construction
            raise RuntimeError("histogram lookup table: more than one edge per interval")
        has_edge = edges_before_end > edges_below
        padded = np.concatenate((keys, [np.uint64(0)]))
        offset = np.where(has_edge, padded[edges_below] - starts, np.uint64(1 << self.shift))
        table = ((edges_below.astype(np.uint64) + np.uint64(1)) << np.uint64(self.shift + 1)) - offset
        self.table = table.astype(uint_dtype)

    def _keys(self, bits: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Order-preserving unsigned keys of floats given as signed-int ``bits``, written to ``out``."""
        np.right_shift(bits, self.sign_bits, out=out)  # 0 for positive, -1 for negative
        out |= self.sign_min  # the sign bit alone, or all bits
        out ^= bits
        return out.view(self.uint_dtype)

    def counts(self, values: np.ndarray) -> Tuple[np.ndarray, int]:
        """Return (counts of the 1548 bins, number of values outside all bins) for a 1-D array.

        Works through the array in chunks that stay in the CPU cache, with preallocated buffers,
        which is several times faster than whole-array temporaries.
        """
        size = len(values)
        chunk = min(_CHUNK, size)
        all_bits = values.view(self.sint_dtype)
        work = np.empty(chunk, dtype=self.sint_dtype)
        index = np.empty(chunk, dtype=self.uint_dtype)
        full = np.zeros(self.num_edges + 1, dtype=np.int64)
        shift = self.shift
        for start in range(0, size, chunk):
            bits = all_bits[start : start + chunk]
            n = len(bits)
            idx = index[:n]
            ukeys = self._keys(bits, work[:n])
            np.right_shift(ukeys, shift, out=idx)
            ukeys &= self.low_mask
            self.table.take(idx, mode="clip", out=idx)
            idx += ukeys
            idx >>= shift + 1  # number of edges <= value, 0..1549
            full += np.bincount(idx.view(self.sint_dtype), minlength=self.num_edges + 1)
        bins = full[1 : self.num_edges]
        outside = int(full[0]) + int(full[self.num_edges])
        if full[self.num_edges] and self.last_edge_exact:
            on_last_edge = int(np.count_nonzero(values == tensorflow_bin_edges()[-1]))
            bins[-1] += on_last_edge
            outside -= on_last_edge
        return bins, outside


_CHUNK = 1 << 16
# From this many values on, half of the bucketing runs on a helper thread (below it, the
# hand-off costs more than it saves).
_PARALLEL_MIN_SIZE = 1 << 18
_pool: Optional["concurrent.futures.ThreadPoolExecutor"] = None


def _helper_pool() -> "concurrent.futures.ThreadPoolExecutor":
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="eventwriter-histogram")
    return _pool


def _bucketer(dtype: np.dtype) -> _Bucketer:
    bucketer = _bucketers.get(dtype)
    if bucketer is None:
        with _lock:
            bucketer = _bucketers.get(dtype)
            if bucketer is None:
                bucketer = _Bucketer(dtype)
                _bucketers[dtype] = bucketer
    return bucketer


def _flat_values(values: Any) -> np.ndarray:
    array = real_array(values, "values")
    if array.size == 0:
        raise ValueError("values must not be empty")
    array = np.ravel(array)
    if array.dtype == np.float16:
        array = array.astype(np.float32)  # exact
    elif array.dtype != np.float32 and array.dtype != np.float64:
        array = array.astype(np.float64)
    elif array.dtype.byteorder not in "=|":
        array = array.astype(array.dtype.newbyteorder("="))
    return np.ascontiguousarray(array)


def _statistics(values: np.ndarray) -> Tuple[float, float, float, float]:
    """(min, max, sum, sum of squares) of a 1-D array, in float64, one cache-sized chunk at a time.

    torch converts the whole array to float64 and uses ``sum()`` and BLAS ``dot``. Chunked pairwise
    sums read the data once, need no float64 copy and no BLAS threads (which stall badly on a busy
    machine, and whose rounding depends on the thread count); the results agree with torch's to
    about 1e-15 relative (exactly, for min and max).
    """
    size = len(values)
    double = np.empty(min(_CHUNK, size), dtype=np.float64)
    squares = np.empty_like(double)
    low, high, total, total_squares = math.inf, -math.inf, 0.0, 0.0
    for start in range(0, size, _CHUNK):
        chunk = values[start : start + _CHUNK]
        n = len(chunk)
        chunk_low, chunk_high = float(chunk.min()), float(chunk.max())  # NaN if the chunk has one
        if math.isnan(chunk_low) or math.isnan(chunk_high):
            return math.nan, math.nan, math.nan, math.nan  # Python's min()/max() would drop a NaN
        low = min(low, chunk_low)
        high = max(high, chunk_high)
        if chunk.dtype == np.float64:
            as_double = chunk
        else:
            as_double = double[:n]
            as_double[...] = chunk
        total += float(as_double.sum())
        total_squares += float(np.multiply(as_double, as_double, out=squares[:n]).sum())
    return low, high, total, total_squares


def _check_bins(bins: Any) -> Union[str, int, np.ndarray]:
    if isinstance(bins, str):
        if bins == "tensorflow" or bins in _NUMPY_BIN_ESTIMATORS:
            return bins
        raise ValueError(
            f"bins must be 'tensorflow', one of numpy's estimators {sorted(_NUMPY_BIN_ESTIMATORS)}, "
            f"a positive int or a sequence of edges, got {bins!r}"
        )
    if isinstance(bins, bool):
        raise TypeError("bins must be a str, an int or a sequence of edges, got bool")
    if isinstance(bins, (int, np.integer)):
        if bins < 1:
            raise ValueError(f"bins must be a positive number of bins, got {bins}")
        return int(bins)
    edges = real_array(bins, "bins")
    if edges.ndim != 1 or edges.size < 2:
        raise ValueError(f"bins as edges must be a 1-D numeric sequence of at least 2 values, got shape {edges.shape}")
    edges = edges.astype(np.float64)
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) < 0):
        raise ValueError("bins as edges must be finite and increase monotonically")
    return edges


def _merge_bins(counts: np.ndarray, limits: np.ndarray, max_bins: int) -> Tuple[np.ndarray, np.ndarray]:
    # torch's rule: merge groups of ``len // max_bins`` bins (the last group zero-padded).
    group = len(counts) // max_bins
    remainder = len(counts) % group
    if remainder:
        counts = np.concatenate((counts, np.zeros(group - remainder, dtype=counts.dtype)))
    counts = counts.reshape(-1, group).sum(axis=1)
    merged = np.empty(counts.size + 1, dtype=limits.dtype)
    merged[:-1] = limits[:-1:group]
    merged[-1] = limits[-1]
    return counts, merged


def histogram_summary(
    tag: str,
    values: Any,
    bins: Union[str, int, Sequence[float]] = "tensorflow",
    max_bins: Optional[int] = None,
) -> "protos.Summary":
    """Summary with a histogram of ``values`` (any shape; flattened), bucketed as torch does.

    Args:
        tag: the series name.
        values: numbers of any real dtype (numpy array, torch tensor, sequence, scalar).
        bins: "tensorflow" (TensorBoard's fixed exponential bins), a positive int, a numpy
            estimator name ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")
            or a monotonically increasing sequence of edges.
        max_bins: if set and there are more bins, merge adjacent bins as torch does.

    Returns:
        ``Summary{value: [{tag, histo}]}``.

    Raises:
        TypeError: ``values`` is not real-numeric; ``bins`` or ``max_bins`` of the wrong type.
        ValueError: ``values`` is empty or contains NaN/inf; every value lies outside the
            "tensorflow" bins (magnitude above ~9.4e19); bad ``bins`` or ``max_bins``.
    """
    checked_bins = _check_bins(bins)
    if max_bins is not None:
        if isinstance(max_bins, bool) or not isinstance(max_bins, (int, np.integer)):
            raise TypeError(f"max_bins must be an int or None, got {type(max_bins).__name__}")
        if max_bins < 1:
            raise ValueError(f"max_bins must be at least 1, got {max_bins}")
    flat = _flat_values(values)
    fixed_bins = isinstance(checked_bins, str) and checked_bins == "tensorflow"
    # Large inputs: bucket the larger part on a helper thread while this one computes the
    # statistics and the rest (numpy releases the GIL in most of these loops).
    second_half = None
    split = flat.size * 2 // 5
    if fixed_bins and flat.size >= _PARALLEL_MIN_SIZE:
        second_half = _helper_pool().submit(_bucketer(flat.dtype).counts, flat[split:])

    low, high, total, total_squares = _statistics(flat)
    if not (math.isfinite(low) and math.isfinite(high)):
        if second_half is not None:
            second_half.result()
        bad = int(flat.size - np.count_nonzero(np.isfinite(flat)))
        raise ValueError(f"values must be finite, got {bad} NaN or infinite element(s)")

    if fixed_bins:
        limits = tensorflow_bin_edges()
        if second_half is None:
            counts, outside = _bucketer(flat.dtype).counts(flat)
        else:
            counts, outside = _bucketer(flat.dtype).counts(flat[:split])
            more_counts, more_outside = second_half.result()
            counts = counts + more_counts
            outside += more_outside
        if outside == flat.size:
            raise ValueError(
                f"values: all {flat.size} value(s) lie outside the 'tensorflow' bins "
                f"[{limits[0]:.6g}, {limits[-1]:.6g}]; pass bins='auto' or an int"
            )
        if outside:
            warnings.warn(
                f"values: {outside} value(s) with magnitude above {limits[-1]:.6g} lie outside the "
                "'tensorflow' bins and are not counted in any bucket (min/max/num/sum include them)",
                stacklevel=3,
            )
    else:
        counts, limits = np.histogram(flat.astype(np.float64), bins=checked_bins)

    if max_bins is not None and len(counts) > max_bins:
        counts, limits = _merge_bins(counts, limits, int(max_bins))

    nonzero = np.flatnonzero(counts)
    first = int(nonzero[0])
    last = int(nonzero[-1])
    if first > 0:
        kept = counts[first - 1 : last + 1]
    else:
        kept = np.concatenate(([0], counts[: last + 1]))
    kept_limits = limits[first : last + 2]

    histo = protos.HistogramProto(
        min=low,
        max=high,
        num=float(flat.size),
        sum=total,
        sum_squares=total_squares,
        bucket_limit=kept_limits.tolist(),
        bucket=kept.astype(np.float64).tolist(),
    )
    return protos.Summary(value=[protos.Summary.Value(tag=tag, histo=histo)])


def _real_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    array = real_array(value, name)
    if array.size != 1:
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} of shape {array.shape}")
    return float(array.reshape(()))


def histogram_raw_summary(
    tag: str,
    min: Any,
    max: Any,
    num: Any,
    sum: Any,
    sum_squares: Any,
    bucket_limits: Any,
    bucket_counts: Any,
) -> "protos.Summary":
    """Summary with a histogram given as statistics and buckets, stored exactly as given.

    Args:
        tag: the series name.
        min, max, num, sum, sum_squares: statistics of the raw values (numbers).
        bucket_limits: right edge of each bucket (1-D).
        bucket_counts: count of each bucket (1-D, same length as ``bucket_limits``).

    Returns:
        ``Summary{value: [{tag, histo}]}``.

    Raises:
        TypeError: a statistic is not a real number, or the buckets are not numeric.
        ValueError: ``bucket_limits`` and ``bucket_counts`` differ in length or are not 1-D;
            negative or non-finite counts; decreasing limits; negative ``num``; ``min`` > ``max``.
    """
    given = (("min", min), ("max", max), ("num", num), ("sum", sum), ("sum_squares", sum_squares))
    stats = {name: _real_number(value, name) for name, value in given}
    limits = real_array(bucket_limits, "bucket_limits")
    counts = real_array(bucket_counts, "bucket_counts")
    for name, array in (("bucket_limits", limits), ("bucket_counts", counts)):
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if limits.shape != counts.shape:
        raise ValueError(
            f"bucket_limits and bucket_counts must have the same length, got {limits.size} and {counts.size}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("bucket_counts must be finite and non-negative")
    if np.any(np.isnan(limits)) or np.any(np.diff(limits.astype(np.float64)) < 0):
        raise ValueError("bucket_limits must be increasing (right edges, in order) and not NaN")
    if not (math.isfinite(stats["num"]) and stats["num"] >= 0):
        raise ValueError(f"num must be a finite count >= 0, got {stats['num']}")
    if stats["min"] > stats["max"]:
        raise ValueError(f"min must not exceed max, got min={stats['min']} and max={stats['max']}")
    histo = protos.HistogramProto(
        bucket_limit=limits.astype(np.float64).tolist(),
        bucket=counts.astype(np.float64).tolist(),
        **stats,
    )
    return protos.Summary(value=[protos.Summary.Value(tag=tag, histo=histo)])


def tf_histogram_summary(tag: str, values: Any, buckets: Optional[int] = None) -> "protos.Summary":
    """Summary as ``tf.summary.histogram`` writes it: a ``[k, 3]`` float64 tensor, ``histograms`` metadata.

    Args:
        tag: the series name.
        values: numbers of any real dtype and shape (flattened).
        buckets: the number of buckets (None: 30); see :func:`tf_histogram_buckets`.

    Returns:
        ``Summary`` with one ``tensor`` value and ``histograms`` metadata (empty content).

    Raises:
        TypeError: ``values`` is not real-numeric.
        ValueError: ``buckets`` is negative, or the values are not all finite.
    """
    tensor = tensor_proto(tf_histogram_buckets(values, buckets))
    return protos.Summary(value=[protos.Summary.Value(tag=tag, tensor=tensor, metadata=summary_metadata(PLUGIN_HISTOGRAMS))])


def tf_histogram_buckets(values: Any, bucket_count: Optional[int] = None) -> np.ndarray:
    """``tf.summary.histogram``'s buckets: ``[k, 3]`` float64 rows (left edge, right edge, count).

    ``bucket_count`` (default 30) equal-width buckets from the minimum to the maximum; a value on an
    inner edge counts in the bucket to its right, the maximum in the last one. All values equal:
    every edge is that value and the last bucket holds the count. No values: ``bucket_count`` zero rows.

    Raises:
        TypeError: ``values`` is not real-numeric.
        ValueError: ``bucket_count`` is negative, or the values are not all finite.
    """
    count = TF_BUCKET_COUNT if bucket_count is None else int(bucket_count)
    if count < 0:
        raise ValueError(f"the number of histogram buckets must be >= 0, got {bucket_count!r}")
    data = real_array(values, "values").reshape(-1).astype(np.float64)
    if count == 0 or data.size == 0:
        return np.zeros((count, 3))
    if not np.all(np.isfinite(data)):
        raise ValueError("histogram values must be finite (NaN or infinity found)")
    low, high = data.min(), data.max()
    if high == low:
        counts = np.zeros(count)
        counts[-1] = data.size
        edges = np.full(count, high)
        return np.stack([edges, edges, counts], axis=1)
    index = np.minimum(np.floor((data - low) / ((high - low) / count)).astype(np.int64), count - 1)
    counts = np.bincount(index, minlength=count).astype(np.float64)
    edges = np.linspace(low, high, count + 1)
    edges[-1] = high
    return np.stack([edges[:-1], edges[1:], counts], axis=1)
