"""Audio input/output, resampling and chunking.

Waveforms are float32 tensors shaped ``[C, T]`` (one file) or ``[B, C, T]`` (a batch), in [-1, 1].
Every problem with an input file raises :class:`AudioError` naming the file and the problem.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as taF

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".mp3")
MAX_CHANNELS = 64
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000


class AudioError(ValueError):
    """A file that cannot be used as audio: the message names the file and the problem."""


def _fail(path, problem: str) -> AudioError:
    return AudioError(f"{path}: {problem}")


def _header_frames(path: Path, info) -> int | None:
    """Frames a WAV header promises (data chunk size / frame size), or None for other formats."""
    if info.format not in ("WAV", "WAVEX"):
        return None
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return None
            cid, size = chunk[:4], int.from_bytes(chunk[4:], "little")
            if cid == b"fmt ":
                fmt = f.read(size)
                block_align = int.from_bytes(fmt[12:14], "little")
                f.seek(size % 2, os.SEEK_CUR)
            elif cid == b"data":
                return size // block_align if block_align else None
            else:
                f.seek(size + size % 2, os.SEEK_CUR)


def load_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    channels: int | None = None,
) -> tuple[torch.Tensor, int]:
    """Load an audio file as float32.

    Args:
        path: WAV, FLAC, OGG/Vorbis or any other format libsndfile reads.
        sample_rate: resample to this rate; None keeps the file's rate.
        channels: None keeps the file's channels; 1 mixes down to mono; 2 makes stereo (mono is
            duplicated). Other conversions raise AudioError.

    Returns:
        ``(wav, sample_rate)`` with ``wav`` shaped ``[C, T]``.

    Raises:
        AudioError: missing file, not audio, truncated, empty, NaN/Inf samples, unsupported
            channel layout or sample rate.
    """
    path = Path(path)
    if not path.exists():
        raise _fail(path, "no such file")
    if path.is_dir():
        raise _fail(path, "is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise _fail(path, "empty file (0 bytes)")
    try:
        info = sf.info(str(path))
    except Exception as err:  # libsndfile's own words explain the problem
        raise _fail(path, f"not an audio file (libsndfile: {err})") from None
    if info.frames <= 0:
        raise _fail(path, "zero-length audio (no samples)")
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise _fail(path, f"unsupported channel layout: {info.channels} channels (at most {MAX_CHANNELS})")
    if not MIN_SAMPLE_RATE <= info.samplerate <= MAX_SAMPLE_RATE:
        raise _fail(
            path,
            f"unsupported sample rate {info.samplerate} Hz (expected {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)",
        )
    promised = _header_frames(path, info)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:
        raise _fail(path, f"truncated or corrupt audio (libsndfile: {err})") from None
    if promised is not None and data.shape[0] < promised:
        raise _fail(path, f"truncated: header promises {promised} frames, file holds {data.shape[0]}")
    if data.shape[0] == 0:
        raise _fail(path, "zero-length audio (no samples)")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).sum())
        raise _fail(path, f"{bad} NaN/Inf samples")
    wav = torch.from_numpy(np.ascontiguousarray(data.T))
    try:
        wav = convert_channels(wav, channels)
    except AudioError as err:
        raise _fail(path, str(err)) from None
    if sample_rate is not None and sample_rate != rate:
        wav, rate = resample(wav, rate, sample_rate), sample_rate
    return wav, rate


def convert_channels(wav: torch.Tensor, channels: int | None) -> torch.Tensor:
    """Keep (None), mix down to mono (1) or make stereo (2) a ``[C, T]`` waveform."""
    count = wav.shape[-2]
    if channels is None or channels == count:
        return wav
    if channels == 1:
        return wav.mean(dim=-2, keepdim=True)
    if channels == 2 and count == 1:
        return wav.expand(*wav.shape[:-2], 2, wav.shape[-1]).clone()
    raise AudioError(f"unsupported channel layout: cannot turn {count} channels into {channels}")


def save_audio(
    path: str | os.PathLike, wav: torch.Tensor, sample_rate: int, subtype: str | None = None
) -> Path:
    """Write ``wav`` ``[C, T]`` atomically: a temporary file in the same folder, then a rename.

    A crash or a kill mid-write never leaves a half-written file at ``path``. Samples are clipped
    to [-1, 1]. The format follows the extension (``.wav``, ``.flac``, ``.ogg``).
    """
    path = Path(path)
    wav = torch.as_tensor(wav).detach().float().cpu()
    if wav.ndim == 1:
        wav = wav[None]
    if wav.ndim != 2:
        raise AudioError(f"{path}: expected a [C, T] waveform, got shape {tuple(wav.shape)}")
    if not torch.isfinite(wav).all():
        raise AudioError(f"{path}: refusing to write NaN/Inf samples")
    path.parent.mkdir(parents=True, exist_ok=True)
    # os.open with 0o666 lets the umask apply (mkstemp would leave the output owner-only, 0600)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.part"
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        kind = {".flac": "FLAC", ".ogg": "OGG", ".oga": "OGG"}.get(path.suffix.lower(), "WAV")
        sf.write(tmp, wav.clamp(-1, 1).T.numpy(), sample_rate, subtype=subtype, format=kind)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


RESAMPLING = {"resampling_method": "sinc_interp_kaiser", "lowpass_filter_width": 64,
              "rolloff": 0.9475937167399596, "beta": 14.769656459379492}
"""A sharp Kaiser-windowed sinc (64 zero crossings each side, pass band to 94.8% of the lower Nyquist
frequency, beta 14.77: the parameters of resampy's ``kaiser_best``): over 85 dB of rejection above
the lower band edge, so neither images (up) nor aliases (down) are heard. torchaudio's default
(Hann window, 6 zero crossings, roll-off 0.99) leaves them at -15 to -21 dB."""


def resample(wav: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Band-limited resampling along the last axis of ``[..., T]`` (torchaudio, :data:`RESAMPLING`)."""
    if orig_rate == new_rate:
        return wav
    g = math.gcd(int(orig_rate), int(new_rate))
    return taF.resample(wav, int(orig_rate) // g, int(new_rate) // g, **RESAMPLING)


def chunk_starts(length: int, chunk: int, hop: int) -> list[int]:
    """Start offsets of windows of ``chunk`` samples every ``hop`` samples covering ``length``."""
    if length <= chunk:
        return [0]
    count = math.ceil((length - chunk) / hop) + 1
    return [min(i * hop, length - chunk) for i in range(count)]


def crossfade_window(size: int, overlap: int, dtype=torch.float32, device=None) -> torch.Tensor:
    """``[size]`` weights: raised-cosine ramps over the first and last ``overlap`` samples, 1 between."""
    fade = torch.ones(size, dtype=dtype, device=device)
    if overlap > 0:
        ramp = 0.5 - 0.5 * torch.cos(torch.linspace(0, math.pi, overlap + 2, dtype=dtype, device=device))[1:-1]
        fade[:overlap], fade[-overlap:] = ramp, ramp.flip(0)
    return fade


class OverlapAdd:
    """Chunks cross-faded back into one signal: ``add`` each chunk ``[C, size]`` at its start with
    raised-cosine ramps over ``overlap`` samples at each end; ``result`` divides by the summed ramps.

    Args:
        channels, total: the buffer, ``[channels, total]`` (at least the last start plus its chunk).
    """

    def __init__(self, channels: int, total: int):
        self.out, self.weight = torch.zeros(channels, total), torch.zeros(channels, total)

    def add(self, start: int, piece: torch.Tensor, overlap: int, channels: slice | int = slice(None)) -> None:
        """Add ``piece`` ``[C, size]`` (or ``[size]`` for one channel) at ``start`` on ``channels``."""
        size = piece.shape[-1]
        fade = crossfade_window(size, overlap)
        self.out[channels, start : start + size] += piece * fade
        self.weight[channels, start : start + size] += fade

    def result(self, length: int) -> torch.Tensor:
        """The first ``length`` samples ``[C, length]``, in place: the buffer is spent."""
        out = self.out[:, :length].div_(self.weight[:, :length].clamp_min_(1e-8))
        self.weight = None
        return out


def level_gain(wav: torch.Tensor, target_rms: float = 0.1, floor: float = 1e-4) -> torch.Tensor:
    """Gain that brings ``wav`` ``[..., C, T]`` to ``target_rms`` (per item; silence is left alone)."""
    rms = wav.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt()
    return target_rms / rms.clamp_min(floor)
