"""Quality metrics for enhancement: PESQ-WB, ESTOI, SI-SDR (torchmetrics) and log-spectral distance.

All take ``estimate`` and ``reference`` ``[T]`` or ``[B, T]`` waveforms and return floats (means over B).
"""

from __future__ import annotations

import torch
from torchmetrics.functional.audio import (
    perceptual_evaluation_speech_quality,
    scale_invariant_signal_distortion_ratio,
    short_time_objective_intelligibility,
)

from audiodiff.audio import resample


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019)."""
    return scale_invariant_signal_distortion_ratio(estimate, reference, zero_mean=True).mean().item()


def pesq_wb(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2) at 16 kHz (other rates are resampled)."""
    est, ref = resample(estimate, sample_rate, 16_000), resample(reference, sample_rate, 16_000)
    return perceptual_evaluation_speech_quality(est, ref, 16_000, "wb").mean().item()


def estoi(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """Extended STOI (Jensen & Taal 2016)."""
    return short_time_objective_intelligibility(estimate, reference, sample_rate, extended=True).mean().item()


def log_spectral_distance(estimate: torch.Tensor, reference: torch.Tensor, n_fft: int = 1024,
                          band: tuple[int, int] | None = None, sample_rate: int | None = None) -> float:
    """RMS over frequency of the log10 power spectrum difference (dB), averaged over frames.

    ``band=(f_lo, f_hi)`` in Hz (with ``sample_rate``) restricts the bins.
    """
    window = torch.hann_window(n_fft)

    def spec(x):
        s = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, n_fft // 4, window=window, return_complex=True)
        return 10 * torch.log10(s.abs().pow(2).clamp_min(1e-10))

    diff = spec(estimate) - spec(reference)
    if band is not None:
        freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
        diff = diff[:, (freqs >= band[0]) & (freqs < band[1])]
    return diff.pow(2).mean(dim=1).sqrt().mean().item()


def speech_scores(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """``{"pesq": ..., "estoi": ..., "si_sdr": ...}`` for one pair of ``[T]`` waveforms."""
    return {"pesq": pesq_wb(estimate, reference, sample_rate), "estoi": estoi(estimate, reference, sample_rate),
            "si_sdr": si_sdr(estimate, reference)}


def music_scores(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """``{"si_sdr": ..., "lsd": ...}`` for one pair of ``[T]`` waveforms."""
    return {"si_sdr": si_sdr(estimate, reference), "lsd": log_spectral_distance(estimate, reference)}


SCORES = {"speech": speech_scores, "music": music_scores}
