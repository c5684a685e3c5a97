"""Pretrained exports: ``model.safetensors`` + ``config.json``, and loading them back safely.

An export directory holds:

- ``model.safetensors``: the module's ``state_dict`` (shared/tied tensors stored once);
- ``config.json``: ``class_path`` (the module's class, always under ``spanmix.``), ``init_args`` (what its
  constructor is called with), ``instantiate`` (how: plain keyword arguments, or ``"jsonargparse"`` for
  modules built by the CLI, whose hyper-parameters are the parsed config), and free-form ``metadata``
  (training config, metrics, source checkpoint).

Loading never unpickles anything and only imports classes under ``spanmix.``; nested class paths inside
CLI-made ``init_args`` (an optimizer, an activation) may also name ``torch.nn.`` or ``torch.optim.``.
Files are written atomically (a temporary file in the same directory, then ``os.replace``), so a crash
never leaves a half-written file under the real name. This module does not import Lightning: plain
exports load with torch + safetensors only.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import pickle
import re
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn.functional as F
from spanmix.apps.harness.errors import CheckpointError
from torch import nn

__all__ = [
    "CONFIG_NAME",
    "TRUSTED_PREFIXES",
    "WEIGHTS_NAME",
    "atomic_path",
    "class_path_of",
    "export_checkpoint",
    "import_trusted_class",
    "load_checkpoint_file",
    "load_pretrained",
    "read_pretrained_config",
    "save_pretrained",
    "update_pretrained_metadata",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
FORMAT = "spanmix-pretrained"
FORMAT_VERSION = 1
#: The only namespaces whose classes ``load_pretrained`` / ``export_checkpoint`` will import.
TRUSTED_PREFIXES: tuple[str, ...] = ("spanmix.",)
#: Namespaces allowed for class paths and import strings *nested inside* CLI-made init args.
NESTED_TRUSTED_PREFIXES: tuple[str, ...] = ("spanmix.", "torch.nn.", "torch.optim.")
#: Key under which the harness records the module's class (and app, config) in a Lightning checkpoint.
CHECKPOINT_KEY = "spanmix"
_JSONARGPARSE = "jsonargparse"
_KWARGS = "kwargs"


# --------------------------------------------------------------------------------------------- files
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success give it the mode a new file gets (0666 less the umask),
    fsync it and ``os.replace`` it onto ``path``.

    If the body raises, the temporary file is removed and ``path`` keeps its previous content. (A hard kill
    mid-write can leave a hidden ``.NAME.*.tmp`` file behind; never a truncated ``path``.)
    """
    path = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode())  # some writers (safetensors) create 0600 files
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file: 0666 less the umask (0644 under the usual 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_dir(directory: str) -> None:
    # Makes the rename itself durable; not possible everywhere (e.g. Windows), so best effort.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")


# --------------------------------------------------------------------------------------------- classes
def class_path_of(obj_or_cls: Any) -> str:
    """``module.QualName`` of a class (or of an instance's class)."""
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    return f"{cls.__module__}.{cls.__qualname__}"


def _trusted(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path.startswith(p) for p in prefixes)


_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")


def _resolve(path: str, prefixes: tuple[str, ...]) -> Any:
    """The object a dotted path names, resolved as importers do (the longest importable module, then
    attributes), importing nothing outside ``prefixes``. The caller checks what it resolved to: the *name*
    proves nothing (``torch.nn.functional.torch.load`` is ``torch.load``)."""
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        if not _trusted(module_name + ".", prefixes):
            continue
        try:
            obj = importlib.import_module(module_name)
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)  # AttributeError: the caller reports it
        return obj
    raise ImportError(f"no importable module under {', '.join(prefixes)} in {path!r}")


def _defined_under(obj: Any, prefixes: tuple[str, ...]) -> bool:
    return isinstance(getattr(obj, "__module__", None), str) and _trusted(obj.__module__ + ".", prefixes)


def import_trusted_class(class_path: str) -> type[nn.Module]:
    """Import ``class_path`` if, and only if, it resolves to an ``nn.Module`` class defined under ``spanmix.``."""
    if not isinstance(class_path, str) or not _trusted(class_path, TRUSTED_PREFIXES):
        raise ValueError(
            f"refusing to import class {class_path!r}: pretrained exports and checkpoints may only name "
            f"classes under {' or '.join(repr(p) for p in TRUSTED_PREFIXES)} (importing an arbitrary class "
            "named by a file is arbitrary code execution)")
    try:
        obj = _resolve(class_path, TRUSTED_PREFIXES)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot import class {class_path!r} named by the export/checkpoint: {e}") from e
    if not (isinstance(obj, type) and issubclass(obj, nn.Module) and _defined_under(obj, TRUSTED_PREFIXES)):
        raise ValueError(f"refusing {class_path!r}: expected an nn.Module subclass defined under 'spanmix.', "
                         f"got {obj!r}")
    return obj


def _nested_allowed(obj: Any) -> bool:
    """What a class path or import string nested in CLI-made init args may resolve to: a class defined under
    ``spanmix.``; an ``nn.Module``, optimizer or LR scheduler class defined under ``torch.nn.``/``torch.optim.``;
    or a function of ``torch.nn.functional`` (an activation)."""
    if isinstance(obj, type):
        if _defined_under(obj, ("spanmix.",)):
            return True
        torch_kinds = (nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler)
        return issubclass(obj, torch_kinds) and _defined_under(obj, ("torch.nn.", "torch.optim."))
    name = getattr(obj, "__name__", "")
    in_functional = getattr(obj, "__module__", None) == "torch.nn.functional" or (  # or a builtin it exports
        isinstance(name, str) and not name.startswith("_") and getattr(F, name, None) is obj)
    return callable(obj) and not isinstance(obj, ModuleType) and in_functional


def _check_nested(value: Any, where: str = "init_args") -> None:
    """CLI-made init args are instantiated by jsonargparse, which imports the class paths and callable
    names they contain. Each must resolve (``_resolve``) to an object ``_nested_allowed`` accepts; a dotted
    string whose root is an importable module outside NESTED_TRUSTED_PREFIXES (``os.system``) is refused."""
    if isinstance(value, Mapping):
        cp = value.get("class_path")
        if cp is not None:
            _check_dotted(cp, f"{where}.class_path", explicit=True)
        for k, v in value.items():
            if k != "class_path":
                _check_nested(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_nested(v, f"{where}[{i}]")
    elif isinstance(value, str) and _DOTTED.match(value):
        _check_dotted(value, where, explicit=False)


def _check_dotted(path: Any, where: str, explicit: bool) -> None:
    refuse = ValueError(f"refusing import path {path!r} at {where}: only classes under spanmix., torch.nn "
                        "modules, torch.optim optimizers/schedulers and torch.nn.functional functions may "
                        "be imported from an export")
    if not isinstance(path, str):
        raise refuse
    if not _trusted(path, NESTED_TRUSTED_PREFIXES):
        if explicit:
            raise refuse
        root = path.split(".", 1)[0]
        try:
            importable = importlib.util.find_spec(root) is not None  # finds, never executes
        except (ImportError, ValueError):
            importable = False
        if importable:
            raise refuse
        return  # a plain dotted string (e.g. "v1.2") that names nothing importable
    try:
        obj = _resolve(path, NESTED_TRUSTED_PREFIXES)
    except (ImportError, AttributeError):
        raise refuse from None
    if not _nested_allowed(obj):
        raise refuse


def _instantiate(cls: type[nn.Module], init_args: dict[str, Any], how: str) -> nn.Module:
    if how == _KWARGS:
        return cls(**init_args)
    if how != _JSONARGPARSE:
        raise ValueError(f"unknown instantiate mode {how!r}; expected {_KWARGS!r} or {_JSONARGPARSE!r}")
    _check_nested(init_args)
    # Same as lightning.pytorch.cli.instantiate_module: the hparams of a CLI-built module are its parsed
    # config (nested class_path/init_args, callables by name), so they are rebuilt the way they were parsed.
    try:
        from jsonargparse import ArgumentParser
    except ImportError as e:
        raise ImportError("this export was made by the CLI; rebuilding it needs jsonargparse: "
                          "pip install 'spanmix[train]'") from e
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(cls, "module", fail_untyped=False)
    cfg = parser.parse_object({"module": init_args})
    return parser.instantiate_classes(cfg).module


# --------------------------------------------------------------------------------------------- JSON
def _jsonable(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:  # numpy scalar
        return value.item()
    raise ValueError(f"{where} is a {type(value).__name__}, which cannot be stored in {CONFIG_NAME}; "
                     "init args must be plain values (numbers, strings, lists, dicts)")


# --------------------------------------------------------------------------------------------- API
def _init_args_of(module: nn.Module, config: Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    if config is not None:
        return dict(config), _KWARGS
    hparams = getattr(module, "hparams", None)
    if not isinstance(hparams, Mapping):
        raise ValueError(f"save_pretrained({type(module).__name__}, ...) needs config=: the keyword "
                         "arguments that rebuild it (only LightningModules with save_hyperparameters() carry "
                         "them)")
    init_args = dict(hparams)
    how = _JSONARGPARSE if init_args.pop("_instantiator", None) else _KWARGS
    init_args.pop("_class_path", None)
    return init_args, how


def save_pretrained(module: nn.Module, out_dir: str | os.PathLike, config: Mapping[str, Any] | None = None,
                    *, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``module`` to ``out_dir`` as ``model.safetensors`` + ``config.json``; return ``out_dir``.

    Args:
        module: an ``nn.Module`` or ``LightningModule`` whose class is defined under ``spanmix.``.
        out_dir: directory (created if needed; existing export files in it are replaced).
        config: the keyword arguments that rebuild ``module`` (``type(module)(**config)``). Optional for a
            LightningModule: its ``hparams`` (``save_hyperparameters``) are used.
        metadata: anything JSON-serialisable to keep beside it: training config, metrics, provenance.
    """
    init_args, how = _init_args_of(module, config)
    return _write_export(module, Path(out_dir), init_args, how, metadata)


def _write_export(module: nn.Module, out_dir: Path, init_args: dict[str, Any], how: str,
                  metadata: Mapping[str, Any] | None) -> Path:
    from safetensors.torch import save_model

    class_path = class_path_of(module)
    if "<locals>" in class_path or class_path.startswith("__main__."):
        raise ValueError(f"cannot export {class_path!r}: the class must be importable "
                         "(defined at module level, not in __main__)")
    if not _trusted(class_path, TRUSTED_PREFIXES):
        raise ValueError(f"cannot export {class_path!r}: load_pretrained only rebuilds classes under "
                         f"{' or '.join(repr(p) for p in TRUSTED_PREFIXES)}")
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "class_path": class_path,
        "instantiate": how,
        "init_args": _jsonable(init_args, "init_args"),
        "metadata": _jsonable(dict(metadata or {}), "metadata"),
        "versions": _versions(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / WEIGHTS_NAME) as tmp:
        save_model(module, tmp, metadata={"format": "pt"})
    _write_json(out_dir / CONFIG_NAME, config)  # written last: a complete config.json means a complete export
    return out_dir


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"torch": torch.__version__}
    with contextlib.suppress(PackageNotFoundError):
        out["spanmix"] = version("spanmix")
    return out


def read_pretrained_config(path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of an export directory (or the file itself), checked for format."""
    path = Path(path)
    config_file = path / CONFIG_NAME if path.is_dir() else path
    if not config_file.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} at {path}: expected a directory written by "
                                f"save_pretrained (holding {WEIGHTS_NAME} and {CONFIG_NAME})")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{config_file} is not valid JSON: {e}") from e
    if not isinstance(config, dict) or config.get("format") != FORMAT or "class_path" not in config:
        raise ValueError(f"{config_file} is not a spanmix export "
                         f"(expected format {FORMAT!r} with a class_path)")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{config_file} has format_version {config['format_version']}; this spanmix reads "
                         f"up to {FORMAT_VERSION}. Upgrade spanmix.")
    return config


def update_pretrained_metadata(path: str | os.PathLike, **entries: Any) -> dict[str, Any]:
    """Add or replace ``metadata`` entries of the export at ``path`` (directory or its ``config.json``).

    The weights are untouched; ``config.json`` is rewritten atomically. Returns the new config.
    """
    config = read_pretrained_config(path)
    config["metadata"] = {**config.get("metadata", {}), **_jsonable(entries, "metadata")}
    path = Path(path)
    _write_json(path / CONFIG_NAME if path.is_dir() else path, config)
    return config


def load_pretrained(path: str | os.PathLike, *, device: str | torch.device = "cpu") -> nn.Module:
    """Rebuild the module exported at ``path`` (directory or its ``config.json``) in eval mode.

    The class must be under ``spanmix.`` (anything else is refused before import); it is instantiated with
    the stored init args and the safetensors weights are loaded strictly (missing or unexpected keys raise).
    """
    from safetensors.torch import load_model

    config = read_pretrained_config(path)
    export_dir = Path(path) if Path(path).is_dir() else Path(path).parent
    weights = export_dir / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing: the export at {export_dir} is incomplete")
    cls = import_trusted_class(config["class_path"])
    module = _instantiate(cls, dict(config.get("init_args") or {}), config.get("instantiate", _KWARGS))
    load_model(module, weights, strict=True)  # raises on missing/unexpected keys
    return module.to(device).eval()


def load_checkpoint_file(path: str | os.PathLike, map_location: Any = "cpu", **kwargs: Any) -> Any:
    """``torch.load(path, weights_only=True)`` with one clear ``CheckpointError`` for a missing, truncated or
    corrupt file, or one that holds more than tensors and plain containers (never torch's advice to load
    it unsafely). ``kwargs`` go to ``torch.load`` (e.g. ``mmap=True``)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True, **kwargs)
    except pickle.UnpicklingError as e:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if found is None:  # not a pickled object: garbage that the unpickler could not parse
            raise CheckpointError(f"checkpoint {path} is truncated or corrupt (not a torch checkpoint)") from None
        raise CheckpointError(
            f"checkpoint {path} holds objects other than tensors and plain containers (it names "
            f"{found.group(1)}); spanmix "
            "loads checkpoints with torch.load(weights_only=True) and will not unpickle code") from None
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, IndexError) as e:
        # torch reports a cut-off zip as "OSError: [Errno 22]", "PytorchStreamReader failed ...", EOFError...
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({type(e).__name__})") from None


def _load_lightning_checkpoint(ckpt_path: str | os.PathLike) -> dict[str, Any]:
    ckpt = load_checkpoint_file(ckpt_path)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{ckpt_path} is not a Lightning checkpoint (no 'state_dict' entry)")
    return ckpt


def export_checkpoint(ckpt_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                      class_path: str | None = None) -> Path:
    """Turn a Lightning checkpoint into an export directory (``spanmix export --ckpt ... --out ...``).

    The module class comes from ``checkpoint["spanmix"]["class_path"]`` (written by the harness and by
    ``SpanmixModule``), else from the CLI's ``hyper_parameters["_class_path"]`` (subclass mode), else from
    ``class_path``. Its init args are the checkpoint's ``hyper_parameters``.
    """
    ckpt = _load_lightning_checkpoint(ckpt_path)
    info = ckpt.get(CHECKPOINT_KEY) or {}
    hparams = dict(ckpt.get("hyper_parameters") or {})
    class_path = class_path or info.get("class_path") or hparams.get("_class_path")
    if not class_path:
        raise ValueError(f"{ckpt_path} does not record its module class (it was not written through the "
                         "spanmix harness or by a SpanmixModule); pass class_path='spanmix...' "
                         "(--class-path)")
    how = _JSONARGPARSE if hparams.pop("_instantiator", None) else _KWARGS
    hparams.pop("_class_path", None)
    cls = import_trusted_class(class_path)
    module = _instantiate(cls, hparams, how)
    module.load_state_dict(ckpt["state_dict"], strict=True)
    metadata: dict[str, Any] = {
        "source_checkpoint": os.path.basename(os.fspath(ckpt_path)),
        "epoch": ckpt.get("epoch"),
        "global_step": ckpt.get("global_step"),
        "lightning_version": ckpt.get("pytorch-lightning_version"),
    }
    if info.get("app"):
        metadata["app"] = info["app"]
    metrics = {}
    for state in (ckpt.get("callbacks") or {}).values():  # ModelCheckpoint: the monitored score of this file
        if isinstance(state, dict) and state.get("monitor") and state.get("current_score") is not None:
            metrics[state["monitor"]] = float(state["current_score"])
    if metrics:
        metadata["metrics"] = metrics
    if info.get("config") is not None:
        metadata["training_config"] = info["config"]
    return _write_export(module, Path(out_dir), hparams, how, metadata)
