"""Memory of a run with millions of distinct scalar tags (issue 11, item 12).

Logs ``--tags`` distinct tags once each with eventwriter's SummaryWriter and prints the Python
heap growth (tracemalloc) and the resident-set growth per tag. torch.utils.tensorboard keeps no
per-tag state, so there is nothing to compare it with here; the figure to watch is eventwriter's
cost per tag beyond ``MAX_TRACKED_TAGS``.

    .venv/bin/python benchmarks/bench_tag_memory.py --tags 2000000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tracemalloc

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from eventwriter import SummaryWriter  # noqa: E402
from eventwriter.writer import MAX_TRACKED_TAGS  # noqa: E402


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tags", type=int, default=2_000_000)
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the heap (slower)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logdir:
        w = SummaryWriter(logdir)
        w.add_scalar("warmup", 0.0, 0)
        w.flush()
        if args.tracemalloc:
            tracemalloc.start()
        rss0 = rss_bytes()
        heap0 = tracemalloc.get_traced_memory()[0] if args.tracemalloc else 0
        for i in range(args.tags):
            w.add_scalar(f"metric/{i}", 1.0, i)
        w.flush()
        rss1 = rss_bytes()
        heap1 = tracemalloc.get_traced_memory()[0] if args.tracemalloc else 0
        w.close()
        size = sum(os.path.getsize(os.path.join(logdir, f)) for f in os.listdir(logdir))
    print(f"{args.tags} distinct tags (MAX_TRACKED_TAGS={MAX_TRACKED_TAGS}), event file {size / 1e6:.1f} MB")
    print(f"resident set growth: {(rss1 - rss0) / 1e6:.1f} MB = {(rss1 - rss0) / args.tags:.1f} bytes/tag")
    if args.tracemalloc:
        print(f"Python heap growth (tracemalloc): {(heap1 - heap0) / 1e6:.1f} MB = {(heap1 - heap0) / args.tags:.1f} bytes/tag")


if __name__ == "__main__":
    main()
