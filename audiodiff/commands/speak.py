"""``audiodiff speak "TEXT" -o out.wav`` or ``--file lines.tsv -o DIR/``: text to speech."""

from __future__ import annotations

import sys
from pathlib import Path

from audiodiff.audio import AudioError
from audiodiff.commands import verb
from audiodiff.commands.files import (check_task, check_writable, count, non_negative_int, positive_float, positive_int,
                                      read_text)

TASKS = ("speech-tts",)


def configure(parser):
    parser.add_argument("text", nargs="?", help="the text to speak (or --file)")
    parser.add_argument("--file", metavar="TSV", help="lines of id<TAB>text, each spoken to OUT/<id>.wav")
    parser.add_argument("-o", "--output", metavar="OUT", help="a .wav file (TEXT) or a folder (--file)")
    parser.add_argument("--voice", default=None, help="the voice (default: the model's first; --list-voices)")
    parser.add_argument("--list-voices", action="store_true", help="list the model's voices and exit")
    parser.add_argument("--model", default="speech-tts", help="shipped name or checkpoint folder")
    parser.add_argument("--vocoder", default="speech-vocoder", help="mel vocoder: shipped name or checkpoint folder")
    parser.add_argument("--steps", type=positive_int, default=None, help="sampler steps (default: the checkpoint's)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed: same seed, same speech")
    parser.add_argument("--pace", type=positive_float, default=1.0, help="speaking rate: above 1 is faster")
    parser.add_argument("--batch-size", type=positive_int, default=8, help="chunks per model call")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the models run")
    parser.add_argument("--plot", action="store_true", help="also write a spectrogram PNG beside each output")
    parser.add_argument("--overwrite", action="store_true", help="redo lines whose output exists (default: skip)")


def read_lines(path: str) -> list[tuple[str, str]]:
    """``(id, text)`` of each non-empty ``id<TAB>text`` line; AudioError naming the line of a bad one."""
    text = read_text(path, "lines of id<TAB>text")
    lines, seen = [], set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, tab, said = line.partition("\t")
        name = name.strip()
        if not tab or not name or "/" in name or name in (".", ".."):
            raise AudioError(f"{path}, line {number}: expected id<TAB>text (an id that is a file name)")
        if name in seen:
            raise AudioError(f"{path}, line {number}: the id {name!r} is used twice")
        seen.add(name)
        lines.append((name, said.strip()))
    if not lines:
        raise AudioError(f"{path}: no lines to speak")
    return lines


@verb("speak", "speak text in a recorded voice (espeak-ng's reading, turned into the voice by diffusion)", configure)
def speak(args) -> int:
    from tqdm import tqdm

    from audiodiff.pipelines.speak import TextToSpeech
    from audiodiff.pipelines.writing import write_enhanced
    from audiodiff.text import TextError, check_espeak, sentences

    check_task(args.model, TASKS, "speak")
    if args.list_voices:
        tts = TextToSpeech(args.model, vocoder=args.vocoder, device=args.device)
        print("\n".join(tts.voices))
        return 0
    if (args.text is None) == (args.file is None):
        raise ValueError("give the TEXT to speak or --file lines.tsv (one of them)")
    if not args.output:
        raise ValueError("give -o OUT: a .wav file for TEXT, a folder for --file")
    check_espeak()
    out = Path(args.output)
    if args.file:
        lines = read_lines(args.file)
        jobs = [(name, said, out / f"{name}.wav") for name, said in lines]
    else:
        if out.suffix.lower() != ".wav":
            raise ValueError(f"{out}: speech is written as .wav (give a file name ending in .wav)")
        jobs = [("text", args.text, out)]
    for name, said, _ in jobs:  # before anything loads: every line must have something to say
        if not sentences(said):
            raise TextError(f"{args.file + ', ' if args.file else ''}{name}: nothing to pronounce in {said!r}")
    check_writable({dst.parent for _, _, dst in jobs})
    todo = [job for job in jobs if args.overwrite or not job[2].exists()]
    if len(todo) < len(jobs):
        print(f"skipping {count(len(jobs) - len(todo))} already spoken (--overwrite to redo)")
    tts = TextToSpeech(args.model, vocoder=args.vocoder, device=args.device, steps=args.steps,
                       batch_size=args.batch_size)
    voice = tts.check_voice(args.voice)
    bar = tqdm(total=len(todo), unit="line", desc=f"speak ({voice})", disable=len(todo) < 2)
    written, failures = 0, []
    for (name, _, dst), (_, audio) in zip(todo, tts.speak_many([(n, s) for n, s, _ in todo], voice=voice,
                                                                seed=args.seed, pace=args.pace)):
        error = write_enhanced(Path(name), dst, audio, tts.sample_rate)
        if not error and args.plot:
            from audiodiff.plots import save_spectrograms

            save_spectrograms(dst.with_suffix(".png"), {f"{voice}: {name}": audio[0]}, tts.sample_rate)
        if error:
            failures.append(error)
        else:
            written += 1
        bar.update(1)
    bar.close()
    plots = "" if not (args.plot and written) else (" (spectrogram PNGs beside them)" if args.file
                                                     else f" (spectrogram: {out.with_suffix('.png')})")
    print(f"spoke {count(written, 'line' if args.file else 'text')} -> {out}{plots}")
    for line in failures:
        print(f"  {line}", file=sys.stderr)
    return 1 if failures else 0
