"""JAX writers' per-call cost: eventwriter's CLU and Flax adapters vs CLU's and Flax's own (tf.summary).

    python benchmarks/bench_jax.py                # both sides (the TensorFlow ones through .venv-tf)
    python benchmarks/bench_jax.py --part ours    # one side only, JSON (--part tf: in a venv with TensorFlow)

Each case logs JAX arrays (made once, outside the timing) N times with increasing steps, best of
5 rounds, in microseconds per call: a float32 scalar, a bfloat16 scalar, a 10,000-value
histogram, a batch of four 28x28 RGB images. Flax's own writer flushes after every call by default
(``auto_flush=True``); it is timed both ways, eventwriter's hands events to the OS within 0.2 s
either way. eventwriter's side runs in this interpreter's venv (no TensorFlow), the others in
``.venv-tf``. Makes no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _best(call, number: int) -> float:
    """Best of 5 rounds of ``number`` calls, µs per call; ``call(i)`` gets a fresh step each time."""
    rounds = []
    step = 0
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            step += 1
            call(step)
        rounds.append((time.perf_counter() - start) / number * 1e6)
    return min(rounds)


def run_part(part: str) -> dict:
    import jax.numpy as jnp
    import numpy as np

    scalar = jnp.float32(0.5)
    scalar_bf16 = jnp.bfloat16(0.5)
    values = jnp.asarray(np.random.default_rng(0).standard_normal(10_000), dtype=jnp.float32)
    images = jnp.asarray(np.random.default_rng(1).random((4, 28, 28, 3)), dtype=jnp.float32)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-jax-") as tmp:
        if part == "ours":
            from eventwriter.integrations.clu import MetricWriter
            from eventwriter.integrations.flax import SummaryWriter

            clu_writer = MetricWriter(os.path.join(tmp, "clu"))
            flax_writers = {"flax": SummaryWriter(os.path.join(tmp, "flax"))}
        else:
            from clu.metric_writers import SummaryWriter as CluSummaryWriter
            from flax.metrics.tensorboard import SummaryWriter

            clu_writer = CluSummaryWriter(os.path.join(tmp, "clu"))
            flax_writers = {"flax": SummaryWriter(os.path.join(tmp, "flax")),
                            "flax auto_flush=False": SummaryWriter(os.path.join(tmp, "flax-noflush"), auto_flush=False)}
        results["clu write_scalars (1 float32)"] = _best(lambda s: clu_writer.write_scalars(s, {"loss": scalar}), 2000)
        results["clu write_scalars (1 bfloat16)"] = _best(lambda s: clu_writer.write_scalars(s, {"loss16": scalar_bf16}), 2000)
        results["clu write_histograms (10k values)"] = _best(lambda s: clu_writer.write_histograms(s, {"h": values}), 200)
        results["clu write_images (4x28x28x3)"] = _best(lambda s: clu_writer.write_images(s, {"img": images}), 100)
        for name, writer in flax_writers.items():
            calls = 2000 if "False" in name or part == "ours" else 300  # Flax's own fsyncs every call by default
            results[f"{name} scalar (float32)"] = _best(lambda s: writer.scalar("loss", scalar, s), calls)
            results[f"{name} histogram (10k values)"] = _best(lambda s: writer.histogram("h", values, s), 200)
        clu_writer.close()
        for writer in flax_writers.values():
            writer.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=["ours", "tf"])
    parser.add_argument("--tf-python", default=str(ROOT / ".venv-tf" / "bin" / "python"))
    args = parser.parse_args()
    if args.part:
        print(json.dumps(run_part(args.part)))
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    sides = {}
    for part, python in (("ours", sys.executable), ("tf", args.tf_python)):
        out = subprocess.run([python, __file__, "--part", part], env=env, capture_output=True, text=True, check=True).stdout
        sides[part] = json.loads(out.strip().splitlines()[-1])
    print(f"{platform.machine()}, {os.cpu_count()} cores; us per call, best of 5 rounds")
    print(f"{'':40s}{'eventwriter':>13s}{'CLU/Flax own (tf)':>20s}{'ratio':>8s}")
    for name, theirs in sides["tf"].items():
        key = name.replace(" auto_flush=False", "")
        ours = sides["ours"].get(key)
        ratio = "" if ours is None else f"{ours / theirs:.3f}"
        print(f"{name:40s}{'' if ours is None else f'{ours:.1f}':>13s}{theirs:>20.1f}{ratio:>8s}")


if __name__ == "__main__":
    main()
