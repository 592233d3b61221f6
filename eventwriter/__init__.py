"""eventwriter: TensorBoard event files without TensorFlow, torch.utils.tensorboard or tensorboardX.

``from eventwriter import SummaryWriter`` is a drop-in for ``torch.utils.tensorboard.SummaryWriter``.
``eventwriter.reader`` reads event files back; ``python -m eventwriter`` inspects and verifies them.

Importing this package loads neither numpy nor protobuf: the scalar path does not need them, and
the other ``add_*`` methods import what they use on first call.

Multi-process jobs: :mod:`eventwriter.distributed` (``rank_zero_writer``, ``per_rank_writer``,
``reduce_scalars``), also reachable as attributes of this package without being imported by it.
"""

from typing import Any

from .record import (
    BadDataCrcError,
    BadLengthCrcError,
    CorruptRecordError,
    InvalidEventError,
    RecordError,
    RecordTooLargeError,
    TruncatedRecordError,
)
from .interface import SummaryWriterLike
from .null_writer import NullWriter
from .writer import SummaryWriter

__version__ = "0.1.0"

__all__ = [
    "SummaryWriter",
    "SummaryWriterLike",
    "NullWriter",
    "rank_zero_writer",
    "per_rank_writer",
    "reduce_scalars",
    "RecordError",
    "TruncatedRecordError",
    "CorruptRecordError",
    "BadLengthCrcError",
    "BadDataCrcError",
    "RecordTooLargeError",
    "InvalidEventError",
    "__version__",
]

_DISTRIBUTED = ("rank_zero_writer", "per_rank_writer", "reduce_scalars")


def __getattr__(name: str) -> Any:
    """Load :mod:`eventwriter.distributed` on first use of one of its names (PEP 562)."""
    if name in _DISTRIBUTED:
        from . import distributed

        return getattr(distributed, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
