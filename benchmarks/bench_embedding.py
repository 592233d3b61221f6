"""torch.utils.tensorboard vs eventwriter ``add_embedding``, side by side in one process.

The case from the issue: 10,000 points x 784 dimensions with 10,000 28x28 thumbnails and a label
each. The cases (all float32 features, default: the first four):

* ``uniform``: uniform [0, 1) features (every value distinct, most with 8-9 significant digits)
  with the Fashion-MNIST thumbnails (random ones if the data set is absent);
* ``randn``: standard-normal features (every value distinct: the number formatter's worst case)
  with the same thumbnails, i.e. network features shown with their input images;
* ``fashion``: the Fashion-MNIST test set (pixels / 255 as the features, the images as the
  sprite), as in the PyTorch TensorBoard tutorial; read from ``$FASHION_MNIST_DIR`` (default
  ``../shared/data/fashion-mnist``), skipped if absent;
* ``integer``: integer-valued features, uniform in [-5000, 5000) (10,000 distinct values, too
  many for the formatter's lookup table; written ``"-17.0"``), with the same thumbnails;
* ``noise``: standard-normal features with uniform-noise thumbnails (the PNG encoder's worst
  case; not run by default).

Each call writes tensors.tsv, metadata.tsv, sprite.png and the config into a fresh temporary
logdir. The libraries alternate per round so that machine load affects both alike; the best time
of each is reported with the ratio torch / eventwriter, and the CPU time of the process during
that call (eventwriter uses two threads, torch one: on a machine shared with other work, the
wall-time ratio falls toward the CPU-time ratio). No assertions.

Run: ``python benchmarks/bench_embedding.py [--rounds N] [--cases uniform,randn,fashion,integer,noise]``
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import sys
import tempfile
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _fashion() -> Optional[Tuple[np.ndarray, np.ndarray, List[str]]]:
    directory = os.environ.get("FASHION_MNIST_DIR", os.path.join(os.path.dirname(ROOT), "shared", "data", "fashion-mnist"))
    images_path = os.path.join(directory, "t10k-images-idx3-ubyte.gz")
    labels_path = os.path.join(directory, "t10k-labels-idx1-ubyte.gz")
    if not (os.path.exists(images_path) and os.path.exists(labels_path)):
        return None
    with gzip.open(images_path) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(labels_path) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    pixels = images.astype(np.float32) / 255.0
    return pixels.reshape(-1, 784), pixels[:, None], [CLASSES[i] for i in labels]


def _noise() -> Tuple[np.ndarray, np.ndarray, List[str]]:
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((10000, 784)).astype(np.float32),
        rng.random((10000, 1, 28, 28)).astype(np.float32),
        [CLASSES[i] for i in rng.integers(0, 10, 10000)],
    )


def _randn() -> Tuple[np.ndarray, np.ndarray, List[str]]:
    features, images, labels = _noise()
    fashion = _fashion()
    if fashion is not None:
        images, labels = fashion[1], fashion[2]
    return features, images, labels


def _uniform() -> Tuple[np.ndarray, np.ndarray, List[str]]:
    _, images, labels = _randn()
    return np.random.default_rng(1).random((10000, 784), dtype=np.float32), images, labels


def _integer() -> Tuple[np.ndarray, np.ndarray, List[str]]:
    _, images, labels = _randn()
    return np.random.default_rng(2).integers(-5000, 5000, (10000, 784)).astype(np.float32), images, labels


def _timed(fn: Callable[[str], None]) -> Tuple[float, float]:
    """(wall seconds, CPU seconds of the whole process: all threads) of one call."""
    logdir = tempfile.mkdtemp(prefix="bench_embedding_")
    try:
        start, cpu = time.perf_counter(), time.process_time()
        fn(logdir)
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        shutil.rmtree(logdir, ignore_errors=True)


def main(argv: Optional[List[str]] = None) -> None:
    """Run the benchmark and print one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds (best time is kept)")
    parser.add_argument(
        "--cases", default="uniform,randn,fashion,integer", help="comma-separated: uniform, randn, fashion, integer, noise"
    )
    args = parser.parse_args(argv)

    import torch
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from eventwriter import SummaryWriter

    builders: Dict[str, Callable[[], Optional[Tuple[np.ndarray, np.ndarray, List[str]]]]] = {
        "uniform": _uniform,
        "randn": _randn,
        "fashion": _fashion,
        "integer": _integer,
        "noise": _noise,
    }
    print(f"add_embedding, 10,000 x 784 + 10,000 28x28 thumbnails + labels; best of {args.rounds}; cpus={os.cpu_count()}")
    print(f"{'case':<10}{'torch s':>10}{'eventwriter s':>15}{'ratio':>8}{'torch cpu s':>13}{'ours cpu s':>12}{'cpu ratio':>11}")
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        data = builders[case]()
        if data is None:
            print(f"{case:<10}  (data not found, skipped)")
            continue
        mat, images, labels = data
        t_mat, t_images = torch.from_numpy(mat), torch.from_numpy(images)

        def run_torch(logdir: str) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                writer = TorchWriter(logdir)
                writer.add_embedding(t_mat, metadata=labels, label_img=t_images)
                writer.close()

        def run_ours(logdir: str) -> None:
            with SummaryWriter(logdir) as writer:
                writer.add_embedding(t_mat, metadata=labels, label_img=t_images)

        best_torch = best_ours = (float("inf"), float("inf"))
        for _ in range(args.rounds):
            best_torch = min(best_torch, _timed(run_torch))
            best_ours = min(best_ours, _timed(run_ours))
        (torch_wall, torch_cpu), (ours_wall, ours_cpu) = best_torch, best_ours
        print(
            f"{case:<10}{torch_wall:>10.2f}{ours_wall:>15.2f}{torch_wall / ours_wall:>7.1f}x"
            f"{torch_cpu:>13.2f}{ours_cpu:>12.2f}{torch_cpu / ours_cpu:>10.1f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
