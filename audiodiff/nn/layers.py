"""Blocks shared by the backbones: noise embedding, FiLM, time-local norm, residual blocks.

Nothing here normalises over time, so a model's output on a chunk does not depend on how long the
chunk is or what else is in the batch.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class NoiseEmbedding(nn.Module):
    """``c_noise`` ``[B]`` to an embedding ``[B, dim]``: Fourier features, then a two-layer MLP."""

    def __init__(self, dim: int, features: int = 64, max_frequency: float = 64.0):
        super().__init__()
        freqs = torch.exp(torch.linspace(0, math.log(max_frequency), features // 2))
        self.register_buffer("freqs", freqs, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(features, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        angles = noise.float()[:, None] * self.freqs * math.pi
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=1))


class ChannelNorm(nn.Module):
    """Layer norm over the channel axis at every position of ``[B, C, ...]``."""

    def __init__(self, channels: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        moved = x.movedim(1, -1)  # channels last, so layer_norm's fused kernel applies
        return nn.functional.layer_norm(moved, moved.shape[-1:], self.weight, self.bias, self.eps).movedim(-1, 1)


class FiLM(nn.Module):
    """Feature-wise scale and shift from an embedding (Perez et al. 2018); starts as identity."""

    def __init__(self, emb_dim: int, channels: int):
        super().__init__()
        self.proj = nn.Linear(emb_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(emb).chunk(2, dim=1)
        shape = scale.shape + (1,) * (x.ndim - 2)
        return x * (1 + scale.view(shape)) + shift.view(shape)


def _conv(dims: int):
    return nn.Conv1d if dims == 1 else nn.Conv2d


class ResidualBlock(nn.Module):
    """Norm, FiLM, depthwise conv dilated along time, pointwise MLP (2x, SiLU), residual add.

    Works on ``[B, C, T]`` (``dims=1``) or ``[B, C, F, N]`` (``dims=2``; the depthwise kernel is
    3x3, dilated along N only). The last pointwise layer starts at zero, so the block starts as
    the identity.
    """

    def __init__(self, channels: int, emb_dim: int, dilation: int = 1, dims: int = 2, expansion: int = 2):
        super().__init__()
        conv = _conv(dims)
        if dims == 1:
            kernel, dil, pad = 3, dilation, dilation
        else:
            kernel, dil, pad = (3, 3), (1, dilation), (1, dilation)
        self.norm = ChannelNorm(channels)
        self.film = FiLM(emb_dim, channels)
        self.depthwise = conv(channels, channels, kernel, padding=pad, dilation=dil, groups=channels)
        self.expand = conv(channels, expansion * channels, 1)
        self.project = conv(expansion * channels, channels, 1)
        nn.init.zeros_(self.project.weight)
        nn.init.zeros_(self.project.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(self.film(self.norm(x), emb))
        return x + self.project(nn.functional.silu(self.expand(h)))
