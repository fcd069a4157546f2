"""MIDI notes as an observation (music synthesis)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from audiodiff.notes import harmonic_sketch, piano_roll
from audiodiff.observations.base import OBSERVATIONS, Condition, class_labels


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
        labels = class_labels(model, inputs, len(inputs["instrument"]), sketch.device,
                              {"instrument": inputs["instrument"]}, label_dropout)
        return Condition({"sketch": sketch, "notes": inputs["notes"], **labels}, sketch, inputs["sketch"])
