"""GPU kernels: the Triton selective scan and sliding-window attention against the PyTorch paths.

    python benchmarks/kernels.py            # CUDA machine: GPU correctness check, timings, memory,
                                            # roofline; then the --ptxas table
    python benchmarks/kernels.py --quick    # L in {2k, 8k} only, short --ptxas sweep
    python benchmarks/kernels.py --no-ptxas --only attention --no-flex   # pieces of a run
    python benchmarks/kernels.py --ptxas    # any machine, no GPU needed: compile every kernel
                                            # configuration for sm_90a (H100/H200), registers/spills

Writes ``benchmarks/results/kernels.md`` (or ``--out``).

Timings (CUDA only): median of CUDA-event timings after one warm-up call, peak memory as
``torch.cuda.max_memory_allocated()`` above what was allocated before the call. Shapes from issue #7:
selective scan B=1, D=1024, N=16, float32, with z, D, delta_bias and softplus; attention B=1, 16 heads
of 64, window 256, causal, bfloat16; L in {2k, 8k, 32k, 128k}. Paths: ``triton`` (kernels/triton_*.py),
``pytorch`` (the chunked scan / the blocked-SDPA attention: what CUDA tensors got before the Triton
kernels), ``reference`` (the loop / the dense L x L mask; only where its projected time fits
``--ref-budget``), ``flex`` (``torch.nn.attention.flex_attention`` compiled, with a sliding-window
block mask; its compile time is in the warm-up call, not in the median). Out-of-memory is reported as
such. Achieved bandwidth = minimal DRAM bytes of the operation / time, achieved FLOP/s = useful FLOPs /
time (``scan_cost``, ``attention_cost``), each against the card's peak from ``PEAKS``.

``--ptxas`` runs ``triton.compile`` for a ``GPUTarget("cuda", 90, 32)`` on this machine (Triton's
pipeline and the ptxas shipped with Triton): registers, spill bytes and shared memory of each kernel
configuration on Hopper. Spill-free is a precondition for speed, not a measure of it.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

DEVICE = "cuda"  # every tensor the timings make; a smoke test may point it at the interpreter
LENGTHS = [2048, 8192, 32768, 131072]
SCAN = dict(batch=1, dim=1024, state=16)
ATTN = dict(batch=1, heads=16, head_dim=64, window=256, causal=True, dtype=torch.bfloat16)

# Peak figures per card (substring of torch.cuda.get_device_name() -> numbers), most specific first.
# Source: NVIDIA's H200 / H100 product pages and datasheets (nvidia.com/en-us/data-center/h200/ and
# .../h100/). Their tensor-core figures are quoted "with sparsity"; the dense peaks here are half.
# H200 SXM: HBM3e 4.8 TB/s, FP32 67 TFLOP/s (CUDA cores), BF16 tensor 1,979 sparse -> 989 dense.
# H200 NVL: 4.8 TB/s, FP32 60, BF16 1,671 sparse -> 835 dense. H100 SXM: 3.35 TB/s, 67, 989 dense.
PEAKS = {
    "H200 NVL": dict(bandwidth=4.8e12, fp32=60e12, bf16=835e12),
    "H200": dict(bandwidth=4.8e12, fp32=67e12, bf16=989e12),
    "H100 80GB HBM3": dict(bandwidth=3.35e12, fp32=67e12, bf16=989e12),
}


def card_peaks(name: str) -> dict | None:
    return next((peaks for key, peaks in PEAKS.items() if key in name), None)


# --------------------------------------------------------------------------------------------- costs

def scan_cost(batch, dim, state, length, backward, chunk=64) -> tuple[int, int]:
    """(minimal DRAM bytes, useful FLOPs) of the float32 scan with z, D and delta_bias.

    Forward reads u, delta, z (B, D, L) and B, C (B, N, L) and writes y; with gradients it also writes
    the chunk-start states (B, D, N, L / chunk). The backward reads u, delta, z, dy, B, C and the
    states and writes du, ddelta, dz, dB, dC. FLOPs: 7 per state element and step forward (dt·A, exp,
    a·h + b, dt·u·B, h·C + sum); the backward recomputes the forward (7) and runs the adjoint (~12)."""
    bdl, bnl = batch * dim * length, batch * state * length
    states = batch * dim * state * -(-length // chunk)
    elems = batch * dim * state * length
    if not backward:
        return 4 * (4 * bdl + 2 * bnl), 7 * elems
    return 4 * ((4 * bdl + 2 * bnl + states) + (7 * bdl + 4 * bnl + states)), (7 + 7 + 12) * elems


def visible_pairs(length: int, window: int, causal: bool) -> int:
    """Number of (query, key) pairs inside the window."""
    w = min(window, length)
    if causal:  # sum_i min(i + 1, w)
        return w * (w + 1) // 2 + (length - w) * w
    i = torch.arange(length)
    return int((torch.clamp(i + w - 1, max=length - 1) - torch.clamp(i - w + 1, min=0) + 1).sum())


def attention_cost(batch, heads, head_dim, length, window, causal, backward, itemsize=2) -> tuple[int, int]:
    """(minimal DRAM bytes, useful FLOPs): 2 matmuls of 2·d FLOPs per visible pair forward, 5 backward
    (the FlashAttention count: backward = 2.5 x forward). Bytes: q, k, v, o (+ dO, dq, dk, dv)."""
    fwd_flops = 4 * head_dim * batch * heads * visible_pairs(length, window, causal)
    tensor = batch * heads * length * head_dim * itemsize
    return (4 * tensor, fwd_flops) if not backward else (8 * tensor, int(3.5 * fwd_flops))


# ----------------------------------------------------------------------------------- ptxas (no GPU)

def ptxas_rows(quick: bool = False) -> list[list]:
    """Compile each kernel (every optional input on) for sm_90a in several configurations."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        raise SystemExit("--ptxas compiles real kernels: unset TRITON_INTERPRET")
    from spanmix.kernels import triton_local_attention as tla
    from spanmix.kernels import triton_selective_scan as tss
    from spanmix.kernels.triton_aot import attention_signature, compile_for, resource_usage, scan_signature

    flags = dict(HAS_D=True, HAS_Z=True, HAS_BIAS=True, SOFTPLUS=True, BLOCK_N=16)
    fwd_sizes = ((32, (4, 8, 16)), (64, (2, 4, 8)), (128, (2, 4)))
    bwd_sizes = ((32, (4, 8)), (64, (1, 2, 4)), (128, (1, 2)))
    fwd = [(t, bd, w) for t, bds in fwd_sizes for bd in bds for w in (4, 8)]
    bwd = [(t, bd, w) for t, bds in bwd_sizes for bd in bds for w in (4, 8)]
    attn = [("bf16", None, bm, bn, w) for bm, bn in ((64, 64), (128, 64), (64, 32)) for w in (4, 8)]
    attn += [("fp32", "ieee", bm, bn, w) for bm, bn in ((16, 32), (32, 32), (64, 32)) for w in (4, 8)]
    attn += [("fp32", "tf32", 64, 64, 4), ("fp32", "tf32", 64, 32, 4)]
    if quick:
        fwd, bwd, attn = fwd[6:8], bwd[4:6], attn[:2]
    jobs = [(tss._scan_fwd_kernel, "fp32", {**flags, "STORE": True, "T": t, "BLOCK_D": bd}, w)
            for t, bd, w in fwd]
    jobs += [(tss._scan_bwd_kernel, "fp32", {**flags, "HAS_GH": True, "ATOMIC": True, "T": t, "BLOCK_D": bd},
              w) for t, bd, w in bwd]
    for dtype, prec, bm, bn, w in attn:
        c = dict(CAUSAL=True, HAS_KPM=False, DOT_PREC=prec, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=64)
        for fn in (tla._attn_fwd_kernel, tla._attn_bwd_dkdv_kernel, tla._attn_bwd_dq_kernel):
            jobs.append((fn, dtype + (f"/{prec}" if prec else ""), c, w))
    rows = []
    for fn, dtype, consts, warps in jobs:
        sig = (scan_signature if "scan" in fn.__name__ else attention_signature)(fn, dtype.split("/")[0])
        r = resource_usage(compile_for(fn, sig, consts, num_warps=warps, num_stages=2))
        shown = ", ".join(f"{k}={v}" for k, v in consts.items()
                          if k in ("T", "BLOCK_D", "BLOCK_M", "BLOCK_N"))
        rows.append([fn.__name__.strip("_"), dtype, f"{shown}, warps={warps}", r["regs"], r["stack"],
                     f"{r['shared'] / 1024:.0f}", "yes" if r["mma"] else "no"])
        print("  " + " | ".join(str(x) for x in rows[-1]), flush=True)
    return rows


# ------------------------------------------------------------------------------------- CUDA timings

def cuda_time(fn, budget_s: float = 2.0, max_reps: int = 20) -> dict:
    """Median milliseconds over CUDA events after one warm-up call; peak memory (MiB) above the start."""
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    fn()  # warm-up: compilation, allocator
    torch.cuda.synchronize()
    first = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    reps = max(1, min(max_reps, int(budget_s / max(first, 1e-4))))
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return {"ms": statistics.median(times), "peak_mib": peak, "reps": reps, "first_s": first}


def guarded(fn) -> dict:
    try:
        return fn()
    except torch.cuda.OutOfMemoryError:
        return {"error": "out of memory"}
    except Exception as exc:  # noqa: BLE001 -- one failing path must not end the benchmark
        first_line = str(exc).splitlines()[0][:100] if str(exc) else ""
        return {"error": f"{type(exc).__name__}: {first_line}"}
    finally:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def scan_inputs(b, d, n, length, requires_grad, seed=0):
    g = torch.Generator(device=DEVICE).manual_seed(seed)
    kw = dict(device=DEVICE, generator=g)
    x = dict(u=torch.randn(b, d, length, **kw), delta=torch.randn(b, d, length, **kw) - 4.0,
             A=-torch.arange(1, n + 1, dtype=torch.float32, device=DEVICE).repeat(d, 1),
             B=torch.randn(b, n, length, **kw), C=torch.randn(b, n, length, **kw),
             D=torch.ones(d, device=DEVICE), z=torch.randn(b, d, length, **kw),
             delta_bias=0.1 * torch.randn(d, **kw))
    return {k: v.requires_grad_(requires_grad) for k, v in x.items()}


def scan_case(path: str, length: int, backward: bool) -> dict:
    from spanmix.kernels.selective_scan import selective_scan_chunked, selective_scan_ref
    from spanmix.kernels.triton_selective_scan import selective_scan_triton

    fn = {"triton": selective_scan_triton, "pytorch": selective_scan_chunked,
          "reference": selective_scan_ref}[path]
    x = scan_inputs(SCAN["batch"], SCAN["dim"], SCAN["state"], length, backward)
    gy = torch.randn_like(x["u"])

    def call():
        with torch.set_grad_enabled(backward):
            y = fn(**x, delta_softplus=True)
            if backward:
                y.backward(gy)
                for t in x.values():
                    t.grad = None

    return cuda_time(call)


def attention_fn(path: str, length: int, q, k, v, window: int, causal: bool):
    from spanmix.kernels.local_attention import _local_attention_blocked, local_attention_ref
    from spanmix.kernels.triton_local_attention import local_attention_triton

    if path == "triton":
        return lambda: local_attention_triton(q, k, v, window, causal)
    if path == "pytorch":
        return lambda: _local_attention_blocked(q, k, v, window, causal, None, None, None)
    if path == "reference":
        return lambda: local_attention_ref(q, k, v, window, causal)
    if path == "flex":
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention

        def band(b, h, qi, kj):
            return ((qi >= kj) & (qi - kj < window)) if causal else ((qi - kj < window) & (kj - qi < window))

        mask = create_block_mask(band, B=None, H=None, Q_LEN=length, KV_LEN=length, device=DEVICE,
                                 _compile=True)
        flex = torch.compile(flex_attention, dynamic=False)
        return lambda: flex(q, k, v, block_mask=mask)
    raise ValueError(path)


def attention_case(path: str, length: int, backward: bool) -> dict:
    B, H, d = ATTN["batch"], ATTN["heads"], ATTN["head_dim"]
    g = torch.Generator(device=DEVICE).manual_seed(0)
    q, k, v = (torch.randn(B, H, length, d, device=DEVICE, generator=g, dtype=ATTN["dtype"])
               .requires_grad_(backward) for _ in range(3))
    gout = torch.randn_like(q)
    fn = attention_fn(path, length, q, k, v, ATTN["window"], ATTN["causal"])

    def call():
        with torch.set_grad_enabled(backward):
            out = fn()
            if backward:
                out.backward(gout)
                q.grad = k.grad = v.grad = None

    return cuda_time(call)


def timing_rows(kind: str, lengths: list[int], paths: list[str], ref_budget_s: float, peaks: dict | None):
    rows = []
    for backward in (False, True):
        for path in paths:
            last = None
            for length in lengths:
                label = [path, "fwd+bwd" if backward else "fwd", f"{length // 1024}k"]
                if path == "reference" and kind == "attention" and length > 16384:
                    rows.append(label + ["skipped: the L x L scores alone exceed 16 GB", "", "", ""])
                    continue
                if path == "reference" and last is not None:
                    growth = (length / last[0]) ** (2 if kind == "attention" else 1)
                    if "error" in last[1] or last[1]["ms"] / 1e3 * growth > ref_budget_s:
                        rows.append(label + [f"skipped: projected > {ref_budget_s:.0f} s", "", "", ""])
                        continue
                case = scan_case if kind == "scan" else attention_case
                r = guarded(lambda: case(path, length, backward))
                last = (length, r)
                if kind == "scan":
                    nbytes, flops = scan_cost(SCAN["batch"], SCAN["dim"], SCAN["state"], length, backward)
                    peak_flops = peaks["fp32"] if peaks else None
                else:
                    nbytes, flops = attention_cost(ATTN["batch"], ATTN["heads"], ATTN["head_dim"], length,
                                                   ATTN["window"], ATTN["causal"], backward)
                    peak_flops = peaks["bf16"] if peaks else None
                rows.append(label + cells(r, nbytes, flops, peaks, peak_flops))
                print("  " + " | ".join(rows[-1]), flush=True)
    return rows


def cells(r: dict, nbytes: int, flops: int, peaks: dict | None, peak_flops: float | None) -> list[str]:
    if "error" in r:
        return [r["error"], "", "", ""]
    s = r["ms"] / 1e3
    bw, fl = nbytes / s, flops / s
    bw_cell = f"{bw / 1e9:.0f} GB/s" + (f" ({100 * bw / peaks['bandwidth']:.0f}%)" if peaks else "")
    fl_cell = f"{fl / 1e12:.2f}" + (f" ({100 * fl / peak_flops:.1f}%)" if peak_flops else "")
    return [f"{r['ms']:.3f} ms ({r['reps']} reps)", f"{r['peak_mib']:.0f} MiB", bw_cell, fl_cell]


def gpu_correctness_rows(length: int = 1000, dim: int = 64, heads: int = 4, head_dim: int = 64,
                         window: int = 100) -> list[list]:
    """Max |error| / max |reference| of the Triton kernels on the GPU (outputs and every gradient)."""
    from spanmix.kernels import local_attention_ref, selective_scan_ref
    from spanmix.kernels.triton_local_attention import local_attention_triton
    from spanmix.kernels.triton_selective_scan import selective_scan_triton

    def rel(a, b):
        err = (a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12)
        return f"{err.item():.1e}"

    rows = []
    x = scan_inputs(2, dim, 16, length, True, seed=1)
    y, h = selective_scan_triton(**x, delta_softplus=True, return_last_state=True)
    y_r, h_r = selective_scan_ref(**x, delta_softplus=True, return_last_state=True)
    names = list(x)
    g = torch.autograd.grad(y.sum() + h.sum(), [x[k] for k in names])
    g_r = torch.autograd.grad(y_r.sum() + h_r.sum(), [x[k] for k in names])
    rows.append([f"selective scan, fp32, B=2 D={dim} N=16 L={length}", rel(y, y_r),
                 ", ".join(f"{k} {rel(a, b)}" for k, a, b in zip(names, g, g_r))])
    for dtype, causal in ((torch.float32, True), (torch.float32, False), (torch.bfloat16, True)):
        gen = torch.Generator(device=DEVICE).manual_seed(2)
        q, k, v = (torch.randn(2, heads, length, head_dim, device=DEVICE, generator=gen).to(dtype)
                   .requires_grad_() for _ in range(3))
        kpm = torch.rand(2, length, device=DEVICE, generator=gen) < 0.8
        out = local_attention_triton(q, k, v, window, causal, kpm)
        qr, kr, vr = (t.detach().double().requires_grad_() for t in (q, k, v))
        ref = local_attention_ref(qr, kr, vr, window, causal, kpm)
        go = torch.randn_like(out)
        g = torch.autograd.grad(out, (q, k, v), go)
        g_r = torch.autograd.grad(ref, (qr, kr, vr), go.double())
        rows.append([f"attention, {str(dtype)[6:]}, {'causal' if causal else 'non-causal'}, padded, "
                     f"B=2 H={heads} L={length} d={head_dim} w={window}", rel(out, ref),
                     ", ".join(f"d{n} {rel(a, b)}" for n, a, b in zip("qkv", g, g_r))])
    for row in rows:
        print("  " + " | ".join(row), flush=True)
    return rows


def markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- driver

PTXAS_HEADER = """## Hopper resource use of each kernel configuration (`--ptxas`: compiled on the CPU, no GPU)

`spanmix.kernels.triton_aot.compile_for` (`triton.compile(..., target=GPUTarget("cuda", 90, 32))` and
the ptxas shipped with Triton {triton}), read back with `cuobjdump -res-usage`; num_stages = 2. Every
optional scan input on (D, z, delta_bias, softplus), N = 16; attention causal, d = 64, no padding
mask. `stack` > 0 means register spills to local memory; `shared` is the shared memory in KiB; `mma`:
the matmuls compiled to tensor-core instructions. The launch configurations in kernels/triton_*.py
were picked among the spill-free rows (for d = 128 from a similar sweep); tests/kernels/
test_triton_compile.py compiles exactly the configurations they launch (num_stages included) and
fails if one spills.

"""
NOT_MEASURED = """**What this file does not contain: any GPU timing.** No time, peak memory, bandwidth or
TFLOP/s of the Triton kernels, the PyTorch paths or FlexAttention has been measured: no GPU was lent
while the kernels were written. Those tables are owed; `python benchmarks/kernels.py` on a CUDA
machine writes them into this file (plus a correctness check on that GPU). What *was* checked without
a GPU: outputs and every gradient against the references in Triton's CPU interpreter
(tests/kernels/test_triton_selective_scan.py, test_triton_local_attention.py), and that every launch
configuration compiles for Hopper without register spills (the table below;
tests/kernels/test_triton_compile.py). Interpreter timings are not performance and are not reported.
"""
TIMING_HEADER = ["path", "pass", "L", "time (median)", "peak extra memory", "bandwidth (% of peak)",
                 "TFLOP/s (% of peak)"]


def gpu_sections(args, versions: str) -> list[str]:
    if not torch.cuda.is_available():
        sys.exit("benchmarks/kernels.py: the timings need a CUDA GPU (torch.cuda.is_available() is "
                 "False). Run with --ptxas to compile the kernels for sm_90a here and report their resource "
                 "use; correctness on the CPU is covered by tests/kernels/test_triton_*.py (Triton's "
                 "interpreter).")
    if os.environ.get("TRITON_INTERPRET") == "1":
        sys.exit("benchmarks/kernels.py: unset TRITON_INTERPRET (the interpreter is not for timing)")
    name = torch.cuda.get_device_name()
    peaks = card_peaks(name)
    lengths = LENGTHS[:2] if args.quick else LENGTHS
    note = (f"Peaks used: {peaks['bandwidth'] / 1e12:.2f} TB/s, FP32 {peaks['fp32'] / 1e12:.0f} TFLOP/s, "
            f"BF16 dense {peaks['bf16'] / 1e12:.0f} TFLOP/s (`PEAKS` in the script)." if peaks
            else "No peak figures are known for this card, so no % of peak.")
    out = [f"# GPU kernels: Triton vs PyTorch vs reference\n\n`python benchmarks/kernels.py"
           f"{' --quick' if args.quick else ''}` on **{name}** — {versions}. {note}\n"]
    print(f"correctness on {name}", flush=True)
    out.append("## Correctness on this GPU (max |error| / max |reference|; reference in fp32/fp64)\n\n"
               + markdown_table(["case", "output", "gradients"], gpu_correctness_rows()))
    if "scan" in args.only:
        print("selective scan", flush=True)
        out.append("## Selective scan (B=1, D=1024, N=16, float32, z + D + delta_bias + softplus)\n\n"
                   "`pytorch` = `selective_scan_chunked` (chunks of 32, autograd); `reference` = the "
                   "loop over L. Bandwidth counts the minimal DRAM traffic (`scan_cost`); FLOP/s are the "
                   "useful FLOPs against the FP32 (CUDA-core) peak.\n\n"
                   + markdown_table(TIMING_HEADER, timing_rows(
                       "scan", lengths, ["triton", "pytorch", "reference"], args.ref_budget, peaks)))
    if "attention" in args.only:
        paths = ["triton", "pytorch", "reference"] + ([] if args.no_flex else ["flex"])
        print("sliding-window attention", flush=True)
        out.append("## Sliding-window attention (B=1, 16 heads x 64, window 256, causal, bfloat16)\n\n"
                   "`pytorch` = the blocked SDPA path (`_local_attention_blocked`); `reference` = dense "
                   "L x L mask; `flex` = `torch.compile(flex_attention)` with `create_block_mask(..., "
                   "_compile=True)` (compile time is in the warm-up call, not in the median). FLOP/s "
                   "against the dense BF16 tensor-core peak.\n\n" + markdown_table(TIMING_HEADER, timing_rows(
                       "attention", lengths, paths, args.ref_budget, peaks)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="L in {2k, 8k} only and a short --ptxas sweep")
    parser.add_argument("--ptxas", action="store_true", help="only the compile-time resource table (no GPU)")
    parser.add_argument("--no-ptxas", action="store_true", help="timings only")
    parser.add_argument("--only", nargs="+", choices=["scan", "attention"], default=["scan", "attention"],
                        help="which timing tables to make")
    parser.add_argument("--no-flex", action="store_true", help="leave out FlexAttention (its compiles)")
    parser.add_argument("--ref-budget", type=float, default=10.0,
                        help="skip a reference run whose projected time exceeds this many seconds")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "kernels.md")
    args = parser.parse_args()
    import triton

    versions = f"torch {torch.__version__}, triton {triton.__version__}, Python {platform.python_version()}"
    if args.ptxas:
        sections = ["# GPU kernels: compile-time resource use only\n\n"
                    f"`python benchmarks/kernels.py --ptxas{' --quick' if args.quick else ''}` — "
                    f"{versions}, on a machine without a GPU.\n\n" + NOT_MEASURED]
    else:
        sections = gpu_sections(args, versions)
    if not args.no_ptxas:
        print("ptxas resource table (sm_90a)", flush=True)
        rows = ptxas_rows(args.quick)
        sections.append(PTXAS_HEADER.format(triton=triton.__version__) + markdown_table(
            ["kernel", "dtype", "config", "registers", "stack (B)", "shared (KiB)", "mma"], rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n\n".join(sections) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
