"""ForecastTask's speed switches hold the fp32 path's numbers: the oneDNN matmul path (``matmul_precision``),
the AdamW kernels (``optimizer_impl``) and Lightning's ``bf16-mixed``; bad values are one clear error."""
from __future__ import annotations

import lightning as L
import pytest
import torch

from spanmix.apps.forecast.task import ForecastTask
from spanmix.apps.harness.errors import SpanmixError

B, SEQ, LABEL, PRED, N, F = 8, 96, 48, 24, 3, 4
MODELS = {
    "itransformer": ("smamba", {"mixer": "full", "n_heads": 4, "d_model": 64, "d_ff": 128, "dropout": 0.0}),
    "informer": ("informer", {"d_model": 64, "n_heads": 4, "d_ff": 128, "dropout": 0.0, "official": "tslib"}),
}


def make(name: str, **kwargs) -> ForecastTask:
    model, options = MODELS[name]
    torch.manual_seed(0)
    return ForecastTask(model, options, n_features=N, n_targets=N, seq_len=SEQ, label_len=LABEL, pred_len=PRED,
                        n_time_features=F, **kwargs)


def batch(seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"x_enc": torch.randn(B, SEQ, N, generator=g), "x_mark_enc": torch.randn(B, SEQ, F, generator=g),
            "x_dec": torch.randn(B, LABEL + PRED, N, generator=g),
            "x_mark_dec": torch.randn(B, LABEL + PRED, F, generator=g),
            "y": torch.randn(B, LABEL + PRED, N, generator=g)}


def forward_backward(task: ForecastTask, data: dict) -> tuple[torch.Tensor, list[torch.Tensor]]:
    torch.manual_seed(5)  # the same dropout masks / ProbSparse key samples for both paths
    task.zero_grad()
    pred = task._predict(data)
    task.loss(pred, task._target(data)).backward()
    return pred.detach(), [p.grad.clone() for p in task.parameters() if p.grad is not None]


def matrices(task: ForecastTask) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in task.parameters() if p.ndim >= 2])


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("name", list(MODELS))
def test_onednn_matmul_path_matches_fp32_and_is_restored(name):
    """``matmul_precision: bf16`` (oneDNN's fp32 path) gives the default path's outputs and gradients to
    fp32 rounding (measured ~3e-7 relative; 1e-5 allowed), is on only between setup and teardown. Gradients
    are compared as one vector: a few are zero in exact arithmetic (key biases under softmax, a bias before
    BatchNorm) and hold only rounding noise (~1e-10) on either path."""
    data = batch()
    reference = make(name, matmul_precision="ieee").train()
    before = torch.backends.mkldnn.matmul.fp32_precision
    ref_out, ref_grads = forward_backward(reference, data)
    fast = make(name, matmul_precision="bf16").train()
    fast.load_state_dict(reference.state_dict())
    fast.setup("fit")
    try:
        assert torch.backends.mkldnn.matmul.fp32_precision == "bf16"
        out, grads = forward_backward(fast, data)
    finally:
        fast.teardown("fit")
    assert torch.backends.mkldnn.matmul.fp32_precision == before
    assert relative(out, ref_out) < 1e-5
    assert len(grads) == len(ref_grads)
    assert relative(torch.cat([g.reshape(-1) for g in grads]), torch.cat([r.reshape(-1) for r in ref_grads])) < 1e-5


def test_optimizer_kernels_give_the_same_update():
    """fused, foreach and for-loop AdamW: the same update of every weight matrix over three steps (measured
    2e-6 relative to its size for fused, 0 for foreach; 1e-5 allowed). Biases are left out: the key bias's
    gradient is zero in exact arithmetic (softmax ignores it), so Adam normalises pure rounding noise there
    and the kernels' different rounding of ``m / (sqrt(v) + eps)`` shows at 1e-3."""
    data = batch()
    states = {}
    for impl in ("for-loop", "foreach", "fused"):
        task = make("itransformer", optimizer_impl=impl, weight_decay=0.01).train()
        optimizer = task.configure_optimizers()
        assert optimizer.defaults["fused"] is (True if impl == "fused" else None)
        for _ in range(3):
            forward_backward(task, data)
            optimizer.step()
        states[impl] = matrices(task)
    initial = matrices(make("itransformer"))
    moved = (states["for-loop"] - initial).abs().max()
    assert moved > 1e-4  # the three steps did change the parameters
    step = states["for-loop"] - initial
    for impl in ("foreach", "fused"):
        assert relative(states[impl] - initial, step) < 1e-5


def test_bf16_mixed_training_step_runs_and_stays_close():
    """Lightning's ``precision: bf16-mixed`` (CPU autocast) on iTransformer: the forecast stays within 3 %
    (relative norm) of fp32 (measured 0.6 %), and a fit step updates the fp32 parameters."""
    data = batch()
    task = make("itransformer").eval()
    with torch.no_grad():
        ref = task._predict(data)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = task._predict(data).float()
    assert 0 < relative(mixed, ref) < 3e-2
    before = [p.detach().clone() for p in task.parameters()]
    loader = torch.utils.data.DataLoader([{k: v[i] for k, v in data.items()} for i in range(B)], batch_size=4)
    trainer = L.Trainer(accelerator="cpu", devices=1, precision="bf16-mixed", max_steps=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(task, loader)
    assert all(p.dtype == torch.float32 for p in task.parameters())
    assert any((p.detach() - b).abs().max() > 0 for p, b in zip(task.parameters(), before))


@pytest.mark.parametrize("option, value", [("matmul_precision", "fast"), ("optimizer_impl", "apex")])
def test_bad_switch_values_are_one_clear_error(option, value):
    with pytest.raises(SpanmixError, match=rf"{option} must be one of .*got '{value}'"):
        make("itransformer", **{option: value})
