"""Audio for listening: FluidSynth with a General MIDI soundfont, or a plain additive synth.

``render_wav(sheet, "out.wav")`` writes the melody (and its block chords, softer) at 22,050 Hz. It uses
Debian's ``fluidsynth`` with the first soundfont found in ``SOUNDFONTS`` (Debian's TimGM6mb/FluidR3, or the
TimGM6mb.sf2 inside pretty_midi); without them it falls back to ``synth``: a sine-plus-harmonics voice
with a short attack/release per note, written by hand because no kept library renders MIDI without
FluidSynth.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

from spanmix.apps.music.chords import chord_pitch_classes
from spanmix.apps.music.events import LeadSheet

__all__ = ["SAMPLE_RATE", "find_soundfont", "render_wav", "synth"]

SAMPLE_RATE = 22050
SOUNDFONTS = ("/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2",
              "/usr/share/sounds/sf2/default-GM.sf2")


def find_soundfont() -> str | None:
    for path in SOUNDFONTS:
        if os.path.isfile(path):
            return path
    try:
        import pretty_midi

        path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
        return str(path) if path.is_file() else None
    except ImportError:
        return None


def synth(sheet: LeadSheet, tempo: float = 100.0, original_key: bool = True) -> np.ndarray:
    """Float32 mono audio of the melody (+ chords at a third of the level); ``tempo`` in quarters/min."""
    shift = -sheet.transposition if original_key else 0
    sec = 60.0 / tempo
    n = int(float(sheet.length) * sec * SAMPLE_RATE) + SAMPLE_RATE // 2
    out = np.zeros(n, np.float32)

    def tone(midi: int, start: float, dur: float, level: float):
        a, m = int(start * sec * SAMPLE_RATE), int(dur * sec * SAMPLE_RATE)
        t = np.arange(m) / SAMPLE_RATE
        f = 440.0 * 2 ** ((midi - 69) / 12)
        y = sum(np.sin(2 * np.pi * f * h * t) / h for h in (1, 2, 3))
        env = np.minimum(1.0, np.minimum(t / 0.01, (m / SAMPLE_RATE - t) / 0.05).clip(0))
        out[a:a + m] += (level * y * env).astype(np.float32)[: n - a]

    for on, d, p in sheet.notes():
        if p is not None:
            tone(p + shift, float(on), float(d), 0.3)
    for on, d, c in sheet.chord_segments():
        for pc in chord_pitch_classes(c):
            tone(48 + (pc + shift) % 12, float(on), float(d), 0.08)
    return out / max(1.0, float(np.abs(out).max()) / 0.9)


def _write_wav(audio: np.ndarray, path: Path) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((audio * 32767).astype("<i2").tobytes())


def render_wav(sheet: LeadSheet, path, *, original_key: bool = True, engine: str = "auto") -> str:
    """Write ``path`` (.wav); returns the engine used: ``"fluidsynth"`` or ``"synth"``."""
    from spanmix.apps.music.convert import write

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    font = find_soundfont()
    if engine in ("auto", "fluidsynth") and shutil.which("fluidsynth") and font:
        with tempfile.TemporaryDirectory() as tmp:
            mid = write(sheet, Path(tmp) / "x.mid", original_key=original_key)
            res = subprocess.run(["fluidsynth", "-ni", "-q", "-F", str(path), "-r", str(SAMPLE_RATE), font, str(mid)],
                                 capture_output=True, timeout=120)
        if res.returncode == 0 and path.is_file() and path.stat().st_size > 44:
            return "fluidsynth"
        if engine == "fluidsynth":
            raise ValueError(f"fluidsynth failed: {res.stderr.decode(errors='replace')[-300:]}")
    _write_wav(synth(sheet, original_key=original_key), path)
    return "synth"
