"""How far the noisy phase limits a magnitude model: the clean magnitude decoded with the noisy phase.

A magnitude model (``speech-enhance``) keeps the noisy recording's phase. This script gives it the
best magnitude there is, the clean one, through the model's own representation (``encode`` the clean
speech, ``decode`` with the noisy speech as the phase guide), and scores the result per SNR bucket
beside the noisy input. What stays between this ceiling and the model is the magnitude estimate's
error; what stays between the ceiling and a perfect score is the phase's.

Data: the speech dev set of ``audiodiff data build-corpus``, the same fixed random subset as
``benchmarks/enhance.py --limit N``. Needs no training job and runs in about a minute for 45 files.

Run: ``python benchmarks/phase_ceiling.py [--limit 45] [--model speech-enhance]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from enhance import load_pairs  # noqa: E402  (the benchmark's file subset)

from audiodiff.audio import load_audio  # noqa: E402
from audiodiff.hub import from_pretrained  # noqa: E402
from audiodiff.metrics import SCORES  # noqa: E402


def clean_magnitude_noisy_phase(representation, clean: torch.Tensor, noisy: torch.Tensor) -> torch.Tensor:
    """``[1, T]`` audio whose magnitude is ``clean``'s and whose phase is ``noisy``'s (both ``[1, T]``)."""
    x = representation.encode(clean[None])
    return representation.decode(x, clean.shape[-1], guide=noisy[None])[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, default=Path("data/corpus/dev/speech"))
    parser.add_argument("--limit", type=int, default=45, help="files (the fixed random subset of enhance.py)")
    parser.add_argument("--model", default="speech-enhance", help="whose representation to decode with")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = from_pretrained(args.model)
    if model.config["representation"]["name"] != "magnitude":
        raise SystemExit(f"{args.model}: a {model.config['representation']['name']} model, not a magnitude one")
    representation = model.representation
    scores: dict[tuple[str, str], list[dict]] = {}
    for pair in load_pairs(args.dev, args.limit):
        noisy, rate = load_audio(args.dev / "noisy" / pair["file"])
        clean, _ = load_audio(args.dev / "clean" / pair["file"])
        ceiling = clean_magnitude_noisy_phase(representation, clean[:1], noisy[:1])
        for system, audio in (("noisy input", noisy[0]), ("clean magnitude, noisy phase", ceiling[0])):
            result = SCORES["speech"](audio, clean[0], rate)
            for bucket in ("all", f"{float(pair['snr_db']):g} dB"):
                scores.setdefault((system, bucket), []).append(result)
    buckets = ["all"] + sorted({b for _, b in scores if b != "all"}, key=lambda b: float(b.split()[0]))
    print(f"`python benchmarks/phase_ceiling.py --limit {args.limit} --model {args.model}`; PESQ-WB / ESTOI / SI-SDR (dB)\n")
    print("| system | " + " | ".join(f"{b} (n={len(scores[('noisy input', b)])})" for b in buckets) + " |")
    print("|---" * (len(buckets) + 1) + "|")
    for system in ("noisy input", "clean magnitude, noisy phase"):
        cells = []
        for b in buckets:
            rows = scores[(system, b)]
            cells.append(" / ".join(f"{sum(r[m] for r in rows) / len(rows):.{d}f}"
                                    for m, d in (("pesq", 2), ("estoi", 3), ("si_sdr", 1))))
        print(f"| {system} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
