"""The denoiser ``D(x, sigma, cond) -> x0_hat`` and its training loss.

Preconditioning follows Karras et al. 2022 ("Elucidating the design space...", Table 1, EDM
column): with ``s = sigma_data``,

    c_skip = s^2 / (sigma^2 + s^2)         c_out = sigma s / sqrt(sigma^2 + s^2)
    c_in   = 1 / sqrt(sigma^2 + s^2)       c_noise = ln(sigma) / 4
    D(x, sigma) = c_skip x + c_out F(c_in x, c_noise)

and the loss ``E[lambda(sigma) |D(x0 + sigma n, sigma) - x0|^2]`` with
``lambda = (sigma^2 + s^2) / (sigma s)^2``, so the network target has unit variance at every level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from audiodiff.diffusion.noise import randn_like
from audiodiff.diffusion.schedules import LogNormal


def append_dims(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """Append trailing singleton axes so ``t`` ``[B]`` broadcasts against a rank-``ndim`` tensor."""
    if t.ndim > ndim:
        raise ValueError(f"cannot broadcast a rank-{t.ndim} tensor to rank {ndim}")
    return t.reshape(*t.shape, *([1] * (ndim - t.ndim)))


class Denoiser(nn.Module):
    """EDM-preconditioned denoiser around any backbone, for tensors of any rank.

    Args:
        backbone: ``F(x, noise, spatial=None, global_emb=None)`` mapping ``[B, C, ...]`` to the
            same shape, with ``noise`` ``[B]``.
        head: optional conditioning head; ``head(cond)`` returns ``(spatial, global_emb)``.
        sigma_data: standard deviation of the training data in model space.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module | None = None, sigma_data: float = 0.5):
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.sigma_data = float(sigma_data)

    def preconditioning(self, sigma: torch.Tensor):
        """``(c_skip, c_out, c_in, c_noise)``, each shaped like ``sigma`` ``[B]``."""
        s2 = self.sigma_data**2
        total = sigma**2 + s2
        return s2 / total, sigma * self.sigma_data / total.sqrt(), total.rsqrt(), sigma.log() / 4

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, cond=None) -> torch.Tensor:
        """Estimate the clean ``x0`` from ``x`` ``[B, C, ...]`` at noise level ``sigma`` ``[B]``."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(x.shape[0])
        c_skip, c_out, c_in, c_noise = self.preconditioning(sigma)
        c_skip, c_out, c_in = (append_dims(c, x.ndim) for c in (c_skip, c_out, c_in))
        spatial, global_emb = self.head(cond) if self.head is not None else (None, None)
        out = self.backbone(c_in * x, c_noise, spatial=spatial, global_emb=global_emb)
        return c_skip * x + c_out * out.to(x.dtype)


@dataclass
class EDMLoss:
    """Denoising score matching with EDM weighting, noise levels from ``sigma_distribution``.

    ``loss(denoiser, x0, cond)`` returns the mean weighted squared error (a scalar).

    With ``bridge_sigma`` set, the noisy input also drifts toward ``start`` (the encoded
    observation, shaped like ``x0``): ``x = x0 + sigma * (noise + (start - x0) / bridge_sigma)``, so
    at ``sigma = bridge_sigma`` it is the observation plus noise, where sampling that starts from the
    observation begins. The shift grows linearly with sigma like the noise does, so the usual
    samplers (which move ``x - D(x)`` in proportion to sigma) follow this path unchanged.
    """

    sigma_distribution: object = field(default_factory=LogNormal)
    bridge_sigma: float | None = None
    overshoot_weight: float = 1.0

    def __call__(self, denoiser: Denoiser, x0: torch.Tensor, cond=None, generator=None,
                 start: torch.Tensor | None = None) -> torch.Tensor:
        sigma = self.sigma_distribution.sample(x0.shape[0], generator=generator, device=x0.device)
        noisy = x0 + append_dims(sigma, x0.ndim) * randn_like(x0, generator)
        if self.bridge_sigma is not None:
            if start is None or start.shape != x0.shape:
                raise ValueError("a bridge loss needs the encoded observation, shaped like x0, as start")
            noisy = noisy + append_dims(sigma / self.bridge_sigma, x0.ndim) * (start - x0)
        return weighted_error(denoiser, noisy, sigma, x0, cond, self.overshoot_weight)


def weighted_error(denoiser: Denoiser, noisy: torch.Tensor, sigma: torch.Tensor, x0: torch.Tensor,
                   cond=None, overshoot_weight: float = 1.0) -> torch.Tensor:
    """EDM's weighted squared error of ``D(noisy, sigma)`` against ``x0`` (``[B, C, ...]``, ``sigma``
    ``[B]``), averaged: a scalar.

    ``overshoot_weight`` scales the squared error where the estimate exceeds the target. In a
    magnitude representation that excess is noise left in, and undershoot is speech taken out: a
    weight above 1 moves the optimum from the posterior mean to a lower expectile (level
    ``1 / (1 + overshoot_weight)``), trading a little speech for a quieter background.
    """
    weight = (sigma**2 + denoiser.sigma_data**2) / (sigma * denoiser.sigma_data) ** 2
    difference = denoiser(noisy, sigma, cond) - x0
    squared = difference.pow(2)
    if overshoot_weight != 1.0:
        squared = torch.where(difference > 0, overshoot_weight * squared, squared)
    return (weight * squared.flatten(1).mean(1)).mean()


@dataclass
class TrajectoryLoss:
    """The denoising loss at the states a few-step sampler itself visits, not at states drawn from
    the training path.

    A sampler's intermediate state carries the errors of its earlier estimates, which the training
    path (clean signal plus fresh noise) never shows the network: the mismatch that makes extra
    steps worse (exposure bias; CRP, Lemercier et al. 2023, trains through the reverse process for the
    same reason). Here a batch runs ``k`` of ``n`` steps of ``solver`` from ``start`` (the
    sampler's start: the observation plus noise at ``sigmas(n)[0]``) without gradients, with
    ``n`` drawn from ``steps`` and ``k`` from ``1 .. n - 1``, and the network learns to map that
    state to ``x0`` at its noise level, with EDM's weighting.

    ``sigmas(n)`` is the sampler's schedule ``[n + 1]`` ending at 0.
    """

    sigmas: Callable[[int], torch.Tensor]
    steps: tuple[int, ...] = (2, 4, 8)
    solver: str = "dpmpp_2m"
    overshoot_weight: float = 1.0

    def __call__(self, denoiser: Denoiser, x0: torch.Tensor, start: torch.Tensor, cond=None,
                 generator=None) -> torch.Tensor:
        from audiodiff.diffusion.sampling import sample

        choice = torch.randint(len(self.steps), (), generator=generator).item()
        steps = self.steps[choice]
        taken = int(torch.randint(1, steps, (), generator=generator).item())
        sigmas = self.sigmas(steps).to(x0.device)
        x = start + sigmas[0] * randn_like(start, generator)
        with torch.no_grad():
            x = sample(denoiser, x, sigmas[: taken + 1], self.solver, cond=cond)
        return weighted_error(denoiser, x, sigmas[taken].expand(x0.shape[0]), x0, cond, self.overshoot_weight)
