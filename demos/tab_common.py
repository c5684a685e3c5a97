"""What every tab of the demo hub shares: the user-facing error, its box on the page, the toast, the weights.

A tab raises :class:`DemoError` for a problem with the user's choice or file; its button handlers turn that
(and any bug) into :func:`error_box` on the page plus a :func:`toast`, never a traceback. The hub adds
:data:`CSS` once, before the tabs' own style sheets, and caps every upload at :data:`MAX_UPLOAD_MB`.
"""

from __future__ import annotations

import html
import warnings
from functools import lru_cache
from pathlib import Path

__all__ = ["CSS", "MAX_UPLOAD_MB", "DemoError", "clean_message", "demo_exports", "error_box", "load_weights",
           "toast"]

#: The hub's cap on any upload, in MB (a tab may check a smaller one of its own).
MAX_UPLOAD_MB = 20

CSS = """
.spanmix-error { border: 1px solid #d33; background: #fdecea; color: #611a15; padding: 0.7em 1em;
                 border-radius: 6px; }
"""


class DemoError(ValueError):
    """A problem with the user's choice or file, shown on the page as it is."""


def error_box(message: str, action: str = "run") -> str:
    """``message`` as the page's error box: ``⚠️ Cannot <action>: <message>`` (HTML-escaped)."""
    text = html.escape(message, quote=False)
    return f'<div class="spanmix-error" role="alert">⚠️ <b>Cannot {action}:</b> {text}</div>'


def toast(message: str) -> None:
    """A Gradio warning toast in the browser (outside a request, as in unit tests, it is silent)."""
    import gradio as gr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # outside a request gr.Warning only warns
        gr.Warning(message)


def clean_message(message: str, path: str | None) -> str:
    """Error text without the server's temporary folder (uploads live under /tmp/gradio/<hash>/)."""
    return message.replace(str(Path(path).expanduser()), Path(path).name) if path else message


@lru_cache(maxsize=16)
def load_weights(path: str):
    """The module exported at ``path`` (``spanmix export`` / ``save_pretrained``), in eval mode, loaded once."""
    from spanmix.apps.harness.export import load_pretrained

    return load_pretrained(path)


def demo_exports(weights_dir: str | Path) -> list[tuple[Path, dict]]:
    """``(export folder, its metadata)`` for every export under ``weights_dir`` whose metadata records a
    ``demo`` entry (written by ``spanmix weights build``), sorted by folder name."""
    from spanmix.apps.harness.weights import list_exports

    return list_exports(weights_dir)
