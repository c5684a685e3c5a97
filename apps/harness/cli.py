"""``run_cli``: every app's command line, on LightningCLI.

    spanmix <app> fit|validate|test|predict --config CFG.yaml [--key value ...] [--print_config]

What the harness adds to plain LightningCLI (each is a default; the config can change it):

- ``seed_everything: 0`` and ``trainer.deterministic: warn`` (deterministic algorithms where PyTorch has
  them, a warning where it does not; set ``trainer.deterministic: false`` for speed);
- ``trainer.default_root_dir: runs/<app>/<experiment>``; the experiment is ``--experiment NAME``, else the
  stem of the first ``--config`` file, else ``default``;
- loggers, when ``trainer.logger`` is unset: ``CSVLogger`` (``<root>/csv/version_N``, where the run's
  ``config.yaml`` is saved too) and ``TensorBoardLogger`` (``<root>/tensorboard/version_N``) if installed;
- a ``checkpoint`` group (``ModelCheckpoint``): ``<root>/checkpoints/last.ckpt`` plus the best checkpoint by
  ``checkpoint.monitor`` (default ``val/loss``, ``mode: min``). The directory does not depend on the logger
  version, so ``fit --ckpt_path last`` resumes the newest ``last*.ckpt`` of the experiment, and
  ``validate|test|predict --ckpt_path best`` finds the best one even in a new process;
- ``AtomicCheckpointIO`` (crash-safe saves, ``weights_only=True`` loads) unless a CheckpointIO plugin is set;
- the rich progress bar when ``rich`` is installed (else Lightning's tqdm bar);
- the module's class path, app and config recorded in each checkpoint for ``spanmix export``.
"""
from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from lightning.fabric.plugins.io.checkpoint_io import CheckpointIO
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, ProgressBar
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.trainer.trainer import Trainer
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE
from lightning_utilities.core.imports import RequirementCache
from spanmix.apps.harness.checkpoint import AtomicCheckpointIO, RecordRunInfo, find_best_checkpoint
from spanmix.apps.harness.errors import attach_flags

__all__ = ["RUNS_DIR", "SpanmixCLI", "run_cli"]

#: Runs go to ``<RUNS_DIR>/<app>/<experiment>`` (relative to the working directory).
RUNS_DIR = "runs"
_TENSORBOARD_AVAILABLE = RequirementCache("tensorboard") or RequirementCache("tensorboardX")
_EXPERIMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]*$")


class SpanmixCLI(LightningCLI):
    """LightningCLI with the harness defaults (module docstring). Use ``run_cli``."""

    def __init__(self, *args: Any, app: str, links: Sequence[Any] = (), monitor: str = "val/loss",
                 mode: str = "min", callbacks: Sequence[Callable[[], Callback]] = (), **kwargs: Any):
        self.app, self.links, self.monitor, self.mode = app, tuple(links), monitor, mode
        self.app_callbacks = tuple(callbacks)
        try:
            super().__init__(*args, **kwargs)
        except Exception as exc:  # the CLI boundary (errors.cli_errors) then names our flags, not Python's
            if getattr(self, "config", None) is not None:
                attach_flags(exc, self.cli_options())
            raise

    def cli_options(self) -> dict[str, Any]:
        """The parsed options as ``{"data.csv": value, ...}``, data's first (``init_args.`` left out)."""
        flat = {}
        for key, value in self._subconfig().items():
            flat.setdefault(key.replace(".init_args.", "."), value)
        rank = {"data": 0, "model": 1}
        return dict(sorted(flat.items(), key=lambda kv: rank.get(kv[0].split(".", 1)[0], 2)))

    # ------------------------------------------------------------------ parser
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument(
            "--experiment", type=Optional[str], default=None,
            help=f"Run name: the run goes to {RUNS_DIR}/{self.app}/<experiment> unless "
                 "trainer.default_root_dir is set. Default: the first --config file's stem, else 'default'.")
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({
            "checkpoint.monitor": self.monitor,
            "checkpoint.mode": self.mode,
            "checkpoint.save_last": True,
            "checkpoint.save_top_k": 1,
            "checkpoint.filename": "best-{epoch}-{step}",
        })
        for link in self.links:
            if isinstance(link, Mapping):
                parser.link_arguments(**link)
            else:
                source, target, *rest = link
                parser.link_arguments(source, target, apply_on=rest[0] if rest else "parse")

    # ------------------------------------------------------------------ run directory
    def _subconfig(self):
        return self.config[self.subcommand] if self.subcommand else self.config

    def experiment_name(self) -> str:
        cfg = self._subconfig()
        name = cfg.get("experiment")
        if not name:
            configs = cfg.get("config") or self.config.get("config") or []
            name = os.path.splitext(os.path.basename(str(configs[0])))[0] if configs else "default"
        if not _EXPERIMENT_NAME.match(name):
            raise ValueError(f"experiment name {name!r} must be a plain file name (letters, digits, "
                             ". _ + = -), not a path; set --experiment NAME or trainer.default_root_dir")
        return name

    def before_instantiate_classes(self) -> None:
        cfg = self._subconfig()
        if cfg.trainer.get("default_root_dir") is None:
            cfg.trainer.default_root_dir = os.path.join(RUNS_DIR, self.app, self.experiment_name())
        if cfg.checkpoint.get("dirpath") is None:
            # Fixed per experiment (not per logger version) so that `--ckpt_path last` finds it on resume.
            cfg.checkpoint.dirpath = os.path.join(cfg.trainer.default_root_dir, "checkpoints")

    def _resolve_best_checkpoint(self) -> None:
        # Lightning resolves `ckpt_path="best"` from the callback's memory of the current process only;
        # in a fresh `validate/test/predict` run, read it from the experiment's last checkpoint instead.
        sub = self.config_init[self.subcommand]
        callback = self.trainer.checkpoint_callback
        if sub.get("ckpt_path") == "best" and callback is not None and not callback.best_model_path:
            sub["ckpt_path"] = find_best_checkpoint(callback.dirpath)

    before_validate = before_test = before_predict = _resolve_best_checkpoint

    # ------------------------------------------------------------------ trainer
    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        # Same as LightningCLI.instantiate_trainer, plus the harness defaults.
        config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        callbacks = [self._get(self.config_init, key) for key in self._parser(self.subcommand).callback_keys]
        root = config.get("default_root_dir") or "."

        if config.get("enable_checkpointing") is False:  # Lightning rejects a ModelCheckpoint then
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        if config.get("logger") in (None, True):
            config["logger"] = _default_loggers(root)
        plugins = config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            plugins.append(AtomicCheckpointIO())
        config["plugins"] = plugins

        user_callbacks = config.get("callbacks") or []
        user_callbacks = user_callbacks if isinstance(user_callbacks, list) else [user_callbacks]
        if (_RICH_AVAILABLE and config.get("enable_progress_bar") is not False
                and not any(isinstance(c, ProgressBar) for c in user_callbacks + callbacks)):
            from lightning.pytorch.callbacks import RichProgressBar

            callbacks.append(RichProgressBar())
        callbacks.append(RecordRunInfo(app=self.app, config=self._plain_config()))
        callbacks += [make() for make in self.app_callbacks]
        return self._instantiate_trainer(config, callbacks)

    def _plain_config(self) -> dict[str, Any]:
        """The run's config as plain JSON types (safe for weights_only checkpoints and config.json)."""
        self._dump_config()  # LightningCLI's cached YAML round-trip of the (sub)command config
        return json.loads(json.dumps(self.config_dump, default=str))


def _default_loggers(root: str) -> list:
    csv = CSVLogger(root, name="csv")
    loggers = [csv]
    if _TENSORBOARD_AVAILABLE:
        from lightning.pytorch.loggers import TensorBoardLogger

        # Same version number as the CSV log, so csv/version_N and tensorboard/version_N are one run.
        loggers.append(TensorBoardLogger(root, name="tensorboard", version=csv.version,
                                         default_hp_metric=False))
    return loggers


def run_cli(model_class: Any, datamodule_class: Any = None, args: Sequence[str] | None = None, *, app: str,
            links: Sequence[Any] = (), monitor: str = "val/loss", mode: str = "min",
            callbacks: Sequence[Callable[[], Callback]] = (), **cli_kwargs: Any) -> LightningCLI:
    """Run ``spanmix <app> ...`` for ``model_class`` and ``datamodule_class``; return the LightningCLI.

    Args:
        model_class: the app's LightningModule (its ``__init__`` arguments become ``model.*`` options).
        datamodule_class: the app's LightningDataModule (``data.*`` options).
        args: the command line after ``<app>`` (``["fit", "--config", "x.yaml"]``); ``None``: ``sys.argv``.
        app: the app name, used for ``runs/<app>/...`` and ``--help``.
        links: argument links, each ``(source, target)`` (applied when parsing: ``("data.seq_len",
            "model.seq_len")``), ``(source, target, "instantiate")`` (``target`` set from the instantiated
            ``source`` object's attribute: ``("data.n_features", "model.n_features", "instantiate")``, so the
            data module must know it after ``__init__``), or a dict of ``link_arguments`` keywords.
        monitor, mode: the default metric (and its direction) for the best checkpoint.
        callbacks: factories of the app's own callbacks (e.g. a prediction writer), added to every
            trainer besides those of the config (a config's ``trainer.callbacks`` does not replace them).
        cli_kwargs: passed to ``LightningCLI`` (e.g. ``subclass_mode_model=True``, ``trainer_defaults``).
    """
    trainer_defaults = {"deterministic": "warn", **cli_kwargs.pop("trainer_defaults", {})}
    cli_kwargs.setdefault("seed_everything_default", 0)
    parser_kwargs = {"prog": f"spanmix {app}",
                     "description": f"spanmix {app}: train and evaluate with a YAML config (LightningCLI).",
                     **cli_kwargs.pop("parser_kwargs", {})}
    with warnings.catch_warnings():
        # The dispatcher always passes args explicitly while sys.argv also holds them; that is intended.
        warnings.filterwarnings("ignore", message=r".*LightningCLI's args parameter is intended")
        return SpanmixCLI(model_class, datamodule_class, args=None if args is None else list(args), app=app,
                          links=links, monitor=monitor, mode=mode, callbacks=callbacks,
                          trainer_defaults=trainer_defaults,
                          parser_kwargs=parser_kwargs, **cli_kwargs)
