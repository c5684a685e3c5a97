"""Model inputs from lead sheets, and the LightningDataModule over the shipped samples.

    feats = featurize(sheet)                  # dict of int64 arrays: events, bar_pos, segment, chords, ...
    dm = MusicDataModule(samples=["folk", "chorales"], seq_len=256, batch_size=16)

The chord track is cut into canonical segments, the same in training and generation: consecutive equal
chords merge, then every bar line cuts (``chord_track``). Each event gets its onset's position within the
bar (16ths) and the index of the segment sounding at its onset. Long pieces are cut into windows of
``seq_len`` events (hop ``seq_len // 2`` in training; no overlap and nothing dropped in val/test); each
window carries the segments it overlaps.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from spanmix.apps.music.events import STEP, LeadSheet, duration_of

__all__ = ["MusicDataModule", "WindowDataset", "chord_track", "collate", "featurize", "sheet_windows"]


def chord_track(spans, bar_length: Fraction, pickup: Fraction, end: Fraction) -> list[tuple[Fraction, Fraction, int]]:
    """Canonical chord segments ``(onset, duration, chord)``: equal neighbours merged, cut at bar lines."""
    merged: list[list] = []
    for on, d, c in spans:
        if merged and merged[-1][2] == c and merged[-1][0] + merged[-1][1] == on:
            merged[-1][1] += d
        else:
            merged.append([Fraction(on), Fraction(d), int(c)])
    lines, t = [], Fraction(pickup) if pickup else bar_length
    while t < end:
        lines.append(t)
        t += bar_length
    out = []
    for on, d, c in merged:
        points = [on] + [x for x in lines if on < x < on + d] + [on + d]
        out += [(a, b - a, c) for a, b in zip(points[:-1], points[1:])]
    return out


def _position(t: Fraction, bar_length: Fraction, pickup: Fraction) -> int:
    return int(((t - pickup) % bar_length) / STEP)


def featurize(sheet: LeadSheet) -> dict[str, np.ndarray]:
    """Per-event and per-segment model inputs of a whole piece (see module docstring)."""
    onsets = sheet.onsets()
    spans = [(t, duration_of(d), int(c)) for t, (_, c, d, _) in zip(onsets, sheet.events)]
    segs = chord_track(spans, sheet.bar_length, sheet.pickup, sheet.length)
    seg_on = [s[0] for s in segs]
    segment = np.searchsorted(np.array([float(x) for x in seg_on]), [float(t) for t in onsets], side="right") - 1
    return {
        "events": sheet.events.astype(np.int64),
        "bar_pos": np.array([_position(t, sheet.bar_length, sheet.pickup) for t in onsets], np.int64),
        "segment": segment.astype(np.int64),
        "chords": np.array([c for _, _, c in segs], np.int64),
        "chord_pos": np.array([_position(o, sheet.bar_length, sheet.pickup) for o, _, _ in segs], np.int64),
        "chord_len": np.array([int(d / STEP) for _, d, _ in segs], np.int64),
    }


def sheet_windows(feats: dict[str, np.ndarray], seq_len: int, hop: int) -> list[dict[str, np.ndarray]]:
    """Cut a featurized piece into windows of at most ``seq_len`` events (the last one may be shorter)."""
    T = len(feats["events"])
    starts = list(range(0, max(T - seq_len, 0) + 1, hop))
    if starts[-1] + seq_len < T:
        starts.append(T - seq_len if hop < seq_len else starts[-1] + hop)
    out = []
    for s in starts:
        e = min(s + seq_len, T)
        seg = feats["segment"][s:e]
        lo, hi = int(seg[0]), int(seg[-1]) + 1
        out.append({"events": feats["events"][s:e], "bar_pos": feats["bar_pos"][s:e], "segment": seg - lo,
                    "chords": feats["chords"][lo:hi], "chord_pos": feats["chord_pos"][lo:hi],
                    "chord_len": feats["chord_len"][lo:hi]})
    return out


class WindowDataset(Dataset):
    def __init__(self, sheets: list[LeadSheet], seq_len: int, train: bool):
        hop = seq_len // 2 if train else seq_len
        self.items = [w for s in sheets for w in sheet_windows(featurize(s), seq_len, hop)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        return self.items[i]


def collate(items: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Pad to the longest window; ``mask``/``chord_mask`` mark real events/segments."""
    T = max(len(x["events"]) for x in items)
    S = max(len(x["chords"]) for x in items)
    B = len(items)
    out = {"events": torch.zeros(B, T, 4, dtype=torch.long), "mask": torch.zeros(B, T, dtype=torch.bool),
           "chord_mask": torch.zeros(B, S, dtype=torch.bool)}
    for k in ("bar_pos", "segment"):
        out[k] = torch.zeros(B, T, dtype=torch.long)
    for k in ("chords", "chord_pos", "chord_len"):
        out[k] = torch.zeros(B, S, dtype=torch.long)
    for i, x in enumerate(items):
        t, s = len(x["events"]), len(x["chords"])
        out["events"][i, :t] = torch.from_numpy(x["events"])
        out["mask"][i, :t] = True
        out["chord_mask"][i, :s] = True
        for k in ("bar_pos", "segment"):
            out[k][i, :t] = torch.from_numpy(x[k])
        for k in ("chords", "chord_pos", "chord_len"):
            out[k][i, :s] = torch.from_numpy(x[k])
    return out


class MusicDataModule(LightningDataModule):
    """Windows of the shipped samples, split by piece (``spanmix.datasets.music.split_pieces``).

    Args:
        samples: names of ``spanmix.datasets.music.SAMPLES`` to pool (e.g. ``["folk", "chorales"]``), and
            ``hooktheory`` (Sheet Sage's HookTheory lead sheets, downloaded on first use) or
            ``hooktheory:<path to Hooktheory.json.gz>``, split as released (``spanmix.datasets.hooktheory``).
        seq_len: events per window. batch_size, num_workers: loader options.
        val, test, split_seed: the piece split (per sample, then pooled).
        max_train_pieces: keep only the first N training pieces (the low-resource experiments).
    """

    def __init__(self, samples: list[str] | str = ("chorales",), seq_len: int = 256, batch_size: int = 16,
                 val: float = 0.1, test: float = 0.1, split_seed: int = 0, max_train_pieces: int | None = None,
                 num_workers: int = 0):
        super().__init__()
        self.samples = [samples] if isinstance(samples, str) else list(samples)
        if seq_len < 2:
            raise ValueError(f"--data.seq_len must be >= 2 events, got {seq_len}")
        self.seq_len, self.batch_size, self.num_workers = seq_len, batch_size, num_workers
        self.val, self.test, self.split_seed, self.max_train_pieces = val, test, split_seed, max_train_pieces
        self.splits: dict[str, list[LeadSheet]] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        from spanmix.datasets.music import load_sample, split_pieces

        pooled = {"train": [], "val": [], "test": []}
        for name in self.samples:
            if name.split(":")[0] == "hooktheory":  # the release's own split
                from spanmix.datasets.hooktheory import download, load_hooktheory

                parts, _ = load_hooktheory(name.split(":", 1)[1] if ":" in name else download())
                for k, released in (("train", "train"), ("val", "valid"), ("test", "test")):
                    pooled[k] += parts[released]
                continue
            for k, v in split_pieces(load_sample(name), self.val, self.test, self.split_seed).items():
                pooled[k] += v
        if self.max_train_pieces:
            pooled["train"] = pooled["train"][:self.max_train_pieces]
        self.splits = pooled

    def _loader(self, split: str) -> DataLoader:
        self.setup()
        ds = WindowDataset(self.splits[split], self.seq_len, train=split == "train")
        return DataLoader(ds, batch_size=self.batch_size, shuffle=split == "train", collate_fn=collate,
                          num_workers=self.num_workers, drop_last=False)

    def train_dataloader(self):
        return self._loader("train")

    def val_dataloader(self):
        return self._loader("val")

    def test_dataloader(self):
        return self._loader("test")


