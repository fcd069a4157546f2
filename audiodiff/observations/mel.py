"""A mel spectrogram as an observation (vocoders): the rough waveform rebuilt from it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
import torchaudio.functional as taF

from audiodiff.audio import OverlapAdd, resample
from audiodiff.observations.base import OBSERVATIONS, AudioObservation
from audiodiff.representations import Mel, griffin_lim


@OBSERVATIONS.register("mel_inversion")
@dataclass(frozen=True)
class MelInversion(AudioObservation):
    """A rough waveform rebuilt from a log-mel spectrogram (the :class:`~audiodiff.representations.Mel`
    settings below): magnitudes through the pseudo-inverse of the mel filterbank, phases from
    ``iterations`` of fast Griffin-Lim (zero initial phase, so it is deterministic). The model then
    turns this rough waveform into speech; outputs are written at the model's rate.

    A mel given directly (``observe_mel``) is ``[C, n_mels, N]`` or ``[n_mels, N]``, natural log of
    the magnitude mel spectrogram (``Mel.encode``), ``N = T // hop_length + 1`` frames.
    Long input is inverted in blocks of ``block_seconds``, cross-faded over a second (a quarter
    block at most).

    ``match_passes``: the vocoder's output is brought back to the mel it was given (``match``) in
    that many passes; 0 leaves it as the model made it.
    """

    sample_rate: int = 16_000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8_000.0
    iterations: int = 16
    block_seconds: float = 30.0
    match_passes: int = 0

    @cached_property
    def mel(self) -> Mel:
        return Mel(self.sample_rate, self.n_fft, self.hop_length, self.n_mels, self.f_min, self.f_max)

    @cached_property
    def _filterbank(self) -> torch.Tensor:
        """``[n_fft // 2 + 1, n_mels]``: the mel filterbank of :attr:`mel` (STFT bins -> bands)."""
        return taF.melscale_fbanks(self.n_fft // 2 + 1, self.f_min, self.f_max, self.n_mels, self.sample_rate,
                                   norm="slaney", mel_scale="slaney")

    @cached_property
    def _inverse_filterbank(self) -> torch.Tensor:
        """``[n_fft // 2 + 1, n_mels]``: least-squares map from mel bands back to STFT bins."""
        return torch.linalg.pinv(self._filterbank.T.double()).float()

    def observe(self, audio: torch.Tensor, rate: int) -> torch.Tensor:
        """Audio ``[C, T]`` at ``rate`` -> its mel -> the rough waveform ``[C, T']`` at the model's rate."""
        wav = resample(audio, rate, self.sample_rate)
        return self.observe_mel(self.mel.encode(wav[None])[0], wav.shape[-1])

    def observe_mel(self, mel: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """Log-mel ``[C, n_mels, N]`` (or ``[n_mels, N]``) -> rough waveform ``[C, length]``
        (default length ``(N - 1) * hop_length``)."""
        mel = torch.as_tensor(mel, dtype=torch.float32)
        mel = mel[None] if mel.ndim == 2 else mel
        if mel.ndim != 3 or mel.shape[1] != self.n_mels:
            raise ValueError(f"expected a log-mel [C, {self.n_mels}, frames], got shape {tuple(mel.shape)}")
        if not torch.isfinite(mel).all():
            raise ValueError("the mel spectrogram holds NaN or Inf values")
        length = length if length is not None else (mel.shape[-1] - 1) * self.hop_length
        block = max(2, int(self.block_seconds * self.sample_rate / self.hop_length))
        if mel.shape[-1] <= block:
            return self._invert(mel, length)
        overlap = max(1, min(int(self.sample_rate / self.hop_length), block // 4))  # up to a second of frames
        joined = OverlapAdd(mel.shape[0], length)
        for start in range(0, mel.shape[-1] - overlap, block - overlap):
            frames = mel[..., start : start + block]
            s = start * self.hop_length
            last = start + block >= mel.shape[-1]
            size = length - s if last else min((frames.shape[-1] - 1) * self.hop_length, length - s)
            if size <= 0:
                break
            joined.add(s, self._invert(frames, size), min(overlap * self.hop_length, size // 2))
        return joined.result(length)

    def match(self, wav: torch.Tensor, mel: torch.Tensor, passes: int | None = None) -> torch.Tensor:
        """Make ``wav`` ``[C, T]`` agree with the log-mel ``mel`` ``[C, n_mels, N]`` it was made from: its
        STFT (this mel's settings) is scaled, per mel band and frame, by the ratio of the given mel to
        its own (within e^-2..e^2), the gain spread over each bin's bands, and the phase kept;
        ``passes`` times (default ``match_passes``). Frame-local, so long input runs in blocks of
        ``block_seconds`` with margins and no seams."""
        passes = self.match_passes if passes is None else passes
        if passes <= 0:
            return wav
        hop = self.hop_length
        block = max(1, int(self.block_seconds * self.sample_rate) // hop) * hop
        margin = -(-passes * self.n_fft // hop) * hop + hop
        out = torch.empty_like(wav)
        for start in range(0, wav.shape[-1], block):
            lo, hi = max(0, start - margin), min(wav.shape[-1], start + block + margin)
            piece = self._match_block(wav[:, lo:hi], mel[..., lo // hop : hi // hop + 1], passes)
            out[:, start : start + block] = piece[:, start - lo : start - lo + block]
        return out

    def _match_block(self, wav: torch.Tensor, mel: torch.Tensor, passes: int) -> torch.Tensor:
        fb = self._filterbank.to(wav)  # [freqs, mels]
        spread = fb / fb.sum(1, keepdim=True).clamp_min(1e-8)  # each bin's share of its bands
        window = torch.hann_window(self.n_fft, device=wav.device)
        for _ in range(passes):
            spec = torch.stft(wav, self.n_fft, self.hop_length, window=window, return_complex=True)  # [C, F, N]
            frames = min(spec.shape[-1], mel.shape[-1])
            own = (fb.T @ spec.abs()).clamp_min(1e-5).log()  # [C, mels, N]
            gain = torch.ones(spec.shape[0], fb.shape[1], spec.shape[-1], device=wav.device)
            gain[..., :frames] = (mel[..., :frames] - own[..., :frames]).clamp(-2.0, 2.0).exp()
            wav = torch.istft(spec * (spread @ gain), self.n_fft, self.hop_length, window=window,
                              length=wav.shape[-1])
        return wav

    def _invert(self, mel: torch.Tensor, length: int) -> torch.Tensor:
        magnitude = (self._inverse_filterbank.to(mel) @ mel.exp()).clamp_min(0)  # [C, freqs, N]
        return griffin_lim(magnitude, self.n_fft, self.hop_length, length, self.iterations)

    def degrade(self, wav: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[B, C, T]`` -> the rough waveform rebuilt from its mel, ``[B, C, T]`` (deterministic)."""
        b, c, t = wav.shape
        mel = self.mel.encode(wav).reshape(b * c, self.n_mels, -1)
        return self._invert(mel, t).reshape(b, c, t)
