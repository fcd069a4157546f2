"""Noise and speech augmentation: speed, equaliser, reversal; and their use in MixtureDataset."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.data import augment
from audiodiff.data.augment import augment_noise, change_speed, random_equaliser
from audiodiff.data.datasets import MixtureDataset

RATE = 16_000


def _peak_hz(x: torch.Tensor) -> float:
    spectrum = np.abs(np.fft.rfft(x[0].numpy() * np.hanning(x.shape[-1])))
    return float(np.fft.rfftfreq(x.shape[-1], 1 / RATE)[spectrum.argmax()])


def _sine(hz: float, seconds: float = 1.0) -> torch.Tensor:
    return torch.sin(2 * torch.pi * hz * torch.arange(int(seconds * RATE)) / RATE)[None]


@pytest.mark.parametrize("factor", [0.8, 1.0, 1.25])
def test_change_speed_scales_pitch_and_length(factor):
    out = change_speed(_sine(1000.0), factor, RATE)
    assert out.shape[-1] == pytest.approx(RATE / factor, rel=0.01)
    assert _peak_hz(out) == pytest.approx(1000.0 * factor, rel=0.01)


def test_random_equaliser_is_smooth_and_reproducible():
    noise = torch.randn(1, RATE, generator=torch.Generator().manual_seed(0))
    a = random_equaliser(noise, np.random.default_rng(3), RATE)
    b = random_equaliser(noise, np.random.default_rng(3), RATE)
    c = random_equaliser(noise, np.random.default_rng(4), RATE)
    assert a.shape == noise.shape and torch.equal(a, b) and not torch.allclose(a, c)
    edges = np.geomspace(60.0, 7900.0, 22).astype(int)  # third-octave bands (1 Hz bins)
    power = torch.fft.rfft(torch.cat([a, noise]), dim=-1).abs().pow(2)
    measured = [10 * np.log10(float(power[0, lo:hi].sum() / power[1, lo:hi].sum())) for lo, hi in zip(edges, edges[1:])]
    anchors = np.geomspace(50.0, RATE / 2, augment.EQ_POINTS)  # the curve the same draws describe
    wanted = np.interp(np.log(np.sqrt(edges[:-1] * edges[1:])), np.log(anchors),
                       np.random.default_rng(3).normal(0.0, augment.EQ_STD_DB, augment.EQ_POINTS))
    assert np.std(measured) > 1.0  # it colours the noise
    assert np.abs(np.array(measured) - wanted).max() < 2.5  # as the smooth curve says (band average against centre)
    assert (a[0, 1:] - a[0, :-1]).abs().max() < 3 * (noise[0, 1:] - noise[0, :-1]).abs().max()  # no edge bursts


def test_augment_noise_length_and_variety():
    recording = torch.randn(1, 3000, generator=torch.Generator().manual_seed(1))  # shorter than asked: looped
    rng = np.random.default_rng(0)
    outs = [augment_noise(recording, 8000, rng, RATE) for _ in range(6)]
    assert all(o.shape == (1, 8000) and torch.isfinite(o).all() for o in outs)
    assert all(not torch.allclose(a, b) for a, b in zip(outs, outs[1:]))
    again = augment_noise(recording, 8000, np.random.default_rng(0), RATE)
    assert torch.equal(again, outs[0])


@pytest.mark.parametrize("rate", [16_000, 22_050, 44_100])
def test_source_length_always_fills_the_segment(rate):
    """However the intermediate rate rounds, reading ``source_length`` samples and playing them
    faster yields at least the segment (no silent looping), for long segments too."""
    for seconds in (0.5, 4.0, 6.0):
        length = int(seconds * rate)
        for factor in np.linspace(0.8, 1.25, 19):
            window = torch.zeros(1, augment.source_length(length, float(factor), rate))
            assert change_speed(window, float(factor), rate).shape[-1] >= length


@pytest.fixture
def dirs(tmp_path):
    clean, noise = tmp_path / "clean", tmp_path / "noise"
    clean.mkdir()
    noise.mkdir()
    sf.write(str(clean / "a.wav"), 0.3 * _sine(180.0)[0].numpy(), RATE)
    sf.write(str(noise / "hum.wav"), 0.1 * _sine(300.0)[0].numpy(), RATE)
    return str(clean), str(noise)


def _items(dirs, **options):
    ds = MixtureDataset(*dirs, **{"sample_rate": RATE, "segment_seconds": 0.5, "reverb_probability": 0.0, "length": 8,
                                  "seed": 2, "synthetic_noise_probability": 0.0, "babble_probability": 0.0, **options})
    return [ds[i] for i in range(8)]


def _moment(x: torch.Tensor) -> float:
    return float((x * torch.arange(x.shape[-1])).sum() / x.shape[-1])


def test_no_augmentation_keeps_the_mixes_of_before(dirs):
    """At probability 0 nothing extra is drawn: the first mixes equal those made before augmentation
    existed (their first moments, recorded with the code of that commit)."""
    for augmentation in ({}, {"noise_augment_probability": 0.0, "speech_augment_probability": 0.0}):
        noisy = [_moment(n) for n, _ in _items(dirs, reverb_probability=0.5, **augmentation)[:4]]
        # to float rounding (reverberation sums differ by a few 1e-6 between CPUs); another draw of
        # the mix would move them by whole units
        assert noisy == pytest.approx([1.667879, 2.874516, -0.367444, -4.893307], rel=1e-5, abs=1e-5)


def test_mixture_dataset_noise_augmentation(dirs):
    plain, altered = _items(dirs), _items(dirs, noise_augment_probability=1.0)
    hum = [_peak_hz(noisy - clean) for noisy, clean in plain]
    moved = [_peak_hz(noisy - clean) for noisy, clean in altered]
    assert all(h == pytest.approx(300.0, abs=5) for h in hum)  # the recording as it is
    assert sum(abs(m - 300.0) > 10 for m in moved) >= 6  # its pitch moved with the speed


def test_augment_speech_moves_pitch_gently():
    rng = np.random.default_rng(0)
    factor = 1.08
    window = _sine(200.0, 0.6)[:, : augment.source_length(8000, factor, RATE)]
    out = augment.augment_speech(window, factor, 8000, rng, RATE)
    assert out.shape == (1, 8000) and torch.isfinite(out).all()
    assert _peak_hz(out) == pytest.approx(200.0 * factor, rel=0.02)
    level_db = 10 * torch.log10(out.pow(2).mean() / window[:, :8000].pow(2).mean())
    assert level_db.abs() < 12  # a gentle colour, not a different level


def test_mixture_dataset_speech_augmentation(dirs):
    plain, altered = _items(dirs), _items(dirs, speech_augment_probability=1.0)
    voice = [_peak_hz(clean) for _, clean in plain]
    moved = [_peak_hz(clean) for _, clean in altered]
    assert all(v == pytest.approx(180.0, abs=3) for v in voice)
    assert sum(abs(m - 180.0) > 4 for m in moved) >= 6  # the clean target itself is the altered voice
    low, high = augment.SPEECH_SPEED_RANGE
    assert all(180.0 * low - 4 <= m <= 180.0 * high + 4 for m in moved)


def test_augmented_noise_is_not_wrapped_round(dirs):
    """An augmented noise is a window one segment long: it enters the mix from its start, so a
    smooth noise stays smooth (wrapping it round at a random offset would leave a step)."""
    for noisy, clean in _items(dirs, noise_augment_probability=1.0):
        noise = (noisy - clean)[0]
        steps = (noise[1:] - noise[:-1]).abs()
        assert steps.max() < 0.3 * noise.abs().max()
