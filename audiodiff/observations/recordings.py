"""Recordings as observations: the recording itself (enhancement) and its telephone band
(bandwidth extension)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchaudio.functional as taF

from audiodiff.audio import resample
from audiodiff.observations.base import OBSERVATIONS, AudioObservation


@OBSERVATIONS.register("noisy")
@dataclass(frozen=True)
class NoisyRecording(AudioObservation):
    """The recording itself, resampled to the model's rate; the output keeps the input's rate."""

    sample_rate: int = 16_000
    keeps_rate = True


@OBSERVATIONS.register("narrowband")
@dataclass(frozen=True)
class Narrowband(AudioObservation):
    """Telephone-band speech: the input is band-limited to ``narrow_rate`` (whatever its own rate),
    then resampled to the model's rate; the output is written at the model's rate.

    In training, a share ``codec_probability`` of the inputs also goes through 8-bit mu-law
    (G.711) quantisation at the narrow rate, as real telephone audio does.
    """

    sample_rate: int = 16_000
    narrow_rate: int = 8_000
    codec_probability: float = 0.5

    def observe(self, audio: torch.Tensor, rate: int) -> torch.Tensor:
        """``[C, T]`` at ``rate`` -> ``[C, T']`` at the model's rate, nothing above ``narrow_rate / 2``."""
        if rate > self.narrow_rate:
            audio, rate = resample(audio, rate, self.narrow_rate), self.narrow_rate
        return resample(audio, rate, self.sample_rate)

    def degrade(self, wav: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[B, C, T]`` -> ``[B, C, T]``: down to the narrow rate (some mu-law coded, drawn from
        the CPU ``generator``) and back up."""
        narrow = resample(wav, self.sample_rate, self.narrow_rate)
        coded = (torch.rand(wav.shape[0], 1, 1, generator=generator) < self.codec_probability).to(wav.device)
        if coded.any():
            peak = narrow.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-8)
            companded = taF.mu_law_decoding(taF.mu_law_encoding(narrow / peak, 256), 256) * peak
            narrow = torch.where(coded, companded, narrow)
        return resample(narrow, self.narrow_rate, self.sample_rate)[..., : wav.shape[-1]]
