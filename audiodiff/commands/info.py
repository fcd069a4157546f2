"""``audiodiff info [MODEL]``: the shipped models, or one checkpoint in detail."""

from __future__ import annotations

import json

from audiodiff.commands import verb
from audiodiff.hub import from_pretrained, load_config, resolve, shipped_names


def configure(parser):
    parser.add_argument("model", nargs="?", default=None,
                        help="a checkpoint folder or a shipped name (without it: list the shipped models)")
    parser.add_argument("--json", action="store_true", help="print the full config as JSON")


def list_shipped() -> int:
    """One line per shipped model: name, task, sample rate, where it lives."""
    names = shipped_names()
    if not names:
        print("no shipped models found (set AUDIODIFF_CHECKPOINTS to a folder of checkpoints)")
        return 1
    print(f"{'model':24s} {'task':18s} {'rate':>8s}  folder")
    for name in names:
        folder = resolve(name)
        config = load_config(folder)
        rate = config["representation"]["args"].get("sample_rate", "?")
        print(f"{name:24s} {config.get('task', 'generic'):18s} {rate:>8} Hz  {folder}")
    return 0


@verb("info", "list the shipped models, or describe one: task, representation, backbone, size, default sampler",
      configure)
def info(args) -> int:
    if args.model is None:
        return list_shipped()
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
