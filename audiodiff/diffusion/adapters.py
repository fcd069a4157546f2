"""Run networks trained on a variance-preserving (DDPM) schedule through the EDM samplers.

A VP model sees ``z_t = alpha_t x0 + s_t n`` with ``alpha_t = sqrt(abar_t)``, ``s_t = sqrt(1 - abar_t)``.
Dividing by ``alpha_t`` gives the EDM state ``x = x0 + sigma n`` with ``sigma_t = s_t / alpha_t``
(Karras et al. 2022, Table 1, VP column; Song et al. 2021, DDIM as Euler on the PF-ODE). The
adapter maps ``(x, sigma)`` back to ``(z_t, t)``, calls the network, and returns ``x0_hat``:

    epsilon prediction:  x0 = x - sigma eps
    v prediction:        x0 = alpha z - s v      (Salimans & Ho 2022, v = alpha n - s x0)
"""

from __future__ import annotations

import torch
from torch import nn

from audiodiff.diffusion.denoiser import append_dims


def ddpm_alphas_cumprod(steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """``abar_t`` of the linear DDPM schedule (Ho et al. 2020): shape ``[steps]``, float64."""
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0)


class VPDenoiser(nn.Module):
    """Wrap ``model(z_t, t, cond) -> eps or v`` (``t`` ``[B]``, float timesteps) as ``D(x, sigma, cond)``.

    Args:
        model: the network trained on a discrete VP schedule.
        alphas_cumprod: ``abar_t`` for ``t = 0 .. T-1`` ``[T]``.
        prediction: ``"epsilon"`` or ``"v"``.
    """

    def __init__(self, model: nn.Module, alphas_cumprod: torch.Tensor, prediction: str = "epsilon"):
        super().__init__()
        if prediction not in ("epsilon", "v"):
            raise ValueError(f"prediction must be 'epsilon' or 'v', got {prediction!r}")
        self.model = model
        self.prediction = prediction
        abar = torch.as_tensor(alphas_cumprod, dtype=torch.float64)
        self.register_buffer("sigmas", ((1 - abar) / abar).sqrt(), persistent=False)

    @property
    def sigma_min(self) -> float:
        return float(self.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.sigmas[-1])

    def sigma_to_t(self, sigma: torch.Tensor) -> torch.Tensor:
        """Continuous timestep whose sigma is ``sigma`` (linear in ``log sigma`` between table entries)."""
        log_table = self.sigmas.log()
        log_sigma = sigma.double().log().clamp(log_table[0], log_table[-1])
        upper = torch.searchsorted(log_table, log_sigma).clamp(1, len(log_table) - 1)
        lo, hi = log_table[upper - 1], log_table[upper]
        frac = ((log_sigma - lo) / (hi - lo)).clamp(0, 1)
        return (upper - 1 + frac).to(sigma.dtype)

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        """Sigma of (integer) timesteps ``t``."""
        return self.sigmas[torch.as_tensor(t, dtype=torch.long)].float()

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, cond=None) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(x.shape[0])
        alpha = append_dims((1 + sigma**2).rsqrt(), x.ndim)
        z = x * alpha
        out = self.model(z, self.sigma_to_t(sigma), cond)
        if self.prediction == "epsilon":
            return x - append_dims(sigma, x.ndim) * out
        return alpha * z - append_dims(sigma, x.ndim) * alpha * out
