"""Gaussian draws that do not depend on the batch an item sits in (EDM's per-item generators)."""

from __future__ import annotations

import torch


def randn(shape, generator=None, device=None, dtype=torch.float32) -> torch.Tensor:
    """Standard normal tensor of ``shape`` (first axis = batch).

    Args:
        generator: None, one ``torch.Generator`` for the whole batch, or a list with one
            generator per batch item, so each item's noise is the same alone or in any batch.
    """
    shape = tuple(shape)
    if isinstance(generator, (list, tuple)):
        if len(generator) != shape[0]:
            raise ValueError(f"{len(generator)} generators for a batch of {shape[0]}")
        draws = [torch.randn(shape[1:], generator=g, device=g.device, dtype=dtype) for g in generator]
        return torch.stack(draws).to(device)
    return torch.randn(shape, generator=generator, device=device, dtype=dtype)


def randn_like(x: torch.Tensor, generator=None) -> torch.Tensor:
    """Standard normal tensor shaped and placed like ``x``."""
    return randn(x.shape, generator, x.device, x.dtype)


def generators(seed: int, count: int, device="cpu") -> list[torch.Generator]:
    """``count`` generators seeded ``seed, seed + 1, ...``: one per batch item."""
    return [torch.Generator(device).manual_seed(seed + i) for i in range(count)]
