"""The weights builder (``spanmix weights build``): the recipe end to end on tiny entries, in a temp dir."""
from __future__ import annotations

import dataclasses
import json

import pytest
from spanmix.apps.cli import main as spanmix
from spanmix.apps.forecast.weights import FORECAST
from spanmix.apps.harness import weights as w
from spanmix.apps.harness.export import load_pretrained, read_pretrained_config

CFG = "apps/forecast/configs"
NAIVE = dataclasses.replace(FORECAST.entries[0], name="tiny_naive")
TINY_FIT = ("--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2")


def test_every_app_declares_a_table_whose_configs_exist():
    for app in ("forecast", "finance", "eeg", "genomics"):
        table = w.table_for(app)
        assert table.app == app and table.entries
        for entry in table.entries:
            assert isinstance(w.effective_config(entry), dict)


def test_naive_entry_is_built_not_fitted_and_scores_like_its_baseline(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = w.build(dataclasses.replace(FORECAST, entries=(NAIVE,)), ["tiny_naive"])["tiny_naive"]
    out = tmp_path / "pretrained" / "forecast"
    assert not (tmp_path / "runs" / "forecast" / "tiny_naive").exists()
    assert read_pretrained_config(out / "tiny_naive")["metadata"]["demo"] == record
    assert record["command"] == (f"spanmix forecast test --config {CFG}/naive_vic_elec.yaml --data.features S "
                                 "--model.model_options.season 24 --experiment tiny_naive")
    assert record["regenerate"] == "spanmix weights build forecast tiny_naive"
    # the exported seasonal naive (season 24) is the same model as the baseline scored beside it
    assert record["test_metrics"] == pytest.approx(record["baselines"]["naive_season24"], rel=1e-6)
    assert record["test_metrics"]["mse"] != pytest.approx(record["baselines"]["naive_season1"]["mse"])
    table = (out / "METRICS.md").read_text()
    assert f"| `tiny_naive` | Seasonal naive (24 h) | S | {record['test_metrics']['mse']:.4f} |" in table
    assert "spanmix weights build forecast --all" in table


@pytest.mark.slow
def test_fit_export_reload_test_and_metrics_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    entry = w.Entry("tiny_linear", f"{CFG}/linear_vic_elec.yaml", ("--data.features", "S", *TINY_FIT))
    table = dataclasses.replace(FORECAST, entries=(entry,))
    record = w.build(table, ["tiny_linear"])["tiny_linear"]

    run = tmp_path / "runs" / "forecast" / "tiny_linear"
    export = tmp_path / "pretrained" / "forecast" / "tiny_linear"
    assert list((run / "checkpoints").glob("best-*.ckpt"))
    config = read_pretrained_config(export)
    assert config["metadata"]["demo"] == record
    assert config["metadata"]["training_config"]["trainer"]["max_epochs"] == 1
    assert record["command"].startswith(f"spanmix forecast fit --config {CFG}/linear_vic_elec.yaml --data.features S")
    # the recorded score is the reloaded export's score on the entry's test split
    task = load_pretrained(export)
    again = w.score(task, table.datamodule(w.effective_config(entry)))
    assert again["test/mse"] == pytest.approx(record["test_metrics"]["mse"], rel=1e-5)
    assert f"| `tiny_linear` | DLinear | S | {record['test_metrics']['mse']:.4f} |" in (export.parent / "METRICS.md").read_text()


def test_needed_entries_are_built_first_only_when_missing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = w.Entry("lm", f"{CFG}/linear_vic_elec.yaml")
    b = w.Entry("tuned", f"{CFG}/linear_vic_elec.yaml", ("--model.lr", "{lm}"))
    c = w.Entry("compared", f"{CFG}/linear_vic_elec.yaml", ship=False)
    table = dataclasses.replace(FORECAST, entries=(a, b, c), results_json=True)
    built = []

    def fake_build(table, entry, out_dir, runs_dir):
        built.append((entry.name, w._overrides(entry, out_dir)))
        if entry.ship:
            (out_dir / entry.name).mkdir(parents=True, exist_ok=True)
            (out_dir / entry.name / "config.json").write_text("{}")
        return {}

    monkeypatch.setattr(w, "build_entry", fake_build)
    monkeypatch.setattr(w, "write_metrics", lambda table, out: out)
    w.build(table, ["tuned"])
    assert built == [("lm", []), ("tuned", ["--model.lr", "pretrained/forecast/lm"])]
    built.clear()
    w.build(table, ["tuned", "compared"])  # lm exists now: not rebuilt
    assert [n for n, _ in built] == ["tuned", "compared"]
    built.clear()
    w.build(table, ["lm", "tuned"])  # named explicitly: rebuilt, before what needs it
    assert [n for n, _ in built] == ["lm", "tuned"]


def test_unshipped_records_go_to_results_json_and_the_table(tmp_path):
    table = dataclasses.replace(
        FORECAST, entries=(w.Entry("a", f"{CFG}/linear_vic_elec.yaml", ship=False),),
        metrics_md=lambda records, out: json.dumps(records))
    (tmp_path / "results.json").write_text(json.dumps({"a": {"test": 1}, "gone": {"test": 2}}))
    assert json.loads(w.write_metrics(table, tmp_path).read_text()) == {"a": {"test": 1}}


def test_bad_tables_entries_and_commands(tmp_path, monkeypatch, capsys):
    entry = w.Entry("x", f"{CFG}/linear_vic_elec.yaml", ("--model.lr", "{nope}"))
    with pytest.raises(w.WeightsError, match=r"entry 'x' names unknown entries \['nope'\]"):
        dataclasses.replace(FORECAST, entries=(entry,))
    with pytest.raises(w.WeightsError, match="fit=False but the table has no build hook"):
        dataclasses.replace(FORECAST, entries=(NAIVE,), build=None)
    with pytest.raises(w.WeightsError, match="overrides must be '--key value' pairs"):
        w.effective_config(w.Entry("y", f"{CFG}/linear_vic_elec.yaml", ("--data.features",)))
    with pytest.raises(w.WeightsError, match="config apps/none.yaml not found"):
        w.effective_config(w.Entry("z", "apps/none.yaml"))

    monkeypatch.chdir(tmp_path)
    assert spanmix(["weights", "build", "forecast"]) == 0
    listing = capsys.readouterr().out
    assert "linear_vic_elec_s" in listing and "not built" in listing and "--data.features S" in listing
    for argv, message in [
        (["build", "forecast", "nope"], "unknown forecast entry 'nope'; expected one of: naive_vic_elec_s"),
        (["build", "forecast", "--all", "linear_vic_elec_s"], "give entry names or --all, not both"),
        (["build", "nosuchapp"], "unknown app 'nosuchapp'"),
    ]:
        with pytest.raises(SystemExit) as exit_:
            spanmix(["weights", *argv])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.startswith(f"spanmix weights build: error: {message}")
