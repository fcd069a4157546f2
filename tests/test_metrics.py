"""Quality metrics on signals whose answer is known: identical signals score perfectly, a degraded
copy scores worse, and each metric responds to what it is meant to measure."""

from __future__ import annotations

import math

import pytest
import torch

from audiodiff import metrics

pytestmark = pytest.mark.usefixtures("one_thread")
RATE = 16_000


def voiced(f0: float = 150.0, seconds: float = 1.0, seed: int = 0) -> torch.Tensor:
    """A harmonic tone with a slow vibrato and a little noise: pitch tracks and PESQ work on it."""
    t = torch.arange(int(seconds * RATE)) / RATE
    phase = 2 * math.pi * (f0 * t + 2.0 * torch.sin(2 * math.pi * 3 * t))
    x = sum(torch.sin(k * phase) / k for k in range(1, 12))
    g = torch.Generator().manual_seed(seed)
    return 0.2 * x / x.abs().max() + 0.002 * torch.randn(t.shape, generator=g)


def test_identical_signals_score_perfectly():
    x = voiced()
    assert metrics.mrstft_distance(x, x) == 0.0
    assert metrics.log_mel_distance(x, x, RATE) == 0.0
    assert metrics.log_spectral_distance(x, x) == 0.0
    assert metrics.si_sdr(x, x) > 60


def test_distances_grow_with_the_degradation():
    x = voiced()
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(x.shape, generator=g)
    mild, strong = x + 0.01 * noise, x + 0.1 * noise
    for distance in (metrics.mrstft_distance, lambda a, b: metrics.log_mel_distance(a, b, RATE)):
        assert 0 < distance(mild, x) < distance(strong, x)
    assert metrics.si_sdr(mild, x) > metrics.si_sdr(strong, x)


def test_f0_errors_see_a_pitch_shift_and_unvoicing():
    x = voiced(150.0)
    same = metrics.f0_errors(x, x, RATE)
    assert same == {"f0_rmse": 0.0, "vuv_error": 0.0}
    shifted = metrics.f0_errors(voiced(165.0), x, RATE)  # 10% higher: about 15 Hz
    assert 8 < shifted["f0_rmse"] < 25
    noise = 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    assert metrics.f0_errors(noise, x, RATE)["vuv_error"] > 0.5


def test_synthesis_scores_keys():
    x = voiced()
    scores = metrics.SCORES["synthesis"](x + 0.01 * torch.randn(x.shape), x, RATE)
    assert set(scores) == {"pesq", "log_mel", "mrstft", "f0_rmse", "vuv_error"}
    assert 1.0 <= scores["pesq"] <= 4.65
