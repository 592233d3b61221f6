"""Worker run by ``torch.multiprocessing`` in tests/test_distributed.py: one rank of a gloo job.

Each rank exercises ``eventwriter.distributed`` against a real process group and writes what it
saw to ``<outdir>/rank<k>.json``; the test process asserts on the reports and on the files.
Module level, so the spawned children can import it.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

TAGS = {"loss": 1.0, "accuracy": 10.0}  # rank k logs (k + 1) times these


def run_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if "tfevents" in p.name)


def library_worker(rank: int, port: int, outdir: str) -> None:
    """Rank ``rank`` of a 2-process gloo job; see the module docstring."""
    import torch
    import torch.distributed as dist

    from eventwriter.distributed import (get_rank, get_world_size, per_rank_writer,
                                         rank_zero_writer, reduce_scalars)

    out = Path(outdir)
    os.environ["RANK"] = str(1 - rank)  # a contradicting launcher variable: torch must win
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2, timeout=timedelta(seconds=60))
    report: dict = {"pid": os.getpid(), "rank": get_rank(), "world_size": get_world_size(),
                    "explicit_rank": get_rank(5)}

    values = {"loss": TAGS["loss"] * (rank + 1), "accuracy": TAGS["accuracy"] * (rank + 1),
              "tensor": torch.tensor([2.0 * rank])}
    report["reduced"] = {op: reduce_scalars(values, op) for op in ("mean", "sum", "min", "max")}

    misuse = {
        "different_tags": {"a": 1.0} if rank == 0 else {"b": 1.0},
        "different_length": {"a": 1.0} if rank == 0 else {"a": 1.0, "b": 2.0},
        "different_order": {"a": 1.0, "b": 2.0} if rank == 0 else {"b": 2.0, "a": 1.0},
    }
    report["misuse"] = {}
    for name, call in misuse.items():
        try:
            reduce_scalars(call)
            report["misuse"][name] = None
        except ValueError as exc:
            report["misuse"][name] = str(exc)
    try:
        reduce_scalars({"a": 1.0}, "sum" if rank == 0 else "max")
        report["misuse"]["different_op"] = None
    except ValueError as exc:
        report["misuse"]["different_op"] = str(exc)
    # The group still works after a detected mismatch.
    report["after_misuse"] = reduce_scalars({"rank": rank}, "sum")

    shared = out / "shared"
    writer = rank_zero_writer(shared)
    report["writer"] = type(writer).__name__
    report["logdir"] = writer.get_logdir()
    for step in range(5):
        mean = reduce_scalars({"loss": (rank + 1) * (step + 1)})["loss"]
        writer.add_scalar("loss", mean, step)
    writer.add_text("note", f"written by rank {rank}")
    writer.close()

    own = per_rank_writer(shared)
    report["own_logdir"] = own.get_logdir()
    own.add_scalar("throughput", 100.0 + rank, 0)
    own.close()

    second = rank_zero_writer(out / "written_by_rank1", writer_rank=1)
    second.add_scalar("x", 1.0, 0)
    second.close()
    dist.barrier()

    # Last: rank 0 calls a collective that rank 1 skips. Rank 1 stays alive (waiting for rank
    # 0's report) so that rank 0 sees the bounded timeout, not a closed connection.
    if rank == 0:
        started = time.monotonic()
        try:
            reduce_scalars({"late": 1.0}, timeout=3)
            report["skipped_call"] = None
        except RuntimeError as exc:
            report["skipped_call"] = str(exc)
        report["skipped_call_seconds"] = time.monotonic() - started
    (out / f"rank{rank}.json").write_text(json.dumps(report))
    if rank == 1:
        deadline = time.monotonic() + 60
        while not (out / "rank0.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    # The timed-out operation is still pending in gloo; do not wait for it on the way out.
    os._exit(0)
