"""Write the TensorFlow logdirs beside this script (run with a venv that has tensorflow-cpu).

    .venv-tf/bin/python tests/reader/tf_written/make_logdirs.py [OUT]     # OUT defaults to this folder

The files are committed (a few KB each) so that the suite needs no TensorFlow; rerun this script
to refresh them. Each layout is what a TensorFlow user's program writes:

* ``tf2/``: ``tf.summary.scalar`` (eager and inside ``tf.function``), ``tf.summary.text``,
  ``tf.summary.histogram``, and ``tf.summary.write`` without plugin metadata (tensors of any
  dtype, including a rank-0 float that looks like a scalar but has no plugin).
* ``tf1/``: a TF1 graph-mode session (``tf.compat.v1.summary.FileWriter``) that restarts: a second
  ``SessionLog.START`` at step 5 (TensorBoard drops the earlier rows with step >= 5).
* ``hparams_tutorial/``: the HParams tutorial's Keras layout: ``hp.hparams_config`` at the top
  with metrics in groups ``train`` and ``validation``, one session per run with
  ``hp.KerasCallback`` and Keras' ``TensorBoard`` callback (sub-runs ``train/``, ``validation/``).
* ``hparams_derived/``: the same sessions without ``hparams_config`` (TensorBoard derives the
  metrics from the sessions' sub-runs).
"""

from __future__ import annotations

import os
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorboard.plugins.hparams import api as hp  # noqa: E402


def tf2(out: str) -> None:
    writer = tf.summary.create_file_writer(os.path.join(out, "tf2"))
    with writer.as_default():
        for step in range(40):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
            tf.summary.scalar("metrics/accuracy", step / 40, step=step)
        tf.summary.text("notes", "trained with **SGD**", step=1)
        tf.summary.histogram("weights", np.linspace(-1, 1, 50), step=1)
        tf.summary.write("raw/vector", tf.constant([1.0, 2.5, -3.0]), step=1)
        tf.summary.write("raw/string", tf.constant("hello"), step=1)
        tf.summary.write("raw/int64", tf.constant(7, dtype=tf.int64), step=2)
        tf.summary.write("raw/float", tf.constant(0.25), step=2)  # rank 0, no plugin: a tensor, not a scalar
        tf.summary.write("raw/matrix", tf.constant([[1, 2], [3, 4]], dtype=tf.int32), step=3)
    writer.close()

    inside = tf.summary.create_file_writer(os.path.join(out, "tf2_function"))

    @tf.function
    def log(step: tf.Tensor) -> None:
        with inside.as_default():
            tf.summary.scalar("loss", 1.0 / tf.cast(step + 1, tf.float32), step=step)

    for step in range(30):
        log(tf.constant(step, tf.int64))
    inside.close()


def tf1(out: str) -> None:
    v1 = tf.compat.v1
    run = os.path.join(out, "tf1")
    for first, last in ((0, 10), (5, 8)):  # the second session restarts at step 5
        graph = tf.Graph()
        with graph.as_default():
            x = v1.placeholder(tf.float32, [])
            summary = v1.summary.scalar("loss", x)
            with v1.Session() as session:
                writer = v1.summary.FileWriter(run, filename_suffix=f".session{first}")  # one file each (same second)
                writer.add_session_log(tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START), first)
                for step in range(first, last):
                    writer.add_summary(session.run(summary, {x: 100.0 * (first > 0) + step}), step)
                writer.close()


def _session(root: str, name: str, hparams: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int64")
    model = tf.keras.Sequential([tf.keras.Input((4,)), tf.keras.layers.Dense(hparams["units"], activation="relu"), tf.keras.layers.Dense(2)])
    model.compile(
        optimizer=hparams["optimizer"],
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    logdir = os.path.join(root, name)
    callbacks = [tf.keras.callbacks.TensorBoard(logdir, write_graph=False, profile_batch=0), hp.KerasCallback(logdir, hparams)]
    model.fit(x, y, validation_split=0.25, epochs=3, batch_size=16, verbose=0, callbacks=callbacks)


def hparams_layouts(out: str) -> None:
    sessions = {"run-0": {"units": 4, "optimizer": "sgd", "seed": 483555354}, "run-1": {"units": 8, "optimizer": "adam", "seed": 7}}
    tutorial = os.path.join(out, "hparams_tutorial")
    with tf.summary.create_file_writer(tutorial).as_default():
        hp.hparams_config(
            hparams=[hp.HParam("units", hp.Discrete([4, 8])), hp.HParam("optimizer", hp.Discrete(["adam", "sgd"])), hp.HParam("seed")],
            metrics=[
                hp.Metric("epoch_accuracy", group="validation", display_name="accuracy (val.)"),
                hp.Metric("epoch_loss", group="validation", display_name="loss (val.)"),
                hp.Metric("epoch_loss", group="train", display_name="loss (train)"),
            ],
        )
    for i, (name, hparams) in enumerate(sessions.items()):
        _session(tutorial, name, hparams, i)
        _session(os.path.join(out, "hparams_derived"), name, hparams, i)


LAYOUTS = ("tf2", "tf2_function", "tf1", "hparams_tutorial", "hparams_derived")


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for layout in LAYOUTS:
        shutil.rmtree(os.path.join(out, layout), ignore_errors=True)
    tf2(out)
    tf1(out)
    hparams_layouts(out)


if __name__ == "__main__":
    main()
