"""The whole active-speaker pipeline on a user's clip: decode -> faces -> tracks -> crops + log-mel ->
LoCoNet -> per-frame speaking probability per track -> ``scores.csv`` (AVA result layout) + annotated video.

    result = run("clip.mp4", "pretrained/video/loconet_composite_tiny")
    write_outputs(result, "out/")        # out/scores.csv, out/annotated.mp4

Each track is scored as the target with its context speakers (``context.select_context``); a context
track's frames outside its own span are masked. Tracks longer than the model's ``max_len`` are scored in
consecutive windows. ``result.seconds`` holds the wall time of each stage.
"""
from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from spanmix.apps.video.asd.context import select_context
from spanmix.apps.video.asd.faces import HaarFaceDetector
from spanmix.apps.video.asd.features import FPS, SAMPLE_RATE, crop_faces, log_mel
from spanmix.apps.video.asd.tracking import Track, track_faces
from spanmix.datasets.video import Clip, VideoError, read_clip, write_clip

__all__ = ["ASDResult", "NoFacesFound", "annotate", "load_model", "run", "score_tracks", "write_outputs"]

POSITIVE = "SPEAKING_AUDIBLE"


class NoFacesFound(VideoError):
    """No face track in the clip."""


@dataclass
class ASDResult:
    """``scores[i]`` is the speaking probability of ``tracks[i]`` at each of its frames."""

    name: str
    clip: Clip
    tracks: list[Track]
    scores: list[np.ndarray]
    seconds: dict[str, float] = field(default_factory=dict)


def load_model(weights: str | os.PathLike):
    """The exported ``ASDTask`` at ``weights`` (eval mode)."""
    from spanmix.apps.harness.export import load_pretrained

    if not Path(weights, "config.json").is_file():
        raise ValueError(f"--weights {weights}: not an export directory (expected config.json and "
                         "model.safetensors, e.g. pretrained/video/loconet_composite_tiny)")
    return load_pretrained(weights).eval()


def _progress(iterable, enabled: bool, desc: str, total: int | None = None):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=False)


def score_tracks(task, frames: np.ndarray, feats: np.ndarray, tracks: list[Track]) -> list[np.ndarray]:
    """Speaking probability per frame of every track (``task``: an ``ASDTask``)."""
    model, size = task.model, task.face_size
    crops = {tr.track_id: crop_faces(frames, tr.frames, tr.boxes, size=size) for tr in tracks}
    spans = {tr.track_id: range(tr.start, tr.end) for tr in tracks}
    scores = []
    for tr in tracks:
        ids = select_context(tr.track_id, spans, model.speakers)
        out = np.zeros(len(tr), np.float32)
        for a in range(tr.start, tr.end, model.max_len):
            b = min(a + model.max_len, tr.end)
            faces = np.zeros((len(ids), b - a, size, size), np.uint8)
            mask = np.zeros((len(ids), b - a), bool)
            for k, other in enumerate(ids):
                lo, hi = max(a, spans[other].start), min(b, spans[other].stop)
                if hi > lo:
                    faces[k, lo - a:hi - a] = crops[other][lo - spans[other].start:hi - spans[other].start]
                    mask[k, lo - a:hi - a] = True
            with torch.no_grad():
                logits = model(torch.from_numpy(faces)[None], torch.from_numpy(feats[4 * a:4 * b])[None],
                               torch.from_numpy(mask)[None])
            out[a - tr.start:b - tr.start] = model.scores(logits)[0, 0].numpy()
        scores.append(out)
    return scores


def run(video: str | os.PathLike, weights, *, max_seconds: float | None = 600.0, progress: bool = True,
        detector: HaarFaceDetector | None = None, detect_side: int = 640) -> ASDResult:
    """The pipeline (module docstring). ``weights``: an export directory or an already loaded ``ASDTask``."""
    seconds = {}
    task = load_model(weights) if isinstance(weights, (str, os.PathLike)) else weights
    t0 = time.perf_counter()
    clip = read_clip(video, FPS, SAMPLE_RATE, require_audio=True, max_seconds=max_seconds)
    seconds["decode"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    detector = detector or HaarFaceDetector()
    h, w = clip.frames.shape[1:3]
    scale = min(1.0, detect_side / max(h, w))
    detections = []
    import cv2

    for frame in _progress(clip.frames, progress, "faces", len(clip.frames)):
        small = cv2.resize(frame, (int(w * scale), int(h * scale))) if scale < 1 else frame
        detections.append(detector.detect(small) / scale)
    seconds["detect"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    tracks = track_faces(detections, min_length=min(10, len(clip.frames)))
    seconds["track"] = time.perf_counter() - t0
    name = Path(video).stem
    if not tracks:
        raise NoFacesFound(f"{Path(video).name!r}: no face found in {len(clip.frames)} frames (the Haar "
                           "detector needs frontal faces of at least 24 pixels, seen for at least 10 frames)")

    t0 = time.perf_counter()
    feats = log_mel(clip.audio, len(clip.frames))
    seconds["audio features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = score_tracks(task, clip.frames, feats, tracks)
    seconds["crop + model"] = time.perf_counter() - t0
    return ASDResult(name=name, clip=clip, tracks=tracks, scores=scores, seconds=seconds)


def write_scores_csv(result: ASDResult, path: str | os.PathLike) -> str:
    """The AVA result layout: video_id, frame_timestamp, x1, y1, x2, y2 (in [0, 1]), label, entity_id, score."""
    h, w = result.clip.frames.shape[1:3]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["video_id", "frame_timestamp", "entity_box_x1", "entity_box_y1", "entity_box_x2",
                         "entity_box_y2", "label", "entity_id", "score"])
        for tr, sc in zip(result.tracks, result.scores):
            for t, box, s in zip(tr.frames, tr.boxes, sc):
                x1, y1, x2, y2 = np.clip(box / [w, h, w, h], 0, 1)
                writer.writerow([result.name, f"{t / result.clip.fps:.2f}", f"{x1:.4f}", f"{y1:.4f}", f"{x2:.4f}",
                                 f"{y2:.4f}", POSITIVE, f"{result.name}:{tr.track_id}", f"{s:.4f}"])
    return os.fspath(path)


def annotate(result: ASDResult) -> np.ndarray:
    """The clip's frames with each track's box coloured by its speaking probability (red 0 -> green 1)."""
    import cv2

    frames = result.clip.frames.copy()
    thick = max(1, frames.shape[2] // 200)
    for tr, sc in zip(result.tracks, result.scores):
        for t, box, s in zip(tr.frames, tr.boxes, sc):
            colour = (int(255 * (1 - s)), int(255 * s), 0)
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            cv2.rectangle(frames[t], (x1, y1), (x2, y2), colour, thick)
            cv2.putText(frames[t], f"#{tr.track_id} {s:.2f}", (x1, max(10, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                        0.35 * thick, colour, max(1, thick // 2), cv2.LINE_AA)
    return frames


def write_outputs(result: ASDResult, out_dir: str | os.PathLike) -> tuple[str, str]:
    """``out_dir/scores.csv`` and ``out_dir/annotated.mp4`` (with the clip's sound)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = write_scores_csv(result, out_dir / "scores.csv")
    video_path = write_clip(out_dir / "annotated.mp4", annotate(result), result.clip.fps, result.clip.audio,
                            result.clip.sample_rate)
    return csv_path, video_path
