"""Restoration data: reading with checks, MATLAB bicubic, degradations, the standard layouts on fixtures.

``imresize`` was compared with BasicSR's ``matlab_functions.imresize`` (the MaIR repository's copy) on
random 48x40 and 37x53 images at scales 1/2, 1/3, 1/4 and 2: max |difference| 2.4e-7 on [0, 1]
(BasicSR computes in float32).
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from spanmix.datasets.restore import (
    SAMPLE_SPLITS,
    ImageError,
    benchmark_sr,
    clean_folder,
    degrade,
    gopro_pairs,
    imresize,
    load_samples,
    paired_folder,
    read_image,
    sots_pairs,
)


def save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def rgb(h=20, w=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_read_image_rgb_and_grey(tmp_path):
    img = rgb()
    assert np.array_equal(read_image(save(tmp_path / "a.png", img)), img)
    grey = img[..., 0]
    out = read_image(save(tmp_path / "g.png", grey))
    assert out.shape == (20, 24, 3) and np.array_equal(out[..., 2], grey)


@pytest.mark.parametrize("kind, msg", [
    ("text", "not an image"), ("rgba", "alpha"), ("palette", "palette"), ("16bit", "16-bit"),
    ("small", "smaller"), ("big", "cap"), ("missing", "not found"),
])
def test_read_image_bad_input(tmp_path, kind, msg):
    path = tmp_path / "x.png"
    if kind == "text":
        path.write_text("hello")
    elif kind == "rgba":
        Image.fromarray(np.zeros((8, 8, 4), np.uint8), "RGBA").save(path)
    elif kind == "palette":
        Image.fromarray(rgb()).convert("P").save(path)
    elif kind == "16bit":
        Image.fromarray(np.zeros((8, 8), np.uint16)).save(path)
    elif kind in ("small", "big"):
        Image.fromarray(rgb(8, 8)).save(path)
    kw = {"min_size": 16} if kind == "small" else {"max_pixels": 63} if kind == "big" else {}
    with pytest.raises(ImageError, match=msg):
        read_image(tmp_path / ("nope.png" if kind == "missing" else "x.png"), **kw)


def test_imresize_sizes_constants_and_linear_ramps():
    img = np.full((37, 53, 3), 77, np.uint8)
    small = imresize(img, 1 / 3)
    assert small.shape == (13, 18, 3) and (small == 77).all()
    # The cubic kernel reproduces linear functions: away from the borders, downscaling a ramp by s
    # samples it at the centres of s x s blocks, (s - 1) / 2 + s * i.
    ramp = torch.arange(64, dtype=torch.float64).expand(3, 16, 64)
    down = imresize(ramp, 1 / 4)
    torch.testing.assert_close(down[0, 0, 2:-2], 1.5 + 4 * torch.arange(2, 14, dtype=torch.float64))
    up = imresize(ramp, 2)
    torch.testing.assert_close(up[0, 0, 4:-4], -0.25 + 0.5 * torch.arange(4, 124, dtype=torch.float64))


def test_imresize_antialiases_unlike_plain_bicubic():
    checker = torch.tensor([[0.0, 1.0] * 16, [1.0, 0.0] * 16] * 16, dtype=torch.float64)[None]
    assert imresize(checker, 1 / 2)[..., 2:-2, 2:-2].std() < 0.05  # averaged away, not aliased


@pytest.mark.parametrize("task", ["sr", "denoise", "deblur", "dehaze"])
def test_degrade_shapes_seeds_and_severity(task):
    img = load_samples("test")["chelsea"]
    lq, gt = degrade(img, task, scale=3, sigma=25, seed=1)
    lq2, _ = degrade(img, task, scale=3, sigma=25, seed=1)
    assert torch.equal(lq, lq2)
    if task == "sr":
        assert gt.shape == (3, 255, 255) and lq.shape == (3, 85, 85)
    else:
        assert lq.shape == gt.shape == (3, 256, 256)
        assert not torch.equal(lq, degrade(img, task, seed=2)[0])
        err = (lq - gt).abs().mean()
        assert 0.01 < err < 0.5
    if task == "denoise":
        assert (lq - gt).std() == pytest.approx(25 / 255, rel=0.02)


def test_shipped_samples_are_split_by_image():
    allimgs = load_samples()
    assert sum(len(v) for v in SAMPLE_SPLITS.values()) == len(allimgs) == 10
    assert all(a.shape == (256, 256, 3) and a.dtype == np.uint8 for a in allimgs.values())
    names = [set(v) for v in SAMPLE_SPLITS.values()]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])
    with pytest.raises(ValueError, match="split"):
        load_samples("holdout")


def test_standard_layouts_on_fixtures(tmp_path):
    for i in (1, 2):
        save(tmp_path / "DIV2K_train_HR" / f"{i:04d}.png", rgb(8, 8, i))
        save(tmp_path / "DIV2K_train_LR_bicubic" / "X2" / f"{i:04d}x2.png", rgb(4, 4, i))
    pairs = paired_folder(tmp_path / "DIV2K_train_HR", tmp_path / "DIV2K_train_LR_bicubic" / "X2", "{}x2")
    assert [(p[0].name, p[1].name) for p in pairs] == [("0001x2.png", "0001.png"), ("0002x2.png", "0002.png")]

    save(tmp_path / "Set5" / "HR" / "baby.png", rgb(12, 12))
    save(tmp_path / "Set5" / "LR_bicubic" / "X3" / "babyx3.png", rgb(4, 4))
    assert benchmark_sr(tmp_path, "Set5", 3)[0][0].name == "babyx3.png"
    with pytest.raises(FileNotFoundError, match="LR_bicubic"):
        benchmark_sr(tmp_path, "Urban100", 2)
    with pytest.raises(FileNotFoundError, match="X2"):
        benchmark_sr(tmp_path, "Set5", 2)
    save(tmp_path / "Set5" / "LR_bicubic" / "X2" / "birdx2.png", rgb(6, 6))
    with pytest.raises(FileNotFoundError, match="no LQ image"):
        benchmark_sr(tmp_path, "Set5", 2)

    save(tmp_path / "CBSD68" / "0000.png", rgb())
    assert len(clean_folder(tmp_path / "CBSD68")) == 1

    for seq in ("GOPR0384_11_00", "GOPR0385_11_01"):
        save(tmp_path / "GOPRO_Large" / "test" / seq / "blur" / "000001.png", rgb())
        save(tmp_path / "GOPRO_Large" / "test" / seq / "sharp" / "000001.png", rgb())
    assert len(gopro_pairs(tmp_path / "GOPRO_Large", "test")) == 2

    save(tmp_path / "SOTS" / "outdoor" / "hazy" / "0001_0.8_0.2.jpg", rgb())
    save(tmp_path / "SOTS" / "outdoor" / "gt" / "0001.png", rgb())
    hazy, clear = sots_pairs(tmp_path / "SOTS", "outdoor")[0]
    assert (hazy.name, clear.name) == ("0001_0.8_0.2.jpg", "0001.png")
    with pytest.raises(FileNotFoundError, match="SOTS indoor"):
        sots_pairs(tmp_path / "SOTS", "indoor")


def test_div2k_download_on_request_unpacks_the_official_layout(tmp_path, monkeypatch):
    import urllib.request
    import warnings
    import zipfile

    from spanmix.apps.restore.data import RestoreDataModule
    from spanmix.datasets.restore import download_div2k

    served = tmp_path / "server"
    for name, stem in (("DIV2K_valid_HR", "{i:04d}.png"), ("DIV2K_valid_LR_bicubic_X2", "{i:04d}x2.png")):
        folder = "DIV2K_valid_HR" if name.endswith("HR") else "DIV2K_valid_LR_bicubic/X2"
        served.mkdir(exist_ok=True)
        with zipfile.ZipFile(served / f"{name}.zip", "w") as z:
            for i in (801, 802):
                side = 16 if name.endswith("HR") else 8
                png = save(tmp_path / "tmp" / stem.format(i=i), rgb(side, side, i))
                z.write(png, f"{folder}/{png.name}")
    fetched = []

    def fake_retrieve(url, dest):
        fetched.append(url)
        Path(dest).write_bytes((served / url.rsplit("/", 1)[1]).read_bytes())

    monkeypatch.setattr(urllib.request, "urlretrieve", fake_retrieve)
    root = tmp_path / "div2k"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        download_div2k(root, "valid", 2)
    assert fetched == ["http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip",
                       "http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_LR_bicubic_X2.zip"]
    assert any("UNVERIFIED" in str(w.message) for w in caught)  # DIV2K publishes no checksum
    pairs = paired_folder(root / "DIV2K_valid_HR", root / "DIV2K_valid_LR_bicubic" / "X2", "{}x2")
    assert [(lq.name, gt.name) for lq, gt in pairs] == [("0801x2.png", "0801.png"), ("0802x2.png", "0802.png")]
    download_div2k(root, "valid", 2)  # second call: nothing fetched, the recorded sums checked
    assert len(fetched) == 2
    dm = RestoreDataModule(dataset="div2k", root=str(root), download=True, patch_size=8)
    assert len(dm._split("test")[0]) == 2


def test_div2k_download_offline_says_where_to_put_the_files(tmp_path, monkeypatch):
    import urllib.request

    from spanmix.datasets.restore import download_div2k

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(FileNotFoundError, match="put DIV2K_valid_HR.zip into"):
        download_div2k(tmp_path, "valid", 2)
    with pytest.raises(ValueError, match="part must be"):
        download_div2k(tmp_path, "test", 2)
