"""Side-by-side benchmark: eventwriter vs torch.utils.tensorboard for add_scalar and import time.

Run: .venv/bin/python benchmarks/bench_core.py [--calls 50000] [--repeat 5]
Prints the best-of-N times and the ratios (torch / eventwriter). No assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def time_scalars(writer_cls, calls: int) -> float:
    with tempfile.TemporaryDirectory() as logdir:
        writer = writer_cls(logdir)
        start = time.perf_counter()
        for step in range(calls):
            writer.add_scalar("loss", step * 0.001, step)
        writer.flush()
        elapsed = time.perf_counter() - start
        writer.close()
    return elapsed


def time_import(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    ours_import = [time_import("from eventwriter import SummaryWriter") for _ in range(args.repeat)]
    torch_import = [time_import("from torch.utils.tensorboard import SummaryWriter") for _ in range(args.repeat)]
    print(f"import: eventwriter {min(ours_import)*1e3:.1f} ms (median {statistics.median(ours_import)*1e3:.1f}), "
          f"torch.utils.tensorboard {min(torch_import)*1e3:.1f} ms (median {statistics.median(torch_import)*1e3:.1f}), "
          f"ratio {min(torch_import)/min(ours_import):.1f}x (medians {statistics.median(torch_import)/statistics.median(ours_import):.1f}x)")

    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from eventwriter import SummaryWriter

    ours, theirs = [], []
    for _ in range(args.repeat):
        ours.append(time_scalars(SummaryWriter, args.calls))
        theirs.append(time_scalars(TorchWriter, args.calls))
    print(f"add_scalar x{args.calls} incl. flush: eventwriter {min(ours):.3f} s ({min(ours)/args.calls*1e6:.2f} us/call), "
          f"torch {min(theirs):.3f} s ({min(theirs)/args.calls*1e6:.2f} us/call), ratio {min(theirs)/min(ours):.1f}x "
          f"(medians {statistics.median(theirs)/statistics.median(ours):.1f}x)")


if __name__ == "__main__":
    main()
