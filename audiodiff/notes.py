"""MIDI as a music-synthesis model sees it: the pitched tracks of a file (General MIDI program and
notes), a frame-aligned piano roll, and an additive harmonic sketch of the notes.

* :func:`read_midi` -> ``[Track]`` (drum tracks are left out: the synthesizer plays pitched parts);
* :func:`piano_roll` -> ``[4, 128, frames]``: onset, sustain, velocity and age (seconds since the
  note began) channels per MIDI pitch;
* :func:`harmonic_sketch` -> ``[T]``: each note as a few decaying harmonics (the benchmark's floor,
  and what a synthesis model may refine);
* :func:`instrument_program` reads ``--instrument`` values: a GM program number, a GM instrument
  name (``violin``, ``acoustic grand piano``) or a GM family name (``strings``, ``brass``).

Notes are arrays ``[N, 4]`` of (start seconds, end seconds, MIDI pitch, velocity 1-127).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from audiodiff.audio import AudioError

# General MIDI program families: programs 8k .. 8k+7 form family k
MIDI_SUFFIXES = (".mid", ".midi")
FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed",
            "pipe", "synth lead", "synth pad", "synth effects", "ethnic", "percussive", "sound effects")
ROLL_CHANNELS = ("onset", "sustain", "velocity", "age")


@dataclass(frozen=True)
class Track:
    """One pitched part: General MIDI ``program`` (0-127) and ``notes`` ``[N, 4]`` sorted by start."""

    program: int
    notes: np.ndarray
    name: str = ""

    @property
    def family(self) -> int:
        """The General MIDI family index (0-15) of the program."""
        return self.program // 8

    @property
    def end(self) -> float:
        """Seconds until the last note ends (0 for no notes)."""
        return float(self.notes[:, 1].max()) if len(self.notes) else 0.0


def read_midi(source: str | Path | bytes, label: str | None = None) -> list[Track]:
    """The pitched tracks of a MIDI file (path or bytes), tempo changes applied; tracks with the
    same program are kept apart. AudioError naming ``label`` (or the path) if it is not MIDI."""
    import pretty_midi

    label = label or (str(source) if not isinstance(source, bytes) else "MIDI data")
    try:
        if isinstance(source, bytes):
            midi = pretty_midi.PrettyMIDI(io.BytesIO(source))
        else:
            midi = pretty_midi.PrettyMIDI(str(source))
    except FileNotFoundError:
        raise AudioError(f"{label}: no such file") from None
    except Exception as err:  # mido and pretty_midi raise many kinds on broken files
        raise AudioError(f"{label}: not a readable MIDI file ({type(err).__name__}: {err})") from None
    tracks = []
    for inst in midi.instruments:
        if inst.is_drum or not inst.notes:
            continue
        notes = np.array([(n.start, n.end, n.pitch, n.velocity) for n in inst.notes], dtype=np.float64)
        notes = notes[np.argsort(notes[:, 0], kind="stable")]
        notes[:, 1] = np.maximum(notes[:, 1], notes[:, 0] + 1e-3)  # zero-length notes still sound
        tracks.append(Track(int(inst.program), notes, inst.name.strip()))
    return tracks


def program_name(program: int) -> str:
    """The General MIDI instrument name of ``program`` (0-127), lower case (``40``: ``violin``)."""
    import pretty_midi

    return pretty_midi.program_to_instrument_name(int(program)).lower()


def is_family(value: str | int) -> bool:
    """Whether an ``--instrument`` value names a whole GM family (``strings``), not one program."""
    return str(value).strip().lower() in FAMILIES


def instrument_program(value: str | int) -> int:
    """A General MIDI program from a number (0-127), an instrument name or a family name
    (case-insensitive; a family gives its first program). ValueError listing the families otherwise."""
    import pretty_midi

    text = str(value).strip().lower()
    if text.isdigit():
        program = int(text)
        if 0 <= program < 128:
            return program
        raise ValueError(f"General MIDI programs are 0-127, got {program}")
    names = [name.lower() for name in pretty_midi.constants.INSTRUMENT_MAP]
    if text in names:
        return names.index(text)
    if text in FAMILIES:
        return 8 * FAMILIES.index(text)
    matches = [i for i, name in enumerate(names) if text in name]
    if len(matches) == 1:
        return matches[0]
    hint = f" (it matches {', '.join(names[i] for i in matches[:6])})" if matches else ""
    raise ValueError(f"unknown instrument {value!r}{hint}; give a General MIDI program 0-127, an instrument "
                     f"name such as 'violin', or a family: {', '.join(FAMILIES)}")


def piano_roll(notes: np.ndarray, frames: int, frame_rate: float) -> torch.Tensor:
    """``[4, 128, frames]`` float32: onset (1 in the frame a note starts), sustain (1 while it sounds),
    velocity (velocity / 127 while it sounds) and age (seconds since the note began, while it
    sounds: a note begun before the window is already that old in it, so its vibrato, which the
    synthesizer starts at the note-on, keeps its phase across windows); frame ``i`` is at
    ``i / frame_rate`` seconds. Of overlapping notes on one pitch, the later one's age counts."""
    roll = torch.zeros(len(ROLL_CHANNELS), 128, frames)
    for start, end, pitch, velocity in np.asarray(notes).reshape(-1, 4):
        first = int(round(start * frame_rate))
        last = max(first + 1, int(round(end * frame_rate)))
        if first >= frames or last <= 0:
            continue
        p = int(pitch)
        if first >= 0:  # a note begun before the window has no onset in it
            roll[0, p, first] = 1.0
        lo, hi = max(first, 0), min(last, frames)
        roll[1, p, lo:hi] = 1.0
        roll[2, p, lo:hi] = torch.maximum(roll[2, p, lo:hi], torch.tensor(velocity / 127.0))
        roll[3, p, lo:hi] = torch.arange(lo - first, hi - first) / frame_rate
    return roll


def harmonic_sketch(notes: np.ndarray, sample_rate: int, length: int, harmonics: int = 4,
                    decay_seconds: float = 1.5, release_seconds: float = 0.05,
                    envelope: Callable[[float, np.ndarray], np.ndarray | None] | None = None) -> torch.Tensor:
    """The notes as additive synthesis ``[length]`` float32: per note ``harmonics`` sines at
    amplitudes 1/k (those below Nyquist), a 5 ms attack, an exponential decay with time constant
    ``decay_seconds`` and a ``release_seconds`` fade after the note ends; loudness velocity / 127.
    ``envelope(pitch, ages)``, if given, replaces the decay: a note's amplitude ``[n]`` at ``ages``
    ``[n]`` (seconds since its note-on, held at its end), or ``None`` to keep the decay for it."""
    out = np.zeros(length, dtype=np.float64)
    attack = 0.005
    for start, end, pitch, velocity in np.asarray(notes).reshape(-1, 4):
        first = int(round(start * sample_rate))
        stop = min(length, int(round((end + release_seconds) * sample_rate)))
        if first >= length or stop <= max(first, 0):
            continue
        t = np.arange(max(first, 0), stop) / sample_rate - start
        held = end - start
        shape = envelope(pitch, np.minimum(t, held)) if envelope is not None else None
        amplitude = np.minimum(1.0, t / attack) * (np.exp(-t / decay_seconds) if shape is None else shape)
        amplitude *= np.clip(1.0 - (t - held) / release_seconds, 0.0, 1.0)
        f0 = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)
        tone = sum(np.sin(2 * math.pi * k * f0 * t) / k for k in range(1, harmonics + 1) if k * f0 < sample_rate / 2)
        out[max(first, 0) : stop] += 0.1 * (velocity / 127.0) * amplitude * tone
    return torch.from_numpy(out.astype(np.float32))


def window_notes(notes: np.ndarray, start: float, seconds: float) -> np.ndarray:
    """The notes sounding in ``[start, start + seconds)``, their times shifted by ``-start``
    (a note begun earlier keeps its negative start: it sounds on, without a new onset)."""
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    keep = (notes[:, 0] < start + seconds) & (notes[:, 1] + 0.5 > start)  # 0.5 s: release tails
    shifted = notes[keep].copy()
    shifted[:, :2] -= start
    return shifted
