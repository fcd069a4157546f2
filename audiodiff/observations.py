"""What a conditional model is given, made from what the user has: the noisy recording itself
(enhancement), its telephone-band version (bandwidth extension), a rough waveform rebuilt from a
mel spectrogram (vocoder), or MIDI notes (music synthesis: their sketch, piano roll and instrument).
The same object turns training batches into conditions, so a model is trained on exactly what
inference gives it: this is the one path from an input to the denoiser.

Every observation has
    ``degrade(inputs, generator=None)``: training: a batch as the dataset gives it -> as inference
        gives it (clean audio -> narrowband or mel-inverted audio; a noisy mixture stays itself);
    ``condition(model, inputs, label_dropout=0) -> Condition``: training and inference: a batch of
        inputs -> what the denoiser is given, where sampling starts, and the waveform whose phase
        a phaseless representation takes (class labels looked up, and dropped to the null token
        at ``label_dropout`` for classifier-free guidance);
    ``keeps_rate``: outputs are written at the input's rate (enhancement) or at the model's.
Audio observations also have ``observe(audio [C, T], rate) -> [C, T']`` (the user's recording at
the model's rate); the notes observation has ``inputs(notes, ...)`` (one chunk's notes -> inputs).
A model config names it under ``"observation"`` (default: ``{"name": "noisy"}``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
import torchaudio.functional as taF

from audiodiff.audio import OverlapAdd, resample
from audiodiff.notes import harmonic_sketch, piano_roll
from audiodiff.registry import Registry
from audiodiff.nn.heads import ClassHead
from audiodiff.representations import Mel, griffin_lim

OBSERVATIONS = Registry("observation")


@dataclass
class Condition:
    """What the denoiser is given for a batch of ``B`` items.

    Attributes:
        cond: the head's input: the encoded observation ``[B, C, F, N]``, or for a composite head
            the dict of its parts' inputs.
        start: ``[B, C, F, N]``, shaped like the model's output: the encoded observation, where
            sampling starts when the model's ``sampling.start`` is ``observation``.
        guide: ``[B, 1, T]``: the observed waveform, whose phase a phaseless representation takes.
    """

    cond: object
    start: torch.Tensor
    guide: torch.Tensor


class AudioObservation:
    """An observation that is a waveform at the model's rate: the encoded waveform is the condition,
    the start of sampling and the phase guide."""

    keeps_rate = False

    def observe(self, audio: torch.Tensor, rate: int) -> torch.Tensor:
        """``[C, T]`` at ``rate`` -> ``[C, T']`` at the model's rate."""
        return resample(audio, rate, self.sample_rate)

    def degrade(self, wav: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``[B, C, T]`` -> ``[B, C, T]``: a noisy mixture is its own observation."""
        return wav

    def condition(self, model, inputs: torch.Tensor, label_dropout: float = 0.0) -> Condition:
        """``[B, 1, T]`` -> :class:`Condition` (the encoded waveform)."""
        encoded = model.representation.encode(inputs)
        return Condition(encoded, encoded, inputs)


@OBSERVATIONS.register("noisy")
@dataclass(frozen=True)
class NoisyRecording(AudioObservation):
    """The recording itself, resampled to the model's rate; the output keeps the input's rate."""

    sample_rate: int = 16_000
    keeps_rate = True


@OBSERVATIONS.register("notes")
@dataclass(frozen=True)
class NotesSketch:
    """MIDI notes (music synthesis). A chunk's inputs (:meth:`inputs`, made alike by the aligned
    dataset in training and by :class:`~audiodiff.pipelines.synth.MusicSynth`) are its harmonic
    sketch of ``harmonics`` partials a note, its piano roll (a frame per ``hop_length``: the
    representation's), the instrument family and the program and sound bank names; the
    condition is the encoded sketch (where sampling starts), the roll and the class labels. A
    music-midi config without this observation has the first release's four partials. Outputs
    are written at the model's rate."""

    sample_rate: int = 22_050
    harmonics: int = 4
    hop_length: int = 128
    keeps_rate = False

    def inputs(self, notes: np.ndarray, length: int, family: int, program: str = "", bank: str = "") -> dict:
        """What the model is given for ``length`` samples from time 0 of ``notes`` ``[N, 4]`` (start
        s, end s, pitch, velocity; :func:`~audiodiff.notes.window_notes` shifts a chunk's to 0):
        ``{"sketch": [1, length], "notes": [4, 128, length // hop_length + 1] piano roll,
        "instrument": family (0-dim long), "program": GM name or "", "bank": sound bank or ""}``."""
        return {"sketch": harmonic_sketch(notes, self.sample_rate, length, self.harmonics)[None],
                "notes": piano_roll(notes, length // self.hop_length + 1, self.sample_rate / self.hop_length),
                "instrument": torch.tensor(family), "program": program, "bank": bank}

    def degrade(self, inputs: dict, generator: torch.Generator | None = None) -> dict:
        """Training inputs are what inference gives."""
        return inputs

    def condition(self, model, inputs: dict, label_dropout: float = 0.0) -> Condition:
        """A batch of :meth:`inputs` (tensors stacked, names listed) -> :class:`Condition`: the
        encoded sketch, the roll, and a label per class head (``instrument``; ``program`` and
        ``bank`` by name, the null token for names the head does not know), each dropped to the
        null token at ``label_dropout`` on its own."""
        sketch = model.representation.encode(inputs["sketch"])
        labels = {"instrument": inputs["instrument"]}
        labels |= model.denoiser.head.named_labels(inputs, len(inputs["instrument"]))
        labels = {key: value.to(sketch.device) for key, value in labels.items()}
        if label_dropout:
            labels = {key: torch.where(torch.rand(v.shape, device=v.device) < label_dropout,
                                       torch.full_like(v, ClassHead.NULL), v) for key, v in labels.items()}
        return Condition({"sketch": sketch, "notes": inputs["notes"], **labels}, sketch, inputs["sketch"])


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

