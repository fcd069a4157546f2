"""Noisy/clean pairs: clean speech or music plus noise at a chosen SNR, optional room reverberation.

Augmentations split drawing parameters (``sample_mix_params(rng)``) from applying them
(``apply_mix(clean, noise, params)``), so a pair is reproducible from its seed and index.
Waveforms are ``[1, T]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

EPS = 1e-8


def power(x: torch.Tensor) -> torch.Tensor:
    return x.pow(2).mean()


def mix_at_snr(clean: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    """``clean + g * noise`` with ``g`` chosen so that ``10 log10(P_clean / P_noise) = snr_db``."""
    gain = torch.sqrt(power(clean) / (power(noise) + EPS) / 10 ** (snr_db / 10))
    return clean + gain * noise


def fit_to_length(x: torch.Tensor, length: int, offset: int = 0) -> torch.Tensor:
    """Loop ``x`` ``[C, T]`` from ``offset`` until it is ``length`` samples long."""
    reps = -(-(offset + length) // x.shape[-1])
    return x.repeat(1, reps)[:, offset : offset + length]


@dataclass(frozen=True)
class MixParams:
    """Everything random about one pair."""

    snr_db: float
    gain_db: float
    noise_offset: int
    rir_seed: int | None  # None: dry


def sample_mix_params(rng: np.random.Generator, snr_range=(-5.0, 15.0), gain_range=(-25.0, -5.0),
                      reverb_probability: float = 0.3, noise_length: int = 1) -> MixParams:
    """Draw :class:`MixParams` (SNR and level uniform in dB)."""
    return MixParams(
        snr_db=float(rng.uniform(*snr_range)),
        gain_db=float(rng.uniform(*gain_range)),
        noise_offset=int(rng.integers(0, max(noise_length, 1))),
        rir_seed=int(rng.integers(2**31)) if rng.random() < reverb_probability else None,
    )


@dataclass(frozen=True)
class Rooms:
    """A range of shoebox rooms: size from ``smallest`` to ``largest`` (m), RT60 in ``rt60`` (s)."""

    smallest: tuple[float, float, float]
    largest: tuple[float, float, float]
    rt60: tuple[float, float]


TRAINING_ROOMS = Rooms((3, 3, 2.5), (10, 8, 4), (0.2, 0.8))
UNSEEN_ROOMS = (Rooms((1.6, 1.4, 2.0), (2.8, 2.6, 2.4), (0.1, 0.35)),  # cars, booths, bathrooms
                Rooms((12, 10, 4.5), (25, 18, 9), (0.9, 1.6)))  # halls, churches, stairwells
"""Rooms of other sizes than training's, for the unseen-sources dev set: half small, half large."""


def room_impulse_response(seed: int, sample_rate: int, rooms: Rooms = TRAINING_ROOMS) -> torch.Tensor:
    """A shoebox-room impulse response (image-source method, pyroomacoustics): ``[T_rir]``.

    Room and RT60 drawn from ``rooms`` (training: 3-10 m x 3-8 m x 2.5-4 m, RT60 0.2-0.8 s), source
    and microphone at random places at least 0.5 m from the walls. Normalised to a unit
    direct-path peak.
    """
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    dims = rng.uniform(rooms.smallest, rooms.largest)
    rt60 = rng.uniform(*rooms.rt60)
    absorption, max_order = pra.inverse_sabine(rt60, dims)
    room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption), max_order=min(max_order, 12))
    room.add_source(rng.uniform(0.5, dims - 0.5))
    room.add_microphone(rng.uniform(0.5, dims - 0.5))
    room.compute_rir()
    rir = torch.tensor(np.asarray(room.rir[0][0]), dtype=torch.float32)
    return rir / (rir.abs().max() + EPS)


def reverberate(clean: torch.Tensor, rir: torch.Tensor, sample_rate: int, early_ms: float = 50.0):
    """``(reverberant, early)``: ``clean`` ``[1, T]`` convolved with the full RIR and with its first
    ``early_ms`` after the direct path (the target: direct sound plus early reflections)."""
    peak = int(rir.abs().argmax())
    early = rir.clone()
    early[peak + int(early_ms * sample_rate / 1000):] = 0
    length = clean.shape[-1]

    def convolve(kernel):
        n = length + kernel.shape[-1]
        out = torch.fft.irfft(torch.fft.rfft(clean, n) * torch.fft.rfft(kernel, n), n)
        return out[..., peak : peak + length]

    return convolve(rir), convolve(early)


def apply_mix(clean: torch.Tensor, noise: torch.Tensor | None, params: MixParams, sample_rate: int,
              rooms: Rooms = TRAINING_ROOMS):
    """Build one pair from ``clean`` and ``noise`` ``[1, T]``: ``(noisy, target)`` ``[1, T]``
    (``noise`` None: no noise, only the room and the level).

    The target is the clean signal (dry, or direct sound + early reflections when reverberant),
    both scaled so the target sits at ``gain_db`` dB RMS; clipping is avoided by scaling both down.
    """
    target = clean
    if params.rir_seed is not None:
        clean, target = reverberate(clean, room_impulse_response(params.rir_seed, sample_rate, rooms), sample_rate)
    noisy = clean if noise is None else mix_at_snr(clean, fit_to_length(noise, clean.shape[-1], params.noise_offset),
                                                   params.snr_db)
    gain = 10 ** (params.gain_db / 20) / (power(target).sqrt() + EPS)
    noisy, target = noisy * gain, target * gain
    peak = max(noisy.abs().max().item(), target.abs().max().item())
    if peak > 0.99:
        noisy, target = noisy * 0.99 / peak, target * 0.99 / peak
    return noisy, target
