"""The fused CPU selective scan (numba): forward vs forward+backward, 1 and 2 threads.

    python benchmarks/scan_cpu.py            # (B=1, D=256, L=8192, N=16) and (B=2, D=512, L=16384, N=16)
    python benchmarks/scan_cpu.py --repeats 9
    git show REV:kernels/selective_scan.py > /tmp/scan_before.py
    python benchmarks/scan_cpu.py --baseline /tmp/scan_before.py   # an older version, interleaved

Inputs as in a Mamba block: z, D, delta_bias and softplus on, float32. ``forward`` runs without grad;
``forward+backward`` is one forward with grad plus ``y.backward(g)`` (gradients of all eight inputs).
Both are timed interleaved in one process (per repetition: each version, each thread count, forward
then forward+backward): wall clock, median of ``--repeats``, and process CPU time, the minimum; the
load average (1 min) is read beside each row, since other jobs on a shared machine inflate the wall
clock (CPU time suffers less: it does not count the time the process waits for a core). The issue's target is
forward+backward <= 4x the forward. Writes ``benchmarks/results/scan_cpu.md`` (or ``--out``).
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

sys.path.insert(0, str(Path(__file__).parent))
from _measure import markdown_table  # noqa: E402

SHAPES = [(1, 256, 8192, 16), (2, 512, 16384, 16)]


def inputs(b: int, d: int, length: int, n: int) -> dict:
    g = torch.Generator().manual_seed(0)
    x = {"u": torch.randn(b, d, length, generator=g), "delta": torch.randn(b, d, length, generator=g) - 1.5,
         "A": -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1),
         "B": torch.randn(b, n, length, generator=g),
         "C": torch.randn(b, n, length, generator=g), "D": torch.randn(d, generator=g),
         "z": torch.randn(b, d, length, generator=g), "delta_bias": 0.5 * torch.randn(d, generator=g)}
    return {k: v.requires_grad_() for k, v in x.items()}


def load_module(path: Path):
    """A copy of kernels/selective_scan.py from another revision, imported under its own name."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("scan_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # numba's on-disk cache looks the module up by name
    spec.loader.exec_module(module)
    return module


def timings(shape, versions: dict, threads: list[int], repeats: int) -> dict:
    x = inputs(*shape)
    grad = torch.randn(shape[0], shape[1], shape[2])

    def forward(fn):
        with torch.no_grad():
            fn(**x, delta_softplus=True)

    def forward_backward(fn):
        fn(**x, delta_softplus=True).backward(grad)

    times = {(v, t, kind): ([], []) for v in versions for t in threads for kind in ("fwd", "both")}
    loads = []
    before = torch.get_num_threads()
    try:
        for rep in range(repeats + 1):  # the first round compiles / warms up and is not counted
            for v, fn in versions.items():
                for t in threads:
                    torch.set_num_threads(t)
                    for kind, run in (("fwd", forward), ("both", forward_backward)):
                        wall, cpu = time.perf_counter(), time.process_time()
                        run(fn)
                        if rep:
                            times[v, t, kind][0].append(time.perf_counter() - wall)
                            times[v, t, kind][1].append(time.process_time() - cpu)
                    for tensor in x.values():
                        tensor.grad = None
            loads.append(os.getloadavg()[0])
    finally:
        torch.set_num_threads(before)
    # CPU time: the minimum, the least disturbed run (on a shared machine other jobs only ever add to it)
    out = {key: (statistics.median(w), min(c)) for key, (w, c) in times.items()}
    return out | {"load": (min(loads), max(loads))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "scan_cpu.md")
    parser.add_argument("--baseline", type=Path, help="another revision's kernels/selective_scan.py, timed "
                        "interleaved with this one")
    args = parser.parse_args()
    from spanmix.kernels.selective_scan import selective_scan_fused

    versions = {"this": selective_scan_fused}
    if args.baseline:
        versions["baseline"] = load_module(args.baseline).selective_scan_fused
    rows = []
    for shape in SHAPES:
        r = timings(shape, versions, args.threads, args.repeats)
        for v in versions:
            for t in args.threads:
                (fwd, fwd_cpu), (both, both_cpu) = r[v, t, "fwd"], r[v, t, "both"]
                row = [f"B={shape[0]} D={shape[1]} L={shape[2]} N={shape[3]}", v, t, f"{fwd * 1e3:.1f} ms",
                       f"{both * 1e3:.1f} ms", f"**{both / fwd:.2f}x**",
                       f"{fwd_cpu * 1e3:.1f} / {both_cpu * 1e3:.1f} ms",
                       f"{both_cpu / fwd_cpu:.2f}x", f"{r['load'][0]:.1f}-{r['load'][1]:.1f}"]
                rows.append(row)
                print(" | ".join(str(c) for c in row), flush=True)
    env = (f"torch {torch.__version__}, numba {__import__('numba').__version__}, "
           f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    table = markdown_table(["shape", "version", "threads", "forward", "forward+backward", "ratio",
                            "CPU time (min) fwd / fwd+bwd", "CPU ratio", "load avg"], rows)
    text = (f"# Fused CPU selective scan: forward vs forward+backward\n\n`python benchmarks/scan_cpu.py "
            f"--repeats {args.repeats}{f' --baseline {args.baseline}' if args.baseline else ''}` — {env}. "
            f"Median of {args.repeats}, forward and forward+backward interleaved in one process; z, D, "
            "delta_bias, softplus on; float32. `ratio` = forward+backward / forward, wall clock (target "
            "<= 4x); CPU time is the process's (all threads), the minimum over the repetitions. "
            "`load avg` is the 1-minute load average over the run: the machine has 2 cores, so above ~2 "
            "other jobs took time from every column.\n\n" + table + "\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
