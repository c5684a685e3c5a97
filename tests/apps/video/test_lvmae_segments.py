"""LV-MAE segmenting: boundaries, the last partial segment, and one clear error per bad file (the embed
command's own tests are in test_lvmae_commands.py)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from spanmix.apps.video.lvmae.segments import VideoTooShort, iter_segments, sample_times, segment_times
from spanmix.datasets.video import UnreadableVideo, write_clip


def _video(path, seconds: float, fps: float = 10.0):
    """Frame k has brightness 2k (so the time of any sampled frame can be read back)."""
    n = int(round(seconds * fps))
    frames = np.stack([np.full((32, 48, 3), (2 * k) % 256, np.uint8) for k in range(n)])
    return write_clip(path, frames, fps=fps, crf=0)


def test_segment_times_boundaries_and_partial_tail():
    np.testing.assert_allclose(segment_times(12.0, 5.0), [[0, 5], [5, 10], [10, 12]])
    np.testing.assert_allclose(segment_times(10.5, 5.0), [[0, 5], [5, 10]])  # 0.5 s tail < min_last
    np.testing.assert_allclose(segment_times(10.5, 5.0, min_last=0.5), [[0, 5], [5, 10], [10, 10.5]])
    np.testing.assert_allclose(segment_times(10.0, 5.0), [[0, 5], [5, 10]])
    with pytest.raises(VideoTooShort, match="shorter than one segment"):
        segment_times(4.9, 5.0)


def test_iter_segments_cuts_at_boundaries_and_keeps_the_tail(tmp_path):
    path = _video(tmp_path / "v.mp4", 12.0)  # 120 frames at 10 fps
    segs = list(iter_segments(path, seconds=5.0, frames=4, max_side=None))
    assert [(s.index, s.start) for s in segs] == [(0, 0.0), (1, 5.0), (2, 10.0)]
    assert segs[0].end == 5.0 and abs(segs[2].end - 12.0) < 1e-6
    for s in segs:
        assert s.frames.shape == (4, 32, 48, 3)
        frame_numbers = s.frames.reshape(4, -1).mean(1) / 2
        expected = np.floor(sample_times(s.start, s.end, 4) * 10 + 1e-6)
        np.testing.assert_allclose(frame_numbers, expected, atol=0.6)  # each the frame at its sampling time


def test_iter_segments_skip_and_short_video(tmp_path):
    path = _video(tmp_path / "v.mp4", 12.0)
    assert [s.index for s in iter_segments(path, 5.0, 2, skip={0, 2})] == [1]
    short = _video(tmp_path / "short.mp4", 3.0)
    with pytest.raises(VideoTooShort, match="3.00 s, shorter than one segment of 5 s"):
        list(iter_segments(short, 5.0))


def _audio_only(path):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="flt", layout="mono")
        frame.sample_rate = 16000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_bad_files_raise_one_clear_error(tmp_path):
    with pytest.raises(UnreadableVideo, match="has no video stream"):
        list(iter_segments(_audio_only(tmp_path / "sound.m4a")))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(UnreadableVideo, match="not a readable video container|no decodable video frame"):
        list(iter_segments(junk))
    with pytest.raises(UnreadableVideo, match="no such video file"):
        list(iter_segments(tmp_path / "missing.mp4"))


