"""Fashion-MNIST training that logs every TensorBoard dashboard through ``eventwriter``.

The PyTorch tutorial "Visualizing Models, Data, and Training with TensorBoard" as a package:
:mod:`~training.data` (IDX files → tensors), :mod:`~training.model` (the tutorial's ``Net``),
:mod:`~training.loop` (training/evaluation loop taking any ``SummaryWriter``-like writer),
:mod:`~training.figures` (matplotlib figures), :mod:`~training.null_writer` (a writer that
discards everything, the benchmark baseline) and :mod:`~training.cli` (``python -m training``).
"""

from .data import CLASSES, DataUnavailableError, FashionMNIST, load_fashion_mnist
from .loop import Evaluation, SummaryWriterLike, TrainConfig, TrainResult, train
from .model import Net
from .null_writer import NullWriter

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
