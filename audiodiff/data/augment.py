"""Noise augmentation: one recorded noise file heard as many, so a model trained on a few minutes of
noise meets unseen noise less surprised.

:func:`augment_noise` takes a random window of a noise recording and changes its playback speed
(pitch and tempo together, as a faster or slower machine, vehicle or room tone would), colours it
with a smooth random equaliser, and sometimes plays it backwards.
"""

from __future__ import annotations

import numpy as np
import torch

from audiodiff.audio import resample
from audiodiff.data.mixing import fit_to_length

SPEED_RANGE = (0.8, 1.25)  # playback-speed factors (about -4 to +4 semitones)
EQ_POINTS = 6  # random gains at this many log-spaced frequencies, interpolated in log frequency
EQ_STD_DB = 6.0
RATE_STEP = 50  # intermediate rates are rounded to this many Hz, so resampling kernels stay small


def change_speed(noise: torch.Tensor, factor: float, sample_rate: int) -> torch.Tensor:
    """``noise`` ``[C, T]`` played ``factor`` times faster: about ``T / factor`` samples."""
    slower_rate = int(round(sample_rate / factor / RATE_STEP)) * RATE_STEP
    return resample(noise, sample_rate, slower_rate) if slower_rate != sample_rate else noise


def random_equaliser(noise: torch.Tensor, rng: np.random.Generator, sample_rate: int) -> torch.Tensor:
    """``noise`` ``[C, T]`` through a smooth random magnitude response (gains ``N(0, EQ_STD_DB)`` dB at
    ``EQ_POINTS`` log-spaced frequencies from 50 Hz to Nyquist, linear in log frequency between them)."""
    length = noise.shape[-1]
    freqs = np.fft.rfftfreq(length, 1.0 / sample_rate)
    anchors = np.geomspace(50.0, sample_rate / 2, EQ_POINTS)
    gains_db = rng.normal(0.0, EQ_STD_DB, EQ_POINTS)
    curve = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(anchors), gains_db)
    gain = torch.tensor(10 ** (curve / 20), dtype=torch.float32)
    return torch.fft.irfft(torch.fft.rfft(noise) * gain, length)


def augment_noise(noise: torch.Tensor, length: int, rng: np.random.Generator, sample_rate: int) -> torch.Tensor:
    """A random, altered window ``[C, length]`` of the recording ``noise`` ``[C, T]`` (looped if short):
    playback speed uniform in ``SPEED_RANGE``, a random equaliser, reversed half the time."""
    factor = float(rng.uniform(*SPEED_RANGE))
    needed = int(np.ceil(length * factor)) + 2 * RATE_STEP  # margin for the resampler's rounding
    window = fit_to_length(noise, needed, int(rng.integers(0, noise.shape[-1])))
    out = fit_to_length(change_speed(window, factor, sample_rate), length)
    out = random_equaliser(out, rng, sample_rate)
    return out.flip(-1) if rng.random() < 0.5 else out
