"""Which onset detector the MIDI-synthesis scores use, chosen on training renders only.

``benchmarks/music.py`` scores onsets detected in a system's audio against onsets detected in the
fluidsynth reference. A detector that fires on a bank's vibrato or on a slow attack's late peak
scores those pulses instead of notes. So each detector in ``audiodiff.metrics.ONSET_DETECTORS``
runs here on fluidsynth renders of *training* pieces (``train/rendered``: never held out, never
reserved, no model involved) and is scored against the MIDI note-ons each render plays (mir_eval,
+-50 ms): the detector that best finds the notes a synthesizer played is the one the benchmark uses.

Writes ``<out>/onset_detector.md``.

Run: ``python benchmarks/onset_detector.py [--limit 40] [--seconds 15]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mir_eval
import numpy as np

from audiodiff.audio import load_audio
from audiodiff.notes import read_midi
from audiodiff.data.tracks import soundfont_of
from audiodiff.metrics import ONSET_DETECTORS, detect_onsets

RATE = 22_050


def note_ons(midi: Path, seconds: float) -> np.ndarray:
    """The distinct note-on times (s) of the pitched tracks of ``midi`` before ``seconds``."""
    starts = [t.notes[:, 0] for t in read_midi(midi) if len(t.notes)]
    starts = np.unique(np.concatenate(starts)) if starts else np.zeros(0)
    return starts[starts < seconds]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pieces", type=Path, default=Path("data/corpus/train/rendered"))
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=15.0, help="score the first SECONDS of each render")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    pieces = sorted(p for p in args.pieces.glob("*.wav") if p.with_suffix(".mid").is_file())[: args.limit]
    if not pieces:
        raise SystemExit(f"no rendered pieces in {args.pieces}: run `audiodiff data build-corpus --out data/corpus`")
    scores = {name: [] for name in ONSET_DETECTORS}  # name -> [(bank, f1, precision, recall)]
    for index, path in enumerate(pieces):
        audio = load_audio(path, RATE, channels=1)[0][0][: int(args.seconds * RATE)]
        notes = note_ons(path.with_suffix(".mid"), args.seconds)
        for name in ONSET_DETECTORS:
            found = detect_onsets(audio, RATE, name)
            scores[name].append((soundfont_of(path), *mir_eval.onset.f_measure(notes, found, window=0.05)))
        print(f"{index + 1}/{len(pieces)} {path.stem}", flush=True)
    banks = sorted({row[0] for rows in scores.values() for row in rows})
    lines = ["| detector | F1 | precision | recall | " + " | ".join(f"F1 {b}" for b in banks) + " |",
             "|---" * (4 + len(banks)) + "|"]
    for name, rows in scores.items():
        f1, precision, recall = np.mean([r[1:] for r in rows], axis=0)
        per_bank = [np.mean([r[1] for r in rows if r[0] == b]) for b in banks]
        lines.append(f"| {name} | {f1:.3f} | {precision:.3f} | {recall:.3f} | "
                     + " | ".join(f"{v:.3f}" for v in per_bank) + " |")
    text = "\n\n".join([
        "# Onset detector", f"Run: `python benchmarks/onset_detector.py {' '.join(sys.argv[1:])}`; "
        f"{len(pieces)} training renders ({args.pieces}), first {args.seconds:g} s of each.",
        "\n".join(lines),
        "Each detector's onsets in the fluidsynth render against the MIDI note-ons it plays (mir_eval, "
        "+-50 ms), means over pieces; the per-bank columns split F1 by the soundfont the piece was rendered with.",
    ])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "onset_detector.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
