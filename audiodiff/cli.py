"""The ``audiodiff`` command line: one verb per module in ``audiodiff.commands``."""

from __future__ import annotations

import argparse
import sys

import audiodiff
from audiodiff.commands import VERBS
from audiodiff.commands import data, denoise, evaluate, export, fit, info, repair, speak, synth, vocode  # noqa: F401 (registers verbs)
from audiodiff.diffusion.sampling import SAMPLERS
from audiodiff.hub import CheckpointError

PASS_THROUGH = {"fit"}  # verbs whose unknown arguments go to another parser


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows meaningful defaults (not None or False, nor twice), and keeps the line breaks of a
    verb's epilog (formats, examples)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audiodiff",
        description="Diffusion-based audio enhancement and synthesis. "
        f"Samplers: {', '.join(SAMPLERS.names())}.",
    )
    parser.add_argument("--version", action="version", version=f"audiodiff {audiodiff.__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, (fn, configure, help_text) in VERBS.items():
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=_HelpFormatter)
        configure(p)
        p.set_defaults(run=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.verb not in PASS_THROUGH:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (CheckpointError, audiodiff.AudioError, ValueError) as err:  # bad input or model: one clear line
        print(f"audiodiff {args.verb}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
