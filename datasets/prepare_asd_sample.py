"""Prepare ``samples/asd_speech.npz``: real recorded speech for the composited active-speaker set.

    apt-get install -y asterisk-core-sounds-en-wav
    python -m spanmix.datasets.prepare_asd_sample [--root /usr/share/asterisk/sounds/en_US_f_Allison]

Takes the longest prompts of 1.5-3.5 s of Debian's ``asterisk-core-sounds-en-wav`` (Allison Smith's recorded English
prompts, 8 kHz 16-bit mono, CC-BY-SA-3.0; see samples/README.md), trims leading/trailing silence and keeps
them until ``--seconds`` of speech, sorted by file name (deterministic). Stored as one int16 array at 8 kHz
with utterance offsets, plus the file names.
"""
from __future__ import annotations

import argparse
import wave
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
OUT = Path(__file__).resolve().parent / "samples" / "asd_speech.npz"


def _read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        if w.getframerate() != 8000 or w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 8 kHz 16-bit mono")
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


def _trim(pcm: np.ndarray, threshold: int = 300, frame: int = 80) -> np.ndarray:
    n = len(pcm) // frame
    loud = np.flatnonzero(np.abs(pcm[: n * frame].reshape(n, frame)).max(1) > threshold)
    return pcm[loud[0] * frame:(loud[-1] + 1) * frame] if len(loud) else pcm[:0]


def prepare(root: Path = DEFAULT_ROOT, seconds: float = 75.0, out: Path = OUT) -> Path:
    if not root.is_dir():
        raise SystemExit(f"{root} not found: apt-get install -y asterisk-core-sounds-en-wav")
    clips = {p.name: _trim(_read(p)) for p in sorted(root.glob("*.wav"))}
    # Prompts of 1.5-3.5 s (a few recordings are long announcements; they would dominate the set).
    longest = sorted((n for n in clips if 12000 <= len(clips[n]) <= 28000), key=lambda n: (-len(clips[n]), n))
    chosen, total = [], 0
    for name in longest:
        if total >= seconds * 8000:
            break
        chosen.append(name)
        total += len(clips[name])
    chosen.sort()
    pcm = np.concatenate([clips[n] for n in chosen])
    offsets = np.cumsum([0] + [len(clips[n]) for n in chosen])
    np.savez_compressed(out, pcm=pcm, offsets=offsets, sample_rate=np.int64(8000), names=np.array(chosen))
    print(f"{out}: {len(chosen)} utterances, {total / 8000:.1f} s, {out.stat().st_size:,} bytes")
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--seconds", type=float, default=75.0)
    ns = parser.parse_args()
    prepare(ns.root, ns.seconds)
