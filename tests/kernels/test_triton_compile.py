"""The Triton kernels compile for Hopper (sm_90a, H100/H200) in the configurations the wrappers launch,
without register spills, and the bf16/tf32 attention matmuls use tensor-core instructions.

No GPU needed: ``spanmix.kernels.triton_aot.compile_for`` runs Triton's compiler and the ptxas shipped
in the triton wheel on this machine. This catches what Triton's interpreter cannot (the interpreter
never lowers a kernel: tile-shape rules of ``tl.dot``, type errors in the GPU-only paths, register
pressure); it runs nothing, so correctness stays with test_triton_selective_scan.py /
test_triton_local_attention.py.
"""
from __future__ import annotations

import importlib
import os
import shutil

import pytest

pytest.importorskip("triton")

if os.environ.get("TRITON_INTERPRET") == "1":  # the whole module builds real kernels
    pytest.skip("TRITON_INTERPRET=1 is set: kernels would be built for the interpreter",
                allow_module_level=True)

from spanmix.kernels.triton_aot import (  # noqa: E402
    attention_signature, compile_for, resource_usage, scan_signature,
)

tss = importlib.import_module("spanmix.kernels.triton_selective_scan")
tla = importlib.import_module("spanmix.kernels.triton_local_attention")
H200_SMS = 132


@pytest.fixture(scope="module", autouse=True)
def _ptxas_present():
    import triton

    tool = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "ptxas")
    if not (os.path.exists(tool) or shutil.which("ptxas")):
        pytest.skip("this triton build ships no ptxas (not a CUDA build)")


def test_scan_launch_config_keeps_every_sm_busy(monkeypatch):
    monkeypatch.setattr(tss, "_programs_wanted", lambda device: H200_SMS)
    fwd_1 = tss._launch_config(1, 1024, 16, 64, tss._FWD_TILE, None, None)
    fwd_8 = tss._launch_config(8, 1024, 16, 64, tss._FWD_TILE, None, None)
    assert fwd_8 == (8, 8)  # the full tile when the batch fills the GPU
    assert fwd_1[0] < 8 and 1024 // fwd_1[0] >= H200_SMS  # smaller blocks for B = 1
    assert tss._launch_config(1, 1024, 16, 64, tss._FWD_TILE, None, 2) == (2, 4)  # explicit BLOCK_D wins
    assert [tss._chunk_for(n) for n in (2, 16, 32, 64, 128)] == [64, 64, 32, 16, 16]


@pytest.mark.parametrize("batch, dim, state, atomic",
                         [(1, 1024, 16, True), (8, 1024, 16, True), (1, 1024, 16, False), (1, 256, 16, True),
                          (2, 1024, 32, True), (2, 1024, 64, True)])
def test_scan_kernels_compile_for_hopper_without_spills(monkeypatch, batch, dim, state, atomic):
    monkeypatch.setattr(tss, "_programs_wanted", lambda device: H200_SMS)
    T = tss._chunk_for(state)
    flags = dict(HAS_D=True, HAS_Z=True, HAS_BIAS=True, SOFTPLUS=True, BLOCK_N=state, T=T)
    for fn, tile, extra in ((tss._scan_fwd_kernel, tss._FWD_TILE, dict(STORE=True)),
                            (tss._scan_bwd_kernel, tss._BWD_TILE, dict(HAS_GH=True, ATOMIC=atomic))):
        bd, warps = tss._launch_config(batch, dim, state, T, tile, None, None)
        r = resource_usage(compile_for(fn, scan_signature(fn, "fp32"), {**flags, **extra, "BLOCK_D": bd},
                                       num_warps=warps))
        assert r["stack"] == 0, (fn.__name__, bd, warps, r)
        assert r["regs"] <= 255


@pytest.mark.parametrize("kind, head_d", [("half", 64), ("half", 128), ("tf32", 64), ("ieee", 64)])
def test_attention_kernels_compile_for_hopper_without_spills(kind, head_d):
    prec = None if kind == "half" else kind
    cfg = tla._configs(head_d, prec, None)
    dtype = "bf16" if kind == "half" else "fp32"
    for name, fn in (("fwd", tla._attn_fwd_kernel), ("dkdv", tla._attn_bwd_dkdv_kernel),
                     ("dq", tla._attn_bwd_dq_kernel)):
        bm, bn, warps, stages = cfg[name]
        consts = dict(CAUSAL=True, HAS_KPM=True, DOT_PREC=prec, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=head_d)
        r = resource_usage(compile_for(fn, attention_signature(fn, dtype), consts, num_warps=warps,
                                       num_stages=stages))
        assert r["stack"] == 0, (name, kind, head_d, r)
        assert r["mma"] == (kind != "ieee"), (name, kind, r)


def test_compile_for_refuses_a_missing_constexpr():
    with pytest.raises(ValueError, match="ATOMIC"):
        fn = tss._scan_bwd_kernel
        compile_for(fn, scan_signature(fn), dict(HAS_D=True, HAS_Z=True, HAS_BIAS=True, SOFTPLUS=True,
                                                 HAS_GH=True, BLOCK_D=4, BLOCK_N=16, T=32))


def test_noncausal_attention_without_mask_compiles():
    fn = tla._attn_fwd_kernel
    bm, bn, warps, stages = tla._configs(64, None, None)["fwd"]
    consts = dict(CAUSAL=False, HAS_KPM=False, DOT_PREC=None, BLOCK_M=bm, BLOCK_N=bn, BLOCK_D=64)
    r = resource_usage(compile_for(fn, attention_signature(fn, "fp16"), consts, num_warps=warps,
                                   num_stages=stages))
    assert r["stack"] == 0 and r["mma"]
