"""Keras TensorBoard callback overhead: eventwriter's (JAX backend) vs Keras's own (TensorFlow backend).

    python benchmarks/bench_keras.py              # both, side by side (Keras's own through .venv-tf)
    python benchmarks/bench_keras.py --repeat 5   # medians of 5 fits per configuration
    python benchmarks/bench_keras.py --part ours  # one side only, JSON (--part keras: in a venv with TensorFlow)

Two small models (a 784-64-10 MLP, and the PyTorch tutorial's Fashion-MNIST CNN; Adam, batch
32, 256 batches of random Fashion-MNIST-shaped data, one epoch) is fitted with ``update_freq="batch"``, once with no callback and once with the
TensorBoard callback, alternating, ``--repeat`` times each. Two figures per callback:

* **hooks**: wall time spent inside the callback's own methods (each ``on_*`` hook, timed by a
  subclass that wraps each one), per batch: the per-batch hooks alone (the per-log-call
  overhead of the logger), and all hooks (with ``set_model``, epoch ends and closing the files).
  When Keras runs the batch-end hook in its thread pool, that time is spent off the training
  thread, and its wall time includes waiting for the GIL; the CPU time (``time.thread_time``)
  of the per-batch hooks is reported too.
* **fit**: the fit's wall time with the callback minus without it, per batch, and as a share of
  the fit without it. This includes what the callback makes Keras do (a callback with a
  per-batch hook turns off Keras's asynchronous batch-end dispatch on JAX).

eventwriter's side runs in this interpreter's venv (JAX backend, no TensorFlow); Keras's side in
``.venv-tf`` (TensorFlow backend), as the only place its callback can run. Makes no assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCHES, BATCH_SIZE = 256, 32


def _timed(callback_class):
    """A subclass of ``callback_class`` adding up the wall time spent in its hooks."""

    class Timed(callback_class):
        spent = 0.0  # every hook
        per_batch = 0.0  # the per-batch hooks only (the per-log-call cost)
        per_batch_cpu = 0.0  # their CPU time (thread_time: without waiting for the GIL)

    def wrap(name):
        original = getattr(callback_class, name)

        def hook(self, *args, **kwargs):
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return original(self, *args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                Timed.spent += elapsed
                if "batch" in name:
                    Timed.per_batch += elapsed
                    Timed.per_batch_cpu += time.thread_time() - cpu

        hook.__name__ = name
        return hook

    for name in ("set_model", "on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_train_batch_begin",
                 "on_train_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin"):
        setattr(Timed, name, wrap(name))
    return Timed


def build_model(keras, name: str):
    """``mlp``: 784-64-10; ``cnn``: the PyTorch tutorial's Fashion-MNIST CNN (conv 6, conv 16, 120, 84, 10)."""
    layers = keras.layers
    if name == "mlp":
        stack = [keras.Input((784,)), layers.Dense(64, activation="relu"), layers.Dense(10)]
    else:
        stack = [keras.Input((784,)), layers.Reshape((28, 28, 1)), layers.Conv2D(6, 5, activation="relu"), layers.MaxPooling2D(),
                 layers.Conv2D(16, 5, activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
                 layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"), layers.Dense(10)]
    return keras.Sequential(stack)


def run_part(part: str, repeat: int, model_name: str) -> dict:
    """Fit ``repeat`` times without and with the callback (``ours`` or ``keras``), alternating."""
    os.environ.setdefault("KERAS_BACKEND", "jax" if part == "ours" else "tensorflow")
    import keras
    import numpy as np

    if part == "ours":
        from eventwriter.integrations.keras import TensorBoard as callback_class
    else:
        callback_class = keras.callbacks.TensorBoard
    Timed = _timed(callback_class)
    rng = np.random.default_rng(0)
    x = rng.random((BATCHES * BATCH_SIZE, 784), dtype=np.float32)
    y = rng.integers(0, 10, BATCHES * BATCH_SIZE)
    keras.utils.set_random_seed(0)
    model = build_model(keras, model_name)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)  # compile and warm up
    bare, with_cb, hooks, batch_hooks, batch_cpu = [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-keras-") as tmp:
        for i in range(repeat):
            start = time.perf_counter()
            model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)
            bare.append(time.perf_counter() - start)
            Timed.spent = Timed.per_batch = Timed.per_batch_cpu = 0.0
            callback = Timed(os.path.join(tmp, f"run{i}"), update_freq="batch")
            start = time.perf_counter()
            model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0, callbacks=[callback])
            with_cb.append(time.perf_counter() - start)
            hooks.append(Timed.spent)
            batch_hooks.append(Timed.per_batch)
            batch_cpu.append(Timed.per_batch_cpu)
    return {"model": model_name, "part": part, "backend": keras.backend.backend(), "keras": keras.__version__, "batches": BATCHES,
            "bare_s": bare, "with_s": with_cb, "hooks_s": hooks,
            "batch_hooks_s": batch_hooks, "batch_cpu_s": batch_cpu}


def _summary(result: dict) -> dict:
    batches = result["batches"]
    bare, with_cb, hooks, batch_hooks, cpu = (statistics.median(result[k]) for k in ("bare_s", "with_s", "hooks_s", "batch_hooks_s", "batch_cpu_s"))
    return {"batch_cpu_us": cpu / batches * 1e6, "batch_cpu_pct": 100 * cpu / bare,
            "hooks_us": hooks / batches * 1e6, "batch_hooks_us": batch_hooks / batches * 1e6,
            "batch_hooks_pct": 100 * batch_hooks / bare, "fit_delta_us": (with_cb - bare) / batches * 1e6,
            "hooks_pct": 100 * hooks / bare, "fit_delta_pct": 100 * (with_cb - bare) / bare, "bare_ms": bare / batches * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--part", choices=["ours", "keras"])
    parser.add_argument("--model", choices=["mlp", "cnn"], action="append", help="default: both")
    parser.add_argument("--tf-python", default=str(ROOT / ".venv-tf" / "bin" / "python"))
    args = parser.parse_args()
    models = args.model or ["mlp", "cnn"]
    if args.part:
        print(json.dumps(run_part(args.part, args.repeat, models[0])))
        return
    for model in models:
        compare(model, args.repeat, args.tf_python)


def compare(model: str, repeat: int, tf_python: str) -> None:
    """Run both sides for one model and print the table."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(ROOT))
    results = {}
    for part, python in (("ours", sys.executable), ("keras", tf_python)):
        out = subprocess.run([python, __file__, "--part", part, "--repeat", str(repeat), "--model", model], env=env,
                             capture_output=True, text=True, check=True).stdout
        results[part] = json.loads(out.strip().splitlines()[-1])
    ours, keras_own = _summary(results["ours"]), _summary(results["keras"])
    print(f"\n{model}: Keras {results['ours']['keras']}, {platform.machine()}, {os.cpu_count()} cores; "
          f"{BATCHES} batches of {BATCH_SIZE}, update_freq='batch', median of {repeat}")
    print(f"{'':50s}{'eventwriter (JAX)':>20s}{'Keras own (TF)':>18s}{'ratio':>8s}")
    rows = [("fit without callback, ms per batch", "bare_ms", "{:.3f}"),
            ("per-batch hooks (the log calls), us per batch", "batch_hooks_us", "{:.1f}"),
            ("  as % of the fit without callback", "batch_hooks_pct", "{:.2f}%"),
            ("per-batch hooks, CPU time (thread_time), us/batch", "batch_cpu_us", "{:.1f}"),
            ("  as % of the fit without callback", "batch_cpu_pct", "{:.2f}%"),
            ("all hooks (+ set_model, epochs, close), us/batch", "hooks_us", "{:.1f}"),
            ("  as % of the fit without callback", "hooks_pct", "{:.2f}%"),
            ("fit with - without callback, us per batch", "fit_delta_us", "{:.1f}"),
            ("  as % of the fit without callback", "fit_delta_pct", "{:.2f}%")]
    for label, key, fmt in rows:
        ratio = ours[key] / keras_own[key] if keras_own[key] and key in ("hooks_us", "batch_hooks_us", "batch_cpu_us", "fit_delta_us") else None
        print(f"{label:50s}{fmt.format(ours[key]):>20s}{fmt.format(keras_own[key]):>18s}{'' if ratio is None else f'{ratio:.3f}':>8s}")


if __name__ == "__main__":
    main()
