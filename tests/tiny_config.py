"""A tiny speech-enhancement model config (band-split, 16 channels, 1 block, complex mask) shared by
tests that need a real but fast model, and `perturb` (wake up zero-initialised layers)."""

TINY_MASK = {
    "task": "speech-enhance",
    "representation": {"name": "complex_spec", "args": {"scale": 1.0}},
    "head": {"name": "observation", "args": {"channels": 2}},
    "backbone": {"name": "bandsplit", "args": {"in_channels": 2, "out_channels": 2, "channels": 16, "blocks": 1,
                                               "cond_mask": True}},
    "sigma_data": 0.45,
    "sampling": {"solver": "dpmpp_2m", "steps": 2, "sigma_min": 0.01, "sigma_max": 10.0},
}


def perturb(module, seed: int = 0, std: float = 0.02):
    """Add ``N(0, std^2)`` to every parameter (so zero-initialised layers become active)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * std)
    return module
