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
EQ_PAD = 1024  # samples mirrored at each end before filtering
RATE_STEP = 50  # intermediate rates are rounded to this many Hz, so resampling kernels stay small


def slower_rate(factor: float, sample_rate: int) -> int:
    """The rate a recording is resampled to so that, played at ``sample_rate``, it runs about
    ``factor`` times faster (rounded to ``RATE_STEP``, so the true factor is within 0.3% of it)."""
    return int(round(sample_rate / factor / RATE_STEP)) * RATE_STEP


def change_speed(audio: torch.Tensor, factor: float, sample_rate: int) -> torch.Tensor:
    """``audio`` ``[C, T]`` played about ``factor`` times faster: ``[C, ~T * slower_rate / sample_rate]``."""
    rate = slower_rate(factor, sample_rate)
    return resample(audio, sample_rate, rate) if rate != sample_rate else audio


def source_length(length: int, factor: float, sample_rate: int) -> int:
    """Samples to read from a recording so that, played ``factor`` times faster, it fills ``length``
    (plus a few for the resampler's rounding)."""
    return int(np.ceil(length * sample_rate / slower_rate(factor, sample_rate))) + 4


def played_faster(window: torch.Tensor, factor: float, length: int, sample_rate: int) -> torch.Tensor:
    """``window`` ``[C, source_length(length, factor, sample_rate)]`` played ``factor`` times faster,
    cropped to ``[C, length]``."""
    return change_speed(window, factor, sample_rate)[..., :length]


def random_equaliser(noise: torch.Tensor, rng: np.random.Generator, sample_rate: int,
                     std_db: float = EQ_STD_DB) -> torch.Tensor:
    """``noise`` ``[C, T]`` through a smooth random magnitude response (gains ``N(0, std_db)`` dB at
    ``EQ_POINTS`` log-spaced frequencies from 50 Hz to Nyquist, linear in log frequency between them)."""
    pad = min(EQ_PAD, noise.shape[-1] - 1)  # mirrored edges: no circular wrap at the ends
    padded = torch.nn.functional.pad(noise[None], (pad, pad), mode="reflect")[0]
    length = padded.shape[-1]
    freqs = np.fft.rfftfreq(length, 1.0 / sample_rate)
    anchors = np.geomspace(50.0, sample_rate / 2, EQ_POINTS)
    gains_db = rng.normal(0.0, std_db, EQ_POINTS)
    curve = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(anchors), gains_db)
    gain = torch.tensor(10 ** (curve / 20), dtype=torch.float32)
    return torch.fft.irfft(torch.fft.rfft(padded) * gain, length)[..., pad : length - pad]


def augment_noise(noise: torch.Tensor, length: int, rng: np.random.Generator, sample_rate: int) -> torch.Tensor:
    """A random, altered window ``[C, length]`` of the recording ``noise`` ``[C, T]`` (looped if short):
    playback speed uniform in ``SPEED_RANGE``, a random equaliser, reversed half the time."""
    factor = float(rng.uniform(*SPEED_RANGE))
    window = fit_to_length(noise, source_length(length, factor, sample_rate), int(rng.integers(0, noise.shape[-1])))
    out = random_equaliser(played_faster(window, factor, length, sample_rate), rng, sample_rate)
    return out.flip(-1) if rng.random() < 0.5 else out


def augment_speech(window: torch.Tensor, factor: float, length: int, rng: np.random.Generator,
                   sample_rate: int) -> torch.Tensor:
    """Clean speech ``window`` ``[C, source_length(length, factor, sample_rate)]`` played ``factor``
    times faster (draw it from ``SPEECH_SPEED_RANGE``), cropped to ``[C, length]``, through a gentle
    random equaliser (``SPEECH_EQ_STD_DB``). The caller draws ``factor`` first, to know how much to read."""
    out = played_faster(window, factor, length, sample_rate)
    return random_equaliser(out, rng, sample_rate, SPEECH_EQ_STD_DB)
