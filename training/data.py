"""Fashion-MNIST from its four IDX files, normalised as in the PyTorch TensorBoard tutorial.

The IDX format (http://yann.lecun.com/exdb/mnist/) is a big-endian header followed by raw bytes:

* a 4-byte magic number ``0x00 0x00 <type> <rank>``; type ``0x08`` means unsigned bytes,
* ``rank`` big-endian uint32 dimension sizes,
* the data, row-major.

Images are ``0x00000803`` (N, 28, 28); labels are ``0x00000801`` (N,). Each file may be stored
gzip-compressed (``.gz``) or raw. If the files are missing they are downloaded through
torchvision; if that fails too, :class:`DataUnavailableError` says where to put them. There is
deliberately no synthetic fallback: a run either trains on the real data or does not start.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler, TensorDataset

__all__ = [
    "CLASSES",
    "FILES",
    "DataUnavailableError",
    "FashionMNIST",
    "download_fashion_mnist",
    "find_idx_file",
    "load_fashion_mnist",
    "make_loader",
    "normalize",
    "read_idx",
]

#: Class names in label order, spelled as in the tutorial.
CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle Boot",
)

#: The four files of the dataset (base names; each may also end in ``.gz``).
FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_IMAGE_MAGIC = 0x00000803  # unsigned bytes, rank 3
_LABEL_MAGIC = 0x00000801  # unsigned bytes, rank 1
_HEIGHT = _WIDTH = 28


class DataUnavailableError(RuntimeError):
    """The dataset files are missing or unreadable; the message says what to do."""


@dataclass(frozen=True)
class FashionMNIST:
    """The whole dataset in memory.

    Attributes:
        train_images: uint8 tensor (60000, 28, 28), raw pixels.
        train_labels: int64 tensor (60000,), values 0..9.
        test_images: uint8 tensor (10000, 28, 28), raw pixels.
        test_labels: int64 tensor (10000,), values 0..9.
        classes: class names indexed by label.
        source: directory the files were read from.
    """

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: tuple[str, ...]
    source: Path

    @cached_property
    def train_inputs(self) -> torch.Tensor:
        """Normalised training images (60000, 1, 28, 28), computed once."""
        return normalize(self.train_images)

    @cached_property
    def test_inputs(self) -> torch.Tensor:
        """Normalised test images (10000, 1, 28, 28), computed once."""
        return normalize(self.test_images)


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file (raw or gzip) into a uint8 array.

    Args:
        path: the file; a name ending in ``.gz`` is decompressed.
        expected_magic: ``0x00000803`` for images or ``0x00000801`` for labels.

    Returns:
        An array whose shape is the dimension sizes in the header.

    Raises:
        DataUnavailableError: the file is unreadable, truncated, or has the wrong magic number
            or size.
    """
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataUnavailableError(f"cannot read {path}: {exc}") from exc

    if len(raw) < 4:
        raise DataUnavailableError(f"{path} is too short to be an IDX file ({len(raw)} bytes)")
    (magic,) = struct.unpack(">I", raw[:4])
    if magic != expected_magic:
        raise DataUnavailableError(
            f"{path} has IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x}"
        )
    rank = magic & 0xFF
    header_size = 4 + 4 * rank
    if len(raw) < header_size:
        raise DataUnavailableError(f"{path} is truncated inside its IDX header")
    shape = struct.unpack(f">{rank}I", raw[4:header_size])
    expected_size = header_size + int(np.prod(shape))
    if len(raw) != expected_size:
        raise DataUnavailableError(
            f"{path} holds {len(raw)} bytes, but its header {shape} implies {expected_size}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def find_idx_file(data_dir: Path, base_name: str) -> Path | None:
    """Locate ``base_name`` or ``base_name.gz`` in ``data_dir``.

    torchvision's layout (``<data_dir>/FashionMNIST/raw/``), which the tutorial's
    ``torchvision.datasets.FashionMNIST("./data", download=True)`` creates, is searched too.

    Returns:
        The first existing path, or None.
    """
    for directory in (data_dir, data_dir / "FashionMNIST" / "raw"):
        for name in (base_name, base_name + ".gz"):
            candidate = directory / name
            if candidate.is_file():
                return candidate
    return None


def _missing_message(data_dir: Path, missing: list[str], reason: str) -> str:
    names = "\n".join(f"  {data_dir / (name + '.gz')}" for name in missing)
    return (
        f"Fashion-MNIST files not found in {data_dir} ({reason}).\n"
        f"Put the four IDX files there (gzip-compressed or not), e.g.:\n{names}\n"
        "They are published at https://github.com/zalandoresearch/fashion-mnist; "
        "point --data-dir or $FASHION_MNIST_DIR at the directory holding them."
    )


def download_fashion_mnist(data_dir: Path) -> None:
    """Download the four ``.gz`` files into ``data_dir`` through torchvision.

    Files are fetched into a temporary directory and moved into place only after all four
    arrived with the checksums torchvision knows, so a failed download leaves nothing behind
    (not even ``data_dir``).

    Raises:
        DataUnavailableError: torchvision is missing or the download failed.
    """
    try:
        from torchvision.datasets import FashionMNIST as TorchvisionFashionMNIST
        from torchvision.datasets.utils import download_url
    except ImportError as exc:
        raise DataUnavailableError(f"torchvision is not installed: {exc}") from exc

    # Download to a scratch directory; create data_dir only once all four files arrived.
    with tempfile.TemporaryDirectory(prefix="fashion-mnist-download-") as tmp:
        errors: list[str] = []
        for filename, md5 in TorchvisionFashionMNIST.resources:
            for mirror in TorchvisionFashionMNIST.mirrors:
                try:
                    download_url(mirror + filename, root=tmp, filename=filename, md5=md5)
                    break
                except Exception as exc:  # network errors come in many types; all mean "failed"
                    errors.append(f"{mirror}{filename}: {exc}")
            else:
                raise DataUnavailableError("download failed:\n  " + "\n  ".join(errors))
        data_dir.mkdir(parents=True, exist_ok=True)
        for filename, _ in TorchvisionFashionMNIST.resources:
            shutil.move(os.path.join(tmp, filename), data_dir / filename)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Apply the tutorial's transform to uint8 images.

    ``transforms.ToTensor()`` (scale to [0, 1], add the channel axis) followed by
    ``transforms.Normalize((0.5,), (0.5,))``, done on the whole tensor at once.

    Args:
        images: uint8 tensor (N, 28, 28).

    Returns:
        float32 tensor (N, 1, 28, 28) with values in [-1, 1].
    """
    return images.unsqueeze(1).float().div(255).sub(0.5).div(0.5)


def load_fashion_mnist(data_dir: Path | str, download: bool = True) -> FashionMNIST:
    """Load the dataset from ``data_dir``, downloading it first if it is missing.

    Args:
        data_dir: directory holding the four IDX files (raw or ``.gz``).
        download: try torchvision's download when files are missing.

    Returns:
        The dataset, with raw uint8 images and int64 labels.

    Raises:
        DataUnavailableError: files missing (and not downloadable) or malformed; the
            message names the directory and the expected file names.
    """
    data_dir = Path(data_dir).expanduser().absolute()
    missing = [name for name in FILES.values() if find_idx_file(data_dir, name) is None]
    if missing:
        if not download:
            raise DataUnavailableError(_missing_message(data_dir, missing, "download disabled"))
        try:
            download_fashion_mnist(data_dir)
        except DataUnavailableError as exc:
            raise DataUnavailableError(_missing_message(data_dir, missing, str(exc))) from exc

    arrays: dict[str, np.ndarray] = {}
    for key, name in FILES.items():
        path = find_idx_file(data_dir, name)
        if path is None:  # vanished between the check and the read
            raise DataUnavailableError(_missing_message(data_dir, [name], "file disappeared"))
        magic = _IMAGE_MAGIC if key.endswith("images") else _LABEL_MAGIC
        arrays[key] = read_idx(path, magic)

    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[1:] != (_HEIGHT, _WIDTH):
            raise DataUnavailableError(
                f"{split} images are {images.shape[1]}x{images.shape[2]}, expected 28x28"
            )
        if len(images) != len(labels):
            raise DataUnavailableError(
                f"{split} split has {len(images)} images but {len(labels)} labels"
            )
        if len(labels) and labels.max() >= len(CLASSES):
            raise DataUnavailableError(
                f"{split} labels go up to {labels.max()}, expected 0..{len(CLASSES) - 1}"
            )

    return FashionMNIST(
        # np.frombuffer views are read-only; copy once so torch owns writable memory.
        train_images=torch.from_numpy(arrays["train_images"].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["test_images"].copy()),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
        classes=CLASSES,
        source=data_dir,
    )


def make_loader(
    inputs: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    shuffle: bool,
    generator: torch.Generator | None = None,
    num_workers: int = 0,
    sampler: Sampler[int] | None = None,
) -> DataLoader:
    """A DataLoader over in-memory tensors, as the tutorial's loaders.

    Args:
        inputs: normalised images (N, 1, 28, 28), e.g. :attr:`FashionMNIST.train_inputs`.
        labels: int64 labels (N,).
        batch_size: samples per batch.
        shuffle: reshuffle every epoch (training) or keep the order (evaluation).
        generator: seeded generator that makes the shuffling reproducible.
        num_workers: DataLoader worker processes; 0 loads in the main process, which is
            fastest here because the whole dataset is already in memory.
        sampler: chooses the indices instead of ``shuffle`` (a ``DistributedSampler`` under
            torchrun: each rank reads its own shard).
    """
    return DataLoader(
        TensorDataset(inputs, labels),
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        sampler=sampler,
    )
