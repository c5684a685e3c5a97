"""Speed and memory of every mixer and of each kernel's fast path against its reference.

    python benchmarks/mixers.py            # full tables (about 20-30 min on 2 cores)
    python benchmarks/mixers.py --quick    # L in {1k, 4k} only

Writes ``benchmarks/results/mixers.md`` (or ``--out``). Each measurement runs in a fresh subprocess;
a configuration is skipped when the previous length's time or memory says it would not fit the budget.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _measure import in_subprocess, markdown_table, measure  # noqa: E402

DIM = 256
LENGTHS = [1024, 4096, 16384, 65536]
TIME_BUDGET_S = 60.0
MEMORY_BUDGET_MIB = 12 * 1024
MIXER_OPTIONS = {
    "full": dict(heads=4, causal=True),
    "local": dict(heads=4, window=256, causal=True),
    "ls": dict(heads=4, window=256, causal=True),
    "probsparse": dict(heads=4, causal=True),
    "conv": dict(causal=True),
}


# ----------------------------------------------------------------------------- workers (--one)
def run_mixer(name: str, length: int) -> dict:
    from spanmix.backbone import build_mixer

    mixer = build_mixer(name, DIM, **MIXER_OPTIONS.get(name, {}))
    x = torch.randn(1, length, DIM, requires_grad=True)

    def fwd_bwd():
        mixer(x).sum().backward()

    return measure(fwd_bwd, budget_s=TIME_BUDGET_S)


def run_kernel(kernel: str, impl: str, length: int, backward: bool) -> dict:
    from spanmix.kernels import fft_conv, fft_conv_ref, local_attention, local_attention_ref
    from spanmix.kernels.selective_scan import selective_scan, selective_scan_chunked, selective_scan_ref

    torch.manual_seed(0)
    if kernel == "selective_scan":
        d, n = 256, 16
        fn = {"ref": selective_scan_ref, "chunked": selective_scan_chunked, "fast": selective_scan}[impl]
        args = [torch.randn(1, d, length), torch.randn(1, d, length) - 4.0,
                -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1),
                torch.randn(1, n, length), torch.randn(1, n, length), torch.ones(d)]
        kwargs = dict(delta_softplus=True)
    elif kernel == "local_attention":
        fn = {"ref": local_attention_ref, "fast": local_attention}[impl]
        args = [torch.randn(1, 8, length, 64) for _ in range(3)]
        kwargs = dict(window=256, causal=True)
    elif kernel == "fft_conv":
        fn = {"ref": fft_conv_ref, "fast": fft_conv}[impl]
        args = [torch.randn(1, 128, length), torch.randn(128, length) / length, torch.randn(128)]
        kwargs = {}
    else:
        raise ValueError(kernel)
    for a in args:
        a.requires_grad_(backward)

    def call():
        out = fn(*args, **kwargs)
        if backward:
            out.sum().backward()

    with torch.set_grad_enabled(backward):
        return measure(call, budget_s=TIME_BUDGET_S)


def run_hyena_lm(length: int) -> dict:
    from spanmix.backbone import MixerStack

    stack = MixerStack(128, "hyena*2").eval()
    x = torch.randn(1, length, 128)
    with torch.no_grad():
        return measure(lambda: stack(x), repeats=1, budget_s=TIME_BUDGET_S * 10)


# ----------------------------------------------------------------------------- driver
def mixer_table(lengths: list[int]) -> str:
    from spanmix.backbone import list_mixers

    rows = []
    for name in list_mixers():
        row, last = [name], None
        for length in lengths:
            growth = length / lengths[lengths.index(length) - 1] if length != lengths[0] else 1
            if last and ("error" in last or last["seconds"] * growth > TIME_BUDGET_S
                         or last["peak_mib"] * growth > MEMORY_BUDGET_MIB):
                row.append("skipped")
                continue
            last = in_subprocess(__file__, "mixer", name, str(length))
            row.append(cell(last))
            print(f"  {name:10s} L={length:6d}: {row[-1]}", flush=True)
        rows.append(row)
    return markdown_table(["mixer"] + [f"L={n // 1024}k" for n in lengths], rows)


def kernel_table() -> str:
    cases = [("selective_scan", 8192, ["ref", "chunked", "fast"]),
             ("local_attention", 4096, ["ref", "fast"]),
             ("local_attention", 65536, ["fast"]),
             ("fft_conv", 4096, ["ref", "fast"]),
             ("fft_conv", 65536, ["fast"])]
    rows = []
    for kernel, length, impls in cases:
        results = {}
        for impl in impls:
            for backward in (False, True):
                r = in_subprocess(__file__, "kernel", kernel, impl, str(length), str(int(backward)))
                results[impl, backward] = r
                print(f"  {kernel} {impl} L={length} bwd={backward}: {cell(r)}", flush=True)
        for impl in impls:
            fwd, both = results[impl, False], results[impl, True]
            speedup = ""
            if impl != "ref" and ("ref", False) in results and "error" not in fwd and "error" not in results["ref", False]:
                speedup = f"{results['ref', False]['seconds'] / fwd['seconds']:.1f}x / " + (
                    f"{results['ref', True]['seconds'] / both['seconds']:.1f}x" if "error" not in both else "-")
            rows.append([kernel, f"{length // 1024}k", impl, cell(fwd), cell(both), speedup])
    return markdown_table(["kernel", "L", "path", "forward", "forward+backward", "speed-up vs ref (fwd / fwd+bwd)"], rows)


def cell(result: dict) -> str:
    if "error" in result:
        return f"error: {result['error']}"
    seconds = result["seconds"]
    t = f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"
    return f"{t}, {result['peak_mib']:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="L in {1k, 4k} only, no 1M Hyena run")
    parser.add_argument("--sections", nargs="+", choices=["mixers", "kernels", "hyena"],
                        default=["mixers", "kernels", "hyena"], help="which tables to make")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "mixers.md")
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(2)

    if args.one:
        kind, *rest = args.one
        if kind == "mixer":
            result = run_mixer(rest[0], int(rest[1]))
        elif kind == "kernel":
            result = run_kernel(rest[0], rest[1], int(rest[2]), bool(int(rest[3])))
        else:
            result = run_hyena_lm(int(rest[0]))
        print(json.dumps(result))
        return

    lengths = LENGTHS[:2] if args.quick else LENGTHS
    env = f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
    print(f"Mixers, forward+backward, B=1, D={DIM} ({env})", flush=True)
    load = os.getloadavg()[0]
    noisy = f" Load average at start {load:.1f}: other jobs shared the 2 cores." if load > 1.5 else ""
    sections = [f"# Mixer benchmarks\n\n`python benchmarks/mixers.py{' --quick' if args.quick else ''}` — {env}.{noisy}\n"]
    if "mixers" in args.sections:
        sections.append(f"## Every mixer: forward+backward time, peak extra memory (B=1, D={DIM}, causal)\n\n"
                        "Attention mixers use 4 heads of 64; `local`/`ls` a window of 256.\n\n" + mixer_table(lengths))
    if "kernels" in args.sections:
        print("Kernels, fast path vs reference", flush=True)
        sections.append("## Kernels: fast path vs reference\n\nselective scan: D=256, N=16; local attention: "
                        "8 heads of 64, w=256, causal; fft_conv: 128 channels, full-length kernel.\n\n"
                        + kernel_table())
    if "hyena" in args.sections and not args.quick:
        length = 2**20
        print("Hyena, 2 layers, D=128, L=1M, forward", flush=True)
        r = in_subprocess(__file__, "hyena", str(length), timeout=1800)
        sections.append("## Hyena at a million tokens\n\n`MixerStack(128, \"hyena*2\")`, forward (no grad), "
                        f"B=1, L={length:,}: **{cell(r)}**.")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n\n".join(sections) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
