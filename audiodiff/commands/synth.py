"""``audiodiff synth song.mid -o out.wav``: render MIDI files to audio with the music-midi model."""

from __future__ import annotations

from tqdm import tqdm

from audiodiff.audio import AudioError
from audiodiff.commands import verb
from audiodiff.commands.files import add_run_options, check_task, non_negative_float, plan_jobs, report
from audiodiff.notes import FAMILIES, MIDI_SUFFIXES
from audiodiff.pipelines.writing import remove_stale_parts, write_enhanced

EPILOG = f"""\
Every pitched track is rendered by the instrument family of its General MIDI program (drum tracks
are left out), or all of them by --instrument: a program number (0-127), an instrument name
('violin', 'acoustic grand piano') or a family ({', '.join(FAMILIES)}). The model is told both the
program and its family, so 'violin' and 'cello' sound apart, and a family name ('strings') leaves
the program open. Output: mono .wav at the model's rate (22.05 kHz), as long as the music plus one
second.

examples:
  audiodiff synth song.mid -o song.wav
  audiodiff synth song.mid -o song_violin.wav --instrument violin --guidance 2 --seed 3
  audiodiff synth scores/ -o renders/ --plot          # every .mid/.midi under scores/
"""


def configure(parser):
    parser.epilog = EPILOG
    parser.add_argument("inputs", nargs="*", metavar="MIDI",
                        help="MIDI files (.mid, .midi), folders (searched recursively) or globs")
    parser.add_argument("--midi", nargs="+", default=[], metavar="MIDI", help="the same, for scripts that name it")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder (relative names are kept, as .wav); a .wav name when MIDI is one file")
    parser.add_argument("--instrument", default=None,
                        help="play every track on this instrument: a GM program 0-127, an instrument name "
                             "('violin') or a family ('strings': the family without a program in particular); "
                             "default: each track's own program")
    parser.add_argument("--bank", default=None,
                        help="imitate one of the sound banks the model was trained on (music-midi: fluidr3, "
                             "timgm6mb, musescore; default: none in particular)")
    parser.add_argument("--model", default="music-midi", help="shipped name or checkpoint folder")
    add_run_options(parser, plot_help="also write a spectrogram PNG (the notes' harmonic sketch above the rendering)")
    parser.add_argument("--guidance", type=non_negative_float, default=None,
                        help="classifier-free guidance toward the instrument: 1 = none, 2-3 = stronger "
                             "(default: the checkpoint's; each step then costs two model calls)")


@verb("synth", "render MIDI files to audio (music synthesis)", configure)
def synth(args) -> int:
    from audiodiff.notes import harmonic_sketch, instrument_program
    from audiodiff.pipelines.synth import MusicSynth

    if args.instrument is not None:
        try:
            instrument_program(args.instrument)
        except ValueError as err:
            raise SystemExit(f"--instrument: {err}") from None
    inputs = args.inputs + args.midi
    if not inputs:
        raise ValueError("no MIDI input: name MIDI files, folders or globs (audiodiff synth song.mid -o song.wav)")
    check_task(args.model, ("music-midi",), "synth")
    jobs, todo = plan_jobs(inputs, MIDI_SUFFIXES, args.output, args.overwrite, rename=lambda rel: rel.with_suffix(".wav"))
    synthesizer = MusicSynth(args.model, device=args.device, steps=args.steps, solver=args.solver,
                             guidance=args.guidance, chunk_seconds=args.chunk_seconds,
                             overlap_seconds=min(0.5, args.chunk_seconds / 4), batch_size=args.batch_size)
    try:
        synthesizer.check_bank(args.bank)
    except ValueError as err:
        raise SystemExit(f"--bank: {args.model}: {err}") from None
    remove_stale_parts([dst for _, dst in jobs])
    failures, written, parsed = [], 0, {}
    for src, _ in todo:
        try:
            parsed[src] = synthesizer.tracks(src)
        except AudioError as err:
            failures.append(str(err))
    bar = tqdm(total=sum(synthesizer.chunks_for(tracks) for tracks in parsed.values()), unit="chunk", desc="synth")
    for src, dst in todo:
        if src not in parsed:
            continue
        audio = synthesizer(parsed[src], instrument=args.instrument, seed=args.seed, on_chunks=bar.update,
                            bank=args.bank)
        sketch = None
        if args.plot:
            notes = [track.notes for track in parsed[src]]
            partials = synthesizer.model.observation.harmonics
            sketch = sum(harmonic_sketch(n, synthesizer.sample_rate, audio.shape[-1], partials) for n in notes)[None]
        error = write_enhanced(src, dst, audio[None], synthesizer.sample_rate, sketch, labels=("sketch", "audiodiff"))
        if error:
            failures.append(error)
        else:
            written += 1
    bar.close()
    return report(args.output, written, failures, args.plot, verb="rendered")
