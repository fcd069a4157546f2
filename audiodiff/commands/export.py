"""``audiodiff export CKPT OUT``: a training checkpoint to a safetensors checkpoint folder (the weights' moving
average, which a checkpoint's ``state_dict`` holds; ``--raw``: its ``current_model_state``)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from audiodiff.commands import verb
from audiodiff.hub import CheckpointError, save_pretrained
from audiodiff.model import DiffusionModel


def configure(parser):
    parser.add_argument("checkpoint", help="a Lightning .ckpt written by `audiodiff fit`")
    parser.add_argument("output", help="checkpoint folder to write (config.json, model.safetensors)")
    parser.add_argument("--card", default=None, help="a model card (markdown) to copy in as README.md")
    parser.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA")
    parser.add_argument("--steps", type=int, default=None,
                        help="default sampler steps stored in the config (e.g. the best measured on a dev set)")
    parser.add_argument("--attenuation-limit", type=float, default=None, metavar="DB",
                        help="default attenuation limit of enhancement stored in the config (see denoise; inf: none)")
    parser.add_argument("--band-level", type=float, default=None, metavar="DB",
                        help="level of a band restored by repair, stored in the config (e.g. -6: 6 dB below "
                             "the model's estimate, where the log-spectral distance is lowest)")


def export_checkpoint(checkpoint: Path, output: Path, card: str | None = None, ema: bool = True,
                      steps: int | None = None, attenuation_limit_db: float | None = None,
                      band_level_db: float | None = None) -> DiffusionModel:
    """Load ``checkpoint`` with ``weights_only=True`` (no code runs) and write a checkpoint folder
    (``steps``: a new default number of sampler steps; ``attenuation_limit_db``: a new default limit;
    ``band_level_db``: the level of a band restored by repair)."""
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{checkpoint}: not loadable with weights_only=True ({err})") from None
    config = state.get("hyper_parameters", {}).get("model")
    if not isinstance(config, dict):
        raise CheckpointError(f"{checkpoint}: no model config in its hyper-parameters")
    sampling = dict(config.get("sampling", {}))
    if steps is not None:
        if steps < 1:
            raise ValueError(f"--steps must be at least 1, got {steps}")
        sampling["steps"] = steps
    if attenuation_limit_db is not None:  # inf: no limit, so no key (JSON has no infinity)
        sampling.pop("attenuation_limit_db", None)
        if not math.isinf(attenuation_limit_db):
            sampling["attenuation_limit_db"] = attenuation_limit_db
    if band_level_db is not None:
        sampling["band_level_db"] = band_level_db
    config = {**config, "sampling": sampling}
    model = DiffusionModel(config)
    weights = state["state_dict"] if ema else state.get("current_model_state")  # (the average, the raw)
    if weights is None:
        raise CheckpointError(f"{checkpoint}: no raw weights (current_model_state) beside the average")
    weights = {k[len("model."):]: v for k, v in weights.items() if k.startswith("model.")}
    model.load_state_dict(weights)
    save_pretrained(model, output, card)
    return model


@verb("export", "turn a training checkpoint (.ckpt) into a shippable folder (safetensors + config)", configure)
def export(args) -> int:
    card = Path(args.card).read_text() if args.card else None
    export_checkpoint(Path(args.checkpoint), Path(args.output), card, ema=not args.raw, steps=args.steps,
                      attenuation_limit_db=args.attenuation_limit, band_level_db=args.band_level)
    print(f"wrote {args.output}")
    return 0
