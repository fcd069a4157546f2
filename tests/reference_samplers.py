"""Drivers for third-party reference samplers (test and benchmark use only)."""

from __future__ import annotations

import torch


def run_diffusers(scheduler, denoiser, x_start: torch.Tensor, steps: int, sigma_data: float = 0.5) -> torch.Tensor:
    """Sample with a diffusers EDM scheduler driven by an exact denoiser ``D(x, sigma)``.

    diffusers expects the raw network output ``F`` with ``D = c_skip x + c_out F`` and applies
    ``c_in`` itself; we invert that. ``x_start`` is unit noise times ``sigma_max`` (the EDM
    convention), not times ``scheduler.init_noise_sigma = sqrt(sigma_max^2 + 1)``.
    """
    scheduler.set_timesteps(steps)
    x = x_start.float().clone()
    for i, t in enumerate(scheduler.timesteps):
        sigma = scheduler.sigmas[i].double()
        scheduler.scale_model_input(x, t)
        c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
        c_out = sigma * sigma_data / (sigma**2 + sigma_data**2).sqrt()
        x64 = x.double()
        raw = (denoiser(x64, sigma.expand(x.shape[0])) - c_skip * x64) / c_out
        x = scheduler.step(raw.float(), t, x).prev_sample
    return x


def diffusers_schedulers(sigma_min: float, sigma_max: float, **dpm_options) -> dict:
    """The two EDM schedulers of diffusers, keyed by the audiodiff solver they correspond to."""
    from diffusers import EDMDPMSolverMultistepScheduler, EDMEulerScheduler

    return {
        "euler": EDMEulerScheduler(sigma_min=sigma_min, sigma_max=sigma_max),
        "dpmpp_2m": EDMDPMSolverMultistepScheduler(sigma_min=sigma_min, sigma_max=sigma_max, **dpm_options),
    }
