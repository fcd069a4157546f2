"""Spectrogram figures (matplotlib, imported lazily): noisy vs enhanced and the like."""

from __future__ import annotations

import torch


def spectrogram_figure(signals: dict[str, torch.Tensor], sample_rate: int, n_fft: int = 512):
    """One row per named ``[T]`` waveform: log-power spectrograms on one shared colour scale (the
    loudest bin of all down to 80 dB below it), so levels compare across rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(signals), 1, figsize=(8, 2.2 * len(signals)), sharex=True, squeeze=False)
    window = torch.hann_window(n_fft)
    dbs = {name: 10 * torch.log10(torch.stft(wav.float().cpu().reshape(-1), n_fft, n_fft // 4, window=window,
                                             return_complex=True).abs().pow(2).clamp_min(1e-10))
           for name, wav in signals.items()}
    top = max(db.max().item() for db in dbs.values())
    for ax, (name, wav) in zip(axes[:, 0], signals.items()):
        seconds = wav.shape[-1] / sample_rate
        ax.imshow(dbs[name].numpy(), origin="lower", aspect="auto", cmap="magma", vmin=top - 80, vmax=top,
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
