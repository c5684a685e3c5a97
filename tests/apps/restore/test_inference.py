"""Tiled inference and the x8 self-ensemble."""
import pytest
import torch
from spanmix.apps.restore.inference import restore, self_ensemble, tiled
from spanmix.apps.restore.models import MaIR, RestoreCNN


def cnn(scale):
    torch.manual_seed(0)
    return RestoreCNN(upscale=scale, width=6, depth=4).eval()  # receptive radius 4 LR pixels (+ bicubic's 2)


@pytest.mark.parametrize("scale", [1, 2])
def test_tiles_equal_untiled_when_the_overlap_covers_the_receptive_field(scale):
    net = cnn(scale)
    x = torch.rand(1, 3, 29, 37)
    with torch.no_grad():
        whole = net(x)
        parts = tiled(net, x, scale=scale, tile=20, overlap=6)
        short = tiled(net, x, scale=scale, tile=12, overlap=1)
    torch.testing.assert_close(parts, whole, atol=1e-6, rtol=1e-5)
    assert (short - whole).abs().max() > 1e-4  # too little context: the seams show


def test_a_tile_larger_than_the_image_is_one_untiled_pass_of_mair():
    torch.manual_seed(0)
    net = MaIR(embed_dim=8, depths=(1,), d_state=2, ssm_ratio=1.0, scan_len=4, upscale=2).eval()
    x = torch.rand(3, 11, 13)
    torch.testing.assert_close(restore(net, x, scale=2, tile=16, overlap=4), restore(net, x, scale=2))


def test_self_ensemble_is_the_mean_over_the_eight_transforms_and_equivariant():
    torch.manual_seed(0)
    net = MaIR(embed_dim=8, depths=(1,), d_state=2, ssm_ratio=1.0, scan_len=4, upscale=1, upsampler="none").eval()
    x = torch.rand(1, 3, 9, 9)
    with torch.no_grad():
        ens = self_ensemble(net, x)
        by_hand = sum(torch.rot90(net(torch.rot90(x, k, (2, 3))), -k, (2, 3)) for k in range(4))
        by_hand = by_hand + sum(torch.rot90(net(torch.rot90(x, k, (2, 3)).flip(-1)).flip(-1), -k, (2, 3))
                                for k in range(4))
        torch.testing.assert_close(ens, by_hand / 8)
        # the averaged network commutes with every flip and rotation, the plain one does not
        torch.testing.assert_close(self_ensemble(net, x.flip(-2)), ens.flip(-2), atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(self_ensemble(net, torch.rot90(x, 1, (2, 3))), torch.rot90(ens, 1, (2, 3)),
                                   atol=1e-6, rtol=1e-5)
        assert (net(x.flip(-2)) - net(x).flip(-2)).abs().max() > 1e-5


def test_bad_tiling_options():
    with pytest.raises(ValueError, match="--tile"):
        restore(cnn(1), torch.rand(3, 20, 20), tile=8, overlap=4)
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        restore(cnn(1), torch.rand(20, 20))
