"""Fashion-MNIST training that logs every TensorBoard dashboard through ``eventwriter``.

The PyTorch tutorial "Visualizing Models, Data, and Training with TensorBoard" as a package:
:mod:`~training.data` (IDX files → tensors), :mod:`~training.model` (the tutorial's ``Net``),
:mod:`~training.loop` (training/evaluation loop taking any ``SummaryWriter``-like writer),
:mod:`~training.figures` (matplotlib figures), :mod:`~training.cluster` (torchrun/DDP: the process
group, broadcast and gather) and :mod:`~training.cli` (``python -m training``).
``NullWriter`` and ``SummaryWriterLike`` live in ``eventwriter``; they are re-exported here.
"""

from eventwriter import NullWriter, SummaryWriterLike

from .data import CLASSES, DataUnavailableError, FashionMNIST, load_fashion_mnist
from .loop import Evaluation, TrainConfig, TrainResult, train
from .model import Net

__all__ = [
    "CLASSES",
    "DataUnavailableError",
    "Evaluation",
    "FashionMNIST",
    "Net",
    "NullWriter",
    "SummaryWriterLike",
    "TrainConfig",
    "TrainResult",
    "load_fashion_mnist",
    "train",
]
