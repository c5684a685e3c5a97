"""``benchmarks/forecast.py --tslib PATH``: our training step against TSLib's, side by side in one process.

TSLib (thuml/Time-Series-Library) is imported from ``PATH`` at run time (its ``models/`` and ``layers/``),
never copied. Its ``layers/SelfAttention_Family.py`` imports ``reformer_pytorch`` for the Reformer layer
only; when that package is absent a placeholder module is registered so the import succeeds (neither model
here uses it).

One run per (model, variant of ours), each in a fresh subprocess:

- ours is the real ``spanmix forecast fit`` (the harness CLI: LightningCLI, its loggers, checkpointing,
  exact-resume and progress callbacks) on the model's ``_ett_h1`` config with the TSLib script's sizes;
- a callback steps TSLib's model once at the end of each of our training steps, with a loop equal to
  ``exp/exp_long_term_forecasting.py``'s train step (batch fetch, ``.float()``, the zero-filled decoder
  input, forward, ``MSELoss`` on the last ``pred_len`` steps, backward, ``Adam.step``) on its own shuffled
  iterator over the same training windows. The two are interleaved step by step, so load from other jobs
  hits both alike. Our step is the time from the end of TSLib's step to the start of this callback at
  the next step (data loading, forward, backward, optimiser, Lightning's logging and hooks all count);
  TSLib's step runs with PyTorch's default matmul path whatever ours sets;
- both train for the same number of steps from the same seed (``torch.manual_seed`` before each model
  is built), then both are scored by one function on every test window (MSE, MAE, normalised scale).

Data: TSLib's exact windows of the shipped ``vic_elec`` sample (ETTh1 is not shipped and there is no
network here), ``features M`` (3 channels), ``protocol: tslib`` (the 4 hourly ``timeF`` features TSLib
gives its models), through our data module for both sides.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "apps" / "forecast" / "configs"
SEQ_LEN, LABEL_LEN, PRED_LEN, BATCH = 96, 48, 96, 32
#: TSLib's run.py defaults and its ETTh1 96->96 scripts (iTransformer_ETTh1.sh is run with these sizes here).
TSLIB_ARGS = dict(task_name="long_term_forecast", seq_len=SEQ_LEN, label_len=LABEL_LEN, pred_len=PRED_LEN,
                  d_model=512, n_heads=8, e_layers=2, d_layers=1, d_ff=2048, dropout=0.1, embed="timeF",
                  freq="h", activation="gelu", distil=True, output_attention=False, use_norm=1, moving_avg=25,
                  num_class=1)
MODELS = {  # key -> (TSLib module, its --factor, our config stem, our extra model options)
    "itransformer": ("iTransformer", 1, "itransformer", []),
    "informer": ("Informer", 3, "informer", ["--model.model_options.factor", "3",
                                             "--model.model_options.official", "tslib"]),
}
#: Variants of ours: name -> extra CLI options.
VARIANTS = {
    "fp32": ["--model.matmul_precision", "ieee"],
    "fp32, for-loop Adam (before)": ["--model.matmul_precision", "ieee",
                                           "--model.optimizer_impl", "for-loop"],
    "onednn (bf16 fp32-math)": ["--model.matmul_precision", "bf16"],
    "bf16-mixed": ["--model.matmul_precision", "bf16", "--trainer.precision", "bf16-mixed"],
}


def import_tslib(path: str | Path):
    """TSLib's ``models`` package from the checkout at ``path`` (a clear error when it is not one)."""
    path = Path(path).resolve()
    if not (path / "models" / "iTransformer.py").is_file() or not (path / "layers").is_dir():
        raise SystemExit(f"--tslib {path}: not a Time-Series-Library checkout (expected models/iTransformer.py "
                         "and layers/ under it; github.com/thuml/Time-Series-Library)")
    sys.path.insert(0, str(path))
    try:
        import reformer_pytorch  # noqa: F401
    except ImportError:  # used only by TSLib's Reformer layer, which neither model here builds
        sys.modules["reformer_pytorch"] = types.SimpleNamespace(LSHSelfAttention=None)
    import importlib

    return importlib.import_module("models")


def tslib_model(name: str, n_vars: int):
    import importlib

    module, factor, _, _ = MODELS[name]
    cfg = types.SimpleNamespace(**TSLIB_ARGS, factor=factor, enc_in=n_vars, dec_in=n_vars, c_out=n_vars)
    return importlib.import_module(f"models.{module}").Model(cfg)


def tslib_batch(batch: dict) -> tuple:
    """Our window dict as TSLib's ``(batch_x, batch_y, batch_x_mark, batch_y_mark)``."""
    return batch["x_enc"], batch["y"], batch["x_mark_enc"], batch["x_mark_dec"]


class TSLibStepper(Callback):
    """Steps TSLib's model once after each of our steps; times both (see the module docstring)."""

    def __init__(self, name: str, seed: int):
        self.name, self.seed = name, seed
        self.ours: list[float] = []
        self.theirs: list[float] = []
        self._mark = None

    def on_fit_start(self, trainer, pl_module):
        dm = trainer.datamodule
        torch.manual_seed(self.seed)
        self.model = tslib_model(self.name, dm.n_features).train()
        self.optim = torch.optim.Adam(self.model.parameters(), lr=pl_module.hparams.lr)  # TSLib's choice
        self.criterion = torch.nn.MSELoss()
        generator = torch.Generator().manual_seed(self.seed + 1)
        self.loader = torch.utils.data.DataLoader(dm.train_dataloader().dataset, batch_size=BATCH, shuffle=True,
                                                  generator=generator, drop_last=False)
        self._iter = iter(self.loader)

    def _next(self):
        try:
            return next(self._iter)
        except StopIteration:
            self._iter = iter(self.loader)
            return next(self._iter)

    def tslib_step(self) -> float:
        saved = torch.backends.mkldnn.matmul.fp32_precision
        torch.backends.mkldnn.matmul.fp32_precision = "none"  # PyTorch's default, whatever ours set
        start = time.perf_counter()
        batch_x, batch_y, batch_x_mark, batch_y_mark = tslib_batch(self._next())
        self.optim.zero_grad()
        batch_x, batch_y = batch_x.float(), batch_y.float()
        batch_x_mark, batch_y_mark = batch_x_mark.float(), batch_y_mark.float()
        dec_inp = torch.zeros_like(batch_y[:, -PRED_LEN:, :]).float()
        dec_inp = torch.cat([batch_y[:, :LABEL_LEN, :], dec_inp], dim=1).float()
        outputs = self.model(batch_x, batch_x_mark, dec_inp, batch_y_mark)[:, -PRED_LEN:, 0:]
        loss = self.criterion(outputs, batch_y[:, -PRED_LEN:, 0:])
        loss.item()
        loss.backward()
        self.optim.step()
        elapsed = time.perf_counter() - start
        torch.backends.mkldnn.matmul.fp32_precision = saved
        return elapsed

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self._mark is None:
            self._mark = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.ours.append(time.perf_counter() - self._mark)
        self.theirs.append(self.tslib_step())
        self._mark = time.perf_counter()


@torch.no_grad()
def score(forward, loader) -> dict:
    """MSE / MAE over every element of every test window (normalised scale), one function for both sides."""
    se = ae = n = 0.0
    for batch in loader:
        pred = forward(batch)[:, -PRED_LEN:]
        y = batch["y"][:, -PRED_LEN:]
        se += float(((pred - y) ** 2).sum())
        ae += float((pred - y).abs().sum())
        n += y.numel()
    return {"mse": se / n, "mae": ae / n, "windows": len(loader.dataset)}


def run_one(name: str, variant: str, steps: int, warmup: int, seed: int) -> dict:
    """One interleaved fit of ``steps`` steps (ours through the CLI, TSLib's in the callback), then test."""
    import tempfile

    from spanmix.apps.forecast.cli import LINKS
    from spanmix.apps.forecast.data import ForecastDataModule
    from spanmix.apps.forecast.task import ForecastTask
    from spanmix.apps.forecast.writer import ForecastWriter
    from spanmix.apps.harness.cli import run_cli

    _, _, stem, extra = MODELS[name]
    stepper = TSLibStepper(name, seed)
    with tempfile.TemporaryDirectory(prefix=f"tslib-speed-{name}-") as root:
        args = ["fit", "--config", str(CONFIGS / f"{stem}_ett_h1.yaml"),
                "--data.dataset", "vic_elec", "--data.download", "false", "--data.features", "M",
                "--data.seq_len", str(SEQ_LEN), "--data.label_len", str(LABEL_LEN),
                "--data.pred_len", str(PRED_LEN), "--data.batch_size", str(BATCH),
                "--model.model_options.d_model", "512", "--model.model_options.d_ff", "2048",
                "--model.model_options.n_heads", "8", "--model.model_options.e_layers", "2",
                "--model.model_options.dropout", "0.1", "--model.lr", "1e-4",
                *extra, *VARIANTS[variant],
                "--trainer.max_steps", str(steps), "--trainer.max_epochs", "1",
                "--trainer.limit_val_batches", "0", "--trainer.num_sanity_val_steps", "0",
                "--trainer.callbacks", "[]", "--trainer.default_root_dir", root,
                "--seed_everything", str(seed)]
        if name == "informer":
            args += ["--model.model_options.d_layers", "1"]
        torch.manual_seed(seed)
        cli = run_cli(ForecastTask, ForecastDataModule, args=args, app="forecast", links=LINKS,
                      callbacks=(ForecastWriter, lambda: stepper))
        task, dm = cli.model, cli.datamodule
        dm.setup("test")
        task.setup("test")  # the variant's matmul path for our evaluation too
        task.eval()
        stepper.model.eval()
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if "bf16-mixed" in variant else None

        def ours(batch):
            if autocast is None:
                return task(batch["x_enc"], batch["x_mark_enc"], batch["x_dec"], batch["x_mark_dec"])
            with autocast:
                return task(batch["x_enc"], batch["x_mark_enc"], batch["x_dec"], batch["x_mark_dec"]).float()

        def theirs(batch):
            x, y, xm, ym = tslib_batch(batch)
            dec = torch.cat([y[:, :LABEL_LEN], torch.zeros_like(y[:, -PRED_LEN:])], dim=1)
            return stepper.model(x, xm, dec, ym)

        test = dm.test_dataloader()
        ours_score = score(ours, test)
        task.teardown("test")
        theirs_score = score(theirs, test)
    ours_t, theirs_t = stepper.ours[warmup:], stepper.theirs[warmup:]
    return {"model": name, "variant": variant, "steps": len(stepper.ours), "timed": len(ours_t),
            "ours_s": statistics.median(ours_t), "tslib_s": statistics.median(theirs_t),
            "ratio": statistics.median(o / t for o, t in zip(ours_t, theirs_t)),
            "ours_test": ours_score, "tslib_test": theirs_score, "load": os.getloadavg()[0],
            "params": sum(p.numel() for p in task.parameters()),
            "tslib_params": sum(p.numel() for p in stepper.model.parameters())}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tslib", required=True)
    parser.add_argument("--model", choices=list(MODELS), required=True)
    parser.add_argument("--variant", choices=list(VARIANTS), required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import_tslib(args.tslib)
    import json

    print(json.dumps(run_one(args.model, args.variant, args.steps, args.warmup, args.seed)), flush=True)


if __name__ == "__main__":
    main()


# ----------------------------------------------------------------------------- driver (forecast.py --tslib)
OUT = Path(__file__).parent / "results" / "forecast_tslib_speed.md"


def run_all(path: str, models: list[str], steps: dict[str, int], variants: list[str] | None = None,
            out: Path = OUT, warmup: int = 5) -> None:
    """Every (model, variant) in a fresh subprocess; the table (and its rows as ``.json``) is rewritten after
    each run, keeping the rows of models not run this time."""
    import json
    import platform
    import subprocess

    import_tslib(path)  # fail early with the clear message
    variants = variants or list(VARIANTS)
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"--tslib-variants: unknown {unknown}; expected some of {list(VARIANTS)}")
    commit = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown commit"
    env = (f"torch {torch.__version__}, {torch.get_num_threads()} thread(s) (OMP_NUM_THREADS="
           f"{os.environ.get('OMP_NUM_THREADS', 'unset')}), {os.cpu_count()} CPUs ({platform.machine()})")
    load0 = os.getloadavg()
    # Rows of the models not run now are kept from the last run's JSON (one model can be rerun alone).
    kept = json.loads(out.with_suffix(".json").read_text()) if out.with_suffix(".json").is_file() else []
    results = [r for r in kept if r["model"] not in models]
    for name in models:
        for variant in variants:
            cmd = [sys.executable, __file__, "--tslib", path, "--model", name, "--variant", variant,
                   "--steps", str(steps[name]), "--warmup", str(warmup)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            lines = done.stdout.strip().splitlines()
            if done.returncode or not lines or not lines[-1].startswith("{"):
                tail = (done.stderr.strip().splitlines() or ["?"])[-1]
                r = {"model": name, "variant": variant, "error": tail[:200]}
            else:
                r = json.loads(lines[-1])
            results.append(r)
            print(json.dumps(r), flush=True)
            _write(out, results, path, commit, env, load0, steps, warmup)
            out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n")
    print(out.read_text())


def _write(out, results, path, commit, env, load0, steps, warmup) -> None:
    from _measure import markdown_table

    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["model"], r["variant"], "error: " + r["error"], "", "", "", "", "", ""])
            continue
        rows.append([r["model"], r["variant"], f"{r['ours_s']:.3f}", f"{r['tslib_s']:.3f}",
                     f"**{r['ratio']:.2f}**", f"{r['ours_test']['mse']:.4f} / {r['ours_test']['mae']:.4f}",
                     f"{r['tslib_test']['mse']:.4f} / {r['tslib_test']['mae']:.4f}",
                     f"{r['steps']} ({r['timed']} timed)", f"{r['load']:.1f}"])
    load1 = os.getloadavg()
    text = f"""# Forecast training step: ours vs TSLib, side by side

`python benchmarks/forecast.py --tslib PATH` — TSLib `{commit}` imported from its checkout at run time
(never copied); {env}.

Config (TSLib's run.py defaults and its ETTh1 96->96 scripts): d_model 512, 8 heads, d_ff 2048, dropout 0.1,
gelu, `timeF` embedding; iTransformer 2 encoder layers, factor 1; Informer 2 encoder + 1 decoder layers,
factor 3, distilling; batch 32, seq_len 96, label_len 48, pred_len 96, features M, lr 1e-4, Adam, MSE.
Ours runs with `official: tslib` for Informer (the same function as TSLib's Informer; `apps/forecast/models/
informer.py`), and as `smamba` with `mixer: full` for iTransformer; both have TSLib's parameter counts.

Data: the shipped `vic_elec` sample (real data; ETTh1 is not shipped and this machine has no network), features
M (3 channels), `protocol: tslib` (the 4 hourly time features TSLib feeds its models), TSLib's windows through
our data module for both sides; {results[0].get('ours_test', {}).get('windows', '?')} test windows.

How (`benchmarks/_tslib_speed.py`): one fresh process per row. Ours is the real `spanmix forecast fit` (the
harness CLI with its loggers, checkpointing, exact-resume and progress callbacks); a callback steps TSLib's
model once after each of our steps with a loop equal to its `exp_long_term_forecasting.py` train step (batch
fetch, zero-filled decoder input, forward, MSE, backward, `Adam.step`), so the two alternate step by step and
load from other jobs hits both alike. Columns: median seconds per step over the steps after {warmup} warm-up
steps; **ours / TSLib** is the median of the per-step ratios. TSLib always runs PyTorch's default fp32 path.
Both sides train the same number of steps from the same seed, then one function scores both on every test
window (MSE / MAE, normalised scale): a short equal budget, so the test errors show that a variant does not
hurt learning; run-to-run spread at this budget is larger than the differences between the fp32 variants.

Load average (1 min) at the start {load0[0]:.1f}, at the end {load1[0]:.1f} (2 cores shared with other jobs; each
row's own value at its end is in the last column). Variants of ours: `onednn` (**the default now**: model
option `matmul_precision: bf16`, oneDNN's AVX-512 fp32 matmul, fp32-level error, and fused AdamW), `fp32`
(`matmul_precision: ieee`: PyTorch's default matmul, fused AdamW), `before` (`ieee` and the per-tensor AdamW
loop, PyTorch's CPU default, as the task ran before), `bf16-mixed` (`onednn` plus trainer
`precision: bf16-mixed`, opt-in). Every Informer row has the cheaper ProbSparse sparsity measure (one q·kᵀ
matmul instead of a gather of the sampled keys; `backbone/mixers/probsparse.py`).

{markdown_table(["model", "ours (variant)", "ours s/step", "TSLib s/step", "ours / TSLib", "ours test MSE / MAE",
                 "TSLib test MSE / MAE", "steps", "load"], rows)}
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
