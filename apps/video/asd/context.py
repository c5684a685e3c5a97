"""Speaker context for LoCoNet: the target track plus S-1 co-occurring tracks (Sec. 3.1).

As in the official loader, a candidate counts when it shares more than half of the target's frames. Here
the candidates are ranked by the number of shared frames (the official loader shuffles them; ties keep
their given order), and when fewer than S-1 exist the sample is padded by repeats: of the target alone
when it has no context, else of the chosen context speakers in turn.
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

__all__ = ["select_context"]


def select_context(target: Hashable, frames: Mapping[Hashable, Iterable[int]], speakers: int = 3,
                   min_shared: float = 0.5) -> list[Hashable]:
    """``speakers`` track ids, the target first. ``frames`` maps every track id (target included) to its
    frame indices (or timestamps)."""
    if speakers < 1:
        raise ValueError(f"speakers must be >= 1, got {speakers}")
    if target not in frames:
        raise ValueError(f"target {target!r} is not among the tracks")
    own = set(frames[target])
    shared = []
    for order, (other, its_frames) in enumerate(frames.items()):
        if other == target:
            continue
        n = len(own.intersection(its_frames))
        if n > min_shared * len(own):
            shared.append((-n, order, other))
    chosen = [other for _, _, other in sorted(shared)][: speakers - 1]
    pool = list(chosen) or [target]
    while len(chosen) < speakers - 1:
        chosen.append(pool[len(chosen) % len(pool)])
    return [target] + chosen
