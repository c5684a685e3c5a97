"""AVA-ActiveSpeaker: the CSV layouts, TalkNet's clip layout (written by prepare_clips from a fixture video),
and the offline message."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from spanmix.datasets.ava import AVANotAvailable, TalkNetClips, download_annotations, prepare_clips, read_ava_csv
from spanmix.datasets.video import write_clip

HEADER = "video_id,frame_timestamp,entity_box_x1,entity_box_y1,entity_box_x2,entity_box_y2,label,entity_id,label_id,instance_id\n"


def _rows(video="vidA", start=900.0, n=10):
    rows = []
    for i in range(n):
        ts = round(start + i * 0.04, 2)
        rows.append(f"{video},{ts:.2f},0.1,0.2,0.4,0.8,{'SPEAKING_AUDIBLE' if i >= 5 else 'NOT_SPEAKING'},{video}_1:0,1,0")
        if i < 8:
            rows.append(f"{video},{ts:.2f},0.5,0.2,0.9,0.8,NOT_SPEAKING,{video}_1:1,0,0")
    return rows


def test_read_both_csv_flavours(tmp_path):
    official = tmp_path / "official.csv"
    official.write_text("vidA,902.63,0.1,0.2,0.4,0.8,SPEAKING_AUDIBLE,vidA_902.63_1:3\n")
    rows = read_ava_csv(official)
    assert rows == [{"video_id": "vidA", "frame_timestamp": 902.63, "x1": 0.1, "y1": 0.2, "x2": 0.4, "y2": 0.8,
                     "label": "SPEAKING_AUDIBLE", "entity_id": "vidA_902.63_1:3"}]
    talknet = tmp_path / "talknet.csv"
    talknet.write_text(HEADER + "\n".join(_rows()) + "\n")
    assert len(read_ava_csv(talknet)) == 18


@pytest.mark.parametrize("line, message", [
    ("v,1.0,0.1,0.2,0.4,0.8,TALKING,e", "is not one of"),
    ("v,1.0,0.1,0.2,0.4", "expected 8 columns"),
    ("v,abc,0.1,0.2,0.4,0.8,NOT_SPEAKING,e", "must be numbers"),
    ("v,1.0,0.5,0.2,0.4,0.8,NOT_SPEAKING,e", "normalised"),
])
def test_bad_rows(tmp_path, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        read_ava_csv(path)


def test_prepare_clips_then_load_talknet_layout(tmp_path):
    # A 1.2 s "movie"; its rows are timestamped 0.20-0.56 s into it.
    frames = np.zeros((30, 90, 160, 3), np.uint8)
    frames[:, 18:72, 16:64] = 200  # entity 0's face region (x 0.1-0.4, y 0.2-0.8)
    audio = (0.3 * np.sin(np.arange(30 * 640) * 0.1)).astype(np.float32)
    video = write_clip(tmp_path / "vidA.mp4", frames, fps=25, audio=audio)
    root = tmp_path / "ava"
    (root / "csv").mkdir(parents=True)
    lines = _rows(start=0.2)
    (root / "csv" / "val_orig.csv").write_text(HEADER + "\n".join(lines) + "\n")
    written = prepare_clips(video, read_ava_csv(root / "csv" / "val_orig.csv"), root, "val")
    assert written == 18
    assert (root / "clips_videos/val/vidA/vidA_1:0/0.20.jpg").is_file()
    assert (root / "clips_audios/val/vidA/vidA_1:1.wav").is_file()
    clips = TalkNetClips(root, "val", speakers=3, face_size=64)
    assert len(clips) == 2
    item = clips[0]  # target vidA_1:0 (10 frames), context vidA_1:1 (8 of them) padded by a repeat
    assert item["faces"].shape == (3, 10, 64, 64) and item["audio"].shape == (40, 64)
    assert item["labels"][0].tolist() == [0] * 5 + [1] * 5
    assert item["mask"][0].all() and item["mask"][1].sum() == 8 and item["mask"][2].sum() == 8
    assert item["faces"][0].float().mean() > 150  # the bright face region was cropped
    # training augmentation (the official recipe's list): drawn from (seed, epoch, index) only
    aug = TalkNetClips(root, "val", speakers=3, face_size=64, augment="full")
    a, again = aug[0], TalkNetClips(root, "val", speakers=3, face_size=64, augment="full")[0]
    assert all(torch.equal(a[k], again[k]) for k in a)
    assert torch.equal(a["labels"], item["labels"]) and torch.equal(a["mask"], item["mask"])
    assert not torch.equal(a["faces"], item["faces"])
    aug.set_epoch(3)
    assert not torch.equal(aug[0]["faces"], a["faces"])
    with pytest.raises(ValueError, match="--data.augment"):
        TalkNetClips(root, "val", augment="blur")


def test_offline_messages(tmp_path):
    with pytest.raises(AVANotAvailable, match="download=True"):
        download_annotations("val", root=tmp_path)
    with pytest.raises(AVANotAvailable, match="TalkNet's layout"):
        TalkNetClips(tmp_path, "val")
    with pytest.raises(ValueError, match="split must be"):
        download_annotations("test", root=tmp_path)
