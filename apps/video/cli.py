"""``spanmix video <sub-app> ...``: the video apps. ``asd`` (active speaker detection, LoCoNet), ``lvmae``
(LV-MAE long-video representations)."""
from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: sub-app -> module exposing ``main(args)``.
SUBAPPS = {"asd": "spanmix.apps.video.asd.cli", "lvmae": "spanmix.apps.video.lvmae.cli"}


def main(args: Sequence[str] | None = None):
    args = list(sys.argv[1:] if args is None else args)
    if not args or args[0] in ("-h", "--help") or args[0] not in SUBAPPS:
        known = ", ".join(sorted(SUBAPPS))
        msg = (f"usage: spanmix video {{{known}}} fit|validate|test|predict --config CFG.yaml\n"
               "       spanmix video asd predict --weights DIR --video clip.mp4 --output DIR\n"
               "       spanmix video lvmae embed --input long.mp4 --output DIR | probe --config CFG.yaml\n")
        if args and args[0] not in ("-h", "--help"):
            sys.stderr.write(f"spanmix video: unknown sub-app {args[0]!r}; expected one of: {known}\n{msg}")
            raise SystemExit(2)
        (sys.stdout if args else sys.stderr).write(msg)
        if not args:
            raise SystemExit(2)
        return None
    return importlib.import_module(SUBAPPS[args[0]]).main(args[1:])
