"""What the diffusion model sees: the waveform itself, a compressed complex STFT, or a log-mel.

Every representation is an immutable dataclass with ``encode(wav) -> x`` and
``decode(x, length, guide=None) -> wav``; waveforms are ``[B, C, T]``, spectrograms ``[B, C', F, N]``.
``guide`` (a waveform ``[B, C, length]``, e.g. the model's observation) gives a phaseless
representation the phase to start from; the others ignore it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from functools import cached_property

import torch
import torchaudio

from audiodiff.registry import Registry

REPRESENTATIONS = Registry("representation")


@dataclass(frozen=True)
class Representation(ABC):
    """Base: carries the sample rate; subclasses add their transform settings."""

    sample_rate: int = 16_000

    @abstractmethod
    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """Waveform ``[B, C, T]`` to model space."""

    @abstractmethod
    def decode(self, x: torch.Tensor, length: int, guide: torch.Tensor | None = None,
               keep: torch.Tensor | None = None) -> torch.Tensor:
        """Model space back to a waveform ``[B, C, length]``. A representation without phase takes
        it from ``guide``, keeping the guide's samples where ``keep`` ``[B, C, length]`` is 1 (the
        others have nothing to find, and ignore both)."""

    def config(self) -> dict:
        """``{"name": ..., "args": {...}}``: enough to rebuild this representation."""
        return {"name": REPRESENTATIONS.name_of(type(self)), "args": asdict(self)}


def griffin_lim(magnitude: torch.Tensor, n_fft: int, hop_length: int, length: int, iterations: int,
                momentum: float = 0.99, phase: torch.Tensor | None = None, given: torch.Tensor | None = None,
                keep: torch.Tensor | None = None) -> torch.Tensor:
    """Fast Griffin-Lim (Perraudin et al. 2013): STFT magnitude ``[B, F, N]`` -> waveform ``[B, length]``,
    Hann window of ``n_fft``. The phase starts at ``phase`` (complex ``[B, F, N]``, only its angle is
    used) or at zero; so the result is deterministic, and two pieces started
    from one signal's phase stay coherent where they overlap. ``given`` and ``keep`` (``[B, length]``):
    after every iteration the waveform takes ``given`` where ``keep`` is 1 (known samples: the phase
    the iterations find then joins them without a jump), and bins where ``phase`` is zero (missing
    samples) start at a unit phase."""
    window = torch.hann_window(n_fft, device=magnitude.device, dtype=magnitude.dtype)
    if phase is None:
        angles = torch.complex(torch.ones_like(magnitude), torch.zeros_like(magnitude))
    elif keep is None:
        angles = phase / phase.abs().clamp_min(1e-16)
    else:  # missing samples have no phase to start from: a unit one, so they are not left silent
        size = phase.abs()
        angles = torch.where(size > 1e-12, phase / size.clamp_min(1e-12), torch.ones_like(phase))
    previous = torch.zeros_like(angles)
    for _ in range(iterations):
        wav = torch.istft(magnitude * angles, n_fft, hop_length, window=window, length=length)
        if keep is not None:
            wav = torch.lerp(wav, given, keep)
        rebuilt = torch.stft(wav, n_fft, hop_length, window=window, return_complex=True)
        angles = rebuilt - previous * (momentum / (1 + momentum))
        angles = angles / angles.abs().clamp_min(1e-16)
        previous = rebuilt
    wav = torch.istft(magnitude * angles, n_fft, hop_length, window=window, length=length)
    return wav if keep is None else torch.lerp(wav, given, keep)


def fit_length(wav: torch.Tensor, length: int) -> torch.Tensor:
    """Crop or zero-pad the last axis to ``length``."""
    if wav.shape[-1] >= length:
        return wav[..., :length]
    return torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))


@REPRESENTATIONS.register("waveform")
@dataclass(frozen=True)
class Waveform(Representation):
    """The waveform itself: ``encode`` is the identity on ``[B, C, T]``."""

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, C, T] -> [B, C, T]``."""
        return wav

    def decode(self, x: torch.Tensor, length: int, guide: torch.Tensor | None = None,
               keep: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, C, T'] -> [B, C, length]`` (crop or zero-pad)."""
        return fit_length(x, length)


@REPRESENTATIONS.register("complex_spec")
@dataclass(frozen=True)
class ComplexSpec(Representation):
    """Compressed complex STFT (Welker et al. 2022, "Speech enhancement with score-based models").

    ``y = scale * |X|^alpha * exp(i angle X)``, real and imaginary parts as channels. With the
    defaults (16 kHz, n_fft 510, hop 128) there are 256 frequency bins and 125 frames a second.
    A waveform ``[B, C, T]`` becomes ``[B, 2C, 256, T // hop + 1]`` (channels ``re_0, im_0, re_1, ...``).
    """

    sample_rate: int = 16_000
    n_fft: int = 510
    hop_length: int = 128
    alpha: float = 0.5
    scale: float = 0.15

    @property
    def freq_bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, length: int) -> int:
        """Number of STFT frames for ``length`` samples."""
        return length // self.hop_length + 1

    def _window(self, like: torch.Tensor) -> torch.Tensor:
        return torch.hann_window(self.n_fft, periodic=True, dtype=like.dtype, device=like.device)

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, C, T] -> [B, 2C, F, N]``."""
        b, c, t = wav.shape
        spec = torch.stft(
            wav.reshape(b * c, t), self.n_fft, self.hop_length, window=self._window(wav),
            center=True, pad_mode="constant", return_complex=True,
        )
        mag = spec.abs().clamp_min(1e-12)
        spec = self.scale * mag.pow(self.alpha) * (spec / mag)
        spec = torch.view_as_real(spec).permute(0, 3, 1, 2)  # [B*C, 2, F, N]
        return spec.reshape(b, 2 * c, *spec.shape[-2:])

    def decode(self, x: torch.Tensor, length: int, guide: torch.Tensor | None = None,
               keep: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, 2C, F, N] -> [B, C, length]``."""
        b, c2, f, n = x.shape
        spec = x.reshape(b * c2 // 2, 2, f, n).permute(0, 2, 3, 1).contiguous()
        spec = torch.view_as_complex(spec.float() if spec.dtype == torch.half else spec)
        mag = spec.abs().clamp_min(1e-12)
        spec = (mag / self.scale).pow(1.0 / self.alpha) * (spec / mag)
        wav = torch.istft(
            spec, self.n_fft, self.hop_length, window=self._window(mag), center=True, length=length
        )
        return wav.reshape(b, c2 // 2, length)


@REPRESENTATIONS.register("magnitude")
@dataclass(frozen=True)
class Magnitude(Representation):
    """Compressed STFT magnitude, ``scale * |X|^alpha``: ``[B, C, T] -> [B, C, F, N]`` (256 bins and
    125 frames a second with the defaults). It carries no phase: ``decode`` rebuilds one with
    ``iterations`` of fast Griffin-Lim (zero initial phase, deterministic). For synthesis, where the
    condition fixes the magnitude but not the phase.
    """

    sample_rate: int = 16_000
    n_fft: int = 510
    hop_length: int = 128
    alpha: float = 0.5
    scale: float = 1.0
    iterations: int = 32

    def _window(self, like: torch.Tensor) -> torch.Tensor:
        return torch.hann_window(self.n_fft, periodic=True, dtype=like.dtype, device=like.device)

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, C, T] -> [B, C, F, N]``."""
        b, c, t = wav.shape
        spec = torch.stft(wav.reshape(b * c, t), self.n_fft, self.hop_length, window=self._window(wav),
                          center=True, pad_mode="constant", return_complex=True)
        return (self.scale * spec.abs().pow(self.alpha)).reshape(b, c, *spec.shape[-2:])

    def decode(self, x: torch.Tensor, length: int, guide: torch.Tensor | None = None,
               keep: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, C, F, N] -> [B, C, length]`` through Griffin-Lim, started from the phase of ``guide``
        (a waveform ``[B, C, length]``) when given, else from zero phase; ``keep`` ``[B, C, length]``:
        the guide's samples the waveform keeps (1) as Griffin-Lim runs (repair: the known ones)."""
        b, c, f, n = x.shape
        magnitude = (x.float().clamp_min(0) / self.scale).pow(1.0 / self.alpha).reshape(b * c, f, n)
        phase = given = None
        if guide is not None:
            given = guide.float().reshape(b * c, -1)
            phase = torch.stft(given, self.n_fft, self.hop_length, window=self._window(magnitude),
                               return_complex=True)[..., :n]
        if keep is not None:
            keep = keep.float().reshape(b * c, -1)
        wav = griffin_lim(magnitude, self.n_fft, self.hop_length, length, self.iterations, phase=phase,
                          given=given, keep=keep)
        return wav.reshape(b, c, length)


@REPRESENTATIONS.register("mel")
@dataclass(frozen=True)
class Mel(Representation):
    """Log-mel spectrogram (torchaudio): ``[B, C, T] -> [B, C, n_mels, T // hop + 1]``.

    ``log(clamp(mel, 1e-5))`` of the magnitude (power 1) mel filterbank (Slaney scale and norm,
    as librosa's default). ``decode`` is a Griffin-Lim inversion: a baseline, not a vocoder.
    """

    sample_rate: int = 16_000
    n_fft: int = 1024
    hop_length: int = 256
    n_mels: int = 80
    f_min: float = 0.0
    f_max: float = 8_000.0

    @cached_property
    def _mel(self) -> torchaudio.transforms.MelSpectrogram:
        return torchaudio.transforms.MelSpectrogram(
            self.sample_rate, n_fft=self.n_fft, hop_length=self.hop_length, n_mels=self.n_mels,
            f_min=self.f_min, f_max=self.f_max, power=1.0, norm="slaney", mel_scale="slaney",
        )

    def encode(self, wav: torch.Tensor) -> torch.Tensor:
        """``[B, C, T] -> [B, C, n_mels, N]``."""
        mel = self._mel.to(wav.device)(wav)
        return mel.clamp_min(1e-5).log()

    def decode(self, x: torch.Tensor, length: int, guide: torch.Tensor | None = None,
               keep: torch.Tensor | None = None, n_iter: int = 32) -> torch.Tensor:
        """Griffin-Lim: ``[B, C, n_mels, N] -> [B, C, length]``."""
        b, c, m, n = x.shape
        inverse = torchaudio.transforms.InverseMelScale(
            self.n_fft // 2 + 1, self.n_mels, self.sample_rate, self.f_min, self.f_max,
            norm="slaney", mel_scale="slaney",
        ).to(x.device)
        griffin = torchaudio.transforms.GriffinLim(
            self.n_fft, n_iter=n_iter, hop_length=self.hop_length, power=1.0, length=length
        ).to(x.device)
        mag = inverse(x.exp().reshape(b * c, m, n))
        return griffin(mag).reshape(b, c, length)
