"""``spanmix eeg evaluate``: the per-subject protocol from a fit config, per-subject and overall results written."""
import csv
import json

import numpy as np
import pytest

from spanmix.apps.eeg.cli import main
from spanmix.apps.eeg.evaluation import session_splits, splits
from spanmix.apps.harness.errors import SpanmixError

CONFIG = "apps/eeg/configs/eegnet_simulated_mi.yaml"


def test_evaluate_writes_per_subject_and_overall(tmp_path, capsys):
    out = tmp_path / "ev"
    main(["evaluate", "--config", CONFIG, "--setting", "co", "--max-epochs", "1", "--subjects", "1", "3",
          "--seeds", "0", "1", "--out", str(out), "--quiet"])
    with open(out / "rows.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["seed"], r["subject"]) for r in rows) == [("0", "1"), ("0", "3"), ("1", "1"), ("1", "3")]
    with open(out / "per_subject.csv") as f:
        per_subject = {r["subject"]: r for r in csv.DictReader(f)}
    assert sorted(per_subject) == ["1", "3"]
    for s, r in per_subject.items():  # mean over seeds of that subject's rows
        accs = [float(x["acc"]) for x in rows if x["subject"] == s]
        assert float(r["acc_mean"]) == pytest.approx(np.mean(accs))
        assert float(r["acc_std"]) == pytest.approx(np.std(accs))
    overall = json.loads((out / "overall.json").read_text())
    assert overall["setting"] == "co" and overall["model"] == "eegnet" and overall["seeds"] == [0, 1]
    per_seed = [np.mean([float(x["kappa"]) for x in rows if x["seed"] == seed]) for seed in ("0", "1")]
    assert overall["kappa"]["mean"] == pytest.approx(np.mean(per_seed))
    printed = capsys.readouterr().out
    assert "| **overall** |" in printed and (out / "report.md").read_text().strip() in printed


def test_session_protocol_trains_on_the_other_sessions():
    subject = np.array([1, 1, 1, 1, 2, 2, 2, 2])
    session = np.array(["T", "T", "E", "E", "T", "E", "T", "E"])
    sp = session_splits(subject, session, "E")
    assert [s.subject for s in sp] == [1, 2]
    assert sp[0].train.tolist() == [0, 1] and sp[0].test.tolist() == [2, 3]
    assert sp[1].train.tolist() == [4, 6] and sp[1].test.tolist() == [5, 7]
    assert splits("session", np.zeros(8), subject, session=session, test_session="E", subjects=[2])[0].subject == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"session": None, "test_session": "E"}, "record their session"),
    ({"session": np.array(["T"] * 4), "test_session": "E"}, "session 'E' and of another"),
    ({"subjects": [7]}, "subjects [7] are not in the data"),
])
def test_protocol_errors_name_the_problem(kwargs, message):
    setting = "co" if "subjects" in kwargs else "session"
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        splits(setting, np.zeros(4), np.array([1, 1, 2, 2]), **kwargs)


def test_bad_config_is_one_clear_error(tmp_path):
    with pytest.raises(SpanmixError, match="no such file"):
        main(["evaluate", "--config", str(tmp_path / "missing.yaml")])
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {dataset: simulated_mi}\n")
    with pytest.raises(SpanmixError, match="model.model"):
        main(["evaluate", "--config", str(bad)])
