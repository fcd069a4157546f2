"""Text as an observation (text to speech): espeak-ng's reading of it, and the voice to speak in."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from audiodiff.observations.base import OBSERVATIONS, Condition, class_labels


@OBSERVATIONS.register("spoken")
@dataclass(frozen=True)
class SpokenSketch:
    """Text read by a rule-based engine, to be spoken in a recorded voice. The model is given
    espeak-ng's reading of the text as a log-mel (the model's representation), a frame per frame to
    generate: in training aligned to the recording (:func:`~audiodiff.data.prompts.align`), in
    inference as espeak-ng spoke it, stretched to the voice's pace; and the voice, a class label
    (the head ``voice``; dropped to the null token at ``label_dropout``). Sampling starts from the
    reading. Outputs are log-mels for a vocoder, at the model's rate.

    A batch's inputs are ``{"sketch": [B, 1, n_mels, N], "voice": [B names]}``.

    Args:
        paces: per voice, how much longer the voice speaks a text than espeak-ng reads it (the
            median over its training prompts; 1 for a voice not listed).
    """

    sample_rate: int = 16_000
    paces: dict = field(default_factory=dict)
    keeps_rate = False

    def inputs(self, sketch: torch.Tensor, voice: str) -> dict:
        """One item's inputs from espeak-ng's log-mel ``[n_mels, N]`` and a voice name."""
        return {"sketch": sketch[None], "voice": voice}

    def degrade(self, inputs: dict, generator: torch.Generator | None = None) -> dict:
        """Training inputs are what inference gives."""
        return inputs

    def condition(self, model, inputs: dict, label_dropout: float = 0.0) -> Condition:
        """Inputs -> :class:`Condition`: the reading (also where sampling starts) and the voice label."""
        sketch = inputs["sketch"]
        labels = class_labels(model, inputs, sketch.shape[0], sketch.device, label_dropout=label_dropout)
        return Condition({"sketch": sketch, **labels}, sketch, None)
