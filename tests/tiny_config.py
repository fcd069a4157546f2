"""A tiny speech-enhancement model config (band-split, 16 channels, 1 block, complex mask) shared by
tests that need a real but fast model."""

TINY_MASK = {
    "task": "speech-enhance",
    "representation": {"name": "complex_spec", "args": {"scale": 1.0}},
    "head": {"name": "noisy", "args": {"channels": 2}},
    "backbone": {"name": "bandsplit", "args": {"in_channels": 2, "out_channels": 2, "channels": 16, "blocks": 1,
                                               "cond_mask": True}},
    "sigma_data": 0.45,
    "sampling": {"solver": "dpmpp_2m", "steps": 2, "sigma_min": 0.01, "sigma_max": 10.0},
}
