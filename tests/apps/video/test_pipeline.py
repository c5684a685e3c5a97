"""The whole pipeline on a composited clip: CSV in the AVA result layout, the annotated video, bad input."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from spanmix.apps.harness.export import save_pretrained
from spanmix.apps.video.asd.pipeline import NoFacesFound, run, write_outputs
from spanmix.apps.video.asd.task import ASDTask
from spanmix.datasets.asd_composite import SceneMaker
from spanmix.datasets.video import NoAudioTrack, UnreadableVideo, read_clip, write_clip

TINY = {"layers": 1, "dim": 16, "heads": 2, "widths": [4, 4, 8, 8], "audio_widths": [4, 4, 8, 8], "tcn_blocks": 1,
        "max_len": 32}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_pretrained(ASDTask(model_options=TINY, face_size=32), tmp_path_factory.mktemp("w") / "tiny")


@pytest.fixture(scope="module")
def scene_video(tmp_path_factory):
    scene = SceneMaker("test", seed=0, frames=40, faces=2).scene(0)
    return write_clip(tmp_path_factory.mktemp("v") / "scene.mp4", scene.frames, 25, scene.audio), scene


def test_pipeline_writes_ava_csv_and_annotated_video(weights, scene_video, tmp_path):
    path, scene = scene_video
    result = run(path, weights, progress=False)
    assert 1 <= len(result.tracks) <= 3
    # tracks of 40 frames are scored in windows of max_len 32: every frame gets a probability
    for track, scores in zip(result.tracks, result.scores):
        assert scores.shape == (len(track),) and ((scores >= 0) & (scores <= 1)).all()
    # each track sits on one of the composited faces
    from spanmix.apps.video.asd.tracking import box_iou

    for track in result.tracks:
        t = track.start
        assert box_iou(track.boxes[:1], scene.boxes[:, t]).max() > 0.3
    csv_path, video_path = write_outputs(result, tmp_path / "out")
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["video_id", "frame_timestamp", "entity_box_x1", "entity_box_y1", "entity_box_x2",
                             "entity_box_y2", "label", "entity_id", "score"]
    assert len(rows) == sum(len(t) for t in result.tracks)
    assert {r["label"] for r in rows} == {"SPEAKING_AUDIBLE"} and rows[0]["video_id"] == "scene"
    assert all(0 <= float(r[k]) <= 1 for r in rows for k in ("entity_box_x1", "entity_box_y2", "score"))
    assert float(rows[1]["frame_timestamp"]) - float(rows[0]["frame_timestamp"]) == pytest.approx(0.04)
    annotated = read_clip(video_path)
    assert annotated.frames.shape[:3] == (40, 180, 320) and annotated.audio is not None
    assert set(result.seconds) == {"decode", "detect", "track", "audio features", "crop + model"}


def test_bad_clips_give_one_clear_error_each(weights, tmp_path):
    silent = write_clip(tmp_path / "silent.mp4", np.zeros((10, 64, 64, 3), np.uint8), 25)
    with pytest.raises(NoAudioTrack, match="no audio track"):
        run(silent, weights, progress=False)
    blank = write_clip(tmp_path / "blank.mp4", np.full((20, 64, 64, 3), 128, np.uint8), 25,
                       np.zeros(20 * 640, np.float32))
    with pytest.raises(NoFacesFound, match="no face found"):
        run(blank, weights, progress=False)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(UnreadableVideo, match="not a readable video container"):
        run(junk, weights, progress=False)
    with pytest.raises(ValueError, match="not an export directory"):
        run(blank, tmp_path, progress=False)


def test_predict_command_writes_outputs_and_reports_bad_clips_on_one_line(weights, scene_video, tmp_path):
    """``spanmix video asd predict --weights --video --output``: the two files; a clip with no audio track is one
    line on stderr with the dispatcher's exit code 2 (it was exit 1 under a message of the command's own)."""
    import subprocess
    import sys

    def predict(video):
        return subprocess.run([sys.executable, "-m", "spanmix.apps.cli", "video", "asd", "predict", "--weights",
                               str(weights), "--video", str(video), "--output", str(tmp_path / "out"),
                               "--no-progress"], capture_output=True, text=True, cwd=tmp_path)

    r = predict(scene_video[0])
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "out" / "scores.csv").is_file() and (tmp_path / "out" / "annotated.mp4").is_file()
    silent = write_clip(tmp_path / "silent.mp4", np.zeros((10, 64, 64, 3), np.uint8), 25)
    r = predict(silent)
    assert r.returncode == 2 and "no audio track" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
