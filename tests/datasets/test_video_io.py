"""Video IO: decode at 25 fps from other rates, audio at 16 kHz mono, and one clear error per bad file."""
from __future__ import annotations

import numpy as np
import pytest

from spanmix.datasets.video import (ClipTooLong, NoAudioTrack, UnreadableVideo, read_clip, resample_indices,
                                    write_clip)


def _counter_frames(n, h=48, w=64):
    """Frame k shows its number as brightness (k * 8), robust to compression."""
    return np.stack([np.full((h, w, 3), (8 * k) % 256, np.uint8) for k in range(n)])


def test_resample_indices_30_to_25_fps():
    times = np.arange(30) / 30
    idx = resample_indices(times, 25.0, 1.0)
    assert len(idx) == 25
    np.testing.assert_array_equal(idx, np.floor(np.arange(25) / 25 * 30 + 1e-9).astype(int))


def test_roundtrip_resamples_30fps_to_25fps_with_audio(tmp_path):
    frames = _counter_frames(30)  # 1 s at 30 fps
    sr = 16000
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)).astype(np.float32)
    path = write_clip(tmp_path / "c.mp4", frames, fps=30, audio=tone, sample_rate=sr)
    clip = read_clip(path, fps=25.0)
    assert clip.frames.shape == (25, 48, 64, 3) and clip.fps == 25.0
    assert abs(clip.source_fps - 30) < 1e-6
    brightness = clip.frames.mean(axis=(1, 2, 3)) / 8
    expected = np.floor(np.arange(25) * 30 / 25 + 1e-9)
    np.testing.assert_allclose(brightness, expected, atol=0.6)
    assert clip.audio.dtype == np.float32 and abs(len(clip.audio) - sr) < 0.1 * sr
    spectrum = np.abs(np.fft.rfft(clip.audio[2000:14000]))
    assert abs(np.argmax(spectrum) * sr / 12000 - 440) < 5


def test_clip_without_audio(tmp_path):
    path = write_clip(tmp_path / "silent.mp4", _counter_frames(10), fps=25)
    with pytest.raises(NoAudioTrack, match="no audio track"):
        read_clip(path)
    assert read_clip(path, require_audio=False).audio is None


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video" * 50)
    with pytest.raises(UnreadableVideo, match="not a readable video container"):
        read_clip(bad)
    with pytest.raises(UnreadableVideo, match="no such video file"):
        read_clip(tmp_path / "missing.mp4")
    wav_only = tmp_path / "a.wav"
    import wave

    with wave.open(str(wav_only), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(b"\0\0" * 1600)
    with pytest.raises(UnreadableVideo, match="no video stream"):
        read_clip(wav_only)


def test_too_long(tmp_path):
    path = write_clip(tmp_path / "long.mp4", _counter_frames(50), fps=25, audio=np.zeros(32000, np.float32))
    with pytest.raises(ClipTooLong, match="limit"):
        read_clip(path, max_seconds=1.0)


def test_write_rejects_bad_frames(tmp_path):
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\) uint8"):
        write_clip(tmp_path / "x.mp4", np.zeros((3, 8, 8), np.uint8))
