"""EEG data through MNE: readers, events, preprocessing, Euclidean alignment, standard datasets, samples.

    from spanmix.datasets import eeg

    raw = eeg.read_raw("sub01.edf")                         # EDF/BDF/GDF/FIF/BrainVision (.vhdr)
    ep = eeg.epochs_from_raw(raw, tmin=0.0, tmax=3.0, picks=["C3", "Cz", "C4"], l_freq=4, h_freq=40,
                             sfreq=128)                     # -> EEGEpochs (X (N, C, T), y, subject, ...)
    ep = eeg.load_sample("eeg_mne_sample")                  # real: MNE sample EEG, auditory vs visual
    ep = eeg.load_sample("eeg_simulated_mi")                # simulated motor imagery, 4 subjects
    ep = eeg.load_bnci2014001(subjects=[1], download=True)  # BCI IV 2a (BNCI Horizon .mat files)
    ep = eeg.load_eegbci(subjects=[1], download=True)       # PhysioNet EEG-BCI (EDF), imagined left/right fist
    X = eeg.euclidean_alignment(ep.X)                       # per subject: mean covariance -> identity

:class:`EEGEpochs` holds float32 ``X`` (N, C, T) in volts (microvolts only if a file stores them so and
says so), int64 labels ``y`` indexing ``classes``, int64 ``subject`` per epoch, channel names, the rate
and ``tmin``. Epochs span ``[tmin, tmax)``: exactly ``round((tmax - tmin) · sfreq)`` samples.

Bad input raises one :class:`ValueError` naming the problem: an unknown file type, a channel that is
missing, a rate that differs from the one required, no events, NaN samples, epochs outside the
recording. Standard datasets download only on request (``download=True``) into ``$SPANMIX_CACHE/eeg``
(default ``~/.cache/spanmix/eeg``); otherwise a missing file raises :class:`EEGDataNotAvailable`
saying where it is expected and how to get it.

Integrity: BNCI Horizon serves BCI IV 2a over plain http and publishes no checksum, so those downloads are
**unverified**. Every cached file a loader reads is checked with :func:`spanmix.datasets.checksums.check`:
its SHA-256 is recorded in ``SHA256SUMS`` beside it on first use (with an ``UnverifiedFile`` warning) and
compared on every later load (``ChecksumMismatch`` if it changed). PhysioNet's EEG-BCI files are fetched
by mne over https and checked against mne's recorded hashes; they are then recorded the same way.
"""
from __future__ import annotations

import os
import urllib.error
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from spanmix.datasets import checksums
from spanmix.datasets.cache import cache_dir as _cache_dir

__all__ = [
    "BNCI2014001_CHANNELS",
    "BNCI2014001_CLASSES",
    "BNCI2014001_URL",
    "EEGBCI_CLASSES",
    "READERS",
    "SAMPLES",
    "EEGDataNotAvailable",
    "EEGEpochs",
    "cache_dir",
    "epochs_from_raw",
    "euclidean_alignment",
    "exponential_moving_standardize",
    "find_events",
    "load_bnci2014001",
    "load_eegbci",
    "load_sample",
    "read_bnci2014001_mat",
    "read_raw",
    "sample_path",
]

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
#: Shipped samples: name -> file in ``datasets/samples`` (see its README for provenance and licence).
SAMPLES = {
    "eeg_mne_sample": "eeg_mne_sample.npz",
    "eeg_simulated_mi": "eeg_simulated_mi.npz",
}
#: File suffix -> mne reader.
READERS = {
    ".edf": "read_raw_edf",
    ".bdf": "read_raw_bdf",
    ".gdf": "read_raw_gdf",
    ".fif": "read_raw_fif",
    ".fif.gz": "read_raw_fif",
    ".vhdr": "read_raw_brainvision",
}
#: Channel-name prefixes read as trigger (stim) channels in files without channel types (EDF, BDF, GDF).
STIM_PREFIXES = ("STI", "TRIG", "STATUS", "EVENT")

#: BNCI Horizon 2020, data set 001-2014 (BCI Competition IV 2a), the files MOABB's BNCI2014001 reads.
BNCI2014001_URL = "http://bnci-horizon-2020.eu/database/data-sets/001-2014/A{subject:02d}{session}.mat"
BNCI2014001_CHANNELS = (
    "Fz", "FC3", "FC1", "FCz", "FC2", "FC4", "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP3", "CP1", "CPz", "CP2", "CP4", "P1", "Pz", "P2", "POz",
)
BNCI2014001_EOG = ("EOG1", "EOG2", "EOG3")
BNCI2014001_CLASSES = ("left_hand", "right_hand", "feet", "tongue")
#: PhysioNet EEG Motor Movement/Imagery: runs 4, 8, 12 are imagined left (T1) vs right (T2) fist.
EEGBCI_RUNS = (4, 8, 12)
EEGBCI_CLASSES = ("left_hand", "right_hand")


class EEGDataNotAvailable(RuntimeError):
    """A standard EEG dataset is not in the cache and could not (or was not asked to) be downloaded."""


# ------------------------------------------------------------------------------------------------ epochs
@dataclass
class EEGEpochs:
    """Epoched EEG: ``X`` (N, C, T) float32, ``y`` (N,) int64 into ``classes``, ``subject`` (N,) int64.

    ``ch_pos`` (C, 3) holds electrode positions in metres (head frame) when known, for topomaps.
    ``meta["session"]`` (N,), when present, names each epoch's recording session (BNCI2014001: ``T``, ``E``).
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    ch_names: tuple[str, ...]
    sfreq: float
    classes: tuple[str, ...]
    tmin: float = 0.0
    ch_pos: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.X = np.asarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64)
        self.subject = np.asarray(self.subject, dtype=np.int64)
        self.ch_names = tuple(self.ch_names)
        self.classes = tuple(self.classes)
        if self.X.ndim != 3 or self.X.shape[1] != len(self.ch_names):
            raise ValueError(f"EEGEpochs: X must be (n_epochs, n_chans={len(self.ch_names)}, n_times), "
                             f"got {self.X.shape}")
        if not (len(self.y) == len(self.subject) == len(self.X)):
            raise ValueError(f"EEGEpochs: X, y and subject differ in length: {len(self.X)}, {len(self.y)}, "
                             f"{len(self.subject)}")
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= len(self.classes)):
            raise ValueError(f"EEGEpochs: labels must index classes {self.classes}, got {np.unique(self.y)}")

    @property
    def n_chans(self) -> int:
        return self.X.shape[1]

    @property
    def n_times(self) -> int:
        return self.X.shape[2]

    @property
    def subjects(self) -> list[int]:
        return sorted(int(s) for s in np.unique(self.subject))

    def __len__(self) -> int:
        return len(self.X)

    def subset(self, index) -> EEGEpochs:
        """The epochs at ``index`` (a boolean mask or integer indices), same channels and classes."""
        meta = dict(self.meta)
        for key in ("onset", "session"):
            if key in meta:
                meta[key] = np.asarray(meta[key])[index]
        return replace(self, X=self.X[index], y=self.y[index], subject=self.subject[index], meta=meta)

    def pick(self, channels: Sequence[str]) -> EEGEpochs:
        """Only ``channels``, in that order; a missing channel is a ValueError listing the available ones."""
        idx = _channel_index(self.ch_names, channels)
        pos = None if self.ch_pos is None else self.ch_pos[idx]
        return replace(self, X=self.X[:, idx], ch_names=tuple(channels), ch_pos=pos)

    def info(self):
        """An ``mne.Info`` with these channels (and their positions as a montage when known)."""
        import mne

        info = mne.create_info(list(self.ch_names), self.sfreq, "eeg")
        if self.ch_pos is not None:
            montage = mne.channels.make_dig_montage(dict(zip(self.ch_names, self.ch_pos)), coord_frame="head")
            info.set_montage(montage)
        return info

    @staticmethod
    def concatenate(parts: Sequence[EEGEpochs]) -> EEGEpochs:
        """Stack epochs that share channels, rate, length and classes (e.g. several subjects)."""
        if not parts:
            raise ValueError("EEGEpochs.concatenate: nothing to concatenate")
        first = parts[0]
        for p in parts[1:]:
            if (p.ch_names, p.sfreq, p.n_times, p.classes) != (first.ch_names, first.sfreq, first.n_times,
                                                                 first.classes):
                raise ValueError("EEGEpochs.concatenate: parts differ in channels, rate, length or classes")
        meta = {k: v for k, v in first.meta.items() if k not in ("onset", "session")}  # onsets are per recording
        if all("session" in p.meta for p in parts):
            meta["session"] = np.concatenate([np.asarray(p.meta["session"]) for p in parts])
        return replace(first, X=np.concatenate([p.X for p in parts]), y=np.concatenate([p.y for p in parts]),
                       subject=np.concatenate([p.subject for p in parts]), meta=meta)


def _channel_index(available: Sequence[str], wanted: Sequence[str]) -> list[int]:
    missing = [c for c in wanted if c not in available]
    if missing:
        raise ValueError(f"channel(s) {missing} are not in the recording; it has {list(available)}")
    return [list(available).index(c) for c in wanted]


# ------------------------------------------------------------------------------------------------ readers
def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".fif.gz" if name.endswith(".fif.gz") else path.suffix.lower()


def read_raw(path: str | os.PathLike, preload: bool = True):
    """Read a continuous recording with mne: EDF, BDF, GDF, FIF or BrainVision (give the ``.vhdr``).

    Channels named like triggers (:data:`STIM_PREFIXES`: ``STI 014``, ``TRIGGER``, ``Status``) become stim
    channels, so events can come from them when the file has no annotations.

    Raises:
        ValueError: the file is missing, of another type, or not readable as that type.
    """
    import mne

    path = Path(path)
    kind = _suffix(path)
    if kind not in READERS:
        raise ValueError(f"{path.name}: unsupported EEG file type {kind or '(none)'!r}; expected one of "
                         f"{', '.join(READERS)} (BrainVision: the .vhdr header)")
    if not path.is_file():
        raise ValueError(f"{path}: no such EEG file")
    try:
        raw = getattr(mne.io, READERS[kind])(path, preload=preload, verbose="error")
    except Exception as err:  # mne raises many types for corrupt files; one clear message here
        raise ValueError(f"{path.name} could not be read as {kind} EEG: {err}") from None
    # EDF/BDF/GDF store no channel types: trigger channels by their usual names become stim channels
    triggers = {c: "stim" for c in raw.ch_names if c.upper().startswith(STIM_PREFIXES)
                and raw.get_channel_types([c])[0] != "stim"}
    if triggers:
        raw.set_channel_types(triggers, verbose="error")
    return raw


EventSpec = "dict[str, int | str | Sequence[int | str]] | Sequence[str] | None"


def find_events(raw, event_id: EventSpec = None, stim_channel: str | None = None
                ) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Events of ``raw`` and the classes they belong to.

    From the annotations if there are any (BAD/EDGE ones excluded; each description gets a code, 1, 2, ...
    in sorted order), else from the stim channel (``stim_channel``, default the last stim channel).
    ``event_id`` names the classes: ``None`` (one class per description / code), a list of descriptions
    or codes, or a dict ``{class: description(s) or code(s)}``. A class name that is no description
    matches the descriptions carrying it as a ``/`` tag (``"auditory"`` matches ``"auditory/left"``).

    Returns mne's ``(n_events, 3)`` array (only events of the classes) and ``{class: [codes]}``.

    Raises:
        ValueError: no annotations and no stim channel, no events, or none of the requested ones.
    """
    import mne

    described = sorted({a["description"] for a in raw.annotations
                        if not a["description"].upper().startswith(("BAD", "EDGE"))})
    if described and stim_channel is None:
        codes = {d: i + 1 for i, d in enumerate(described)}
        wanted = _as_groups(event_id, described)
        classes: dict[str, list[int]] = {}
        for name, values in wanted.items():
            hits = [d for d in described if d in map(str, values)] or \
                   [d for d in described if any(str(v) in d.split("/") for v in values)]
            classes[name] = [codes[d] for d in hits]
        if not any(classes.values()):
            raise ValueError(f"none of the requested events {list(wanted)} are among the recording's "
                             f"annotations {described}")
        events, _ = mne.events_from_annotations(raw, event_id=codes, verbose="error")
    else:
        stims = [stim_channel] if stim_channel else [raw.ch_names[i] for i in mne.pick_types(raw.info, stim=True)]
        if not stims:
            raise ValueError("the recording has no events: no annotations and no stim channel; expected "
                             "annotations (EDF+/BDF+, BrainVision markers, FIF) or a stim channel ('STI 014')")
        if stims[-1] not in raw.ch_names:
            raise ValueError(f"stim channel {stims[-1]!r} is not in the recording")
        events = mne.find_events(raw, stim_channel=stims[-1], shortest_event=1, verbose="error")
        present = sorted(int(c) for c in np.unique(events[:, 2])) if len(events) else []
        if not present:
            raise ValueError(f"the stim channel {stims[-1]!r} holds no events")
        wanted = _as_groups(event_id, [str(c) for c in present])
        try:
            classes = {name: [int(v) for v in values] for name, values in wanted.items()}
        except ValueError:
            raise ValueError(f"stim-channel events are integer codes; got event_id {event_id!r}") from None
        if not any(c in present for codes_ in classes.values() for c in codes_):
            raise ValueError(f"none of the requested event codes {classes} occur; the stim channel has "
                             f"codes {present}")
    keep = [c for codes_ in classes.values() for c in codes_]
    events = events[np.isin(events[:, 2], keep)]
    if len(events) == 0:
        raise ValueError("the recording has no events of the requested classes to epoch around")
    return events, classes


def _as_groups(event_id, names: Sequence[str]) -> dict[str, list]:
    if event_id is None:
        return {n: [n] for n in names}
    if isinstance(event_id, dict):
        return {str(k): list(v) if isinstance(v, (list, tuple)) else [v] for k, v in event_id.items()}
    return {str(n): [n] for n in event_id}


def epochs_from_raw(raw, *, tmin: float, tmax: float, event_id=None,
                    picks: Sequence[str] | None = None, l_freq: float | None = None,
                    h_freq: float | None = None, sfreq: float | None = None,
                    expected_sfreq: float | None = None, events: np.ndarray | None = None,
                    stim_channel: str | None = None, subject: int = 0, standardize: bool = False,
                    classes: Sequence[str] | None = None) -> EEGEpochs:
    """The standard pipeline: pick channels, band-pass, (exponential moving standardisation), resample, epoch.

    Args:
        raw: an ``mne.io.Raw`` (e.g. from :func:`read_raw`).
        tmin, tmax: epoch window in seconds around each event: ``[tmin, tmax)``.
        event_id: which events are classes (see :func:`find_events`); labels follow its order.
        picks: EEG channel names in model order (default: every EEG channel). Missing ones: ValueError.
        l_freq, h_freq: band-pass edges in Hz (FIR, mne's defaults); ``None`` leaves that side open.
        sfreq: resample to this rate (after filtering; epochs are cut on the resampled signal).
        expected_sfreq: the rate the file must have (a model trained on it); mismatch is a ValueError
            unless ``sfreq`` resamples to it.
        events: ``(n, 3)`` mne events to use instead of finding them.
        subject: subject id stored on every epoch.
        standardize: apply :func:`exponential_moving_standardize` to the continuous signal.
        classes: class names in label order (default: the ``event_id`` names).
    """
    import mne

    if tmax <= tmin:
        raise ValueError(f"tmax={tmax} must be greater than tmin={tmin}")
    if expected_sfreq is not None and sfreq is None and abs(raw.info["sfreq"] - expected_sfreq) > 1e-3:
        raise ValueError(f"the recording is sampled at {raw.info['sfreq']:g} Hz, expected {expected_sfreq:g} Hz "
                         "(pass sfreq= to resample)")
    if events is None:
        events, groups = find_events(raw, event_id, stim_channel)
    else:
        groups = _as_groups(event_id, [str(c) for c in np.unique(events[:, 2])])
        groups = {k: [int(v) for v in vals] for k, vals in groups.items()}
    raw = raw.copy().load_data()
    if picks is None:
        names = [raw.ch_names[i] for i in mne.pick_types(raw.info, eeg=True, exclude=[])]
        if not names:
            raise ValueError("the recording has no EEG channels; pass picks= with the channel names to use")
    else:
        names = list(picks)
        _channel_index(raw.ch_names, names)
    data = raw.get_data(picks=names)
    if not np.isfinite(data).all():
        bad = [names[i] for i in np.where(~np.isfinite(data).all(axis=1))[0]]
        raise ValueError(f"channel(s) {bad} contain NaN or infinite samples; interpolate or drop them first")
    nyquist = raw.info["sfreq"] / 2
    if h_freq is not None and h_freq >= nyquist:
        raise ValueError(f"h_freq={h_freq} Hz must be below the Nyquist frequency {nyquist:g} Hz")
    if sfreq is not None and h_freq is not None and h_freq >= sfreq / 2:
        raise ValueError(f"h_freq={h_freq} Hz must be below half the target rate sfreq={sfreq:g} Hz")
    raw = raw.pick(names)
    if l_freq is not None or h_freq is not None:
        raw.filter(l_freq, h_freq, picks="all", verbose="error")
    if standardize:
        raw._data[:] = exponential_moving_standardize(raw._data)
    if sfreq is not None and abs(sfreq - raw.info["sfreq"]) > 1e-6:
        raw, events = raw.resample(sfreq, events=events, verbose="error")
    rate = raw.info["sfreq"]
    n_times = int(round((tmax - tmin) * rate))
    start = events[:, 0] - raw.first_samp + int(round(tmin * rate))
    inside = (start >= 0) & (start + n_times <= raw.n_times)
    if not inside.any():
        raise ValueError(f"no epoch [{tmin}, {tmax}) s fits inside the recording "
                         f"({raw.n_times / rate:.1f} s); check tmin/tmax and the events")
    start, codes = start[inside], events[inside, 2]
    X = np.stack([raw._data[:, s:s + n_times] for s in start])
    code_to_label = {code: i for i, codes_ in enumerate(groups.values()) for code in codes_}
    y = np.array([code_to_label[int(c)] for c in codes])
    pos = _positions(raw.info, names)
    return EEGEpochs(X=X, y=y, subject=np.full(len(y), subject), ch_names=names, sfreq=rate,
                     classes=tuple(classes or groups.keys()), tmin=tmin, ch_pos=pos,
                     meta={"onset": (events[inside, 0] - raw.first_samp) / rate})


def _positions(info, names: Sequence[str]) -> np.ndarray | None:
    pos = np.array([info["chs"][info.ch_names.index(n)]["loc"][:3] for n in names], dtype=np.float64)
    if not np.isfinite(pos).all() or np.allclose(pos, 0):
        return None
    return pos


# ------------------------------------------------------------------------------------------ normalisation
def euclidean_alignment(X: np.ndarray, eps: float = 1e-10) -> np.ndarray:
    """Euclidean alignment (He & Wu, IEEE TBME 2020, Eq. 4-5) of one subject's epochs ``X`` (N, C, T).

    ``R = mean_i X_i X_iᵀ / T`` and ``X̃_i = R^{-1/2} X_i``, so the mean covariance of the aligned epochs is
    the identity. Apply it per subject (:func:`align_per_subject`); returns float32.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3 or len(X) == 0:
        raise ValueError(f"euclidean_alignment: expected epochs (n_epochs >= 1, n_chans, n_times), got {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("euclidean_alignment: epochs contain NaN or infinite values")
    R = np.einsum("nct,ndt->cd", X, X) / (X.shape[0] * X.shape[2])
    w, V = np.linalg.eigh(R)
    if w.min() <= eps * max(w.max(), eps):
        raise ValueError("euclidean_alignment: the mean covariance is singular (a flat or duplicated channel, "
                         "or average reference over all channels); drop a channel first")
    inv_sqrt = (V / np.sqrt(w)) @ V.T
    return np.einsum("cd,ndt->nct", inv_sqrt, X).astype(np.float32)


def align_per_subject(epochs: EEGEpochs) -> EEGEpochs:
    """:func:`euclidean_alignment` of each subject's epochs separately (labels are never used)."""
    X = np.empty_like(epochs.X)
    for s in epochs.subjects:
        mask = epochs.subject == s
        X[mask] = euclidean_alignment(epochs.X[mask])
    return replace(epochs, X=X)


def exponential_moving_standardize(data: np.ndarray, factor_new: float = 1e-3, init_block_size: int = 1000,
                                   eps: float = 1e-4) -> np.ndarray:
    """Exponential moving standardisation of a continuous signal ``data`` (C, T) (Schirrmeister et al.
    2017, "Deep learning with convolutional neural networks for EEG decoding", Sec. 2.7.1).

    ``m_t = a·x_t + (1 - a)·m_{t-1}``, ``v_t = a·(x_t - m_t)² + (1 - a)·v_{t-1}``,
    ``y_t = (x_t - m_t) / max(sqrt(v_t), eps)`` with ``a = factor_new``; the first ``init_block_size``
    samples are standardised with their own mean and std instead (as braindecode). Runs as two first-order
    IIR filters (``scipy.signal.lfilter``).
    """
    from scipy.signal import lfilter

    x = np.asarray(data, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"exponential_moving_standardize: expected (n_chans, n_times), got {x.shape}")
    a = float(factor_new)
    b, den = [a], [1.0, a - 1.0]
    block = x[:, :init_block_size]
    m0 = block.mean(axis=1, keepdims=True)
    mean = lfilter(b, den, x, axis=1, zi=(1 - a) * m0)[0]
    sq = (x - mean) ** 2
    v0 = block.var(axis=1, keepdims=True)
    var = lfilter(b, den, sq, axis=1, zi=(1 - a) * v0)[0]
    out = (x - mean) / np.maximum(np.sqrt(var), eps)
    n = min(init_block_size, x.shape[1])
    out[:, :n] = (block - m0) / np.maximum(block.std(axis=1, keepdims=True), eps)
    return out


# ------------------------------------------------------------------------------------------- samples
def sample_path(name: str) -> Path:
    if name not in SAMPLES:
        raise ValueError(f"unknown EEG sample {name!r}; expected one of {sorted(SAMPLES)}")
    return SAMPLES_DIR / SAMPLES[name]


def load_sample(name: str = "eeg_mne_sample") -> EEGEpochs:
    """A shipped sample (``datasets/samples/``), offline. ``meta`` records its provenance; the real MNE sample
    also has its continuous EEG under ``meta["raw"]`` (C, N), ``meta["events"]`` and ``meta["event_id"]``."""
    path = sample_path(name)
    if not path.is_file():
        raise EEGDataNotAvailable(f"the shipped sample {path} is missing; regenerate it with "
                                  f"`python -m spanmix.datasets.prepare_eeg_samples`")
    with np.load(path, allow_pickle=False) as f:
        d = {k: f[k] for k in f.files}
    scale = float(d.get("scale", 1.0))  # stored units -> volts
    meta = {"name": name, "description": str(d["description"]), "simulated": bool(d["simulated"])}
    if "raw" in d:
        meta.update(raw=d["raw"].astype(np.float64) * scale, events=d["events"].astype(np.int64),
                    event_id={str(k): int(v) for k, v in zip(d["event_names"], d["event_codes"])})
    return EEGEpochs(X=d["X"].astype(np.float32) * np.float32(scale), y=d["y"], subject=d["subject"],
                     ch_names=tuple(str(c) for c in d["ch_names"]), sfreq=float(d["sfreq"]),
                     classes=tuple(str(c) for c in d["classes"]), tmin=float(d["tmin"]),
                     ch_pos=d["ch_pos"] if "ch_pos" in d else None, meta=meta)


def sample_raw(epochs: EEGEpochs):
    """The continuous recording of a sample loaded by :func:`load_sample` (when it ships one) as mne Raw."""
    import mne

    if "raw" not in epochs.meta:
        raise ValueError(f"sample {epochs.meta.get('name')!r} ships epochs only, no continuous recording")
    raw = mne.io.RawArray(epochs.meta["raw"], epochs.info(), verbose="error")
    codes = {v: k for k, v in epochs.meta["event_id"].items()}
    ev = epochs.meta["events"]
    raw.set_annotations(mne.Annotations(ev[:, 0] / epochs.sfreq, 0.0, [codes[int(c)] for c in ev[:, 2]]))
    return raw


# ------------------------------------------------------------------------------------------- standard sets
def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """``path``, else ``$SPANMIX_CACHE/eeg``, else ``~/.cache/spanmix/eeg``."""
    return _cache_dir("eeg", path)


def _fetch(url: str, dest: Path) -> Path:
    """Download ``url`` to ``dest`` with pooch (mne's downloader: temporary file, then rename)."""
    import pooch

    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        # No checksum is published for these files by BNCI Horizon: checksums.check records one on first use.
        return Path(pooch.retrieve(url, known_hash=None, fname=dest.name, path=dest.parent, progressbar=False))
    except (urllib.error.URLError, OSError, Exception) as err:
        raise EEGDataNotAvailable(f"could not download {url}: {err}. Without network access, fetch it "
                                  f"elsewhere and put it at {dest}") from None


def _bnci_event_id(classes: Sequence[str] | None, event_id: Any) -> Any:
    """The ``event_id`` selecting BNCI2014001 classes: ``classes`` (names, label order) or ``event_id``."""
    if classes is not None and event_id is not None:
        raise ValueError("BNCI2014001: give classes (e.g. ['left_hand', 'right_hand']) or event_id, not both")
    chosen = list(classes) if classes is not None else event_id
    if chosen is None:
        return list(BNCI2014001_CLASSES)
    values = chosen.values() if isinstance(chosen, dict) else chosen
    names = [v for x in values for v in (x if isinstance(x, (list, tuple)) else [x])]
    unknown = [n for n in names if n not in BNCI2014001_CLASSES]
    if unknown or not names:
        raise ValueError(f"BNCI2014001 classes/event_id {chosen!r}: {unknown or 'none given'} not among its classes "
                         f"{list(BNCI2014001_CLASSES)}; expected a list of them or a dict {{name: class(es)}}")
    return chosen


def read_bnci2014001_mat(path: str | os.PathLike, subject: int = 1, *, tmin: float = 2.0, tmax: float = 6.0,
                         classes: Sequence[str] | None = None, event_id: Any = None, **pipeline: Any) -> EEGEpochs:
    """One BNCI2014001 session file (``A01T.mat`` / ``A01E.mat``) as epochs of the MI classes.

    ``classes`` keeps only these of :data:`BNCI2014001_CLASSES`, labelled in that order (DBConformer's
    official runs: ``["left_hand", "right_hand"]``, 144 trials of session T per subject); ``event_id``
    (see :func:`find_events`) may instead group or rename them. Default: all four.

    Layout (BNCI Horizon, as MOABB reads it): ``data`` is a cell array of runs, each a struct with ``X``
    (samples x 25: 22 EEG + 3 EOG, microvolts), ``trial`` (1-based trial-start samples), ``y`` (labels
    1-4: left hand, right hand, feet, tongue), ``fs`` (250) and ``classes``; the first runs of a session
    hold only EOG calibration (no trials) and are skipped. Each run becomes an mne ``RawArray`` (volts)
    with an annotation per trial and goes through :func:`epochs_from_raw` (default window 2-6 s after the
    trial start: the 4 s of imagery after the cue, 1000 samples).
    """
    import mne
    from scipy.io import loadmat

    event_id = _bnci_event_id(classes, event_id)
    path = Path(path)
    try:
        runs = np.atleast_1d(loadmat(path, struct_as_record=False, squeeze_me=True)["data"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path.name} is not a BNCI2014001 .mat file (a 'data' cell array of runs): {err}") from None
    parts = []
    for run in runs:
        trials = np.atleast_1d(getattr(run, "trial", np.array([])))
        if trials.size == 0:
            continue
        X = np.asarray(run.X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != 25:
            raise ValueError(f"{path.name}: a run's X must be (samples, 25 channels), got {X.shape}")
        info = mne.create_info(list(BNCI2014001_CHANNELS) + list(BNCI2014001_EOG), float(run.fs),
                               ["eeg"] * 22 + ["eog"] * 3)
        raw = mne.io.RawArray(X.T * 1e-6, info, verbose="error")
        raw.set_montage("standard_1005", on_missing="ignore")
        labels = np.atleast_1d(run.y).astype(int)
        raw.set_annotations(mne.Annotations((trials - 1) / float(run.fs), 0.0,
                                            [BNCI2014001_CLASSES[lab - 1] for lab in labels]))
        parts.append(epochs_from_raw(raw, tmin=tmin, tmax=tmax, event_id=event_id,
                                     picks=list(BNCI2014001_CHANNELS), subject=subject, **pipeline))
    if not parts:
        raise ValueError(f"{path.name}: no run with trials")
    return EEGEpochs.concatenate(parts)


def load_bnci2014001(subjects: Sequence[int] = (1,), sessions: Sequence[str] = ("T", "E"), *,
                     classes: Sequence[str] | None = None, event_id: Any = None,
                     path: str | os.PathLike | None = None, download: bool = False, **pipeline: Any) -> EEGEpochs:
    """BCI Competition IV 2a (BNCI2014001): 9 subjects, 22 EEG channels, 250 Hz, 4 MI classes.

    ``sessions``: ``"T"`` (training) and/or ``"E"`` (evaluation); ``classes`` / ``event_id``: which classes
    (:func:`read_bnci2014001_mat`). DBConformer's official runs: ``sessions=["T"],
    classes=["left_hand", "right_hand"]`` (144 trials per subject).

    Files ``A{01..09}{T,E}.mat`` from ``BNCI2014001_URL`` in ``cache_dir(path)/BNCI2014001``; fetched only with
    ``download=True``, over plain http and **unverified** (no published checksum): the SHA-256 of each file is
    recorded on first use and checked on every later load (:mod:`spanmix.datasets.checksums`).
    ``pipeline`` goes to :func:`epochs_from_raw` (``l_freq``, ``h_freq``, ``sfreq``...).
    """
    event_id = _bnci_event_id(classes, event_id)
    if isinstance(sessions, str) or not sessions:
        raise ValueError(f"BNCI2014001 sessions must be a non-empty list of 'T' and/or 'E', got {sessions!r}")
    folder = cache_dir(path) / "BNCI2014001"
    parts = []
    for s in subjects:
        if not 1 <= int(s) <= 9:
            raise ValueError(f"BNCI2014001 has subjects 1-9, got {s}")
        for session in sessions:
            if session not in ("T", "E"):
                raise ValueError(f"BNCI2014001 sessions are 'T' (training) and 'E' (evaluation), got {session!r}")
            url = BNCI2014001_URL.format(subject=int(s), session=session)
            file = folder / url.rsplit("/", 1)[1]
            if not file.is_file():
                if not download:
                    raise EEGDataNotAvailable(f"{file} is missing; pass download=True to fetch it from {url} "
                                              "(or put the file there yourself). BNCI Horizon publishes no checksum: "
                                              "the file is unverified, its sha256 is recorded on first use and "
                                              "checked on every later load")
                _fetch(url, file)
            checksums.check(file, source=url)
            part = read_bnci2014001_mat(file, subject=int(s), event_id=event_id, **pipeline)
            part.meta["session"] = np.full(len(part), session)
            parts.append(part)
    return EEGEpochs.concatenate(parts)


def read_eegbci_edf(paths: Sequence[str | os.PathLike], subject: int = 1, *, tmin: float = 0.0,
                    tmax: float = 4.0, event_id: Any = None, **pipeline: Any) -> EEGEpochs:
    """PhysioNet EEG-BCI runs (EDF+, 64 channels, 160 Hz, annotations T0/T1/T2) as left vs right epochs.

    In the imagery runs 4, 8 and 12, T1 is the imagined left fist and T2 the right fist (T0: rest, not
    used by default). ``event_id`` (see :func:`find_events`) chooses other classes, e.g.
    ``{"rest": "T0", "left_hand": "T1", "right_hand": "T2"}``. Channel names are standardised by ``mne.datasets.eegbci.standardize`` and the standard_1005
    montage is set.
    """
    from mne.datasets import eegbci

    parts = []
    for p in paths:
        raw = read_raw(p)
        eegbci.standardize(raw)
        raw.set_montage("standard_1005", on_missing="ignore")
        parts.append(epochs_from_raw(raw, tmin=tmin, tmax=tmax, subject=subject,
                                     event_id=event_id or {"left_hand": "T1", "right_hand": "T2"}, **pipeline))
    return EEGEpochs.concatenate(parts)


def load_eegbci(subjects: Sequence[int] = (1,), runs: Sequence[int] = EEGBCI_RUNS, *, event_id: Any = None,
                path: str | os.PathLike | None = None, download: bool = False, **pipeline: Any) -> EEGEpochs:
    """PhysioNet EEG Motor Movement/Imagery (Schalk et al. 2004): 109 subjects, imagined left/right fist.

    Files in the official layout ``MNE-eegbci-data/files/eegmmidb/1.0.0/S001/S001R04.edf`` under
    ``cache_dir(path)``; ``download=True`` fetches missing ones with ``mne.datasets.eegbci.load_data``
    (PhysioNet URLs with mne's recorded checksums).
    """
    from mne.datasets import eegbci

    root = cache_dir(path)
    parts = []
    for s in subjects:
        if not 1 <= int(s) <= 109:
            raise ValueError(f"EEGBCI has subjects 1-109, got {s}")
        files = [root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / f"S{int(s):03d}" / f"S{int(s):03d}R{r:02d}.edf"
                 for r in runs]
        missing = [f for f in files if not f.is_file()]
        if missing:
            if not download:
                raise EEGDataNotAvailable(f"{missing[0]} is missing; pass download=True to fetch subject {s} "
                                          "from PhysioNet (https://physionet.org/content/eegmmidb/1.0.0/)")
            try:
                eegbci.load_data(int(s), list(runs), path=str(root), update_path=False, verbose="error")
            except Exception as err:
                raise EEGDataNotAvailable(f"could not download EEGBCI subject {s} from PhysioNet: {err}. "
                                          f"Put the EDF files at {files[0].parent} yourself") from None
        for f in files:
            checksums.check(f, source="https://physionet.org/content/eegmmidb/1.0.0/")
        parts.append(read_eegbci_edf(files, subject=int(s), event_id=event_id, **pipeline))
    return EEGEpochs.concatenate(parts)
