"""MusicSynth: MIDI to audio with a notes-conditioned diffusion model (``audiodiff synth``).

Every pitched track of the file is played on its own, by the instrument family of its General MIDI
program and, for a model with a ``program`` head, by the program itself when the model was trained
on it (or by the one ``instrument`` names for all tracks; a family name leaves the program open),
and the tracks are summed. A track is
cut into overlapping chunks of ``chunk_seconds``; each chunk is given the notes sounding in it (its
harmonic sketch, whose phase runs on from each note's start whatever the chunk, and its piano roll)
and the instrument; chunks of all tracks are generated in batches and cross-faded back together, so
neighbouring chunks agree where they overlap and there is no seam.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from audiodiff.audio import AudioError
from audiodiff.hub import from_pretrained
from audiodiff.model import DiffusionModel
from audiodiff.notes import Track, instrument_program, is_family, program_name, read_midi, window_notes
from audiodiff.observations import NotesSketch
from audiodiff.pipelines.runner import ChunkedRunner, Signal, pick_device

RELEASE_SECONDS = 1.0  # rendered after the last note ends


class MusicSynth:
    """Render MIDI files with a notes-conditioned model (default ``music-midi``).

    Args:
        model: a :class:`DiffusionModel`, a shipped name or a checkpoint folder.
        device: ``auto``, ``cpu`` or ``cuda``.
        steps, solver, guidance: sampler settings (default: the checkpoint's; guidance 1 is the
            plain conditional model, larger values follow the instrument more closely).
        chunk_seconds, overlap_seconds: chunking (any length of music).
        batch_size: chunks per denoiser call, across tracks.

    Example:
        >>> synth = MusicSynth("music-midi")
        >>> audio = synth("song.mid", instrument="violin", seed=0)   # [T] at synth.sample_rate
    """

    def __init__(self, model: DiffusionModel | str = "music-midi", device: str = "auto", steps: int | None = None,
                 solver: str | None = None, guidance: float | None = None, chunk_seconds: float = 4.0,
                 overlap_seconds: float = 0.5, batch_size: int = 8):
        self.device = pick_device(device)
        self.model = (model if isinstance(model, DiffusionModel) else from_pretrained(model)).to(self.device).eval()
        if self.model.config.get("task") != "music-midi" or not isinstance(self.model.observation, NotesSketch):
            raise ValueError(f"MusicSynth needs a music-midi model, not {self.model.config.get('task')!r}")
        sampling = self.model.config["sampling"]
        hop = self.model.observation.hop_length
        chunk = max(hop, round(chunk_seconds * self.sample_rate / hop) * hop)
        self.runner = ChunkedRunner(self.model, self.device, chunk, int(overlap_seconds * self.sample_rate),
                                    batch_size, steps or sampling["steps"], solver or sampling["solver"],
                                    guidance if guidance is not None else sampling.get("guidance", 1.0))

    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    def tracks(self, midi: str | Path | bytes | list[Track], label: str | None = None) -> list[Track]:
        """The pitched tracks of a MIDI file (path or bytes); AudioError if there are none."""
        tracks = midi if isinstance(midi, list) else read_midi(midi, label)
        if not tracks:
            name = label or ("MIDI data" if isinstance(midi, (bytes, list)) else str(midi))
            raise AudioError(f"{name}: no pitched notes (drum tracks are not rendered)")
        return tracks

    @property
    def banks(self) -> list[str]:
        """The sound banks the model can imitate (``bank=``; empty if it has no ``bank`` head)."""
        parts = getattr(self.model.denoiser.head, "parts", {})
        return list(parts["bank"].names or []) if "bank" in parts else []

    def check_bank(self, bank: str | None) -> None:
        """Raise ``ValueError`` unless ``bank`` is ``None`` or one of :attr:`banks`."""
        if bank is not None and bank not in self.banks:
            raise ValueError(f"bank {bank!r}: this model knows {', '.join(self.banks) or 'no sound banks'}")

    def __call__(self, midi: str | Path | bytes | list[Track], instrument: str | int | None = None,
                 steps: int | None = None, seed: int = 0, guidance: float | None = None,
                 on_chunks=None, bank: str | None = None) -> torch.Tensor:
        """Render ``midi`` to mono ``[T]`` at :attr:`sample_rate` (the last note's end plus a second).

        ``instrument`` (a GM name, family or program) plays every track (a family name gives the
        null program: the family alone decides); ``bank`` (one of
        :attr:`banks`) imitates that sound bank's timbres (default: none in particular, the model's
        null token); ``on_chunks(n)`` is called after each batch of ``n`` chunks (progress bars;
        :meth:`chunks_for` gives the total)."""
        tracks = self.tracks(midi)
        self.check_bank(bank)
        if instrument is None:
            plays = [(t.family, program_name(t.program)) for t in tracks]
        else:  # a family name leaves the program open
            program = instrument_program(instrument)
            plays = [(program // 8, "" if is_family(instrument) else program_name(program))] * len(tracks)
        length = self._length(tracks)
        chunk = min(self.runner.chunk, length)
        observation = self.model.observation
        rate = self.sample_rate

        def signal(index: int, notes, family: int, program: str) -> Signal:
            def inputs(channel: int, start: int, size: int) -> dict:
                return observation.inputs(window_notes(notes, start / rate, size / rate), size, family, program,
                                          bank or "")
            return Signal(index, 1, length, chunk, inputs, part=index)

        signals = [signal(i, t.notes, family, program) for i, (t, (family, program)) in enumerate(zip(tracks, plays))]
        mix = sum(out[0] for _, out in self.runner.run(signals, seed=seed, steps=steps, guidance=guidance,
                                                     on_chunks=on_chunks))
        peak = mix.abs().max().item()
        return mix / peak * 0.99 if peak > 0.99 else mix  # summed tracks may clip: scale the whole piece

    def chunks_for(self, midi) -> int:
        """How many chunks rendering ``midi`` takes (for a progress bar's total)."""
        tracks = self.tracks(midi)
        length = self._length(tracks)
        return len(tracks) * len(self.runner.starts(length, min(self.runner.chunk, length)))

    def _length(self, tracks: list[Track]) -> int:
        hop = self.model.observation.hop_length
        seconds = max(t.end for t in tracks) + RELEASE_SECONDS
        return math.ceil(seconds * self.sample_rate / hop) * hop
