"""AVA-ActiveSpeaker (Roth et al., ICASSP 2020): the official CSV layout, TalkNet's clip layout, download.

Official annotation rows (one CSV per video, no header; or TalkNet's ``csv/{train,val}_orig.csv`` with a
header and two more columns, ``label_id`` and ``instance_id``)::

    video_id, frame_timestamp, entity_box_x1, entity_box_y1, entity_box_x2, entity_box_y2, label, entity_id

boxes normalised to [0, 1]; labels ``SPEAKING_AUDIBLE``, ``SPEAKING_NOT_AUDIBLE``, ``NOT_SPEAKING``.

TalkNet's preprocessed layout (what TalkNet-ASD's and LoCoNet's loaders read; ``prepare_clips`` writes it
from a video file and its rows)::

    <root>/csv/<split>_orig.csv
    <root>/clips_videos/<split>/<video_id>/<entity_id>/<timestamp %.2f>.jpg    face crops (224x224)
    <root>/clips_audios/<split>/<video_id>/<entity_id>.wav                      16 kHz mono, the track's span

``download_annotations`` fetches the official annotation archives (``ANNOTATION_URL``) to the cache when
asked; the videos are 262 films of 15 min each (``VIDEO_URL``, ~130 GB) and are never fetched
implicitly. Offline, both raise :class:`AVANotAvailable` saying where to put the files. No checksums are
published for these files; downloads are unverified.
"""
from __future__ import annotations

import csv
import os
import tarfile
import urllib.error
import urllib.request
import wave
from collections import defaultdict
from pathlib import Path

import numpy as np

from spanmix.datasets.cache import cache_dir

__all__ = ["ANNOTATION_URL", "AVANotAvailable", "LABELS", "TalkNetClips", "VIDEO_URL", "download_annotations",
           "prepare_clips", "read_ava_csv"]

ANNOTATION_URL = "https://research.google.com/ava/download/ava_activespeaker_{split}_v1.0.tar.bz2"
VIDEO_URL = "https://s3.amazonaws.com/ava-dataset/trainval/{video_file}"
LABELS = ("SPEAKING_AUDIBLE", "SPEAKING_NOT_AUDIBLE", "NOT_SPEAKING")
COLUMNS = ("video_id", "frame_timestamp", "x1", "y1", "x2", "y2", "label", "entity_id")


class AVANotAvailable(FileNotFoundError):
    """AVA files are not on this machine (and were not, or could not be, downloaded)."""


def read_ava_csv(path: str | os.PathLike) -> list[dict]:
    """Rows of an AVA-ActiveSpeaker CSV (official or TalkNet's, header or not) as dicts with the keys
    ``video_id, frame_timestamp, x1, y1, x2, y2, label, entity_id`` (floats for time and box)."""
    rows = []
    with open(path, newline="") as f:
        for n, fields in enumerate(csv.reader(f), start=1):
            if not fields or (n == 1 and fields[0] == "video_id"):
                continue
            if len(fields) < 8:
                raise ValueError(f"{path}:{n}: expected 8 columns ({', '.join(COLUMNS)}), got {len(fields)}")
            try:
                row = dict(zip(COLUMNS, fields[:8]))
                for key in ("frame_timestamp", "x1", "y1", "x2", "y2"):
                    row[key] = float(row[key])
            except ValueError:
                raise ValueError(f"{path}:{n}: timestamp and box must be numbers, got {fields[1:6]}") from None
            if row["label"] not in LABELS:
                raise ValueError(f"{path}:{n}: label {row['label']!r} is not one of {LABELS}")
            if not (0 <= row["x1"] <= row["x2"] <= 1 and 0 <= row["y1"] <= row["y2"] <= 1):
                raise ValueError(f"{path}:{n}: box must be normalised with x1 <= x2, y1 <= y2 in [0, 1]")
            rows.append(row)
    return rows


def download_annotations(split: str = "val", root: str | os.PathLike | None = None, download: bool = False) -> Path:
    """The folder holding the official per-video CSVs of ``split`` (``train``/``val``), downloaded to
    ``$SPANMIX_CACHE/ava`` when ``download=True``."""
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    root = cache_dir("ava", root)
    folder = root / f"ava_activespeaker_{split}_v1.0"
    if folder.is_dir():
        return folder
    url = ANNOTATION_URL.format(split=split)
    if not download:
        raise AVANotAvailable(f"AVA-ActiveSpeaker {split} annotations are not in {root}; pass download=True "
                              f"(--data.download true) or put the unpacked {url} there")
    root.mkdir(parents=True, exist_ok=True)
    archive = root / Path(url).name
    try:
        urllib.request.urlretrieve(url, archive)
    except (urllib.error.URLError, OSError) as e:
        raise AVANotAvailable(f"cannot download {url} ({e}); this machine may be offline. Put the unpacked "
                              f"archive in {root}") from None
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return folder


def prepare_clips(video: str | os.PathLike, rows: list[dict], root: str | os.PathLike, split: str) -> int:
    """Write TalkNet's layout for one AVA ``video`` (the movie file; timestamps are seconds into it) from its
    annotation ``rows``: a 224x224 face crop per row and a 16 kHz wav per entity (from its first to its last
    timestamp). Only the annotated window is decoded. Returns the number of crops written."""
    import cv2

    from spanmix.datasets.video import read_clip

    first = min(r["frame_timestamp"] for r in rows)
    last = max(r["frame_timestamp"] for r in rows)
    clip = read_clip(video, fps=25.0, sample_rate=16000, start=first, end=last + 1.0)
    h, w = clip.frames.shape[1:3]
    root = Path(root)
    written = 0
    by_entity: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_entity[row["entity_id"]].append(row)
    for entity, ent_rows in by_entity.items():
        video_id = ent_rows[0]["video_id"]
        folder = root / "clips_videos" / split / video_id / entity
        folder.mkdir(parents=True, exist_ok=True)
        for r in ent_rows:
            t = min(int(round((r["frame_timestamp"] - first) * clip.fps)), len(clip.frames) - 1)
            x1, y1, x2, y2 = (int(r["x1"] * w), int(r["y1"] * h), int(r["x2"] * w), int(r["y2"] * h))
            face = clip.frames[t, y1:max(y2, y1 + 1), x1:max(x2, x1 + 1)]
            cv2.imwrite(str(folder / f"{r['frame_timestamp']:.2f}.jpg"),
                        cv2.cvtColor(cv2.resize(face, (224, 224)), cv2.COLOR_RGB2BGR))
            written += 1
        times = [r["frame_timestamp"] for r in ent_rows]
        a = int(round((min(times) - first) * clip.sample_rate))
        b = int(round((max(times) - first + 1 / clip.fps) * clip.sample_rate))
        wav = root / "clips_audios" / split / video_id / f"{entity}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        _write_wav(wav, clip.audio[a:b], clip.sample_rate)
    return written


def _write_wav(path: Path, audio: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1), f.setsampwidth(2), f.setframerate(rate)
        f.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as f:
        if f.getsampwidth() != 2 or f.getnchannels() != 1 or f.getframerate() != 16000:
            raise ValueError(f"{path}: expected 16 kHz 16-bit mono (TalkNet's clips_audios)")
        return np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / 32768.0


class TalkNetClips:
    """Samples from TalkNet's layout: every entity track is a target with its context speakers (the entities
    sharing most of its timestamps, ``select_context``), cut to ``max_frames``.

    Items as ``spanmix.apps.video.asd.data``: ``faces`` (S, T, size, size) uint8 (grayscale; the central
    112x112 of the 224x224 crop, as TalkNet's loader, resized to ``face_size``), ``audio`` (4T, 64) log-mel of
    the target's wav, ``labels`` (S, T) (1 = SPEAKING_AUDIBLE), ``mask`` (S, T).

    ``augment`` (training): ``flip``, or ``full`` = the official recipe's list as the composited set has it
    (``features.augment_track``: one flip / crop / rotation per track; with probability 1/2 another clip's audio
    mixed in as noise at U(0, 10) dB SNR, ``features.mix_noise``), drawn from ``(seed, epoch, index)``."""

    def __init__(self, root: str | os.PathLike, split: str, speakers: int = 3, face_size: int = 112,
                 max_frames: int = 200, augment: str = "none", seed: int = 0):
        if augment not in ("none", "flip", "full"):
            raise ValueError(f"--data.augment must be 'none', 'flip' or 'full', got {augment!r}")
        self.augment, self.seed, self.epoch = augment, seed, 0
        self.root, self.split = Path(root), split
        csv_path = self.root / "csv" / f"{split}_orig.csv"
        if not csv_path.is_file():
            raise AVANotAvailable(f"{csv_path} not found: expected TalkNet's layout under {self.root} (csv/, "
                                  "clips_videos/, clips_audios/); see spanmix.datasets.ava.prepare_clips")
        self.speakers, self.face_size, self.max_frames = speakers, face_size, max_frames
        self.tracks: dict[tuple[str, str], dict[float, int]] = defaultdict(dict)
        for row in read_ava_csv(csv_path):
            key = (row["video_id"], row["entity_id"])
            self.tracks[key][round(row["frame_timestamp"], 2)] = int(row["label"] == "SPEAKING_AUDIBLE")
        self.keys = sorted(self.tracks)
        self.by_video: dict[str, list[str]] = defaultdict(list)
        for video, entity in self.keys:
            self.by_video[video].append(entity)

    def __len__(self) -> int:
        return len(self.keys)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _face(self, video: str, entity: str, ts: float) -> np.ndarray:
        import cv2

        path = self.root / "clips_videos" / self.split / video / entity / f"{ts:.2f}.jpg"
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"cannot read the face crop {path}")
        image = cv2.resize(image, (224, 224))[56:168, 56:168]
        return cv2.resize(image, (self.face_size, self.face_size)) if self.face_size != 112 else image

    def __getitem__(self, k: int) -> dict:
        import torch

        from spanmix.apps.video.asd.context import select_context
        from spanmix.apps.video.asd.features import augment_track, log_mel, mix_noise

        video, target = self.keys[k]
        stamps = sorted(self.tracks[(video, target)])[: self.max_frames]
        others = {e: self.tracks[(video, e)].keys() for e in self.by_video[video]}
        ids = select_context(target, {e: set(v) & set(stamps) if e != target else stamps
                                      for e, v in others.items()}, self.speakers)
        t = len(stamps)
        faces = np.zeros((len(ids), t, self.face_size, self.face_size), np.uint8)
        labels = np.zeros((len(ids), t), np.int64)
        mask = np.zeros((len(ids), t), bool)
        for s, entity in enumerate(ids):
            track = self.tracks[(video, entity)]
            for i, ts in enumerate(stamps):
                if ts in track:
                    faces[s, i] = self._face(video, entity, ts)
                    labels[s, i], mask[s, i] = track[ts], True
        audio = _read_wav(self.root / "clips_audios" / self.split / video / f"{target}.wav")
        if self.augment != "none":
            rng = np.random.default_rng([self.seed, self.epoch, k])
            if self.augment == "flip":
                flips = rng.random(len(ids)) < 0.5
                faces = np.ascontiguousarray(np.where(flips[:, None, None, None], faces[..., ::-1], faces))
            else:
                faces = np.stack([augment_track(track, rng) for track in faces])
                if rng.random() < 0.5 and len(self.keys) > 1:
                    other = self.keys[(k + 1 + int(rng.integers(len(self.keys) - 1))) % len(self.keys)]
                    noise = _read_wav(self.root / "clips_audios" / self.split / other[0] / f"{other[1]}.wav")
                    audio = mix_noise(audio, noise, float(rng.uniform(0, 10)))
        return {"faces": torch.from_numpy(faces), "audio": torch.from_numpy(log_mel(audio, t)),
                "labels": torch.from_numpy(labels), "mask": torch.from_numpy(mask)}
