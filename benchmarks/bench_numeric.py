"""torch.utils.tensorboard vs eventwriter on the numeric summaries, side by side in one process.

Measures ``add_histogram`` of 1M floats (float32 torch tensor and float64 numpy array) and
``add_pr_curve`` of 10k predictions, through each library's ``SummaryWriter``. Both writers log to
temporary directories; the calls alternate so that machine load affects both alike. Reports the
best time per call of each and the ratio torch / eventwriter. No assertions.

Run: ``python benchmarks/bench_numeric.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _best(fn: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: Optional[List[str]] = None) -> None:
    """Run the benchmark and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed calls per case and library (best is kept)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (best is kept)")
    args = parser.parse_args(argv)

    import torch
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from eventwriter import SummaryWriter as OurWriter

    rng = np.random.default_rng(0)
    hist32 = torch.from_numpy(rng.standard_normal(1_000_000).astype(np.float32))
    hist64 = rng.standard_normal(1_000_000)
    labels = rng.integers(0, 2, 10_000)
    predictions = torch.from_numpy(rng.random(10_000).astype(np.float32))

    with tempfile.TemporaryDirectory() as tmp:
        theirs = TorchWriter(os.path.join(tmp, "torch"))
        ours = OurWriter(os.path.join(tmp, "ours"))
        steps = {"n": 0}

        def case(call: Callable[[object, int], None]) -> Tuple[Callable[[], None], Callable[[], None]]:
            def run(writer: object) -> Callable[[], None]:
                def go() -> None:
                    steps["n"] += 1
                    call(writer, steps["n"])

                return go

            return run(theirs), run(ours)

        cases: Dict[str, Tuple[Callable[[], None], Callable[[], None]]] = {
            "add_histogram 1M float32 tensor": case(lambda w, s: w.add_histogram("h32", hist32, s)),
            "add_histogram 1M float64 numpy": case(lambda w, s: w.add_histogram("h64", hist64, s)),
            "add_pr_curve 10k (127 thresholds)": case(lambda w, s: w.add_pr_curve("pr", labels, predictions, s)),
        }
        results = {name: [float("inf"), float("inf")] for name in cases}
        for _ in range(args.rounds):
            for name, (torch_call, our_call) in cases.items():
                results[name][0] = min(results[name][0], _best(torch_call, args.repeat))
                results[name][1] = min(results[name][1], _best(our_call, args.repeat))
        theirs.flush()
        ours.flush()
        theirs.close()
        ours.close()

    print(f"{'case':40s} {'torch ms':>10s} {'ours ms':>10s} {'ratio':>7s}")
    for name, (torch_s, our_s) in results.items():
        print(f"{name:40s} {torch_s * 1e3:10.3f} {our_s * 1e3:10.3f} {torch_s / our_s:7.2f}x")


if __name__ == "__main__":
    main()
