"""The Enhancer: noisy recordings in, enhanced recordings out, any length, many files at once
(chunked and batched by :class:`~audiodiff.pipelines.recordings.RecordingPipeline`)."""

from __future__ import annotations

import math

import torch

from audiodiff.model import DiffusionModel
from audiodiff.observations import NoisyRecording
from audiodiff.pipelines.recordings import RecordingPipeline


def input_share(limit_db: float | None) -> float:
    """The share of the input mixed back into the output so that nothing is attenuated by more than
    ``limit_db`` decibels: ``10 ** (-limit_db / 20)``; ``None`` or ``inf`` is no limit (0)."""
    if limit_db is None or math.isinf(limit_db):
        return 0.0
    if not limit_db >= 0:
        raise ValueError(f"attenuation limit must be >= 0 dB (inf: no limit), got {limit_db}")
    return 10 ** (-limit_db / 20)


class Enhancer(RecordingPipeline):
    """Enhance recordings with a conditional diffusion model.

    Args: as :class:`~audiodiff.pipelines.recordings.RecordingPipeline`, and
        attenuation_limit_db: remove at most this many dB: the output is
            ``(1 - a) * enhanced + a * input`` with ``a = 10 ** (-limit / 20)``, which keeps a floor of
            the input under spectral holes (default: the checkpoint's ``sampling.attenuation_limit_db``,
            else none; ``float("inf")``: none).

    Example:
        >>> enhancer = Enhancer("speech-enhance")
        >>> clean = enhancer(noisy, 16_000, steps=4, seed=0)   # noisy: [C, T] or [T]
    """

    def __init__(self, model: DiffusionModel | str = "speech-enhance", device: str = "auto",
                 steps: int | None = None, solver: str | None = None, chunk_seconds: float = 4.0,
                 overlap_seconds: float = 0.5, batch_size: int = 8, quantum_seconds: float = 0.5,
                 attenuation_limit_db: float | None = None):
        super().__init__(model, device, steps, solver, chunk_seconds, overlap_seconds, batch_size, quantum_seconds)
        if not isinstance(self.model.observation, NoisyRecording):
            raise ValueError(f"Enhancer needs an enhancement model, not {self.model.config.get('task')!r}")
        if attenuation_limit_db is None:
            attenuation_limit_db = self.model.config["sampling"].get("attenuation_limit_db")
        self.runner.input_share = input_share(attenuation_limit_db)

    @property
    def input_share(self) -> float:
        return self.runner.input_share

    def __call__(self, audio: torch.Tensor, sample_rate: int, steps: int | None = None, seed: int = 0) -> torch.Tensor:
        """Enhance one recording ``[C, T]`` (or ``[T]``) at ``sample_rate``; returns the same shape and rate."""
        squeeze = audio.ndim == 1
        audio = audio[None] if squeeze else audio
        ((_, out),) = list(self.run_many([(0, audio, sample_rate)], steps=steps, seed=seed))
        return out[0] if squeeze else out
