"""Stateless samplers for the probability-flow ODE and the reverse SDE in the EDM parametrisation.

Every sampler is a plain function

    sample_<name>(denoiser, x, sigmas, *, cond=None, generator=None, callback=None) -> x0

where ``x`` is the start (unit noise times ``sigmas[0]``, or any state at that level), ``sigmas``
is a decreasing ``[n + 1]`` tensor that normally ends at 0, ``denoiser(x, sigma[B], cond)``
estimates the clean signal, and ``generator`` is None, one ``torch.Generator`` or a list with one
per batch item (so stochastic samplers give an item the same result alone or inside a batch).
``callback`` receives ``{"i", "sigma", "sigma_next", "x", "denoised"}`` after each step.

The ODE is ``dx/dsigma = (x - D(x, sigma)) / sigma`` (Karras et al. 2022, eq. 1 with sigma(t)=t).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from audiodiff.diffusion.denoiser import append_dims
from audiodiff.diffusion.noise import randn_like
from audiodiff.registry import Registry

SAMPLERS = Registry("sampler")


def _denoise(denoiser, x: torch.Tensor, sigma: torch.Tensor, cond) -> torch.Tensor:
    return denoiser(x, sigma.to(x.dtype).expand(x.shape[0]), cond)


def _slope(x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """The ODE's derivative ``dx/dsigma = (x - D) / sigma``."""
    return (x - denoised) / sigma


def _report(callback, i, sigmas, x, denoised):
    if callback is not None:
        callback({"i": i, "sigma": sigmas[i], "sigma_next": sigmas[i + 1], "x": x, "denoised": denoised})


def _register(name: str, evals_per_step: int):
    """Register a sampler with how many denoiser calls a step costs (the final step to 0 costs 1)."""

    def add(fn):
        fn.evals_per_step = evals_per_step
        return SAMPLERS.register(name)(fn)

    return add


@_register("euler", 1)
@torch.no_grad()
def sample_euler(denoiser, x, sigmas, *, cond=None, generator=None, callback=None):
    """Euler's method on the probability-flow ODE (first order; equals DDIM, Song et al. 2021)."""
    for i in range(len(sigmas) - 1):
        denoised = _denoise(denoiser, x, sigmas[i], cond)
        x = x + _slope(x, sigmas[i], denoised) * (sigmas[i + 1] - sigmas[i])
        _report(callback, i, sigmas, x, denoised)
    return x


@_register("heun", 2)
@torch.no_grad()
def sample_heun(denoiser, x, sigmas, *, cond=None, generator=None, callback=None):
    """Heun's second-order method (Karras et al. 2022, Algorithm 1 without churn)."""
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = _denoise(denoiser, x, sigma, cond)
        slope = _slope(x, sigma, denoised)
        euler = x + slope * (sigma_next - sigma)
        if sigma_next > 0:
            slope_next = _slope(euler, sigma_next, _denoise(denoiser, euler, sigma_next, cond))
            x = x + 0.5 * (slope + slope_next) * (sigma_next - sigma)
        else:
            x = euler
        _report(callback, i, sigmas, x, denoised)
    return x


@_register("dpmpp_2m", 1)
@torch.no_grad()
def sample_dpmpp_2m(denoiser, x, sigmas, *, cond=None, generator=None, callback=None):
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): second-order multistep in ``lambda = -ln sigma``.

    ``x' = (sigma'/sigma) x + (1 - sigma'/sigma) D_2`` with
    ``D_2 = (1 + 1/(2r)) D_i - 1/(2r) D_{i-1}``, ``r = h_{i-1} / h_i``; first order on the first
    step and on the last step to sigma = 0. It is the ``eta = 0`` case of :func:`sample_dpmpp_2m_sde`.
    """
    return sample_dpmpp_2m_sde(denoiser, x, sigmas, cond=cond, generator=generator, callback=callback, eta=0.0)


@_register("dpmpp_2m_sde", 1)
@torch.no_grad()
def sample_dpmpp_2m_sde(
    denoiser, x, sigmas, *, cond=None, generator=None, callback=None, eta: float = 1.0
):
    """DPM-Solver++(2M) for the reverse SDE (Lu et al. 2022, SDE variant; midpoint correction).

    With ``h = ln(sigma/sigma')``: ``x' = (sigma'/sigma) e^{-eta h} x + (1 - e^{-(1+eta) h}) D``
    plus the second-order term and fresh noise of variance ``sigma'^2 (1 - e^{-2 eta h})``.
    ``eta = 0`` is the ODE solver.
    """
    previous, h_previous = None, None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = _denoise(denoiser, x, sigma, cond)
        if sigma_next == 0:
            x = denoised
        else:
            h = torch.log(sigma / sigma_next)
            gain = -torch.expm1(-h * (1 + eta))
            x = (sigma_next / sigma) * torch.exp(-eta * h) * x + gain * denoised
            if previous is not None:
                r = h_previous / h
                x = x + 0.5 * gain / r * (denoised - previous)
            if eta > 0:
                x = x + randn_like(x, generator) * sigma_next * torch.sqrt(-torch.expm1(-2 * eta * h))
            h_previous = h
        previous = denoised
        _report(callback, i, sigmas, x, denoised)
    return x


def lms_coefficients(sigmas: np.ndarray, i: int, order: int) -> list[float]:
    """Weights ``c_j`` of ``x_{i+1} = x_i + sum_j c_j d_{i-j}``: the integral of each Lagrange basis
    polynomial through ``sigmas[i], sigmas[i-1], ...`` from ``sigmas[i]`` to ``sigmas[i+1]``."""
    nodes = [float(sigmas[i - j]) for j in range(order)]
    weights = []
    for j, node in enumerate(nodes):
        basis = np.polynomial.Polynomial([1.0])
        for k, other in enumerate(nodes):
            if k != j:
                basis = basis * np.polynomial.Polynomial([-other, 1.0]) / (node - other)
        integral = basis.integ()
        weights.append(float(integral(sigmas[i + 1]) - integral(sigmas[i])))
    return weights


@_register("lms", 1)
@torch.no_grad()
def sample_lms(denoiser, x, sigmas, *, cond=None, generator=None, callback=None, order: int = 4):
    """Linear multistep (Adams-Bashforth on a non-uniform grid) of up to ``order`` in sigma.

    Uses the slopes of the last ``order`` steps; the first steps warm up at lower order.
    """
    grid = sigmas.double().cpu().numpy()
    slopes: list[torch.Tensor] = []
    for i in range(len(sigmas) - 1):
        denoised = _denoise(denoiser, x, sigmas[i], cond)
        slopes.insert(0, _slope(x, sigmas[i], denoised))
        del slopes[order:]
        weights = lms_coefficients(grid, i, len(slopes))
        x = x + sum(w * d for w, d in zip(weights, slopes))
        _report(callback, i, sigmas, x, denoised)
    return x


@_register("pc", 2)
@torch.no_grad()
def sample_pc(
    denoiser, x, sigmas, *, cond=None, generator=None, callback=None, snr: float = 0.16,
    corrector_steps: int = 1,
):
    """Predictor-corrector for the variance-exploding SDE (Song et al. 2021, Algorithms 2 and 4).

    Predictor: reverse-diffusion step ``x' = x + (sigma^2 - sigma'^2) s(x) + sqrt(sigma^2 - sigma'^2) z``
    with the score ``s = (D - x) / sigma^2``. Corrector: Langevin steps at ``sigma'`` with the
    step ``eps = 2 (snr |z| / |s|)^2`` per item. The last step to sigma = 0 returns ``D``.
    """
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = _denoise(denoiser, x, sigma, cond)
        if sigma_next == 0:
            x = denoised
        else:
            variance = sigma**2 - sigma_next**2
            x = x + variance * (denoised - x) / sigma**2 + variance.sqrt() * randn_like(x, generator)
            for _ in range(corrector_steps):
                score = (_denoise(denoiser, x, sigma_next, cond) - x) / sigma_next**2
                z = randn_like(x, generator)
                ratio = z.flatten(1).norm(dim=1) / score.flatten(1).norm(dim=1).clamp_min(1e-12)
                eps = append_dims(2 * (snr * ratio) ** 2, x.ndim)
                x = x + eps * score + (2 * eps).sqrt() * z
        _report(callback, i, sigmas, x, denoised)
    return x


def sample(denoiser, x, sigmas, solver: str = "dpmpp_2m", *, cond=None, generator=None,
           callback=None, **options):
    """Run the sampler registered as ``solver`` (see ``SAMPLERS.names()``)."""
    return SAMPLERS[solver](denoiser, x, sigmas, cond=cond, generator=generator, callback=callback,
                            **options)


def function_evaluations(solver: str, steps: int) -> int:
    """Denoiser calls a sampler makes for ``steps`` steps ending at sigma = 0."""
    per_step = SAMPLERS[solver].evals_per_step
    return per_step * steps - (per_step - 1)


def steps_for_evaluations(solver: str, nfe: int) -> int:
    """The largest step count whose cost stays within ``nfe`` denoiser calls."""
    per_step = SAMPLERS[solver].evals_per_step
    return max(1, math.floor((nfe + per_step - 1) / per_step))
