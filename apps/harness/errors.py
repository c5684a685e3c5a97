"""The project's errors and how the command line reports them: one line, exit code 2, no traceback.

Which exceptions are a user's to fix (``user_error``):

- ``SpanmixError`` and its subclasses (``CheckpointError``): raise these in new code for bad input,
  config or data. They also derive from ``ValueError`` where that is the natural Python type.
- any exception class *defined* in a ``spanmix.`` module (``FinanceDataError``, ``EEGDataNotAvailable``,
  the datasets' ``DatasetNotAvailable``/``ChecksumMismatch``): they exist only to report data problems;
- ``ValueError`` and ``FileNotFoundError`` whose ``raise`` statement is in spanmix's own source (the innermost
  traceback frame): our validation messages. The same types raised inside torch, numpy or pandas are not
  ours, and neither is any other type (``TypeError``, ``AttributeError``, ``KeyError``...): those are bugs
  and keep their traceback.

A wrapper that re-raises ours ``from`` it (jsonargparse does when a subclass-mode data module rejects its
arguments: "Does not validate against any of the Union subtypes") is looked through: the first of ours
in the ``__cause__`` chain is reported.

``cli_errors(prog, debug)`` wraps a command: a user error prints ``<prog>: error: <message>`` (newlines
folded) on stderr and exits 2; ``--debug`` or ``SPANMIX_DEBUG=1`` re-raises it with its traceback.
Messages speak of Python arguments (``date_column=...``); the harness CLI attaches its option names to
the exception (``attach_flags``), and the printed message names the flags instead (``--data.date_column``).
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator, Mapping
from types import TracebackType

__all__ = ["CheckpointError", "SpanmixError", "attach_flags", "cli_errors", "debug_requested",
           "format_user_error", "user_error"]

DEBUG_ENV = "SPANMIX_DEBUG"
_FLAGS_ATTR = "spanmix_cli_flags"


class SpanmixError(Exception):
    """Base of the errors a user can fix (bad input, config, data, files); the CLI prints them on one line."""


class CheckpointError(SpanmixError, ValueError):
    """A checkpoint that cannot be used: missing, truncated or corrupt, or holding more than tensors."""


def _spanmix_roots() -> tuple[str, ...]:
    roots = []
    for package in ("spanmix.apps", "spanmix.backbone", "spanmix.datasets", "spanmix.kernels"):
        with contextlib.suppress(ImportError, ValueError):
            spec = importlib.util.find_spec(package)
            roots += [os.path.join(os.path.realpath(p), "") for p in (spec.submodule_search_locations or ())]
    return tuple(roots)


def _raised_in_spanmix(tb: TracebackType | None) -> bool:
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return os.path.realpath(tb.tb_frame.f_code.co_filename).startswith(_spanmix_roots())


def _is_ours(exc: BaseException) -> bool:
    if isinstance(exc, SpanmixError) or type(exc).__module__.startswith("spanmix."):
        return True
    return isinstance(exc, (ValueError, FileNotFoundError)) and _raised_in_spanmix(exc.__traceback__)


def user_error(exc: BaseException) -> BaseException | None:
    """The user-facing error behind ``exc`` (itself or an explicit ``__cause__``), or None for a bug."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if _is_ours(exc):
            return exc
        exc = exc.__cause__
    return None


def attach_flags(exc: BaseException, options: Mapping[str, object]) -> None:
    """Record the command's options ``{"data.date_column": value, ...}`` on ``exc`` for ``format_user_error``
    (the first ones attached win; a name in several groups is named by its first group, so list ``data``
    before ``model``: linked options are set on ``data``)."""
    with contextlib.suppress(AttributeError, TypeError):
        if not hasattr(exc, _FLAGS_ATTR):
            setattr(exc, _FLAGS_ATTR, dict(options))


def _split(options: Mapping[str, object]) -> tuple[dict[str, str], dict[str, str]]:
    flags: dict[str, str] = {}
    values: dict[str, str] = {}
    for key, value in options.items():
        flags.setdefault(key.rsplit(".", 1)[-1], f"--{key}")
        if isinstance(value, str):
            values[f"--{key}"] = value
    return flags, values


def _name_flags(message: str, flags: Mapping[str, str]) -> str:
    # `name=...` -> `--group.name=...`; a bare `name` only when it cannot be an ordinary word (it has an
    # underscore) or it opens the message ("features must be one of ...").
    for name, flag in flags.items():
        pattern = rf"(?<![\w.-])({re.escape(name)})(?==)"
        if "_" in name:
            pattern = rf"(?<![\w.'\"-]){re.escape(name)}(?![\w'\"])"
        message = re.sub(pattern, flag, message)
        message = re.sub(rf"^{re.escape(name)}(?= )", flag, message)
    return message


def format_user_error(exc: BaseException, options: Mapping[str, object] | None = None) -> str:
    """One line: the message with Python argument names replaced by the CLI flags of ``options``
    (``{"data.date_column": value}``, see ``attach_flags``), newlines folded."""
    flags = options if options is not None else getattr(exc, _FLAGS_ATTR, {})
    flags, values = _split(flags)
    message = str(exc)
    named = _name_flags(message, flags)
    if named == message:  # no argument named: name the flag whose (string) value the message quotes
        quoted = [flag for flag, value in values.items() if len(value) > 1 and f"'{value}'" in message]
        if len(quoted) == 1:
            named = f"{quoted[0]}: {message}"
    message = named
    message = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return message or type(exc).__name__


def debug_requested(argv: list[str]) -> bool:
    """Remove every ``--debug`` from ``argv`` (in place); True if one was there or ``SPANMIX_DEBUG`` is set."""
    found = "--debug" in argv
    argv[:] = [a for a in argv if a != "--debug"]
    return found or os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def cli_errors(prog: str, debug: bool = False) -> Iterator[None]:
    """Report a user error raised in the body as ``<prog>: error: <message>`` and exit 2 (see module doc)."""
    try:
        yield
    except Exception as exc:
        ours = user_error(exc)
        if ours is None or debug:
            raise
        flags = getattr(exc, _FLAGS_ATTR, None) or getattr(ours, _FLAGS_ATTR, None) or {}
        sys.stdout.flush()
        sys.stderr.write(f"{prog}: error: {format_user_error(ours, flags)}\n")
        sys.stderr.flush()
        raise SystemExit(2) from None
