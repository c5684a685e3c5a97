"""spanmix.datasets.eeg: mne readers and their error paths, the pipeline, Euclidean alignment, EMS, the
standard loaders on tiny fixtures in the official formats (BNCI .mat, PhysioNet EDF), the shipped samples."""
from __future__ import annotations

import hashlib
import urllib.error
from pathlib import Path

import mne
import numpy as np
import pytest
from scipy.io import savemat
from spanmix.datasets import eeg

SF = 100.0


def make_raw(n_chans: int = 4, seconds: float = 20.0, codes=(1, 2), every: float = 2.0, stim: bool = True,
             seed: int = 0) -> mne.io.RawArray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SF)
    names = ["C3", "Cz", "C4", "Pz", "Fz", "Oz"][:n_chans]
    data = rng.standard_normal((n_chans, n)) * 1e-5
    types = ["eeg"] * n_chans
    if stim:
        sti = np.zeros(n)
        for i, t in enumerate(np.arange(1.0, seconds - 2, every)):
            sti[int(t * SF):int(t * SF) + 3] = codes[i % len(codes)]
        data = np.vstack([data, sti])
        names, types = names + ["STI 014"], types + ["stim"]
    raw = mne.io.RawArray(data, mne.create_info(names, SF, types), verbose="error")
    raw.set_montage("standard_1020", on_missing="ignore")
    return raw


# ------------------------------------------------------------------------------------------- readers
def test_read_raw_fif_and_epoch_from_the_stim_channel(tmp_path):
    path = tmp_path / "rec_raw.fif"
    make_raw().save(path, verbose="error")
    raw = eeg.read_raw(path)
    ep = eeg.epochs_from_raw(raw, tmin=-0.2, tmax=0.8, event_id={"left": 1, "right": 2}, subject=3)
    assert ep.X.shape == (9, 4, 100) and ep.X.dtype == np.float32  # [tmin, tmax): exactly 1 s at 100 Hz
    assert ep.classes == ("left", "right") and ep.y.tolist() == [0, 1] * 4 + [0]
    assert set(ep.subject.tolist()) == {3} and ep.ch_pos.shape == (4, 3)
    # picks reorder; resampling changes the length; the epoch equals the signal at the event
    ep2 = eeg.epochs_from_raw(raw, tmin=0.0, tmax=0.5, picks=["C4", "C3"], event_id={"left": 1, "right": 2})
    onset = raw.first_samp + int(1.0 * SF)
    assert np.allclose(ep2.X[0], raw.get_data(picks=["C4", "C3"])[:, onset - raw.first_samp:][:, :50], atol=1e-10)
    ep3 = eeg.epochs_from_raw(raw, tmin=0.0, tmax=0.5, sfreq=50.0, h_freq=20.0)
    assert ep3.X.shape[2] == 25 and ep3.sfreq == 50.0


def test_events_from_annotations_with_slash_tags(tmp_path):
    raw = make_raw(stim=False)
    raw.set_annotations(mne.Annotations([1, 3, 5, 7, 9], 0.0,
                                        ["aud/left", "vis/left", "aud/right", "vis/right", "BAD_blink"]))
    ep = eeg.epochs_from_raw(raw, tmin=0.0, tmax=1.0, event_id={"auditory": ["aud"], "visual": ["vis"]})
    assert ep.y.tolist() == [0, 1, 0, 1] and ep.classes == ("auditory", "visual")
    with pytest.raises(ValueError, match="none of the requested events"):
        eeg.find_events(raw, {"feet": ["feet"]})


def test_reader_error_paths(tmp_path):
    with pytest.raises(ValueError, match="unsupported EEG file type '.csv'"):
        eeg.read_raw(tmp_path / "x.csv")
    with pytest.raises(ValueError, match="no such EEG file"):
        eeg.read_raw(tmp_path / "missing.edf")
    junk = tmp_path / "junk.edf"
    junk.write_bytes(b"this is not an EDF header" * 4)
    with pytest.raises(ValueError, match="junk.edf could not be read as .edf"):
        eeg.read_raw(junk)


def test_pipeline_errors_name_the_problem():
    raw = make_raw()
    with pytest.raises(ValueError, match=r"channel\(s\) \['T7'\] are not in the recording"):
        eeg.epochs_from_raw(raw, tmin=0, tmax=1, picks=["C3", "T7"])
    with pytest.raises(ValueError, match="sampled at 100 Hz, expected 250 Hz"):
        eeg.epochs_from_raw(raw, tmin=0, tmax=1, expected_sfreq=250.0)
    with pytest.raises(ValueError, match="no events: no annotations and no stim channel"):
        eeg.epochs_from_raw(make_raw(stim=False), tmin=0, tmax=1)
    with pytest.raises(ValueError, match="holds no events"):
        silent = make_raw()
        silent._data[-1] = 0
        eeg.epochs_from_raw(silent, tmin=0, tmax=1)
    nan = make_raw()
    nan._data[1, 50] = np.nan
    with pytest.raises(ValueError, match=r"channel\(s\) \['Cz'\] contain NaN"):
        eeg.epochs_from_raw(nan, tmin=0, tmax=1)
    with pytest.raises(ValueError, match="below the Nyquist"):
        eeg.epochs_from_raw(raw, tmin=0, tmax=1, h_freq=60.0)
    with pytest.raises(ValueError, match="no epoch"):
        eeg.epochs_from_raw(raw, tmin=0, tmax=60)


# ------------------------------------------------------------------------------------------- normalisation
def test_euclidean_alignment_makes_the_mean_covariance_the_identity():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((6, 6))
    X = np.einsum("cd,ndt->nct", A, rng.standard_normal((30, 6, 200))) * 1e-5
    Xa = eeg.euclidean_alignment(X).astype(np.float64)
    R = np.einsum("nct,ndt->cd", Xa, Xa) / (30 * 200)
    assert np.allclose(R, np.eye(6), atol=1e-4)
    # per subject: each subject's own mean covariance becomes the identity
    ep = eeg.EEGEpochs(X=np.concatenate([X, 3 * X[:, ::-1]]), y=np.zeros(60, int), subject=[1] * 30 + [2] * 30,
                       ch_names=[f"c{i}" for i in range(6)], sfreq=100.0, classes=["a"])
    al = eeg.align_per_subject(ep)
    for s in (1, 2):
        Xs = al.X[al.subject == s].astype(np.float64)
        assert np.allclose(np.einsum("nct,ndt->cd", Xs, Xs) / (30 * 200), np.eye(6), atol=1e-4)
    with pytest.raises(ValueError, match="singular"):
        eeg.euclidean_alignment(np.repeat(X[:, :1], 3, axis=1))


def test_exponential_moving_standardize_matches_the_recursive_definition():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3000)) * np.linspace(1, 5, 3000) + 2.0
    a, block = 1e-2, 200
    out = eeg.exponential_moving_standardize(x, factor_new=a, init_block_size=block)
    m = x[:, :block].mean(1)
    v = x[:, :block].var(1)
    ref = np.empty_like(x)
    for t in range(x.shape[1]):  # the definition, one sample at a time
        m = a * x[:, t] + (1 - a) * m
        v = a * (x[:, t] - m) ** 2 + (1 - a) * v
        ref[:, t] = (x[:, t] - m) / np.maximum(np.sqrt(v), 1e-4)
    ref[:, :block] = (x[:, :block] - x[:, :block].mean(1, keepdims=True)) / x[:, :block].std(1, keepdims=True)
    assert np.allclose(out, ref, atol=1e-8)
    assert abs(out[:, 1000:].std() - 1) < 0.2  # the growing scale is removed


# ------------------------------------------------------------------------------------------- BNCI2014001
def write_bnci_mat(path: Path, seed: int = 0, trials_per_run: int = 8, fs: int = 250) -> None:
    """A tiny A01T.mat in the BNCI Horizon layout: a 1 x n cell array of run structs (X, trial, y, fs...)."""
    rng = np.random.default_rng(seed)
    runs = []
    eog = {"X": rng.standard_normal((fs * 10, 25)), "trial": np.zeros((0, 1)), "y": np.zeros((0, 1)),
           "fs": fs, "classes": np.array(["left hand", "right hand", "feet", "tongue"], dtype=object),
           "artifacts": np.zeros((0, 1)), "gender": "f", "age": 24}
    runs.append(eog)  # calibration run: no trials
    for r in range(2):
        n = trials_per_run * 8 * fs
        trial = (np.arange(trials_per_run) * 8 * fs + 1 + fs).reshape(-1, 1)
        y = (np.arange(trials_per_run) % 4 + 1).reshape(-1, 1)
        runs.append({**eog, "X": rng.standard_normal((n, 25)) * 10.0, "trial": trial, "y": y,
                     "artifacts": np.zeros_like(y)})
    cell = np.empty((1, len(runs)), dtype=object)
    for i, run in enumerate(runs):
        cell[0, i] = run
    savemat(path, {"data": cell})


def test_bnci2014001_reads_the_official_mat_layout(tmp_path):
    folder = tmp_path / "BNCI2014001"
    folder.mkdir()
    write_bnci_mat(folder / "A01T.mat")
    ep = eeg.load_bnci2014001([1], sessions=["T"], path=tmp_path)
    assert ep.X.shape == (16, 22, 1000) and ep.sfreq == 250.0  # 2 runs x 8 trials, 2-6 s after the start
    assert ep.ch_names == eeg.BNCI2014001_CHANNELS and ep.classes == eeg.BNCI2014001_CLASSES
    assert np.bincount(ep.y).tolist() == [4, 4, 4, 4]
    raw_run = __import__("scipy.io", fromlist=["loadmat"]).loadmat(folder / "A01T.mat", squeeze_me=True,
                                                                   struct_as_record=False)["data"][1]
    start = int(raw_run.trial[0]) - 1 + 2 * 250
    assert np.allclose(ep.X[0], raw_run.X[start:start + 1000, :22].T * 1e-6, atol=1e-9)  # µV -> V
    with pytest.raises(eeg.EEGDataNotAvailable, match="pass download=True.*publishes no checksum: the file is unverified"):
        eeg.load_bnci2014001([2], sessions=["T"], path=tmp_path)
    with pytest.raises(ValueError, match="subjects 1-9"):
        eeg.load_bnci2014001([10], path=tmp_path)


def test_downloads_fail_with_a_clear_message_offline(tmp_path, monkeypatch):
    import pooch

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(eeg.EEGDataNotAvailable, match=r"could not download http://bnci-horizon-2020.eu/.*A03E.mat"):
        eeg.load_bnci2014001([3], sessions=["E"], path=tmp_path, download=True)


def test_bnci_downloads_are_recorded_on_first_use_and_verified_after(tmp_path, monkeypatch):
    from spanmix.datasets import checksums

    served = tmp_path / "server" / "A01T.mat"  # what the (fake) BNCI server sends
    served.parent.mkdir()
    write_bnci_mat(served)
    fetched = []

    def fake_fetch(url, dest):
        fetched.append(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(served.read_bytes())
        return dest

    monkeypatch.setattr(eeg, "_fetch", fake_fetch)
    with pytest.warns(checksums.UnverifiedFile, match=r"A01T.mat from http://bnci.*UNVERIFIED.*trust on first use"):
        first = eeg.load_bnci2014001([1], sessions=["T"], path=tmp_path, download=True)
    assert fetched == [eeg.BNCI2014001_URL.format(subject=1, session="T")]
    cached = tmp_path / "BNCI2014001" / "A01T.mat"
    record = (cached.parent / checksums.RECORD_NAME).read_text()
    assert record == f"{hashlib.sha256(served.read_bytes()).hexdigest()}  A01T.mat\n"  # sha256sum's format

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", checksums.UnverifiedFile)  # the second load verifies silently, no download
        again = eeg.load_bnci2014001([1], sessions=["T"], path=tmp_path, download=True)
    assert len(fetched) == 1 and np.array_equal(first.X, again.X)

    data = bytearray(cached.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the cached file
    cached.write_bytes(bytes(data))
    with pytest.raises(checksums.ChecksumMismatch, match=r"A01T.mat changed since its first use.*download it again"):
        eeg.load_bnci2014001([1], sessions=["T"], path=tmp_path)
    cached.write_bytes(data[:1000])  # truncated
    with pytest.raises(checksums.ChecksumMismatch, match="corrupt, truncated or was replaced"):
        eeg.load_bnci2014001([1], sessions=["T"], path=tmp_path)


def test_a_pinned_sum_is_checked_and_never_trusted_on_first_use(tmp_path):
    from spanmix.datasets import checksums

    f = tmp_path / "x.bin"
    f.write_bytes(b"spanmix")
    good = hashlib.sha256(b"spanmix").hexdigest()
    assert checksums.check(f, source="https://example.org/x.bin", pinned=good.upper()) == "pinned"
    with pytest.raises(checksums.ChecksumMismatch, match="its published sum is 00"):
        checksums.check(f, source="https://example.org/x.bin", pinned="00" * 32)
    assert not (tmp_path / checksums.RECORD_NAME).exists()


# ------------------------------------------------------------------------------------------- EEGBCI
def test_eegbci_reads_physionet_edf_runs(tmp_path):
    pytest.importorskip("edfio", reason="writing the EDF fixture needs edfio (mne.export)")
    folder = tmp_path / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / "S001"
    folder.mkdir(parents=True)
    for run in eeg.EEGBCI_RUNS:
        raw = make_raw(n_chans=3, seconds=30.0, stim=False, seed=run)
        raw.rename_channels({"C3": "C3..", "Cz": "Cz..", "C4": "C4.."})  # PhysioNet's padded names
        raw.set_annotations(mne.Annotations([0, 4, 8, 12, 16, 20], 4.0, ["T0", "T1", "T0", "T2", "T0", "T1"]))
        mne.export.export_raw(folder / f"S001R{run:02d}.edf", raw.resample(160.0), fmt="edf", verbose="error")
    ep = eeg.load_eegbci([1], path=tmp_path, tmin=0.0, tmax=4.0)
    assert ep.ch_names == ("C3", "Cz", "C4") and ep.sfreq == 160.0
    assert ep.X.shape == (9, 3, 640) and np.bincount(ep.y).tolist() == [6, 3]
    assert ep.classes == eeg.EEGBCI_CLASSES
    with pytest.raises(eeg.EEGDataNotAvailable, match="S002R04.edf is missing"):
        eeg.load_eegbci([2], path=tmp_path)
    rest = eeg.load_eegbci([1], path=tmp_path, tmin=0.0, tmax=4.0, event_id={"rest": "T0", "left_hand": "T1"})
    assert rest.classes == ("rest", "left_hand") and np.bincount(rest.y).tolist() == [9, 6]  # T0 x3, T1 x2 per run


# ------------------------------------------------------------------------------------------- samples
def test_shipped_samples_load_offline_and_say_what_they_are():
    real = eeg.load_sample("eeg_mne_sample")
    assert real.n_chans == 60 and real.sfreq == 200.0 and real.classes == ("auditory", "visual")
    assert not real.meta["simulated"] and real.ch_pos.shape == (60, 3)
    assert 1e-6 < real.X.std() < 1e-4  # volts: microvolt-scale EEG
    raw = eeg.sample_raw(real)
    again = eeg.epochs_from_raw(raw, tmin=-0.1, tmax=0.6, event_id={"auditory": ["auditory"], "visual": ["visual"]})
    assert np.allclose(again.X, real.X, atol=1e-9) and (again.y == real.y).all()
    sim = eeg.load_sample("eeg_simulated_mi")
    assert sim.meta["simulated"] and "SIMULATED" in sim.meta["description"]
    assert sim.subjects == [1, 2, 3, 4] and sim.X.shape == (240, 13, 384)
    assert {"C3", "Cz", "C4"} <= set(sim.ch_names)
    with pytest.raises(ValueError, match="unknown EEG sample"):
        eeg.load_sample("bci2a")


def test_simulated_set_carries_the_lateralised_mu_desynchronisation():
    from scipy.signal import butter, sosfiltfilt

    sim = eeg.load_sample("eeg_simulated_mi")
    sos = butter(4, [8, 13], btype="band", fs=sim.sfreq, output="sos")
    power = np.log(sosfiltfilt(sos, sim.X.astype(np.float64), axis=-1).var(-1))
    lat = power[:, sim.ch_names.index("C3")] - power[:, sim.ch_names.index("C4")]
    for s in sim.subjects:  # left hand: C4 desynchronises (C3 - C4 up); right hand: C3 does
        m = sim.subject == s
        assert lat[m & (sim.y == 0)].mean() > lat[m & (sim.y == 1)].mean() + 0.3


def test_bnci2014001_selects_classes_and_passes_event_id_through(tmp_path):
    from spanmix.datasets import checksums

    folder = tmp_path / "BNCI2014001"
    folder.mkdir()
    write_bnci_mat(folder / "A01T.mat")
    with pytest.warns(checksums.UnverifiedFile):
        hands = eeg.load_bnci2014001([1], sessions=["T"], classes=["left_hand", "right_hand"], path=tmp_path)
    assert hands.classes == ("left_hand", "right_hand") and np.bincount(hands.y).tolist() == [4, 4]
    grouped = eeg.load_bnci2014001([1], sessions=["T"], path=tmp_path,
                                   event_id={"hand": ["left_hand", "right_hand"], "foot": "feet"})
    assert grouped.classes == ("hand", "foot") and np.bincount(grouped.y).tolist() == [8, 4]
    with pytest.raises(ValueError, match=r"\['elbow'\] not among its classes"):
        eeg.load_bnci2014001([1], sessions=["T"], classes=["left_hand", "elbow"], path=tmp_path)
    with pytest.raises(ValueError, match="not both"):
        eeg.load_bnci2014001([1], sessions=["T"], classes=["feet"], event_id=["feet"], path=tmp_path)
    with pytest.raises(ValueError, match="non-empty list of 'T' and/or 'E'"):
        eeg.load_bnci2014001([1], sessions="T", path=tmp_path)
