"""A logdir holding every summary kind, written without torch: the shared input of many tests."""

from __future__ import annotations

import numpy as np

from eventwriter import SummaryWriter

LOSS = [1.0, 0.8, 0.5, 0.4, 0.3]
RNG = np.random.default_rng(42)
WEIGHTS = RNG.normal(size=(3, 1000))
PR_LABELS = RNG.integers(0, 2, size=200)
PR_PREDS = np.clip(PR_LABELS * 0.6 + RNG.random(200) * 0.4, 0, 1)
SOUND = np.sin(np.linspace(0, 2 * np.pi * 440 * 0.1, 800))


def write_everything(logdir) -> None:
    """One run holding each kind a dashboard shows."""
    with SummaryWriter(logdir) as w:
        for step, value in enumerate(LOSS):
            w.add_scalar("loss", value, step)
        for step in range(3):
            w.add_histogram("weights", WEIGHTS[step], step)
        w.add_image("img", np.linspace(0, 1, 3 * 8 * 10).reshape(3, 8, 10), 0)
        w.add_images("grid", np.arange(5 * 3 * 6 * 6, dtype=np.uint8).reshape(5, 3, 6, 6), 0)
        w.add_video("vid", np.linspace(0, 1, 4 * 3 * 8 * 8).reshape(1, 4, 3, 8, 8), 0, fps=2)
        w.add_audio("snd", SOUND, 0, sample_rate=8000)
        w.add_text("notes", "some **markdown**", 0)
        w.add_pr_curve("pr", PR_LABELS, PR_PREDS, 0, num_thresholds=11)
        w.add_custom_scalars({"Training": {"loss chart": ["Multiline", ["loss"]]}})
        vertices = np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], dtype=np.float32)
        faces = np.array([[[0, 1, 2], [0, 1, 3], [0, 2, 3]]], dtype=np.int32)
        colors = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]]], dtype=np.uint8)
        w.add_mesh("mesh", vertices, colors=colors, faces=faces, global_step=0)
        w.add_hparams({"lr": 0.1, "optimizer": "sgd", "batchnorm": True}, {"hp/accuracy": 0.9})
        w.add_tensor("raw", np.arange(6, dtype=np.uint8).reshape(2, 3), 0)
        w.add_graph(tiny_graph())


def tiny_graph():
    """A two-node ``GraphDef`` (no torch needed): ``x`` feeding ``relu``."""
    from eventwriter import protos

    graph = protos.GraphDef()
    graph.node.add(name="x", op="Placeholder")
    graph.node.add(name="relu", op="Relu", input=["x"])
    return graph
