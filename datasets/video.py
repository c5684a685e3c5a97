"""Video + audio IO shared by the video apps: decode a clip at a fixed frame rate, write one back.

    from spanmix.datasets.video import read_clip, write_clip

    clip = read_clip("talk.mp4", fps=25.0, sample_rate=16000)   # any container/codec FFmpeg reads
    clip.frames          # (T, H, W, 3) uint8 RGB, resampled to 25 fps
    clip.audio           # (N,) float32 mono in [-1, 1] at 16 kHz (None with require_audio=False and no track)
    write_clip("out.mp4", clip.frames, fps=25.0, audio=clip.audio, sample_rate=16000)

Decoding uses PyAV (FFmpeg's libraries; torchaudio 2.11's own loader needs torchcodec, and
torchvision's video reader is deprecated). Frame-rate resampling picks, for each output time
``k / fps``, the last decoded frame whose presentation time is at or before it (what ``ffmpeg -r``
does for a constant-rate output), so a 30 fps or variable-rate clip becomes 25 fps with frames dropped
or repeated, never blended. Audio is downmixed to mono and resampled by FFmpeg's ``swresample``.

Bad input raises one :class:`VideoError` (a ``ValueError``) subclass each: :class:`UnreadableVideo`
(missing file, not a container, no video stream, no decodable frame), :class:`NoAudioTrack`, and
:class:`ClipTooLong` (over ``max_seconds``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["Clip", "ClipTooLong", "NoAudioTrack", "UnreadableVideo", "VideoError", "iter_frames", "probe_duration",
           "read_clip", "write_clip", "resample_indices"]


class VideoError(ValueError):
    """A video file that cannot be used, with what was expected."""


class UnreadableVideo(VideoError):
    """Not a readable video container (or no decodable video stream)."""


class NoAudioTrack(VideoError):
    """The clip has no audio stream, and the caller needs sound."""


class ClipTooLong(VideoError):
    """The clip is longer than the caller's cap."""


@dataclass
class Clip:
    """A decoded clip: RGB frames at ``fps`` and mono audio at ``sample_rate`` (``audio`` may be None)."""

    frames: np.ndarray
    fps: float
    audio: np.ndarray | None
    sample_rate: int
    source_fps: float

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps


def resample_indices(times: np.ndarray, fps: float, duration: float) -> np.ndarray:
    """For each output time ``k / fps`` in ``[0, duration)``, the index of the last frame in ``times``
    (sorted presentation times, seconds) at or before it; the first frame for times before it."""
    n_out = max(1, int(np.floor(duration * fps + 1e-6)))
    targets = np.arange(n_out) / fps + times[0]
    idx = np.searchsorted(times, targets + 1e-6, side="right") - 1
    return np.clip(idx, 0, len(times) - 1)


def _open(path: str | os.PathLike):
    import av

    if not os.path.isfile(path):
        raise UnreadableVideo(f"no such video file: {os.fspath(path)!r}")
    try:
        return av.open(os.fspath(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise UnreadableVideo(f"{os.path.basename(path)!r} is not a readable video container "
                              f"(expected e.g. .mp4/.mkv/.avi/.webm that FFmpeg decodes): {e}") from None


def read_clip(path: str | os.PathLike, fps: float = 25.0, sample_rate: int = 16000, *,
              require_audio: bool = True, max_seconds: float | None = None,
              max_side: int | None = None, start: float = 0.0, end: float | None = None) -> Clip:
    """Decode ``path`` to RGB frames at ``fps`` and mono float32 audio at ``sample_rate``.

    Args:
        require_audio: raise :class:`NoAudioTrack` if the clip has no audio stream (else ``audio=None``).
        max_seconds: raise :class:`ClipTooLong` for longer clips (checked before decoding when the
            container states its duration, and again while decoding).
        max_side: downscale frames whose longer side exceeds this (keeps the aspect ratio).
        start, end: decode only this window (seconds from the start of the file); frame 0 is at ``start``.
    """
    import av

    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    name = os.path.basename(os.fspath(path))
    with _open(path) as container:
        if not container.streams.video:
            raise UnreadableVideo(f"{name!r} has no video stream (expected a video file with frames)")
        if require_audio and not container.streams.audio:
            raise NoAudioTrack(f"{name!r} has no audio track; active speaker detection needs the sound "
                               "(expected a clip with an audio stream)")
        if max_seconds is not None and container.duration is not None and start == 0 and end is None:
            seconds = container.duration / av.time_base
            if seconds > max_seconds + 0.5:
                raise ClipTooLong(f"{name!r} lasts {seconds:.1f} s; the limit is {max_seconds:g} s")
        vstream = container.streams.video[0]
        source_fps = float(vstream.average_rate or vstream.guessed_rate or fps)
        frames, times = [], []
        try:
            for frame in container.decode(video=0):
                t = frame.time if frame.time is not None else len(frames) / source_fps
                if t < start - 1e-6:
                    continue
                if end is not None and t >= end:
                    break
                if max_seconds is not None and t - start > max_seconds + 0.5:
                    raise ClipTooLong(f"{name!r} is longer than the limit of {max_seconds:g} s")
                if max_side and max(frame.width, frame.height) > max_side:
                    scale = max_side / max(frame.width, frame.height)
                    frame = frame.reformat(width=int(frame.width * scale) // 2 * 2,
                                           height=int(frame.height * scale) // 2 * 2)
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(t)
        except av.error.FFmpegError as e:
            if not frames:
                raise UnreadableVideo(f"{name!r}: no decodable video frame ({e})") from None
        if not frames:
            raise UnreadableVideo(f"{name!r}: no decodable video frame")
        audio = _read_audio(path, sample_rate) if container.streams.audio else None
    if audio is not None and (start > 0 or end is not None):
        audio = audio[int(round(start * sample_rate)):None if end is None else int(round(end * sample_rate))]
    times_a = np.asarray(times, dtype=np.float64)
    order = np.argsort(times_a, kind="stable")
    times_a = times_a[order]
    frame_step = 1.0 / source_fps if source_fps > 0 else 1.0 / fps
    duration = times_a[-1] - times_a[0] + frame_step
    idx = order[resample_indices(times_a, fps, duration)]
    out = np.stack([frames[i] for i in idx])
    return Clip(frames=out, fps=float(fps), audio=audio, sample_rate=sample_rate, source_fps=source_fps)


def probe_duration(path: str | os.PathLike) -> float:
    """The container's stated duration in seconds (the video stream's when the container states none);
    :class:`UnreadableVideo` for a file with no video stream or no stated duration."""
    import av

    name = os.path.basename(os.fspath(path))
    with _open(path) as container:
        if not container.streams.video:
            raise UnreadableVideo(f"{name!r} has no video stream (expected a video file with frames)")
        if container.duration is not None:
            return container.duration / av.time_base
        vs = container.streams.video[0]
        if vs.duration is not None and vs.time_base is not None:
            return float(vs.duration * vs.time_base)
    raise UnreadableVideo(f"{name!r} states no duration (expected a seekable video file, e.g. .mp4/.mkv)")


def iter_frames(path: str | os.PathLike, *, max_side: int | None = None):
    """Yield ``(time_s, frame)`` for every decoded frame of the first video stream, ``frame`` (H, W, 3) uint8
    RGB, without decoding any audio; streams, so memory does not grow with the length of the video.
    :class:`UnreadableVideo` for no video stream or no decodable frame; a file damaged midway stops at
    the last good frame."""
    import av

    name = os.path.basename(os.fspath(path))
    with _open(path) as container:
        if not container.streams.video:
            raise UnreadableVideo(f"{name!r} has no video stream (expected a video file with frames)")
        vstream = container.streams.video[0]
        rate = float(vstream.average_rate or vstream.guessed_rate or 25.0)
        n = 0
        try:
            for frame in container.decode(video=0):
                t = frame.time if frame.time is not None else n / rate
                if max_side and max(frame.width, frame.height) > max_side:
                    scale = max_side / max(frame.width, frame.height)
                    frame = frame.reformat(width=max(2, int(frame.width * scale) // 2 * 2),
                                           height=max(2, int(frame.height * scale) // 2 * 2))
                n += 1
                yield float(t), frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as e:
            if not n:
                raise UnreadableVideo(f"{name!r}: no decodable video frame ({e})") from None
        if not n:
            raise UnreadableVideo(f"{name!r}: no decodable video frame")


def _read_audio(path, sample_rate: int) -> np.ndarray:
    import av

    chunks = []
    with av.open(os.fspath(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        try:
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as e:
            if not chunks:
                raise UnreadableVideo(f"{os.path.basename(path)!r}: the audio track cannot be decoded ({e})") \
                    from None
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def write_clip(path: str | os.PathLike, frames: np.ndarray, fps: float = 25.0, audio: np.ndarray | None = None,
               sample_rate: int = 16000, *, crf: int = 23) -> str:
    """Write RGB ``frames`` (T, H, W, 3) uint8 as H.264 (+ AAC ``audio``, mono float in [-1, 1]) to ``path``.
    Odd frame sizes are padded by one pixel (H.264 with yuv420p needs even sides)."""
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be (T, H, W, 3) uint8 with T >= 1, got {frames.shape} {frames.dtype}")
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(path, mode="w") as container:
        vs = container.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        vs.options = {"crf": str(crf), "preset": "veryfast"}
        astream = None
        if audio is not None:
            astream = container.add_stream("aac", rate=sample_rate, layout="mono")
        for image in frames:
            for packet in vs.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in vs.encode():
            container.mux(packet)
        if astream is not None:
            samples = np.clip(np.asarray(audio, np.float32).reshape(1, -1), -1, 1)
            aframe = av.AudioFrame.from_ndarray(samples, format="flt", layout="mono")
            aframe.sample_rate = sample_rate
            for packet in astream.encode(aframe):
                container.mux(packet)
            for packet in astream.encode():
                container.mux(packet)
    return path
