"""Noise levels for sampling (decreasing sigmas ending at 0) and for training (sigma distributions).

Sampling schedules follow Karras et al. 2022 ("Elucidating the design space of diffusion-based
generative models", eq. 5) and a log-linear (exponential) spacing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from audiodiff.diffusion.noise import randn


def _append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def get_sigmas_karras(
    n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, device=None
) -> torch.Tensor:
    """``n`` noise levels spaced uniformly in ``sigma^(1/rho)``, then 0: shape ``[n + 1]``.

    Karras et al. 2022, eq. 5: ``sigma_i = (smax^(1/rho) + i/(n-1) (smin^(1/rho) - smax^(1/rho)))^rho``.
    """
    if n < 1:
        raise ValueError(f"need at least one step, got {n}")
    ramp = torch.linspace(0, 1, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return _append_zero(sigmas).float().to(device)


def get_sigmas_exponential(n: int, sigma_min: float, sigma_max: float, device=None) -> torch.Tensor:
    """``n`` noise levels spaced uniformly in ``log sigma``, then 0: shape ``[n + 1]``."""
    if n < 1:
        raise ValueError(f"need at least one step, got {n}")
    sigmas = torch.linspace(math.log(sigma_max), math.log(sigma_min), n, dtype=torch.float64).exp()
    return _append_zero(sigmas).float().to(device)


SCHEDULES = {"karras": get_sigmas_karras, "exponential": get_sigmas_exponential}


@dataclass(frozen=True)
class LogNormal:
    """Training noise levels ``ln sigma ~ N(mean, std^2)`` (EDM: mean -1.2, std 1.2)."""

    mean: float = -1.2
    std: float = 1.2

    def sample(self, batch: int, generator=None, device=None) -> torch.Tensor:
        """Draw ``[batch]`` sigmas."""
        return (self.mean + self.std * randn((batch,), generator, device)).exp()


@dataclass(frozen=True)
class LogUniform:
    """Training noise levels uniform in ``log sigma`` over ``[sigma_min, sigma_max]``; a share
    ``top_share`` of them exactly ``sigma_max`` instead (the level of a sampler's first step, where
    a one-step sample is the posterior mean)."""

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    top_share: float = 0.0

    def sample(self, batch: int, generator=None, device=None) -> torch.Tensor:
        """Draw ``[batch]`` sigmas."""
        u = torch.rand((batch,), generator=generator, device=device)
        lo, hi = math.log(self.sigma_min), math.log(self.sigma_max)
        sigma = (lo + u * (hi - lo)).exp()
        if self.top_share > 0:
            top = torch.rand((batch,), generator=generator, device=device) < self.top_share
            sigma = torch.where(top, torch.full_like(sigma, self.sigma_max), sigma)
        return sigma
