"""``audiodiff fit``: Lightning's CLI over EnhancementModule and EnhancementData (YAML recipes)."""

from __future__ import annotations

from lightning.pytorch.cli import LightningCLI

from audiodiff.processes import end_process_group
from audiodiff.training.data import EnhancementData
from audiodiff.training.module import EnhancementModule


def run(argv: list[str]) -> int:
    """Run ``LightningCLI`` with ``argv`` (e.g. ``["fit", "--config", "recipes/speech_enhance/demo.yaml"]``)."""
    LightningCLI(EnhancementModule, EnhancementData, args=argv, save_config_kwargs={"overwrite": True})
    end_process_group()  # DDP runs: exit cleanly on every rank
    return 0
