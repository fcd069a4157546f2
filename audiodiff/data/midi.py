"""Music rendered from scores: pieces of the music21 corpus (PyPI ``music21``; never the reserved
ones), each part played by a General MIDI instrument suited to its range, written as MIDI and
rendered by fluidsynth under one of three soundfonts (Debian ``fluid-soundfont-gm``,
``timgm6mb-soundfont``, ``musescore-general-soundfont-small``).

The MIDI is kept beside the audio (``<name>.mid`` next to ``<name>.wav``): aligned audio + MIDI
pairs. Every choice (pieces, instruments, soundfont) follows from the piece's path, so a rebuild
gives the same files.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import torch

from audiodiff.audio import AudioError, load_audio

FLUIDSYNTH = "usr/bin/fluidsynth"
SOUNDFONTS = {  # name -> (Debian package, path under the prefix)
    "fluidr3": ("fluid-soundfont-gm", "usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "timgm6mb": ("timgm6mb-soundfont", "usr/share/sounds/sf2/TimGM6mb.sf2"),
    "musescore": ("musescore-general-soundfont-small", "usr/share/sounds/sf3/MuseScore_General_Lite.sf3"),
}
SCORE_FORMATS = (".mxl", ".xml", ".musicxml", ".krn")
PIECES = 160  # spread evenly over the corpus's sorted list
MAX_SECONDS = 90.0  # longer pieces are cut (their MIDI too, so the two stay aligned)
# General MIDI programs by the range a part lives in (median pitch)
LOW = (32, 42, 43, 57, 58, 70)  # acoustic bass, cello, contrabass, trombone, tuba, bassoon
MIDDLE = (0, 4, 19, 24, 41, 48, 60, 71)  # piano, e-piano, organ, guitar, viola, strings, horn, clarinet
HIGH = (0, 11, 40, 56, 64, 68, 73, 79)  # piano, vibraphone, violin, trumpet, soprano sax, oboe, flute, ocarina


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")


def corpus_root(prefix: Path = Path("/")) -> Path | None:
    """The music21 corpus folder: the installed package's on a real system (``prefix`` ``/``), else
    ``<prefix>/music21/corpus`` (a fixture tree); None when there is none."""
    if Path(prefix) != Path("/"):
        root = Path(prefix) / "music21" / "corpus"
        return root if root.is_dir() else None
    try:
        from music21 import corpus
    except ImportError:
        return None
    return Path(corpus.__file__).parent


def select_pieces(root: Path, count: int = PIECES) -> list[str]:
    """``count`` score paths (relative to ``root``, posix) spread evenly over the sorted corpus."""
    scores = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in SCORE_FORMATS)
    if len(scores) <= count:
        return scores
    return [scores[round(i * (len(scores) - 1) / (count - 1))] for i in range(count)] if count > 1 else scores[:1]


def assign_programs(rel: str, median_pitches: list[float]) -> list[int]:
    """A General MIDI program per part, by its median pitch (below C3, up to E4, above), chosen by
    the piece's path; a quarter of the pieces are played on the piano throughout."""
    seed = _digest(rel)
    if seed % 4 == 0:
        return [0] * len(median_pitches)
    programs = []
    for i, pitch in enumerate(median_pitches):
        group = LOW if pitch < 48 else MIDDLE if pitch <= 64 else HIGH
        programs.append(group[_digest(f"{rel}#{i}") % len(group)])
    return programs


def score_to_midi(path: Path, rel: str) -> bytes:
    """Parse a score with music21, give each part its instrument, return the MIDI file's bytes."""
    from music21 import converter, instrument

    try:
        score = converter.parse(str(path))
    except Exception as err:  # music21 raises many kinds on odd files
        raise AudioError(f"{path}: music21 cannot read this score ({type(err).__name__}: {err})") from None
    parts = list(getattr(score, "parts", [])) or [score]
    medians = []
    for part in parts:
        pitches = sorted(p.midi for n in part.recurse().notes for p in n.pitches)
        medians.append(pitches[len(pitches) // 2] if pitches else 60.0)
    for part, program in zip(parts, assign_programs(rel, medians)):
        for old in list(part.recurse().getElementsByClass(instrument.Instrument)):
            old.activeSite.remove(old)
        part.insert(0, instrument.instrumentFromMidiProgram(program))
    _keep_first_seconds(score, MAX_SECONDS)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "score.mid"
        try:
            score.write("midi", fp=str(target))
        except Exception as err:
            raise AudioError(f"{path}: music21 cannot write MIDI for it ({type(err).__name__}: {err})") from None
        return target.read_bytes()


def _keep_first_seconds(score, seconds: float) -> None:
    """Drop the notes that start after ``seconds`` (at the score's first tempo, 120 bpm if none), so
    the MIDI and its render cover the same stretch and long pieces render quickly."""
    marks = score.metronomeMarkBoundaries()
    per_quarter = marks[0][2].secondsPerQuarter() if marks else 0.5
    limit = seconds / per_quarter
    for part in list(getattr(score, "parts", [])) or [score]:
        measures = list(part.getElementsByClass("Measure"))
        if measures:
            part.remove([m for m in measures if part.elementOffset(m) >= limit])
            continue
        for note in list(part.recurse().notesAndRests):
            if note.getOffsetInHierarchy(part) >= limit:
                note.activeSite.remove(note)


def render_midi(midi: bytes, soundfont: Path, sample_rate: int, fluidsynth: str = "fluidsynth",
                label: str = "MIDI") -> torch.Tensor:
    """Render MIDI bytes with fluidsynth at ``sample_rate``: mono ``[1, T]`` float32."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        src.write_bytes(midi)
        cmd = [fluidsynth, "-ni", "-q", "-g", "0.5", "-r", str(sample_rate), "-F", str(dst), "-T", "wav",
               str(soundfont), str(src)]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if run.returncode != 0 or not dst.is_file():
            raise AudioError(f"{label}: fluidsynth failed ({run.returncode}): {run.stderr.strip()[-300:]}")
        wav, rate = load_audio(dst, sample_rate=sample_rate, channels=1)
    return wav


def pick_soundfont(rel: str, available: list[str]) -> str:
    """One soundfont per piece, rotating by the piece's path among those installed."""
    return sorted(available)[_digest(rel + "@soundfont") % len(available)]


def rendered_pieces(prefix: Path, count: int = PIECES):
    """``(id, key, loader, midi)`` per selected piece: ``loader(rate)`` renders mono ``[1, T]`` (cut
    at ``MAX_SECONDS``) and ``midi()`` returns the MIDI bytes it rendered. Nothing when music21,
    fluidsynth or every soundfont is missing."""
    from audiodiff.data.reserved import is_reserved

    prefix = Path(prefix)
    root = corpus_root(prefix)
    fluidsynth = prefix / FLUIDSYNTH
    fluidsynth = str(fluidsynth) if fluidsynth.is_file() else shutil.which("fluidsynth") if prefix == Path("/") else None
    available = [name for name, (_, rel) in SOUNDFONTS.items() if (prefix / rel).is_file()]
    if root is None or not fluidsynth or not available:
        return []
    out = []
    for rel in select_pieces(root, count):
        if is_reserved("music21", rel):
            continue
        font = pick_soundfont(rel, available)
        stem = rel.rsplit(".", 1)[0]
        out.append((f"music21/{stem}@{font}.mid", rel,
                    *_loader(root / rel, rel, prefix / SOUNDFONTS[font][1], fluidsynth)))
    return out


def _loader(path: Path, rel: str, soundfont: Path, fluidsynth: str) -> tuple[Callable[[int], torch.Tensor],
                                                                           Callable[[], bytes]]:
    cache: dict[str, bytes] = {}

    def midi() -> bytes:
        if "midi" not in cache:
            cache["midi"] = score_to_midi(path, rel)
        return cache["midi"]

    def load(sample_rate: int) -> torch.Tensor:
        wav = render_midi(midi(), soundfont, sample_rate, fluidsynth, label=str(path))
        return wav[:, : int(MAX_SECONDS * sample_rate)]

    return load, midi

