"""Segment embeddings on disk: keyed by the video file's hash and the encoder; resumable extraction.

    cache = EmbeddingCache()                         # $SPANMIX_CACHE/video/lvmae (or ~/.cache/spanmix/...)
    emb = cache.extract("movie.mp4", build_encoder("hist"), seconds=5.0)
    emb.embeddings   # (S, D) float32, each row L2-normalised
    emb.times        # (S, 2) float64 start/end seconds

The key is ``sha256(file bytes)`` + the encoder's ``key`` + the segmenting options (``seconds``, ``frames``,
``min_last``, ``max_side``), hashed to 24 hex digits: a renamed file hits the cache, an edited file or another
encoder does not. The finished file is ``<root>/<key>.safetensors`` (tensors ``embeddings``, ``times``; the
key's parts as metadata). While extracting, each finished segment is written to ``<root>/<key>.partial/
NNNNNN.safetensors`` atomically (a temporary file renamed into place), so a run killed at any point resumes
with the segments already on disk — none is recomputed, and a half-written file never has the final name;
a part that does not read back (damaged on disk) is recomputed. When every segment is done the parts are
joined into the finished file (atomically too) and the part folder is removed.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from spanmix.apps.harness.export import atomic_path
from spanmix.apps.video.lvmae.encoders import file_sha256
from spanmix.apps.video.lvmae.segments import iter_segments, segment_times
from spanmix.datasets.cache import cache_dir

__all__ = ["EmbeddingCache", "SegmentEmbeddings", "read_embeddings", "write_embeddings"]


@dataclass
class SegmentEmbeddings:
    """``embeddings`` (S, D) float32 (rows L2-normalised), ``times`` (S, 2) seconds, ``meta`` (str -> str)."""

    embeddings: torch.Tensor
    times: torch.Tensor
    meta: dict[str, str]


def write_embeddings(path: str | os.PathLike, emb: SegmentEmbeddings) -> str:
    """Write ``emb`` as one safetensors file (atomically)."""
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({"embeddings": emb.embeddings.contiguous(), "times": emb.times.contiguous()}, tmp,
                  metadata=dict(emb.meta))
    return os.fspath(path)


def read_embeddings(path: str | os.PathLike) -> SegmentEmbeddings:
    """Read a file written by :func:`write_embeddings` (``ValueError`` naming the file if it is not one)."""
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), "pt") as f:
            meta = f.metadata() or {}
            emb, times = f.get_tensor("embeddings"), f.get_tensor("times")
    except FileNotFoundError:
        raise FileNotFoundError(f"no embeddings file {os.fspath(path)!r}") from None
    except Exception as e:  # noqa: BLE001 - a damaged or foreign file is the user's to fix
        raise ValueError(f"{os.fspath(path)!r} is not a segment-embeddings file (expected safetensors with "
                         f"'embeddings' (S, D) and 'times' (S, 2)): {e}") from None
    if emb.ndim != 2 or times.shape != (emb.shape[0], 2):
        raise ValueError(f"{os.fspath(path)!r}: expected 'embeddings' (S, D) and 'times' (S, 2), got "
                         f"{tuple(emb.shape)} and {tuple(times.shape)}")
    return SegmentEmbeddings(emb, times, meta)


class EmbeddingCache:
    """Embeddings of whole videos under ``root`` (module docstring)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir("video") / "lvmae"

    def key(self, video_sha256: str, encoder_key: str, seconds: float, frames: int, min_last: float,
            max_side: int | None) -> tuple[str, dict[str, str]]:
        meta = {"video_sha256": video_sha256, "encoder": encoder_key, "segment_seconds": repr(float(seconds)),
                "frames_per_segment": str(frames), "min_last": repr(float(min_last)), "max_side": str(max_side)}
        return hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()[:24], meta

    def path(self, key: str) -> Path:
        return self.root / f"{key}.safetensors"

    def extract(self, video: str | os.PathLike, encoder, seconds: float = 5.0, frames: int = 8, *,
                min_last: float = 1.0, max_side: int | None = 256, progress: bool = False) -> SegmentEmbeddings:
        """The video's segment embeddings, from the cache or computed (and cached); see the module docstring."""
        key, meta = self.key(file_sha256(video), encoder.key, seconds, frames, min_last, max_side)
        final = self.path(key)
        if final.is_file():
            try:
                return read_embeddings(final)
            except ValueError:
                final.unlink()  # damaged on disk: compute again
        parts = self.root / f"{key}.partial"
        parts.mkdir(parents=True, exist_ok=True)
        done: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        for p in parts.glob("[0-9]*.safetensors"):
            try:
                part = read_embeddings(p)
                done[int(p.stem)] = (part.embeddings[0], part.times[0])
            except (ValueError, FileNotFoundError):
                p.unlink(missing_ok=True)
        bar = self._bar(video, seconds, min_last, len(done)) if progress else None
        for seg in iter_segments(video, seconds, frames, max_side=max_side, min_last=min_last, skip=set(done)):
            z = torch.nn.functional.normalize(encoder(seg.frames).float().reshape(-1), dim=0)
            t = torch.tensor([seg.start, seg.end], dtype=torch.float64)
            write_embeddings(parts / f"{seg.index:06d}.safetensors",
                             SegmentEmbeddings(z[None], t[None], {"index": str(seg.index)}))
            done[seg.index] = (z, t)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        order = sorted(done)
        if order != list(range(len(order))):
            raise ValueError(f"{os.fspath(video)!r}: segments {sorted(set(range(max(order) + 1)) - set(order))} "
                             "could not be decoded (a damaged file?)")
        meta["source"] = os.path.basename(os.fspath(video))
        emb = SegmentEmbeddings(torch.stack([done[i][0] for i in order]), torch.stack([done[i][1] for i in order]),
                                meta)
        write_embeddings(final, emb)
        shutil.rmtree(parts, ignore_errors=True)
        return emb

    @staticmethod
    def _bar(video, seconds: float, min_last: float, initial: int):
        from tqdm.auto import tqdm

        from spanmix.datasets.video import VideoError, probe_duration

        try:
            total = len(segment_times(probe_duration(video), seconds, min_last))
        except VideoError:
            total = None
        return tqdm(total=total, initial=initial, desc=f"embedding {os.path.basename(os.fspath(video))}",
                    unit="segment", leave=False)
