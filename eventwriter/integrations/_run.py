"""``Run``: one run directory of an adapter, written on the writing rank only, in ``tf.summary``'s shapes."""

from __future__ import annotations

import struct
import sys
import time
from typing import Any, Dict, Optional, Tuple, Union

from eventwriter import NullWriter, SummaryWriter, distributed
from eventwriter.integrations import _summaries

_pack_float32 = struct.Struct("<f").pack
_now = time.time


def writing_rank(rank: Optional[int]) -> int:
    """This process's rank: ``rank`` if given; ``jax.process_index()`` once ``jax.distributed`` is
    initialised; else what :func:`eventwriter.distributed.get_rank` finds (torchrun's ``RANK``,
    SLURM, MPI).

    JAX is consulted only when the program already imported it, and only through
    ``jax.distributed.is_initialized()``: importing JAX here would cost seconds, and asking for
    the process index first would initialise JAX's backends, after which the program's own
    ``jax.distributed.initialize()`` fails.
    """
    if rank is not None:
        return distributed.get_rank(rank)
    jax_distributed = sys.modules.get("jax.distributed")
    is_initialized = getattr(jax_distributed, "is_initialized", None)
    if is_initialized is not None and is_initialized():
        import jax

        return int(jax.process_index())
    return distributed.get_rank()


class Run:
    """A run directory: its ``SummaryWriter`` on the writing rank (a ``NullWriter`` elsewhere), made on first use.

    Args:
        log_dir: the run directory, a path or URL.
        rank: this process's rank (None: :func:`writing_rank`), decided when the writer is made.
        options: keyword arguments for ``SummaryWriter`` (``storage_options``, ``upload_secs``).
    """

    def __init__(self, log_dir: str, rank: Optional[int] = None, options: Optional[Dict[str, Any]] = None) -> None:
        self.log_dir = log_dir
        self._rank = rank
        self._options = {k: v for k, v in (options or {}).items() if v is not None}
        self._writer: Optional[Union[SummaryWriter, NullWriter]] = None
        self._prefixes: Dict[str, Tuple[bytes, bytes]] = {}

    @property
    def writer(self) -> Union[SummaryWriter, NullWriter]:
        """The run's writer (created lazily, so a run that gets nothing leaves no directory)."""
        if self._writer is None:
            self._writer = distributed.rank_zero_writer(self.log_dir, rank=writing_rank(self._rank), **self._options)  # type: ignore[assignment]
        return self._writer  # type: ignore[return-value]

    @property
    def writes(self) -> bool:
        """False on the ranks that hold a NullWriter: callers skip their own work there too."""
        return isinstance(self.writer, SummaryWriter)

    def scalar(self, tag: str, value: float, step: Any) -> None:
        """A rank-0 DT_FLOAT tensor with ``scalars`` metadata, as ``tf.summary.scalar`` writes it."""
        writer = self.writer
        if not isinstance(writer, SummaryWriter):
            return
        parts = self._prefixes.get(tag)
        if parts is None:
            if not isinstance(tag, str):
                raise TypeError(f"tag must be a str, got {type(tag).__name__}")
            parts = self._prefixes[tag] = (_summaries.scalar_event_parts(tag), _summaries.scalar_prefix(tag))
        if type(step) is int and step >= 0:
            # The per-batch path: the whole Event encoded here, only wall time, step and value new.
            _file_writer(writer).add_event(_summaries.event_head(_now(), step) + parts[0] + _pack_float32(value))
        else:  # other step types (numpy, floats, negative): the writer's step rules and errors
            _file_writer(writer).add_summary(parts[1] + _pack_float32(value), step)

    def summary(self, body: bytes, step: Any) -> None:
        """Write one encoded Summary at ``step``."""
        writer = self.writer
        if isinstance(writer, SummaryWriter):
            _file_writer(writer).add_summary(body, step)

    def flush(self) -> None:
        """Flush the writer, if one was made."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Close the writer, if one was made; a later write opens a new one."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _file_writer(writer: SummaryWriter) -> Any:
    file_writer = writer.file_writer
    if file_writer is None:  # only after close(), and Run.close() forgets closed writers
        raise ValueError(f"the writer of {writer.get_logdir()!r} is closed")
    return file_writer
