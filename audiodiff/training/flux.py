"""Spectral-flux loss: how far an estimate's onset envelope is from the target's.

The squared error a diffusion model is trained on barely sees what an onset detector reads: a note's
attack and a bank's tremolo move the compressed magnitude by a few percent, and an error that
smears them costs next to nothing. The onset envelope is the rise of the log-mel spectrum from
one frame to the next, summed where it grows and averaged over mel bands (Bello et al. 2005,
"A tutorial on onset detection in music signals"; the envelope librosa's detector peaks on), and
this loss is the mean absolute difference of the two envelopes, in dB.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
import torchaudio

from audiodiff.representations import Magnitude

TOP_DB = 80.0  # quieter than the item's loudest bin by this much counts as silence


@dataclass(frozen=True)
class SpectralFluxLoss:
    """``loss(estimate, target) -> [B]`` for tensors of a :class:`Magnitude` representation
    ``[B, C, F, N]``: mean ``|flux(estimate) - flux(target)|`` in dB, where ``flux`` ``[B, C, N - lag]``
    is the log-mel rise over ``lag_seconds``, floored at zero and averaged over ``n_mels`` bands."""

    representation: Magnitude
    n_mels: int = 64
    lag_seconds: float = 0.023

    @cached_property
    def lag(self) -> int:
        return max(1, round(self.lag_seconds * self.representation.sample_rate / self.representation.hop_length))

    @cached_property
    def _fbank(self) -> torch.Tensor:
        rep = self.representation
        return torchaudio.functional.melscale_fbanks(rep.n_fft // 2 + 1, 0.0, rep.sample_rate / 2, self.n_mels,
                                                     rep.sample_rate, norm="slaney", mel_scale="slaney")

    def flux(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, F, N]`` compressed magnitudes to the onset envelope ``[B, C, N - lag]`` (dB)."""
        rep = self.representation
        power = (x.clamp_min(0) / rep.scale).pow(2.0 / rep.alpha)
        mel = torch.einsum("bcfn,fm->bcmn", power, self._fbank.to(power))
        db = 10 * mel.clamp_min(1e-10).log10()
        floor = db.detach().flatten(1).amax(1).sub(TOP_DB).reshape(-1, 1, 1, 1)
        db = torch.maximum(db, floor)
        return (db[..., self.lag :] - db[..., : -self.lag]).clamp_min(0).mean(2)

    def __call__(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if estimate.shape[-1] <= self.lag:
            raise ValueError(f"spectral flux needs more than {self.lag} frames, got {estimate.shape[-1]}")
        return (self.flux(estimate) - self.flux(target)).abs().flatten(1).mean(1)
