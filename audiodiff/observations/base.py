"""The observation interface: :class:`Condition`, what every audio observation shares, and the
registry model configs name observations from (see :mod:`audiodiff.observations`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from audiodiff.audio import resample
from audiodiff.registry import Registry

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
