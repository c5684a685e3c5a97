"""HookTheory lead sheets (Sheet Sage's Hooktheory.json layout) on a hand-written fixture in that layout."""
from fractions import Fraction
from pathlib import Path

import pytest

from spanmix.apps.music.chords import chord_index
from spanmix.apps.music.events import BAR, CHORD, PITCH, REST
from spanmix.datasets.hooktheory import load_hooktheory, read_hooktheory

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "hooktheory" / "Hooktheory.json.gz"


def test_songs_become_transposed_lead_sheets_split_as_released():
    parts, skipped = load_hooktheory(FIXTURE)
    assert [len(parts[s]) for s in ("train", "valid", "test")] == [1, 0, 1]
    assert skipped == {"meter changes are not supported; one meter per piece": 1,  # the song is left out
                       "duration 1/3 quarter lengths is not a multiple of a 16th note between 1/4 and 4": 1,
                       "chord without a major/minor third counted as major": 1}  # kept, chord approximated
    d = parts["train"][0]  # D major, 4/4: transposed down 2 to C major
    assert (d.key, d.transposition, d.meter, d.title) == ("D major", -2, (4, 4), "fixture - d-major")
    onsets = d.onsets()
    sounding = [(onsets[i], int(e[PITCH]) - 2) for i, e in enumerate(d.events) if e[PITCH] > 1]
    # D4 E4 F#4 and the A3 an octave below (octave -1), each down a whole tone; MIDI = 60 + 12 * octave + pc
    assert sounding == [(0, 60), (1, 62), (2, 64), (5, 55)]
    chords = {onsets[i]: int(e[CHORD]) for i, e in enumerate(d.events)}
    assert chords[0] == chord_index(0, "maj")     # D -> C
    assert chords[2] == chord_index(9, "min")     # Bm -> Am
    assert chords[4] == chord_index(7, "7")       # A7 -> G7
    assert chords[6] == chord_index(5, "maj")     # Gsus -> F, counted as approximate
    assert [onsets[i] for i, e in enumerate(d.events) if e[BAR]] == [0, 4]
    assert sum(1 for e in d.events if e[PITCH] == REST) == 3 and d.onsets()[-1] == 6  # rests fill to beat 8
    a = parts["test"][0]  # A minor in 6/8: beats are eighths
    assert (a.key, a.transposition, a.meter) == ("A minor", 0, (6, 8))
    assert [(o, int(e[PITCH]) - 2) for o, e in zip(a.onsets(), a.events)] == [(0, 69), (Fraction(3, 2), 71)]


def test_not_the_layout_is_one_clear_error(tmp_path):
    bad = tmp_path / "songs.json"
    bad.write_text('{"x": {"melody": []}}')
    with pytest.raises(ValueError, match="not in the Sheet Sage HookTheory layout"):
        read_hooktheory(bad)
    (tmp_path / "junk.json.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="not a \\(gzipped\\) JSON file"):
        read_hooktheory(tmp_path / "junk.json.gz")
    with pytest.raises(FileNotFoundError, match="download\\(\\)` fetches it"):
        read_hooktheory(tmp_path / "missing.json.gz")


def test_download_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    import urllib.request

    from spanmix.datasets import hooktheory

    def offline(*a, **k):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    with pytest.raises(FileNotFoundError, match="put Hooktheory.json.gz"):
        hooktheory.download(tmp_path)


def test_data_module_takes_hooktheory_with_its_released_split():
    from spanmix.apps.music.data import MusicDataModule

    dm = MusicDataModule(samples=[f"hooktheory:{FIXTURE}"], seq_len=4, batch_size=2)
    dm.setup()
    assert [len(dm.splits[s]) for s in ("train", "val", "test")] == [1, 0, 1]
    batch = next(iter(dm.train_dataloader()))
    assert batch["mask"].shape[0] >= 1
