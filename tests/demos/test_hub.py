"""The hub's conventions without a browser: every event is named and has a concurrency limit, the launch
defaults are safe and quiet, ``make demo PORT=...`` reaches the hub, and the shared page helpers."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "demos"))  # demos/ is a folder of scripts, not a package

import hub
import tab_common

#: The endpoints that run a model: one per button, each named ``<tab>_<action>``.
COMPUTE = {"forecast_predict", "eeg_decode", "finance_predict", "genomics_classify", "genomics_generate",
           "restore_run", "video_detect", "video_long_analyse", "points_classify", "points_medical",
           "music_generate"}


@pytest.fixture(scope="module")
def blocks():
    return hub.build_hub(concurrency=3)


def test_every_event_has_a_tab_api_name_and_a_concurrency_limit(blocks):
    tabs = {module.removesuffix("_tab") for _, module in hub.TABS}
    names = [fn.api_name for fn in blocks.fns.values()]
    assert len(names) == len(set(names)), names
    for fn in blocks.fns.values():
        assert "lambda" not in fn.api_name and fn.api_name.split("_")[0] in tabs, fn.api_name
        if fn.api_name in COMPUTE:
            assert fn.concurrency_limit == "default" and fn.api_visibility == "public", fn.api_name
            params = list(inspect.signature(fn.fn).parameters)[: len(fn.inputs)]
            assert all(len(p) > 2 for p in params), (fn.api_name, params)  # the API page names them, not `s, u, c`
        else:  # page updates: bounded, and not offered as API endpoints
            assert fn.concurrency_limit == tab_common.UI_CONCURRENCY, fn.api_name
            assert fn.api_visibility == "undocumented", fn.api_name
    assert COMPUTE <= set(names)
    assert blocks._queue.default_concurrency_limit == 3  # what "default" resolves to: --concurrency


def test_listen_rejects_a_name_that_is_not_tab_action():
    with pytest.raises(ValueError, match="'<tab>_<action>' in lower snake case"):
        tab_common.listen(lambda *a, **k: None, print, [], [], api_name="lambda")
    with pytest.raises(ValueError, match="--concurrency must be a positive"):
        hub.build_hub(concurrency=0)


def test_hub_binds_to_localhost_without_share_and_says_so_in_one_line(monkeypatch, capsys):
    import gradio as gr

    seen = {}
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: seen.update(kw) or (None, "http://127.0.0.1:7860/", None))
    monkeypatch.setattr(hub, "build_hub", lambda concurrency: seen.update(concurrency=concurrency) or gr.Blocks())
    for var in ("SPANMIX_DEMO_HOST", "SPANMIX_DEMO_PORT", "SPANMIX_DEMO_CONCURRENCY"):
        monkeypatch.delenv(var, raising=False)
    assert hub.main([]) == 0
    assert seen["server_name"] == "127.0.0.1" and seen["server_port"] == 7860 and seen["share"] is False
    assert seen["quiet"] is True  # Gradio's own lines suggest `share=True`
    assert seen["concurrency"] == tab_common.COMPUTE_CONCURRENCY
    out = capsys.readouterr().out
    assert out.strip() == ("spanmix demos on http://127.0.0.1:7860/ (this machine only; no public link). "
                           "Ctrl+C stops it.")
    monkeypatch.setenv("SPANMIX_DEMO_CONCURRENCY", "5")
    hub.main(["--port", "8124"])
    assert seen["server_port"] == 8124 and seen["concurrency"] == 5
    with pytest.raises(SystemExit):
        hub.main(["--concurrency", "0"])


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_demo_passes_port_to_the_hub():
    def hub_line(*args):
        out = subprocess.run(["make", "-n", "-s", "demo", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return [line for line in out.stdout.splitlines() if "demos/hub.py" in line][-1]

    assert hub_line("PORT=7862").endswith("demos/hub.py --port 7862")
    assert "--port" not in hub_line()  # then $SPANMIX_DEMO_PORT, else 7860


def test_clean_message_hides_server_paths_and_path_reprs():
    msg = "file PosixPath('/tmp/gradio/ab12/rec.fif') does not start with a file id tag; see /tmp/gradio/ab12/rec.fif"
    assert tab_common.clean_message(msg, "/tmp/gradio/ab12/rec.fif") == (
        "file 'rec.fif' does not start with a file id tag; see rec.fif")
    assert tab_common.clean_message("bad WindowsPath('C:/x/y.edf')") == "bad 'y.edf'"


def test_shading_legend_and_figure_legend_use_the_hub_sizes():
    key = tab_common.shading_legend("Background: saliency", (255, 193, 7), "0", "1")
    assert re.search(r"rgba\(255, 193, 7, 0\).*rgba\(255, 193, 7, 1\)", key) and "saliency" in key
    from matplotlib.figure import Figure

    ax = Figure().subplots()
    ax.plot([0, 1], label="x")
    assert tab_common.legend(ax).get_texts()[0].get_fontsize() == tab_common.LEGEND_FONTSIZE
