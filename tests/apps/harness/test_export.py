"""save_pretrained / load_pretrained / export_checkpoint and `spanmix export`."""
import json
import os

import pytest
import torch
from spanmix.apps import cli as spanmix_cli
from spanmix.apps.harness import load_pretrained, save_pretrained
from spanmix.apps.harness.export import export_checkpoint, read_pretrained_config, update_pretrained_metadata
from spanmix.backbone import MixerStack
from torch import nn


def _edit_config(export_dir, **changes):
    path = export_dir / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps(config))


def test_lightning_module_round_trip_uses_hparams(toy, tmp_path):
    model = toy.ToyModule(seq_len=5, n_features=2, hidden=7).eval()
    out = save_pretrained(model, tmp_path / "export", metadata={"metrics": {"val/loss": torch.tensor(0.25)}})
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    # Both files get the mode a new file gets (0644 under umask 022; safetensors alone writes 0600).
    mask = os.umask(0o022)
    os.umask(mask)
    assert {(out / n).stat().st_mode & 0o777 for n in ("config.json", "model.safetensors")} == {0o666 & ~mask}
    config = read_pretrained_config(out)
    assert config["class_path"] == "spanmix._harness_toy.ToyModule"
    assert config["init_args"] == {"seq_len": 5, "n_features": 2, "hidden": 7, "lr": 0.01}
    assert config["metadata"]["metrics"]["val/loss"] == 0.25
    restored = load_pretrained(out)
    x = torch.randn(4, 5, 2)
    assert type(restored) is toy.ToyModule and not restored.training
    assert torch.equal(restored(x), model(x))


def test_plain_modules_round_trip_backbone_and_tied_weights(toy, tmp_path):
    options = {"dim": 16, "schedule": "local,full", "heads": 2, "window": 4}
    stack = MixerStack(**options).eval()
    x = torch.randn(2, 12, 16)
    assert torch.equal(load_pretrained(save_pretrained(stack, tmp_path / "stack", options))(x), stack(x))

    tied = toy.ToyTied(vocab=11, dim=4).eval()
    restored = load_pretrained(save_pretrained(tied, tmp_path / "tied", {"vocab": 11, "dim": 4}))
    tokens = torch.randint(0, 11, (2, 5))
    assert torch.equal(restored(tokens), tied(tokens))
    assert restored.head.weight is restored.embed.weight  # still tied after loading


def test_overwrite_is_clean_and_plain_module_needs_config(toy, tmp_path):
    out = tmp_path / "export"
    save_pretrained(toy.ToyModule(hidden=3), out)
    save_pretrained(toy.ToyModule(hidden=5), out)
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    assert load_pretrained(out).hparams.hidden == 5
    with pytest.raises(ValueError, match="needs config="):
        save_pretrained(toy.ToyTied(), tmp_path / "no-config")


@pytest.mark.parametrize("class_path", ["os.system", "torch.nn.Linear", "collections.OrderedDict",
                                        "not_installed_pkg.Evil", "spanmixevil.Model"])
def test_load_refuses_classes_outside_spanmix(toy, tmp_path, class_path):
    out = save_pretrained(toy.ToyModule(), tmp_path / "export")
    _edit_config(out, class_path=class_path)
    with pytest.raises(ValueError, match="refusing to import class"):
        load_pretrained(out)


@pytest.mark.parametrize("class_path", ["spanmix.apps.harness.export.Path",  # a re-exported non-spanmix object
                                        "spanmix.apps.harness.export.nn.Linear",  # resolves to torch.nn.Linear
                                        "spanmix.apps.harness.export.os.system"])
def test_load_refuses_spanmix_names_that_are_not_modules(toy, tmp_path, class_path):
    out = save_pretrained(toy.ToyModule(), tmp_path / "export")
    _edit_config(out, class_path=class_path)
    with pytest.raises(ValueError, match="nn.Module subclass defined under 'spanmix.'"):
        load_pretrained(out)


def test_nested_allow_list_checks_what_a_path_resolves_to():
    from spanmix.apps.harness.export import _check_nested

    for good in ("torch.optim.Adam", "torch.nn.GELU", "torch.nn.functional.gelu",
                 {"class_path": "torch.optim.lr_scheduler.CosineAnnealingLR"}, "spanmix.backbone.MixerStack"):
        _check_nested({"x": good})
    for bad in ("torch.nn.functional.torch.load", "torch.nn.modules.module.torch.save",
                "torch.optim.optimizer.torch.hub.load", {"class_path": "torch.nn.parallel.distributed.os.system"}):
        with pytest.raises(ValueError, match="refusing import path"):
            _check_nested({"x": bad})


@pytest.mark.parametrize("bad", [{"class_path": "os.system"}, "subprocess.Popen", ["builtins.eval"],
                                 "torch.hub.load",
                                 # issue #11: names under an allowed prefix that resolve outside it
                                 "torch.nn.parallel.distributed.os.system", "torch.nn.functional.torch.load",
                                 {"class_path": "torch.nn.parallel.distributed.os.system"},
                                 {"class_path": "torch.nn.functional.torch.load"}])
def test_cli_made_init_args_may_not_import_outside_spanmix_or_torch_nn_optim(toy, tmp_path, bad):
    out = save_pretrained(toy.ToyModule(), tmp_path / "export")
    config = read_pretrained_config(out)
    _edit_config(out, instantiate="jsonargparse", init_args={**config["init_args"], "lr": bad})
    with pytest.raises(ValueError, match="refusing"):
        load_pretrained(out)


def test_weights_are_loaded_strictly(toy, tmp_path):
    out = save_pretrained(toy.ToyModule(hidden=7), tmp_path / "export")
    _edit_config(out, init_args={"seq_len": 8, "n_features": 3, "hidden": 9, "lr": 0.01})
    with pytest.raises(RuntimeError):
        load_pretrained(out)


def test_save_refuses_classes_it_could_not_load(tmp_path):
    with pytest.raises(ValueError, match="only rebuilds classes under"):
        save_pretrained(nn.Linear(2, 2), tmp_path / "export", {"in_features": 2, "out_features": 2})


def test_spanmix_export_cli_on_a_real_checkpoint(toy, write_config, tmp_path, capsys):
    cli = toy.main(["fit", "--config", str(write_config("exported"))])
    last = tmp_path / "runs/toy/exported/checkpoints/last.ckpt"
    out = tmp_path / "pretrained"
    assert spanmix_cli.main(["export", "--ckpt", str(last), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    config = read_pretrained_config(out)
    assert config["instantiate"] == "jsonargparse"  # CLI hparams are the parsed config
    assert config["init_args"] == {"seq_len": 6, "n_features": 2, "hidden": 8, "lr": 0.01}
    meta = config["metadata"]
    assert meta["app"] == "toy" and meta["global_step"] == 4 and "val/loss" in meta["metrics"]
    assert meta["training_config"]["data"]["batch_size"] == 8
    restored = load_pretrained(out)
    x = torch.randn(3, 6, 2)
    assert torch.equal(restored(x), cli.model.eval()(x))


def test_export_errors_are_clear(toy, tmp_path, capsys):
    model = toy.ToyModule(hidden=4)
    bare = tmp_path / "bare.ckpt"  # a checkpoint that does not record its class
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, bare)
    with pytest.raises(SystemExit) as exit_:
        spanmix_cli.main(["export", "--ckpt", str(bare), "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "--class-path" in err
    assert err.startswith("spanmix export: error: ") and err.count("\n") == 1
    assert spanmix_cli.main(["export", "--ckpt", str(bare), "--out", str(tmp_path / "b"),
                             "--class-path", "spanmix._harness_toy.ToyModule"]) == 0
    assert load_pretrained(tmp_path / "b").hparams.hidden == 4
    with pytest.raises(ValueError, match="refusing to import class"):
        export_checkpoint(bare, tmp_path / "c", class_path="torch.nn.Linear")
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_pretrained(tmp_path / "c")


def test_update_pretrained_metadata_adds_entries_and_keeps_the_rest(toy, tmp_path):
    model = toy.ToyModule(seq_len=5, n_features=2, hidden=7).eval()
    out = save_pretrained(model, tmp_path / "export", metadata={"epoch": 3})
    weights = (out / "model.safetensors").read_bytes()
    config = update_pretrained_metadata(out, demo={"test_mse": torch.tensor(0.5), "label": "toy"})
    assert config == read_pretrained_config(out)
    assert config["metadata"] == {"epoch": 3, "demo": {"test_mse": 0.5, "label": "toy"}}
    update_pretrained_metadata(out / "config.json", epoch=4)  # the file itself works too; entries are replaced
    assert read_pretrained_config(out)["metadata"] == {"epoch": 4, "demo": {"test_mse": 0.5, "label": "toy"}}
    assert (out / "model.safetensors").read_bytes() == weights
    x = torch.randn(3, 5, 2)
    assert torch.equal(load_pretrained(out)(x), model(x))
    with pytest.raises(ValueError, match="cannot be stored in config.json"):
        update_pretrained_metadata(out, demo={"table": torch.zeros(3)})
    with pytest.raises(FileNotFoundError, match="no config.json"):
        update_pretrained_metadata(tmp_path / "missing", demo={})
