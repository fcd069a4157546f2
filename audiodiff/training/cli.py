"""``audiodiff fit``: Lightning's CLI over DiffusionModule and TrainingData (YAML recipes)."""

from __future__ import annotations

from lightning.pytorch.cli import LightningCLI

from audiodiff.processes import end_process_group
from audiodiff.training.data import TrainingData
from audiodiff.training.module import DiffusionModule


MODEL_SETTINGS = {
    "data.sample_rate": lambda module: module.model.sample_rate,
    "data.hop_length": lambda module: getattr(module.model.representation, "hop_length", 128),
    "data.sketch_harmonics": lambda module: getattr(module.model.observation, "harmonics", 4),
}
"""Data settings that are the model's: derived from the built model (recipes do not repeat them)."""


class RecipeCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        for target, compute in MODEL_SETTINGS.items():
            parser.link_arguments("model", target, compute_fn=compute, apply_on="instantiate")


def run(argv: list[str]) -> int:
    """Run ``LightningCLI`` with ``argv`` (e.g. ``["fit", "--config", "recipes/speech_enhance/magnitude.yaml"]``)."""
    RecipeCLI(DiffusionModule, TrainingData, args=argv, save_config_kwargs={"overwrite": True})
    end_process_group()  # DDP runs: exit cleanly on every rank
    return 0
