"""A small ``jax.jit`` training loop logging through one writer: ``python jax_train.py WRITER LOG_DIR [--record FILE]``.

WRITER is ``clu`` (eventwriter.integrations.clu.MetricWriter inside CLU's own AsyncWriter and
MultiWriter), ``flax`` (eventwriter.integrations.flax.SummaryWriter), or, where TensorFlow is
installed, ``clu-tf`` / ``flax-tf`` (CLU's and Flax's own tf.summary writers) for the differential.
Every value logged is a JAX array (the loss in bfloat16 too), computed deterministically on the CPU.
"""

import argparse
import importlib
import json
import os
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np

STEPS = 12


def clu_metric_writers():
    """CLU's ``metric_writers`` modules. Its package ``__init__`` imports TensorFlow; without it, the
    package is registered bare so that its interface, AsyncWriter and MultiWriter (which need no
    TensorFlow) import, unchanged."""
    try:
        from clu import metric_writers

        return metric_writers.interface, metric_writers.async_writer, metric_writers.multi_writer
    except ImportError:
        import clu

        for name in [m for m in sys.modules if m.startswith("clu.metric_writers")]:
            del sys.modules[name]
        package = types.ModuleType("clu.metric_writers")
        package.__path__ = [os.path.join(os.path.dirname(clu.__file__), "metric_writers")]
        sys.modules["clu.metric_writers"] = package
        return tuple(importlib.import_module(f"clu.metric_writers.{m}") for m in ("interface", "async_writer", "multi_writer"))


def make_writer(kind, log_dir, rank=None):
    if kind == "clu":
        interface, async_writer, multi_writer = clu_metric_writers()
        from eventwriter.integrations.clu import MetricWriter  # after CLU's interface: registers with it

        ours = MetricWriter(log_dir, rank=rank)
        assert isinstance(ours, interface.MetricWriter)
        # Every abstract method of CLU's interface exists on ours, with CLU's parameter names.
        import inspect

        for name in interface.MetricWriter.__abstractmethods__:
            assert list(inspect.signature(getattr(ours, name)).parameters) == list(
                inspect.signature(getattr(interface.MetricWriter, name)).parameters)[1:], name
        return multi_writer.MultiWriter([async_writer.AsyncWriter(ours)])
    if kind == "clu-tf":
        from clu.metric_writers import SummaryWriter

        return SummaryWriter(log_dir)
    if kind == "flax":
        from eventwriter.integrations.flax import SummaryWriter

        return SummaryWriter(log_dir, rank=rank)
    from flax.metrics.tensorboard import SummaryWriter

    return SummaryWriter(log_dir)


def loss_fn(params, x, y):
    pred = x @ params["w"] + params["b"]
    return jnp.mean((pred - y) ** 2)


@jax.jit
def train_step(params, x, y):
    loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
    params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    return params, loss, loss.astype(jnp.bfloat16)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("writer")
    parser.add_argument("log_dir")
    parser.add_argument("--record")
    parser.add_argument("--rank", type=int)
    args = parser.parse_args()
    key = jax.random.PRNGKey(0)
    kx, kw = jax.random.split(key)
    x = jax.random.normal(kx, (64, 4))
    y = x @ jnp.array([[1.0], [-2.0], [0.5], [3.0]]) + 0.25
    params = {"w": jax.random.normal(kw, (4, 1)) * 0.1, "b": jnp.zeros((1,))}
    writer = make_writer(args.writer, args.log_dir, args.rank)
    clu = args.writer.startswith("clu")
    hparams = {"lr": 0.1, "model": {"kind": "linear", "width": 4}, "shuffle": False}
    if clu:
        writer.write_hparams(hparams)
    else:
        writer.hparams(hparams)
    recorded = {"loss": [], "loss_bf16": []}
    frame = jnp.linspace(0.0, 1.0, 6 * 8 * 3).reshape(6, 8, 3)
    for step in range(1, STEPS + 1):
        params, loss, loss_bf16 = train_step(params, x, y)
        recorded["loss"].append(float(loss))
        recorded["loss_bf16"].append(float(loss_bf16.astype(jnp.float32)))
        if clu:
            writer.write_scalars(step, {"loss": loss, "loss_bf16": loss_bf16, "step_int": jnp.int32(step)})
        else:
            writer.scalar("loss", loss, step)
            writer.scalar("loss_bf16", loss_bf16, step)
        if step % 4 == 0:
            images = jnp.stack([frame * (i + 1) / 4 for i in range(4)])  # floats, partly > 1: clipped
            clip = jnp.sin(jnp.linspace(0, 40, 2 * 200)).reshape(1, 200, 2) * jnp.array([0.5, 1.0])
            if clu:
                writer.write_histograms(step, {"w": params["w"], "x": x.astype(jnp.bfloat16)}, num_buckets={"x": 12})
                writer.write_images(step, {"frames": images, "first": (images[0] * 255).astype(jnp.uint8),
                                           "gray": images[:2, :, :, :1]})
                writer.write_audios(step, {"tone": clip}, sample_rate=8000)
                writer.write_texts(step, {"note": f"step **{step}**"})
            else:
                writer.histogram("w", params["w"], step)
                writer.histogram("x", x.astype(jnp.bfloat16), step, bins=12)
                writer.image("frames", images, step)
                writer.image("first", (images[0] * 255).astype(jnp.uint8), step)
                writer.image("gray", images[0, :, :, 0], step)
                writer.image("stack", images[:, :, :, 0], step, max_outputs=2)
                writer.audio("tone", clip, step, sample_rate=8000)
                writer.text("note", f"step **{step}**", step)
                writer.write("raw", jnp.arange(6, dtype=jnp.int32).reshape(2, 3) * step, step, metadata=None)
    if clu:
        writer.write_summaries(STEPS, {"raw": jnp.arange(6, dtype=jnp.int32).reshape(2, 3)})
    writer.flush()
    writer.close()
    if args.record:
        with open(args.record, "w") as handle:
            json.dump({"values": recorded, "w": np.asarray(params["w"]).tolist(), "x": np.asarray(x).tolist()}, handle)


if __name__ == "__main__":
    main()
