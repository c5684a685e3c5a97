"""Long convolution speed: our HyenaDNA tiny beside the official standalone HyenaDNA, and the FFT floor.

    OMP_NUM_THREADS=1 python benchmarks/long_conv.py --official-hyenadna /tmp/standalone_hyenadna.py
    OMP_NUM_THREADS=1 python benchmarks/long_conv.py --lengths 8192 65536 --backward-lengths 8192 65536

The official code is the single-file ``standalone_hyenadna.py`` of github.com/HazyResearch/hyena-dna (the
Colab / Hugging Face model), given by path and imported from there, never copied into this repository;
without ``--official-hyenadna`` its rows are skipped with a message.

Model: HyenaDNA tiny (d_model 128, 2 layers, d_inner 512, order 2, filter order 64, emb_dim 5, filters as
long as the sequence: l_max = L), batch 1, loss = mean logsumexp of the tied-head logits for fwd+bwd.
Ours is timed in the official layout (one long filter per layer: equal work) and the paper layout (two).
Rows:
- ``ours (official layout)``, ``ours (paper layout)``, ``official standalone``: the whole model.
- ``hyena mixer alone``: one ``hyena`` mixer (d 128, official layout) forward, no grad.
- ``FFT floor xN``: N pairs of rfft/irfft of a (1, 128, L) signal at n = 2L, i.e. the long convolutions
  of the row above it with nothing else (N = 2 for the model in the official layout, 1 for the mixer).

Each cell runs in a fresh subprocess (one warm-up call, then one timed call; the peak is the growth of
``ru_maxrss`` over the resident set before the first call, so it covers the warm-up and the timed call).
Cells are interleaved (all rows of one repetition, then the next), 3 repetitions; the table gives the
median time, the median peak, and the 1-minute load average read when the row's last cell finished.
Forward rows run without autograd, where our ``hyena`` keeps its filters and their spectra between calls
while the filter is unchanged (up to 256 MiB of spectra: at 64k yes, at 256k and beyond no), so the timed
call reuses them; the official code regenerates its filter on every call.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import in_subprocess, markdown_table, peak_rss_bytes, rss_bytes

RESULTS = Path(__file__).parent / "results" / "long_conv.md"
D_MODEL, N_LAYER, D_INNER = 128, 2, 512


def _load_official(path: str):
    stub = types.ModuleType("transformers.tokenization_utils")  # only its tokenizer needs transformers
    stub.AddedToken, stub.PreTrainedTokenizer = object, object
    sys.modules.setdefault("transformers", types.ModuleType("transformers"))
    sys.modules["transformers.tokenization_utils"] = stub
    spec = importlib.util.spec_from_file_location("standalone_hyenadna", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(kind: str, length: int, official_path: str):
    """A callable ``ids -> logits`` (B, L, vocab) and its parameters."""
    import torch

    if kind == "official":
        off = _load_official(official_path)
        layer = {"_name_": "hyena", "emb_dim": 5, "filter_order": 64, "local_order": 3, "l_max": length,
                 "modulate": True, "w": 10, "lr": 6e-4, "wd": 0.0, "lr_pos_emb": 0.0}
        model = off.HyenaDNAModel(d_model=D_MODEL, n_layer=N_LAYER, d_inner=D_INNER, vocab_size=12, layer=layer,
                                  pad_vocab_size_multiple=8, embed_dropout=0.1)
        emb = model.backbone.embeddings.word_embeddings.weight
        return model, (lambda ids: model(ids) @ emb.T)
    from spanmix.apps.genomics.models import HyenaDNA

    if kind == "ours-bf16mm":  # oneDNN's AVX-512 bf16 path for fp32 matmuls (../shared/PERFORMANCE.md)
        torch.backends.mkldnn.matmul.fp32_precision = "bf16"
    layout = {"ours-official": "official", "ours-paper": "paper", "ours-bf16mm": "official"}[kind]
    model = HyenaDNA(d_model=D_MODEL, n_layer=N_LAYER, d_inner=D_INNER, l_max=length, layout=layout)
    return model, model


def one(kind: str, length: int, backward: bool, official_path: str, warm_up: bool = True) -> dict:
    import torch

    torch.manual_seed(0)
    if kind.startswith("floor"):
        pairs = int(kind[len("floor"):])
        u = torch.randn(1, D_MODEL, length)

        def fn():
            for _ in range(pairs):
                torch.fft.irfft(torch.fft.rfft(u, n=2 * length), n=2 * length)
    elif kind == "mixer":
        from spanmix.backbone.mixers.hyena import Hyena

        mixer = Hyena(D_MODEL, order=2, emb_dim=5, max_len=length, layout="official", filter_freq=10.0).eval()
        x = torch.randn(1, length, D_MODEL)

        def fn():
            with torch.no_grad():
                mixer(x)
    else:
        model, call = _build(kind, length, official_path)
        ids = torch.randint(7, 11, (1, length))
        if backward:
            model.train()

            def fn():
                model.zero_grad(set_to_none=True)
                call(ids).float().logsumexp(-1).mean().backward()
        else:
            model.eval()

            def fn():
                with torch.no_grad():
                    call(ids)
    before = rss_bytes()
    if warm_up:
        fn()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mib": max(peak_rss_bytes() - before, 0) / 2**20}


def _fmt_s(x: float) -> str:
    return f"{x:.3f} s" if x < 1 else f"{x:.2f} s"


def _fmt_m(x: float) -> str:
    return f"{x:.0f} MiB" if x < 1024 else f"{x / 1024:.2f} GiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--official-hyenadna", default=None, help="path to the official standalone_hyenadna.py")
    ap.add_argument("--lengths", type=int, nargs="*", default=[8192, 65536], help="forward lengths")
    ap.add_argument("--backward-lengths", type=int, nargs="*", default=[8192, 65536])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--single-call-lengths", type=int, nargs="*", default=[1 << 20],
                    help="lengths whose cells make one timed call and no warm-up call (1M: ~1-2 min per call)")
    ap.add_argument("--models", nargs="*", default=None,
                    help="only these of ours-official ours-paper ours-bf16mm official (default: all that apply)")
    ap.add_argument("--bf16-matmul", action="store_true",
                    help="also time ours with torch.backends.mkldnn.matmul.fp32_precision = 'bf16'")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--one", nargs=5, metavar=("KIND", "L", "BACKWARD", "OFFICIAL", "WARM"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        kind, length, backward, path, warm = args.one
        print(json.dumps(one(kind, int(length), backward == "1", path, warm == "1")))
        return
    path = args.official_hyenadna
    if path is None:
        print("official standalone HyenaDNA: skipped (no --official-hyenadna PATH given)")
    elif not Path(path).is_file():
        ap.error(f"--official-hyenadna: no such file {path!r}; expected the path to standalone_hyenadna.py")
    models = ["ours-official", "ours-paper"] + (["ours-bf16mm"] if args.bf16_matmul else []) + (["official"] if path else [])
    if args.models:
        models = [m for m in models if m in args.models]
    cells = []  # (section, kind, L, backward)
    for length in args.lengths:
        cells += [("fwd", kind, length, False) for kind in models + ["floor2", "mixer", "floor1"]]
    for length in args.backward_lengths:
        cells += [("fwd+bwd", kind, length, True) for kind in models]
    def write() -> str:  # after every cell, so an interrupted run keeps what it measured
        names = {"ours-official": "ours (official layout)", "ours-paper": "ours (paper layout)",
                 "official": "official standalone", "ours-bf16mm": "ours (official layout, bf16 matmul)", "floor2": "FFT floor x2", "mixer": "hyena mixer alone",
                 "floor1": "FFT floor x1"}
        rows = []
        for cell in [c for c in cells if c in results]:
            section, kind, length, _ = cell
            ok = [r for r in results[cell] if "seconds" in r]
            if not ok:
                rows.append([section, names[kind], length, results[cell][-1].get("error"), "", f"{loads[cell]:.1f}"])
                continue
            rows.append([section, names[kind], length, _fmt_s(statistics.median(r["seconds"] for r in ok)),
                         _fmt_m(statistics.median(r["peak_mib"] for r in ok)), f"{loads[cell]:.1f}"])
        table = markdown_table(["pass", "model", "L", f"median of {args.repeats}", "peak extra memory", "load (1 min)"],
                               rows)
        note = ("\nForward rows: no autograd; our timed call reuses the filter spectra cached by the warm-up call where "
                "they fit in 256 MiB (64k: yes; 256k and longer: no); the official code regenerates its filter each call. "
                "Peak = growth of ru_maxrss over the resident set before the warm-up call, fresh process per cell. "
                f"Lengths {args.single_call_lengths}: one timed call, no warm-up call (and so no cached spectra). "
                "bf16 matmul row: oneDNN's bf16 path for fp32 matmuls (off by default; fp32-level but not equal error).\n")
        if not path:
            note += "\n(official standalone HyenaDNA skipped: no --official-hyenadna PATH given)\n"
        text = (f"# Long convolution: HyenaDNA tiny, ours vs official standalone\n\n"
                f"`OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '?')} python benchmarks/long_conv.py "
                f"{' '.join(sys.argv[1:])}` — batch 1, d_model 128, 2 layers, order 2, filter order 64, "
                f"l_max = L; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n{table}\n{note}")
        Path(args.out).write_text(text)
        return text

    results: dict = {}
    loads: dict = {}
    for rep in range(args.repeats):
        for cell in cells:
            _, kind, length, backward = cell
            warm = "0" if length in args.single_call_lengths else "1"
            r = in_subprocess(__file__, kind, str(length), "1" if backward else "0", path or "-", warm, timeout=1200)
            results.setdefault(cell, []).append(r)
            loads[cell] = os.getloadavg()[0]
            shown = _fmt_s(r["seconds"]) if "seconds" in r else r.get("error")
            peak = _fmt_m(r["peak_mib"]) if "peak_mib" in r else ""
            print(f"rep {rep + 1}: {cell[0]:8s} {kind:14s} L={length:8d} {shown} {peak}", flush=True)
            write()
    print(write())


if __name__ == "__main__":
    main()
