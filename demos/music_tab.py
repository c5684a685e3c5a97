"""The Music tab of the demo hub: a chord-conditioned melody LM (spanmix backbone, CM-HRNN events) on CPU.

Choose a style (a shipped export in ``pretrained/music/``), a chord progression (presets or a text box such
as ``C G Am F | Dm G C C``: bars split by ``|``, chords in a bar share it evenly), bars, meter, temperature and
seed -> a melody streamed through the LM's step form, shown as an engraved score (verovio SVG), audio
(FluidSynth with a General MIDI soundfont, or a plain synth), a piano roll with the chords, and its
metrics next to the held-out pieces of the style. Bad progressions are shown as a message on the page.

    python demos/hub.py            # the hub, with this tab
"""

from __future__ import annotations

import concurrent.futures
import html
import tempfile
from functools import partial
from pathlib import Path

from tab_common import error_box as _error_box
from tab_common import listen, load_weights

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "music"
PRESETS = {
    "Pop I-V-vi-IV (C)": "C G Am F | C G Am F | Dm G C C",
    "Folk (G)": "G | C G | D | G",
    "Minor (Am)": "Am Dm | E7 Am | Dm Am | E7 Am",
    "Waltz (F, use 3/4)": "F | C7 | C7 | F",
}
MAX_BARS = 32
CSS = """
#music-score svg { max-width: 100%; height: auto; background: white; }
"""


def error_box(message: str) -> str:
    return _error_box(message, "generate")


def styles(weights_dir: Path = WEIGHTS_DIR) -> list[str]:
    return sorted(p.parent.name for p in weights_dir.glob("*/model.safetensors"))


# verovio loads its fonts only for the first thread that uses it (any other thread gets "font resources are
# not available" and an empty page), while Gradio runs each request on a worker thread of its own: so every
# engraving runs on this one thread.
_ENGRAVER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="verovio")


def score_svg(sheet) -> str:
    """The melody (in its original key) engraved by verovio, as inline SVG (first page)."""
    return _ENGRAVER.submit(_engrave, sheet).result()


def _engrave(sheet) -> str:
    import verovio

    from spanmix.apps.music.convert import to_stream

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.musicxml"
        to_stream(sheet, original_key=True).write("musicxml", fp=str(path))
        tk = verovio.toolkit()
        tk.setOptions({"pageWidth": 2100, "scale": 40, "adjustPageHeight": True, "footer": "none", "header": "none"})
        if not tk.loadData(path.read_text(encoding="utf-8")):
            raise ValueError("verovio could not engrave the melody")
        return tk.renderToSVG(1)


def piano_roll(sheet):
    """Matplotlib figure: notes as bars over time, chord segments shaded and named."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spanmix.apps.music.chords import chord_name

    shift = -sheet.transposition
    fig, ax = plt.subplots(figsize=(11, 3.2))
    notes = [(float(o), float(d), p + shift) for o, d, p in sheet.notes() if p is not None]
    lo = min((p for *_, p in notes), default=60) - 3
    for i, (on, d, c) in enumerate(sheet.chord_segments()):
        ax.axvspan(float(on), float(on + d), color="#eef3fb" if i % 2 else "#f8f8f8")
        from spanmix.apps.music.chords import transpose_chord

        ax.text(float(on) + 0.05, lo + 0.5, chord_name(transpose_chord(c, shift)), fontsize=9, color="#335")
    for on, d, p in notes:
        ax.add_patch(plt.Rectangle((on, p - 0.4), d, 0.8, color="#1565c0"))
    bar = float(sheet.bar_length)
    for x in range(int(float(sheet.length) // bar) + 1):
        ax.axvline(x * bar, color="#999", lw=0.6)
    ax.set_xlim(0, float(sheet.length))
    ax.set_ylim(lo, max((p for *_, p in notes), default=72) + 3)
    ax.set_xlabel("quarter notes")
    ax.set_ylabel("MIDI pitch")
    fig.tight_layout()
    return fig


def metrics_table(sheet, style: str) -> str:
    """Markdown: the melody's metrics next to the held-out (test) pieces of the style it was trained on."""
    from spanmix.apps.music.metrics import style_report
    from spanmix.datasets.music import load_sample, split_pieces

    reference = [s for name in ("folk", "chorales") for s in split_pieces(load_sample(name))["test"]]
    ours = style_report([sheet], reference)
    ref = style_report(reference, reference)
    rows = [("pitch-class histogram distance to the style", "pitch_class_distance"),
            ("interval histogram distance", "interval_distance"), ("duration histogram distance", "duration_distance"),
            ("in-key ratio", "in_key"), ("chord-tone ratio", "chord_tones"),
            ("compression ratio (zlib proxy)", "compression_ratio")]
    body = "\n".join(f"| {label} | {ours[k]:.3f} | {ref[k]:.3f} |" for label, k in rows)
    return (f"| metric | this melody | held-out pieces of the style ({len(reference)}; folk chords inferred) |\n"
            f"|---|---|---|\n{body}\n")


def on_generate(style, preset, text, bars, meter, temperature, seed, weights_dir: Path = WEIGHTS_DIR):
    """-> (score HTML, audio path, piano-roll figure, metrics markdown, status HTML)."""
    from spanmix.apps.music.audio import render_wav
    from spanmix.apps.music.generate import generate, prepare_progression

    try:
        if not style:
            raise ValueError(f"no style chosen (shipped weights are in {weights_dir})")
        progression = (text or "").strip() or PRESETS.get(preset, "")
        bars = int(bars)
        if not 1 <= bars <= MAX_BARS:
            raise ValueError(f"bars must be between 1 and {MAX_BARS}")
        prog, shift, key = prepare_progression(progression, bars, meter)
        lm = load_weights(str(weights_dir / style)).net
        sheet = generate(lm, prog, temperature=float(temperature), top_k=20, seed=int(seed),
                         minor=key.endswith("minor"), pitch_range=(57 + shift, 81 + shift))
        sheet.key, sheet.transposition = key, shift
        wav = Path(tempfile.mkdtemp(prefix="spanmix-music-")) / "melody.wav"
        engine = render_wav(sheet, wav, original_key=True)
        status = (f"<div id='music-status'>Generated {len(sheet)} events, {bars} bars in {html.escape(key)} "
                  f"(audio: {engine}).</div>")
        return (f"<div id='music-score'>{score_svg(sheet)}</div>", str(wav), piano_roll(sheet),
                metrics_table(sheet, style), status)
    except ValueError as e:
        return "", None, None, "", error_box(str(e))


def build_tab(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the Music tab inside the current ``gr.Blocks`` / ``gr.Tab`` context."""
    import gradio as gr

    have = styles(weights_dir)
    gr.Markdown(
        "A chord-conditioned melody language model on spanmix's backbone (local attention ×3 + full attention), "
        "over CM-HRNN's lead-sheet events (Guo, Makris & Herremans, IJCNN 2021). It sees the whole chord "
        "progression and writes one melody event at a time. Trained on CPU on Essen/O'Neill folk tunes (chords "
        "*inferred* from the melodies) and Bach chorale soprani (chords from the lower voices), all from the "
        "music21 corpus.")
    with gr.Row():
        with gr.Column(scale=1):
            style = gr.Dropdown(have, value=have[0] if have else None, label="Style (shipped weights)")
            preset = gr.Dropdown(list(PRESETS), value=list(PRESETS)[0], label="Progression preset")
            text = gr.Textbox(label="…or your progression (overrides the preset)", placeholder="C G Am F | Dm G C C",
                              elem_id="music-chords")
            with gr.Row():
                bars = gr.Slider(1, MAX_BARS, value=8, step=1, label="Bars")
                meter = gr.Dropdown(["4/4", "3/4", "2/4", "6/8"], value="4/4", label="Meter")
            with gr.Row():
                temperature = gr.Slider(0.2, 1.5, value=0.9, step=0.05, label="Temperature")
                seed = gr.Number(value=0, precision=0, label="Seed")
            button = gr.Button("Generate melody", variant="primary", interactive=bool(have))
            status = gr.HTML(elem_id="music-status-box")
        with gr.Column(scale=2):
            score = gr.HTML(elem_id="music-score-box")
            audio = gr.Audio(label="Listen", type="filepath", elem_id="music-audio")
            roll = gr.Plot(label="Piano roll with chords")
            table = gr.Markdown(elem_id="music-metrics")
    if not have:
        gr.Markdown(error_box(f"Shipped weights missing in {weights_dir}; run `spanmix weights build music --all`."))
    listen(button.click, partial(on_generate, weights_dir=weights_dir),
           [style, preset, text, bars, meter, temperature, seed], [score, audio, roll, table, status],
           api_name="music_generate")
