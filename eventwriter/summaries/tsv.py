"""The text of the projector's ``tensors.tsv``: one row per point, values TAB-separated, LF-terminated.

Each value is written as torch writes it: floats as Python's ``repr(float(v))`` (formatted for
whole blocks at once by :mod:`eventwriter.summaries.float_repr`), integers as ``str(int(v))``, booleans as
``1.0``/``0.0`` (torch writes ``True``, which TensorBoard cannot parse). This module owns the
layout and the work split: blocks of values are formatted on up to 4 threads (numpy releases the
GIL) and yielded in order, so the file can be written while later blocks are still formatted.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, List

import numpy as np

from .float_repr import LowCardinality, format_values

__all__ = ["tsv_chunks"]

# Values formatted per numpy block. Measured on 10,000 x 784 float32 with two formatting threads:
# 8192-value blocks took 2.2-2.7 s (per-block Python overhead, run under the GIL, serialises the
# threads), 32768 took 1.46 s, 65536 no better. Smaller blocks only pay off on a single thread.
_CHUNK = 1 << 15


def tsv_chunks(values: np.ndarray) -> Iterator[bytes]:
    """Yield the bytes of ``tensors.tsv`` for a 2-D real array, in order, a block of rows at a time.

    Args:
        values: (N, D) bool, integer or float array (floats wider than float64 are not accepted).

    Yields:
        Consecutive pieces of the file; their concatenation is the whole text.
    """
    rows, cols = values.shape
    if values.dtype.kind in "iu":
        step = max(1, _CHUNK // cols)
        for start in range(0, rows, step):
            block = values[start:start + step].tolist()
            yield "".join("\t".join(map(str, row)) + "\n" for row in block).encode("ascii")
        return
    if values.dtype.kind == "b":
        values = values.astype(np.float64)
    flat = values.reshape(-1)
    narrow = values.dtype.itemsize <= 4  # float32 / float16 / bool: at most 24 significant bits
    table = LowCardinality.build(flat)
    starts = range(0, flat.size, _CHUNK)
    pattern = np.full(_CHUNK + cols, 9, dtype=np.uint8)  # TAB after a value ...
    pattern[cols - 1::cols] = 10  # ... LF after the last one of a row

    def job(start: int) -> bytes:
        block = np.asarray(flat[start:start + _CHUNK], dtype=np.float64)
        offset = start % cols
        seps = pattern[offset:offset + block.size]
        if table is not None:
            out = table.format(block, seps)
            if out is not None:
                return out
        return format_values(block, seps, narrow)

    workers = min(4, os.cpu_count() or 1)
    if workers < 2 or len(starts) < 4:
        for start in starts:
            yield job(start)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: List[Any] = []
        for start in starts:
            pending.append(pool.submit(job, start))
            if len(pending) > 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()
