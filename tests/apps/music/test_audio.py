"""Audio rendering: FluidSynth when present, the plain synth otherwise; both give audible WAVs of the right length."""
import shutil
import wave

import numpy as np
import pytest
from spanmix.apps.music.audio import SAMPLE_RATE, find_soundfont, render_wav, synth
from spanmix.apps.music.chords import parse_chord
from spanmix.apps.music.events import LeadSheet

SHEET = LeadSheet([[1, parse_chord("C"), 7, 62], [0, parse_chord("C"), 7, 66], [1, parse_chord("G"), 15, 69]])


def test_plain_synth_length_and_pitch():
    audio = synth(SHEET, tempo=60.0)  # 8 quarters at 60 bpm = 8 s (+ 0.5 s tail)
    assert audio.shape == (int(8.5 * SAMPLE_RATE),) and 0.5 < np.abs(audio).max() <= 0.9 + 1e-6
    first = audio[: 2 * SAMPLE_RATE]
    spectrum = np.abs(np.fft.rfft(first))
    peak = np.fft.rfftfreq(len(first), 1 / SAMPLE_RATE)[spectrum.argmax()]
    assert abs(peak - 261.6) < 2  # middle C dominates the first two seconds


def test_render_wav_synth(tmp_path):
    assert render_wav(SHEET, tmp_path / "a.wav", engine="synth") == "synth"
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnframes() > 4 * SAMPLE_RATE


@pytest.mark.skipif(not shutil.which("fluidsynth") or not find_soundfont(), reason="fluidsynth/soundfont missing")
def test_render_wav_fluidsynth(tmp_path):
    assert render_wav(SHEET, tmp_path / "b.wav") == "fluidsynth"
    assert (tmp_path / "b.wav").stat().st_size > SAMPLE_RATE
