"""Audio with parts missing as an observation (repair): gaps in time and a missing high band."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from audiodiff.audio import resample
from audiodiff.gaps import dropouts, packet_loss
from audiodiff.observations.base import OBSERVATIONS, AudioObservation, Condition


@OBSERVATIONS.register("masked")
@dataclass(frozen=True)
class MaskedAudio(AudioObservation):
    """Audio with parts missing: gaps in time (lost packets, dropouts) and everything above a band
    edge (telephone-band audio). The output keeps the input's rate.

    A batch's inputs are ``{"audio": [B, 1, T]`` (anything in the gaps), ``"known": [B, 1, T]`` (1
    where the audio is known, 0 in the gaps), ``"band_hz": [B]`` (nothing known above it; 0: the
    full band)``}``. The condition has two channels per audio channel: the encoded audio with the
    gaps zeroed and the bins above the band edge cleared (where sampling starts), and how much of
    each bin and frame is known (each frame's window-weighted share of known samples, times 1 below
    the band edge and 0 above it).

    In training (``degrade``), a clean batch loses, per item: packets (``packet_share``: 10-20 ms
    packets, bursty loss of 5-30%, :func:`~audiodiff.gaps.packet_loss`), one to three dropouts of
    20-500 ms (``dropout_share``, :func:`~audiodiff.gaps.dropouts`), or everything above
    ``band_hz`` (the rest: resampled to twice the band edge and back).
    """

    sample_rate: int = 16_000
    band_hz: float = 4_000.0
    packet_share: float = 0.4
    dropout_share: float = 0.4
    keeps_rate = True

    def degrade(self, wav: torch.Tensor, generator: torch.Generator | None = None) -> dict:
        """Clean ``[B, 1, T]`` -> inputs with a loss drawn per item (from the CPU ``generator``)."""
        b, _, t = wav.shape
        audio, known, band = wav.clone(), torch.ones(b, 1, t, device=wav.device), torch.zeros(b, device=wav.device)
        narrow = int(2 * self.band_hz)
        for i, u in enumerate(torch.rand(b, generator=generator).tolist()):
            if u < self.packet_share:
                known[i, 0] = packet_loss(t, self.sample_rate, generator).to(wav.device)
            elif u < self.packet_share + self.dropout_share:
                known[i, 0] = dropouts(t, self.sample_rate, generator).to(wav.device)
            else:
                down = resample(wav[i], self.sample_rate, narrow)
                audio[i] = resample(down, narrow, self.sample_rate)[..., :t]
                band[i] = self.band_hz
        return {"audio": audio * known, "known": known, "band_hz": band}

    def condition(self, model, inputs: dict, label_dropout: float = 0.0) -> Condition:
        """Inputs -> :class:`Condition` (``cond`` ``[B, 2, F, N]``: masked audio, known share)."""
        rep = model.representation
        audio = inputs["audio"] * inputs["known"]
        encoded = rep.encode(audio)  # [B, 1, F, N]
        frames = self._known_frames(inputs["known"], rep.n_fft, rep.hop_length, encoded.shape[-1])  # [B, 1, N]
        freqs = torch.arange(encoded.shape[-2], device=audio.device) * (self.sample_rate / rep.n_fft)
        band = inputs["band_hz"].to(audio.dtype)[:, None, None]
        bins = ((band <= 0) | (freqs[None, None, :] < band)).to(audio.dtype)  # [B, 1, F]
        start = encoded * bins[..., None]
        known = frames[:, :, None, :] * bins[..., None]
        keep = inputs["known"] * (band <= 0).to(audio.dtype)  # a missing band: no sample is whole
        return Condition(torch.cat([start, known], dim=1), start, audio, keep)

    @staticmethod
    def _known_frames(known: torch.Tensor, n_fft: int, hop: int, frames: int) -> torch.Tensor:
        """``[B, 1, T]`` -> ``[B, 1, frames]``: each centred STFT frame's Hann-weighted known share."""
        window = torch.hann_window(n_fft, periodic=True, dtype=known.dtype, device=known.device)
        padded = torch.nn.functional.pad(known, (n_fft // 2, n_fft // 2), value=1.0)  # beyond the ends: known
        share = torch.nn.functional.conv1d(padded, (window / window.sum()).view(1, 1, -1), stride=hop)
        return share[..., :frames]
