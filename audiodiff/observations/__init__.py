"""What a conditional model is given, made from what the user has: the noisy recording itself
(enhancement), a rough waveform rebuilt from a mel spectrogram (vocoder), MIDI notes (music
synthesis: their sketch, piano roll and instrument), a recording with parts missing and where they
are (repair: gaps in time, and a missing high band, i.e. bandwidth extension), or text as espeak-ng
reads it and a voice to speak it in (text to speech).
The same object turns training batches into conditions, so a model is trained on exactly what
inference gives it: this is the one path from an input to the denoiser.

Every observation has
    ``degrade(inputs, generator=None)``: training: a batch as the dataset gives it -> as inference
        gives it (clean audio -> mel-inverted audio or audio with parts missing; a noisy mixture
        stays itself);
    ``condition(model, inputs, label_dropout=0) -> Condition``: training and inference: a batch of
        inputs -> what the denoiser is given, where sampling starts, and the waveform whose phase
        a phaseless representation takes (class labels looked up, and dropped to the null token
        at ``label_dropout`` for classifier-free guidance);
    ``keeps_rate``: outputs are written at the input's rate (enhancement) or at the model's.
Audio observations also have ``observe(audio [C, T], rate) -> [C, T']`` (the user's recording at
the model's rate); the notes observation has ``inputs(notes, ...)`` (one chunk's notes -> inputs).
A model config names it under ``"observation"`` (default: ``{"name": "noisy"}``).
"""

from audiodiff.observations.base import OBSERVATIONS, AudioObservation, Condition
from audiodiff.observations.masked import MaskedAudio
from audiodiff.observations.mel import MelInversion
from audiodiff.observations.notes import NotesSketch
from audiodiff.observations.recordings import NoisyRecording
from audiodiff.observations.spoken import SpokenSketch

__all__ = ["OBSERVATIONS", "AudioObservation", "Condition", "MaskedAudio", "MelInversion", "NoisyRecording",
           "NotesSketch", "SpokenSketch"]
