"""The Genomics tab of the demo hub: HyenaDNA (Nguyen et al. 2023) on CPU with the shipped weights.

- **Classify**: paste a DNA sequence (or FASTA) or upload a .fa/.fasta/.txt file -> Oct4 vs Mafk ChIP-seq
  peak probabilities from ``pretrained/genomics/hyenadna_tiny_oct4_mafk``, with per-position saliency
  (|gradient × input| of the predicted class's logit at each base's embedding, scaled to the maximum).
- **Generate**: a prompt -> a continuation sampled from ``pretrained/genomics/hyenadna_tiny_ecoli`` (the LM
  pretrained on E. coli) with the recurrent step form, streamed to the page, each base shaded by the
  probability the model gave it.

Bad input (other letters, empty text, too long, unreadable file) is shown as a message on the page.

    python demos/hub.py            # the hub, with this tab
"""

from __future__ import annotations

import html
from functools import partial
from pathlib import Path

import torch
from tab_common import error_box as _error_box
from tab_common import listen, load_weights, shading_legend

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "pretrained" / "genomics"
LM_NAME, CLASSIFIER_NAME = "hyenadna_tiny_ecoli", "hyenadna_tiny_oct4_mafk"
CLASSES = ("Oct4", "Mafk")
MAX_UPLOAD_MB = 1
MAX_CLASSIFY_LEN = 5000
MAX_PROMPT_LEN = 2000
MAX_NEW_TOKENS = 500
EXAMPLE = (
    "CACAGCAGAGACACCAAACCACAGAATGGGACGGCAGAGGGCCCTAAAAAGCCCATTGTCATGCACTGGCTGAAAATGAAAGAAAACCTGCAGATTTA"
    "CATAATCAGTCCACATGCATTATTCATGGCCTCCCTAGGCACACACAATGCGGGCTGGCCAGCCTTCCACCGAGCGGGAGGAGGAAGGTCCGAAGCGGCCAA"
)
BASE_COLOURS = {"A": "#2e7d32", "C": "#1565c0", "G": "#ef6c00", "T": "#c62828", "N": "#757575"}
SALIENCY_RGB = (255, 193, 7)  # amber: a base's background opacity is its saliency
PROBABILITY_RGB = (33, 150, 243)  # blue: a generated base's background opacity is its probability

CSS = """
.genomics-seq { font-family: monospace; font-size: 14px; line-height: 1.6; word-break: break-all;
                white-space: normal; }
.genomics-seq span { padding: 0 1px; }
"""


def error_box(message: str) -> str:
    """``message`` in the page's error box: "Cannot run: ..."."""
    return _error_box(message, "run")


def weights_available(weights_dir: Path = WEIGHTS_DIR) -> list[str]:
    return [n for n in (LM_NAME, CLASSIFIER_NAME) if (weights_dir / n / "model.safetensors").is_file()]


def parse_sequence(text: str | None, upload: str | None = None, max_len: int = MAX_CLASSIFY_LEN) -> str:
    """The DNA in pasted text or an uploaded file: FASTA headers (``>``) and whitespace are dropped; the first
    record is used. Raises ValueError naming the problem."""
    from spanmix.apps.genomics.tokenizer import check_dna

    if upload:
        path = Path(upload)
        if path.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024:
            raise ValueError(f"the file is larger than {MAX_UPLOAD_MB} MB")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(
                "the file is not UTF-8 text; upload a FASTA (.fa/.fasta) or plain-text sequence"
            ) from None
    lines, seen_header = [], False
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith(">"):
            if seen_header and lines:
                break  # first record only
            seen_header = True
            continue
        lines.append(line)
    seq = "".join("".join(lines).split())
    if not seq:
        raise ValueError("no sequence given; paste DNA letters (A, C, G, T, N) or upload a FASTA file")
    if len(seq) > max_len:
        raise ValueError(f"the sequence has {len(seq):,} bases; at most {max_len:,} are accepted here")
    return check_dna(seq, "sequence")


def classify(seq: str, weights_dir: Path = WEIGHTS_DIR) -> tuple[dict[str, float], list[float]]:
    """Class probabilities and per-position saliency (0..1) of ``seq`` under the shipped classifier."""
    from spanmix.apps.genomics.tokenizer import CharTokenizer

    task = load_weights(str(weights_dir / CLASSIFIER_NAME))
    clf = task.net
    ids = torch.tensor([CharTokenizer().encode(seq)])
    emb = clf.lm.embedding(ids).detach().requires_grad_(True)
    with torch.enable_grad():
        h = clf.lm.backbone(emb)
        pooled = h.mean(1) if clf.pooling == "mean" else h[:, -1]
        logits = clf.head(pooled)[0]
        k = int(logits.argmax())
        # the gradient w.r.t. the input only: the shared weights' .grad stays untouched by concurrent requests
        (grad,) = torch.autograd.grad(logits[k], emb)
    saliency = (grad * emb.detach()).sum(-1).abs()[0]
    saliency = (saliency / saliency.max().clamp_min(1e-12)).tolist()
    probs = logits.detach().softmax(-1).tolist()
    return dict(zip(CLASSES, probs)), saliency


def shaded_sequence(seq: str, weights: list[float], title: str) -> str:
    """HTML of ``seq`` with each base's background alpha = its weight (0..1)."""
    r, g, b_ = SALIENCY_RGB
    spans = "".join(
        f'<span title="{i}: {w:.2f}" style="background: rgba({r}, {g}, {b_}, {w:.2f}); color: '
        f'{BASE_COLOURS.get(b, "#000")}">{b}</span>'
        for i, (b, w) in enumerate(zip(seq, weights))
    )
    key = shading_legend("Background: saliency", SALIENCY_RGB, "0 (none)", "1 (the most salient base)")
    return f"<div><b>{html.escape(title)}</b></div>{key}<div class='genomics-seq'>{spans}</div>"


def on_classify(text: str | None, upload: str | None, weights_dir: Path = WEIGHTS_DIR):
    try:
        seq = parse_sequence(text, upload)
        probs, saliency = classify(seq, weights_dir)
    except (ValueError, OSError) as e:
        return {}, error_box(str(e))
    top = max(probs, key=probs.get)
    note = (
        f"Predicted {top} ({probs[top]:.1%}). Trained on 200-bp mouse ChIP-seq peaks (Oct4 vs Mafk); other "
        "sequences get a prediction, but it only means which of the two they resemble more."
    )
    return probs, shaded_sequence(
        seq, saliency, f"Saliency (|gradient × input|, {len(seq)} bases)"
    ) + f"<p>{html.escape(note)}</p>"


def on_generate(
    prompt: str | None,
    max_new_tokens: float,
    temperature: float,
    top_k: float,
    seed: float,
    weights_dir: Path = WEIGHTS_DIR,
):
    """Stream the continuation: yields HTML (prompt in grey, generated bases shaded by their probability)."""
    from spanmix.apps.genomics.generate import stream

    try:
        prompt_seq = parse_sequence(prompt, max_len=MAX_PROMPT_LEN)
        n = int(max_new_tokens)
        if not 1 <= n <= MAX_NEW_TOKENS:
            raise ValueError(f"max new tokens must be between 1 and {MAX_NEW_TOKENS}")
        lm = load_weights(str(weights_dir / LM_NAME)).net
        tokens = stream(lm, prompt_seq, n, float(temperature), int(top_k) if top_k else None, int(seed))
        bases, probs = [], []
        for i, (base, p) in enumerate(tokens, 1):
            bases.append(base)
            probs.append(p[base])
            if i % 25 == 0 or i == n:
                yield _generated_html(prompt_seq, bases, probs, done=i == n)
    except (ValueError, OSError) as e:
        yield error_box(str(e))


def _generated_html(prompt: str, bases: list[str], probs: list[float], done: bool) -> str:
    head = f"<span style='color:#999'>{html.escape(prompt[-200:])}</span>"
    r, g, b_ = PROBABILITY_RGB
    body = "".join(
        f'<span title="p={p:.2f}" style="background: rgba({r}, {g}, {b_}, {p:.2f}); color: '
        f'{BASE_COLOURS[b]}">{b}</span>'
        for b, p in zip(bases, probs)
    )
    mean = sum(probs) / len(probs)
    status = "done" if done else "generating…"
    return (
        f"<div><b>Continuation ({len(bases)} bases, {status}; mean probability of the sampled base "
        f"{mean:.2f})</b></div>"
        + shading_legend("Background: probability the model gave the sampled base", PROBABILITY_RGB, "0", "1")
        + "<div style='font-size:14px'>Grey: the end of the prompt.</div>"
        + f"<div class='genomics-seq' id='genomics-generated'>{head}{body}</div>"
    )


def build_tab(weights_dir: Path = WEIGHTS_DIR) -> None:
    """Lay out the Genomics tab inside the current ``gr.Blocks`` / ``gr.Tab`` context."""
    import gradio as gr

    have = weights_available(weights_dir)
    gr.Markdown(
        "HyenaDNA (Nguyen et al., NeurIPS 2023): a long-convolution language model over single nucleotides. "
        "The tiny model here (2 layers, width 128) was pretrained on the *E. coli* MG1655 genome and fine-tuned "
        "on Oct4 vs Mafk ChIP-seq peaks, on CPU. Letters A, C, G, T, N (any case); FASTA headers are ignored."
    )
    with gr.Row():
        with gr.Column():
            gr.Markdown("### Classify a sequence")
            text = gr.Textbox(
                label="DNA sequence (or FASTA)", value=EXAMPLE, lines=5, elem_id="genomics-input"
            )
            upload = gr.File(
                label=f"…or upload .fa/.fasta/.txt (≤ {MAX_UPLOAD_MB} MB)",
                file_types=[".fa", ".fasta", ".txt", ".fna"],
                type="filepath",
            )
            classify_btn = gr.Button("Classify", variant="primary", interactive=CLASSIFIER_NAME in have)
            label = gr.Label(label="Class probabilities", num_top_classes=2, elem_id="genomics-label")
            saliency = gr.HTML(elem_id="genomics-saliency")
        with gr.Column():
            gr.Markdown("### Generate a continuation")
            prompt = gr.Textbox(
                label="Prompt",
                value="ATGAAACGCATTAGCACCACCATTACCACCACCATCACCATTACC",
                lines=2,
                elem_id="genomics-prompt",
            )
            with gr.Row():
                n_new = gr.Slider(1, MAX_NEW_TOKENS, value=200, step=1, label="New bases")
                temperature = gr.Slider(0.1, 2.0, value=0.8, step=0.05, label="Temperature")
            with gr.Row():
                top_k = gr.Slider(0, 4, value=0, step=1, label="Top-k (0 = all 4 bases)")
                seed = gr.Number(value=0, precision=0, label="Seed")
            generate_btn = gr.Button("Generate", variant="primary", interactive=LM_NAME in have)
            generated = gr.HTML(elem_id="genomics-generated-box")
    if len(have) < 2:
        gr.Markdown(
            error_box(
                f"Shipped weights missing in {weights_dir}; run `spanmix weights build genomics --all`."
            )
        )
    listen(classify_btn.click, partial(on_classify, weights_dir=weights_dir), [text, upload], [label, saliency],
           api_name="genomics_classify")
    listen(
        generate_btn.click,
        partial(on_generate, weights_dir=weights_dir),
        [prompt, n_new, temperature, top_k, seed],
        [generated],
        api_name="genomics_generate",
    )
