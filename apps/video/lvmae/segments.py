"""Cut a long video into non-overlapping segments of ``seconds`` (the paper: 5 s) and sample frames in each.

    for seg in iter_segments("movie.mp4", seconds=5.0, frames=8):
        seg.index, seg.start, seg.end, seg.frames      # frames: (8, H, W, 3) uint8 RGB

Segment ``i`` covers ``[i * seconds, (i + 1) * seconds)`` of the video's own clock (the first frame is 0 s).
The last, partial segment is kept when it lasts at least ``min_last`` seconds (default 1 s), with its true
end; shorter tails are dropped (the official pipeline cuts with ``ffmpeg -f segment``, which keeps every
tail). A video shorter than one full segment is refused (:class:`VideoTooShort`). Frames are picked at
``frames`` evenly spaced times inside each segment (the centres of ``frames`` equal slices), each the last
decoded frame at or before that time. Decoding streams (PyAV): memory holds one segment at a time.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from spanmix.datasets.video import UnreadableVideo, VideoError, iter_frames

__all__ = ["Segment", "VideoTooShort", "iter_segments", "segment_times", "sample_times"]


class VideoTooShort(VideoError):
    """The video lasts less than one segment."""


@dataclass
class Segment:
    """One segment: its index, start and end (seconds) and ``frames`` (k, H, W, 3) uint8 RGB."""

    index: int
    start: float
    end: float
    frames: np.ndarray


def segment_times(duration: float, seconds: float = 5.0, min_last: float = 1.0) -> np.ndarray:
    """``(S, 2)`` start/end seconds of the segments of a ``duration``-second video (module docstring)."""
    if seconds <= 0 or min_last < 0:
        raise ValueError(f"segment seconds must be > 0 and min_last >= 0, got {seconds}, {min_last}")
    if duration + 1e-6 < seconds:
        raise VideoTooShort(f"the video lasts {duration:.2f} s, shorter than one segment of {seconds:g} s "
                            "(expected a video of at least one segment; lower --segment-seconds)")
    full = int(np.floor(duration / seconds + 1e-6))
    starts = np.arange(full) * seconds
    times = np.stack([starts, starts + seconds], 1)
    if duration - full * seconds >= max(min_last, 1e-6):
        times = np.concatenate([times, [[full * seconds, duration]]])
    return times.astype(np.float64)


def sample_times(start: float, end: float, frames: int) -> np.ndarray:
    """The ``frames`` evenly spaced sampling times in ``[start, end)``: the centres of equal slices."""
    return start + (np.arange(frames) + 0.5) * (end - start) / frames


def _pick(times: list[float], images: list[np.ndarray], start: float, end: float, frames: int) -> np.ndarray:
    t = np.asarray(times)
    idx = np.clip(np.searchsorted(t, sample_times(start, end, frames) + 1e-6, side="right") - 1, 0, len(t) - 1)
    return np.stack([images[i] for i in idx])


def iter_segments(path: str | os.PathLike, seconds: float = 5.0, frames: int = 8, *, max_side: int | None = 256,
                  min_last: float = 1.0, skip: set[int] | frozenset[int] = frozenset()) -> Iterator[Segment]:
    """Yield the segments of ``path`` in order (module docstring). Segments whose index is in ``skip`` are
    decoded past but not yielded (a resumed extraction). Raises :class:`VideoTooShort`, or
    :class:`~spanmix.datasets.video.UnreadableVideo` (missing/corrupt file, no video stream)."""
    if frames < 1:
        raise ValueError(f"frames per segment must be >= 1, got {frames}")
    segment_times(seconds, seconds, min_last)  # validates seconds/min_last
    name = os.path.basename(os.fspath(path))
    t0 = None
    index, buf_t, buf_f = 0, [], []
    last_t, step = 0.0, 0.0
    for t, image in iter_frames(path, max_side=max_side):
        if t0 is None:
            t0 = t
        t -= t0
        if last_t < t:
            step = t - last_t
        last_t = max(last_t, t)
        while t >= (index + 1) * seconds - 1e-6:
            if buf_t:
                if index not in skip:
                    yield Segment(index, index * seconds, (index + 1) * seconds,
                                  _pick(buf_t, buf_f, index * seconds, (index + 1) * seconds, frames))
            elif index not in skip:
                raise UnreadableVideo(f"{name!r}: no frame between {index * seconds:g} s and "
                                      f"{(index + 1) * seconds:g} s (expected a continuous video)")
            index, buf_t, buf_f = index + 1, [], []
        if index not in skip:
            buf_t.append(t)
            buf_f.append(image)
        else:
            buf_t.append(t)
            buf_f.append(None)
    duration = last_t + step
    if index == 0 and duration + 1e-6 < seconds:
        segment_times(duration, seconds, min_last)  # raises VideoTooShort
    tail = duration - index * seconds
    if buf_t and tail >= max(min_last, 1e-6) and index not in skip:
        yield Segment(index, index * seconds, duration, _pick(buf_t, buf_f, index * seconds, duration, frames))


def video_duration(path: str | os.PathLike) -> float:
    """Duration from the container (no decoding), for progress bars."""
    from spanmix.datasets.video import probe_duration

    return probe_duration(path)
