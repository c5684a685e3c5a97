"""The weights builder: every app's shipped weights from one recipe and a small table of entries per app.

    spanmix weights build forecast                       # list the forecast entries and their commands
    spanmix weights build forecast linear_vic_elec_s     # (re)build these entries
    spanmix weights build genomics --all                 # every entry, in table order
    spanmix weights table forecast                       # rewrite METRICS.md from what is built

Design. Exported weights (``pretrained/<app>/<entry>/``: ``model.safetensors`` + ``config.json``) come from our
own configs, never from hand-run scripts, so one recipe serves every app:

1. **fit** ``spanmix <app> fit --config CFG [overrides] --experiment ENTRY`` in a fresh process (the command
   recorded is the command run), in ``<runs>/<app>/<entry>`` (removed first); or, for an entry with
   ``fit=False`` (a parameter-free baseline), the app's ``build`` hook makes the module;
2. **export** the best checkpoint (``checkpoint.monitor``, default lowest ``val/loss``) with
   ``export_checkpoint``: into ``<out>/<entry>`` for a shipped entry, into the run directory otherwise;
3. **reload** the export with ``load_pretrained`` (so the score is the score of what ships) and **test** it
   with Lightning's test loop on the data module of the entry's config (``datamodule`` hook);
4. **record**: the app's ``describe`` hook turns the test result into the export's ``metadata.demo`` (what
   the demo tab reads); entries that are not shipped (comparison runs) and, with ``results_json``, all
   entries are kept in ``<out>/results.json``;
5. **table**: ``<out>/METRICS.md`` is rewritten by the app's ``metrics_md`` hook from every entry's record.

An app declares a ``WeightsTable`` in ``spanmix.apps.<app>.weights`` (``WEIGHTS = {"<app>": table}``; the
forecast package declares ``forecast`` and ``finance``): its entries (config + CLI overrides, a label) and
the three hooks. A new app adds that module and its entries, not a script. An override may name another
entry's export as ``{entry}`` (genomics fine-tunes from its exported LM): that entry is built first unless
its export already exists.

Paths: configs are resolved inside the installed ``spanmix`` tree (the repository in a development install)
and recorded as written in the table; ``--out`` (default ``pretrained/<app>``) and ``--runs`` (``runs``) are
relative to the working directory.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from spanmix.apps.harness.errors import SpanmixError, cli_errors

__all__ = ["Built", "Entry", "WeightsError", "WeightsTable", "build", "effective_config", "list_exports", "main",
           "markdown_table", "records", "score", "table_for", "write_metrics"]

#: The folder that holds ``apps/`` (the repository root in a development install).
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")


class WeightsError(SpanmixError, ValueError):
    """A bad app, entry or table, or a failed fit: the message names it and what is expected."""


@dataclass(frozen=True)
class Entry:
    """One shipped (or compared) set of weights.

    Args:
        name: folder name under ``<out>`` and the run's experiment name.
        config: the YAML config, relative to the ``spanmix`` tree (``apps/<app>/configs/x.yaml``).
        overrides: CLI arguments after ``--config`` (``("--data.features", "S")``); ``{other}`` stands for the
            export folder of entry ``other``.
        label: a human name for tables and tabs.
        fit: False for a model without parameters: the table's ``build`` hook makes it, nothing is trained.
        ship: False for a comparison run: trained and scored, exported only inside its run directory.
        command: the words after ``spanmix`` that name this entry's training CLI when it is not the table's
            (``("video", "lvmae", "probe")`` in the video table, whose default is ``("video", "asd")``).
    """

    name: str
    config: str
    overrides: tuple[str, ...] = ()
    label: str = ""
    fit: bool = True
    ship: bool = True
    command: tuple[str, ...] = ()

    def needs(self) -> list[str]:
        """Entries whose exports this entry's overrides name."""
        return [m for o in self.overrides for m in _PLACEHOLDER.findall(o)]


@dataclass
class Built:
    """What the recipe hands to the app's ``describe`` hook for one entry."""

    entry: Entry
    app: str
    config: dict[str, Any]        # the YAML with the overrides applied
    command: str                  # the recorded ``spanmix <app> fit ...`` (or ``test`` for fit=False)
    regenerate: str               # ``spanmix weights build <app> <entry>``
    task: Any                     # the reloaded export, eval mode
    datamodule: Any
    test: dict[str, float]        # Lightning's test-loop result, e.g. {"test/mse": ...}
    train_seconds: float
    export_dir: Path


@dataclass(frozen=True)
class WeightsTable:
    """An app's entries and the hooks that make its metadata and table (module docstring).

    Args:
        app: the ``spanmix <app>`` command whose ``fit`` trains the entries.
        entries: in build order.
        datamodule: effective config dict -> the data module to test on.
        describe: ``Built`` -> the JSON-able record (``metadata.demo`` of a shipped export).
        metrics_md: ``({entry name: record}, out_dir)`` (table order, built entries only) -> METRICS.md's text.
        build: ``(entry, config, datamodule) -> module`` for ``fit=False`` entries.
        results_json: keep every entry's record in ``<out>/results.json`` (unshipped entries always are).
        command: the words after ``spanmix`` that name the training CLI when it is not just ``app``
            (``("video", "asd")`` for an app with sub-apps).
    """

    app: str
    entries: tuple[Entry, ...]
    datamodule: Callable[[dict[str, Any]], Any]
    describe: Callable[[Built], dict[str, Any]]
    metrics_md: Callable[[dict[str, dict[str, Any]], Path], str]
    build: Callable[[Entry, dict[str, Any], Any], Any] | None = None
    results_json: bool = False
    command: tuple[str, ...] = ()

    def __post_init__(self):
        names = [e.name for e in self.entries]
        if len(set(names)) != len(names):
            raise WeightsError(f"{self.app}: entry names must be unique, got {names}")
        for e in self.entries:
            unknown = sorted(set(e.needs()) - set(names))
            if unknown:
                raise WeightsError(f"{self.app}: entry {e.name!r} names unknown entries {unknown}")
            if not e.fit and self.build is None:
                raise WeightsError(f"{self.app}: entry {e.name!r} has fit=False but the table has no build hook")

    def entry(self, name: str) -> Entry:
        for e in self.entries:
            if e.name == name:
                return e
        raise WeightsError(f"unknown {self.app} entry {name!r}; expected one of: "
                           f"{', '.join(e.name for e in self.entries)}")


# ---------------------------------------------------------------------------------------------- lookup

def table_for(app: str) -> WeightsTable:
    """The ``WeightsTable`` of ``app``: ``WEIGHTS[app]`` of the ``weights`` module beside the app's CLI."""
    from spanmix.apps.cli import APPS

    if app not in APPS:
        raise WeightsError(f"unknown app {app!r}; expected one of: {', '.join(sorted(APPS))}")
    package = APPS[app].rsplit(".", 1)[0]
    try:
        module = importlib.import_module(f"{package}.weights")
    except ModuleNotFoundError as e:
        if e.name != f"{package}.weights":
            raise
        raise WeightsError(f"app {app!r} ships no weights table ({package}.weights)") from None
    tables = getattr(module, "WEIGHTS", {})
    if app not in tables:
        raise WeightsError(f"{package}.weights declares no WEIGHTS[{app!r}]")
    return tables[app]


def list_exports(out_dir: str | os.PathLike) -> list[tuple[Path, dict[str, Any]]]:
    """``(export folder, its metadata)`` for every export under ``out_dir`` whose metadata records a ``demo``
    entry (written by this builder), sorted by folder name. The demo tabs list their weights with it."""
    from spanmix.apps.harness.export import read_pretrained_config

    found = []
    for config_json in sorted(Path(out_dir).glob("*/config.json")):
        metadata = read_pretrained_config(config_json).get("metadata", {})
        if metadata.get("demo"):
            found.append((config_json.parent, metadata))
    return found


# ---------------------------------------------------------------------------------------------- recipe

def _display(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (as a user would type it)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _overrides(entry: Entry, out_dir: Path) -> list[str]:
    return [_PLACEHOLDER.sub(lambda m: _display(out_dir / m.group(1)), o) for o in entry.overrides]


def effective_config(entry: Entry, overrides: Sequence[str] | None = None) -> dict[str, Any]:
    """The entry's YAML config with ``--a.b value`` overrides applied (values parsed as YAML)."""
    path = PACKAGE_ROOT / entry.config
    if not path.is_file():
        raise WeightsError(f"entry {entry.name!r}: config {entry.config} not found under {PACKAGE_ROOT}")
    config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    args = list(entry.overrides if overrides is None else overrides)
    if len(args) % 2:
        raise WeightsError(f"entry {entry.name!r}: overrides must be '--key value' pairs, got {args}")
    for key, value in zip(args[::2], args[1::2]):
        if not key.startswith("--"):
            raise WeightsError(f"entry {entry.name!r}: override {key!r} must start with '--'")
        *parents, leaf = key[2:].split(".")
        node = config
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return config


def _command(table: WeightsTable, entry: Entry, overrides: list[str]) -> list[str]:
    return ["spanmix", *(entry.command or table.command or (table.app,)), "fit" if entry.fit else "test",
            "--config", entry.config,
            *overrides, "--experiment", entry.name]


def score(task, datamodule) -> dict[str, float]:
    """Lightning's test loop of ``task`` on ``datamodule`` (CPU, no logger): ``{"test/<metric>": value}``."""
    import lightning as L

    trainer = L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    return {k: float(v) for k, v in trainer.test(task, datamodule=datamodule, verbose=False)[0].items()}


def _read_results(out_dir: Path) -> dict[str, Any]:
    path = out_dir / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _write_results(out_dir: Path, results: dict[str, Any], order: Sequence[str]) -> None:
    from spanmix.apps.harness.export import atomic_path

    ordered = {n: results[n] for n in order if n in results}
    with atomic_path(out_dir / "results.json") as tmp:
        Path(tmp).write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")


def build_entry(table: WeightsTable, entry: Entry, out_dir: Path, runs_dir: Path) -> dict[str, Any]:
    """Steps 1-4 of the recipe for one entry; returns its record."""
    from spanmix.apps.harness.checkpoint import find_best_checkpoint
    from spanmix.apps.harness.export import (
        export_checkpoint,
        load_pretrained,
        save_pretrained,
        update_pretrained_metadata,
    )

    overrides = _overrides(entry, out_dir)
    config = effective_config(entry, overrides)
    command = _command(table, entry, overrides)
    run_dir = runs_dir / table.app / entry.name
    export_dir = out_dir / entry.name if entry.ship else run_dir / "export"
    shutil.rmtree(run_dir, ignore_errors=True)
    print("$", " ".join(command), flush=True)
    started = time.time()
    if entry.fit:
        args = [sys.executable, "-m", "spanmix.apps.cli", *(entry.command or table.command or (table.app,)), "fit",
                "--config", str(PACKAGE_ROOT / entry.config), *overrides, "--experiment", entry.name,
                "--trainer.default_root_dir", str(run_dir), "--trainer.enable_progress_bar", "false"]
        subprocess.run(args, check=True)
        train_seconds = round(time.time() - started, 1)
        export_checkpoint(find_best_checkpoint(str(run_dir / "checkpoints")), export_dir)
        datamodule = table.datamodule(config)
    else:
        datamodule = table.datamodule(config)
        save_pretrained(table.build(entry, config, datamodule), export_dir, metadata={"app": table.app})
        train_seconds = round(time.time() - started, 1)

    task = load_pretrained(export_dir)
    built = Built(entry=entry, app=table.app, config=config, command=" ".join(command),
                  regenerate=f"spanmix weights build {table.app} {entry.name}", task=task, datamodule=datamodule,
                  test=score(task, datamodule), train_seconds=train_seconds, export_dir=export_dir)
    record = table.describe(built)
    if entry.ship:
        update_pretrained_metadata(export_dir, demo=record)
    if table.results_json or not entry.ship:
        out_dir.mkdir(parents=True, exist_ok=True)
        results = {**_read_results(out_dir), entry.name: record}
        _write_results(out_dir, results, [e.name for e in table.entries])
    return record


def records(table: WeightsTable, out_dir: Path) -> dict[str, dict[str, Any]]:
    """Every built entry's record, in table order: shipped ones from their export, others from results.json."""
    shipped = {folder.name: metadata["demo"] for folder, metadata in list_exports(out_dir)}
    results = _read_results(out_dir)
    out = {}
    for e in table.entries:
        record = shipped.get(e.name) if e.ship else results.get(e.name)
        if record is not None:
            out[e.name] = record
    return out


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The METRICS.md table every app's ``metrics_md`` hook writes: the header, the separator and one line per
    row of already formatted cells, ending in a newline."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_metrics(table: WeightsTable, out_dir: str | os.PathLike) -> Path:
    """Step 5: ``<out>/METRICS.md`` from every built entry's record."""
    from spanmix.apps.harness.export import atomic_path

    out_dir = Path(out_dir)
    path = out_dir / "METRICS.md"
    text = table.metrics_md(records(table, out_dir), out_dir)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return path


def build(table: WeightsTable, names: Sequence[str], out_dir: str | os.PathLike | None = None,
          runs_dir: str | os.PathLike = "runs") -> dict[str, dict[str, Any]]:
    """Build entries ``names`` of ``table`` (and the entries they need whose exports are missing), then
    rewrite METRICS.md; returns the records of the entries built."""
    out_dir = Path(out_dir or Path("pretrained") / table.app)
    runs_dir = Path(runs_dir)
    order: list[str] = []

    def visit(name: str, requested: bool, path: tuple[str, ...] = ()) -> None:
        if name in path:
            raise WeightsError(f"{table.app}: entries {' -> '.join(path + (name,))} need each other")
        entry = table.entry(name)
        for dep in entry.needs():
            if not (out_dir / dep / "config.json").is_file() or dep in names:
                visit(dep, dep in names, path + (name,))
        if name not in order and (requested or not (out_dir / name / "config.json").is_file()):
            order.append(name)

    for name in names:
        visit(name, True)
    built = {}
    for name in order:
        built[name] = build_entry(table, table.entry(name), out_dir, runs_dir)
        print(f"{name}: {built[name].get('test_metrics', built[name].get('test'))}", flush=True)
    print(f"wrote {write_metrics(table, out_dir)}", flush=True)
    return built


# ---------------------------------------------------------------------------------------------- CLI

def _listing(table: WeightsTable, out_dir: Path) -> str:
    lines = [f"{table.app} weights (`spanmix weights build {table.app} NAME...` or `--all`):"]
    for e in table.entries:
        state = "built" if (out_dir / e.name / "config.json").is_file() or \
            (not e.ship and e.name in _read_results(out_dir)) else "not built"
        ship = "" if e.ship else "  [compared, not shipped]"
        lines.append(f"  {e.name:26s} {state:9s} {' '.join(_command(table, e, _overrides(e, out_dir)))}{ship}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, debug: bool = False) -> int:
    """``spanmix weights build|table <app> ...``; returns the exit code (a user error: message, exit 2)."""
    parser = argparse.ArgumentParser(
        prog="spanmix weights", description="Build the shipped weights of an app from its table of entries.",
        epilog="build: fit, export, reload, test and record the named entries (none named: list them); "
               "table: rewrite <out>/METRICS.md from the entries already built.")
    parser.add_argument("command", choices=("build", "table"))
    parser.add_argument("app")
    parser.add_argument("entries", nargs="*", help="entry names (build; none: list the entries)")
    parser.add_argument("--all", action="store_true", help="build every entry, in table order")
    parser.add_argument("--out", default=None, help="weights folder (default: pretrained/<app>)")
    parser.add_argument("--runs", default="runs", help="runs folder (default: runs)")
    ns = parser.parse_intermixed_args(list(sys.argv[1:] if argv is None else argv))
    with cli_errors(f"spanmix weights {ns.command}", debug):
        _run(ns)
    return 0


def _run(ns: argparse.Namespace) -> None:
    table = table_for(ns.app)
    out_dir = Path(ns.out or Path("pretrained") / table.app)
    if ns.command == "table":
        if ns.entries or ns.all:
            raise WeightsError("table takes no entry names: it lists every built entry")
        print(f"wrote {write_metrics(table, out_dir)}")
        return
    if ns.all and ns.entries:
        raise WeightsError("give entry names or --all, not both")
    names = [e.name for e in table.entries] if ns.all else ns.entries
    if not names:
        print(_listing(table, out_dir))
        return
    for name in names:
        table.entry(name)
    try:
        build(table, names, out_dir, ns.runs)
    except subprocess.CalledProcessError as e:
        raise WeightsError(f"a fit exited with status {e.returncode} (its error is above): "
                           f"{' '.join(map(str, e.cmd))}") from None


if __name__ == "__main__":
    sys.exit(main())
