import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

TOY_MODULE = "spanmix._harness_toy"


def _register_toy():
    """Load toy.py as ``spanmix._harness_toy``: load_pretrained/export only import ``spanmix.*`` classes, and
    the tests exercise that real allowlist rather than a patched one."""
    if TOY_MODULE not in sys.modules:
        spec = importlib.util.spec_from_file_location(TOY_MODULE, Path(__file__).with_name("toy.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[TOY_MODULE] = module
        spec.loader.exec_module(module)
    return sys.modules[TOY_MODULE]


@pytest.fixture(scope="session")
def toy():
    return _register_toy()


@pytest.fixture(autouse=True)
def _isolate_runs(monkeypatch, tmp_path):
    """Runs write to runs/ under the working directory by default, so work in tmp_path; the CLI may set
    environment variables (seeding), so restore them. tests/conftest.py restores torch's determinism."""
    benchmark = torch.backends.cudnn.benchmark
    environ = dict(os.environ)
    monkeypatch.chdir(tmp_path)
    yield
    torch.backends.cudnn.benchmark = benchmark
    os.environ.clear()
    os.environ.update(environ)


@pytest.fixture
def write_config(tmp_path):
    """Write a tiny YAML config for the toy app and return its path."""
    import yaml

    def write(name="toy_run", max_steps=4, **trainer):
        config = {
            "trainer": {"max_steps": max_steps, "accelerator": "cpu", "devices": 1, "val_check_interval": 2,
                        "check_val_every_n_epoch": None, "limit_val_batches": 2, "enable_progress_bar": False,
                        "enable_model_summary": False, "log_every_n_steps": 1, **trainer},
            "model": {"hidden": 8, "lr": 0.01},
            "data": {"seq_len": 6, "n_features": 2, "n_samples": 64, "batch_size": 8},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return path

    return write
