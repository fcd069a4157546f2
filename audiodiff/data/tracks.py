"""Solo renders of each pitched track of the rendered pieces: aligned (audio, MIDI, instrument)
triples for a music-synthesis model.

For every ``<piece>@<soundfont>.wav`` + ``.mid`` of the corpus's ``rendered`` folder, each pitched
track is written as its own MIDI file (one instrument, the piece's note timing in seconds) and
rendered alone by fluidsynth under the piece's soundfont::

    <split>/tracks/<piece>@<soundfont>__t<k>.wav + .mid     (k: the track's index among pitched tracks)

The same layout serves a real aligned corpus (MAESTRO: one piano per file): audio beside its MIDI.
"""

from __future__ import annotations

import io
from pathlib import Path

from tqdm import tqdm

from audiodiff.audio import AudioError, save_audio
from audiodiff.data.midi import SOUNDFONTS, find_fluidsynth, render_midi
from audiodiff.notes import Track, read_midi

RELEASE_SECONDS = 2.0  # rendered after the last note ends


def solo_midi(track: Track) -> bytes:
    """A one-instrument MIDI file of ``track`` (note times in seconds kept exactly)."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=120.0)
    inst = pretty_midi.Instrument(program=track.program, name=track.name)
    inst.notes = [pretty_midi.Note(velocity=int(v), pitch=int(p), start=float(s), end=float(e))
                  for s, e, p, v in track.notes]
    midi.instruments.append(inst)
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def soundfont_of(piece: Path) -> str:
    """The soundfont name a rendered piece or solo track was made with (``piece@<name>.wav``,
    ``piece@<name>__t<k>.wav``); ValueError if the name has none."""
    name = Path(piece).stem.rpartition("@")[2].split("__")[0]
    if name not in SOUNDFONTS:
        raise ValueError(f"{piece}: the name does not end in @<soundfont> ({', '.join(SOUNDFONTS)})")
    return name


def write_solo_tracks(pieces: list[Path], folder: Path, prefix: Path, sample_rate: int,
                      fluidsynth: str | None = None, desc: str = "solo tracks") -> list[Path]:
    """Render each pitched track of each piece (``.wav`` with its ``.mid`` beside) alone into
    ``folder``; files already there are kept (a rerun resumes). Returns the written ``.wav`` paths.
    Pieces whose MIDI or soundfont is missing or unreadable are reported and skipped."""
    folder.mkdir(parents=True, exist_ok=True)
    fluidsynth = fluidsynth or find_fluidsynth(prefix)
    if not fluidsynth:
        print(f"skipped {desc}: fluidsynth not found under {prefix}")
        return []
    paths = []
    for piece in tqdm(pieces, desc=desc, unit="piece"):
        try:
            font = Path(prefix) / SOUNDFONTS[soundfont_of(piece)][1]
            tracks = read_midi(piece.with_suffix(".mid"))
        except (AudioError, ValueError) as err:
            print(f"skipped: {err}")
            continue
        for k, track in enumerate(tracks):
            path = folder / f"{piece.stem}__t{k}.wav"
            if not path.exists():
                midi = solo_midi(track)
                try:
                    wav = render_midi(midi, font, sample_rate, fluidsynth, f"{piece} track {k}",
                                      track.end + RELEASE_SECONDS)
                except AudioError as err:
                    print(f"skipped: {err}")
                    continue
                if wav.abs().max() < 1e-4:
                    print(f"skipped: {piece} track {k}: silent")
                    continue
                path.with_suffix(".mid").write_bytes(midi)
                save_audio(path, wav, sample_rate)  # last: its presence marks the pair complete
            paths.append(path)
    return paths
