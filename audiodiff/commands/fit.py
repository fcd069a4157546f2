"""``audiodiff fit --config RECIPE.yaml ...`` (Lightning CLI)."""

from __future__ import annotations

from audiodiff.commands import verb


def configure(parser):
    parser.usage = "audiodiff fit --config RECIPE.yaml [--trainer.max_steps N] [--model.init_from NAME] ..."
    parser.epilog = ("Every other argument goes to Lightning's CLI: see `audiodiff fit --config RECIPE.yaml "
                     "--print_config` for all keys.")


@verb("fit", "train or fine-tune from a YAML recipe (Lightning CLI: --config recipes/<task>/<recipe>.yaml)", configure)
def fit(args) -> int:
    from audiodiff.training.cli import run  # Lightning is imported only for training

    return run(["fit", *args.extra])
