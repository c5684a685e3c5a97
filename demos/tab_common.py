"""What every tab of the demo hub shares: the user-facing error, its box on the page, the toast, the weights,
how events are bound, and how figures look.

A tab raises :class:`DemoError` for a problem with the user's choice or file; its button handlers turn that
(and any bug) into :func:`error_box` on the page plus a :func:`toast`, never a traceback. The hub adds
:data:`CSS` once, before the tabs' own style sheets, and caps every upload at :data:`MAX_UPLOAD_MB`.

Conventions a new tab follows (the hub's tests check them on every tab):

- **Every event is bound with** :func:`listen`, never ``button.click(...)`` directly: it names the endpoint
  (``api_name="<tab>_<action>"``, e.g. ``forecast_predict``, instead of Gradio's ``/lambda_3``) and sets its
  concurrency: ``compute=True`` (a model runs: at most the hub's ``--concurrency`` runs of that event at
  once, default :data:`COMPUTE_CONCURRENCY`, measured by ``benchmarks/demo_load.py``) or ``compute=False``
  (a cheap page update: up to :data:`UI_CONCURRENCY` at once, and left out of the API page).
- **Every matplotlib legend is drawn with** :func:`legend` (and colour bars labelled with
  :data:`LABEL_FONTSIZE`): the figures are ~12 in wide and shown ~900 px wide, so smaller text is unreadable.
- **A shading or colour scale drawn in HTML gets a key**: :func:`shading_legend`.
"""

from __future__ import annotations

import html
import re
import warnings
from functools import lru_cache
from pathlib import Path

__all__ = ["COMPUTE_CONCURRENCY", "CSS", "LABEL_FONTSIZE", "LEGEND_FONTSIZE", "MAX_UPLOAD_MB", "UI_CONCURRENCY",
           "DemoError", "clean_message", "demo_exports", "error_box", "legend", "listen", "load_weights",
           "shading_legend", "toast"]

#: The hub's cap on any upload, in MB (a tab may check a smaller one of its own).
MAX_UPLOAD_MB = 20

#: Runs of one model event (a button) computing at once, unless the hub is started with ``--concurrency N``:
#: one per core of the 2-core machine the demos are tested on. The requests are CPU-bound; on that machine,
#: under other jobs' load, 1, 2 and 4 gave p95 latencies within the noise of each other for bursts of 20
#: (benchmarks/results/demo_load.md).
COMPUTE_CONCURRENCY = 2
#: Runs of one cheap page-update event (a dropdown's change) at once.
UI_CONCURRENCY = 4
#: Font sizes (points) of legends and axis/colour-bar labels in the tabs' figures.
LEGEND_FONTSIZE = 12
LABEL_FONTSIZE = 12

CSS = """
.spanmix-error { border: 1px solid #d33; background: #fdecea; color: #611a15; padding: 0.7em 1em;
                 border-radius: 6px; }
.spanmix-shading-legend { display: flex; align-items: center; gap: 0.5em; font-size: 14px; margin: 0.3em 0; }
.spanmix-shading-legend .bar { width: 160px; height: 14px; border: 1px solid #999; border-radius: 3px; }
"""


class DemoError(ValueError):
    """A problem with the user's choice or file, shown on the page as it is."""


def error_box(message: str, action: str = "run") -> str:
    """``message`` as the page's error box: ``⚠️ Cannot <action>: <message>`` (HTML-escaped)."""
    text = html.escape(message, quote=False)
    return f'<div class="spanmix-error" role="alert">⚠️ <b>Cannot {action}:</b> {text}</div>'


def listen(trigger, fn, inputs, outputs, *, api_name: str, compute: bool = True, **kwargs):
    """Bind ``fn`` to ``trigger`` (e.g. ``button.click``) with the hub's conventions; returns the Dependency.

    ``api_name`` names the endpoint (``/gradio_api/call/<api_name>``): ``<tab>_<action>`` in lower snake case.
    ``compute=True`` for an event that runs a model: its concurrency is the hub queue's default (``--concurrency``,
    :data:`COMPUTE_CONCURRENCY`); ``compute=False`` for a cheap page update: :data:`UI_CONCURRENCY` at once,
    undocumented in the API page. Other keyword arguments go to the trigger.
    """
    if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", api_name):
        raise ValueError(f"api_name must be '<tab>_<action>' in lower snake case, e.g. 'forecast_predict'; "
                         f"got {api_name!r}")
    kwargs.setdefault("concurrency_limit", "default" if compute else UI_CONCURRENCY)
    if not compute:
        kwargs.setdefault("api_visibility", "undocumented")
    return trigger(fn, inputs, outputs, api_name=api_name, **kwargs)


def legend(ax, **kwargs):
    """``ax.legend`` at the hub's :data:`LEGEND_FONTSIZE`, without a frame (keyword arguments override)."""
    kwargs.setdefault("fontsize", LEGEND_FONTSIZE)
    kwargs.setdefault("frameon", False)
    return ax.legend(**kwargs)


def shading_legend(label: str, rgb: tuple[int, int, int], low: str = "0", high: str = "1") -> str:
    """HTML key for a per-item background shading of colour ``rgb`` whose opacity encodes a value:
    ``<label>: low [transparent → opaque bar] high``."""
    r, g, b = rgb
    bar = f"background: linear-gradient(to right, rgba({r}, {g}, {b}, 0), rgba({r}, {g}, {b}, 1));"
    return (f'<div class="spanmix-shading-legend" role="note"><span>{html.escape(label)}:</span>'
            f'<span>{html.escape(low)}</span><span class="bar" style="{bar}"></span>'
            f'<span>{html.escape(high)}</span></div>')


def toast(message: str) -> None:
    """A Gradio warning toast in the browser (outside a request, as in unit tests, it is silent)."""
    import gradio as gr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # outside a request gr.Warning only warns
        gr.Warning(message)


_PATH_REPR = re.compile(r"""\b(?:Posix|Windows|Pure\w*)?Path\((['"])(.*?)\1\)""")


def clean_message(message: str, path: str | None = None) -> str:
    """Error text without the server's temporary folder (uploads live under /tmp/gradio/<hash>/) and without
    Python's ``PosixPath('...')`` reprs (a library's message): ``'<file name>'`` instead."""
    if path:
        message = message.replace(str(Path(path).expanduser()), Path(path).name)
    return _PATH_REPR.sub(lambda m: repr(Path(m.group(2)).name), message)


def class_probabilities(logits, what: str, why: str):
    """Softmax of one cloud's class ``logits`` (C,) as a numpy array. Non-finite logits (the model overflowed)
    are a ``DemoError``: "the <what>'s output overflowed on this cloud (<why>): pick another cloud"."""
    import numpy as np
    import torch

    probs = torch.softmax(logits, -1).numpy()
    if not np.isfinite(probs).all():
        raise DemoError(f"the {what}'s output overflowed on this cloud ({why}): pick another cloud")
    return probs


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
