"""Would the harmonic sketch carry the banks' vibrato pulses if it had their measured note envelopes?

The onsets ``benchmarks/music.py`` scores against are detected in the reference render, and many
of them are not note starts but amplitude pulses of a bank's vibrato (a held soprano-sax note in
TimGM6mb dips about every 0.21 s from about 1.2 s after its note-on). The model's input, the
harmonic sketch, has one generic envelope (5 ms attack, exponential decay). This study measures
each bank's note envelopes on the *training* renders (``train/tracks``: one track per file, so a
note that overlaps no other is heard alone) and gives them to the sketch, to see how many of those
pulses a sketch could carry before any network is involved:

* ``measured envelope``: per sound bank, GM program and pitch band (6 semitones), the mean log
  frame energy of the notes against their age (512-point STFT, hop 128; each note relative to its
  peak in its first 0.3 s), where at least 8 notes of the band are that old, else the mean over
  the program's notes (20 at least), extended linearly (never rising) beyond that;
* ``... + fitted wobble``: that envelope's slow trend (0.2 s moving average) plus one sinusoid fitted
  to the rest after the first 0.25 s (rate 3-9 Hz, depth, phase, and the age where it sets in);
* ``told the bank`` uses the reference's bank; ``banks averaged`` the mean log envelope over the
  three banks (what a model without the bank would have).

Scores: onset F1 of each sketch against the reference render (``audiodiff.metrics.onset_f1``) on
held-out pieces; by default the 17 the music benchmark leaves for choosing settings (``--first 6``).

Run: ``python benchmarks/sketch_envelope.py [--first 6] [--limit 17] [--seconds 15]``
"""

from __future__ import annotations


import argparse  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from audiodiff.audio import load_audio  # noqa: E402
from audiodiff.data.aligned import bank_of  # noqa: E402
from audiodiff.data.midi import SOUNDFONTS  # noqa: E402
from audiodiff.notes import harmonic_sketch, program_name, read_midi, window_notes  # noqa: E402
from audiodiff.metrics import onset_f1  # noqa: E402

RATE, HOP = 22_050, 128
FPS = RATE / HOP
BANKS = tuple(SOUNDFONTS)
BAND = 6  # semitones


def note_envelopes(tracks: Path, longest: float = 6.0) -> list[tuple[str, str, int, np.ndarray]]:
    """``(bank, program name, pitch, log frame energy [frames])`` of every note of the one-track
    renders under ``tracks`` that overlaps no other note of its track, over its held part, relative
    to its peak in its first 0.3 s."""
    window = torch.hann_window(512)
    rows = []
    for path in sorted(tracks.glob("*.wav")):
        bank, parts = bank_of(path), read_midi(path.with_suffix(".mid"))
        if not bank or len(parts) != 1:
            continue
        audio = load_audio(path, RATE, channels=1)[0][0]
        energy = torch.stft(audio, 512, HOP, window=window, return_complex=True).abs().pow(2).sum(0).numpy()
        log_energy = np.log(energy + 1e-10)
        notes = parts[0].notes
        for j, (start, end, pitch, _) in enumerate(notes):
            others = np.delete(notes, j, 0)
            if len(others) and np.any((others[:, 0] < end - 0.01) & (others[:, 1] > start + 0.01)):
                continue
            first, last = int(round(start * FPS)), int(round(min(end, start + longest) * FPS))
            curve = log_energy[first:last]
            if len(curve) >= 10:
                rows.append((bank, program_name(parts[0].program), int(pitch),
                             curve - curve[: int(0.3 * FPS)].max()))
    return rows


def mean_curves(rows, key) -> dict:
    """``key(bank, program, pitch) -> (mean curve, notes counted per frame)``."""
    sums, counts = defaultdict(lambda: np.zeros(0)), defaultdict(lambda: np.zeros(0))
    for bank, program, pitch, curve in rows:
        k = key(bank, program, pitch)
        if len(sums[k]) < len(curve):
            sums[k] = np.pad(sums[k], (0, len(curve) - len(sums[k])))
            counts[k] = np.pad(counts[k], (0, len(curve) - len(counts[k])))
        sums[k][: len(curve)] += curve
        counts[k][: len(curve)] += 1
    return {k: (sums[k] / np.maximum(counts[k], 1), counts[k]) for k in sums}


def moving_average(x: np.ndarray, half: int) -> np.ndarray:
    padded = np.pad(x, half, mode="edge")
    return np.convolve(padded, np.ones(2 * half + 1) / (2 * half + 1), mode="same")[half:-half]


def fitted_wobble(curve: np.ndarray) -> np.ndarray:
    """``curve``'s slow trend plus the one sinusoid (3-9 Hz, from the age it sets in) that best fits the rest."""
    trend = moving_average(curve, 18)
    trend[:18] = curve[:18]
    rest, ages = curve - trend, np.arange(len(curve)) / FPS
    late = ages > 0.25
    if late.sum() < 0.6 * FPS:
        return trend
    rates = np.arange(3.0, 9.0, 0.02)
    rate = rates[np.argmax([abs(np.sum(rest[late] * np.exp(-2j * np.pi * f * ages[late]))) for f in rates])]
    turned = rest * np.exp(-2j * np.pi * rate * ages)
    half = int(FPS / rate) // 2
    local = 2 * np.abs(moving_average(turned.real, half) + 1j * moving_average(turned.imag, half))
    steady = np.median(local[ages > max(0.25, ages[-1] / 2)])
    onset = np.nonzero((local > steady / 2) & late)[0]
    delay = ages[onset[0]] if len(onset) else 0.0
    held = ages >= delay
    c = turned[held].mean()
    return trend + 2 * abs(c) * np.cos(2 * np.pi * rate * ages + np.angle(c)) * held


class Envelopes:
    """Measured log-energy envelopes by bank, program and pitch band, as amplitudes at any age."""

    def __init__(self, rows, wobble: bool):
        fine = mean_curves(rows, lambda b, p, pitch: (b, p, pitch // BAND))
        coarse = mean_curves(rows, lambda b, p, pitch: (b, p))
        self.curves = {}
        for (bank, program, band), (curve, count) in fine.items():
            mean, counted = coarse[(bank, program)]
            curve = np.where(np.pad(count, (0, len(mean) - len(count))) >= 8, np.pad(curve, (0, len(mean) - len(curve))), mean)
            curve = curve[: np.nonzero(counted >= 20)[0][-1] + 1] if (counted >= 20).any() else curve[:1]
            self.curves[(bank, program, band)] = fitted_wobble(curve) if wobble else curve

    def log_energy(self, bank: str, program: str, pitch: float, ages: np.ndarray) -> np.ndarray | None:
        curve = self.curves.get((bank, program, int(pitch) // BAND))
        if curve is None:
            return None
        n, frames = len(curve), ages * FPS
        slope = min(0.0, (curve[-1] - curve[max(0, n - int(FPS))]) / max(1, min(FPS, n - 1)))
        return np.where(frames > n - 1, curve[-1] + slope * (frames - n + 1), np.interp(frames, np.arange(n), curve))

    def amplitude(self, banks, program: str, pitch: float, ages: np.ndarray) -> np.ndarray | None:
        curves = [c for c in (self.log_energy(b, program, pitch, ages) for b in banks) if c is not None]
        return np.exp(np.mean(curves, 0) / 2) if curves else None


def enveloped_sketch(notes: np.ndarray, length: int, envelopes: Envelopes, banks, program: str) -> torch.Tensor:
    """The model's 16-partial :func:`harmonic_sketch` with each note's envelope from ``envelopes``
    (the generic decay where none is known)."""
    return harmonic_sketch(notes, RATE, length, harmonics=16,
                           envelope=lambda pitch, ages: envelopes.amplitude(banks, program, pitch, ages))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=Path, default=Path("data/corpus/train/tracks"))
    parser.add_argument("--pieces", type=Path, default=Path("data/corpus/heldout/rendered"))
    parser.add_argument("--first", type=int, default=6)
    parser.add_argument("--limit", type=int, default=17)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = note_envelopes(args.tracks)
    if not rows:
        raise SystemExit(f"no one-track renders in {args.tracks}: run `audiodiff data build-corpus --out data/corpus`")
    measured, wobbling = Envelopes(rows, wobble=False), Envelopes(rows, wobble=True)
    pieces = sorted(p for p in args.pieces.glob("*.wav") if p.with_suffix(".mid").is_file())[args.first : args.first + args.limit]
    scores = defaultdict(list)
    for path in pieces:
        reference = load_audio(path, RATE, channels=1)[0][0][: int(args.seconds * RATE)]
        n = reference.shape[-1]
        windowed = [(window_notes(t.notes, 0.0, args.seconds), program_name(t.program))
                    for t in read_midi(path.with_suffix(".mid"))]
        notes = [(x, program) for x, program in windowed if len(x)]
        told = [bank_of(path)]
        sketches = {
            "generic envelope (the model's input)": sum(harmonic_sketch(x, RATE, n, harmonics=16) for x, _ in notes),
            "measured envelope, told the bank": sum(enveloped_sketch(x, n, measured, told, p) for x, p in notes),
            "measured envelope, banks averaged": sum(enveloped_sketch(x, n, measured, BANKS, p) for x, p in notes),
            "measured envelope + fitted wobble, told the bank": sum(enveloped_sketch(x, n, wobbling, told, p) for x, p in notes),
        }
        for name, sketch in sketches.items():
            scores[name].append(onset_f1(sketch, reference, RATE))
        print(f"{path.stem}: " + ", ".join(f"{v[-1]:.3f}" for v in scores.values()), flush=True)
    lines = ["# Harmonic sketch with the banks' measured note envelopes", "",
             f"Run: `python benchmarks/sketch_envelope.py {' '.join(sys.argv[1:])}`; {len(rows)} notes measured on "
             f"{args.tracks}, scored on {len(pieces)} held-out pieces (first {args.seconds:g} s).", "",
             "| sketch | onset F1 |", "|---|---|"]
    lines += [f"| {name} | {np.mean(v):.3f} |" for name, v in scores.items()]
    (args.out / "sketch_envelope.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
