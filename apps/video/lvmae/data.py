"""Data for LV-MAE: sequences of segment embeddings, for pretraining (random windows) and probing (labels).

``LVMAEDataModule(source="composite")`` (the offline default) embeds the shipped COMPOSITED long videos
(``spanmix.datasets.long_video.composite_videos``; real clips cut and concatenated) with a frozen encoder
(``encoder``, default ``hist``: fixed colour/gradient histograms, see ``encoders``), through the on-disk
cache (``cache.EmbeddingCache``: computed once, resumable). ``source="precomputed"`` reads embeddings in
the official layout (``root/{train,val,test}.csv``; see ``spanmix.datasets.long_video.read_precomputed``),
e.g. LanguageBind or InternVideo2 features of LVU.

Pretraining samples (``mode="pretrain"``, training split): a random contiguous window of a duration drawn
uniformly in ``[duration_min, duration_max]`` seconds (10 s - 21 min 20 s in the paper), cut to the video;
videos of fewer than 2 segments are repeated 8 times and of fewer than 5 segments 3 times, as the official
loader does. Evaluation samples and probing samples are whole videos (their first ``max_segments``).
A batch: ``x`` (B, T, D) float32 (rows L2-normalised), ``valid`` (B, T) bool, ``label`` (B,) int64.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from spanmix.apps.video.loaders import SplitLoaders

__all__ = ["EmbeddingSequences", "LVMAEDataModule", "collate"]

SPLITS = ("train", "val", "test")


class EmbeddingSequences(Dataset):
    """Videos' segment embeddings ``[(S_i, D)]`` with labels; random windows when ``windows`` (module docstring)."""

    def __init__(self, videos: list[torch.Tensor], labels: list[int], *, windows: bool, segment_seconds: float,
                 duration_min: float, duration_max: float, max_segments: int, repeats: int = 1, seed: int = 0):
        self.videos, self.labels, self.windows, self.seed, self.epoch = videos, labels, windows, seed, 0
        self.seconds, self.dmin, self.dmax, self.max_segments = segment_seconds, duration_min, duration_max, max_segments
        self.repeats = repeats if windows else 1

    def __len__(self) -> int:
        return len(self.videos) * self.repeats

    def set_epoch(self, epoch: int) -> None:
        # The window of sample i depends on (seed, epoch, i) only: exact resume (harness/resume.py) and
        # loader workers fetching ahead both see the same windows.
        self.epoch = int(epoch)

    def __getitem__(self, i: int) -> dict[str, Any]:
        x = self.videos[i % len(self.videos)]
        if self.windows:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            duration = int(rng.integers(int(self.dmin), int(self.dmax) + 1))
            n = max(1, min(len(x), int(duration // self.seconds), self.max_segments))
            start = int(rng.integers(0, len(x) - n + 1))
            x = x[start:start + n]
            if len(x) < 2:
                x = x.repeat(8, 1)
            elif len(x) < 5:
                x = x.repeat(3, 1)
        return {"x": x[:self.max_segments], "label": self.labels[i % len(self.videos)]}


def collate(batch: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
    """Pad to the longest sequence of the batch; ``valid`` is False on padding."""
    t = max(len(b["x"]) for b in batch)
    x = torch.zeros(len(batch), t, batch[0]["x"].shape[-1])
    valid = torch.zeros(len(batch), t, dtype=torch.bool)
    for i, b in enumerate(batch):
        x[i, :len(b["x"])] = b["x"]
        valid[i, :len(b["x"])] = True
    return {"x": x, "valid": valid, "label": torch.tensor([b["label"] for b in batch], dtype=torch.long)}


class LVMAEDataModule(SplitLoaders):
    """Train/val/test loaders of segment-embedding sequences (module docstring).

    Args:
        source: ``composite`` (shipped long videos, embedded here) or ``precomputed`` (``root``'s CSVs).
        root: the precomputed layout's folder (``train.csv``, ``val.csv``, ``test.csv``).
        mode: ``pretrain`` (random windows in training) or ``probe`` (whole videos, labels).
        encoder: the frozen encoder spec (``encoders.build_encoder``); composite only.
        segment_seconds, frames_per_segment: segmenting (5 s, 8 frames in each).
        cache_dir: the embedding cache (default ``$SPANMIX_CACHE/video/lvmae``).
        duration_min, duration_max: the pretraining window's duration range in seconds (10, 1280).
        max_segments: the longest sequence (256). windows_per_video: random windows per video per epoch.
        videos_per_split: use only the first N videos of each split (quick runs and tests).
        batch_size, num_workers: as usual. seed: the windows' seed (a window depends on seed, epoch, index).
    """

    collate = staticmethod(collate)

    def __init__(self, source: str = "composite", root: str | None = None, mode: str = "pretrain",
                 encoder: str | dict[str, Any] = "hist", segment_seconds: float = 5.0, frames_per_segment: int = 8,
                 cache_dir: str | None = None, duration_min: float = 10.0, duration_max: float = 1280.0,
                 max_segments: int = 256, windows_per_video: int = 1, videos_per_split: int | None = None,
                 batch_size: int = 16, num_workers: int = 0, seed: int = 0):
        super().__init__()
        if source not in ("composite", "precomputed"):
            raise ValueError(f"source must be 'composite' or 'precomputed', got {source!r}")
        if source == "precomputed" and not root:
            raise ValueError("source 'precomputed' needs root: a folder with train.csv, val.csv and test.csv")
        if mode not in ("pretrain", "probe"):
            raise ValueError(f"mode must be 'pretrain' or 'probe', got {mode!r}")
        if not 0 < duration_min <= duration_max:
            raise ValueError(f"need 0 < duration_min <= duration_max, got {duration_min}, {duration_max}")
        self.source, self.root, self.mode, self.encoder = source, root, mode, encoder
        self.segment_seconds, self.frames_per_segment, self.cache_dir = segment_seconds, frames_per_segment, cache_dir
        self.duration_min, self.duration_max, self.max_segments = duration_min, duration_max, max_segments
        self.windows_per_video, self.batch_size, self.num_workers = windows_per_video, batch_size, num_workers
        self.videos_per_split, self.seed = videos_per_split, seed
        self.sets: dict[str, EmbeddingSequences] = {}
        self.num_classes = self._num_classes()

    def _num_classes(self) -> int:
        from spanmix.datasets.long_video import COMPOSITE_CLASSES, read_precomputed

        if self.source == "composite":
            return len(COMPOSITE_CLASSES)
        labels = {v.label for v in read_precomputed(os.path.join(self.root, "train.csv"))}
        return max(labels) + 1 if labels and max(labels) >= 0 else 0

    def _load(self, split: str) -> tuple[list[torch.Tensor], list[int]]:
        from spanmix.datasets.long_video import composite_videos, load_precomputed, read_precomputed

        if self.source == "precomputed":
            items = read_precomputed(os.path.join(self.root, f"{split}.csv"))[:self.videos_per_split]
            return ([torch.nn.functional.normalize(load_precomputed(v), dim=-1) for v in items],
                    [v.label for v in items])
        from spanmix.apps.video.lvmae.cache import EmbeddingCache
        from spanmix.apps.video.lvmae.encoders import build_encoder

        cache, enc = EmbeddingCache(self.cache_dir), build_encoder(self.encoder)
        items = composite_videos(split)[:self.videos_per_split]
        xs = [cache.extract(v.video, enc, self.segment_seconds, self.frames_per_segment).embeddings for v in items]
        return xs, [v.label for v in items]

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split not in self.sets:
                xs, labels = self._load(split)
                if xs and xs[0].shape[-1] != xs[-1].shape[-1]:
                    raise ValueError(f"{split}: embeddings of different widths in one set")
                self.sets[split] = EmbeddingSequences(
                    xs, labels, windows=self.mode == "pretrain" and split == "train",
                    segment_seconds=self.segment_seconds, duration_min=self.duration_min,
                    duration_max=self.duration_max, max_segments=self.max_segments, repeats=self.windows_per_video,
                    seed=self.seed)

    @property
    def input_dim(self) -> int:
        self.setup()
        return int(self.sets["train"].videos[0].shape[-1])
