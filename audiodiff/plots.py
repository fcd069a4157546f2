"""Spectrogram figures (matplotlib, imported lazily): noisy vs enhanced and the like."""

from __future__ import annotations

import torch


def spectrogram_figure(signals: dict[str, torch.Tensor], sample_rate: int, n_fft: int = 512):
    """One row per named ``[T]`` waveform: log-power spectrograms on a shared colour scale (dB)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(signals), 1, figsize=(8, 2.2 * len(signals)), sharex=True, squeeze=False)
    window = torch.hann_window(n_fft)
    for ax, (name, wav) in zip(axes[:, 0], signals.items()):
        spec = torch.stft(wav.float().cpu().reshape(-1), n_fft, n_fft // 4, window=window, return_complex=True)
        db = 10 * torch.log10(spec.abs().pow(2).clamp_min(1e-10))
        seconds = wav.shape[-1] / sample_rate
        ax.imshow(db.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=db.max().item(),
                  extent=(0, seconds, 0, sample_rate / 2000))
        ax.set_ylabel(f"{name}\nkHz")
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    return fig


def save_spectrograms(path, signals: dict[str, torch.Tensor], sample_rate: int) -> None:
    """Write :func:`spectrogram_figure` to a PNG file."""
    import matplotlib.pyplot as plt

    fig = spectrogram_figure(signals, sample_rate)
    fig.savefig(path, dpi=100)
    plt.close(fig)
