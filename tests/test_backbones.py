"""Contract tests shared by every registered backbone ``F(x, noise, spatial=None, global_emb=None)``.

``BackboneCommonTests`` holds the checks; each registered backbone gets one subclass that says how
to build it (``make``) and what an input looks like (``example``). A backbone added to the registry
without a subclass here fails ``test_every_registered_backbone_is_tested``.

Residual blocks start as the identity (zero-initialised FiLM and last pointwise layer), which would
let "the output depends on X" checks pass or fail for the wrong reason, so those tests first add
small random values to every parameter under a fixed seed (:func:`perturb`).
"""

from __future__ import annotations

import pytest
import torch

from audiodiff.nn.backbones import BACKBONES
from tiny_config import perturb

TESTED: dict[str, type] = {}


pytestmark = pytest.mark.usefixtures("one_thread")



def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# The forward pass is deterministic on CPU, so "unchanged" is exact and anything above float32
# round-off means a real dependence (perturbed outputs are ~0.05 in size).
CHANGED = 1e-5


class BackboneCommonTests:
    """Mixin: subclasses set ``name``, ``in_channels``, ``sizes``, the locality geometry and
    implement ``example``. The time axis is the last axis for every backbone."""

    name: str
    in_channels: int
    sizes: tuple[int, ...]  # lengths of the time axis to try (odd ones included)
    typical: int  # time length for the other tests (short enough to keep them fast)
    long_size: int  # a long input for the locality tests
    far: int  # how much of each end of the long input is changed
    middle: tuple[int, int]  # output region that must not see the change
    crop: tuple[int, int]  # a chunk of the long input that still contains ``middle`` with margin

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        TESTED[cls.name] = cls

    # hooks ---------------------------------------------------------------------------------------
    def make(self, cond_channels: int = 0, global_dim: int = 0, **args) -> torch.nn.Module:
        args = {"in_channels": self.in_channels, "out_channels": self.in_channels,
                "cond_channels": cond_channels, "global_dim": global_dim, **args}
        torch.manual_seed(0)
        return BACKBONES.build({"name": self.name, "args": args}).eval()

    def example(self, batch: int, size: int, channels: int | None = None, seed: int = 0) -> torch.Tensor:
        raise NotImplementedError

    # helpers -------------------------------------------------------------------------------------
    def spatial_for(self, x: torch.Tensor, channels: int, seed: int = 1) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        return torch.randn(x.shape[0], channels, *x.shape[2:], generator=g)

    @staticmethod
    def noise(batch: int, seed: int = 2) -> torch.Tensor:
        return torch.randn(batch, generator=torch.Generator().manual_seed(seed))

    @staticmethod
    def global_vec(batch: int, dim: int, seed: int = 3) -> torch.Tensor:
        return torch.randn(batch, dim, generator=torch.Generator().manual_seed(seed))

    # tests ---------------------------------------------------------------------------------------
    def test_output_shape_matches_input(self):
        model = self.make()
        for size in self.sizes:
            x = self.example(2, size)
            with torch.no_grad():
                y = model(x, self.noise(2))
            assert y.shape == x.shape, (size, y.shape, x.shape)
            assert torch.isfinite(y).all()

    def test_output_shape_with_conditioning(self):
        model = self.make(cond_channels=3, global_dim=8)
        for size in self.sizes:
            x = self.example(2, size)
            with torch.no_grad():
                y = model(x, self.noise(2), spatial=self.spatial_for(x, 3), global_emb=self.global_vec(2, 8))
            assert y.shape == x.shape, (size, y.shape, x.shape)

    def test_spatial_conditioning_changes_output(self):
        model = perturb(self.make(cond_channels=3))
        x = self.example(2, self.typical)
        with torch.no_grad():
            a = model(x, self.noise(2), spatial=self.spatial_for(x, 3, seed=1))
            b = model(x, self.noise(2), spatial=self.spatial_for(x, 3, seed=5))
        assert max_diff(a, b) > CHANGED

    def test_global_conditioning_changes_output(self):
        model = perturb(self.make(global_dim=8))
        x = self.example(2, self.typical)
        with torch.no_grad():
            a = model(x, self.noise(2), global_emb=self.global_vec(2, 8, seed=3))
            b = model(x, self.noise(2), global_emb=self.global_vec(2, 8, seed=6))
        assert max_diff(a, b) > CHANGED

    def test_noise_level_changes_output(self):
        model = perturb(self.make())
        x = self.example(2, self.typical)
        with torch.no_grad():
            a = model(x, torch.full((2,), -1.0))
            b = model(x, torch.full((2,), 1.0))
        assert max_diff(a, b) > CHANGED

    def test_missing_spatial_conditioning_raises(self):
        model = self.make(cond_channels=3)
        x = self.example(1, self.sizes[0])
        with pytest.raises(ValueError, match="spatial"):
            model(x, self.noise(1))

    def test_wrong_spatial_channel_count_raises(self):
        model = self.make(cond_channels=3)
        x = self.example(1, self.sizes[0])
        with pytest.raises(ValueError, match="input channels"):
            model(x, self.noise(1), spatial=self.spatial_for(x, 2))

    def test_missing_global_conditioning_raises(self):
        model = self.make(global_dim=8)
        x = self.example(1, self.sizes[0])
        with pytest.raises(ValueError, match="global"):
            model(x, self.noise(1))

    def test_batch_items_are_independent(self):
        model = perturb(self.make(cond_channels=2, global_dim=8))
        x = self.example(3, self.typical)
        spatial, noise, glob = self.spatial_for(x, 2), self.noise(3), self.global_vec(3, 8)
        with torch.no_grad():
            batched = model(x, noise, spatial=spatial, global_emb=glob)
            for i in range(3):
                alone = model(x[i:i + 1], noise[i:i + 1], spatial=spatial[i:i + 1], global_emb=glob[i:i + 1])
                torch.testing.assert_close(batched[i:i + 1], alone, atol=1e-5, rtol=0)
        # the items really differ, so equality above is not trivial
        assert max_diff(batched[0], batched[1]) > CHANGED

    def test_far_away_input_does_not_reach_the_middle(self):
        """Finite receptive field: changing both ends of a long input leaves the middle untouched."""
        model = perturb(self.make(cond_channels=2))
        x = self.example(1, self.long_size)
        spatial = self.spatial_for(x, 2)
        x2, spatial2 = x.clone(), spatial.clone()
        for t in (x2, spatial2):
            t[..., :self.far] = torch.randn_like(t[..., :self.far])
            t[..., -self.far:] = torch.randn_like(t[..., -self.far:])
        noise = self.noise(1)
        with torch.no_grad():
            a = model(x, noise, spatial=spatial)
            b = model(x2, noise, spatial=spatial2)
        lo, hi = self.middle
        torch.testing.assert_close(a[..., lo:hi], b[..., lo:hi], atol=1e-6, rtol=0)
        # ...while the changed ends do change (the test can see a dependence when there is one)
        assert max_diff(a[..., :self.far], b[..., :self.far]) > CHANGED

    def test_chunk_gives_the_same_middle_as_the_whole(self):
        """What chunked inference relies on: a chunk's output away from its edges equals the
        output of the whole input there, whatever the chunk's length."""
        model = perturb(self.make(cond_channels=2, global_dim=8))
        x = self.example(1, self.long_size)
        spatial, noise, glob = self.spatial_for(x, 2), self.noise(1), self.global_vec(1, 8)
        start, stop = self.crop
        with torch.no_grad():
            whole = model(x, noise, spatial=spatial, global_emb=glob)
            chunk = model(x[..., start:stop], noise, spatial=spatial[..., start:stop], global_emb=glob)
        lo, hi = self.middle
        torch.testing.assert_close(chunk[..., lo - start:hi - start], whole[..., lo:hi], atol=1e-5, rtol=0)

    def test_gradients_reach_every_parameter(self):
        model = perturb(self.make(cond_channels=2, global_dim=8)).train()
        x = self.example(2, self.typical)
        y = model(x, self.noise(2), spatial=self.spatial_for(x, 2), global_emb=self.global_vec(2, 8))
        (y * torch.randn_like(y)).sum().backward()
        dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
        assert not dead, f"no gradient reaches {dead}"

    def test_zero_initialised_layers_still_learn_at_init(self):
        """Blocks start as the identity, but their last layers must receive gradient at once."""
        model = self.make(cond_channels=2, global_dim=8).train()
        x = self.example(2, self.typical)
        y = model(x, self.noise(2), spatial=self.spatial_for(x, 2), global_emb=self.global_vec(2, 8))
        (y * torch.randn_like(y)).sum().backward()
        for block in model.blocks:
            assert block.project.weight.grad.abs().sum() > 0


class TestBandSplit(BackboneCommonTests):
    name = "bandsplit"
    in_channels = 2
    sizes = (1, 7, 63)
    typical = 63
    # receptive field along frames: +-18 with the default dilations (1, 2, 4, 8, 1, 2)
    long_size, far, middle, crop = 240, 60, (100, 140), (60, 180)

    def example(self, batch, size, channels=None, seed=0, freq=256):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(batch, channels or self.in_channels, freq, size, generator=g)

    @pytest.mark.parametrize("freq, bands_factor", [(80, 16), (80, 6), (100, 16), (257, 16), (1, 16)])
    def test_any_number_of_frequency_bins(self, freq, bands_factor):
        model = perturb(self.make(cond_channels=2, bands_factor=bands_factor))
        x = self.example(2, 7, freq=freq)
        with torch.no_grad():
            y = model(x, self.noise(2), spatial=self.spatial_for(x, 2))
        assert y.shape == x.shape
        assert torch.isfinite(y).all()

    def test_bins_are_padded_at_the_top_with_zeros(self):
        """F not a multiple of the band size: the input is zero-padded above the top bin and the
        output cropped back, so it equals running on the explicitly zero-padded input."""
        model = perturb(self.make(bands_factor=16))
        x = self.example(1, 7, freq=100)
        padded = torch.cat([x, torch.zeros(1, 2, 12, 7)], dim=2)  # 112 bins: a multiple of 16
        with torch.no_grad():
            y, y_padded = model(x, self.noise(1)), model(padded, self.noise(1))
        assert y.shape == x.shape
        torch.testing.assert_close(y, y_padded[:, :, :100], atol=1e-6, rtol=0)

    @pytest.mark.parametrize("cond_channels", [4, 7])
    def test_cond_mask_is_a_complex_gain_on_the_condition(self, cond_channels):
        """With the trunk silenced and the mask half of the output fixed to (a, b) per bin, the
        output is exactly (a + ib) times the complex condition, channel pair by channel pair; further
        condition channels (a piano roll after a sketch) are not masked."""
        model = self.make(in_channels=4, out_channels=4, cond_channels=cond_channels, cond_mask=True)
        factor = model.bands_factor
        with torch.no_grad():
            model.merge.weight.zero_()
            bias = model.merge.bias.view(2 * 4, factor)  # unfolded: channel, bin within the band
            bias.zero_()
            bias[4:].copy_(torch.tensor([0.5, -2.0, 1.5, 0.25])[:, None])  # mask: re, im, re, im
        x = self.example(2, 7, channels=4)
        spatial = self.spatial_for(x, cond_channels)
        with torch.no_grad():
            y = model(x, self.noise(2), spatial=spatial)
        expected = []
        for (a, b), pair in zip(((0.5, -2.0), (1.5, 0.25)), spatial[:, :4].split(2, dim=1)):
            re, im = pair[:, :1], pair[:, 1:]
            expected += [a * re - b * im, a * im + b * re]
        torch.testing.assert_close(y, torch.cat(expected, dim=1), atol=1e-6, rtol=0)

    def test_cond_mask_needs_a_matching_complex_condition(self):
        with pytest.raises(ValueError, match="cond_mask"):
            self.make(cond_channels=1, cond_mask=True)
        with pytest.raises(ValueError, match="cond_mask: real"):
            self.make(in_channels=1, out_channels=1, cond_channels=2, cond_mask=True)
        with pytest.raises(ValueError, match="cond_mask must be"):
            self.make(cond_channels=2, cond_mask="imaginary")

    def test_real_cond_mask_is_a_gain_on_magnitudes(self):
        """``cond_mask: real`` (phaseless models): the mask is a real gain on the first channel."""
        model = self.make(in_channels=1, out_channels=1, cond_channels=3, cond_mask="real")
        with torch.no_grad():
            model.merge.weight.zero_()
            bias = model.merge.bias.view(2, model.bands_factor)
            bias.zero_()
            bias[1].fill_(0.75)
        x = self.example(2, 7, channels=1)
        spatial = self.spatial_for(x, 3).abs()
        with torch.no_grad():
            y = model(x, self.noise(2), spatial=spatial)
        torch.testing.assert_close(y, 0.75 * spatial[:, :1], atol=1e-6, rtol=0)

    def test_stereo_channels(self):
        model = self.make(in_channels=4, out_channels=4)
        x = self.example(2, 7, channels=4)
        with torch.no_grad():
            assert model(x, self.noise(2)).shape == x.shape


class TestBandSplitLongContext(TestBandSplit):
    """The band-split network with its low-frame-rate context path: the same contract, a wider
    receptive field (+-18 frames at full rate, plus +-6 groups of 4 frames at the low rate)."""

    name = "bandsplit (long context)"  # built as bandsplit with context arguments (make)
    long_size, far, middle, crop = 320, 60, (140, 180), (40, 280)  # crop starts on a multiple of 4

    def make(self, cond_channels: int = 0, global_dim: int = 0, **args) -> torch.nn.Module:
        args = {"in_channels": self.in_channels, "out_channels": self.in_channels,
                "cond_channels": cond_channels, "global_dim": global_dim,
                "context_blocks": 3, "context_stride": 4, **args}
        torch.manual_seed(0)
        return BACKBONES.build({"name": "bandsplit", "args": args}).eval()

    def test_context_reaches_further_than_the_plain_network(self):
        """A change 24-32 frames away (beyond the plain network's +-18) reaches the output."""
        model = perturb(self.make(cond_channels=2))
        x = self.example(1, 160)
        spatial = self.spatial_for(x, 2)
        x2 = x.clone()
        x2[..., 120:] = torch.randn_like(x2[..., 120:])
        noise = self.noise(1)
        with torch.no_grad():
            a = model(x, noise, spatial=spatial)
            b = model(x2, noise, spatial=spatial)
        assert max_diff(a[..., 88:96], b[..., 88:96]) > CHANGED

    def test_context_path_starts_as_the_identity(self):
        """Fresh context blocks change nothing: a trained plain network grown with them (its
        weights loaded, the new blocks left as built) gives the plain network's output."""
        plain = perturb(BACKBONES.build({"name": "bandsplit", "args": {"cond_channels": 2}}).eval())
        grown = self.make(cond_channels=2)
        missing, unexpected = grown.load_state_dict(plain.state_dict(), strict=False)
        assert not unexpected and missing and all(k.startswith("context.") for k in missing)
        x = self.example(2, 37)
        spatial = self.spatial_for(x, 2)
        with torch.no_grad():
            torch.testing.assert_close(grown(x, self.noise(2), spatial=spatial),
                                       plain(x, self.noise(2), spatial=spatial), atol=1e-6, rtol=0)


    def test_blocks_appended_after_a_fixed_context_start_as_the_identity(self):
        """With ``context_at`` fixed at the trained network's middle, blocks appended at the end
        start as the identity (a deeper model grown from a trained one); out of range is refused."""
        trained = perturb(self.make(cond_channels=2))  # 6 blocks, context before block 3
        deeper = self.make(cond_channels=2, blocks=9, context_at=3)
        missing, unexpected = deeper.load_state_dict(trained.state_dict(), strict=False)
        assert not unexpected and sorted({k.split(".")[1] for k in missing}) == ["6", "7", "8"]
        x = self.example(2, 37)
        spatial = self.spatial_for(x, 2)
        with torch.no_grad():
            torch.testing.assert_close(deeper(x, self.noise(2), spatial=spatial),
                                       trained(x, self.noise(2), spatial=spatial), atol=1e-6, rtol=0)
            moved = self.make(cond_channels=2, blocks=9)  # default: context before block 4
            moved.load_state_dict(trained.state_dict(), strict=False)
            assert max_diff(moved(x, self.noise(2), spatial=spatial), trained(x, self.noise(2), spatial=spatial)) > CHANGED
        with pytest.raises(ValueError, match="context_at"):
            self.make(context_at=6)

class TestWaveUNet(BackboneCommonTests):
    name = "waveunet"
    in_channels = 1
    sizes = (1, 1000, 16001)
    typical = 4001
    # receptive field: about +-1005 samples with the defaults; crop starts on a multiple of the
    # total stride (64) so the chunk's strided convolutions sample the same grid as the whole's
    long_size, far, middle, crop = 12000, 3000, (5000, 7000), (3008, 9000)

    def example(self, batch, size, channels=None, seed=0):
        g = torch.Generator().manual_seed(seed)
        return torch.randn(batch, channels or self.in_channels, size, generator=g) * 0.3

    @pytest.mark.parametrize("strides", [(2, 2), (3, 3), (5,), (4, 3, 2)])
    def test_any_strides(self, strides):
        model = self.make(strides=strides, channels=tuple(16 for _ in strides), width=8)
        for size in (1, 101, 999):
            x = self.example(2, size)
            with torch.no_grad():
                assert model(x, self.noise(2)).shape == x.shape

    def test_mismatched_levels_raise(self):
        with pytest.raises(ValueError, match="one entry per level"):
            self.make(strides=(4, 4), channels=(16,))


def test_every_registered_backbone_is_tested():
    assert set(BACKBONES.names()) <= set(TESTED), f"untested backbones: {set(BACKBONES.names()) - set(TESTED)}"
