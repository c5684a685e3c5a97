"""The EEG tab's functions without a browser: shipped recordings, uploads, and every bad input as a message."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))

import eeg_tab as et
from spanmix.datasets import eeg

REAL_MODEL = "dbconformer_mne_sample"


@pytest.fixture(scope="module")
def real_model():
    return et._find_model(REAL_MODEL)


@pytest.fixture(scope="module")
def upload_fif(tmp_path_factory):
    path = tmp_path_factory.mktemp("eeg") / "sample_raw.fif"
    eeg.sample_raw(eeg.load_sample("eeg_mne_sample")).save(path, verbose="error")
    return path


def test_shipped_weights_record_what_they_were_trained_on(real_model):
    names = {m.name for m in et.list_models()}
    assert REAL_MODEL in names
    assert real_model.classes == ("auditory", "visual") and len(real_model.ch_names) == 60
    assert real_model.sfreq == 200.0 and not real_model.simulated and "spanmix eeg fit" in real_model.command


def test_the_shipped_recording_is_decoded_per_epoch_with_a_topomap(real_model):
    table, fig, summary = et.run(et.REAL, None, real_model.label)
    assert table is not None and len(table) == 28 and fig is not None
    assert set(table["predicted"]) <= {"auditory", "visual"}
    assert set(table["event"]) == {"auditory/left", "auditory/right", "visual/left", "visual/right"}
    assert (table["split"] == "test").sum() == 5
    # the page's accuracy on the test split is the one recorded when the weights were exported
    assert f"**Accuracy {100 * real_model.test_metrics['acc']:.1f} %** on 5 scored epochs" in summary
    assert np.all((table["probability"] >= 0.5) & (table["probability"] <= 1.0))
    src = et.load_source(et.REAL, real_model, events=["visual/left"])
    out = et.predict_epochs(real_model, src)
    assert out["probs"].shape == (len(src.X), 2) and np.allclose(out["weights"].sum(1), 1, atol=1e-5)


def test_the_topomap_scale_is_relative_to_uniform_and_symmetric(real_model):
    w = np.full(60, 1 / 60)
    w[0], w[1] = 1.02 / 60, 0.97 / 60  # nearly uniform, as the shipped weights' attention is
    w[2:] *= (1 - w[:2].sum()) / w[2:].sum()
    fig = et.topomap_figure(w, real_model, "test")
    bar = fig.axes[-1]  # the colour bar
    low, high = bar.get_ylim()
    assert np.isclose(low + high, 2.0) and np.isclose(high, 1.03, atol=1e-3), (low, high)  # symmetric about 1
    assert "uniform (1/60)" in bar.get_ylabel()
    assert "range 0.970–1.020 × uniform" in fig.axes[0].get_title()
    np.testing.assert_allclose(et.relative_weights(w).mean(), 1.0)


def test_the_simulated_set_is_labelled_and_reproduces_the_recorded_accuracy():
    model = et._find_model("dbconformer_simulated_mi")
    assert model.simulated
    table, _, summary = et.run(et.SIMULATED, None, model.label)
    assert len(table) == 240 and set(table["subject"]) == {1, 2, 3, 4} and "SIMULATED" in summary
    assert f"**Accuracy {100 * model.test_metrics['acc']:.1f} %** on 48 scored epochs" in summary


def test_an_uploaded_fif_is_epoched_around_the_chosen_events(real_model, upload_fif):
    table, fig, summary = et.run(et.UPLOAD, str(upload_fif), real_model.label, ["auditory/left", "visual/right"])
    assert table is not None and fig is not None and set(table["event"]) == {"auditory/left", "visual/right"}
    assert set(table["true"]) == {"auditory", "visual"} and "sample_raw.fif" in summary


def test_an_uploaded_edf_with_a_stim_channel_works(real_model, tmp_path):
    pytest.importorskip("edfio", reason="writing the EDF fixture needs edfio (mne.export)")
    import mne

    raw = eeg.sample_raw(eeg.load_sample("eeg_mne_sample"))
    events = mne.events_from_annotations(raw, verbose="error")[0]
    sti = np.zeros((1, raw.n_times))
    for s, _, c in events:
        sti[0, s:s + 4] = c
    raw.add_channels([mne.io.RawArray(sti, mne.create_info(["STI 014"], raw.info["sfreq"], "stim"), verbose="error")],
                     force_update_info=True)
    raw.set_annotations(None)
    path = tmp_path / "stim.edf"
    mne.export.export_raw(path, raw, fmt="edf", verbose="error")
    table, _, summary = et.run(et.UPLOAD, str(path), real_model.label)
    assert table is not None and len(table) > 20, summary
    assert "no accuracy" in summary  # stim codes 1-4 name no class


def test_bad_input_is_a_message_not_a_traceback(real_model, tmp_path, upload_fif):
    cases = {
        "No file uploaded yet": (et.UPLOAD, None),
        "upload an EDF": (et.UPLOAD, str(tmp_path / "x.csv")),
        "no longer on the server": (et.UPLOAD, str(tmp_path / "gone.edf")),
    }
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"not an edf" * 30)
    cases["junk.edf could not be read"] = (et.UPLOAD, str(junk))
    junk_fif = tmp_path / "junk.fif"  # mne's message for it quotes PosixPath('...junk.fif')
    junk_fif.write_bytes(b"not a fif" * 30)
    cases["junk.fif could not be read as .fif EEG: file 'junk.fif' does not start"] = (et.UPLOAD, str(junk_fif))
    for expected, (source, upload) in cases.items():
        table, fig, summary = et.run(source, upload, real_model.label)
        assert table is None and fig is None and expected in summary and "Traceback" not in summary
        assert 'class="spanmix-error"' in summary
        assert "Path(" not in summary and str(tmp_path) not in summary
    # a recording without the model's channels, and one without events
    import mne

    raw = mne.io.RawArray(np.random.default_rng(0).standard_normal((3, 2000)) * 1e-5,
                          mne.create_info(["C3", "Cz", "C4"], 200.0, "eeg"), verbose="error")
    raw.set_annotations(mne.Annotations([1, 3], 0, ["a", "b"]))
    raw.save(tmp_path / "three_raw.fif", verbose="error")
    summary = et.run(et.UPLOAD, str(tmp_path / "three_raw.fif"), real_model.label)[2]
    assert "lacks channel(s) ['EEG 001'" in summary
    raw.set_annotations(None)
    raw.save(tmp_path / "silent_raw.fif", verbose="error", overwrite=True)
    summary = et.run(et.UPLOAD, str(tmp_path / "silent_raw.fif"), et._find_model("dbconformer_mne_sample").label)[2]
    assert "lacks channel" in summary or "no events" in summary
    summary = et.run(et.REAL, None, real_model.label, ["smiley"])[2]
    assert "None of the chosen events ['smiley']" in summary
    summary = et.run(et.REAL, None, real_model.label, None, ["EEG 001"])[2]
    assert "leaves out" in summary
