"""PSNR/SSIM conventions checked against independent references: scikit-image on the converted Y channel,
and a direct NumPy/SciPy transcription of Wang et al.'s SSIM with a valid-region Gaussian filter."""
import numpy as np
import pytest
import torch
from scipy.ndimage import correlate1d
from skimage.metrics import peak_signal_noise_ratio as sk_psnr
from skimage.metrics import structural_similarity as sk_ssim
from spanmix.apps.restore.metrics import psnr, ssim


def pair(seed=0, shape=(48, 40, 3), noise=12.0):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, 256, shape, dtype=np.uint8)
    img = np.clip(ref + rng.normal(0, noise, shape), 0, 255).round().astype(np.uint8)
    return img, ref


def y_of(x):  # BT.601 studio range, written out independently
    x = x.astype(np.float64)
    return 16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0


def ssim_valid(a, b):
    """Wang et al. 2004 on one channel: separable Gaussian (11 taps, sigma 1.5), 'valid' region only."""
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()

    def filt(x):
        return correlate1d(correlate1d(x, g, axis=0, mode="constant"), g, axis=1, mode="constant")[5:-5, 5:-5]

    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = filt(a), filt(b)
    va, vb, cov = filt(a * a) - mu_a ** 2, filt(b * b) - mu_b ** 2, filt(a * b) - mu_a * mu_b
    return np.mean((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a ** 2 + mu_b ** 2 + c1) * (va + vb + c2)))


@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_rgb_and_y_match_skimage(crop):
    img, ref = pair()
    sl = (slice(crop, -crop or None), slice(crop, -crop or None))
    assert psnr(img, ref, crop_border=crop) == pytest.approx(sk_psnr(ref[sl], img[sl], data_range=255), abs=1e-9)
    want = sk_psnr(y_of(ref)[sl], y_of(img)[sl], data_range=255)
    assert psnr(img, ref, crop_border=crop, y_channel=True) == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("crop", [0, 3])
def test_ssim_rgb_and_y_match_skimage_and_direct_formula(crop):
    img, ref = pair(1)
    sl = (slice(crop, -crop or None), slice(crop, -crop or None))
    kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    want_rgb = sk_ssim(ref[sl], img[sl], channel_axis=-1, **kw)
    assert ssim(img, ref, crop_border=crop) == pytest.approx(want_rgb, abs=1e-7)
    want_y = sk_ssim(y_of(ref)[sl], y_of(img)[sl], **kw)
    got_y = ssim(img, ref, crop_border=crop, y_channel=True)
    assert got_y == pytest.approx(want_y, abs=1e-7)
    assert got_y == pytest.approx(ssim_valid(y_of(img)[sl], y_of(ref)[sl]), abs=1e-7)


def test_y_channel_differs_from_rgb_and_identical_images():
    img, ref = pair(2)
    assert abs(psnr(img, ref, y_channel=True) - psnr(img, ref)) > 0.5
    assert psnr(ref, ref) == float("inf") and ssim(ref, ref) == pytest.approx(1.0)


def test_float_tensors_match_uint8_arrays():
    img, ref = pair(3)
    ti = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    tr = torch.from_numpy(ref).permute(2, 0, 1).float() / 255
    assert psnr(ti, tr, crop_border=2, y_channel=True) == pytest.approx(psnr(img, ref, crop_border=2, y_channel=True), abs=1e-4)
    batch = ssim(torch.stack([ti, tr]), torch.stack([tr, tr]))
    assert batch.shape == (2,) and float(batch[1]) == pytest.approx(1.0)
    assert float(batch[0]) == pytest.approx(ssim(img, ref), abs=1e-5)


@pytest.mark.parametrize("args, msg", [
    ((np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)), "same shape"),
    ((np.zeros((8, 8, 4), np.uint8), np.zeros((8, 8, 4), np.uint8)), "RGB"),
    ((torch.zeros(3, 8, 8, dtype=torch.uint8), torch.zeros(3, 8, 8, dtype=torch.uint8)), "float"),
    (("a.png", "b.png"), "numpy"),
])
def test_bad_input(args, msg):
    with pytest.raises(ValueError, match=msg):
        psnr(*args)


def test_bad_options():
    img, ref = pair()
    with pytest.raises(ValueError, match="crop_border"):
        psnr(img, ref, crop_border=24)
    with pytest.raises(ValueError, match="y_channel"):
        psnr(img[..., 0], ref[..., 0], y_channel=True)
    with pytest.raises(ValueError, match="11x11"):
        ssim(img[:10], ref[:10])
