"""Images for restoration: reading with checks, MATLAB-compatible bicubic resizing, synthetic degradations,
the standard benchmark layouts, and the shipped real images.

Degradations (all seeded, all applied to clean real images, so results are on **synthetic degradation of
real images**):

- ``sr``: MATLAB ``imresize(hr, 1/s, 'bicubic')`` with antialiasing (``imresize``), rounded to uint8 as the
  standard LR PNGs are; the HR image is first cropped to a multiple of ``s`` (``mod_crop``).
- ``denoise``: additive white Gaussian noise of std ``sigma / 255`` on [0, 1], not clipped (KAIR / MaIR CDN).
- ``deblur``: a linear motion-blur kernel (seeded length and angle, anti-aliased line) applied with
  replicate borders, plus Gaussian noise of std 1/255 (a GoPro-like blur from one kernel per image, not
  the real camera-shake averaging of GoPro).
- ``dehaze``: the atmospheric scattering model ``I = J t + A (1 - t)``, ``t = exp(-beta d)`` with a depth
  proxy ``d`` rising from the bottom of the image (near) to the top (far) plus a smooth seeded
  perturbation; ``beta`` in [0.6, 1.6], ``A`` in [0.75, 0.95] (RESIDE's ranges are similar).

Standard layouts (download them yourself; none is fetched silently): ``paired_folder`` for DIV2K/DF2K
(``0001.png`` HR with ``0001x2.png`` LR), ``benchmark_sr`` for Set5/Set14/B100/Urban100/Manga109
(``<set>/HR/<name>.png`` + ``<set>/LR_bicubic/X<s>/<name>x<s>.png``), ``clean_folder`` for
CBSD68/Kodak24/McMaster (noise added on the fly), ``gopro_pairs`` (``<split>/<sequence>/{blur,sharp}/*.png``)
and ``sots_pairs`` (``<indoor|outdoor>/{hazy,gt}``: hazy ``1400_1.png`` -> clear ``1400.png``).
"""
from __future__ import annotations

import math
import os
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "ImageError", "SAMPLE_SPLITS", "TASKS", "benchmark_sr", "clean_folder",
    "degrade", "gopro_pairs", "haze", "imresize", "load_samples", "mod_crop", "motion_kernel", "paired_folder",
    "read_image", "sots_pairs", "to_tensor", "to_uint8", "extract_zip", "download_div2k", "DIV2K_URL",
]

TASKS = ("sr", "denoise", "deblur", "dehaze")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
DEFAULT_MAX_PIXELS = 4096 * 4096
SAMPLE_FILE = Path(__file__).parent / "samples" / "restore_images.npz"
#: split -> names of the shipped images (split by image, never by crop)
SAMPLE_SPLITS = {
    "train": ("astronaut", "rocket", "immunohistochemistry", "hubble_deep_field", "retina", "brick", "grass"),
    "val": ("coffee",),
    "test": ("chelsea", "motorcycle"),
}


class ImageError(ValueError):
    """An input image that cannot be used; the message names the problem and the expected form."""


# ------------------------------------------------------------------------------------------- reading
def read_image(source, *, max_pixels: int | None = DEFAULT_MAX_PIXELS, min_size: int = 1) -> np.ndarray:
    """An 8-bit RGB image as a uint8 array ``(H, W, 3)``, from a path, bytes or a PIL image.

    Grey 8-bit images are repeated to three channels. One ``ImageError`` each for: not an image,
    16-bit / float / palette / CMYK images, an alpha channel, a side below ``min_size``, more than
    ``max_pixels`` pixels (checked before decoding).
    """
    from PIL import Image, UnidentifiedImageError

    name = str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__
    if isinstance(source, Image.Image):
        img = source
    else:
        try:
            import io

            img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
        except FileNotFoundError as e:
            raise ImageError(f"image {name}: file not found") from e
        except (UnidentifiedImageError, OSError) as e:
            raise ImageError(f"{name} is not an image PIL can read (expected PNG, JPEG, BMP, TIFF or WebP)") from e
    w, h = img.size
    if max_pixels is not None and w * h > max_pixels:
        raise ImageError(f"image {name} is {w}x{h} = {w * h:,} pixels, above the cap of {max_pixels:,}; "
                         f"crop or downscale it, or use tiled inference (--tile) with a larger cap")
    if min(w, h) < min_size:
        raise ImageError(f"image {name} is {w}x{h}, smaller than the {min_size}x{min_size} minimum")
    mode = img.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        raise ImageError(f"image {name} has an alpha channel ({mode}); expected 8-bit RGB or grey without alpha "
                         f"(flatten it onto a background first)")
    if mode == "P":
        raise ImageError(f"image {name} is a palette image (mode P); expected 8-bit RGB or grey: convert it to RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I", "F") or mode.startswith("I;"):
        raise ImageError(f"image {name} has {mode} samples (16-bit or float); expected 8 bits per channel")
    if mode not in ("RGB", "L"):
        raise ImageError(f"image {name} has mode {mode}; expected 8-bit RGB or grey (L)")
    arr = np.asarray(img.convert("RGB") if mode == "L" else img, dtype=np.uint8)
    return np.ascontiguousarray(arr)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 ``(H, W, 3)`` -> float32 ``(3, H, W)`` on [0, 1]."""
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).float().div(255.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float ``(3, H, W)`` on [0, 1] -> uint8 ``(H, W, 3)`` (clipped, rounded half to even as numpy)."""
    return (x.detach().float().clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0).cpu().numpy()


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so that both sides are multiples of ``scale`` (BasicSR ``mod_crop``)."""
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


# ------------------------------------------------------------------------- MATLAB-compatible bicubic
def _cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = x.abs()
    ax2, ax3 = ax ** 2, ax ** 3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))).to(x.dtype)


@lru_cache(maxsize=64)
def _resize_weights(in_len: int, out_len: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """MATLAB ``contributions``: for each output sample, the input indices and weights (float64)."""
    width = 4.0 / scale if scale < 1 else 4.0  # antialiasing widens the kernel when shrinking
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # output sample x in input coordinates (1-based)
    left = torch.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None]  # (out, taps), 1-based
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if scale < 1 else _cubic(dist)
    w = w / w.sum(1, keepdim=True)
    idx = idx - 1  # 0-based, then mirror out-of-range taps (MATLAB's symmetric padding)
    period = 2 * in_len
    idx = torch.remainder(idx, period)
    idx = torch.where(idx >= in_len, period - 1 - idx, idx).long()
    keep = w.abs().sum(0) > 0  # drop all-zero tap columns
    return idx[:, keep], w[:, keep]


def imresize(img, scale: float) -> np.ndarray | torch.Tensor:
    """MATLAB ``imresize(img, scale)`` with the bicubic kernel and antialiasing (the SR benchmarks' LR).

    ``img``: uint8 ``(H, W, C)`` (returns uint8, rounded as MATLAB does) or a float tensor ``(..., H, W)``
    (returns float64 without rounding). Output size ``ceil(H * scale) x ceil(W * scale)``. Written out
    here because neither PIL, OpenCV nor torch's bicubic reproduces MATLAB's antialiased kernel, and
    published SR numbers depend on it.
    """
    if scale <= 0:
        raise ValueError(f"imresize: scale must be > 0, got {scale}")
    as_array = isinstance(img, np.ndarray)
    x = torch.from_numpy(np.array(img)).permute(2, 0, 1) if as_array else img
    x = x.to(torch.float64)
    h, w = x.shape[-2:]
    out_h, out_w = math.ceil(h * scale), math.ceil(w * scale)
    idx, wt = _resize_weights(h, out_h, float(scale))
    x = (x[..., idx, :] * wt[..., None]).sum(-2)  # rows: (..., out_h, W)
    idx, wt = _resize_weights(w, out_w, float(scale))
    x = (x[..., idx] * wt).sum(-1)  # columns
    if as_array:
        return x.clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return x


# ------------------------------------------------------------------------------------ degradations
def motion_kernel(size: int, rng: np.random.Generator) -> torch.Tensor:
    """A normalised linear motion-blur kernel ``(size, size)``: a line of seeded length and angle through
    the centre, drawn with anti-aliasing (bilinear splats of 4 x size points)."""
    length = rng.uniform(0.4, 1.0) * (size - 1)
    angle = rng.uniform(0, math.pi)
    k = np.zeros((size, size))
    c = (size - 1) / 2
    for t in np.linspace(-0.5, 0.5, 4 * size):
        y, x = c + t * length * math.sin(angle), c + t * length * math.cos(angle)
        y0, x0 = int(math.floor(y)), int(math.floor(x))
        fy, fx = y - y0, x - x0
        for dy, dx, wgt in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
            if 0 <= y0 + dy < size and 0 <= x0 + dx < size:
                k[y0 + dy, x0 + dx] += wgt
    return torch.from_numpy(k / k.sum()).float()


def haze(clean: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Atmospheric scattering on ``(3, H, W)`` in [0, 1] with a seeded depth proxy (see module docstring)."""
    _, h, w = clean.shape
    rows = torch.linspace(1.0, 0.0, h)[:, None].expand(h, w)  # bottom near (0), top far (1)
    coarse = torch.from_numpy(rng.uniform(-0.15, 0.15, (1, 1, 4, 4))).float()
    wobble = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=True)[0, 0]
    depth = (0.2 + 0.8 * rows + wobble).clamp(0.05, 1.2)
    beta, airlight = rng.uniform(0.6, 1.6), rng.uniform(0.75, 0.95)
    t = torch.exp(-beta * depth)
    return clean * t + airlight * (1 - t)


def degrade(hr: np.ndarray, task: str, *, scale: int = 2, sigma: float = 25.0, seed: int = 0,
            kernel_size: int = 15) -> tuple[torch.Tensor, torch.Tensor]:
    """``(lq, gt)`` float tensors ``(3, h, w)`` / ``(3, H, W)`` for a clean uint8 image (module docstring)."""
    if task not in TASKS:
        raise ValueError(f"degrade: task must be one of {', '.join(TASKS)}; got {task!r}")
    rng = np.random.default_rng(seed)
    if task == "sr":
        hr = mod_crop(hr, scale)
        if min(hr.shape[:2]) < scale:
            raise ImageError(f"image {hr.shape[1]}x{hr.shape[0]} is too small for x{scale} SR")
        return to_tensor(imresize(hr, 1 / scale)), to_tensor(hr)
    gt = to_tensor(hr)
    if task == "denoise":
        noise = torch.from_numpy(rng.normal(0.0, sigma / 255.0, gt.shape)).float()
        return gt + noise, gt
    if task == "deblur":
        k = motion_kernel(kernel_size, rng)
        pad = kernel_size // 2
        blurred = F.conv2d(F.pad(gt[:, None], (pad,) * 4, mode="replicate"), k[None, None])[:, 0]
        noise = torch.from_numpy(rng.normal(0.0, 1.0 / 255.0, gt.shape)).float()
        return (blurred + noise).clamp(0, 1), gt
    return haze(gt, rng), gt


# ------------------------------------------------------------------------------------ shipped images
def load_samples(split: str | None = None) -> dict[str, np.ndarray]:
    """The shipped real images (scikit-image's data, BSD-3; see ``samples/README.md``) as uint8 arrays,
    all of them or one split of ``SAMPLE_SPLITS``."""
    if split is not None and split not in SAMPLE_SPLITS:
        raise ValueError(f"load_samples: split must be one of {', '.join(SAMPLE_SPLITS)}; got {split!r}")
    with np.load(SAMPLE_FILE) as data:
        names = SAMPLE_SPLITS[split] if split else tuple(n for s in SAMPLE_SPLITS.values() for n in s)
        return {n: data[n] for n in names}


# -------------------------------------------------------------------------------- standard layouts
def _images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} not found")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def _missing(what: str, path: Path, layout: str) -> FileNotFoundError:
    return FileNotFoundError(f"{what} not found at {path}; expected the layout {layout} (DIV2K: add "
                             f"--data.download true; the other sets have no stable official host: fetch them "
                             f"yourself, the README's restore section says where)")


def paired_folder(gt_dir, lq_dir, filename_tmpl: str = "{}") -> list[tuple[Path, Path]]:
    """``(lq, gt)`` path pairs of BasicSR's PairedImageDataset: GT ``0001.png`` <-> LQ ``tmpl.format('0001')``
    (DIV2K/DF2K: ``filename_tmpl='{}x2'`` for ``DIV2K_train_LR_bicubic/X2/0001x2.png``)."""
    gt_dir, lq_dir = Path(gt_dir), Path(lq_dir)
    for d in (gt_dir, lq_dir):
        if not d.is_dir():
            raise _missing("folder", d, "GT folder of 0001.png + LQ folder of 0001x<s>.png")
    lq_by_stem = {p.stem: p for p in _images(lq_dir)}
    pairs = []
    for gt in _images(gt_dir):
        key = filename_tmpl.format(gt.stem)
        if key not in lq_by_stem:
            raise FileNotFoundError(f"no LQ image {key}.* in {lq_dir} for {gt.name} (filename_tmpl={filename_tmpl!r})")
        pairs.append((lq_by_stem[key], gt))
    if not pairs:
        raise FileNotFoundError(f"no images in {gt_dir}")
    return pairs


def benchmark_sr(root, name: str, scale: int) -> list[tuple[Path, Path]]:
    """Set5/Set14/B100/Urban100/Manga109 in the usual layout: ``root/<name>/HR/x.png`` and
    ``root/<name>/LR_bicubic/X<s>/xx<s>.png``."""
    base = Path(root) / name
    if not (base / "HR").is_dir():
        raise _missing(f"SR benchmark {name}", base, "<set>/HR/*.png + <set>/LR_bicubic/X<s>/*x<s>.png")
    return paired_folder(base / "HR", base / "LR_bicubic" / f"X{scale}", "{}" + f"x{scale}")


def clean_folder(folder) -> list[Path]:
    """Clean test images (CBSD68, Kodak24, McMaster, ...): every image file in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _missing("image folder", folder, "<folder>/*.png")
    return _images(folder)


def gopro_pairs(root, split: str = "test") -> list[tuple[Path, Path]]:
    """GoPro (Nah et al. 2017): ``root/<train|test>/<sequence>/blur/*.png`` with ``sharp/`` twins."""
    base = Path(root) / split
    if not base.is_dir():
        raise _missing("GoPro split", base, "GOPRO_Large/<train|test>/<sequence>/{blur,sharp}/*.png")
    pairs = []
    for seq in sorted(p for p in base.iterdir() if p.is_dir()):
        for blur in _images(seq / "blur"):
            sharp = seq / "sharp" / blur.name
            if not sharp.exists():
                raise FileNotFoundError(f"GoPro: no sharp twin {sharp} for {blur}")
            pairs.append((blur, sharp))
    return pairs


def sots_pairs(root, subset: str = "outdoor") -> list[tuple[Path, Path]]:
    """RESIDE SOTS: ``root/<indoor|outdoor>/hazy/1400_1.png`` -> ``root/<...>/gt/1400.png`` (or ``clear/``)."""
    base = Path(root) / subset
    gt_dir = next((base / d for d in ("gt", "GT", "clear") if (base / d).is_dir()), None)
    if gt_dir is None or not (base / "hazy").is_dir():
        raise _missing(f"SOTS {subset}", base, "SOTS/<indoor|outdoor>/{hazy,gt}/ with hazy 1400_1.png -> gt 1400.png")
    clear = {p.stem: p for p in _images(gt_dir)}
    pairs = []
    for hazy in _images(base / "hazy"):
        key = hazy.stem.split("_")[0]
        if key not in clear:
            raise FileNotFoundError(f"SOTS: no clear image {key}.* in {gt_dir} for {hazy.name}")
        pairs.append((hazy, clear[key]))
    return pairs


DIV2K_URL = "http://data.vision.ee.ethz.ch/cvl/DIV2K/{name}.zip"


def download_div2k(root, part: str = "valid", scale: int = 2, *, url: str = DIV2K_URL) -> Path:
    """DIV2K's ``part`` (``train`` or ``valid``) HR images and their x``scale`` bicubic LR twins from the
    official ETH host into ``root`` (``DIV2K_<part>_HR/`` + ``DIV2K_<part>_LR_bicubic/X<s>/``), each archive
    fetched once, its sha256 recorded on first use (DIV2K publishes none: the first download is unverified,
    said by a warning) and checked on later calls. The other sets (Set5 ... Manga109, CBSD68, Kodak24,
    McMaster, GoPro, SOTS) have no stable official host; their loaders' messages say so."""
    import urllib.request

    from spanmix.datasets.checksums import check

    if part not in ("train", "valid") or scale not in (2, 3, 4):
        raise ValueError(f"DIV2K: part must be 'train' or 'valid' and scale 2, 3 or 4; got {part!r}, {scale}")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, folder in ((f"DIV2K_{part}_HR", root / f"DIV2K_{part}_HR"),
                         (f"DIV2K_{part}_LR_bicubic_X{scale}", root / f"DIV2K_{part}_LR_bicubic" / f"X{scale}")):
        archive = root / f"{name}.zip"
        source = url.format(name=name)
        if not archive.is_file():
            tmp = archive.with_suffix(".part")
            try:
                urllib.request.urlretrieve(source, tmp)
            except OSError as e:
                raise FileNotFoundError(f"cannot download {source} ({e}); offline, put {archive.name} into {root} "
                                        "(or its unpacked folders)") from None
            tmp.replace(archive)
        check(archive, source=source)
        if not folder.is_dir():
            extract_zip(archive, root)
    return root


def extract_zip(archive, dest) -> Path:
    """Unpack a downloaded benchmark archive (e.g. DIV2K_valid_HR.zip) into ``dest``; refuses paths that
    leave ``dest``."""
    dest = Path(dest)
    with zipfile.ZipFile(archive) as z:
        for member in z.namelist():
            if not (dest / member).resolve().is_relative_to(dest.resolve()):
                raise ValueError(f"{archive}: member {member!r} would be written outside {dest}")
        z.extractall(dest)
    return dest
