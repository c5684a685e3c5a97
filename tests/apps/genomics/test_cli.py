"""End to end through the ``spanmix`` command: pretrain -> export -> fine-tune from it -> generate."""

import subprocess
import sys

import pytest

SMALL = "{d_model: 16, n_layer: 2, d_inner: 32, l_max: 130}"


def spanmix(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "spanmix.apps.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_pretrain_export_finetune_generate(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    cfg = root / "apps" / "genomics" / "configs"
    common = ["--trainer.enable_progress_bar", "false"]
    r = spanmix(
        "genomics",
        "fit",
        "--config",
        str(cfg / "pretrain_ecoli_tiny1k.yaml"),
        "--model.init_args.model",
        "null",
        "--model.init_args.model_options",
        SMALL,
        "--trainer.max_epochs",
        "2",
        "--data.init_args.seq_len",
        "128",
        "--data.init_args.tokens_per_epoch",
        "4096",
        "--data.init_args.max_eval_windows",
        "2",
        "--trainer.callbacks.init_args.start_len",
        "64",
        "--trainer.callbacks.init_args.epochs_per_stage",
        "1",
        "--trainer.default_root_dir",
        str(tmp_path / "pre"),
        *common,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    ckpt = tmp_path / "pre" / "checkpoints" / "last.ckpt"
    r = spanmix("export", "--ckpt", str(ckpt), "--out", str(tmp_path / "lm"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]

    r = spanmix(
        "genomics",
        "fit",
        "--config",
        str(cfg / "finetune_oct4_mafk.yaml"),
        "--model.init_args.model_options",
        SMALL,
        "--model.init_args.pretrained",
        str(tmp_path / "lm"),
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "3",
        "--trainer.limit_val_batches",
        "2",
        "--trainer.default_root_dir",
        str(tmp_path / "ft"),
        *common,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "body initialised from" in r.stdout + r.stderr
    r = spanmix(
        "genomics",
        "test",
        "--config",
        str(cfg / "finetune_oct4_mafk.yaml"),
        "--model.init_args.model_options",
        SMALL,
        "--ckpt_path",
        str(tmp_path / "ft/checkpoints/last.ckpt"),
        "--trainer.limit_test_batches",
        "2",
        "--trainer.default_root_dir",
        str(tmp_path / "ft_test"),
        *common,
        cwd=tmp_path,
    )
    assert r.returncode == 0 and "test/mcc" in r.stdout, r.stderr[-3000:]

    r = spanmix(
        "genomics",
        "generate",
        "--weights",
        str(tmp_path / "lm"),
        "--prompt",
        "acgt",
        "--max-new-tokens",
        "40",
        "--temperature",
        "0.9",
        "--top-k",
        "3",
        "--seed",
        "1",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    assert out.startswith("ACGT") and len(out) == 44 and set(out) <= set("ACGT")
    r = spanmix("genomics", "generate", "--weights", str(tmp_path / "lm"), "--prompt", "ACXG", cwd=tmp_path)
    assert r.returncode == 2 and "'X' at position 2" in r.stderr
    assert r.stderr.startswith("spanmix genomics generate: error: ") and r.stderr.count("\n") == 1
