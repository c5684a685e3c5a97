"""Lead sheets from the music21 corpus, shipped as small event caches (offline).

    from spanmix.datasets.music import load_sample, split_pieces
    sheets = load_sample("chorales")                  # list[LeadSheet], C major / A minor
    parts = split_pieces(sheets, val=0.1, test=0.1)   # {"train": [...], "val": [...], "test": [...]}, by piece

Samples (``datasets/samples/music_*.npz``, made by ``python -m spanmix.datasets.prepare_music_samples`` from
the corpus in the music21 wheel, BSD-3; provenance in ``datasets/samples/README.md``):

- ``chorales``: Bach chorale soprano melodies with a chord per beat derived from the lower voices;
- ``leadsheets``: tunes with chord symbols (Ryan's Mammoth Collection, the Nottingham sample, two lead sheets);
- ``folk``: Essen folk songs and O'Neill's 1850 Irish tunes, chords **inferred** per bar from the melody
  (the best-fitting triad or dominant seventh), not written by a person;
- ``oneill``: the O'Neill tunes of ``folk`` alone (the low-resource style for the adapter experiments);
- ``essen``: the Essen tunes of ``folk`` alone (``folk`` without O'Neill: with ``chorales``, the pretraining
  corpus of the adapter experiments, which must not have seen the style they adapt to).
"""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = ["SAMPLES", "load_sample", "sample_path", "split_pieces"]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
SAMPLES = ("chorales", "leadsheets", "folk", "oneill", "essen")
_FOLK_PARTS = {"oneill": "oneills1850", "essen": "essenFolksong"}  # sub-samples of folk, by source folder


def sample_path(name: str) -> Path:
    if name not in SAMPLES:
        raise ValueError(f"unknown music sample {name!r}; expected one of {SAMPLES}")
    return SAMPLES_DIR / f"music_{'folk' if name in _FOLK_PARTS else name}.npz"


def load_sample(name: str) -> list:
    """The shipped pieces of ``name`` as ``LeadSheet`` objects (see module docstring)."""
    from spanmix.apps.music.events import LeadSheet

    path = sample_path(name)
    if not path.is_file():
        raise ValueError(f"{path} is missing; regenerate it with `python -m spanmix.datasets.prepare_music_samples`")
    z = np.load(path)
    out = []
    for i in range(len(z["offsets"]) - 1):
        source = str(z["source"][i])
        if name in _FOLK_PARTS and source.split("/")[0] != _FOLK_PARTS[name]:
            continue
        sheet = LeadSheet(z["events"][z["offsets"][i]:z["offsets"][i + 1]].astype(np.int64),
                          tuple(int(v) for v in z["meter"][i]), Fraction(int(z["pickup16"][i]), 4), str(z["key"][i]),
                          int(z["transposition"][i]), str(z["title"][i]))
        sheet.source = source
        out.append(sheet)
    return out


def skipped(name: str) -> dict[str, int]:
    """Pieces the preparing script skipped, by reason."""
    return json.loads(str(np.load(sample_path(name))["skipped"]))


def split_pieces(sheets: list, val: float = 0.1, test: float = 0.1, seed: int = 0) -> dict[str, list]:
    """Split by piece (never inside a piece): a seeded permutation, then test, val, train."""
    if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise ValueError(f"val={val} and test={test} must be fractions in [0, 1) with val + test < 1")
    order = np.random.default_rng(seed).permutation(len(sheets))
    n_test, n_val = int(round(test * len(sheets))), int(round(val * len(sheets)))
    pick = lambda idx: [sheets[i] for i in sorted(idx)]  # noqa: E731
    return {"test": pick(order[:n_test]), "val": pick(order[n_test:n_test + n_val]),
            "train": pick(order[n_test + n_val:])}
