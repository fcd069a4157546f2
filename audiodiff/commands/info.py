"""``audiodiff info MODEL``."""

from __future__ import annotations

import json

from audiodiff.commands import verb
from audiodiff.hub import from_pretrained, shipped_names


def configure(parser):
    parser.add_argument("model", help=f"a checkpoint folder or a shipped name ({', '.join(shipped_names()) or 'none yet'})")
    parser.add_argument("--json", action="store_true", help="print the full config as JSON")


@verb("info", "describe a checkpoint: task, representation, backbone, size, default sampler", configure)
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
