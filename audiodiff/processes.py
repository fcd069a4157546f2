"""Process-group housekeeping shared by distributed inference (``denoise --devices``) and training."""

from __future__ import annotations

import torch


def end_process_group() -> None:
    """Destroy the process group, if any: a gloo group still alive at interpreter exit can abort
    the process ("terminate called without an active exception")."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
