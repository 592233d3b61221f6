"""Worker run by ``torch.multiprocessing`` in tests/distributed/test_reduce_pairing.py: one rank of a
2-process gloo job that calls ``reduce_scalars`` the ways a program gets wrong.

Each scenario's outcome (the result, or the error's type and text) goes to ``<outdir>/rank<k>.json``.
Every call has a bounded ``timeout``, and the group's own timeout is 60 s.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path


def _outcome(call) -> dict:
    try:
        return {"result": call()}
    except Exception as exc:  # noqa: BLE001 - the report names whatever was raised
        return {"error": type(exc).__name__, "message": str(exc)}


def worker(rank: int, port: int, outdir: str) -> None:
    """Rank ``rank``; see the module docstring."""
    import torch.distributed as dist

    from eventwriter.distributed import reduce_scalars

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2, timeout=timedelta(seconds=60))
    report: dict = {}

    # Tags that join to the same string with NUL between them.
    tags = {"a\0b": 1.0, "c": 2.0} if rank == 0 else {"a": 1.0, "b\0c": 2.0}
    report["nul_tags"] = _outcome(lambda: reduce_scalars(tags, "sum", timeout=30))

    # Rank 1 skipped step 0 (as in `if loss is None: continue`): its step-1 call meets rank 0's
    # step-0 call. Values are step * 100 + 1, so a silent pairing would give 1 + 101 = 102.
    step = 0 if rank == 0 else 1
    report["skipped_step"] = _outcome(
        lambda: reduce_scalars({"loss": step * 100 + 1.0}, "sum", step=step, timeout=30))
    report["after_skip"] = _outcome(lambda: reduce_scalars({"loss": 2.0}, "sum", step=2, timeout=30))

    # Rank 1's call fails before reaching rank 0 (a bad value on that rank only); rank 0 waits in
    # its call, which rank 1's next call then meets.
    if rank == 1:
        report["local_failure"] = _outcome(lambda: reduce_scalars({"x": "not a number"}, "sum", timeout=30))
    report["after_local_failure"] = _outcome(lambda: reduce_scalars({"x": 1.0 + rank}, "sum", timeout=30))
    report["recovered"] = _outcome(lambda: reduce_scalars({"x": 1.0}, "sum", timeout=30))

    (Path(outdir) / f"rank{rank}.json").write_text(json.dumps(report))
    dist.barrier()
    dist.destroy_process_group()
    os._exit(0)
