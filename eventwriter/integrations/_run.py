"""``Run``: one run directory of an adapter, written on the writing rank only, in ``tf.summary``'s shapes.

The summaries come from the builders in :mod:`eventwriter.summaries` (the ``tf_*`` ones and
``keras_model_summary``); the per-batch scalar is encoded by :mod:`eventwriter.wire`
(:func:`~eventwriter.wire.tensor_scalar_parts`), so a scalar costs a dict lookup and a few
concatenations. Both go to the run's event file through ``SummaryWriter.file_writer``, torch's
public attribute.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, Union

from eventwriter import NullWriter, SummaryWriter, distributed
from eventwriter.stamps import check_tag, event_step
from eventwriter.wire import event_prefix, float32_bytes, tensor_scalar_parts
from eventwriter.writer import MAX_TRACKED_TAGS

if TYPE_CHECKING:
    from eventwriter.event_file import EventFileWriter
    from eventwriter.protos import Summary

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
        self._scalar_parts: Dict[str, Tuple[bytes, bytes]] = {}

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
        """A rank-0 DT_FLOAT tensor with ``scalars`` metadata, as ``tf.summary.scalar`` writes it.

        Raises:
            TypeError: ``tag`` is not a str, or ``step`` not an integer.
            ValueError: ``step`` is outside the int64 range.
        """
        writer = self.writer
        if not isinstance(writer, SummaryWriter):
            return
        parts = self._scalar_parts.get(tag)
        if parts is None:
            parts = tensor_scalar_parts(check_tag(tag))
            if len(self._scalar_parts) < MAX_TRACKED_TAGS:  # bounded, as the writer's own prefixes
                self._scalar_parts[tag] = parts
        # The per-batch path: the whole Event encoded here, only wall time, step and value new.
        event = event_prefix(_now(), event_step(step)) + parts[0] + float32_bytes(value) + parts[1]
        _file_writer(writer).write_event(event)

    def summary(self, summary: "Summary", step: Any) -> None:
        """Write one Summary (a builder's) at ``step``."""
        writer = self.writer
        if isinstance(writer, SummaryWriter):
            _file_writer(writer).add_summary(summary, step)

    def flush(self) -> None:
        """Flush the writer, if one was made."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Close the writer, if one was made; a later write opens a new one."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _file_writer(writer: SummaryWriter) -> "EventFileWriter":
    file_writer = writer.file_writer
    if file_writer is None:  # only after close(), and Run.close() forgets closed writers
        raise ValueError(f"the writer of {writer.get_logdir()!r} is closed")
    return file_writer
