"""The ``spanmix`` command.

    spanmix <app> fit|validate|test|predict --config CFG.yaml [--key value ...]   (LightningCLI; see --help)
    spanmix export --ckpt PATH --out DIR                                          (checkpoint -> safetensors)
    spanmix --help

Each app module in ``APPS`` is imported only when named and exposes ``main(args: list[str] | None)``,
which calls ``spanmix.apps.harness.run_cli``.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: app name -> module exposing ``main(args)``. Add a line here for each new app.
APPS: dict[str, str] = {
    "forecast": "spanmix.apps.forecast.cli",
    "eeg": "spanmix.apps.eeg.cli",
    "finance": "spanmix.apps.forecast.finance_cli",
    "genomics": "spanmix.apps.genomics.cli",
    "music": "spanmix.apps.music.cli",
}
#: ``pip install`` extra for each app (for the hint when its dependencies are missing).
_EXTRAS: dict[str, str] = {"forecast": "forecast", "eeg": "eeg", "finance": "finance", "genomics": "genomics", "music": "music"}
#: An app's commands besides LightningCLI's (the app's ``main`` handles them), for the usage text.
_APP_COMMANDS: dict[str, str] = {
    "genomics": "generate --weights DIR --prompt ACGT [--max-new-tokens N]   (stream a DNA continuation)",
    "music": 'generate --weights DIR --chords "C G Am F | ..." --bars N --output melody.mid|.musicxml|.wav',
}


def _usage() -> str:
    apps = "\n".join(f"  {name:<10} spanmix {name} fit|validate|test|predict --config CFG.yaml"
                     + (f"\n  {'':<10} spanmix {name} {_APP_COMMANDS[name]}" if name in _APP_COMMANDS else "")
                     for name in APPS)
    return (
        "usage: spanmix <app> {fit,validate,test,predict} --config CFG.yaml [--key value ...]\n"
        "       spanmix export --ckpt PATH --out DIR\n\n"
        f"apps:\n{apps}\n\n"
        "commands:\n  export     Lightning checkpoint -> model.safetensors + config.json\n\n"
        "`spanmix <app> --help` and `spanmix <app> fit --help` list every option; `--print_config` prints\n"
        "the full resolved config. Runs go to runs/<app>/<experiment>; resume with `fit --ckpt_path last`.\n"
    )


def _export(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="spanmix export", description="Export a Lightning checkpoint as safetensors + JSON.")
    parser.add_argument("--ckpt", required=True,
                        help="the .ckpt file (e.g. runs/<app>/<exp>/checkpoints/last.ckpt)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--class-path", default=None,
                        help="module class (spanmix.*) for checkpoints that do not record it")
    ns = parser.parse_args(list(argv))
    from spanmix.apps.harness.export import export_checkpoint

    try:
        out = export_checkpoint(ns.ckpt, ns.out, class_path=ns.class_path)
    except (OSError, ValueError) as e:
        sys.stderr.write(f"spanmix export: error: {e}\n")
        return 1
    print(f"exported {ns.ckpt} -> {out}/model.safetensors, {out}/config.json")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``spanmix`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        (sys.stdout if argv else sys.stderr).write(_usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "export":
        return _export(rest)
    if name not in APPS:
        sys.stderr.write(f"spanmix: unknown app {name!r}. Available apps: {', '.join(sorted(APPS))}; "
                         f"other commands: export. See `spanmix --help`.\n")
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
    module.main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
