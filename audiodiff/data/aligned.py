"""Aligned audio + MIDI for music synthesis: every audio file beside a MIDI file of the same name
(``.mid`` or ``.midi``): the corpus's solo tracks (``train/tracks``) or a real corpus laid out the
same way (MAESTRO: ``2018/*.wav`` beside ``2018/*.midi``).

An item is ``(inputs, target)``: ``inputs`` a dict of ``sketch`` ``[1, T]`` (the notes' harmonic
sketch), ``notes`` ``[4, 128, T // hop + 1]`` (piano roll), ``instrument`` (a 0-dim long: the
General MIDI family of the file's first pitched track), ``program`` (a str: that track's GM
instrument name, e.g. ``violin``) and ``bank`` (a str: the sound bank the file was rendered with,
from its name, ``<piece>@<bank>__t<k>``; empty when the name has none, e.g. real recordings),
``target`` the audio ``[1, T]`` as rendered (its level is part of what the model
learns: velocity sets loudness).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from audiodiff.audio import AudioError, resample
from audiodiff.data.datasets import audio_files
from audiodiff.data.tracks import soundfont_of
from audiodiff.notes import MIDI_SUFFIXES, program_name, read_midi, window_notes
from audiodiff.observations import NotesSketch



def midi_beside(audio: Path) -> Path:
    """The MIDI file next to ``audio`` (same stem); AudioError naming the audio file if there is none."""
    for suffix in MIDI_SUFFIXES:
        if audio.with_suffix(suffix).is_file():
            return audio.with_suffix(suffix)
    raise AudioError(f"{audio}: no MIDI file beside it ({' or '.join(audio.stem + s for s in MIDI_SUFFIXES)})")


def bank_of(audio: Path) -> str:
    """The sound bank a rendered file was made with (``piece@fluidr3__t0.wav``: ``fluidr3``), else ``""``."""
    try:
        return soundfont_of(audio)
    except ValueError:  # real recordings, or files named otherwise
        return ""


class AlignedMidiDataset(Dataset):
    """Segments of aligned audio + MIDI files.

    Args:
        folders: one folder or several (searched recursively for audio with MIDI beside it).
        sample_rate, hop_length, harmonics: the model's (its :class:`~audiodiff.observations.NotesSketch`
            makes each item's inputs; roll frames follow the spectrogram's hop).
        segment_seconds: crop length; ``None`` gives whole files (batch size 1).
        random_crop: a random crop where notes sound (training), else the first ``segment_seconds``
            from the first note (validation: the same every time).
        length: items per epoch for random crops (files are drawn in proportion to their duration).
        limit: use the first ``limit`` files only (validation).
    """

    def __init__(self, folders: str | Path | list, sample_rate: int = 22_050, hop_length: int = 128,
                 segment_seconds: float | None = 2.0, random_crop: bool = True, length: int | None = None,
                 limit: int | None = None, seed: int = 0, harmonics: int = 4):
        folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
        files = [path for folder in folders for path in audio_files(folder)]
        self.files = [path for path in files if any(path.with_suffix(s).is_file() for s in MIDI_SUFFIXES)]
        if not self.files:
            raise AudioError(f"{', '.join(map(str, folders))}: no audio file has a MIDI file beside it")
        self.files = self.files[:limit] if limit else self.files
        self.seconds = np.array([sf.info(str(path)).duration for path in self.files])
        self.sample_rate, self.seed = sample_rate, seed
        self.observation = NotesSketch(sample_rate, harmonics, hop_length)
        self.segment = segment_seconds
        self.random_crop = random_crop
        self.length = length if (length and random_crop) else len(self.files)
        self._tracks: dict[Path, tuple[int, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.length

    def notes_of(self, path: Path) -> tuple[int, np.ndarray]:
        """``(program, notes [N, 4])`` of the file's MIDI: the first pitched track's General MIDI
        program, and all pitched tracks' notes merged."""
        if path not in self._tracks:
            tracks = read_midi(midi_beside(path))
            if not tracks:
                raise AudioError(f"{midi_beside(path)}: no pitched notes")
            notes = np.concatenate([t.notes for t in tracks])
            self._tracks[path] = (tracks[0].program, notes[np.argsort(notes[:, 0], kind="stable")])
        return self._tracks[path]

    def _read(self, path: Path, start: float, seconds: float | None) -> torch.Tensor:
        """Mono ``[1, T]`` at the model's rate from ``start`` seconds (``None``: to the end)."""
        info = sf.info(str(path))
        first = int(start * info.samplerate)
        frames = -1 if seconds is None else int(np.ceil(seconds * info.samplerate))
        data, rate = sf.read(str(path), start=first, frames=frames, dtype="float32", always_2d=True)
        wav = resample(torch.from_numpy(data.T.copy()).mean(0, keepdim=True), rate, self.sample_rate)
        if seconds is not None:
            want = int(round(seconds * self.sample_rate))
            wav = torch.nn.functional.pad(wav, (0, max(0, want - wav.shape[-1])))[:, :want]
        return wav

    def __getitem__(self, index: int):
        if self.random_crop:
            rng = np.random.default_rng([self.seed, index])
            path = self.files[rng.choice(len(self.files), p=self.seconds / self.seconds.sum())]
        else:
            path = self.files[index]
        program, notes = self.notes_of(path)
        first, last = float(notes[0, 0]), float(notes[:, 1].max())
        if self.segment is None:
            start = 0.0
        elif self.random_crop:
            start = float(rng.uniform(max(0.0, first - 0.5 * self.segment), max(first, last - 0.5 * self.segment)))
        else:
            start = first
        target = self._read(path, start, self.segment)
        inputs = self.observation.inputs(window_notes(notes, start, target.shape[-1] / self.sample_rate),
                                         target.shape[-1], program // 8, program_name(program), bank_of(path))
        return inputs, target
