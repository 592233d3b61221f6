"""Side-by-side benchmark: eventwriter's TensorBoardCallback vs transformers' own (torch writer).

Run: .venv/bin/python benchmarks/bench_transformers.py [--calls 5000] [--steps 300] [--repeat 3]

1. Per ``on_log`` call: what the Trainer hands the callback every step at ``logging_steps=1``
   (``loss``, ``grad_norm``, ``learning_rate``, ``epoch``), ``--calls`` times, plus
   ``on_train_end`` (close), for each callback in the same process.
2. A small ``Trainer.train`` (a tiny BERT built from a config, batch 4, ``logging_steps=1``,
   ``--steps`` steps) with no TensorBoard callback, transformers' and ours, alternating,
   ``--repeat`` rounds: the wall time of ``train()`` and the time spent inside the callback's
   hooks, as a share of it.

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


def ours_callback(log_dir):
    from eventwriter.integrations.transformers import TensorBoardCallback

    return TensorBoardCallback(log_dir=log_dir)


def hf_callback(log_dir):
    from transformers.integrations import TensorBoardCallback

    os.environ["TENSORBOARD_LOGGING_DIR"] = log_dir
    try:
        return TensorBoardCallback()
    finally:
        del os.environ["TENSORBOARD_LOGGING_DIR"]


CALLBACKS = {"transformers (torch writer)": hf_callback, "eventwriter": ours_callback}


def time_on_log(make, calls: int, args) -> float:
    from transformers import TrainerControl, TrainerState

    state, control = TrainerState(), TrainerControl()
    with tempfile.TemporaryDirectory() as log_dir:
        callback = make(log_dir)
        callback.on_train_begin(args, state, control)  # opens the writer: not part of a step's cost
        start = time.perf_counter()
        for step in range(calls):
            state.global_step = step + 1
            callback.on_log(args, state, control,
                            logs={"loss": 1.0 / (step + 1), "grad_norm": 0.5, "learning_rate": 1e-3, "epoch": step / 100})
        callback.on_train_end(args, state, control)
        elapsed = time.perf_counter() - start
    return elapsed


def train_once(make, steps: int) -> tuple:
    """One ``train()``; returns (train wall seconds, seconds inside the callback's hooks)."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments, set_seed

    set_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=16, num_labels=2)
    model = BertForSequenceClassification(config)
    ids = torch.randint(1, 64, (4 * steps, 8), generator=torch.Generator().manual_seed(1))
    data = [{"input_ids": row, "attention_mask": torch.ones(8, dtype=torch.long), "labels": int(row[0] > 32)} for row in ids]
    timer = MethodTimer()

    with tempfile.TemporaryDirectory() as out:
        callbacks = []
        if make is not None:
            callback = make(os.path.join(out, "tb"))
            timer.wrap(callback, ("on_train_begin", "on_log", "on_train_end"))
            callbacks.append(callback)
        args = TrainingArguments(output_dir=out, report_to="none", max_steps=steps, per_device_train_batch_size=4,
                                 logging_steps=1, save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0,
                                 dataloader_num_workers=0)
        trainer = Trainer(model=model, args=args, train_dataset=data, callbacks=callbacks)
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # printing every step would dominate both
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
    return wall, timer.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch
    from transformers import TrainingArguments
    from transformers.utils import logging

    torch.set_num_threads(1)
    logging.set_verbosity_error()

    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(output_dir=out, report_to="none", use_cpu=True)
        per_call = {name: [] for name in CALLBACKS}
        for _ in range(args.repeat):
            for name, make in CALLBACKS.items():
                per_call[name].append(time_on_log(make, args.calls, training_args) / args.calls)
    theirs, ours = (min(per_call[n]) for n in CALLBACKS)
    print(f"on_log (4 scalars) x{args.calls} incl. on_train_end, best of {args.repeat}:")
    for name in CALLBACKS:
        print(f"  {name:28s} {min(per_call[name]) * 1e6:8.2f} us/call (median {statistics.median(per_call[name]) * 1e6:.2f})")
    print(f"  ratio eventwriter / transformers = {ours / theirs:.3f} (target <= 0.2); transformers is {theirs / ours:.1f}x slower")

    configs = {"no TensorBoard callback": None, **CALLBACKS}
    walls = {name: [] for name in configs}
    inside = {name: [] for name in configs}
    train_once(ours_callback, 10)  # warm-up: imports, first-call costs
    train_once(hf_callback, 10)
    for _ in range(args.repeat):
        for name, make in configs.items():
            wall, spent = train_once(make, args.steps)
            walls[name].append(wall)
            inside[name].append(spent)
    print(f"Trainer.train, {args.steps} steps, logging_steps=1, {args.repeat} rounds (medians):")
    base = statistics.median(walls["no TensorBoard callback"])
    for name in configs:
        wall = statistics.median(walls[name])
        spent = statistics.median(inside[name])
        share = f"{spent * 1e3:7.1f} ms inside the callback = {100 * spent / wall:5.2f}% of train" if make_label(name) else ""
        print(f"  {name:28s} train {wall:6.2f} s ({wall / args.steps * 1e3:.2f} ms/step, {wall / base:.2f}x none)  {share}")
    ratio = statistics.median(inside["eventwriter"]) / statistics.median(inside["transformers (torch writer)"])
    print(f"  time inside the callback, eventwriter / transformers = {ratio:.3f} (target <= 0.2)")


def make_label(name: str) -> bool:
    return name != "no TensorBoard callback"


if __name__ == "__main__":
    main()
