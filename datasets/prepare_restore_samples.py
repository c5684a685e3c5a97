"""Write ``samples/restore_images.npz``: real images shipped with scikit-image (BSD-3), one 256x256 RGB
uint8 array per image, for the restore app's offline training, tests and demo.

Each image: grey ones repeated to RGB; sides above 600 px halved first (PIL box filter, which keeps the
content of the large microscopy / telescope images); then the central 256x256 crop.

    python -m spanmix.datasets.prepare_restore_samples            # rewrites the file
    python -m spanmix.datasets.prepare_restore_samples --check    # exit 1 if the arrays would differ
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

from spanmix.datasets.restore import SAMPLE_FILE, SAMPLE_SPLITS

SIZE = 256
#: our name -> scikit-image's ``skimage.data`` function
SOURCES = {"astronaut": "astronaut", "rocket": "rocket", "immunohistochemistry": "immunohistochemistry",
           "hubble_deep_field": "hubble_deep_field", "retina": "retina", "brick": "brick", "grass": "grass",
           "coffee": "coffee", "chelsea": "chelsea", "motorcycle": "stereo_motorcycle"}


def prepare() -> dict[str, np.ndarray]:
    import skimage.data
    from PIL import Image

    out = {}
    for name in (n for split in SAMPLE_SPLITS.values() for n in split):
        img = getattr(skimage.data, SOURCES[name])()
        img = img[0] if isinstance(img, tuple) else img  # stereo_motorcycle: (left, right, disparity)
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        pil = Image.fromarray(img[..., :3])
        if min(pil.size) > 600:
            pil = pil.resize((pil.size[0] // 2, pil.size[1] // 2), Image.Resampling.BOX)
        w, h = pil.size
        top, left = (h - SIZE) // 2, (w - SIZE) // 2
        out[name] = np.asarray(pil)[top:top + SIZE, left:left + SIZE].copy()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file instead of writing")
    ns = parser.parse_args(argv)
    arrays = prepare()
    if ns.check:
        with np.load(SAMPLE_FILE) as old:
            same = set(old.files) == set(arrays) and all(np.array_equal(old[k], v) for k, v in arrays.items())
        print("identical" if same else "DIFFERENT")
        return 0 if same else 1
    np.savez_compressed(SAMPLE_FILE, **arrays)
    print(f"wrote {SAMPLE_FILE} ({SAMPLE_FILE.stat().st_size:,} bytes): {', '.join(arrays)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
