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
    gain = (torch.fft.rfft(a).abs() / torch.fft.rfft(noise).abs())[0]
    gain_db = 20 * gain.log10()
    assert gain_db.std() > 1.0  # it colours the noise
    assert (gain_db[1:] - gain_db[:-1]).abs().max() < 1.0  # smoothly: no notches or spikes between bins


def test_augment_noise_length_and_variety():
    recording = torch.randn(1, 3000, generator=torch.Generator().manual_seed(1))  # shorter than asked: looped
    rng = np.random.default_rng(0)
    outs = [augment_noise(recording, 8000, rng, RATE) for _ in range(6)]
    assert all(o.shape == (1, 8000) and torch.isfinite(o).all() for o in outs)
    assert all(not torch.allclose(a, b) for a, b in zip(outs, outs[1:]))
    again = augment_noise(recording, 8000, np.random.default_rng(0), RATE)
    assert torch.equal(again, outs[0])


def test_augment_noise_speed_within_range(monkeypatch):
    factors = []
    real = augment.change_speed
    monkeypatch.setattr(augment, "change_speed", lambda x, f, r: factors.append(f) or real(x, f, r))
    rng = np.random.default_rng(5)
    for _ in range(20):
        augment_noise(_sine(500.0, 0.5), 4000, rng, RATE)
    low, high = augment.SPEED_RANGE
    assert all(low <= f <= high for f in factors) and max(factors) - min(factors) > 0.2


@pytest.fixture
def dirs(tmp_path):
    clean, noise = tmp_path / "clean", tmp_path / "noise"
    clean.mkdir()
    noise.mkdir()
    sf.write(str(clean / "a.wav"), 0.3 * _sine(180.0)[0].numpy(), RATE)
    sf.write(str(noise / "hum.wav"), 0.1 * _sine(300.0)[0].numpy(), RATE)
    return str(clean), str(noise)


def _items(dirs, probability):
    ds = MixtureDataset(*dirs, sample_rate=RATE, segment_seconds=0.5, reverb_probability=0.0, length=8, seed=2,
                        synthetic_noise_probability=0.0, babble_probability=0.0,
                        noise_augment_probability=probability)
    return [ds[i] for i in range(8)]


def test_mixture_dataset_noise_augmentation(dirs):
    plain, again, altered = _items(dirs, 0.0), _items(dirs, 0.0), _items(dirs, 1.0)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(plain, again))
    hum = [_peak_hz(noisy - clean) for noisy, clean in plain]
    moved = [_peak_hz(noisy - clean) for noisy, clean in altered]
    assert all(h == pytest.approx(300.0, abs=5) for h in hum)  # the recording as it is
    assert sum(abs(m - 300.0) > 10 for m in moved) >= 6  # its pitch moved with the speed
    assert all(n.shape == (1, RATE // 2) for n, _ in altered)


def test_augment_speech_moves_pitch_gently():
    rng = np.random.default_rng(0)
    factor = 1.08
    window = _sine(200.0, 0.6)[:, : augment.source_length(8000, factor)]
    out = augment.augment_speech(window, factor, 8000, rng, RATE)
    assert out.shape == (1, 8000) and torch.isfinite(out).all()
    assert _peak_hz(out) == pytest.approx(200.0 * factor, rel=0.02)
    level_db = 10 * torch.log10(out.pow(2).mean() / window[:, :8000].pow(2).mean())
    assert level_db.abs() < 12  # a gentle colour, not a different level


def _speech_items(dirs, probability):
    ds = MixtureDataset(*dirs, sample_rate=RATE, segment_seconds=0.5, reverb_probability=0.0, length=8, seed=2,
                        synthetic_noise_probability=0.0, babble_probability=0.0,
                        speech_augment_probability=probability)
    return [ds[i] for i in range(8)]


def test_mixture_dataset_speech_augmentation(dirs):
    plain, altered = _items(dirs, 0.0), _speech_items(dirs, 1.0)
    assert all(torch.equal(p[0], q[0]) for p, q in zip(plain, _speech_items(dirs, 0.0)))  # 0: unchanged mixes
    voice = [_peak_hz(clean) for _, clean in plain]
    moved = [_peak_hz(clean) for _, clean in altered]
    assert all(v == pytest.approx(180.0, abs=3) for v in voice)
    assert sum(abs(m - 180.0) > 4 for m in moved) >= 6  # the clean target itself is the altered voice
    low, high = augment.SPEECH_SPEED_RANGE
    assert all(180.0 * low - 4 <= m <= 180.0 * high + 4 for m in moved)
    assert all(c.shape == (1, RATE // 2) for _, c in altered)
