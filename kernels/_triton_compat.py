"""Two work-arounds for Triton 3.6's CPU interpreter (``TRITON_INTERPRET=1``); compiled GPU kernels
are unaffected, and ``patch_interpreter()`` does nothing when not interpreting.

- With NumPy >= 2.4 a scalar kernel argument used as a loop bound (``range(0, n)``) fails: the
  interpreter calls ``int()`` on a shape-(1,) array, which NumPy 2.4 refuses ("only 0-dimensional
  arrays can be converted to Python scalars"; triton-lang/triton#9171, fixed upstream by #9172 after
  3.6). The patch makes ``__index__`` read the single element.
- ``tl.dot`` of bfloat16 tiles multiplies the raw uint16 bit patterns the interpreter stores bfloat16
  in (found while writing these kernels: a 16x16 product came out ~1e10). The patch widens bfloat16
  operands to float32 first, as the GPU's tensor cores effectively do (fp32 accumulation).
"""
from __future__ import annotations


def patch_interpreter() -> None:
    from triton import knobs
    from triton.runtime import interpreter

    if not knobs.runtime.interpret or getattr(interpreter, "_spanmix_patched", False):
        return
    import triton.language as tl

    original_patch = getattr(interpreter, "_patch_lang_tensor", None)
    if original_patch is not None:
        def patch_lang_tensor(tensor, scope):
            original_patch(tensor, scope)
            scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

        interpreter._patch_lang_tensor = patch_lang_tensor

    builder = getattr(interpreter, "InterpreterBuilder", None)
    if builder is not None and hasattr(builder, "create_dot"):
        original_dot = builder.create_dot

        def create_dot(self, a, b, d, *args, **kwargs):
            if a.dtype.scalar == tl.bfloat16:
                a = self.cast_impl(a, tl.float32)
            if b.dtype.scalar == tl.bfloat16:
                b = self.cast_impl(b, tl.float32)
            return original_dot(self, a, b, d, *args, **kwargs)

        builder.create_dot = create_dot
    interpreter._spanmix_patched = True
