"""LV-MAE segmenting and the embed command: boundaries, the last partial segment, and one clear error per bad file."""
from __future__ import annotations

import os
import subprocess
import sys

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


def _cli(*args, env_extra=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "spanmix.apps.cli", "video", "lvmae", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_embed_command_writes_normalised_embeddings_and_times(tmp_path):
    from spanmix.apps.video.lvmae.cache import read_embeddings

    video = _video(tmp_path / "v.mp4", 12.0)
    r = _cli("embed", "--input", str(video), "--output", str(tmp_path / "out"), "--cache", str(tmp_path / "c"),
             "--no-progress")
    assert r.returncode == 0, r.stderr
    emb = read_embeddings(tmp_path / "out" / "embeddings.safetensors")
    assert emb.embeddings.shape == (3, 96)
    np.testing.assert_allclose(emb.embeddings.norm(dim=1).numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(emb.times.numpy(), [[0, 5], [5, 10], [10, 12]], atol=1e-6)
    assert emb.meta["encoder"].startswith("hist(") and len(emb.meta["video_sha256"]) == 64


@pytest.mark.parametrize("make, message", [
    (lambda p: _video(p / "short.mp4", 2.0), "shorter than one segment"),
    (lambda p: _audio_only(p / "sound.m4a"), "has no video stream"),
    (lambda p: (p / "bad.mp4").write_bytes(b"\x00garbage" * 100) and p / "bad.mp4", "bad.mp4"),
])
def test_embed_command_bad_input_is_one_line_exit_2(tmp_path, make, message):
    path = make(tmp_path)
    r = _cli("embed", "--input", str(path), "--output", str(tmp_path / "o"), "--cache", str(tmp_path / "c"))
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "error" in lines[0] and message in lines[0] and "Traceback" not in r.stderr
