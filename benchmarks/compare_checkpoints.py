"""Pick among checkpoints on the dev set: mean scores of the noisy input and of each model at each
NFE, on the same fixed random subset of dev pairs (model selection; the reserved sources are never
involved).

Run: ``python benchmarks/compare_checkpoints.py CKPT_DIR [CKPT_DIR ...] [--kind speech|music]
[--files 30] [--nfe 1 2] [--dev data/corpus/dev]`` where each CKPT_DIR is a shipped name or a folder
from ``audiodiff export``.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import torch

from audiodiff.audio import load_audio
from audiodiff.metrics import SCORES
from audiodiff.pipelines.enhance import Enhancer


def mean_scores(pairs, enhance=None) -> dict[str, float]:
    """Means over ``(noisy, clean, rate)`` pairs of the enhanced (or, without ``enhance``, noisy) audio."""
    totals: dict[str, list[float]] = {}
    for noisy, clean, rate, metric in pairs:
        estimate = enhance(noisy, rate) if enhance else noisy
        for name, value in metric(estimate[0], clean[0], rate).items():
            totals.setdefault(name, []).append(value)
    return {name: sum(v) / len(v) for name, v in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--kind", choices=["speech", "music"], default="speech")
    parser.add_argument("--files", type=int, default=30)
    parser.add_argument("--nfe", type=int, nargs="+", default=[1])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dev", type=Path, default=Path("data/corpus/dev"), help="the corpus's dev folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.dev / args.kind
    files = sorted((folder / "noisy").glob("*.wav"))
    random.Random(0).shuffle(files)
    metric = SCORES[args.kind]
    pairs = []
    for f in files[: args.files]:
        noisy, rate = load_audio(f)
        pairs.append((noisy, load_audio(folder / "clean" / f.name)[0], rate, metric))
    rows = {"noisy": mean_scores(pairs)}
    for model in args.models:
        enhancer = Enhancer(model, device="cpu")
        for nfe in args.nfe:
            rows[f"{model} NFE={nfe}"] = mean_scores(pairs, lambda x, r: enhancer(x, r, steps=nfe))
    names = list(rows["noisy"])
    print("| system | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for system, scores in rows.items():
        print(f"| {system} | " + " | ".join(f"{scores[n]:.3f}" for n in names) + " |")


if __name__ == "__main__":
    main()
