"""A complete diffusion model built from a config dict: representation + head + backbone + denoiser,
with its default sampler settings. This is what checkpoints store and pipelines run.

Config (``config.json`` of a checkpoint)::

    {"task": "generic",
     "representation": {"name": "complex_spec", "args": {...}},
     "backbone": {"name": "bandsplit", "args": {...}},
     "head": null or {"name": "noisy", "args": {...}},
     "observation": {"name": "noisy"} (default; "notes" for music-midi), "masked" (repair) or
                    "mel_inversion" (see observations),
     "sigma_data": 0.5,
     "sampling": {"solver": "dpmpp_2m", "steps": 8, "schedule": "karras",
                  "sigma_min": 0.002, "sigma_max": 80.0, "start": "noise" or "observation",
                  "guidance": 1.0 (optional: classifier-free guidance scale of conditional synthesis),
                  "attenuation_limit_db": 20 (optional, enhancement: remove at most this much; see Enhancer),
                  "band_level_db": -6 (optional, repair: the level of a restored band; see Repairer)}}
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from audiodiff.diffusion.denoiser import Denoiser
from audiodiff.diffusion.guidance import GuidedDenoiser
from audiodiff.diffusion.noise import randn
from audiodiff.diffusion.sampling import SAMPLERS, sample
from audiodiff.diffusion.schedules import SCHEDULES
from audiodiff.nn.backbones import BACKBONES
from audiodiff.nn.heads import HEADS
from audiodiff.observations import OBSERVATIONS, Condition
from audiodiff.registry import ConfigError
from audiodiff.representations import REPRESENTATIONS

DEFAULT_SAMPLING = {"solver": "dpmpp_2m", "steps": 8, "schedule": "karras", "sigma_min": 0.002, "sigma_max": 80.0,
                    "start": "noise"}
STARTS = ("noise", "observation")  # where sampling starts: pure noise, or the observation plus noise
CONFIG_KEYS = {"task", "representation", "backbone", "head", "observation", "sigma_data", "sampling"}


def _check_keys(where: str, given: dict, allowed: set) -> None:
    unexpected = sorted(set(given) - allowed)
    if unexpected:
        raise ConfigError(f"{where}: unexpected keys {', '.join(unexpected)} (allowed: {', '.join(sorted(allowed))})")


class DiffusionModel(nn.Module):
    """Everything needed to turn a condition (or nothing) into audio.

    Attributes:
        config: the (normalised) config dict this model was built from.
        representation: waveform <-> model space.
        observation: the user's input -> the model's condition (see :mod:`audiodiff.observations`).
        denoiser: ``D(x, sigma, cond)`` (its ``head`` and ``backbone`` are submodules).
    """

    def __init__(self, config: dict):
        super().__init__()
        if not isinstance(config, dict):
            raise ConfigError(f"a model config is a dict, got {type(config).__name__}")
        _check_keys("model config", config, CONFIG_KEYS)
        missing = sorted({"representation", "backbone"} - set(config))
        if missing:
            raise ConfigError(f"model config: missing keys {', '.join(missing)}")
        config = copy.deepcopy(config)
        sampling = {**DEFAULT_SAMPLING, **config.get("sampling", {})}
        _check_keys("sampling", sampling,
                    set(DEFAULT_SAMPLING) | {"rho", "guidance", "attenuation_limit_db", "band_level_db"})
        limit = sampling.get("attenuation_limit_db")
        if limit is not None and not (isinstance(limit, (int, float)) and limit >= 0):
            raise ConfigError(f"sampling attenuation_limit_db must be a number >= 0 (dB), got {limit!r}")
        level = sampling.get("band_level_db", 0)
        if not (isinstance(level, (int, float)) and math.isfinite(level)):
            raise ConfigError(f"sampling band_level_db must be a number (dB), got {level!r}")
        SAMPLERS[sampling["solver"]]  # fails early on an unknown solver
        if sampling["start"] not in STARTS:
            raise ConfigError(f"sampling start must be one of {', '.join(STARTS)}, got {sampling['start']!r}")
        if sampling["schedule"] not in SCHEDULES:
            raise ConfigError(f"unknown schedule {sampling['schedule']!r}; choose one of {sorted(SCHEDULES)}")
        config["sampling"] = sampling
        self.representation = REPRESENTATIONS.build(config["representation"])
        head = HEADS.build(config["head"]) if config.get("head") else None
        backbone_spec = copy.deepcopy(config["backbone"])
        args = backbone_spec.setdefault("args", {})
        for key, value in (("cond_channels", head.spatial_channels if head else 0),
                           ("global_dim", head.global_dim if head else 0)):
            if args.setdefault(key, value) != value:
                raise ConfigError(f"backbone {key}={args[key]} does not match the head's {value}")
        config["backbone"] = backbone_spec
        self.denoiser = Denoiser(BACKBONES.build(backbone_spec), head, config.get("sigma_data", 0.5))
        default = {"name": "notes" if config.get("task") == "music-midi" else "noisy"}
        observation = copy.deepcopy(config.get("observation") or default)
        shared = {"sample_rate": self.representation.sample_rate}
        if observation["name"] == "notes":  # a piano-roll frame per spectrogram frame
            shared["hop_length"] = self.representation.hop_length
        for key, value in shared.items():
            given = observation.setdefault("args", {}).setdefault(key, value)
            if given != value:
                raise ConfigError(f"observation {key}={given} does not match the model's {value}")
        self.observation = OBSERVATIONS.build(observation)
        if observation["name"] != "noisy":  # enhancement configs stay as they were
            config["observation"] = observation
        self.config = config

    @property
    def sample_rate(self) -> int:
        return self.representation.sample_rate

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def sigmas(self, steps: int | None = None, device=None) -> torch.Tensor:
        """The default noise schedule with ``steps`` steps: ``[steps + 1]``, ending at 0."""
        s = self.config["sampling"]
        kwargs = {"rho": s["rho"]} if "rho" in s and s["schedule"] == "karras" else {}
        return SCHEDULES[s["schedule"]](steps or s["steps"], s["sigma_min"], s["sigma_max"],
                                        device=device or self.device, **kwargs)

    @torch.no_grad()
    def generate(self, shape, condition: Condition | None = None, steps: int | None = None, solver: str | None = None,
                 generator=None, callback=None, guidance: float = 1.0) -> torch.Tensor:
        """Sample in model space: ``shape`` = ``[B, C, ...]`` -> tensor of that shape, given a
        :class:`~audiodiff.observations.Condition` (its ``observation.condition``; None for an
        unconditional model). Sampling starts from pure noise at ``sigma_max``, or (``"start":
        "observation"``) from the condition's ``start`` plus noise at ``sigma_max`` (SDEdit: a
        short refinement of the observation). ``guidance`` != 1: classifier-free guidance away from
        the head's null condition, see :mod:`audiodiff.diffusion.guidance`."""
        cond = condition.cond if condition is not None else None
        denoiser = self.denoiser
        if guidance != 1.0:
            if self.denoiser.head is None:
                raise ValueError("guidance needs a conditional model")
            denoiser = GuidedDenoiser(denoiser, self.denoiser.head.null(cond), guidance)
        sigmas = self.sigmas(steps)
        x = randn(shape, generator, self.device) * sigmas[0]
        if self.config["sampling"]["start"] == "observation":
            if condition is None or tuple(condition.start.shape) != tuple(shape):
                raise ValueError(f"starting from the observation needs a condition shaped {tuple(shape)}")
            x = x + condition.start
        return sample(denoiser, x, sigmas, solver or self.config["sampling"]["solver"],
                      cond=cond, generator=generator, callback=callback)
