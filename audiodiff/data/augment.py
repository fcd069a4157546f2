"""Training-data augmentation: one recording heard as many, so a model trained on a few voices and
a few minutes of noise meets unseen ones less surprised.

:func:`augment_noise` takes a random window of a noise recording and changes its playback speed
(pitch and tempo together, as a faster or slower machine, vehicle or room tone would), colours it
with a smooth random equaliser, and sometimes plays it backwards. :func:`augment_speech` is the
milder version for clean speech (speed perturbation, as in ASR training: pitch and formants move
together, a new-sounding voice; and a gentle equaliser, another microphone), never reversed.
"""

from __future__ import annotations

import numpy as np
import torch

from audiodiff.audio import resample
from audiodiff.data.mixing import fit_to_length

SPEED_RANGE = (0.8, 1.25)  # playback-speed factors for noise (about -4 to +4 semitones)
SPEECH_SPEED_RANGE = (0.9, 1.1)  # for speech: about -2 to +2 semitones, still natural
EQ_POINTS = 6  # random gains at this many log-spaced frequencies, interpolated in log frequency
EQ_STD_DB = 6.0
SPEECH_EQ_STD_DB = 3.0
RATE_STEP = 50  # intermediate rates are rounded to this many Hz, so resampling kernels stay small


def change_speed(noise: torch.Tensor, factor: float, sample_rate: int) -> torch.Tensor:
    """``noise`` ``[C, T]`` played ``factor`` times faster: about ``T / factor`` samples."""
    slower_rate = int(round(sample_rate / factor / RATE_STEP)) * RATE_STEP
    return resample(noise, sample_rate, slower_rate) if slower_rate != sample_rate else noise


def source_length(length: int, factor: float) -> int:
    """Samples to take from a recording so that, played ``factor`` times faster, it fills ``length``
    (with a margin for the resampler's rounding)."""
    return int(np.ceil(length * factor)) + 2 * RATE_STEP


def random_equaliser(noise: torch.Tensor, rng: np.random.Generator, sample_rate: int,
                     std_db: float = EQ_STD_DB) -> torch.Tensor:
    """``noise`` ``[C, T]`` through a smooth random magnitude response (gains ``N(0, std_db)`` dB at
    ``EQ_POINTS`` log-spaced frequencies from 50 Hz to Nyquist, linear in log frequency between them)."""
    length = noise.shape[-1]
    freqs = np.fft.rfftfreq(length, 1.0 / sample_rate)
    anchors = np.geomspace(50.0, sample_rate / 2, EQ_POINTS)
    gains_db = rng.normal(0.0, std_db, EQ_POINTS)
    curve = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(anchors), gains_db)
    gain = torch.tensor(10 ** (curve / 20), dtype=torch.float32)
    return torch.fft.irfft(torch.fft.rfft(noise) * gain, length)


def augment_noise(noise: torch.Tensor, length: int, rng: np.random.Generator, sample_rate: int) -> torch.Tensor:
    """A random, altered window ``[C, length]`` of the recording ``noise`` ``[C, T]`` (looped if short):
    playback speed uniform in ``SPEED_RANGE``, a random equaliser, reversed half the time."""
    factor = float(rng.uniform(*SPEED_RANGE))
    window = fit_to_length(noise, source_length(length, factor), int(rng.integers(0, noise.shape[-1])))
    out = fit_to_length(change_speed(window, factor, sample_rate), length)
    out = random_equaliser(out, rng, sample_rate)
    return out.flip(-1) if rng.random() < 0.5 else out


def augment_speech(window: torch.Tensor, factor: float, length: int, rng: np.random.Generator,
                   sample_rate: int) -> torch.Tensor:
    """Clean speech ``window`` ``[C, source_length(length, factor)]`` played ``factor`` times faster
    (draw it from ``SPEECH_SPEED_RANGE``), cropped to ``[C, length]``, through a gentle random
    equaliser (``SPEECH_EQ_STD_DB``). The caller draws ``factor`` first, to know how much to read."""
    out = fit_to_length(change_speed(window, factor, sample_rate), length)
    return random_equaliser(out, rng, sample_rate, SPEECH_EQ_STD_DB)
