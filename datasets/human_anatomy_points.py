"""The shipped human anatomy point set: partial surface clouds of six head structures of the FreeSurfer
fsaverage template (an average anatomy), for anatomy classification.

    from spanmix.datasets.human_anatomy_points import load_human_sample

    d = load_human_sample()      # structures, cls_points (192, 512, 3) float32, cls_label, cls_split, ...

``datasets/samples/points_human.npz`` is made offline by ``python -m
spanmix.datasets.prepare_human_anatomy_sample`` from the fsaverage files inside the mne package (scalp, inner
skull) and the nilearn wheel (fsaverage5 pial and white-matter surfaces of both hemispheres); provenance,
licences and the crop rule are in that script and in ``datasets/samples/README.md``. 32 crops of 25 % of each
surface, 20 train / 6 val / 6 test per structure, val/test crops centred in held-out surface regions (but
overlapping training crops; the script's ``--held-out surface`` makes a strictly disjoint set). Crops are
centred each on its own mean and scaled by one set-wide factor (size and orientation kept); ``cls_centre``
(M, 3) puts them back in the scaled template frame. ONE average anatomy: the scores measure recognising these
structures' shapes, not generalisation across subjects.
"""
from __future__ import annotations

import os

import numpy as np

from spanmix.datasets.points import SAMPLES_DIR, open_shipped_sample

__all__ = ["HUMAN_SAMPLE", "HUMAN_STRUCTURES", "load_human_sample"]

HUMAN_SAMPLE = SAMPLES_DIR / "points_human.npz"
HUMAN_STRUCTURES = ("scalp", "inner_skull", "pial_left", "pial_right", "white_left", "white_right")


def load_human_sample(path: str | os.PathLike | None = None) -> dict:
    """The shipped human set (module docstring) as float32/int64 arrays, split names as str."""
    with open_shipped_sample(path, HUMAN_SAMPLE, "`python -m spanmix.datasets.prepare_human_anatomy_sample "
                             "--nilearn-wheel nilearn-*.whl`") as z:
        return {
            "structures": [str(s) for s in z["structures"]],
            "cls_points": z["cls_points"].astype(np.float32), "cls_label": z["cls_label"].astype(np.int64),
            "cls_split": z["cls_split"].astype(str), "cls_centre": z["cls_centre"].astype(np.float32),
            "held_out": str(z["held_out"]), "test_overlap": float(z["test_overlap"]),
            "provenance": str(z["provenance"]),
        }
