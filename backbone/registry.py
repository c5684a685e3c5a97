"""The one mixer registry: mixers are built by name so an app config can swap them.

    @register_mixer("local")
    class LocalAttention(Mixer): ...

    build_mixer("local", dim=256, heads=8, window=128)
"""
from __future__ import annotations

import inspect
from typing import Callable, TypeVar

from torch import nn

_MIXERS: dict[str, type[nn.Module]] = {}
T = TypeVar("T", bound=type)


def register_mixer(name: str) -> Callable[[T], T]:
    """Class decorator: make a mixer buildable as ``build_mixer(name, dim, **options)``."""

    def decorate(cls: T) -> T:
        if name in _MIXERS and _MIXERS[name] is not cls:
            raise ValueError(f"mixer name {name!r} is already registered to {_MIXERS[name].__qualname__}")
        _MIXERS[name] = cls
        cls.mixer_name = name
        return cls

    return decorate


def list_mixers() -> list[str]:
    """Names of every registered mixer, sorted."""
    _load_builtin_mixers()
    return sorted(_MIXERS)


def mixer_class(name: str) -> type[nn.Module]:
    """The class registered as ``name``; a ValueError lists the known names otherwise."""
    _load_builtin_mixers()
    try:
        return _MIXERS[name]
    except KeyError:
        raise ValueError(f"unknown mixer {name!r}; expected one of: {', '.join(sorted(_MIXERS))}") from None


def mixer_options(name: str) -> set[str]:
    """The keyword options mixer ``name`` accepts besides ``dim``."""
    params = list(inspect.signature(mixer_class(name).__init__).parameters.values())[2:]  # skip self, dim
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in kinds}


def build_mixer(name: str, dim: int, **options) -> nn.Module:
    """Build the mixer registered as ``name`` for width ``dim``.

    Unknown names and options raise a ValueError that lists what is accepted; nothing is silently dropped.
    """
    cls = mixer_class(name)
    unknown = set(options) - mixer_options(name)
    if unknown:
        raise ValueError(
            f"mixer {name!r} got unknown option(s) {sorted(unknown)}; it accepts: {sorted(mixer_options(name))}"
        )
    return cls(dim, **options)


def _load_builtin_mixers() -> None:
    # Importing the package registers the built-in mixers (deferred to avoid an import cycle).
    from spanmix.backbone import mixers  # noqa: F401
