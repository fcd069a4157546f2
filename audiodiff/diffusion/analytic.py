"""Data whose exact denoiser is known, to verify samplers against ground truth.

For data ``x0 ~ p`` and ``x = x0 + sigma n``, the optimal denoiser is ``D(x, sigma) = E[x0 | x]``
(Tweedie). Both classes below are callables ``D(x, sigma[B], cond=None)`` with the same contract as
:class:`audiodiff.diffusion.denoiser.Denoiser`, on audio-shaped tensors ``[B, 1, T]``.
"""

from __future__ import annotations

import math

import torch


def _sigma(sigma, x: torch.Tensor) -> torch.Tensor:
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(x.shape[0])
    return sigma.reshape(-1, *([1] * (x.ndim - 1)))


def audio_profile(length: int, dtype=torch.float64) -> torch.Tensor:
    """A deterministic, audio-like shape ``[1, length]``: a decaying sum of three partials."""
    t = torch.arange(length, dtype=dtype) / 16_000
    env = torch.exp(-3 * t / max(t[-1].item(), 1e-9))
    wave = sum(a * torch.sin(2 * math.pi * f * t + p) for a, f, p in ((1.0, 220, 0.1), (0.5, 440, 1.0), (0.25, 660, 2.0)))
    return (0.4 * env * wave)[None]


class GaussianData:
    """Independent Gaussian samples with a per-sample standard deviation ``std`` ``[C, T]``.

    ``D(x, sigma) = std^2 / (std^2 + sigma^2) x`` and the probability-flow ODE has the closed form
    ``x(sigma) = x(sigma_0) sqrt(std^2 + sigma^2) / sqrt(std^2 + sigma_0^2)``.
    """

    def __init__(self, std: torch.Tensor):
        self.std = std

    def __call__(self, x, sigma, cond=None):
        var = self.std.to(x) ** 2
        return var / (var + _sigma(sigma, x) ** 2) * x

    def flow(self, x: torch.Tensor, sigma_from: float, sigma_to: float) -> torch.Tensor:
        """Exact solution of the probability-flow ODE from ``sigma_from`` to ``sigma_to``."""
        var = self.std.to(x) ** 2
        return x * torch.sqrt((var + sigma_to**2) / (var + sigma_from**2))

    def draw(self, batch: int, generator=None) -> torch.Tensor:
        return self.std * torch.randn(batch, *self.std.shape, generator=generator, dtype=self.std.dtype)


class GaussianMixtureData:
    """A mixture of isotropic Gaussians ``sum_k w_k N(mu_k, std^2 I)`` with means ``[K, C, T]``.

    ``D(x, sigma) = sum_k r_k(x) (mu_k + std^2 / (std^2 + sigma^2) (x - mu_k))`` with responsibilities
    ``r_k`` under ``N(mu_k, (std^2 + sigma^2) I)``.
    """

    def __init__(self, means: torch.Tensor, weights: torch.Tensor, std: float):
        self.means, self.weights, self.std = means, weights / weights.sum(), float(std)

    def __call__(self, x, sigma, cond=None):
        means = self.means.to(x)
        var = self.std**2 + _sigma(sigma, x) ** 2  # [B, 1, 1]
        diff = x[:, None] - means[None]  # [B, K, C, T]
        dist = diff.pow(2).flatten(2).sum(-1)  # [B, K]
        logits = self.weights.to(x).log()[None] - dist / (2 * var.flatten(1))
        resp = logits.softmax(dim=1).reshape(*logits.shape, *([1] * (x.ndim - 1)))
        shrink = (self.std**2 / var)[:, None]
        return (resp * (means[None] + shrink * diff)).sum(1)

    def draw(self, batch: int, generator=None) -> torch.Tensor:
        k = torch.multinomial(self.weights, batch, replacement=True, generator=generator)
        noise = torch.randn(batch, *self.means.shape[1:], generator=generator, dtype=self.means.dtype)
        return self.means[k] + self.std * noise


def audio_gaussian(length: int = 4096) -> GaussianData:
    """Gaussian data ``[1, length]`` whose standard deviation follows an audio-like envelope."""
    return GaussianData(0.05 + audio_profile(length).abs())


def audio_mixture(length: int = 4096) -> GaussianMixtureData:
    """Two components (a tone and its inverted, quieter twin), std 0.1, weights 0.3 / 0.7."""
    profile = audio_profile(length)
    means = torch.stack([profile, -0.5 * profile])
    return GaussianMixtureData(means, torch.tensor([0.3, 0.7], dtype=torch.float64), 0.1)


def solve_flow_reference(denoiser, x: torch.Tensor, sigma_from: float, sigma_to: float,
                         steps: int = 4000) -> torch.Tensor:
    """A fine classical RK4 solution of the PF-ODE in ``u = ln sigma`` (``dx/du = x - D``), in float64.

    ``sigma_to`` must be > 0; the last jump to 0 is ``D(x, sigma_to)`` by the caller's convention.
    """
    x = x.double()
    us = torch.linspace(math.log(sigma_from), math.log(sigma_to), steps + 1, dtype=torch.float64)

    def f(state, u):
        return state - denoiser(state, torch.exp(u), None)

    for u, u_next in zip(us[:-1], us[1:]):
        h = u_next - u
        k1 = f(x, u)
        k2 = f(x + h / 2 * k1, u + h / 2)
        k3 = f(x + h / 2 * k2, u + h / 2)
        k4 = f(x + h * k3, u_next)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x
