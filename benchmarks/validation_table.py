"""The validation scores a training run logged (TensorBoard), one row per validation, as markdown:
the record behind the step tables of the model cards.

Run: ``python benchmarks/validation_table.py RUN_LOG_DIR [RUN_LOG_DIR ...]`` where each is a folder
holding ``events.out.tfevents.*`` (``runs/<recipe>/tb/version_N``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

METRICS = ("pesq", "estoi", "si_sdr", "sig", "bak", "ovrl", "onset_f1", "chroma", "mrstft", "lsd")


def table(folder: Path) -> str:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    tags = [f"val/{m}" for m in METRICS if f"val/{m}" in events.Tags()["scalars"]]
    if not tags:
        return f"{folder}: no validation scores\n"
    values = {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in tags}
    steps = sorted(set().union(*values.values()))
    lines = [f"`{folder}`", "", "| step | " + " | ".join(t[4:] for t in tags) + " |", "|---|" + "---|" * len(tags)]
    lines += [f"| {s} | " + " | ".join(f"{values[t][s]:.3f}" if s in values[t] else "-" for t in tags) + " |"
              for s in steps]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    print("\n".join(table(run) for run in parser.parse_args().runs))


if __name__ == "__main__":
    main()
