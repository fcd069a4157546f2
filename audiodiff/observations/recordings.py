"""Recordings as observations: the recording itself (enhancement)."""

from __future__ import annotations

from dataclasses import dataclass

from audiodiff.observations.base import OBSERVATIONS, AudioObservation


@OBSERVATIONS.register("noisy")
@dataclass(frozen=True)
class NoisyRecording(AudioObservation):
    """The recording itself, resampled to the model's rate; the output keeps the input's rate."""

    sample_rate: int = 16_000
    keeps_rate = True
