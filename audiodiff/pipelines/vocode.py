"""The Vocoder: speech from mel spectrograms, or from recordings through their mel.

A vocoder model's observation is :class:`~audiodiff.observations.MelInversion`: the mel becomes a
rough waveform (pseudo-inverse filterbank + a few Griffin-Lim iterations) that the diffusion model
turns into speech, chunk by chunk and batched across files like the Enhancer's recordings
(:class:`~audiodiff.pipelines.recordings.RecordingPipeline`: chunks cross-faded, so there is no seam).
Outputs are at the model's sample rate. (Bandwidth extension is repair in frequency:
:class:`~audiodiff.pipelines.repair.Repairer`.)
"""

from __future__ import annotations

import torch

from audiodiff.audio import resample
from audiodiff.model import DiffusionModel
from audiodiff.observations import MelInversion
from audiodiff.pipelines.recordings import RecordingPipeline


class Vocoder(RecordingPipeline):
    """Synthesise speech from log-mel spectrograms or re-synthesise recordings.

    Args: as :class:`~audiodiff.pipelines.recordings.RecordingPipeline` (default model
    ``speech-vocoder``; a model whose observation is not ``mel_inversion`` is refused). ``run_many``
    takes ``(key, mel or audio, sample_rate)`` items, with ``sample_rate`` None for a mel.

    Example:
        >>> vocoder = Vocoder("speech-vocoder")
        >>> wav = vocoder(mel)                  # mel: [n_mels, frames] or [C, n_mels, frames]
        >>> wav = vocoder(audio, 22_050)        # a recording: re-synthesised through its mel
        >>> vocoder.mel_of(audio, 22_050)       # the mel this model expects: [C, n_mels, frames]
    """

    def __init__(self, model: DiffusionModel | str = "speech-vocoder", **kwargs):
        super().__init__(model, **kwargs)
        if not isinstance(self.model.observation, MelInversion):
            task = self.model.config.get("task")
            hint = " (bandwidth extension is repair: Repairer)" if str(task).endswith("-repair") else ""
            raise ValueError(f"Vocoder needs a mel vocoder model (observation mel_inversion), not {task!r}{hint}")

    def mel_of(self, audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """The model's log-mel of ``audio`` ``[C, T]``: ``[C, n_mels, frames]``."""
        return self._mel_and_length(audio, sample_rate)[0]

    def _mel_and_length(self, audio: torch.Tensor, sample_rate: int) -> tuple[torch.Tensor, int]:
        """``[C, T]`` at ``sample_rate`` -> its log-mel ``[C, n_mels, N]`` and its length at the model's rate."""
        wav = resample(torch.as_tensor(audio, dtype=torch.float32), sample_rate, self.sample_rate)
        return self.model.observation.mel.encode(wav[None])[0], wav.shape[-1]

    def __call__(self, audio_or_mel: torch.Tensor, sample_rate: int | None = None, steps: int | None = None,
                 seed: int = 0) -> torch.Tensor:
        """A mel (``sample_rate`` None) or a recording ``[C, T]`` / ``[T]`` -> ``[C, T']`` at the model's rate."""
        x = torch.as_tensor(audio_or_mel, dtype=torch.float32)
        if sample_rate is not None and x.ndim == 1:
            x = x[None]
        ((_, out),) = list(self.run_many([(0, x, sample_rate)], steps=steps, seed=seed))
        return out

    def _observe(self, key, audio, rate: int | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The rough waveform ``[C, T']`` and, when the model matches its output to it, the mel."""
        length = None
        if rate is not None:  # a recording: through its mel
            audio = torch.as_tensor(audio, dtype=torch.float32)
            if audio.ndim != 2:
                raise ValueError(f"{key}: expected audio [C, T], got shape {tuple(audio.shape)}")
            audio, length = self._mel_and_length(audio, rate)
        try:
            observed = self.model.observation.observe_mel(audio, length)
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from None
        if not self.model.observation.match_passes:
            return observed, None
        mel = torch.as_tensor(audio, dtype=torch.float32)
        return observed, (mel if mel.ndim == 3 else mel[None])  # [C, n_mels, N], as observe_mel took it

    def _finish(self, signal, out: torch.Tensor) -> torch.Tensor:
        out, mel = super()._finish(signal, out), signal.context.kept
        return out if mel is None else self.model.observation.match(out, mel).clamp_(-1, 1)
