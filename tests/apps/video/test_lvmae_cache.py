"""The embedding cache: keyed by file hash + encoder; a killed extraction resumes without recomputing."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from spanmix.apps.video.lvmae.cache import EmbeddingCache
from spanmix.apps.video.lvmae.encoders import HistogramEncoder, build_encoder
from spanmix.datasets.video import write_clip


def _video(path, seconds=23.0, fps=5.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(seconds * fps)
    colours = rng.integers(0, 256, (n // 10 + 1, 3))
    frames = np.stack([np.broadcast_to(colours[k // 10], (24, 32, 3)).astype(np.uint8) for k in range(n)])
    frames = frames + rng.integers(0, 20, frames.shape, dtype=np.uint8)
    return write_clip(path, frames, fps=fps)


class Counting:
    """An encoder that counts its calls and can stop ('be killed') after a number of segments."""

    def __init__(self, stop_after=None):
        self.inner, self.calls, self.stop_after = HistogramEncoder(), 0, stop_after
        self.key, self.dim = self.inner.key, self.inner.dim

    def __call__(self, frames):
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        return self.inner(frames)


def test_hash_keys_rename_hits_edit_and_other_encoder_miss(tmp_path):
    video = _video(tmp_path / "a.mp4")
    cache = EmbeddingCache(tmp_path / "cache")
    enc = Counting()
    first = cache.extract(video, enc)
    assert enc.calls == 5 and first.embeddings.shape == (5, 96)  # 23 s: 4 full + a 3 s tail
    renamed = shutil.copy(video, tmp_path / "renamed.mp4")
    again = cache.extract(renamed, enc)
    assert enc.calls == 5 and torch.equal(again.embeddings, first.embeddings)  # same bytes: cache hit
    other = _video(tmp_path / "b.mp4", seed=1)
    cache.extract(other, enc)
    assert enc.calls == 10  # other bytes: computed
    cache.extract(video, build_encoder({"name": "hist", "bins": 3}))
    assert len(list((tmp_path / "cache").glob("*.safetensors"))) == 3  # another encoder: another entry
    assert cache.extract(video, enc, seconds=4.0).embeddings.shape[0] == 6  # another segmenting: another entry


def test_killed_extraction_resumes_without_recomputing(tmp_path):
    video = _video(tmp_path / "a.mp4")
    reference = EmbeddingCache(tmp_path / "ref").extract(video, HistogramEncoder())
    cache = EmbeddingCache(tmp_path / "cache")
    killed = Counting(stop_after=3)
    with pytest.raises(KeyboardInterrupt):
        cache.extract(video, killed)
    partial = list((tmp_path / "cache").glob("*.partial/*.safetensors"))
    assert len(partial) == 3 and not list((tmp_path / "cache").glob("*.safetensors"))  # no final file yet
    resumed = Counting()
    out = cache.extract(video, resumed)
    assert resumed.calls == 2  # only the two missing segments
    torch.testing.assert_close(out.embeddings, reference.embeddings)
    torch.testing.assert_close(out.times, reference.times)
    assert not list((tmp_path / "cache").glob("*.partial"))  # parts joined and removed


def test_damaged_part_is_recomputed_and_stray_temp_ignored(tmp_path):
    video = _video(tmp_path / "a.mp4")
    cache = EmbeddingCache(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        cache.extract(video, Counting(stop_after=3))
    parts = sorted((tmp_path / "cache").glob("*.partial/*.safetensors"))
    parts[1].write_bytes(parts[1].read_bytes()[:20])  # truncated on disk
    (parts[0].parent / ".000004.safetensors.abc.tmp").write_bytes(b"half")  # a write cut by a hard kill
    enc = Counting()
    out = cache.extract(video, enc)
    assert enc.calls == 3  # segment 1 again, plus 3 and 4
    reference = EmbeddingCache(tmp_path / "ref").extract(video, HistogramEncoder())
    torch.testing.assert_close(out.embeddings, reference.embeddings)


def test_network_encoder_needs_local_weights_and_averages_frames(tmp_path):
    import torchvision
    from safetensors.torch import save_file

    with pytest.raises(ValueError, match="needs weights"):
        build_encoder({"name": "torchvision:resnet18"})
    with pytest.raises(FileNotFoundError, match="not found"):
        build_encoder({"name": "torchvision:resnet18", "weights": str(tmp_path / "none.pth")})
    torch.manual_seed(0)
    net = torchvision.models.get_model("mobilenet_v3_small", weights=None)  # stands in for a user's weights file
    save_file(net.state_dict(), tmp_path / "w.safetensors")
    enc = build_encoder({"name": "torchvision:mobilenet_v3_small", "weights": str(tmp_path / "w.safetensors"),
                         "size": 64})
    frames = np.random.default_rng(0).integers(0, 256, (3, 40, 50, 3), dtype=np.uint8)
    z = enc(frames)
    assert z.shape == (enc.dim,) and enc.dim == 576
    per_frame = torch.stack([enc(frames[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(z, per_frame.mean(0), rtol=1e-4, atol=1e-5)  # image model: mean over frames
    assert "sha256=" in enc.key
