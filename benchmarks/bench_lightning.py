"""Side-by-side benchmark: eventwriter's Lightning logger vs Lightning's own TensorBoardLogger (torch writer).

Run: .venv/bin/python benchmarks/bench_lightning.py [--calls 5000] [--steps 1000] [--repeat 3]

1. Per ``log_metrics`` call: what Lightning's logger connector hands a logger every step
   (``{"train/loss": float, "epoch": int}``), ``--calls`` times, plus the final ``save()``
   (flush), for each logger in the same process.
2. A small ``Trainer.fit`` (a 4-8-1 MLP, batch 8, ``log_every_n_steps=1``, ``--steps`` steps)
   with no logger, Lightning's and ours, alternating, ``--repeat`` rounds: the wall time of
   ``fit`` and the time spent inside the logger's methods, as a share of ``fit``.

Prints best-of/median times and the ratios. No assertions: this machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from method_timer import MethodTimer  # noqa: E402  (beside this script)


def ours_logger(save_dir):
    from eventwriter.integrations.lightning import TensorBoardLogger

    return TensorBoardLogger(save_dir)


def lightning_logger(save_dir):
    from lightning.pytorch.loggers import TensorBoardLogger

    return TensorBoardLogger(save_dir)


LOGGERS = {"lightning (torch writer)": lightning_logger, "eventwriter": ours_logger}


def time_log_metrics(make, calls: int) -> float:
    with tempfile.TemporaryDirectory() as save_dir:
        logger = make(save_dir)
        logger.log_metrics({"warmup": 0.0}, step=0)  # creates the writer: not part of a step's cost
        start = time.perf_counter()
        for step in range(calls):
            # what Lightning's logger connector does every logged step
            logger.log_metrics({"train/loss": 1.0 / (step + 1), "epoch": step // 100}, step=step)
            logger.save()
        elapsed = time.perf_counter() - start
        logger.finalize("success")
    return elapsed


MODELS = {
    # (inputs, hidden, outputs, batch): "tiny" is nearly all Lightning's own per-step work (about
    # 1 ms); "mlp" is a Fashion-MNIST-sized MLP, still small, with some arithmetic per step
    "tiny": (4, 8, 1, 8),
    "mlp": (784, 256, 10, 64),
}


def fit_once(make, steps: int, model: str = "tiny") -> tuple:
    """One fit; returns (fit wall seconds, seconds inside the logger's methods)."""
    import lightning.pytorch as pl
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    class Regressor(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, outputs))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.log("train/loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    inputs, hidden, outputs, batch = MODELS[model]
    pl.seed_everything(0, verbose=False)
    x = torch.randn(batch * 250, inputs)
    y = x[:, :outputs] * 2.0
    loader = DataLoader(TensorDataset(x, y), batch_size=batch)
    timer = MethodTimer()

    with tempfile.TemporaryDirectory() as save_dir:
        logger = False
        if make is not None:
            logger = make(save_dir)
            timer.wrap(logger, ("log_metrics", "log_hyperparams", "log_graph", "save", "finalize"))
        trainer = pl.Trainer(max_steps=steps, logger=logger, accelerator="cpu", devices=1, enable_progress_bar=False,
                             enable_model_summary=False, enable_checkpointing=False, log_every_n_steps=1,
                             default_root_dir=save_dir)
        start = time.perf_counter()
        trainer.fit(Regressor(), loader)
        wall = time.perf_counter() - start
    return wall, timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--models", default="tiny,mlp", help="comma-separated: " + ", ".join(MODELS))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import logging

    import torch

    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)

    per_call = {name: [] for name in LOGGERS}
    for _ in range(args.repeat):
        for name, make in LOGGERS.items():
            per_call[name].append(time_log_metrics(make, args.calls) / args.calls)
    theirs, ours = (min(per_call[n]) for n in LOGGERS)
    print(f"log_metrics (2 scalars) + save(), x{args.calls}, best of {args.repeat}:")
    for name in LOGGERS:
        print(f"  {name:26s} {min(per_call[name]) * 1e6:8.2f} us/call (median {statistics.median(per_call[name]) * 1e6:.2f})")
    print(f"  ratio eventwriter / lightning = {ours / theirs:.3f} (target <= 0.2); lightning is {theirs / ours:.1f}x slower")

    configs = {"no logger": None, **LOGGERS}
    fit_once(ours_logger, 50)  # warm-up: imports, first-call costs
    fit_once(lightning_logger, 50)
    for model in args.models.split(","):
        walls = {name: [] for name in configs}
        inside = {name: [] for name in configs}
        for _ in range(args.repeat):
            for name, make in configs.items():
                wall, spent = fit_once(make, args.steps, model)
                walls[name].append(wall)
                inside[name].append(spent)
        print(f"Trainer.fit, model {model} {MODELS[model]}, {args.steps} steps, log every step, {args.repeat} rounds (medians):")
        base = statistics.median(walls["no logger"])
        for name in configs:
            wall = statistics.median(walls[name])
            spent = statistics.median(inside[name])
            share = f"{spent * 1e3:7.1f} ms inside the logger = {100 * spent / wall:5.2f}% of fit" if name != "no logger" else ""
            print(f"  {name:26s} fit {wall:6.2f} s ({wall / args.steps * 1e3:.2f} ms/step, {wall / base:.2f}x no logger)  {share}")
        ratio = statistics.median(inside["eventwriter"]) / statistics.median(inside["lightning (torch writer)"])
        print(f"  time inside the logger, eventwriter / lightning = {ratio:.3f} (target <= 0.2)")


if __name__ == "__main__":
    main()
