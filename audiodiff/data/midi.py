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

import numpy as np
import torch

from audiodiff.audio import AudioError

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


def score_to_midi(path: Path, rel: str) -> tuple[bytes, float]:
    """Parse a score with music21, give each part its instrument, keep its first ``MAX_SECONDS`` at
    one steady tempo; return the MIDI file's bytes and its length in seconds."""
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
    seconds = _keep_first_seconds(score, MAX_SECONDS)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "score.mid"
        try:
            score.write("midi", fp=str(target))
        except Exception as err:
            raise AudioError(f"{path}: music21 cannot write MIDI for it ({type(err).__name__}: {err})") from None
        return target.read_bytes(), seconds


def _keep_first_seconds(score, seconds: float) -> float:
    """One steady tempo (the score's first, clipped to 40-200 quarters a minute; 100 if none: scores
    carry odd tempo marks, a near-zero one makes fluidsynth render for ever), and no note starting
    after ``seconds``: the MIDI and its render cover the same short stretch. Returns the score's
    length in seconds."""
    from music21 import tempo

    marks = list(score.recurse().getElementsByClass(tempo.TempoIndication))
    bpm = next((m.getQuarterBPM() for m in marks if isinstance(m, tempo.MetronomeMark) and m.getQuarterBPM()), 100)
    bpm = min(max(float(bpm), 40.0), 200.0)
    for mark in marks:
        mark.activeSite.remove(mark)
    parts = list(getattr(score, "parts", [])) or [score]
    for part in parts:
        part.insert(0, tempo.MetronomeMark(number=bpm, referent="quarter"))
    limit = seconds * bpm / 60.0
    for part in parts:
        measures = list(part.getElementsByClass("Measure"))
        if measures:
            part.remove([m for m in measures if part.elementOffset(m) >= limit])
            continue
        for note in list(part.recurse().notesAndRests):
            if note.getOffsetInHierarchy(part) >= limit:
                note.activeSite.remove(note)
    return float(score.highestTime) * 60.0 / bpm


def render_midi(midi: bytes, soundfont: Path, sample_rate: int, fluidsynth: str = "fluidsynth",
                label: str = "MIDI", seconds: float = MAX_SECONDS) -> torch.Tensor:
    """Render MIDI bytes with fluidsynth at ``sample_rate``: mono ``[1, T]`` float32, at most
    ``seconds`` long. fluidsynth streams raw samples and is stopped there: with some files it never
    stops by itself. AudioError if it fails or gives nothing."""
    with tempfile.TemporaryDirectory() as tmp:
        src, log = Path(tmp) / "in.mid", Path(tmp) / "stderr.txt"
        src.write_bytes(midi)
        cmd = [fluidsynth, "-ni", "-q", "-g", "0.5", "-r", str(sample_rate), "-F", "-", "-T", "raw", "-O", "s16",
               str(soundfont), str(src)]
        with open(log, "wb") as errors:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errors)
            data = proc.stdout.read(int(seconds * sample_rate) * 4)  # stereo, 16-bit
            finished = proc.poll() is not None or len(data) < int(seconds * sample_rate) * 4
            proc.kill()
            proc.wait()
        if (finished and proc.returncode not in (0, -9)) or not data:
            raise AudioError(f"{label}: fluidsynth failed ({proc.returncode}): {log.read_text().strip()[-300:]}")
    stereo = np.frombuffer(data[: len(data) // 4 * 4], dtype="<i2").reshape(-1, 2).astype(np.float32) / 32768.0
    return torch.from_numpy(stereo.mean(axis=1))[None]


def find_fluidsynth(prefix: Path) -> str | None:
    """The fluidsynth program under ``prefix`` (or on the PATH for the real system), else None."""
    program = Path(prefix) / FLUIDSYNTH
    return str(program) if program.is_file() else shutil.which("fluidsynth") if Path(prefix) == Path("/") else None


def pick_soundfont(rel: str, available: list[str]) -> str:
    """One soundfont per piece, rotating by the piece's path among those installed."""
    return sorted(available)[_digest(rel + "@soundfont") % len(available)]


def rendered_pieces(prefix: Path, count: int = PIECES):
    """``(id, key, loader, midi)`` per selected piece: ``loader(rate)`` renders mono ``[1, T]`` (the
    score's first ``MAX_SECONDS`` and two seconds of release) and ``midi()`` returns the MIDI bytes it rendered. Nothing when music21,
    fluidsynth or every soundfont is missing."""
    from audiodiff.data.reserved import is_reserved

    prefix = Path(prefix)
    root = corpus_root(prefix)
    fluidsynth = find_fluidsynth(prefix)
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
    cache: dict[str, tuple[bytes, float]] = {}

    def score() -> tuple[bytes, float]:
        if "score" not in cache:
            cache["score"] = score_to_midi(path, rel)
        return cache["score"]

    def load(sample_rate: int) -> torch.Tensor:
        midi, seconds = score()  # two seconds of release after the last note
        return render_midi(midi, soundfont, sample_rate, fluidsynth, str(path), seconds + 2.0)

    return load, lambda: score()[0]
