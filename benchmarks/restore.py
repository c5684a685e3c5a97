"""Restore benchmark -> ``benchmarks/results/restore.md``.

1. PSNR / SSIM on the two shipped test images (chelsea, motorcycle; **synthetic degradation of real
   images**, the data module's seeds) of MaIR vs the baselines: bicubic (SR) or the degraded input itself,
   the plain CNN and MaIR with ``scan: raster`` (the records of ``spanmix weights build restore --all`` in
   ``pretrained/restore``);
2. parameter counts of every official config vs the published figures;
3. CPU milliseconds per megapixel of input (forward, batch 1, no grad) at the lightweight configs and the
   shipped tiny one, and the share of that time spent inside the selective scan.

    python benchmarks/restore.py [--side 64] [--repeats 3]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "restore.md"


def _baselines() -> dict[str, tuple[float, float]]:
    """task -> mean (PSNR, SSIM) of the no-learning baseline on the shipped test images."""
    from spanmix.apps.restore.data import RestoreDataModule
    from spanmix.apps.restore.metrics import psnr, ssim
    from spanmix.datasets.restore import imresize

    out = {}
    for task, kw in (("sr", {"scale": 2}), ("denoise", {"sigma": 25}), ("deblur", {}), ("dehaze", {})):
        dm = RestoreDataModule(task=task, **kw)
        ps, ss = [], []
        for batch in dm.test_dataloader():
            lq, gt = batch["lq"], batch["gt"]
            base = imresize(lq.double(), 2).float() if task == "sr" else lq
            q = (base.clamp(0, 1) * 255).round() / 255
            conv = dict(crop_border=2, y_channel=True) if task == "sr" else {}
            ps.append(float(psnr(q, gt, **conv)[0]))
            ss.append(float(ssim(q, gt, **conv)[0]))
        out[task] = (sum(ps) / len(ps), sum(ss) / len(ss))
    return out


def _timing(side: int, repeats: int) -> list[tuple[str, int, float, float]]:
    import spanmix.apps.restore.models.mair as mair_mod
    from spanmix.apps.restore.models import build_official, count_parameters
    from spanmix.apps.restore.models.mair import MaIR

    spent = [0.0]
    scan = mair_mod.selective_scan

    def timed_scan(*a, **k):
        t = time.perf_counter()
        y = scan(*a, **k)
        spent[0] += time.perf_counter() - t
        return y

    rows = []
    nets = [("light_sr_s_x2 (official)", build_official("light_sr_s_x2")),
            ("light_sr_t_x2 (official)", build_official("light_sr_t_x2")),
            ("shipped tiny x2", MaIR(embed_dim=16, depths=(2, 2), d_state=4, ssm_ratio=1.2, mlp_ratio=1.5,
                                     scan_len=4, upscale=2))]
    x = torch.rand(1, 3, side, side)
    mair_mod.selective_scan = timed_scan
    try:
        for name, net in nets:
            net.eval()
            with torch.no_grad():
                net(x)  # warm-up (numba compile)
                times, scans = [], []
                for _ in range(repeats):
                    spent[0] = 0.0
                    t = time.perf_counter()
                    net(x)
                    times.append(time.perf_counter() - t)
                    scans.append(spent[0])
            best = min(range(repeats), key=lambda i: times[i])
            rows.append((name, count_parameters(net), times[best] * 1e3 / (side * side / 1e6), scans[best] / times[best]))
    finally:
        mair_mod.selective_scan = scan
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=64, help="input side for the timing (pixels)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weights", default=str(ROOT / "pretrained" / "restore"),
                        help="the --out folder of `spanmix weights build restore` (default: the shipped one)")
    ns = parser.parse_args(argv)
    from spanmix.apps.restore.models import OFFICIAL_CONFIGS, PUBLISHED_PARAMS, build_official, count_parameters

    load_before = os.getloadavg()[0]
    lines = ["# Restore benchmark", "",
             f"`python benchmarks/restore.py --side {ns.side} --repeats {ns.repeats}`; torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; load average {load_before:.1f} at the start (2 shared cores).", ""]

    from spanmix.apps.harness.weights import records as built_records
    from spanmix.apps.restore.weights import RESTORE

    records = built_records(RESTORE, Path(ns.weights))
    base = _baselines()
    lines += ["## PSNR / SSIM on the shipped test images (synthetic degradation of real images)", "",
              "Two 256x256 test images, never trained on; SR x2 on Y with crop_border 2, the other tasks on RGB. "
              "Learned rows: the tiny CPU-trained models of `pretrained/restore/METRICS.md` (a few minutes of "
              "training each: far from converged).", "",
              "| task | model | parameters | PSNR (dB) | SSIM |", "|---|---|---|---|---|"]
    names = {"sr": "bicubic (MATLAB imresize)", "denoise": "noisy input", "deblur": "blurred input",
             "dehaze": "hazy input"}
    for task in ("sr", "denoise", "deblur", "dehaze"):
        p, s = base[task]
        lines.append(f"| {task} | {names[task]} | 0 | {p:.2f} | {s:.4f} |")
        for entry, r in records.items():
            if r.get("task") == task:
                lines.append(f"| {task} | {r['label']} (`{entry}`) | {r['parameters']:,} | "
                             f"{r['test']['test/psnr']:.2f} | {r['test']['test/ssim']:.4f} |")
    if not records:
        lines.append("| | (no trained entries: run `spanmix weights build restore --all`) | | | |")

    lines += ["", "## Parameters of the official configs", "",
              "Ours = the official code's count for every option file (compared module by module; "
              "`tests/apps/restore/test_mair.py`).", "",
              "| config | ours | published |", "|---|---|---|"]
    for name in OFFICIAL_CONFIGS:
        with torch.device("meta"):
            n = count_parameters(build_official(name))
        pub = PUBLISHED_PARAMS.get(name, (None, "not published"))[1]
        lines.append(f"| {name} | {n:,} | {pub} |")

    lines += ["", f"## CPU time per megapixel ({ns.side}x{ns.side} input, batch 1, forward, best of {ns.repeats})", "",
              "| model | parameters | ms per Mpx | selective-scan share |", "|---|---|---|---|"]
    for name, n, ms, share in _timing(ns.side, ns.repeats):
        lines.append(f"| {name} | {n:,} | {ms:,.0f} | {share:.0%} |")
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.1f}. On a machine this loaded the times are upper "
              "bounds, several times the idle figures."]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
