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
        guide: ``[B, 1, T]``: the observed waveform, whose phase a phaseless representation takes
            (None: no waveform is observed, e.g. text).
        keep: ``[B, 1, T]``: the guide's samples the decoded waveform keeps (repair: the known
            ones, so that a phaseless decoder joins them without a jump); None: none.
    """

    cond: object
    start: torch.Tensor
    guide: torch.Tensor | None
    keep: torch.Tensor | None = None


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


def class_labels(model, inputs: dict, count: int, device, given: dict | None = None,
                 label_dropout: float = 0.0) -> dict[str, torch.Tensor]:
    """Labels ``[count]`` for the model's class heads: ``given`` ones, and those of heads with names
    looked up from ``inputs`` (the null token for a missing or unknown name), each dropped to the
    null token at ``label_dropout`` on its own (classifier-free guidance)."""
    from audiodiff.nn.heads import ClassHead

    labels = dict(given or {}) | model.denoiser.head.named_labels(inputs, count)
    labels = {key: value.to(device) for key, value in labels.items()}
    if label_dropout:
        labels = {key: torch.where(torch.rand(v.shape, device=v.device) < label_dropout,
                                   torch.full_like(v, ClassHead.NULL), v) for key, v in labels.items()}
    return labels
