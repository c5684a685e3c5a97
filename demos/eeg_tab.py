"""The EEG tab of the demo hub (``python demos/hub.py``): DBConformer predictions per epoch and a topomap.

Pick the shipped real recording (MNE's sample EEG: auditory vs visual stimuli), the shipped SIMULATED
motor-imagery set, or upload an EDF/FIF recording; choose the events to epoch around and the channels.
The page shows one row per epoch (time, event, predicted class and its probability, the true class when
the event names one of the model's classes) and a topomap (``mne.viz.plot_topomap``) of DBConformer's
channel-attention weights averaged over the epochs.

Weights: ``pretrained/eeg/*`` (``spanmix weights build eeg``). Each records the channels, rate, window and
classes it was trained on. An upload is read with mne, the model's channels are picked (a message names the
missing ones), it is resampled to the model's rate and epoched ``[tmin, tmax)`` around the chosen events,
scaled to microvolts and Euclidean-aligned with its own epochs (as the training data was, per subject).
Accuracy is reported on the epochs whose event names a class; for the shipped data, on the test split only
(the weights saw the rest). Bad input (wrong file type, unreadable, no events, missing channels, too large)
becomes a message on the page, never a traceback.

Functions (tests call them directly): :func:`list_models`, :func:`load_source`, :func:`predict_epochs`,
:func:`run` (what the button runs; never raises), :func:`topomap_figure`, :func:`build_tab`.
"""
from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tab_common import (
    LABEL_FONTSIZE,
    MAX_UPLOAD_MB,
    DemoError,
    clean_message,
    demo_exports,
    listen,
    load_weights,
    toast,
)
from tab_common import error_box as _error_box

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "eeg"
REAL = "MNE sample recording — real EEG, auditory vs visual (shipped)"
SIMULATED = "Motor imagery — SIMULATED with mne.simulation, left vs right hand (shipped)"
UPLOAD = "Upload an EDF or FIF recording"
SOURCES = [REAL, SIMULATED, UPLOAD]
SOURCE_MODEL = {REAL: "dbconformer_mne_sample", SIMULATED: "dbconformer_simulated_mi"}
UPLOAD_TYPES = [".edf", ".fif", ".bdf"]

log = logging.getLogger(__name__)

__all__ = ["DemoError", "EEGSource", "ShippedModel", "build_tab", "list_models", "load_source", "predict_epochs",
           "run", "topomap_figure"]


def error_box(message: str) -> str:
    """``message`` in the page's error box: "Cannot decode: ..."."""
    return _error_box(message, "decode")


@dataclass(frozen=True)
class ShippedModel:
    """One export of ``pretrained/eeg/`` with what its ``metadata.demo`` records."""

    name: str
    path: Path
    label: str
    dataset: str
    simulated: bool
    ch_names: tuple[str, ...]
    ch_pos: tuple[tuple[float, float, float], ...] | None
    sfreq: float
    tmin: float
    tmax: float
    classes: tuple[str, ...]
    align: bool
    test_metrics: dict[str, float]
    command: str


def list_models(weights_dir: Path = WEIGHTS_DIR) -> list[ShippedModel]:
    out = []
    for folder, metadata in demo_exports(weights_dir):
        d = metadata["demo"]
        out.append(ShippedModel(folder.name, folder, d["label"], d["dataset"], d["simulated"],
                                tuple(d["ch_names"]), tuple(map(tuple, d["ch_pos"])) if d.get("ch_pos") else None,
                                float(d["sfreq"]), float(d["tmin"]), float(d["tmax"]), tuple(d["classes"]),
                                bool(d["align"]), d["test_metrics"], d["command"]))
    return out


def _find_model(choice: str, weights_dir: Path = WEIGHTS_DIR) -> ShippedModel:
    for m in list_models(weights_dir):
        if choice in (m.name, m.label):
            return m
    raise DemoError(f"Unknown model {choice!r}; pick one of the shipped weights in {weights_dir}.")


# ------------------------------------------------------------------------------------------ sources
@dataclass
class EEGSource:
    """Epochs ready for a model: ``X`` (N, C, T) volts in the model's channel order, the event name and
    onset of each epoch, the true label (-1 if the event names no class) and whether it is a test epoch."""

    X: np.ndarray
    events: list[str]
    onsets: list[float]
    truth: np.ndarray
    scored: np.ndarray
    subject: np.ndarray
    note: str
    available_events: list[str]
    available_channels: list[str]
    aligned: bool = False  # X is already Euclidean-aligned (and in the model's units)


def _truth(events: list[str], classes: tuple[str, ...]) -> np.ndarray:
    def label(e: str) -> int:
        for i, c in enumerate(classes):
            if e == c or c in e.split("/"):
                return i
        return -1

    return np.array([label(e) for e in events])


def _shipped(dataset: str, model: ShippedModel, events: list[str] | None, channels: list[str] | None) -> EEGSource:
    from spanmix.apps.eeg.evaluation import co_split
    from spanmix.datasets import eeg

    ep = eeg.load_sample({"mne_sample": "eeg_mne_sample", "simulated_mi": "eeg_simulated_mi"}[dataset])
    test = np.zeros(len(ep), bool)
    for s in ep.subjects:
        test[co_split(ep.y, ep.subject, s).test] = True
    if "events" in ep.meta:  # the real recording: re-epoch its four stimulus types to name each epoch
        named = eeg.epochs_from_raw(eeg.sample_raw(ep), tmin=ep.tmin, tmax=ep.tmin + ep.n_times / ep.sfreq,
                                    event_id=list(ep.meta["event_id"]))
        names = [named.classes[int(y)] for y in named.y]
        onsets = named.meta["onset"].tolist()
    else:
        names = [ep.classes[int(y)] for y in ep.y]
        onsets = [float("nan")] * len(ep)
    available = sorted(set(names))
    chosen = list(events) if events else available
    keep = np.array([n in chosen for n in names])
    if not keep.any():
        raise DemoError(f"None of the chosen events {chosen} occur; this recording has {available}.")
    _check_channels(model, list(ep.ch_names), channels)
    ep = ep.pick(list(model.ch_names))
    X = _align(ep.X, ep.subject, reference=~test) if model.align else ep.X  # as in training: train-split reference
    note = ("Shipped SIMULATED data (mne.simulation), 4 subjects; accuracy on each subject's chronological test 20 %."
            if ep.meta["simulated"] else "Shipped real EEG (MNE sample data); accuracy on the chronological test 20 %.")
    return EEGSource(X[keep], [names[i] for i in np.flatnonzero(keep)], [onsets[i] for i in np.flatnonzero(keep)],
                     ep.y[keep], test[keep], ep.subject[keep], note, available, list(ep.ch_names),
                     aligned=model.align)


def _check_channels(model: ShippedModel, available: list[str], chosen: list[str] | None) -> None:
    missing = [c for c in model.ch_names if c not in available]
    if missing:
        raise DemoError(f"The recording lacks channel(s) {missing[:12]}{' …' if len(missing) > 12 else ''} that "
                        f"{model.label} was trained on; it needs all of {len(model.ch_names)} channels "
                        f"{list(model.ch_names)[:8]}{' …' if len(model.ch_names) > 8 else ''}.")
    if chosen:
        left_out = [c for c in model.ch_names if c not in chosen]
        if left_out:
            raise DemoError(f"The model reads exactly its {len(model.ch_names)} training channels; the channel "
                            f"selection leaves out {left_out[:12]}. Keep them selected (extra channels are ignored).")


def read_upload(path: str):
    """The uploaded recording as mne Raw; a DemoError for a missing, too large or unreadable file."""
    from spanmix.datasets import eeg

    file = Path(path)
    if not file.is_file():
        raise DemoError(f"The uploaded file {file.name} is no longer on the server; upload it again.")
    size = file.stat().st_size
    if size > MAX_UPLOAD_MB * 2**20:
        raise DemoError(f"{file.name} is {size / 2**20:.1f} MB; uploads are limited to {MAX_UPLOAD_MB} MB.")
    if eeg._suffix(file) not in (".edf", ".bdf", ".fif", ".fif.gz"):
        raise DemoError(f"{file.name}: upload an EDF (.edf/.bdf) or FIF (.fif) recording.")
    try:
        return eeg.read_raw(file)
    except ValueError as err:
        raise DemoError(clean_message(str(err), path)) from None


def upload_events(raw) -> list[str]:
    """Event names of an upload: annotation descriptions, else the stim channel's codes."""
    from spanmix.datasets import eeg

    try:
        _, groups = eeg.find_events(raw)
    except ValueError as err:
        raise DemoError(clean_message(str(err))) from None
    return list(groups)


def _uploaded(path: str, model: ShippedModel, events: list[str] | None, channels: list[str] | None) -> EEGSource:
    from spanmix.datasets import eeg

    raw = read_upload(path)
    available = upload_events(raw)
    chosen = [e for e in (events or available) if e in available]
    if not chosen:
        raise DemoError(f"None of the chosen events {events} occur in {Path(path).name}; it has {available}.")
    eeg_channels = [raw.ch_names[i] for i in __import__("mne").pick_types(raw.info, eeg=True, exclude=[])]
    _check_channels(model, list(raw.ch_names), channels)
    h_freq = min(40.0, 0.45 * model.sfreq)
    try:
        ep = eeg.epochs_from_raw(raw, tmin=model.tmin, tmax=model.tmax, event_id=chosen, picks=list(model.ch_names),
                                 l_freq=0.5 if raw.info["sfreq"] > 2 else None,
                                 h_freq=h_freq if h_freq < raw.info["sfreq"] / 2 else None, sfreq=model.sfreq)
    except ValueError as err:
        raise DemoError(clean_message(str(err), path)) from None
    names = [ep.classes[int(y)] for y in ep.y]
    note = (f"Uploaded {Path(path).name}: {len(ep)} epochs [{model.tmin:g}, {model.tmax:g}) s around {chosen}, "
            f"band-passed 0.5–{h_freq:g} Hz and resampled to {model.sfreq:g} Hz; accuracy on epochs whose event "
            f"names a class ({', '.join(model.classes)}).")
    return EEGSource(ep.X, names, [float("nan")] * len(ep), _truth(names, model.classes), np.ones(len(ep), bool),
                     np.ones(len(ep), int), note, available, eeg_channels)


def load_source(source: str, model: ShippedModel, upload: str | None = None, events: list[str] | None = None,
                channels: list[str] | None = None) -> EEGSource:
    """The epochs of ``source`` for ``model`` (see the module docstring); DemoError on bad input."""
    if source == UPLOAD:
        if not upload:
            raise DemoError("No file uploaded yet. Upload an EDF or FIF recording with events (annotations or a "
                            "stim channel), or pick a shipped recording.")
        return _uploaded(upload, model, events, channels)
    if source in SOURCE_MODEL:
        dataset = "mne_sample" if source == REAL else "simulated_mi"
        if model.dataset != dataset:
            raise DemoError(f"{model.label} was trained on another dataset ({model.dataset}); pick the weights "
                            f"for this recording.")
        return _shipped(dataset, model, events, channels)
    raise DemoError(f"Unknown data source {source!r}; choose one of {SOURCES}.")


# ------------------------------------------------------------------------------------------ prediction
def _align(X: np.ndarray, subject: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Microvolts, Euclidean-aligned per subject with the reference matrix of the ``reference`` epochs
    (default: all of that subject's epochs, unlabelled), as :class:`~spanmix.apps.eeg.data.EEGDataModule` does."""
    out = np.empty(X.shape, dtype=np.float32)
    for s in np.unique(subject):
        m = subject == s
        ref = m & reference if reference is not None and (m & reference).any() else m
        Xr = X[ref].astype(np.float64) * 1e6
        R = np.einsum("nct,ndt->cd", Xr, Xr) / (Xr.shape[0] * Xr.shape[2])
        w, V = np.linalg.eigh(R)
        if w.min() <= 1e-10 * w.max():
            raise DemoError("Cannot align the epochs: their mean covariance is singular (a flat or duplicated "
                            "channel); remove it from the recording.")
        out[m] = np.einsum("cd,ndt->nct", (V / np.sqrt(w)) @ V.T, X[m].astype(np.float64) * 1e6)
    return out


@torch.no_grad()
def predict_epochs(model: ShippedModel, src: EEGSource) -> dict[str, np.ndarray]:
    """``probs`` (N, K) and the channel-attention ``weights`` (N, C) of the shipped model on ``src``."""
    task = load_weights(str(model.path))
    if src.aligned:
        X = src.X.astype(np.float32)
    else:
        X = _align(src.X, src.subject) if model.align else (src.X * 1e6).astype(np.float32)
    probs, weights = [], []
    for i in range(0, len(X), 64):
        logits, extras = task(torch.as_tensor(X[i:i + 64]), return_features=True)
        probs.append(torch.softmax(logits, -1).numpy())
        weights.append(extras["channel_weights"].numpy())
    return {"probs": np.concatenate(probs), "weights": np.concatenate(weights)}


def relative_weights(weights: np.ndarray) -> np.ndarray:
    """Channel-attention weights (softmax over C channels) relative to uniform attention: ``weights · C``,
    so 1 is uniform, 2 twice the uniform share 1/C."""
    return np.asarray(weights, dtype=np.float64) * np.shape(weights)[-1]


def topomap_figure(weights: np.ndarray, model: ShippedModel, title: str):
    """``mne.viz.plot_topomap`` of the mean channel-attention weight per electrode, relative to uniform (1/C).

    The scale is symmetric about 1 (uniform) with a diverging colour map, so a nearly uniform attention
    looks nearly white instead of filling the full colour range; the colour bar says so."""
    import mne
    from matplotlib.figure import Figure

    info = mne.create_info(list(model.ch_names), model.sfreq, "eeg")
    if model.ch_pos is None:
        info.set_montage("standard_1020", on_missing="ignore")
    else:
        info.set_montage(mne.channels.make_dig_montage(dict(zip(model.ch_names, np.array(model.ch_pos))),
                                                       coord_frame="head"))
    rel = relative_weights(weights)
    spread = max(float(np.abs(rel - 1).max()), 1e-3)
    fig = Figure(figsize=(5.6, 4.4), layout="constrained")
    ax = fig.subplots()
    im, _ = mne.viz.plot_topomap(rel, info, axes=ax, show=False, cmap="RdBu_r", contours=4,
                                 vlim=(1 - spread, 1 + spread),
                                 names=list(model.ch_names) if len(model.ch_names) <= 20 else None)
    bar = fig.colorbar(im, ax=ax, shrink=0.8)
    bar.set_label(f"attention ÷ uniform (1/{len(rel)}); 1 = uniform", fontsize=LABEL_FONTSIZE)
    ax.set_title(f"{title}\nrange {rel.min():.3f}–{rel.max():.3f} × uniform", fontsize=LABEL_FONTSIZE)
    return fig


def _table(src: EEGSource, out: dict[str, np.ndarray], model: ShippedModel):
    import pandas as pd

    pred = out["probs"].argmax(-1)
    rows = []
    for i in range(len(pred)):
        t = src.onsets[i]
        rows.append({"epoch": i + 1, "subject": int(src.subject[i]), "onset (s)": "" if np.isnan(t) else f"{t:.2f}",
                     "event": src.events[i], "predicted": model.classes[pred[i]],
                     "probability": round(float(out["probs"][i, pred[i]]), 3),
                     "true": model.classes[src.truth[i]] if src.truth[i] >= 0 else "—",
                     "split": "test" if src.scored[i] else "train"})
    return pd.DataFrame(rows)


def run(source: str, upload: str | None, choice: str, events: list[str] | None = None,
        channels: list[str] | None = None, weights_dir: Path = WEIGHTS_DIR):
    """What the Decode button runs: ``(table or None, topomap or None, summary markdown)``; never raises."""
    try:
        model = _find_model(choice, weights_dir)
        src = load_source(source, model, upload, events or None, channels or None)
        out = predict_epochs(model, src)
        pred = out["probs"].argmax(-1)
        scored = src.scored & (src.truth >= 0)
        lines = [f"### {len(pred)} epochs decoded by {model.label}", src.note]
        if scored.any():
            acc = float((pred[scored] == src.truth[scored]).mean())
            lines.append(f"**Accuracy {100 * acc:.1f} %** on {int(scored.sum())} scored epochs "
                         f"(chance {100 / len(model.classes):.0f} %). Recorded test accuracy of these weights: "
                         f"{100 * model.test_metrics['acc']:.1f} %.")
        else:
            lines.append("No epoch's event names one of the model's classes, so there is no accuracy to report.")
        rel = relative_weights(out["weights"].mean(0))
        lines.append(f"Channel attention (mean over the epochs) spans {rel.min():.3f}–{rel.max():.3f} × the uniform "
                     f"share 1/{len(rel)}" + (": nearly uniform, so the topomap's colours show small differences."
                                              if np.abs(rel - 1).max() < 0.1 else "."))
        lines.append(f"\nTrained with `{model.command}`.")
        kind = "SIMULATED data" if source == SIMULATED else "real EEG" if source == REAL else Path(upload or "").name
        fig = topomap_figure(out["weights"].mean(0), model, f"Mean channel attention ({kind})")
        return _table(src, out, model), fig, "\n\n".join(lines)
    except DemoError as err:
        message = str(err)
    except Exception as err:  # a bug, not the user's input: log it, show one line
        log.error("eeg decoding failed:\n%s", traceback.format_exc())
        message = f"unexpected {type(err).__name__}: {err}"
    message = clean_message(message, upload)
    toast(message)
    return None, None, error_box(message)


def on_change(source: str, upload: str | None, weights_dir: Path = WEIGHTS_DIR):
    """Source or upload changed: the model for it, the upload row, and the event / channel choices."""
    import gradio as gr

    models = list_models(weights_dir)
    name = SOURCE_MODEL.get(source, "dbconformer_mne_sample")
    model = next((m for m in models if m.name == name), models[0])
    info, ev, ch = "", [], []
    try:
        if source == UPLOAD:
            if upload:
                raw = read_upload(upload)
                ev = upload_events(raw)
                ch = list(raw.ch_names)
                info = f"`{Path(upload).name}`: {len(raw.ch_names)} channels, {raw.info['sfreq']:g} Hz, events {ev}."
        else:
            src = load_source(source, model)
            ev, ch = src.available_events, list(model.ch_names)
    except DemoError as err:
        info = error_box(clean_message(str(err), upload))
    chosen_ch = [c for c in model.ch_names if c in ch]
    return (gr.update(value=model.label), gr.update(visible=source == UPLOAD),
            gr.update(choices=ev, value=ev), gr.update(choices=ch, value=chosen_ch),
            gr.update(label=channels_label(chosen_ch)), info)


def channels_label(chosen: list[str] | None) -> str:
    """The channel accordion's title: how many channels are selected, and that it opens."""
    return f"Channels: {len(chosen or [])} selected (click to review or change)"


def build_tab(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the EEG tab inside the current ``gr.Blocks`` / ``gr.Tab``."""
    import gradio as gr

    models = list_models(weights_dir)
    if not models:
        gr.Markdown(error_box(f"No shipped EEG weights in {weights_dir}; run `spanmix weights build eeg --all`."))
        return
    first = next((m for m in models if m.name == SOURCE_MODEL[REAL]), models[0])
    gr.Markdown("Decode EEG epochs with **DBConformer** (Wang et al. 2025): a temporal and a spatial transformer "
                "branch on the spanmix backbone. Pick the shipped real recording, the shipped *simulated* motor "
                "imagery, or upload an EDF/FIF recording with the channels the weights were trained on (the MNE "
                f"sample's `EEG 001` … `EEG 060`); ≤ {MAX_UPLOAD_MB} MB.")
    with gr.Row():
        with gr.Column(scale=1, min_width=320):
            source = gr.Radio(SOURCES, value=REAL, label="Recording")
            with gr.Group(visible=False) as upload_group:
                upload = gr.File(label="EDF or FIF file", file_types=UPLOAD_TYPES, type="filepath", elem_id="eeg-upload")
                upload_info = gr.Markdown(elem_id="eeg-upload-info")
            choice = gr.Dropdown([m.label for m in models], value=first.label, label="Model (shipped weights)")
            src = load_source(REAL, first)
            events = gr.Dropdown(src.available_events, value=src.available_events, multiselect=True,
                                 label="Events to epoch around", elem_id="eeg-events")
            button = gr.Button("Decode", variant="primary", elem_id="eeg-decode")
            # 60 channel chips fill ~1,000 px: folded below the button, open on demand
            with gr.Accordion(channels_label(list(first.ch_names)), open=False,
                              elem_id="eeg-channels-accordion") as channel_box:
                channels = gr.Dropdown(list(first.ch_names), value=list(first.ch_names), multiselect=True,
                                       label="Channels", elem_id="eeg-channels")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="eeg-summary")
            topo = gr.Plot(label="Channel attention", format="png", elem_id="eeg-topomap")
            table = gr.Dataframe(label="Per-epoch predictions", elem_id="eeg-table", interactive=False)
    for trigger, what in ((source.change, "source"), (upload.change, "upload")):
        listen(trigger, lambda s, u: on_change(s, u, weights_dir), [source, upload],
               [choice, upload_group, events, channels, channel_box, upload_info], api_name=f"eeg_{what}_changed",
               compute=False)
    listen(channels.change, lambda ch: gr.update(label=channels_label(ch)), [channels], [channel_box],
           api_name="eeg_channels_changed", compute=False)
    listen(button.click, partial(run, weights_dir=weights_dir),
           [source, upload, choice, events, channels], [table, topo, summary], api_name="eeg_decode")
