"""The loaders both video data modules (``asd``, ``lvmae``) share."""
from __future__ import annotations

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader
from torch.utils.data import default_collate as _default_collate

__all__ = ["SplitLoaders"]


class SplitLoaders(LightningDataModule):
    """Train / val / test / predict loaders over ``self.sets[split]`` (filled by ``setup``), batched by
    ``self.batch_size`` on ``self.num_workers`` workers and collated by the class's ``collate``; training
    shuffles (the harness swaps in its resumable sampler), predict reads the test split."""

    collate = staticmethod(_default_collate)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        return DataLoader(self.sets[split], batch_size=self.batch_size, shuffle=shuffle, collate_fn=self.collate,
                          num_workers=self.num_workers, persistent_workers=self.num_workers > 0)

    def train_dataloader(self):
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False)

    def test_dataloader(self):
        return self._loader("test", False)

    def predict_dataloader(self):
        return self._loader("test", False)
