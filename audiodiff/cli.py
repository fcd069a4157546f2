"""The ``audiodiff`` command line. Each verb is a small function registered in ``VERBS``."""

from __future__ import annotations

import argparse
import json
import sys

import audiodiff
from audiodiff.diffusion.sampling import SAMPLERS
from audiodiff.hub import CheckpointError, from_pretrained, shipped_names

VERBS = {}


def verb(name: str, help: str):
    """Register ``fn(args)`` as a sub-command; ``fn.configure(parser)`` adds its options."""

    def add(fn):
        VERBS[name] = (fn, help)
        return fn

    return add


def _configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=f"a checkpoint folder or a shipped name ({', '.join(shipped_names()) or 'none yet'})")
    parser.add_argument("--json", action="store_true", help="print the full config as JSON")


@verb("info", "describe a checkpoint: task, representation, backbone, size, default sampler")
def info(args) -> int:
    model = from_pretrained(args.model)
    if args.json:
        print(json.dumps(model.config, indent=2))
        return 0
    cfg = model.config
    params = sum(p.numel() for p in model.parameters())
    head = cfg.get("head") or {"name": "none"}
    s = cfg["sampling"]
    print(f"task            {cfg.get('task', 'generic')}")
    print(f"sample rate     {model.sample_rate} Hz")
    print(f"representation  {cfg['representation']['name']}")
    print(f"backbone        {cfg['backbone']['name']} ({params / 1e6:.2f} M parameters)")
    print(f"head            {head['name']}")
    print(f"sampler         {s['solver']}, {s['steps']} steps, {s['schedule']} schedule "
          f"sigma {s['sigma_min']}..{s['sigma_max']}")
    return 0


info.configure = _configure_info


def _configure_fit(parser: argparse.ArgumentParser) -> None:
    parser.usage = "audiodiff fit --config RECIPE.yaml [--trainer.max_steps N] [--model.init_from NAME] ..."
    parser.epilog = ("Every other argument goes to Lightning's CLI: see `audiodiff fit --config RECIPE.yaml "
                     "--print_config` for all keys.")


@verb("fit", "train or fine-tune from a YAML recipe (Lightning CLI: --config recipes/<task>/<recipe>.yaml)")
def fit(args) -> int:
    from audiodiff.training.cli import run  # Lightning is imported only for training

    return run(["fit", *args.extra])


fit.configure = _configure_fit


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="audiodiff",
        description="Diffusion-based audio enhancement and synthesis. "
        f"Samplers: {', '.join(SAMPLERS.names())}.",
    )
    parser.add_argument("--version", action="version", version=f"audiodiff {audiodiff.__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, (fn, help_text) in VERBS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        fn.configure(p)
        p.set_defaults(run=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.verb != "fit":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (CheckpointError, audiodiff.AudioError) as err:
        print(f"audiodiff {args.verb}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
