"""The process group of a ``torchrun`` job, as the training example uses it.

``torchrun --nproc_per_node N -m training`` (and ``--nnodes M`` with c10d rendezvous) starts N×M
copies of the program with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT`` set. :func:`join_cluster` turns that environment into an initialised
``torch.distributed`` process group and a :class:`Cluster` describing this process:

* CPU: the gloo backend, every rank on ``cpu``.
* CUDA: the NCCL backend, one device per process, ``cuda:<LOCAL_RANK>``. This path is three
  lines (``set_device``, the backend name, DDP's ``device_ids``) and is not exercised by the
  tests: the project's machine has no GPU.

Every collective is bounded by the process group's ``timeout``: a rank that dies or hangs makes
the others raise instead of waiting forever (torchrun also stops the surviving workers as soon
as one fails).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["Cluster", "cluster_requested", "join_cluster"]

T = TypeVar("T")


def cluster_requested() -> bool:
    """True when a launcher started this process as one of several (``WORLD_SIZE`` > 1)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


@dataclass(frozen=True)
class Cluster:
    """This process's place in the job.

    Attributes:
        rank: global rank, 0..world_size-1; rank 0 decides and logs.
        world_size: number of processes.
        local_rank: rank on this machine (selects the CUDA device).
        device: ``"cpu"`` or ``"cuda:<local_rank>"``.
    """

    rank: int
    world_size: int
    local_rank: int
    device: str

    @property
    def is_main(self) -> bool:
        """True on rank 0, the one process that writes the run."""
        return self.rank == 0

    def broadcast(self, value: T) -> T:
        """Rank 0's ``value``, on every rank (a collective: all ranks call it)."""
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order (a collective: all ranks call it)."""
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def wrap(self, model: nn.Module) -> nn.Module:
        """``model`` inside DistributedDataParallel (gradients averaged over the ranks)."""
        device_ids = [self.local_rank] if self.device.startswith("cuda") else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def leave(self) -> None:
        """Destroy the process group (idempotent)."""
        if dist.is_initialized():
            dist.destroy_process_group()


def join_cluster(device: str, timeout_seconds: float) -> Cluster:
    """Initialise ``torch.distributed`` from torchrun's environment.

    Args:
        device: the resolved device kind, ``"cpu"`` or ``"cuda"``.
        timeout_seconds: how long any collective may wait for the other ranks.

    Raises:
        ValueError: the launcher's environment is incomplete, or CUDA has fewer devices than
            ``LOCAL_RANK`` needs.
        RuntimeError: the rendezvous failed.
    """
    try:
        rank = int(os.environ["RANK"])
        world_size = int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    except (KeyError, ValueError) as exc:
        raise ValueError("RANK and WORLD_SIZE must be set to integers (start the program "
                         f"with torchrun): {exc}") from exc
    if device == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local_rank} needs CUDA device {local_rank}, but only "
                             f"{torch.cuda.device_count()} are visible")
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo",
                            timeout=timedelta(seconds=timeout_seconds))
    return Cluster(rank=rank, world_size=world_size, local_rank=local_rank, device=device)
