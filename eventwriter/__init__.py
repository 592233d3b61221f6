"""eventwriter: TensorBoard event files without TensorFlow, torch.utils.tensorboard or tensorboardX.

``from eventwriter import SummaryWriter`` is a drop-in for ``torch.utils.tensorboard.SummaryWriter``.
``eventwriter.reader`` reads event files back; ``python -m eventwriter`` inspects and verifies them.

Importing this package loads neither numpy nor protobuf: the scalar path does not need them, and
the other ``add_*`` methods import what they use on first call.
"""

from .record import (
    BadDataCrcError,
    BadLengthCrcError,
    CorruptRecordError,
    InvalidEventError,
    RecordError,
    RecordTooLargeError,
    TruncatedRecordError,
)
from .writer import SummaryWriter

__version__ = "0.1.0"

__all__ = [
    "SummaryWriter",
    "RecordError",
    "TruncatedRecordError",
    "CorruptRecordError",
    "BadLengthCrcError",
    "BadDataCrcError",
    "RecordTooLargeError",
    "InvalidEventError",
    "__version__",
]
