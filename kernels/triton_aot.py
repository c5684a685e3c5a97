"""Compile the Triton kernels for a GPU that is not in this machine, and read back what they cost.

``triton.compile`` with an explicit ``GPUTarget`` runs Triton's whole pipeline and NVIDIA's ptxas (both
shipped in the triton wheel) without a driver or a device, so on a CPU-only machine we can still check
that every kernel configuration compiles for Hopper (sm_90a: H100/H200) and how many registers, spill
bytes and shared memory it needs. Used by ``tests/kernels/test_triton_compile.py`` and
``benchmarks/kernels.py --ptxas``. Not a substitute for running on a GPU: nothing here executes.
"""
from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

__all__ = ["attention_signature", "compile_for", "resource_usage", "scan_signature"]


def scan_signature(fn, dtype: str = "fp32") -> dict:
    """Argument types of a selective-scan kernel: the (B, D, L) / (B, N, L) tensors in ``dtype``."""
    ints = {"L", "DIM", "N", "NCHUNK"}
    same = {"U", "DELTA", "Bm", "Cm", "Z", "Y", "GOUT"}
    return {a: "i32" if a in ints else f"*{dtype}" if a in same else "*fp32" for a in fn.arg_names}


def attention_signature(fn, dtype: str = "bf16") -> dict:
    """Argument types of an attention kernel: q, k, v, o and their gradients in ``dtype``."""
    types = {"L": "i32", "H": "i32", "W": "i32", "HEAD_D": "i32", "qk_scale": "fp32", "scale": "fp32",
             "LSE": "*fp32", "DELTA": "*fp32", "KPM": "*u8"}
    return {a: types.get(a, f"*{dtype}") for a in fn.arg_names}


def compile_for(fn, types: dict, constexprs: dict, num_warps: int = 4, num_stages: int = 2, arch: int = 90):
    """``triton.compile`` of the JIT function ``fn`` for ``cuda:sm_<arch>``; ``types`` maps every
    argument to its Triton type ("*fp32", "i32", ...), ``constexprs`` gives the compile-time ones."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        raise RuntimeError("compile_for builds real kernels: TRITON_INTERPRET must not be set")
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    missing = [p.name for p in fn.params if p.is_constexpr and p.name not in constexprs]
    if missing:
        raise ValueError(f"compile_for({fn.__name__}): no value for the constexpr argument(s) {missing}")
    sig = {a: ("constexpr" if a in constexprs else t) for a, t in types.items()}
    src = ASTSource(fn=fn, signature=sig, constexprs=dict(constexprs))
    return triton.compile(src, target=GPUTarget("cuda", arch, 32),
                          options=dict(num_warps=num_warps, num_stages=num_stages))


def resource_usage(compiled) -> dict:
    """{"regs", "stack" (bytes of local memory: > 0 means spills), "shared" (bytes), "mma" (tensor-core
    instructions used)} of a kernel from ``compile_for``, read with the cuobjdump shipped in triton."""
    import triton

    tool = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(compiled.asm["cubin"])
        f.flush()
        out = subprocess.run([str(tool), "-res-usage", f.name], capture_output=True, text=True,
                             check=True).stdout
    m = re.search(r"REG:(\d+)\s+STACK:(\d+)", out)
    if m is None:
        raise RuntimeError(f"cannot read the resource usage from cuobjdump: {out[-300:]!r}")
    return {"regs": int(m.group(1)), "stack": int(m.group(2)), "shared": int(compiled.metadata.shared),
            "mma": "mma." in compiled.asm["ptx"]}
