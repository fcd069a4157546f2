"""The spectral-flux loss (training.flux) and its place in the EDM loss and the LightningModule."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from audiodiff.diffusion.denoiser import EDMLoss
from audiodiff.diffusion.schedules import LogNormal
from audiodiff.representations import Magnitude
from audiodiff.training.flux import SpectralFluxLoss

RATE = 22_050
REP = Magnitude(sample_rate=RATE, n_fft=510, hop_length=128, alpha=0.5, iterations=2)


def tone(seconds: float = 1.0, start: float = 0.0, tremolo_hz: float = 0.0, depth: float = 0.0) -> torch.Tensor:
    """A 440 Hz tone from ``start``, with an optional amplitude wobble: ``[1, 1, T]``."""
    t = torch.arange(int(seconds * RATE)) / RATE
    level = 1 + depth * torch.sin(2 * math.pi * tremolo_hz * t)
    return (0.3 * level * torch.sin(2 * math.pi * 440 * t) * (t >= start)).reshape(1, 1, -1)


def test_flux_peaks_at_the_onset_and_is_flat_on_a_steady_tone():
    flux = SpectralFluxLoss(REP)
    envelope = flux.flux(REP.encode(tone(start=0.5)))[0, 0]  # [N - lag]
    frame = round(0.5 * RATE / REP.hop_length)
    peak = int(envelope.argmax())
    assert frame - flux.lag - 2 <= peak <= frame + 2
    steady = envelope[frame + 2 * flux.lag : -2 * flux.lag]
    assert steady.max() < 0.05 * envelope.max()


def test_loss_is_zero_for_the_target_and_sees_a_tremolo_the_squared_error_hardly_does():
    flux = SpectralFluxLoss(REP)
    inside = slice(8, -8)  # frames away from the signal's edges
    steady, wobbly = REP.encode(tone())[..., inside], REP.encode(tone(tremolo_hz=5.0, depth=0.08))[..., inside]
    assert flux(steady, steady).item() == 0.0
    louder = REP.encode(2 * tone(tremolo_hz=5.0, depth=0.08))[..., inside]
    assert flux(louder, wobbly).item() < 1e-4  # a level in dB: the rises alone count, not the gain
    assert flux(steady, wobbly).item() > 0.02  # dB, averaged over all 64 bands
    relative = ((steady - wobbly).pow(2).mean() / wobbly.pow(2).mean()).item()
    assert relative < 0.01  # under 1% of the target's energy in model space


def test_loss_has_gradients_and_refuses_too_few_frames():
    flux = SpectralFluxLoss(REP)
    estimate = REP.encode(tone(tremolo_hz=3.0, depth=0.2)).requires_grad_(True)
    flux(estimate, REP.encode(tone())).sum().backward()
    assert estimate.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="frames"):
        flux(torch.ones(1, 1, 256, flux.lag), torch.ones(1, 1, 256, flux.lag))


class Identity(nn.Module):
    sigma_data = 0.5

    def forward(self, x, sigma, cond=None):
        return x


def test_edm_loss_adds_the_extra_term_at_its_weight():
    x0 = torch.randn(4, 1, 8, 8)
    plain = EDMLoss(LogNormal())
    with_extra = EDMLoss(LogNormal(), extra=lambda est, x: torch.full((est.shape[0],), 2.0), extra_weight=0.25)
    base = plain(Identity(), x0, generator=torch.Generator().manual_seed(0)).item()
    total = with_extra(Identity(), x0, generator=torch.Generator().manual_seed(0)).item()
    assert total == pytest.approx(base + 0.5)


def test_module_builds_the_flux_loss_only_for_a_magnitude_model():
    pytest.importorskip("lightning")
    from audiodiff.training.module import EnhancementModule
    from test_training import TINY

    with pytest.raises(ValueError, match="magnitude"):
        EnhancementModule(model=copy.deepcopy(TINY), flux_weight=0.05)
    magnitude = copy.deepcopy(TINY)
    magnitude["representation"] = {"name": "magnitude", "args": {"sample_rate": 16_000, "iterations": 2}}
    magnitude["head"]["args"]["channels"] = 1
    magnitude["backbone"]["args"] |= {"in_channels": 1, "out_channels": 1}
    module = EnhancementModule(model=magnitude, flux_weight=0.05)
    assert isinstance(module.loss_fn.extra, SpectralFluxLoss) and module.loss_fn.extra_weight == 0.05
