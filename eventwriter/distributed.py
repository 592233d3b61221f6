"""Logging from multi-process jobs (torchrun, DDP, SLURM, MPI, JAX): one writing rank, one run.

A plain ``SummaryWriter`` writes on every process that creates one, exactly as torch's does; in a
job of N ranks that gives N event files whose curves TensorBoard interleaves. This module is the
opt-in alternative:

* :func:`rank_zero_writer` returns a real ``SummaryWriter`` on the writing rank (0 by default)
  and a :class:`~eventwriter.null_writer.NullWriter` on every other rank. The same code runs
  everywhere; only one process creates directories or files.
* :func:`per_rank_writer` gives every rank its own run ``<log_dir>/rank<k>`` for per-rank
  diagnostics (throughput, data-loading time).
* :func:`reduce_scalars` combines scalars across ranks (mean, sum, min, max) before the writing
  rank logs them. It is a **collective**: every rank must call it, in the same order, with the
  same tags.

The rank comes from, in this order: an explicit ``rank`` argument; ``torch.distributed`` when it
is already initialised (looked up in ``sys.modules``: this module never imports torch and never
initialises any framework); the launcher's environment, ``RANK`` (torchrun, also under
``srun torchrun`` where ``SLURM_PROCID`` is the node), then ``SLURM_PROCID``,
``OMPI_COMM_WORLD_RANK``, ``PMI_RANK``; else 0 (a single process). JAX users pass
``rank=jax.process_index()`` themselves: asking JAX from here would initialise it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import weakref
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from .interface import SummaryWriterLike
from .null_writer import NullWriter

__all__ = [
    "RANK_ENV_VARS",
    "WORLD_SIZE_ENV_VARS",
    "get_rank",
    "get_world_size",
    "per_rank_writer",
    "rank_zero_writer",
    "reduce_scalars",
]

#: Environment variables holding the global rank, in the order they are consulted.
RANK_ENV_VARS: tuple[str, ...] = ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK")
#: Environment variables holding the number of ranks, in the same launcher order.
WORLD_SIZE_ENV_VARS: tuple[str, ...] = ("WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE",
                                        "PMI_SIZE")

_OPS = ("mean", "sum", "min", "max")


def _initialised_torch_distributed() -> Any:
    """``torch.distributed`` if some code already imported and initialised it, else None."""
    dist = sys.modules.get("torch.distributed")  # never import torch just to find out
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def _env_int(names: tuple[str, ...], minimum: int) -> tuple[str, int] | None:
    """The first of ``names`` that is set, as ``(name, value)``; None when none is."""
    for name in names:
        text = os.environ.get(name)
        if text is None or text.strip() == "":
            continue
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"environment variable {name} must be an integer, got {text!r}") from None
        if value < minimum:
            raise ValueError(f"environment variable {name} must be >= {minimum}, got {value}")
        return name, value
    return None


def _env_rank() -> int | None:
    """The launcher's rank, checked against its world size; None when no rank variable is set.

    A rank without a world size (``RANK=3`` alone) or not below it is a launcher mistake: taken
    at face value, every rank but 0 would log nothing and ``reduce_scalars`` would reduce over
    one process, silently.
    """
    found = _env_int(RANK_ENV_VARS, 0)
    if found is None:
        return None
    name, rank = found
    size = _env_int(WORLD_SIZE_ENV_VARS, 1)
    if size is None:
        if rank > 0:
            raise ValueError(
                f"environment variable {name}={rank} but no world size is set (one of "
                f"{', '.join(WORLD_SIZE_ENV_VARS)}); a launcher sets both, so this is probably "
                "a leftover variable: unset it, or set the world size too")
    elif rank >= size[1]:
        raise ValueError(f"environment variable {name}={rank} is not below the world size "
                         f"{size[0]}={size[1]}; ranks run from 0 to {size[1] - 1}")
    return rank


def _check_rank(rank: Any, name: str = "rank") -> int:
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise TypeError(f"{name} must be an int, got {type(rank).__name__}")
    if rank < 0:
        raise ValueError(f"{name} must be >= 0, got {rank}")
    return rank


def get_rank(rank: int | None = None) -> int:
    """This process's global rank.

    Args:
        rank: an explicit rank; returned as is (after checking) when given.

    Returns:
        ``rank`` if given; else ``torch.distributed.get_rank()`` when torch.distributed is
        already initialised; else the first of ``RANK``, ``SLURM_PROCID``,
        ``OMPI_COMM_WORLD_RANK``, ``PMI_RANK`` that is set; else 0.

    Raises:
        TypeError: ``rank`` is not an int.
        ValueError: ``rank`` is negative; the environment variable used is not a
            non-negative integer; or it is not below the environment's world size (a rank
            above 0 with no world-size variable at all counts as such a mistake).
    """
    if rank is not None:
        return _check_rank(rank)
    dist = _initialised_torch_distributed()
    if dist is not None:
        return int(dist.get_rank())
    found = _env_rank()
    return 0 if found is None else found


def get_world_size(world_size: int | None = None) -> int:
    """The number of ranks in the job, found like :func:`get_rank`.

    Args:
        world_size: an explicit size; returned as is (after checking) when given.

    Returns:
        ``world_size``; else ``torch.distributed.get_world_size()`` when initialised; else the
        first of ``WORLD_SIZE``, ``SLURM_NTASKS``, ``OMPI_COMM_WORLD_SIZE``, ``PMI_SIZE``; else 1.

    Raises:
        TypeError, ValueError: as for :func:`get_rank` (the size must be >= 1).
    """
    if world_size is not None:
        if _check_rank(world_size, "world_size") < 1:
            raise ValueError("world_size must be >= 1, got 0")
        return world_size
    dist = _initialised_torch_distributed()
    if dist is not None:
        return int(dist.get_world_size())
    found = _env_int(WORLD_SIZE_ENV_VARS, 1)
    return 1 if found is None else found[1]


def rank_zero_writer(log_dir: str | os.PathLike[str] | None = None, *, rank: int | None = None,
                     writer_rank: int = 0, **kwargs: Any) -> SummaryWriterLike:
    """A ``SummaryWriter`` on the writing rank, a :class:`NullWriter` on every other rank.

    Call it on every rank with the same arguments; log unconditionally afterwards. Only the
    writing rank creates ``log_dir`` and its files; the others' writer methods return at once
    (one empty Python call each) and never touch the file system. Work done *before* a call,
    such as drawing a matplotlib figure, still happens on every rank: guard expensive
    arguments with ``if get_rank() == 0``.

    Args:
        log_dir: the run directory (``SummaryWriter``'s default when None). Decide it on one
            rank when it depends on the machine's state (a timestamp, "first free name").
        rank: this process's rank; found by :func:`get_rank` when None.
        writer_rank: the rank that writes.
        **kwargs: passed on to ``SummaryWriter`` (``comment``, ``purge_step``,
            ``filename_suffix``, ...).

    Returns:
        ``eventwriter.SummaryWriter`` or ``NullWriter`` (whose ``get_logdir()`` returns
        ``log_dir``).

    Raises:
        TypeError, ValueError: ``rank`` or ``writer_rank`` is not a non-negative int.
    """
    _check_rank(writer_rank, "writer_rank")
    if get_rank(rank) != writer_rank:
        return NullWriter(log_dir=None if log_dir is None else os.fspath(log_dir))
    from .writer import SummaryWriter

    return SummaryWriter(log_dir=None if log_dir is None else os.fspath(log_dir), **kwargs)


def per_rank_writer(log_dir: str | os.PathLike[str], *, rank: int | None = None,
                    **kwargs: Any) -> SummaryWriterLike:
    """A ``SummaryWriter`` for this rank's own run, ``<log_dir>/rank<k>``.

    TensorBoard lists the ranks as runs ``rank0``, ``rank1``, ... next to each other, so a
    per-rank tag (``throughput``) can be compared across ranks in one chart. Every rank writes
    (one process per run directory, as TensorBoard expects).

    Args:
        log_dir: the job's run directory; the same value on every rank.
        rank: this process's rank; found by :func:`get_rank` when None.
        **kwargs: passed on to ``SummaryWriter``.

    Raises:
        TypeError: ``log_dir`` is None (every rank needs the same, explicit directory).
        TypeError, ValueError: ``rank`` is not a non-negative int.
    """
    if log_dir is None:
        raise TypeError("log_dir must be a path shared by all ranks, got None")
    from .writer import SummaryWriter

    return SummaryWriter(log_dir=os.path.join(os.fspath(log_dir), f"rank{get_rank(rank)}"),
                         **kwargs)


def _signature(op: str, tags: list[str], step: int | None) -> int:
    """A 63-bit digest of the call (op, tags and step): ranks compare it before reducing.

    JSON encodes the list unambiguously (a tag holding NUL or a comma is escaped, not a
    separator), so ``["a\\0b", "c"]`` and ``["a", "b\\0c"]`` differ.
    """
    text = json.dumps([op, tags, step])
    digest = hashlib.blake2b(text.encode("ascii"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


# Calls of reduce_scalars made by this process, per process group (a group that is destroyed
# and re-created starts again at 0). Compared across ranks with the digest: see reduce_scalars.
_calls: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def _wait(work: Any, timeout: float | None, what: str) -> None:
    try:
        if timeout is None:
            work.wait()
        else:
            work.wait(timedelta(seconds=timeout))
    except RuntimeError as exc:  # DistBackendError and gloo's timeouts are RuntimeErrors
        raise RuntimeError(
            f"reduce_scalars: {what} failed; did every rank call reduce_scalars, in the same "
            f"order? (a rank that exited or skipped the call leaves the others waiting): {exc}"
        ) from exc


def reduce_scalars(values: Mapping[str, Any], op: str = "mean", *, step: int | None = None,
                   group: Any = None, timeout: float | None = None) -> dict[str, float]:
    """Combine named scalars across ranks; every rank gets the result.

    **This is a collective operation.** Every rank of ``group`` must call it, the same number
    of times, in the same order, with the same tags, ``op`` and ``step``. Before reducing, the
    ranks compare a digest of ``op``, the tags, ``step`` and how many calls this process has
    made on ``group``; a mismatch raises ``ValueError`` on every rank (naming each rank's
    call) instead of reducing unrelated numbers:

    * other tags, another order or another ``op``;
    * a rank that **skipped** a call, when ``step`` is given: its next call (a later step)
      meets the others' call, and the steps differ. Without ``step`` the two calls look alike
      and their numbers are combined; pass the step you log at;
    * a rank whose earlier call failed before reaching the others (a bad value on that rank
      only): the call counts differ. After a detected mismatch the ranks agree on the count
      again, so a caller that handles the error can go on.

    A rank that makes no further call at all cannot be told from a slow one: the others wait
    until ``timeout`` (or the process group's timeout, set by
    ``init_process_group(timeout=...)``) and then raise ``RuntimeError``.

    Works with ``torch.distributed`` when it is initialised (gloo and NCCL; with NCCL the
    numbers travel on the current CUDA device). In a single process (nothing initialised and no
    launcher world size above 1) the values are returned unchanged, as floats.

    Args:
        values: ``{tag: number}``; numbers may be Python/numpy scalars or 1-element tensors.
        op: ``"mean"``, ``"sum"``, ``"min"`` or ``"max"``.
        step: the step the result will be logged at (an int, the same on every rank); makes
            a skipped call detectable. None: not compared.
        group: a ``torch.distributed`` process group (None: the default group).
        timeout: seconds to wait for the other ranks (None: the process group's timeout).

    Returns:
        ``{tag: reduced value}`` in the order of ``values``, as float64 results.

    Raises:
        ValueError: unknown ``op``; a tensor value holds more than one number; the ranks
            called with different tags, ops or steps, or after different numbers of calls;
            or the launcher's rank variable is not below its world size.
        TypeError: ``values`` is not a mapping of str to numbers; ``step`` is not an int.
        RuntimeError: the environment says several ranks but ``torch.distributed`` is not
            initialised; or a rank failed or timed out during the collective.
    """
    dist = _initialised_torch_distributed()
    key = None
    if dist is not None:
        # Counted before the arguments are checked: a call that fails here on one rank only
        # leaves the others waiting in theirs, and the count then tells the next call apart.
        key = dist.group.WORLD if group is None else group
        _calls[key] = _calls.get(key, 0) + 1
    if op not in _OPS:
        raise ValueError(f"op must be one of {', '.join(_OPS)}; got {op!r}")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        raise TypeError(f"step must be an int or None, got {type(step).__name__}")
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of tag to number, got {type(values).__name__}")
    tags = list(values)
    numbers: list[float] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise TypeError(f"values: tags must be str, got {type(tag).__name__}")
        numbers.append(_to_number(values[tag], tag))

    if dist is None:
        get_rank()  # a launcher's rank beyond its world size raises here
        size = get_world_size()
        if size > 1:
            raise RuntimeError(
                f"reduce_scalars: the environment says {size} ranks but torch.distributed is "
                "not initialised; call torch.distributed.init_process_group() first (other "
                "frameworks: reduce with their own collective, then log on rank 0)")
        return dict(zip(tags, numbers))

    import torch  # already imported: torch.distributed is initialised

    device = torch.device("cpu")
    if dist.get_backend(group) == "nccl":  # NCCL only moves CUDA tensors (untested here: no GPU)
        device = torch.device("cuda", torch.cuda.current_device())
    world = dist.get_world_size(group)
    call = _calls[key]

    # 1. Agree on what is being reduced; mismatched calls would otherwise add unrelated numbers
    #    or, with different lengths, hang inside the reduction.
    mine = torch.tensor([_signature(op, tags, step), len(tags), call], dtype=torch.int64,
                        device=device)
    gathered = [torch.empty_like(mine) for _ in range(world)]
    _wait(dist.all_gather(gathered, mine, group=group, async_op=True), timeout,
          "comparing the tags across ranks")
    if any(not torch.equal(other, mine) for other in gathered):
        everyone: list[Any] = [None] * world
        dist.all_gather_object(everyone, (op, tags, step, call), group=group)  # all ranks are here
        _calls[key] = max(c for _, _, _, c in everyone)  # agree again, so the group stays usable
        raise ValueError(_mismatch(everyone))

    # 2. Reduce. float64, so sums of many float32 losses do not lose digits.
    tensor = torch.tensor(numbers, dtype=torch.float64, device=device)
    reduce_op = {"mean": dist.ReduceOp.SUM, "sum": dist.ReduceOp.SUM,
                 "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}[op]
    _wait(dist.all_reduce(tensor, op=reduce_op, group=group, async_op=True), timeout,
          "reducing")
    if op == "mean":
        tensor /= world
    return dict(zip(tags, tensor.cpu().tolist()))


def _mismatch(everyone: list[Any]) -> str:
    """The message naming every rank's call, and the likely cause."""
    steps = {s for _, _, s, _ in everyone}
    calls = {c for _, _, _, c in everyone}
    listing = "; ".join(
        f"rank {k}: {o} {t}" + ("" if s is None else f" at step {s}") + ("" if len(calls) == 1 else f" (call {c})")
        for k, (o, t, s, c) in enumerate(everyone))
    if len({(o, tuple(t)) for o, t, _, _ in everyone}) > 1:
        cause = "every rank must reduce the same tags in the same order, with the same op"
    elif len(steps) > 1:
        cause = ("the ranks are at different steps: a rank skipped a call (or made an extra "
                 "one); every rank must call at the same steps")
    else:
        cause = ("a rank's earlier call failed before it reached the others (see that rank's "
                 "error); every rank must make the same calls")
    return f"reduce_scalars: ranks called with different tags, ops or steps ({listing}); {cause}"


def _to_number(value: Any, tag: str) -> float:
    if hasattr(value, "numel") and hasattr(value, "item"):  # a tensor, duck-typed
        if value.numel() != 1:
            raise ValueError(f"values[{tag!r}] must hold one number, got {value.numel()}")
        value = value.item()
    elif hasattr(value, "item") and getattr(value, "size", 1) == 1:  # numpy scalar / 1-element
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"values[{tag!r}] must be a number, got {type(value).__name__}")
    return float(value)
