"""A small, seeded Lightning ``Trainer.fit`` on CPU, logging through one TensorBoard logger.

Run as a script by tests/integrations/test_lightning.py (not collected by pytest):

    python fw_lightning_job.py --logger ours|lightning --save-dir DIR [--block] [--devices 2] ...

``--block`` makes TensorFlow, tensorboard and tensorboardX unimportable before anything else is
imported, and fails the job if one of them was imported anyway. Each rank writes
``report-rank<k>.json`` (its pid, rank, the logger's dirs, the experiment's class) into the
working directory. Under ``--devices 2`` Lightning's DDP launcher starts the second rank by
running this same command line again, so the block applies there too.
"""

import sys

if "--block" in sys.argv:
    from blocked import block, leaked

    block()

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--logger", choices=["ours", "lightning"], required=True)
    parser.add_argument("--save-dir", required=True)
    parser.add_argument("--name", default="lightning_logs")
    parser.add_argument("--version", default=None)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--sub-dir", default=None)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--log-graph", action="store_true")
    parser.add_argument("--no-default-hp-metric", action="store_true")
    parser.add_argument("--no-checkpoint", action="store_true")
    parser.add_argument("--flavor", choices=["lightning", "pytorch_lightning"], default="lightning")
    parser.add_argument("--block", action="store_true")
    parser.add_argument("--storage-env", action="store_true", help="pass storage_options from EW_STORAGE_OPTIONS (JSON)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.flavor == "pytorch_lightning":
        sys.modules["lightning"] = None  # type: ignore[assignment]  # only pytorch_lightning may be found
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.set_num_threads(1)
    if args.flavor == "lightning":
        import lightning.pytorch as pl
        from lightning.pytorch.strategies import DDPStrategy
    else:
        import pytorch_lightning as pl  # type: ignore[no-redef]
        from pytorch_lightning.strategies import DDPStrategy  # type: ignore[no-redef]

    class Regressor(pl.LightningModule):
        def __init__(self, hidden: int = 8, lr: float = 0.05, use_bias: bool = True, optimizer: str = "sgd",
                     nested: dict = None, note: str = None):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Linear(4, hidden, bias=use_bias), nn.Tanh(), nn.Linear(hidden, 1))
            self.example_input_array = torch.zeros(2, 4)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = nn.functional.mse_loss(self(x), y)
            self.log("train/loss", loss)
            self.log("rank_seen", float(self.global_rank))  # not synced: only rank 0's reaches the logger
            # the experiment on every rank: rank 0's writer records, the others' NullWriter does not
            self.logger.experiment.add_scalar("direct/rank", float(self.global_rank), self.global_step)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val/loss", nn.functional.mse_loss(self(x), y), sync_dist=True)

        def on_train_start(self):
            self.logger.experiment.add_text("note", "trained by the **job**", self.global_step)

        def on_train_epoch_end(self):
            weight = self.net[0].weight
            self.logger.experiment.add_histogram("weights/first", weight, self.global_step)
            self.logger.log_metrics({"weight_stats": {"mean": weight.mean(), "std": weight.std()}}, step=self.global_step)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    pl.seed_everything(0, workers=True)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(96, 4, generator=generator)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(96, 1, generator=generator)
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=8)
    val = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=16)

    version = None
    if args.version is not None:
        version = int(args.version) if args.version.isdigit() else args.version
    common = dict(name=args.name, version=version, log_graph=args.log_graph,
                  default_hp_metric=not args.no_default_hp_metric, prefix=args.prefix, sub_dir=args.sub_dir)
    if args.logger == "ours":
        from eventwriter.integrations.lightning import TensorBoardLogger

        extra = {}
        if args.storage_env:
            extra["storage_options"] = json.loads(os.environ["EW_STORAGE_OPTIONS"])
        logger = TensorBoardLogger(args.save_dir, **common, **extra)
    else:
        logger = pl.loggers.TensorBoardLogger(args.save_dir, **common)

    strategy = "auto"
    if args.devices > 1:
        strategy = DDPStrategy(process_group_backend="gloo", timeout=datetime.timedelta(seconds=120))
    trainer = pl.Trainer(
        max_epochs=args.epochs, logger=logger, accelerator="cpu", devices=args.devices, strategy=strategy,
        enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1, deterministic=True,
        enable_checkpointing=not args.no_checkpoint, default_root_dir=args.save_dir,
    )
    model = Regressor(nested={"depth": 2, "inner": {"act": "tanh"}}, note=None)
    trainer.fit(model, train, val)

    report = {
        "rank": trainer.global_rank, "pid": os.getpid(), "log_dir": logger.log_dir, "version": logger.version,
        "root_dir": logger.root_dir, "experiment": type(logger.experiment).__name__,
        "logger_module": type(logger).__mro__[1].__module__, "lightning": pl.__version__,
    }
    with open(f"report-rank{trainer.global_rank}.json", "w") as f:
        json.dump(report, f)
    if args.block:
        imported = leaked()
        if imported:
            raise SystemExit(f"imported although blocked: {imported}")


if __name__ == "__main__":
    main()
