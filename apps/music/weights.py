"""The music app's shipped weights (``pretrained/music/``, the hub's Music tab), as entries for the builder.

    spanmix weights build music --all          # ~30 min on 2 shared CPU cores

1. ``melody_lm_folk_chorales``: the chord-conditioned melody LM on folk tunes + chorale soprani (shipped);
2. ``melody_lm_uncond``: the same LM and budget without the chord track (the unconditioned baseline; not shipped).

Each record holds the held-out **test** NLL per event (nats) and its parts; METRICS.md tabulates them.
"""
from __future__ import annotations

from typing import Any

from spanmix.apps.harness.weights import Built, Entry, WeightsTable, markdown_table

__all__ = ["MUSIC", "WEIGHTS"]

CONFIGS = "apps/music/configs"
LM = "melody_lm_folk_chorales"
_UNCOND = '{"dim": 96, "schedule": "local*3,full", "heads": 4, "window": 64, "max_len": 256, "dropout": 0.1, ' \
          '"conditioning": false}'


def _datamodule(config: dict[str, Any]):
    from spanmix.apps.music.data import MusicDataModule

    data = config["data"]
    if data.get("class_path", "").rpartition(".")[2] != "MusicDataModule":
        raise ValueError(f"data.class_path must be spanmix.apps.music.data.MusicDataModule, got {data.get('class_path')!r}")
    return MusicDataModule(**data.get("init_args", {}))


def _describe(b: Built) -> dict[str, Any]:
    return {"task": "melody_lm", "styles": ["folk (chords inferred)", "chorales"], "command": b.command,
            "train_seconds": b.train_seconds, "test": b.test}


def _metrics(records: dict[str, dict[str, Any]], out_dir) -> str:
    nan = float("nan")
    rows = [(f"`{n}`", f"{r['test'].get('test/nll', nan):.3f}", f"{r['test'].get('test/perplexity', nan):.2f}",
             f"{r['test'].get('test/pitch_nll', nan):.3f}", f"{r['test'].get('test/duration_nll', nan):.3f}",
             f"{r['test'].get('test/bar_nll', nan):.4f}", f"{r['train_seconds']:.0f}", f"`{r['command']}`")
            for n, r in records.items()]
    return ("# Shipped music weights\n\n"
            "Trained on this machine's CPU (2 cores shared with other jobs) by `spanmix weights build music --all`. "
            "Test split: held-out pieces (10%) of the Essen + O'Neill folk cache (chords **inferred** per bar) and "
            "the Bach chorales (chords from the lower voices). NLL is per event in nats (bar + duration + pitch heads); "
            "perplexity = exp(NLL).\n\n"
            + markdown_table(("entry", "test NLL", "perplexity", "pitch NLL", "duration NLL", "bar NLL", "train s",
                              "command"), rows))


MUSIC = WeightsTable(
    app="music",
    entries=(
        Entry(LM, f"{CONFIGS}/melody_lm_pretrain.yaml", label="melody LM (local*3,full), folk + chorales"),
        Entry("melody_lm_uncond", f"{CONFIGS}/melody_lm_pretrain.yaml", ("--model.init_args.model_options", _UNCOND),
              label="unconditioned LM baseline", ship=False),
    ),
    datamodule=_datamodule,
    describe=_describe,
    metrics_md=_metrics,
    results_json=True,
)

WEIGHTS = {"music": MUSIC}
