"""Side-by-side benchmark: eventwriter vs torch.utils.tensorboard for images, video and audio.

Run: .venv/bin/python benchmarks/bench_media.py [--calls 30] [--repeat 3]
Both writers get the same torch tensors and the same number of calls; each timing covers the calls
plus the final close (which flushes). Prints best-of-N per-call times and ratios (torch / ours).
No assertions: machines are noisy.

Inputs: add_image 3x224x224 float (uniform noise, the worst case for PNG, and a smooth gradient);
add_images 64x1x28x28 (noise, and real Fashion-MNIST digits if FASHION_MNIST_DIR holds them);
add_video 4x16x3x32x32 float; add_audio 1 s at 44.1 kHz. torch's add_video needs moviepy < 2;
without it torch writes an empty value, and its time is shown but not comparable.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def time_calls(writer_cls, log: Callable, calls: int) -> float:
    """Seconds for ``calls`` x ``log(writer, step)`` plus ``close()`` on a fresh writer."""
    with tempfile.TemporaryDirectory() as logdir:
        writer = writer_cls(logdir)
        start = time.perf_counter()
        for step in range(calls):
            log(writer, step)
        writer.close()
        return time.perf_counter() - start


def fashion_mnist(count: int):
    """The first ``count`` test images of Fashion-MNIST as a float tensor (N, 1, 28, 28), or None."""
    import numpy as np
    import torch

    path = os.path.join(
        os.environ.get("FASHION_MNIST_DIR", os.path.join(ROOT, "..", "shared", "data", "fashion-mnist")),
        "t10k-images-idx3-ubyte.gz",
    )
    if not os.path.exists(path):
        return None
    with gzip.open(path) as f:
        pixels = np.frombuffer(f.read(), dtype=np.uint8, offset=16)[: count * 784]
    return torch.from_numpy(pixels.reshape(count, 1, 28, 28).astype(np.float32) / 255)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import torch
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    from eventwriter import SummaryWriter

    try:
        import moviepy.editor  # noqa: F401

        torch_video = "ok"
    except ImportError:
        torch_video = "torch writes an empty value (no moviepy.editor): not comparable"

    generator = torch.Generator().manual_seed(0)
    noise_image = torch.rand(3, 224, 224, generator=generator)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 224), torch.linspace(0, 1, 224), indexing="ij")
    smooth_image = torch.stack([xx, yy, (xx + yy) / 2])
    noise_batch = torch.rand(64, 1, 28, 28, generator=generator)
    digits = fashion_mnist(64)
    video = torch.rand(4, 16, 3, 32, 32, generator=generator)
    audio = torch.sin(torch.arange(44100) * (2 * torch.pi * 440 / 44100)) * 0.5

    cases = [
        ("add_image 3x224x224 float (noise)", lambda w, s: w.add_image("img", noise_image, s), None),
        ("add_image 3x224x224 float (gradient)", lambda w, s: w.add_image("img", smooth_image, s), None),
        ("add_images 64x1x28x28 float (noise)", lambda w, s: w.add_images("imgs", noise_batch, s), None),
    ]
    if digits is not None:
        cases.append(("add_images 64x1x28x28 (Fashion-MNIST)", lambda w, s: w.add_images("imgs", digits, s), None))
    cases += [
        ("add_video 4x16x3x32x32 float", lambda w, s: w.add_video("vid", video, s), None if torch_video == "ok" else torch_video),
        ("add_audio 1 s @ 44.1 kHz", lambda w, s: w.add_audio("snd", audio, s), None),
    ]

    print(f"{args.calls} calls + close, best of {args.repeat} (median in brackets), per call:")
    for name, log, note in cases:
        # Warm up both (imports, first-call costs) outside the timing.
        with contextlib.redirect_stdout(io.StringIO()):
            time_calls(TorchWriter, log, 1)
        time_calls(SummaryWriter, log, 1)
        ours: List[float] = []
        theirs: List[float] = []
        for _ in range(args.repeat):
            ours.append(time_calls(SummaryWriter, log, args.calls) / args.calls)
            with contextlib.redirect_stdout(io.StringIO()):  # torch prints the moviepy complaint per call
                theirs.append(time_calls(TorchWriter, log, args.calls) / args.calls)
        line = (
            f"  {name:40s} torch {min(theirs) * 1e3:8.2f} ms [{statistics.median(theirs) * 1e3:8.2f}]   "
            f"eventwriter {min(ours) * 1e3:7.2f} ms [{statistics.median(ours) * 1e3:7.2f}]   "
            f"ratio {min(theirs) / min(ours):5.1f}x [{statistics.median(theirs) / statistics.median(ours):5.1f}x]"
        )
        print(line + (f"   ({note})" if note else ""))


if __name__ == "__main__":
    main()
