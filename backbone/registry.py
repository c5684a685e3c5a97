"""The one registry mechanism: things are built by name so a config can swap them.

Mixers live in ``MIXERS``; apps keep their models in a ``Registry`` of their own kind.

    @register_mixer("local")
    class LocalAttention(Mixer): ...

    build_mixer("local", dim=256, heads=8, window=128)
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, TypeVar

T = TypeVar("T", bound=type)


class Registry:
    """Name -> class. Unknown names and unknown constructor options are errors, never silently dropped.

    Args:
        kind: what is registered ("mixer", "forecast model", ...), used in error messages.
        loader: called before the first look-up to import the modules that register the built-ins.
    """

    def __init__(self, kind: str, loader: Callable[[], None] | None = None):
        self.kind = kind
        self._classes: dict[str, type] = {}
        self._loader = loader

    def register(self, name: str) -> Callable[[T], T]:
        def decorate(cls: T) -> T:
            if self._classes.get(name, cls) is not cls:
                raise ValueError(f"{self.kind} name {name!r} is already registered to {self._classes[name].__qualname__}")
            self._classes[name] = cls
            return cls

        return decorate

    def names(self) -> list[str]:
        self._load()
        return sorted(self._classes)

    def get(self, name: str) -> type:
        self._load()
        try:
            return self._classes[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}") from None

    def options(self, name: str, skip: int = 1) -> set[str]:
        """Keyword options of the constructor, after ``self`` and ``skip`` leading positional arguments."""
        params = list(inspect.signature(self.get(name).__init__).parameters.values())[1 + skip:]
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return {p.name for p in params if p.kind in kinds}

    def build(self, name: str, *args: Any, **options: Any):
        """Instantiate ``name`` with positional ``args`` and checked keyword ``options``."""
        accepted = self.options(name, skip=len(args))
        unknown = set(options) - accepted
        if unknown:
            raise ValueError(f"{self.kind} {name!r} got unknown option(s) {sorted(unknown)}; "
                             f"it accepts: {sorted(accepted)}")
        return self.get(name)(*args, **options)

    def _load(self) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            loader()


def _load_builtin_mixers() -> None:
    # Importing the package registers the built-in mixers (deferred to avoid an import cycle).
    from spanmix.backbone import mixers  # noqa: F401


MIXERS = Registry("mixer", loader=_load_builtin_mixers)


def register_mixer(name: str) -> Callable[[T], T]:
    """Class decorator: make a mixer buildable as ``build_mixer(name, dim, **options)``."""
    register = MIXERS.register(name)

    def decorate(cls: T) -> T:
        cls.mixer_name = name
        return register(cls)

    return decorate


def list_mixers() -> list[str]:
    """Names of every registered mixer, sorted."""
    return MIXERS.names()


def mixer_class(name: str) -> type:
    """The class registered as ``name``; a ValueError lists the known names otherwise."""
    return MIXERS.get(name)


def mixer_options(name: str) -> set[str]:
    """The keyword options mixer ``name`` accepts besides ``dim``."""
    return MIXERS.options(name)


def build_mixer(name: str, dim: int, **options: Any):
    """Build the mixer registered as ``name`` for width ``dim``; unknown names/options raise ValueError."""
    return MIXERS.build(name, dim, **options)
