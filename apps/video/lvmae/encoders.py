"""Frozen short-clip encoders: one segment's frames (k, H, W, 3) uint8 -> one embedding (D,).

``build_encoder(spec)`` with ``spec`` a name or ``{"name": ..., "weights": ...}``:

- ``hist`` (the offline default): **fixed, hand-made features, no learning.** Per frame, a joint RGB
  colour histogram (4x4x4 bins, 64 values) and gradient-orientation histograms (8 unsigned orientations,
  weighted by gradient magnitude) in each cell of a 2x2 grid (32 values), each part normalised to sum 1;
  averaged over the segment's frames. Weakness: it sees colour and edge statistics only — no objects,
  actions, people or sound; two different scenes with similar palettes look alike, and a lighting change
  looks like a new scene. No pretrained video encoder ships offline, and a randomly initialised network
  would be no better an encoder, so this is what runs when nothing else is given.
- ``torchvision:<model>`` / ``timm:<model>`` with ``weights``: any torchvision or timm classifier (image or,
  for torchvision, video model) with its weights read from a local file (safetensors, or a ``.pth`` loaded
  with ``weights_only=True``); its classifier head is removed. Image models see each frame (resized to
  ``size``, ImageNet-normalised) and the features are averaged over the segment's frames; torchvision
  video models (``torchvision.models.video``: r3d_18, mvit_v2_s, ...) see the frames as one clip.

Precomputed embeddings (the paper's LanguageBind / InternVideo2 features) skip the encoder altogether:
see ``spanmix.apps.video.lvmae.data.PrecomputedEmbeddings``.

Every encoder has a ``key`` (its name, options and the SHA-256 of its weights file): the embedding cache
is keyed by it, so a different encoder never reads another's embeddings.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
import torch

__all__ = ["HistogramEncoder", "NetworkEncoder", "build_encoder", "file_sha256"]


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (streamed)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


class HistogramEncoder:
    """Fixed colour + gradient-orientation histograms (module docstring). ``dim`` = bins**3 + grid**2 * orientations."""

    def __init__(self, bins: int = 4, orientations: int = 8, grid: int = 2):
        if min(bins, orientations, grid) < 1:
            raise ValueError(f"hist encoder: bins, orientations and grid must be >= 1, got {bins}, {orientations}, {grid}")
        self.bins, self.orientations, self.grid = bins, orientations, grid
        self.dim = bins ** 3 + grid * grid * orientations
        self.key = f"hist(bins={bins},orientations={orientations},grid={grid})"

    def frame_features(self, frame: np.ndarray) -> np.ndarray:
        b = self.bins
        q = (frame.astype(np.int32) * b) // 256  # (H, W, 3) bin per channel
        colour = np.bincount(((q[..., 0] * b + q[..., 1]) * b + q[..., 2]).ravel(), minlength=b ** 3).astype(np.float64)
        colour /= colour.sum()
        grey = frame.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        gy, gx = np.gradient(grey)
        mag = np.hypot(gx, gy)
        ori = ((np.arctan2(gy, gx) % np.pi) / np.pi * self.orientations).astype(np.int64) % self.orientations
        h, w = grey.shape
        cells = []
        for i in range(self.grid):
            for j in range(self.grid):
                sl = (slice(i * h // self.grid, (i + 1) * h // self.grid), slice(j * w // self.grid, (j + 1) * w // self.grid))
                hist = np.bincount(ori[sl].ravel(), weights=mag[sl].ravel(), minlength=self.orientations)
                cells.append(hist / max(hist.sum(), 1e-8))
        return np.concatenate([colour, *cells])

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.mean([self.frame_features(f) for f in frames], 0)).float()


def _load_state(path: str) -> dict[str, torch.Tensor]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"encoder weights file not found: {path!r} (expected a local .safetensors or .pth)")
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ValueError(f"cannot read encoder weights {path!r} as a tensor file: {e}") from None
    state = state.get("state_dict", state.get("model", state)) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        raise ValueError(f"encoder weights {path!r}: expected a state dict of tensors")
    return state


class NetworkEncoder:
    """A torchvision or timm network with local weights, head removed, frozen (module docstring).

    Args:
        name: ``torchvision:<model>`` or ``timm:<model>``.
        weights: local weights file (required: nothing is downloaded, nothing random is used).
        size: input side (frames are resized to ``size`` x ``size``).
    """

    _MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)

    def __init__(self, name: str, weights: str | None, size: int = 224):
        lib, _, model = name.partition(":")
        if lib not in ("torchvision", "timm") or not model:
            raise ValueError(f"encoder name {name!r}: expected 'hist', 'torchvision:<model>' or 'timm:<model>'")
        if not weights:
            raise ValueError(f"encoder {name!r} needs weights: a local weights file (no weights are downloaded, "
                             "and a randomly initialised network is not an encoder)")
        self.video = False
        if lib == "torchvision":
            import torchvision

            try:
                net = torchvision.models.get_model(model, weights=None)
            except ValueError as e:
                raise ValueError(f"unknown torchvision model {model!r}: {e}") from None
            self.video = model in torchvision.models.list_models(torchvision.models.video)
            net.load_state_dict(_load_state(weights))
            for head in ("fc", "classifier", "heads", "head"):
                if hasattr(net, head):
                    setattr(net, head, torch.nn.Identity())
                    break
        else:
            import timm

            try:
                net = timm.create_model(model, pretrained=False)
            except RuntimeError as e:
                raise ValueError(f"unknown timm model {model!r}: {e}") from None
            net.load_state_dict(_load_state(weights))
            net.reset_classifier(0)
        self.net = net.eval().requires_grad_(False)
        self.size = size
        with torch.no_grad():
            self.dim = int(self._forward(np.zeros((2, size, size, 3), np.uint8)).shape[-1])
        self.key = f"{name}(sha256={file_sha256(weights)[:16]},size={size})"

    def _forward(self, frames: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255.0  # (k, 3, H, W)
        x = torch.nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True,
                                            align_corners=False)
        x = (x - torch.tensor(self._MEAN)[:, None, None]) / torch.tensor(self._STD)[:, None, None]
        if self.video:
            return self.net(x.permute(1, 0, 2, 3).unsqueeze(0))[0]  # (1, 3, k, H, W) -> (D,)
        return self.net(x).mean(0)  # average over the frames

    @torch.no_grad()
    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        return self._forward(frames).float()


def build_encoder(spec: str | dict[str, Any] | None = None):
    """An encoder from ``"hist"``, ``{"name": "hist", "bins": 4}`` or ``{"name": "timm:resnet18", "weights": path}``."""
    if spec is None:
        spec = "hist"
    if isinstance(spec, str):
        spec = json.loads(spec) if spec.lstrip().startswith("{") else {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"encoder spec {spec!r}: expected a name or {{'name': ..., 'weights': ...}}")
    options = {k: v for k, v in spec.items() if k != "name"}
    if spec["name"] == "hist":
        return HistogramEncoder(**options)
    return NetworkEncoder(spec["name"], options.pop("weights", None), **options)
