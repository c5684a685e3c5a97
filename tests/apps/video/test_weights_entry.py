"""The video app's weights table: the builder trains it with `spanmix video asd fit` (a sub-app's command)."""
from __future__ import annotations

import pytest

from spanmix.apps.harness.weights import _command, effective_config, table_for


def test_video_entries_use_the_sub_app_command():
    table = table_for("video")
    entry = table.entries[0]
    assert _command(table, entry, [])[:4] == ["spanmix", "video", "asd", "fit"]
    config = effective_config(entry)
    assert config["model"]["class_path"] == "spanmix.apps.video.asd.task.ASDTask"
    assert table.datamodule(config).source == "composite"


def test_lvmae_entries_use_their_own_commands():
    table = table_for("video")
    entries = {e.name: e for e in table.entries}
    assert _command(table, entries["lvmae_composite_tiny"], [])[:4] == ["spanmix", "video", "lvmae", "fit"]
    probe = entries["lvmae_probe_composite_tiny"]
    assert _command(table, probe, [])[:5] == ["spanmix", "video", "lvmae", "probe", "fit"]
    assert probe.needs() == ["lvmae_composite_tiny"]
    assert table.datamodule(effective_config(probe)).mode == "probe"


@pytest.mark.slow
def test_shipped_lvmae_probe_reproduces_its_recorded_test_accuracy(lvmae_cache, monkeypatch):
    import torch

    from spanmix.apps.harness.export import load_pretrained, read_pretrained_config
    from spanmix.apps.harness.weights import PACKAGE_ROOT
    from spanmix.apps.video.lvmae.data import LVMAEDataModule

    monkeypatch.setenv("SPANMIX_CACHE", str(lvmae_cache))
    export = PACKAGE_ROOT / "pretrained" / "video" / "lvmae_probe_composite_tiny"
    recorded = read_pretrained_config(export / "config.json")["metadata"]["demo"]["test"]["test/acc"]
    task = load_pretrained(export)
    data = LVMAEDataModule(mode="probe", batch_size=4)
    data.setup("test")
    hits = n = 0
    with torch.no_grad():
        for batch in data.test_dataloader():
            hits += int((task(batch["x"], batch["valid"]).argmax(-1) == batch["label"]).sum())
            n += len(batch["label"])
    assert n == 6 and abs(hits / n - recorded) < 1e-6
