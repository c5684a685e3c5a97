"""Video benchmarks (ASD part): LoCoNet vs its audio-only and visual-only heads vs LoCoNet with the long-term
layer swapped (``local``, ``mamba``), same budget, on the COMPOSITED test split; and the pipeline's frames per
second on this CPU with each stage's share.

    python benchmarks/video.py                       # trains 3 runs (parallel), tests them, times the pipeline
    python benchmarks/video.py --collect-only        # rebuild the table from finished runs
    python benchmarks/video.py --only-pipeline --weights pretrained/video/loconet_composite_tiny
    python benchmarks/video.py --lvmae               # the LV-MAE part instead: benchmarks/video_lvmae.py

Writes ``benchmarks/results/video.md``. The audio-only and visual-only rows are the heads of the ``full`` run
(trained jointly with the AV head, as in the paper's ablation of the auxiliary losses).
"""
from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "apps/video/asd/configs/loconet_composite_tiny.yaml"
RUNS = ROOT / "runs" / "video_asd"
MIXERS = {"full": [], "local": ["--model.init_args.model_options.mixer_kwargs", '{"window": 4}'],
          "mamba": []}
DEMO_CLIP = ROOT / "datasets/samples/asd_composite_demo.mp4"


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "spanmix.apps.cli", "video", "asd", *args]


def train_and_test(mixer: str, extra: list[str]) -> subprocess.Popen:
    name = f"bench_{mixer}"
    cmd = (f"{' '.join(_cli('fit', '--config', str(CONFIG), '--experiment', name))} "
           f"--model.init_args.model_options.mixer {mixer} {' '.join(repr(a) if '{' in a else a for a in extra)} "
           f"--trainer.enable_progress_bar false && "
           f"{' '.join(_cli('test', '--config', str(CONFIG), '--experiment', name))} "
           f"--model.init_args.model_options.mixer {mixer} {' '.join(repr(a) if '{' in a else a for a in extra)} "
           f"--ckpt_path best --trainer.enable_progress_bar false")
    log = open(RUNS.parent / f"{name}.log", "w")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(["nice", "bash", "-c", cmd], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)


def last_metrics(name: str) -> dict[str, float]:
    """Each metric's value over the run's CSV logs: val metrics of the best epoch by val/map, test metrics of
    the test run (of that epoch's checkpoint)."""
    values: dict[str, float] = {}
    for path in sorted((RUNS / name / "csv").glob("version_*/metrics.csv")):
        with open(path) as f:
            for row in csv.DictReader(f):
                if row.get("val/map"):  # keep the val row of the best epoch (the checkpoint that is tested)
                    if float(row["val/map"]) < values.get("val/map", -1.0):
                        continue
                for k, v in row.items():
                    if v not in ("", None):
                        values[k] = float(v)
    return values


def pipeline_timing(weights: str, clip: Path) -> tuple[dict[str, float], int]:
    from spanmix.apps.video.asd.pipeline import run

    run(clip, weights, progress=False)  # warm-up (imports, cascade load)
    result = run(clip, weights, progress=False)
    return result.seconds, len(result.clip.frames)


def main() -> int:
    if "--lvmae" in sys.argv[1:]:
        import video_lvmae

        return video_lvmae.main([a for a in sys.argv[1:] if a != "--lvmae"])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument("--only-pipeline", action="store_true")
    parser.add_argument("--weights", default=str(ROOT / "pretrained/video/loconet_composite_tiny"))
    ns = parser.parse_args()
    load = os.getloadavg()
    started = time.time()
    lines = ["# Video benchmarks (active speaker detection)", "",
             "2-vCPU machine shared with other jobs: absolute times are pessimistic and noisy.", ""]
    if not ns.only_pipeline:
        if not ns.collect_only:
            RUNS.mkdir(parents=True, exist_ok=True)
            procs = [train_and_test(m, extra) for m, extra in MIXERS.items()]
            codes = [p.wait() for p in procs]
            if any(codes):
                print(f"a run failed (exit codes {codes}); see {RUNS.parent}/bench_*.log", file=sys.stderr)
        rows = {m: last_metrics(f"bench_{m}") for m in MIXERS}
        full = rows["full"]
        lines += ["## mAP on the COMPOSITED test split", "",
                  f"_Run: `python benchmarks/video.py`; config `{CONFIG.relative_to(ROOT)}` (same budget for every "
                  + (f"row); collected from finished runs (`--collect-only`)._" if ns.collect_only else
                     f"row); load average at start {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
                     f"{(time.time() - started) / 60:.0f} min for the runs in parallel._"), "",
                  "AP x 100 over the target's frames (each frame one AVA row), best checkpoint by val mAP.", "",
                  "| model | test mAP | val mAP (best epoch) |", "|---|---|---|"]
        def fmt(d, k):
            return f"{d[k]:.1f}" if k in d else "—"
        lines.append(f"| LoCoNet (LIM = `full` attention) | **{fmt(full, 'test/map')}** | {fmt(full, 'val/map')} |")
        lines.append(f"| audio-only head (same run) | {fmt(full, 'test/map_audio')} | {fmt(full, 'val/map_audio')} |")
        lines.append(f"| visual-only head (same run) | {fmt(full, 'test/map_visual')} | {fmt(full, 'val/map_visual')} |")
        for m in ("local", "mamba"):
            lines.append(f"| LoCoNet, LIM = `{m}` | {fmt(rows[m], 'test/map')} | {fmt(rows[m], 'val/map')} |")
        lines += ["", "One seed; the test split is 16 scenes (faces and utterances unseen in training), so differences "
                  "of a few points between rows are within noise. Scenes are 32 frames long: this does not test "
                  "where the long-term mixers should differ (long clips).", ""]
    if Path(ns.weights, "config.json").is_file() and DEMO_CLIP.is_file():
        seconds, frames = pipeline_timing(ns.weights, DEMO_CLIP)
        total = sum(seconds.values())
        load = os.getloadavg()
        lines += ["## Pipeline speed on this CPU", "",
                  f"_`{DEMO_CLIP.relative_to(ROOT)}` ({frames} frames at 25 fps, 320x180, 3 faces), weights "
                  f"`{Path(ns.weights).resolve().relative_to(ROOT) if Path(ns.weights).resolve().is_relative_to(ROOT) else ns.weights}`; "
                  f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}._", "",
                  f"**{frames / total:.1f} frames/s** end to end ({total:.2f} s).", "",
                  "| stage | seconds | share |", "|---|---|---|"]
        lines += [f"| {k} | {v:.2f} | {100 * v / total:.0f} % |" for k, v in seconds.items()]
        lines.append("")
    out = ROOT / "benchmarks/results/video.md"
    out.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
