"""The ``spanmix`` command.

    spanmix <app> fit|validate|test|predict --config CFG.yaml [--key value ...]   (LightningCLI; see --help)
    spanmix export --ckpt PATH --out DIR                                          (checkpoint -> safetensors)
    spanmix weights build <app> [entry ...] | --all                               (shipped weights; see harness.weights)
    spanmix --help
    spanmix ... --debug        (or SPANMIX_DEBUG=1): show the traceback of an error

Errors a user can fix (bad options, files, data; see ``spanmix.apps.harness.errors``) print one line,
``spanmix <app> <cmd>: error: <message>``, and exit with code 2; other exceptions are bugs and keep their
traceback. Lightning's and pooch's info lines go to stdout, so stderr carries only warnings and errors.

Each app module in ``APPS`` is imported only when named and exposes ``main(args: list[str] | None)``,
which calls ``spanmix.apps.harness.run_cli``.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
from collections.abc import Sequence

from spanmix.apps.harness.errors import cli_errors, debug_requested

#: app name -> module exposing ``main(args)``. Add a line here for each new app.
APPS: dict[str, str] = {
    "forecast": "spanmix.apps.forecast.cli",
    "eeg": "spanmix.apps.eeg.cli",
    "finance": "spanmix.apps.forecast.finance_cli",
    "genomics": "spanmix.apps.genomics.cli",
    "restore": "spanmix.apps.restore.cli",
    "video": "spanmix.apps.video.cli",
    "points": "spanmix.apps.points.cli",
    "music": "spanmix.apps.music.cli",
}
#: ``pip install`` extra for each app (for the hint when its dependencies are missing).
_EXTRAS: dict[str, str] = {"forecast": "forecast", "eeg": "eeg", "finance": "finance", "genomics": "genomics",
                           "restore": "restore", "video": "video", "points": "points", "music": "music"}
#: An app's commands besides LightningCLI's (the app's ``main`` handles them), for the usage text.
_APP_COMMANDS: dict[str, str] = {
    "genomics": "generate --weights DIR --prompt ACGT [--max-new-tokens N]   (stream a DNA continuation)",
    "restore": "apply --weights DIR --input in.png --output out.png [--tile N] [--self-ensemble]",
    "video": "asd predict --weights DIR --video clip.mp4 --output DIR   (active speakers; `video asd fit ...`)",
    "points": "classify --weights DIR --input FILE [--json] [--parts OUT.ply]   (mesh/cloud -> classes)",
    "music": 'generate --weights DIR --chords "C G Am F | ..." --bars N --output melody.mid|.musicxml|.wav',
}


def _usage() -> str:
    apps = "\n".join(f"  {name:<10} spanmix {name} fit|validate|test|predict --config CFG.yaml"
                     + (f"\n  {'':<10} spanmix {name} {_APP_COMMANDS[name]}" if name in _APP_COMMANDS else "")
                     for name in APPS)
    return (
        "usage: spanmix <app> {fit,validate,test,predict} --config CFG.yaml [--key value ...]\n"
        "       spanmix export --ckpt PATH --out DIR\n"
        "       spanmix weights build <app> [entry ...] | --all\n\n"
        f"apps:\n{apps}\n\n"
        "commands:\n  export     Lightning checkpoint -> model.safetensors + config.json\n"
        "  weights    build an app's shipped weights from its table (no entry names: list them)\n\n"
        "`spanmix <app> --help` and `spanmix <app> fit --help` list every option; `--print_config` prints\n"
        "the full resolved config. Runs go to runs/<app>/<experiment>; resume with `fit --ckpt_path last`.\n"
    )


def _export(argv: Sequence[str], debug: bool = False) -> int:
    parser = argparse.ArgumentParser(
        prog="spanmix export", description="Export a Lightning checkpoint as safetensors + JSON.")
    parser.add_argument("--ckpt", required=True,
                        help="the .ckpt file (e.g. runs/<app>/<exp>/checkpoints/last.ckpt)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--class-path", default=None,
                        help="module class (spanmix.*) for checkpoints that do not record it")
    ns = parser.parse_args(list(argv))
    from spanmix.apps.harness.export import export_checkpoint

    with cli_errors("spanmix export", debug):
        out = export_checkpoint(ns.ckpt, ns.out, class_path=ns.class_path)
    print(f"exported {ns.ckpt} -> {out}/model.safetensors, {out}/config.json")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spanmix`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "export":
        return _export(rest, debug)
    if name == "weights":
        from spanmix.apps.harness.weights import main as weights_main

        return weights_main(rest, debug)
    if name not in APPS:
        sys.stderr.write(f"spanmix: unknown app {name!r}. Available apps: {', '.join(sorted(APPS))}; "
                         f"other commands: export, weights. See `spanmix --help`.\n")
        return 2
    try:
        module = importlib.import_module(APPS[name])
    except ModuleNotFoundError as e:
        if not e.name or e.name.split(".")[0] == "spanmix":  # our own module: a bug, not a missing extra
            raise
        extra = _EXTRAS.get(name, "train")
        sys.stderr.write(f"spanmix {name}: a dependency is missing ({e}). Install it with: "
                         f"pip install 'spanmix[{extra}]'\n")
        return 1
    _info_logs_to_stdout()
    command = next((a for a in rest if not a.startswith("-")), None)
    with cli_errors(f"spanmix {name}" + (f" {command}" if command else ""), debug):
        module.main(rest)
    return 0


def _info_logs_to_stdout() -> None:
    # Lightning ("Seed set to 0", "GPU available: ...") and pooch (mne's downloads: "Downloading data from")
    # log progress through stderr handlers of their own loggers; pooch's is not in logging's registry.
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    with contextlib.suppress(ImportError):
        import pooch

        loggers.append(pooch.get_logger())
    for logger in loggers:
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                handler.setStream(sys.stdout)

if __name__ == "__main__":
    sys.exit(main())
