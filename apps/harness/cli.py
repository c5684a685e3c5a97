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
- the rich progress bar when ``rich`` is installed (else Lightning's tqdm bar); when stdout is not a terminal,
  a plain progress line every ``--progress_every_n_steps`` (50) steps instead (``progress.PlainProgress``);
- ``--resume_every_n_steps`` and exact resume (``resume.ExactResume``: sampler, RNG states, metrics log);
- ``--ckpt_path last`` falls back to the kept previous ``last.ckpt`` when the newest is damaged; a damaged
  checkpoint is one ``CheckpointError``; Lightning's ``--weights_only`` option is removed;
- the module's class path, app and config recorded in each checkpoint for ``spanmix export``.
"""
from __future__ import annotations

import json
import os
import re
import sys
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
from spanmix.apps.harness.checkpoint import (
    AtomicCheckpointIO,
    RecordRunInfo,
    _is_local,
    find_best_checkpoint,
    resolve_last_checkpoint,
)
from spanmix.apps.harness.errors import attach_flags
from spanmix.apps.harness.export import load_checkpoint_file
from spanmix.apps.harness.progress import PlainProgress
from spanmix.apps.harness.resume import ExactResume, make_resumable, read_metrics

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
        parser.add_argument(
            "--resume_every_n_steps", type=Optional[int], default=None,
            help="Also write checkpoints/last.ckpt every N training steps (mid-epoch), so that a run killed "
                 "mid-epoch resumes exactly with --ckpt_path last. Default: only where checkpoint.* saves.")
        parser.add_argument(
            "--progress_every_n_steps", type=int, default=50,
            help="When stdout is not a terminal (a file, a pipe), print a progress line every N training "
                 "steps instead of drawing a progress bar.")
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
        sub = self.config.get("subcommand")  # also before LightningCLI sets self.subcommand
        return self.config[sub] if sub else self.config

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

    def _run_dirs(self) -> tuple[str, str]:
        cfg = self._subconfig()
        root = cfg.trainer.get("default_root_dir") or os.path.join(RUNS_DIR, self.app, self.experiment_name())
        return root, cfg.checkpoint.get("dirpath") or os.path.join(root, "checkpoints")

    def before_instantiate_classes(self) -> None:
        cfg = self._subconfig()
        # The checkpoint directory is fixed per experiment (not per logger version) so that `--ckpt_path
        # last` finds it on resume.
        cfg.trainer.default_root_dir, cfg.checkpoint.dirpath = self._run_dirs()

    def _parse_ckpt_path(self) -> None:
        # Before Lightning reads the checkpoint's hyper-parameters: resolve `last` to a readable file (falling
        # back to the previous one if the newest is damaged), give a damaged explicit path one clear error,
        # and note the resumed run's CSV log version.
        self.resume_state: dict[str, Any] = {}
        sub = self.config.get("subcommand")
        path = self.config[sub].get("ckpt_path") if sub else None
        if path == "last" and sub == "fit":
            resolved = resolve_last_checkpoint(self._run_dirs()[1], warn=_warn_line)
            if resolved is not None:
                self.config[sub].ckpt_path = path = resolved
        if path not in (None, "last", "best", "hpc", "registry") and _is_local(path):
            ckpt = load_checkpoint_file(path, mmap=True)
            if sub == "fit":
                self.resume_state = dict((ckpt.get("callbacks") or {}).get(ExactResume.__qualname__) or {})
        super()._parse_ckpt_path()

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        # Lightning's `--weights_only false` would let any checkpoint file run pickled code; the CLI does not
        # offer it (Python callers can still pass weights_only=False to Trainer methods for files they trust).
        return {name: set(skip) | {"weights_only"} for name, skip in LightningCLI.subcommands().items()}

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        if self.subcommand == "fit" and self.trainer.world_size == 1:
            seed = self._subconfig().get("seed_everything")
            owner = self.datamodule if self.datamodule is not None else self.model
            _make_train_loader_resumable(owner, seed if isinstance(seed, int) and seed is not True else 0)

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
            config["logger"] = _default_loggers(root, getattr(self, "resume_state", {}).get("csv_version"))
        plugins = config.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            plugins.append(AtomicCheckpointIO())
        config["plugins"] = plugins

        user_callbacks = config.get("callbacks") or []
        user_callbacks = user_callbacks if isinstance(user_callbacks, list) else [user_callbacks]
        if (config.get("enable_progress_bar") is not False
                and not any(isinstance(c, ProgressBar) for c in user_callbacks + callbacks)):
            if not sys.stdout.isatty():  # a file or a pipe: plain lines, not a redrawn bar
                callbacks.append(PlainProgress(self._subconfig().get("progress_every_n_steps") or 50))
            elif _RICH_AVAILABLE:
                from lightning.pytorch.callbacks import RichProgressBar

                callbacks.append(RichProgressBar())
        callbacks.append(RecordRunInfo(app=self.app, config=self._plain_config()))
        if self.subcommand == "fit":
            seed = self._subconfig().get("seed_everything")
            state = getattr(self, "resume_state", {})
            metrics = None
            if state.get("csv_version") is not None and "csv_steps_below" in state:
                path = os.path.join(root, "csv", f"version_{state['csv_version']}", "metrics.csv")
                metrics = read_metrics(path, state["csv_steps_below"])
            callbacks.append(ExactResume(seed if isinstance(seed, int) and seed is not True else 0,
                                         self._subconfig().get("resume_every_n_steps"), metrics))
        callbacks += [make() for make in self.app_callbacks]
        return self._instantiate_trainer(config, callbacks)

    def _plain_config(self) -> dict[str, Any]:
        """The run's config as plain JSON types (safe for weights_only checkpoints and config.json)."""
        self._dump_config()  # LightningCLI's cached YAML round-trip of the (sub)command config
        return json.loads(json.dumps(self.config_dump, default=str))


def _warn_line(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")


def _make_train_loader_resumable(owner: Any, seed: int) -> None:
    """Wrap ``owner.train_dataloader`` (data module or model) so that its loader gets an ``EpochSampler``."""
    make = getattr(owner, "train_dataloader", None)
    if not callable(make) or getattr(make, "_spanmix_resumable", False):
        return

    def train_dataloader():
        return make_resumable(make(), seed)

    train_dataloader._spanmix_resumable = True
    owner.train_dataloader = train_dataloader


def _default_loggers(root: str, version: int | None = None) -> list:
    # `version`: a resumed run appends to the CSV log of the run it resumes (see resume.ExactResume).
    csv = CSVLogger(root, name="csv", version=version)
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
    # A resumed run writes its config.yaml into the CSV version folder of the run it resumes.
    cli_kwargs.setdefault("save_config_kwargs", {"overwrite": True})
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
