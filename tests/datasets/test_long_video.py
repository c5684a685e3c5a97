"""Long-video loaders on fixtures in the official layouts (LVU, COIN, Breakfast, LV-MAE's embedding CSV) and the
shipped composited videos."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from spanmix.datasets.long_video import (COMPOSITE_CLASSES, LongVideoDataError, composite_videos, load_precomputed,
                                         read_breakfast, read_coin, read_lvu, read_precomputed)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "long_video"


def test_lvu_fixture():
    rows = read_lvu(FIXTURES / "lvu", "scene", "train")
    assert [r.video for r in rows] == ["_0CUvlYFDMA", "Zp1pJsQ6BDA", "3Kx2Ya4x4z0", "nZl5rQbm1pw"]
    assert [r.label for r in rows] == [0, 2, 1, 2] and rows[1].label_name == "office"
    assert rows[0].extra["imdb_id"] == "tt0073486"
    with pytest.raises(ValueError, match="LVU task must be one of"):
        read_lvu(FIXTURES / "lvu", "mood", "train")
    with pytest.raises(FileNotFoundError, match="chaoyuan.org/lvu/lvu_1.0.tar.gz"):
        read_lvu(FIXTURES / "lvu", "genre", "train")


def test_coin_fixture():
    rows = read_coin(FIXTURES / "coin" / "COIN.json")
    assert [(r.video, r.label, r.label_name, r.split) for r in rows] == [
        ("-8NaVGKYVNE", 12, "MakeSandwich", "training"), ("0Fl7GkJtl40", 3, "ChangeCarTire", "testing")]
    assert rows[0].extra["steps"] == [(12.0, 30.5, "cut bread"), (40.0, 77.0, "spread butter")]
    assert len(read_coin(FIXTURES / "coin" / "COIN.json", subset="testing")) == 1


def test_breakfast_fixture_and_bad_line(tmp_path):
    rows = read_breakfast(FIXTURES / "breakfast")
    assert [(r.video, r.label_name, r.label, r.split) for r in rows] == [
        ("P03_cam01_P03_cereals", "cereals", 0, "P03"), ("P12_webcam02_P12_tea", "tea", 9, "P12")]
    assert rows[0].extra["steps"][1] == (31, 150, "take_bowl")
    (tmp_path / "P01_cam01_P01_milk.txt").write_text("1-30 SIL\nthirty-forty oops\n")
    with pytest.raises(LongVideoDataError, match="line 2: expected 'start-end label'"):
        read_breakfast(tmp_path)


def test_precomputed_official_layout_and_per_video_files(tmp_path):
    seg_dir = tmp_path / "v1"
    seg_dir.mkdir()
    for i in range(3):
        torch.save({"embedding": torch.full((8,), float(i))}, seg_dir / f"{i:05d}_langbind_output.pt")
    paths = [f"v1/{i:05d}_langbind_output.pt" for i in range(3)]
    (tmp_path / "train.csv").write_text(f'segment_paths,number_of_segments,label,label_name\n"{paths}",3,1,comedy\n')
    rows = read_precomputed(tmp_path / "train.csv")
    assert rows[0].label == 1 and len(rows[0].segments) == 3
    x = load_precomputed(rows[0])
    assert x.shape == (3, 8) and x[:, 0].tolist() == [0.0, 1.0, 2.0]
    from safetensors.torch import save_file

    save_file({"embeddings": torch.randn(5, 8)}, tmp_path / "a.safetensors")
    (tmp_path / "b.csv").write_text("path,label\na.safetensors,0\n")
    assert load_precomputed(read_precomputed(tmp_path / "b.csv")[0]).shape == (5, 8)
    (tmp_path / "c.csv").write_text("video,label\nx,0\n")
    with pytest.raises(LongVideoDataError, match="expected a 'segment_paths' column"):
        read_precomputed(tmp_path / "c.csv")
    (tmp_path / "d.csv").write_text('segment_paths,label\n"os.system(1)",0\n')
    with pytest.raises(LongVideoDataError, match="must be a list literal"):
        read_precomputed(tmp_path / "d.csv")


def test_shipped_composite_videos_have_a_dominant_source():
    videos = composite_videos()
    assert len(videos) == 36 and {v.split for v in videos} == {"train", "val", "test"}
    for v in videos:
        shots = v.extra["shots"]
        assert shots[0][0] == 0 and shots[-1][1] == v.extra["duration"]
        dominant = sum(e - s for s, e, name in shots if name == v.label_name)
        assert 2 * dominant > v.extra["duration"] and COMPOSITE_CLASSES[v.label] == v.label_name
        assert Path(v.video).is_file()


def test_download_on_request_extracts_lvu_and_fetches_coin(tmp_path, monkeypatch):
    """The network is replaced by local files; checks what download() does with what arrives."""
    import shutil
    import tarfile

    import spanmix.datasets.long_video as lv

    archive = tmp_path / "served.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(FIXTURES / "lvu", arcname="lvu_1.0")
    served = {lv.URLS["lvu"]: archive, lv.URLS["coin"]: FIXTURES / "coin" / "COIN.json"}
    monkeypatch.setattr(lv, "_fetch", lambda url, dest: shutil.copy(served[url], dest))
    root = lv.download("lvu", tmp_path / "cache")
    assert [r.label for r in read_lvu(root, "scene", "train")] == [0, 2, 1, 2]
    assert len(read_coin(lv.download("coin", tmp_path / "cache") / "COIN.json")) == 2
    with pytest.raises(ValueError, match="breakfast: download from"):
        lv.download("breakfast")
