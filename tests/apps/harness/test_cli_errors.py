"""One-line errors on the command line: every case of issue #11 prints exactly one stderr line and exits 2.

Each case runs the real ``spanmix`` entry in its own process (``cli_cases.py`` forks one per case after
importing the apps once; one case also runs as a fresh interpreter). Downloads are forced offline by a
proxy that refuses connections, so the "offline" cases hold with or without network.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from spanmix.apps.harness.errors import (
    CheckpointError,
    SpanmixError,
    cli_errors,
    debug_requested,
    format_user_error,
    user_error,
)

ROOT = Path(__file__).resolve().parents[3]
FORECAST = str(ROOT / "apps/forecast/configs/linear_vic_elec.yaml")
EEG = str(ROOT / "apps/eeg/configs/eegnet_mne_sample.yaml")
GENOMICS = str(ROOT / "apps/genomics/configs/cnn_oct4_mafk.yaml")
FINANCE = str(ROOT / "apps/forecast/configs/finance_t2v.yaml")
OFFLINE = {k: "http://127.0.0.1:9" for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                              "all_proxy", "ALL_PROXY")}


def _write_inputs(d: Path) -> None:
    (d / "nodate.csv").write_text("a,b\n1,2\n3,4\n")
    (d / "nan.csv").write_text("date,x\n2020-01-01,1\n2020-01-02,\n2020-01-03,3\n")
    rows = "".join(f"2020-01-{1 + i // 24:02d} {i % 24:02d}:00,{i},{2 * i}\n" for i in range(50))
    (d / "short.csv").write_text("date,x,OT\n" + rows)
    mne = pytest.importorskip("mne")
    import numpy as np

    info = mne.create_info(["C3", "C4", "Cz"], 128.0, "eeg")
    raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(3, 1280)) * 1e-5, info, verbose=False)
    raw.save(d / "noevents_raw.fif", verbose=False)


def _cases(d: Path) -> dict:
    fc = ["forecast", "fit", "--config", FORECAST, "--trainer.max_epochs", "1"]
    offline = {**OFFLINE, "SPANMIX_CACHE": str(d / "cache")}
    return {
        "unknown_model": {"argv": [*fc, "--model.model", "foo"], "expect": ["--model.model", "'foo'"]},
        "csv_no_date": {"argv": [*fc, "--data.csv", str(d / "nodate.csv")], "expect": ["--data.date_column"]},
        "csv_nan": {"argv": [*fc, "--data.csv", str(d / "nan.csv")], "expect": ["missing or infinite"]},
        "csv_missing": {"argv": [*fc, "--data.csv", str(d / "missing.csv")], "expect": ["not found"]},
        "csv_target": {"argv": [*fc, "--data.csv", str(d / "short.csv"), "--data.target", "zz"],
                       "expect": ["'zz'", "--data.target"]},
        "csv_short": {"argv": [*fc, "--data.csv", str(d / "short.csv")],
                      "expect": ["--data.seq_len", "--data.pred_len"]},
        "eeg_no_events": {"argv": ["eeg", "fit", "--config", EEG, "--data.dataset", "file", "--data.file",
                                   str(d / "noevents_raw.fif"), "--data.tmin", "0", "--data.tmax", "1"],
                          "expect": ["no events"]},
        "genomics_unknown_dataset": {"argv": ["genomics", "fit", "--config", GENOMICS, "--data.dataset", "foo"],
                                     "expect": ["--data.dataset", "'foo'"]},
        "offline_forecast": {"argv": [*fc, "--data.dataset", "ETTh1", "--data.download", "true"],
                             "env": offline, "expect": ["ETTh1", "could not download"]},
        "offline_eeg": {"argv": ["eeg", "fit", "--config", EEG, "--data.dataset", "bnci2014001",
                                 "--data.download", "true"], "env": offline, "expect": ["A01T.mat"]},
        "offline_finance": {"argv": ["finance", "fit", "--config", FINANCE, "--data.source", "yfinance",
                                     "--data.target", "XOM", "--data.universe", "[CVX,COP]",
                                     "--data.start", "2015-01-01", "--data.end", "2016-01-01"],
                            "env": offline, "expect": ["XOM"]},
        "offline_genomics": {"argv": ["genomics", "fit", "--config", GENOMICS, "--data.dataset",
                                      "gb:human_nontata_promoters", "--data.download", "true"],
                             "env": offline, "expect": ["--data.download"]},
    }


@pytest.mark.slow
def test_every_issue_case_prints_one_line_and_exits_2(tmp_path):
    _write_inputs(tmp_path)
    cases = _cases(tmp_path)
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    subprocess.run([sys.executable, str(Path(__file__).with_name("cli_cases.py")), str(tmp_path / "cases.json"),
                    str(tmp_path / "out.json")], cwd=tmp_path, check=True, timeout=900)
    results = json.loads((tmp_path / "out.json").read_text())
    for name, case in cases.items():
        r = results[name]
        lines = r["stderr"].splitlines()
        assert r["code"] == 2 and len(lines) == 1, f"{name}: exit {r['code']}\n{r['stderr'][-3000:]}"
        cmd = " ".join(case["argv"][:2])
        assert lines[0].startswith(f"spanmix {cmd}: error: "), (name, lines[0])
        for expected in case["expect"]:
            assert expected in lines[0], (name, expected, lines[0])
        assert "Traceback" not in r["stderr"] and "Union" not in r["stderr"]


def _spanmix(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "spanmix.apps.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=300, check=False)


def test_fresh_process_one_line_and_debug_traceback(tmp_path):
    missing = str(tmp_path / "nope.ckpt")
    r = _spanmix("export", "--ckpt", missing, "--out", str(tmp_path / "out"))
    assert r.returncode == 2 and r.stderr.splitlines() == [f"spanmix export: error: checkpoint {missing} not found"]
    r = _spanmix("export", "--ckpt", missing, "--out", str(tmp_path / "out"), env={"SPANMIX_DEBUG": "1"})
    assert r.returncode == 1 and "Traceback" in r.stderr and r.stderr.rstrip().endswith("not found")


# ----------------------------------------------------------------------------------- the classification
def _raise(exc):
    raise exc


def test_own_errors_are_user_errors_foreign_ones_are_bugs():
    from spanmix.backbone import build_mixer

    with pytest.raises(ValueError) as ours:
        build_mixer("nope", dim=8)  # raised by spanmix's registry
    assert user_error(ours.value) is ours.value
    with pytest.raises(ValueError) as foreign:
        int("x")  # a ValueError raised outside spanmix (here: the interpreter) is a bug
    assert user_error(foreign.value) is None
    with pytest.raises(TypeError) as bug:
        build_mixer("full", 8, 8)  # wrong call: a TypeError is never the user's
    assert user_error(bug.value) is None
    assert user_error(SpanmixError("x")) is not None and isinstance(CheckpointError("x"), ValueError)
    from spanmix.datasets.eeg import EEGDataNotAvailable

    assert user_error(EEGDataNotAvailable("offline")) is not None  # a spanmix-defined type, raised anywhere
    # A wrapper raised from ours (jsonargparse's "Does not validate against any of the Union subtypes").
    try:
        try:
            build_mixer("nope", dim=8)
        except ValueError as e:
            raise ValueError("Does not validate against any of the Union subtypes") from e
    except ValueError as wrapper:
        assert user_error(wrapper) is wrapper.__cause__


def test_messages_name_cli_flags():
    options = {"data.date_column": None, "data.seq_len": 96, "data.target": "zz", "model.seq_len": 96,
               "model.model": "foo", "data.features": "MS"}
    msg = format_user_error(ValueError("no date column; pass date_column=... to choose one"), options)
    assert msg == "no date column; pass --data.date_column=... to choose one"
    assert format_user_error(ValueError("seq_len + pred_len = 9"), options) == "--data.seq_len + pred_len = 9"
    assert format_user_error(ValueError("features must be one of M, S"), options).startswith("--data.features")
    assert format_user_error(ValueError("unknown forecast model 'foo'"), options) == \
        "--model.model: unknown forecast model 'foo'"
    assert format_user_error(ValueError("the target is\nmissing"), options) == "the target is missing"


def test_cli_errors_boundary(capsys):
    with pytest.raises(SystemExit) as exit_, cli_errors("spanmix toy fit"):
        _raise(SpanmixError("bad\ninput"))
    assert exit_.value.code == 2 and capsys.readouterr().err == "spanmix toy fit: error: bad input\n"
    with pytest.raises(KeyError), cli_errors("spanmix toy fit"):  # a bug keeps its traceback
        _raise(KeyError("x"))
    with pytest.raises(SpanmixError), cli_errors("spanmix toy fit", debug=True):
        _raise(SpanmixError("bad"))
    argv = ["forecast", "--debug", "fit"]
    assert debug_requested(argv) and argv == ["forecast", "fit"]
