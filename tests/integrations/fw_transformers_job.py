"""A small, seeded Hugging Face ``Trainer.train`` on CPU with a tiny BERT built from a config (no download).

Run as a script by tests/integrations/test_transformers.py (not collected by pytest):

    python fw_transformers_job.py --callback ours|hf --log-dir DIR [--block] [--max-steps 6] ...

``ours`` passes ``eventwriter.integrations.transformers.TensorBoardCallback(log_dir=DIR)`` with
``report_to="none"``; ``hf`` uses transformers' own callback through ``report_to="tensorboard"``
with ``TENSORBOARD_LOGGING_DIR=DIR``. ``--block`` makes TensorFlow, tensorboard and tensorboardX
unimportable first and fails the job if one was imported anyway. Under ``torchrun`` every
process runs this script (and the block). Each process writes ``report-rank<k>.json``.
"""

import sys

if "--block" in sys.argv:
    from blocked import block, leaked

    block()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--callback", choices=["ours", "hf"], required=True)
    parser.add_argument("--log-dir", required=True)
    parser.add_argument("--max-steps", type=int, default=6)
    parser.add_argument("--no-hparams", action="store_true")
    parser.add_argument("--string-metric", action="store_true", help="compute_metrics also returns a str")
    parser.add_argument("--block", action="store_true")
    parser.add_argument("--storage-env", action="store_true", help="storage_options from EW_STORAGE_OPTIONS (JSON)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import numpy as np
    import torch
    import transformers
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments, set_seed

    torch.set_num_threads(1)
    set_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                        max_position_embeddings=16, num_labels=2)
    model = BertForSequenceClassification(config)

    class Pairs(torch.utils.data.Dataset):
        def __init__(self, n, seed):
            generator = torch.Generator().manual_seed(seed)
            self.ids = torch.randint(1, 64, (n, 8), generator=generator)
            self.labels = (self.ids[:, 0] > 32).long()

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i], "attention_mask": torch.ones(8, dtype=torch.long), "labels": self.labels[i]}

    def compute_metrics(prediction):
        logits, labels = prediction
        metrics = {"accuracy": float((np.argmax(logits, -1) == labels).mean())}
        if args.string_metric:
            metrics["verdict"] = "fine"
        return metrics

    world = int(os.environ.get("WORLD_SIZE", "1"))
    version = tuple(int(part) for part in transformers.__version__.split(".")[:2])
    legacy = {}
    if args.callback == "hf" and version < (5, 0):
        legacy["logging_dir"] = args.log_dir  # transformers 4.x: its callback's directory; 5.x reads the variable below
    legacy["eval_strategy" if version >= (4, 41) else "evaluation_strategy"] = "steps"  # renamed in 4.41
    training_args = TrainingArguments(
        output_dir="out", report_to="none" if args.callback == "ours" else "tensorboard",
        max_steps=args.max_steps, per_device_train_batch_size=4, per_device_eval_batch_size=8, learning_rate=1e-3,
        logging_steps=1, eval_steps=3, save_strategy="no", seed=0, use_cpu=True,
        disable_tqdm=True, dataloader_num_workers=0, ddp_backend="gloo" if world > 1 else None, **legacy,
    )
    callbacks = []
    if args.callback == "ours":
        from eventwriter.integrations.transformers import TensorBoardCallback

        extra = {}
        if args.storage_env:
            extra["storage_options"] = json.loads(os.environ["EW_STORAGE_OPTIONS"])
        callbacks.append(TensorBoardCallback(log_dir=args.log_dir, log_hparams=not args.no_hparams, **extra))
    else:
        os.environ["TENSORBOARD_LOGGING_DIR"] = args.log_dir
    trainer = Trainer(model=model, args=training_args, train_dataset=Pairs(48, 1), eval_dataset=Pairs(16, 2),
                      compute_metrics=compute_metrics, callbacks=callbacks)
    trainer.train()
    ours = [c for c in trainer.callback_handler.callbacks if type(c).__module__.startswith("eventwriter")]
    report = {"rank": training_args.process_index, "pid": os.getpid(), "world_zero": trainer.is_world_process_zero(),
              "transformers": transformers.__version__,
              "callbacks": [type(c).__module__ + "." + type(c).__name__ for c in trainer.callback_handler.callbacks],
              "writer_left_open": bool(ours and ours[0].tb_writer is not None)}
    with open(f"report-rank{training_args.process_index}.json", "w") as f:
        json.dump(report, f)
    if args.block:
        imported = leaked()
        if imported:
            raise SystemExit(f"imported although blocked: {imported}")


if __name__ == "__main__":
    main()
