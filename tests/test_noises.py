"""Procedural noises: reproducible, unit level, and shaped as their docstrings say."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from audiodiff.data.noises import MACHINE_NOISES, click_noise, coloured_noise, fan_noise, hum_noise, rumble_noise

RATE = 16_000


def band_share(x: torch.Tensor, lo: float, hi: float) -> float:
    """Share of the power of ``[1, T]`` between ``lo`` and ``hi`` Hz."""
    power = np.abs(np.fft.rfft(x[0].numpy())) ** 2
    freqs = np.fft.rfftfreq(x.shape[-1], 1 / RATE)
    return float(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum())


@pytest.mark.parametrize("generate", [*MACHINE_NOISES, lambda rng, n, rate: click_noise(rng, n, rate),
                                      lambda rng, n, rate: coloured_noise(rng, n, -3.0)])
def test_noises_are_reproducible_unit_level_and_finite(generate):
    a = generate(np.random.default_rng(7), 2 * RATE, RATE)
    b = generate(np.random.default_rng(7), 2 * RATE, RATE)
    c = generate(np.random.default_rng(8), 2 * RATE, RATE)
    assert a.shape == (1, 2 * RATE) and a.dtype == torch.float32 and torch.isfinite(a).all()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert abs(a.std().item() - 1) < 1e-3


def test_hum_sits_on_mains_harmonics():
    for seed in range(4):
        hum = hum_noise(np.random.default_rng(seed), 2 * RATE, RATE)
        harmonics = sum(band_share(hum, k * f0 * 0.98, k * f0 * 1.02) for f0 in (50, 60) for k in range(1, 40))
        assert harmonics > 0.9


def test_rumble_is_low_and_fan_is_broadband():
    for seed in range(4):
        rng = np.random.default_rng(seed)
        assert band_share(rumble_noise(rng, 4 * RATE, RATE), 0, 2000) > 0.9
        fan = fan_noise(rng, 4 * RATE, RATE)
        assert band_share(fan, 0, 100) < 0.9 and band_share(fan, 500, 8000) > 0.01
