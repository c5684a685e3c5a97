"""``spanmix video lvmae embed`` writes normalised embeddings with their times; bad input to ``embed`` and
``fit`` is one line, exit 2. All command lines run in one process that forks per case (the harness's
tests/apps/harness/cli_cases.py), so the imports are paid once."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spanmix.datasets.video import write_clip

HARNESS = Path(__file__).resolve().parents[1] / "harness"
CONFIG = Path(__file__).resolve().parents[3] / "apps/video/lvmae/configs/lvmae_composite_tiny.yaml"


def _video(path, seconds: float, fps: float = 10.0):
    frames = np.stack([np.full((32, 48, 3), (2 * k) % 256, np.uint8) for k in range(int(round(seconds * fps)))])
    return write_clip(path, frames, fps=fps)


def _audio_only(path):
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 16000), np.float32), format="flt", layout="mono")
        frame.sample_rate = 16000
        for p in [*s.encode(frame), *s.encode()]:
            c.mux(p)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("commands")
    (d / "junk.mp4").write_bytes(b"\x00garbage" * 100)
    inputs = {"good": _video(d / "v.mp4", 12.0), "short": _video(d / "short.mp4", 2.0),
              "sound": _audio_only(d / "sound.m4a"), "junk": d / "junk.mp4"}
    env = {"OMP_NUM_THREADS": "1", "SPANMIX_CACHE": str(d / "cache")}
    cases = {name: {"argv": ["video", "lvmae", "embed", "--input", str(path), "--output", str(d / name),
                             "--no-progress"], "env": env} for name, path in inputs.items()}
    cases["fit_bad_source"] = {"argv": ["video", "lvmae", "fit", "--config", str(CONFIG), "--data.source", "youtube",
                                        "--trainer.max_epochs", "1"], "env": env}
    (d / "cases.json").write_text(json.dumps(cases))
    subprocess.run([sys.executable, str(HARNESS / "cli_cases.py"), str(d / "cases.json"), str(d / "out.json")],
                   cwd=d, check=True, timeout=300)
    return d, json.loads((d / "out.json").read_text())


def test_embed_writes_normalised_embeddings_and_times(runs):
    from spanmix.apps.video.lvmae.cache import read_embeddings

    d, out = runs
    assert out["good"]["code"] == 0, out["good"]["stderr"]
    emb = read_embeddings(d / "good" / "embeddings.safetensors")
    assert emb.embeddings.shape == (3, 96)
    np.testing.assert_allclose(emb.embeddings.norm(dim=1).numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(emb.times.numpy(), [[0, 5], [5, 10], [10, 12]], atol=1e-6)
    assert emb.meta["encoder"].startswith("hist(") and len(emb.meta["video_sha256"]) == 64


@pytest.mark.parametrize("case, message", [("short", "shorter than one segment"), ("sound", "has no video stream"),
                                           ("junk", "junk.mp4"),
                                           ("fit_bad_source", "source must be 'composite' or 'precomputed'")])
def test_bad_input_is_one_line_exit_2(runs, case, message):
    _, out = runs
    stderr = out[case]["stderr"]
    assert out[case]["code"] == 2, stderr
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith("Seed set")]
    assert len(lines) == 1 and "error" in lines[0] and message in lines[0] and "Traceback" not in stderr
