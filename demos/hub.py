"""The spanmix demo hub: one Gradio page, one tab per app.

    python demos/hub.py                        # http://127.0.0.1:7860
    python demos/hub.py --port 8000            # or SPANMIX_DEMO_PORT=8000 (or `make demo PORT=8000`)
    python demos/hub.py --concurrency 4        # runs of one model event at once (or SPANMIX_DEMO_CONCURRENCY)
    python demos/hub.py --host 0.0.0.0         # reachable from other machines (or SPANMIX_DEMO_HOST); you
                                               # then expose it to your network: it has no authentication

Each tab is a script beside this one (``demos/<app>_tab.py``) with a ``build_tab()`` that lays out its
components inside the current ``gr.Tab``, binding its events with ``tab_common.listen`` (named endpoints,
per-event concurrency); add a line to :data:`TABS` for a new app. The hub binds to 127.0.0.1 unless told
otherwise, never creates a public share link, and caps uploads at ``tab_common.MAX_UPLOAD_MB`` MB.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the tab scripts live beside this file (demos/ is not a package)
    sys.path.insert(0, str(HERE))

import tab_common  # (found through the path above)

#: (tab title, module in demos/) -- one per app.
TABS: list[tuple[str, str]] = [
    ("Forecast", "forecast_tab"),
    ("EEG", "eeg_tab"),
    ("Finance", "finance_tab"),
    ("Genomics", "genomics_tab"),
    ("Restore", "restore_tab"),
    ("Video", "video_tab"),
    ("Points", "points_tab"),
    ("Music", "music_tab"),
]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860


def build_hub(concurrency: int = tab_common.COMPUTE_CONCURRENCY):
    """The hub's ``gr.Blocks`` (not launched); each model event runs at most ``concurrency`` requests at once."""
    import gradio as gr

    if concurrency < 1:
        raise ValueError(f"--concurrency must be a positive number of requests, got {concurrency}")
    with gr.Blocks(title="spanmix demos") as hub:
        gr.Markdown(
            "# spanmix demos\nOne sequence backbone of local and global token mixers, reused by each app "
            "below. Everything runs on this machine, on CPU."
        )
        with gr.Tabs():
            for title, module in TABS:
                with gr.Tab(title):
                    importlib.import_module(module).build_tab()
    hub.queue(default_concurrency_limit=concurrency)
    return hub


def css() -> str:
    """The shared style sheet, then the tabs' own, concatenated (Gradio 6 takes them at launch)."""
    sheets = [tab_common.CSS] + [getattr(importlib.import_module(module), "CSS", "") for _, module in TABS]
    return "\n".join(sheets)


def max_file_size() -> str:
    return f"{tab_common.MAX_UPLOAD_MB}mb"


def launch(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
           concurrency: int = tab_common.COMPUTE_CONCURRENCY, **kwargs):
    """Build and launch the hub on ``host:port`` (no public share link); returns ``(hub, local_url)``.

    Gradio's own start-up lines (which suggest ``share=True``) are silenced; :func:`main` prints one line.
    """
    hub = build_hub(concurrency)
    kwargs.setdefault("quiet", True)
    _, url, _ = hub.launch(
        server_name=host,
        server_port=port,
        share=False,
        max_file_size=max_file_size(),
        css=css(),
        show_error=False,
        **kwargs,
    )
    return hub, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="spanmix demo hub (Gradio)")
    parser.add_argument(
        "--host",
        default=os.environ.get("SPANMIX_DEMO_HOST", DEFAULT_HOST),
        help=f"address to bind (default {DEFAULT_HOST}, or $SPANMIX_DEMO_HOST)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("SPANMIX_DEMO_PORT", DEFAULT_PORT)),
        help=f"port (default {DEFAULT_PORT}, or $SPANMIX_DEMO_PORT)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("SPANMIX_DEMO_CONCURRENCY", tab_common.COMPUTE_CONCURRENCY)),
        help=f"requests one model event runs at once (default {tab_common.COMPUTE_CONCURRENCY}, "
        "or $SPANMIX_DEMO_CONCURRENCY)",
    )
    ns = parser.parse_args(argv)
    if ns.concurrency < 1:
        parser.error(f"--concurrency must be a positive number of requests, got {ns.concurrency}")
    hub, url = launch(ns.host, ns.port, ns.concurrency, prevent_thread_lock=True)
    where = "this machine only" if ns.host in ("127.0.0.1", "localhost") else f"every host that reaches {ns.host}"
    print(f"spanmix demos on {url} ({where}; no public link). Ctrl+C stops it.", flush=True)
    try:
        hub.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        hub.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
