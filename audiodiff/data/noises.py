"""Procedural noise: what recorded noise packages lack or have too little of.

Each generator takes a numpy ``Generator``, a length and a sample rate and returns ``[1, length]``
float32 at unit standard deviation (the mixer sets the level). Every parameter is drawn from
``rng``, so a noise is reproducible from its seed.

* :func:`coloured_noise`: Gaussian noise with a spectral slope (white, pink, brown, blue-ish).
* :func:`click_noise`: impulsive bursts (typing, handling, crackle).
* :func:`hum_noise`: mains hum and buzz: 50 or 60 Hz and its harmonics, drifting slightly.
* :func:`fan_noise`: fans, air conditioning, engines at idle: shaped broadband noise plus a
  blade-pass tone and its harmonics, slowly modulated.
* :func:`rumble_noise`: traffic-like low-frequency rumble with vehicles passing (slow swells).
"""

from __future__ import annotations

import numpy as np
import torch

EPS = 1e-8


def _unit(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x / (x.std() + EPS), dtype=torch.float32)[None]


def _shaped(rng: np.random.Generator, length: int, sample_rate: int, gain) -> np.ndarray:
    """White Gaussian noise ``[length]`` filtered in the DFT domain by ``gain(frequency in Hz)``
    (frequencies floored at 20 Hz; no DC)."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    hz = np.maximum(np.fft.rfftfreq(length, 1 / sample_rate), 20.0)
    spectrum = spectrum * gain(hz)
    spectrum[0] = 0
    return np.fft.irfft(spectrum, length)


def coloured_noise(rng: np.random.Generator, length: int, slope_db: float) -> torch.Tensor:
    """Gaussian noise ``[1, length]`` whose spectrum falls ``slope_db`` dB per octave (0: white, -3: pink)."""
    white = np.fft.rfft(rng.standard_normal(length))
    freqs = np.maximum(np.arange(len(white)), 1)
    return _unit(np.fft.irfft(white * freqs ** (slope_db / (20 * np.log10(2))), length))


def click_noise(rng: np.random.Generator, length: int, sample_rate: int) -> torch.Tensor:
    """Impulsive noise ``[1, length]`` like typing or handling: short noise bursts (2-15 ms,
    exponentially decaying, each with its own brightness and level) at 2-15 random instants per second."""
    out = np.zeros(length)
    count = rng.poisson(rng.uniform(2, 15) * length / sample_rate)
    for start in rng.integers(0, length, size=count):
        size = int(rng.uniform(0.002, 0.015) * sample_rate)
        burst = rng.standard_normal(size) * np.exp(-np.arange(size) / (0.25 * size))
        burst = np.diff(burst, prepend=0.0) if rng.random() < 0.5 else burst  # brighter or duller clicks
        stop = min(length, start + size)
        out[start:stop] += rng.uniform(0.1, 1.0) * burst[: stop - start]
    return _unit(out)


def _drifting_phase(rng: np.random.Generator, length: int, sample_rate: int, frequency: float,
                    drift: float) -> np.ndarray:
    """Phase ``[length]`` of a tone at ``frequency`` Hz whose frequency wanders by about ``drift`` (relative)."""
    knots = max(2, int(length / sample_rate) + 2)
    wobble = np.interp(np.arange(length), np.linspace(0, length, knots), rng.uniform(-1, 1, knots))
    return 2 * np.pi * np.cumsum(frequency * (1 + drift * wobble)) / sample_rate + rng.uniform(0, 2 * np.pi)


def hum_noise(rng: np.random.Generator, length: int, sample_rate: int) -> torch.Tensor:
    """Mains hum ``[1, length]``: 50 or 60 Hz and harmonics up to 3 kHz, their levels falling by a
    random 3-12 dB per octave, odd harmonics up to 10 dB stronger (transformer buzz), a drift of up to
    0.5%, over a faint broadband floor (-40 to -25 dB)."""
    mains = float(rng.choice([50.0, 60.0]))
    phase = _drifting_phase(rng, length, sample_rate, mains, rng.uniform(0, 0.005))
    fall, odd_boost = rng.uniform(3, 12), rng.uniform(0, 10)
    out = np.zeros(length)
    for k in range(1, int(min(3000, sample_rate / 2 - 100) // mains) + 1):
        level_db = -fall * np.log2(k) + (odd_boost if k % 2 else 0) + rng.uniform(-6, 0)
        out += 10 ** (level_db / 20) * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    floor = rng.standard_normal(length) * out.std() * 10 ** (rng.uniform(-40, -25) / 20)
    return _unit(out + floor)


def fan_noise(rng: np.random.Generator, length: int, sample_rate: int) -> torch.Tensor:
    """Fan, air conditioning or idling engine ``[1, length]``: broadband noise falling 3-9 dB per
    octave through a broad resonance (150-2,500 Hz), plus a blade-pass tone (25-300 Hz) with a few
    harmonics 6-25 dB below the broadband part, the whole slowly modulated (0.1-2 Hz, up to 30%)."""
    slope = -rng.uniform(3, 9) / (20 * np.log10(2))
    centre, width = rng.uniform(150, 2500), rng.uniform(0.5, 2.0)  # Hz, octaves
    broadband = _shaped(rng, length, sample_rate,
                        lambda f: (f / 100) ** slope * (1 + 3 * np.exp(-(np.log2(f / centre) / width) ** 2)))
    broadband /= broadband.std() + EPS
    phase = _drifting_phase(rng, length, sample_rate, rng.uniform(25, 300), rng.uniform(0, 0.02))
    tone = sum(10 ** (-rng.uniform(0, 15) / 20) * np.sin(k * phase) for k in range(1, int(rng.integers(2, 6))))
    tone *= 10 ** (-rng.uniform(6, 25) / 20) / (np.std(tone) + EPS)
    t = np.arange(length) / sample_rate
    swell = 1 + rng.uniform(0, 0.3) * np.sin(2 * np.pi * rng.uniform(0.1, 2) * t + rng.uniform(0, 2 * np.pi))
    return _unit((broadband + tone) * swell)


def rumble_noise(rng: np.random.Generator, length: int, sample_rate: int) -> torch.Tensor:
    """Traffic-like rumble ``[1, length]``: brown noise below a 100-400 Hz corner, with vehicles
    passing (0.1-1 per second, each a 1-5 s swell of broader noise, up to 2 kHz, 0-12 dB above)."""
    corner = rng.uniform(100, 400)
    base = _shaped(rng, length, sample_rate, lambda f: 1 / (1 + (f / corner) ** 2))
    base /= base.std() + EPS
    bright = _shaped(rng, length, sample_rate, lambda f: 1 / (1 + (f / 2000) ** 2) / np.sqrt(f))
    bright /= bright.std() + EPS
    t = np.arange(length) / sample_rate
    envelope = np.zeros(length)
    duration = length / sample_rate
    for _ in range(rng.poisson(rng.uniform(0.1, 1.0) * duration) + 1):
        centre, width = rng.uniform(-1, duration + 1), rng.uniform(0.5, 2.5)
        envelope += 10 ** (rng.uniform(0, 12) / 20) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    return _unit(base * (1 + 0.5 * envelope) + bright * envelope)


MACHINE_NOISES = (hum_noise, fan_noise, rumble_noise)
"""The stationary or slowly varying man-made noises, drawn alike by ``MixtureDataset``."""
