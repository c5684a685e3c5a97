"""The video app's weights table: the builder trains it with `spanmix video asd fit` (a sub-app's command)."""
from __future__ import annotations

from spanmix.apps.harness.weights import _command, effective_config, table_for


def test_video_entries_use_the_sub_app_command():
    table = table_for("video")
    entry = table.entries[0]
    assert _command(table, entry, [])[:4] == ["spanmix", "video", "asd", "fit"]
    config = effective_config(entry)
    assert config["model"]["class_path"] == "spanmix.apps.video.asd.task.ASDTask"
    assert table.datamodule(config).source == "composite"
