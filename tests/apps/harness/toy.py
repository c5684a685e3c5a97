"""A tiny toy app for the harness tests: synthetic regression data + an MLP task.

The tests register this file as ``spanmix._harness_toy`` (see conftest.py), because ``load_pretrained``
only rebuilds classes under ``spanmix.``; run as a script it is a complete app (used by the DDP test).
"""
import json
import os

import torch
from lightning.pytorch import LightningDataModule, LightningModule
from spanmix.apps.harness import SpanmixModule, run_cli
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class ToyData(LightningDataModule):
    """x: (N, seq_len, n_features) Gaussian; y = a fixed linear function of x."""

    def __init__(self, seq_len: int = 8, n_features: int = 3, n_samples: int = 64, batch_size: int = 16):
        super().__init__()
        self.seq_len, self.n_features = seq_len, n_features  # known after __init__ (instantiate-time link)
        self.n_samples, self.batch_size = n_samples, batch_size

    def setup(self, stage: str) -> None:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(self.n_samples, self.seq_len, self.n_features, generator=g)
        w = torch.randn(self.seq_len * self.n_features, generator=g)
        self.dataset = TensorDataset(x, x.flatten(1) @ w / 4)

    def _loader(self, shuffle: bool = False) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.batch_size, shuffle=shuffle)

    def train_dataloader(self):
        return self._loader(shuffle=True)

    def val_dataloader(self):
        return self._loader()

    def test_dataloader(self):
        return self._loader()

    def predict_dataloader(self):
        return self._loader()


class ToyModule(LightningModule):
    """A plain LightningModule (the harness records its class path in checkpoints)."""

    def __init__(self, seq_len: int = 8, n_features: int = 3, hidden: int = 16, lr: float = 0.01):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(seq_len * n_features, hidden), nn.GELU(),
                                 nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def _loss(self, batch):
        x, y = batch
        return nn.functional.mse_loss(self(x), y)

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self._loss(batch), sync_dist=True)

    def test_step(self, batch, batch_idx):
        self.log("test/loss", self._loss(batch), sync_dist=True)

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    def on_fit_end(self) -> None:
        # The DDP test asks each rank what it saw.
        report_dir = os.environ.get("TOY_REPORT_DIR")
        if report_dir:
            params = torch.cat([p.detach().flatten() for p in self.parameters()]).double()
            with open(os.path.join(report_dir, f"rank{self.global_rank}.json"), "w") as f:
                json.dump({"rank": self.global_rank, "world_size": self.trainer.world_size,
                           "global_step": self.global_step, "strategy": type(self.trainer.strategy).__name__,
                           "params": params.tolist()}, f)


class ToyTask(SpanmixModule, ToyModule):
    """The same task on the SpanmixModule base (records its class path without the harness)."""


class ToyTied(nn.Module):
    """A plain nn.Module whose output head shares the embedding's weight (tied tensors)."""

    def __init__(self, vocab: int = 11, dim: int = 4):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(tokens))


LINKS = (("data.seq_len", "model.seq_len"), ("data.n_features", "model.n_features", "instantiate"))


def main(args=None):
    return run_cli(ToyModule, ToyData, args, app="toy", links=LINKS)


if __name__ == "__main__":
    main()
