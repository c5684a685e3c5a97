"""Fast paths, each beside the plain-PyTorch reference it must equal.

- ``selective_scan`` / ``selective_scan_ref``: Mamba-1 selective scan, u, delta (B, D, L); A (D, N); B, C (B, N, L).
- ``local_attention`` / ``local_attention_ref``: sliding-window attention, q, k, v (B, H, L, d).
- ``fft_conv`` / ``fft_conv_ref``: causal long convolution, u (B, D, L), k (D, L).

``SPANMIX_FORCE_REFERENCE=1`` or ``reference_mode()`` routes every call to its reference. CUDA tensors take
the Triton kernels of ``selective_scan`` and ``local_attention`` (``triton_selective_scan.py``,
``triton_local_attention.py``, imported only then); ``SPANMIX_DISABLE_TRITON=1`` sends them to the PyTorch
paths instead.
"""
from spanmix.kernels.dispatch import reference_mode, triton_available, use_reference
from spanmix.kernels.fft_conv import channel_groups, fft_conv, fft_conv_ref, fft_size, kernel_spectrum
from spanmix.kernels.local_attention import local_attention, local_attention_ref
from spanmix.kernels.selective_scan import selective_scan, selective_scan_ref

__all__ = [
    "channel_groups", "fft_conv", "fft_conv_ref", "fft_size", "kernel_spectrum", "local_attention",
    "local_attention_ref",
    "selective_scan", "selective_scan_ref", "reference_mode", "triton_available", "use_reference",
]
