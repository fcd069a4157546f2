"""Checkpoint folders: ``config.json`` + ``model.safetensors`` (+ a ``README.md`` model card).

``from_pretrained`` resolves a local folder or a shipped name (``checkpoints/<name>/``), never the
network, and never unpickles anything.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from audiodiff.model import DiffusionModel
from audiodiff.registry import ConfigError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded safely: the message says which file and why."""


def checkpoint_dirs() -> list[Path]:
    """Where shipped names are looked up: ``$AUDIODIFF_CHECKPOINTS`` (``:``-separated), then the
    installed package's ``audiodiff/checkpoints/`` (a wheel carries the shipped models there), then
    the source tree's ``checkpoints/`` (a checkout or an editable install)."""
    dirs = [Path(p) for p in os.environ.get("AUDIODIFF_CHECKPOINTS", "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parent
    return dirs + [here / "checkpoints", here.parent / "checkpoints"]


def shipped_names() -> list[str]:
    """Names of the checkpoints found in :func:`checkpoint_dirs`."""
    return sorted({p.parent.name for d in checkpoint_dirs() for p in d.glob(f"*/{CONFIG_NAME}")})


def resolve(name_or_folder: str | os.PathLike) -> Path:
    """A checkpoint folder from a folder path or a shipped name."""
    path = Path(name_or_folder)
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES or _looks_pickled(path):
            raise CheckpointError(
                f"{path}: pickled checkpoints are refused (they can run code); "
                "convert a training .ckpt with `audiodiff export`"
            )
        raise CheckpointError(f"{path}: expected a checkpoint folder with {CONFIG_NAME} and {WEIGHTS_NAME}")
    if path.is_dir():
        return path
    for root in checkpoint_dirs():
        if (root / str(name_or_folder) / CONFIG_NAME).is_file():
            return root / str(name_or_folder)
    known = ", ".join(shipped_names()) or "none"
    raise CheckpointError(f"{name_or_folder}: no such checkpoint folder or shipped model (shipped: {known})")


def _looks_pickled(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(2)
    return head[:1] == b"\x80" or head == b"PK"  # pickle protocol >= 2, or torch.save's zip


def save_pretrained(model: DiffusionModel, folder: str | os.PathLike, card: str | None = None) -> Path:
    """Write ``config.json``, ``model.safetensors`` (float32, contiguous) and an optional model card."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_NAME), metadata={"format": "pt"})
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder / WEIGHTS_NAME, 0o666 & ~umask)  # safetensors writes 0600
    (folder / CONFIG_NAME).write_text(json.dumps(model.config, indent=2) + "\n")
    if card is not None:
        (folder / CARD_NAME).write_text(card)
    return folder


def load_config(folder: Path) -> dict:
    try:
        config = json.loads((folder / CONFIG_NAME).read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: no {CONFIG_NAME}") from None
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{folder / CONFIG_NAME}: not valid JSON ({err})") from None
    return config


def from_pretrained(name_or_folder: str | os.PathLike, device: str | torch.device = "cpu") -> DiffusionModel:
    """Rebuild a model from its config alone and load its safetensors weights (eval mode)."""
    folder = resolve(name_or_folder)
    try:
        model = DiffusionModel(load_config(folder))
    except ConfigError as err:
        raise CheckpointError(f"{folder / CONFIG_NAME}: {err}") from None
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{folder}: no {WEIGHTS_NAME}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights}: not a safetensors file ({err}); pickled weights are refused") from None
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shape mismatches raise even with strict=False
        raise CheckpointError(f"{weights}: weights do not match the config ({err})") from None
    if missing or unexpected:
        raise CheckpointError(f"{weights}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.to(device).eval()


def _grew_inputs(theirs: torch.Tensor, own: torch.Tensor) -> bool:
    """Whether ``own`` is the weight ``theirs`` with more inputs (dim 1), all else the same."""
    return (own.dim() >= 2 and own.dim() == theirs.dim() and own.shape[1] > theirs.shape[1]
            and own.shape[:1] + own.shape[2:] == theirs.shape[:1] + theirs.shape[2:])


def load_grown(model: DiffusionModel, source: DiffusionModel, name: str) -> list[str]:
    """Load ``source``'s weights into ``model``, which may have layers ``source`` lacks (they keep
    their initialisation) and input layers with more inputs (new conditioning channels, which
    heads append after the old ones: their weights start at zero, so the loaded model's output is
    unchanged at the first step); a weight of ``source`` that ``model`` lacks or shapes otherwise
    is an error. Returns notes on what grew and what kept its initialisation."""
    own, theirs = model.state_dict(), dict(source.state_dict())
    grown = {k: v.shape[1] for k, v in theirs.items() if k in own and _grew_inputs(v, own[k])}  # old inputs
    for key, inputs in grown.items():
        padded = torch.zeros_like(own[key])
        padded[:, :inputs] = theirs[key]
        theirs[key] = padded
    reshaped = [k for k, v in theirs.items() if k in own and own[k].shape != v.shape]
    if reshaped:
        key = reshaped[0]
        raise ValueError(f"init_from {name}: {len(reshaped)} weights differ in shape from the recipe's model "
                         f"(e.g. {key}: {tuple(theirs[key].shape)} in the checkpoint, {tuple(own[key].shape)} "
                         f"here); the checkpoint's config is another formulation or size (see its config.json)")
    missing, unexpected = model.load_state_dict(theirs, strict=False)
    if unexpected:
        raise ValueError(f"init_from {name}: the recipe's model has no place for {', '.join(unexpected[:5])}"
                         f"{' ...' if len(unexpected) > 5 else ''} (change the model config to match the checkpoint)")
    notes = [f"init_from {name}: {key} grew from {inputs} to {own[key].shape[1]} inputs; the new ones start at zero"
             for key, inputs in grown.items()]
    if missing:
        modules = sorted({re.sub(r"^(.*?\.\d+)\..*$", r"\1", k) for k in missing})
        notes.append(f"init_from {name}: {len(missing)} new tensors keep their initialisation "
                     f"({', '.join(modules[:8])}{' ...' if len(modules) > 8 else ''})")
    return notes
