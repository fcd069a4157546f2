"""MIDI synthesis quality and speed on held-out pieces (never in training, never reserved).

Data: the held-out rendered pieces of ``audiodiff data build-corpus`` (``heldout/rendered``:
music21 scores, each part on a General MIDI instrument, rendered by fluidsynth under one of three
soundfonts; the MIDI beside each render). The fluidsynth render is the reference; each system
renders the same MIDI (its first ``--seconds``):

* ``sine``: additive sine synthesis, one sine per note (velocity sets its level; 5 ms attack,
  exponential decay, 50 ms release): the floor;
* ``harmonic sketch``: the same with the model's partials a note (its ``notes`` observation; four
  without a model): what the model is given;
* ``fluidsynth, another soundfont``: fluidsynth itself under the next of the three soundfonts (the
  reference's bank is in its file name, ``piece@soundfont``): a real synthesizer that plays the same
  notes with another sound bank, i.e. the ceiling for a system that is not told which bank the
  reference used;
* ``audiodiff NFE=n, told the bank``: ``MusicSynth`` (``music-midi``) at n sampler steps, its default
  guidance, seed 0, asked for the reference's sound bank (``--bank``; a model trained on these banks);
* ``audiodiff NFE=n, no bank``: the same at the first ``--nfe`` with the null bank (the default of
  ``audiodiff synth``), comparable with the other-soundfont row. A model without a bank head gives
  one row per n: ``audiodiff NFE=n``. ``--guidance`` adds rows at other classifier-free guidance
  scales (the checkpoint's default is 1, the plain conditional model).

Metrics against the reference: note onset F1 (mir_eval, +-50 ms, onsets found in both signals by
librosa's spectral flux, the detector ``benchmarks/onset_detector.py`` chose; also with SuperFlux,
which suppresses vibrato but misses slow attacks), chroma cosine similarity (CQT chroma, sounding frames),
multi-resolution STFT distance, real-time factor (2 threads when no ``audiodiff fit`` runs, else 1; the output says which).
A second table splits the onset score: precision, recall, and the reference's detected onsets a
system misses where a MIDI note starts and where none does (what the detector reads in the bank's
sound itself, such as a slow attack's late peak), beside how well the reference's own detections find its
note-ons. ``--first`` skips pieces, so settings can be chosen on pieces the default run never scores.
Writes ``<out>/music.md``, ``music.csv`` and ``music_spectrograms.png``.

Run: ``python benchmarks/music.py [--first 0] [--limit 12] [--seconds 20] [--nfe 2 4 8] [--guidance 1.5 2]``
"""

from __future__ import annotations


import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import mir_eval  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from vocode import table, timed  # noqa: E402

from audiodiff.audio import load_audio  # noqa: E402
from audiodiff.data.midi import SOUNDFONTS, render_midi  # noqa: E402
from audiodiff.notes import harmonic_sketch, read_midi, window_notes  # noqa: E402
from audiodiff.data.aligned import bank_of  # noqa: E402
from audiodiff.data.tracks import soundfont_of  # noqa: E402
from audiodiff.metrics import ONSET_DETECTOR, detect_onsets, music_synthesis_scores, onset_f1, onset_misses  # noqa: E402
from audiodiff.observations import NotesSketch  # noqa: E402
from audiodiff.pipelines.synth import MusicSynth  # noqa: E402
from audiodiff.plots import save_spectrograms  # noqa: E402
from audiodiff.representations import fit_length  # noqa: E402

RATE = 22_050
DIGITS = {"onset_f1": 3, "onset_f1_superflux": 3, "chroma": 3, "mrstft": 3, "rtf": 3, "onset_precision": 3, "onset_recall": 3,
          "missed_at_note": 3, "missed_off_note": 3}


def additive(harmonics: int):
    def run(tracks, length: int, path: Path) -> torch.Tensor:
        return sum(harmonic_sketch(t.notes, RATE, length, harmonics=harmonics) for t in tracks)

    return run


def other_soundfont(tracks, length: int, path: Path) -> torch.Tensor:
    """fluidsynth under the soundfont after the reference's (``piece@soundfont.wav``), same MIDI."""
    names = list(SOUNDFONTS)
    try:
        other = names[(names.index(soundfont_of(path)) + 1) % len(names)]
    except ValueError:  # pieces from elsewhere (no bank in the name): the first bank
        other = names[0]
    out = render_midi(path.with_suffix(".mid").read_bytes(), Path("/") / SOUNDFONTS[other][1], RATE,
                      label=str(path), seconds=length / RATE + 1)
    return fit_length(out[0], length)


def audiodiff_synth(synth: MusicSynth, steps: int, told_bank: bool = False, guidance: float | None = None):
    def run(tracks, length: int, path: Path) -> torch.Tensor:
        bank = bank_of(path) if told_bank else None
        bank = bank if bank in synth.banks else None  # pieces from elsewhere: no bank
        return fit_length(synth(tracks, steps=steps, seed=0, bank=bank, guidance=guidance), length)

    return run


def reference_against_notes(scores: list[tuple[float, float, float]]) -> str:
    """The mean ``(F1, precision, recall)`` of the reference renders' detected onsets against their own
    MIDI note-ons, as a sentence."""
    f1, precision, recall = np.mean(scores, axis=0)
    return (f"The reference's detected onsets against the MIDI note-ons themselves: F1 {f1:.3f} "
            f"(precision {precision:.3f}, recall {recall:.3f}).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pieces", type=Path, default=Path("data/corpus/heldout/rendered"))
    parser.add_argument("--first", type=int, default=0,
                        help="skip the first FIRST pieces (in name order), e.g. to choose settings on pieces the default run does not score")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=20.0, help="render the first SECONDS of each piece")
    parser.add_argument("--model", default="music-midi", help="music-midi checkpoint, or none (baselines only)")
    parser.add_argument("--nfe", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--guidance", type=float, nargs="+",
                        help="also score these classifier-free guidance scales (first --nfe, told the bank)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    pieces = sorted(p for p in args.pieces.glob("*.wav") if p.with_suffix(".mid").is_file())[args.first : args.first + args.limit]
    if not pieces:
        raise SystemExit(f"no rendered pieces in {args.pieces}: run `audiodiff data build-corpus --out data/corpus`")
    args.out.mkdir(parents=True, exist_ok=True)
    synth = MusicSynth(args.model, device="cpu") if args.model != "none" else None
    harmonics = synth.model.observation.harmonics if synth else NotesSketch.harmonics
    systems = {"sine": additive(1), "harmonic sketch": additive(harmonics),
               "fluidsynth, another soundfont": other_soundfont}
    if synth is not None and synth.banks:
        systems |= {f"audiodiff NFE={n}, told the bank": audiodiff_synth(synth, n, told_bank=True) for n in args.nfe}
        systems[f"audiodiff NFE={args.nfe[0]}, no bank"] = audiodiff_synth(synth, args.nfe[0])
        systems |= {f"audiodiff NFE={args.nfe[0]}, told the bank, guidance {g:g}":
                    audiodiff_synth(synth, args.nfe[0], told_bank=True, guidance=g) for g in args.guidance or []}
    elif synth is not None:
        systems |= {f"audiodiff NFE={n}": audiodiff_synth(synth, n) for n in args.nfe}
    rows, reference_scores = [], []
    for index, path in enumerate(pieces):
        reference = load_audio(path, RATE, channels=1)[0][0][: int(args.seconds * RATE)]
        tracks = [type(t)(t.program, window_notes(t.notes, 0.0, args.seconds), t.name)
                  for t in read_midi(path.with_suffix(".mid"))]
        tracks = [t for t in tracks if len(t.notes)]
        note_ons = np.unique(np.concatenate([t.notes[:, 0] for t in tracks])) if tracks else np.zeros(0)
        reference_scores.append(mir_eval.onset.f_measure(note_ons, detect_onsets(reference, RATE), window=0.05))
        outputs = {"fluidsynth (reference)": reference}
        for name, run in systems.items():
            out, seconds = timed(lambda: run(tracks, reference.shape[-1], path))
            outputs[name] = out
            rows.append({"piece": path.stem, "system": name, "tracks": len(tracks),
                         "rtf": seconds / (reference.shape[-1] / RATE),
                         **music_synthesis_scores(out, reference, RATE),
                         "onset_f1_superflux": onset_f1(out, reference, RATE, detector="superflux"),
                         **onset_misses(out, reference, RATE, note_ons)})
        if index == 0:
            shown = [k for k in outputs if k.startswith("audiodiff")][:1] or ["harmonic sketch"]
            save_spectrograms(args.out / "music_spectrograms.png",
                              {k: outputs[k][: 8 * RATE] for k in ["fluidsynth (reference)", "sine", *shown]}, RATE)
        print(f"{index + 1}/{len(pieces)} {path.stem} ({len(tracks)} tracks)", flush=True)
    with open(args.out / "music.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    where = (f"{len(pieces)} held-out pieces ({args.pieces}), first {args.seconds:g} s of each, this machine's CPU, "
             f"{args.threads} thread(s)"
             + f", torch {torch.__version__}")
    text = "\n\n".join([
        "# MIDI synthesis", f"Run: `python benchmarks/music.py {' '.join(sys.argv[1:])}`; {where}.",
        table(rows, ("onset_f1", "chroma", "mrstft", "rtf", "onset_f1_superflux"), DIGITS),
        "Against the fluidsynth render of the same MIDI: onset F1 and chroma cosine higher is better, "
        f"multi-resolution STFT distance lower; RTF = seconds of processing per second of music. Onsets are found by "
        f"the {ONSET_DETECTOR} detector (`audiodiff.metrics.detect_onsets`, chosen on training renders by "
        "`benchmarks/onset_detector.py`); `onset_f1_superflux` is the same score with Böck and Widmer's SuperFlux, "
        "which reads a bank's vibrato as one note but misses slow attacks.",
        "## Onsets in detail",
        table(rows, ("onset_precision", "onset_recall", "missed_at_note", "missed_off_note"), DIGITS),
        "Shares of the reference's detected onsets that a system misses (none of its onsets within 50 ms): "
        "`missed_at_note` where a MIDI note starts within 50 ms, `missed_off_note` where none does (what the "
        "detector reads in the reference bank's sound itself: vibrato, a slow attack's late peak). "
        + reference_against_notes(reference_scores),
    ])
    (args.out / "music.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
