"""Classifier-free guidance (Ho & Salimans 2022) as a denoiser: any sampler runs it unchanged.

    D_w(x, sigma, c) = D(x, sigma, null) + w * (D(x, sigma, c) - D(x, sigma, null))

``w = 1`` is the plain conditional model, ``w > 1`` follows the condition more closely, ``w = 0``
ignores it. Both evaluations go through the network in one batch (twice the batch, one call).
"""

from __future__ import annotations

import torch
from torch import nn


def _stack(a, b):
    """Two conditions (tensors, or dicts of tensors) joined along the batch axis."""
    if isinstance(a, dict):
        return {key: _stack(a[key], b[key]) for key in a}
    return torch.cat([a, b])


class GuidedDenoiser(nn.Module):
    """``denoiser`` with guidance ``scale`` toward ``cond`` away from ``null`` (same structure as ``cond``).

    Called as ``guided(x [B, ...], sigma [B], cond)``; ``null`` is fixed at construction (e.g. the
    condition with its instrument label replaced by the null token)."""

    def __init__(self, denoiser: nn.Module, null, scale: float):
        super().__init__()
        self.denoiser, self.null, self.scale = denoiser, null, float(scale)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, cond=None) -> torch.Tensor:
        if self.scale == 1.0:
            return self.denoiser(x, sigma, cond)
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).expand(x.shape[0])
        both = self.denoiser(torch.cat([x, x]), torch.cat([sigma, sigma]), _stack(cond, self.null))
        conditional, unconditional = both.chunk(2)
        return unconditional + self.scale * (conditional - unconditional)
