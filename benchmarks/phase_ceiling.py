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
from enhance import cell, group_label, load_pairs, markdown  # noqa: E402  (its file subset and tables)

from audiodiff.audio import load_audio  # noqa: E402
from audiodiff.hub import from_pretrained  # noqa: E402
from audiodiff.metrics import SCORES  # noqa: E402


SYSTEMS = ("noisy input", "clean magnitude, noisy phase")


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
    rows = []  # one per (file, system), as in enhance.py
    for pair in load_pairs(args.dev, args.limit):
        noisy, rate = load_audio(args.dev / "noisy" / pair["file"])
        clean, _ = load_audio(args.dev / "clean" / pair["file"])
        ceiling = clean_magnitude_noisy_phase(representation, clean[:1], noisy[:1])
        for system, audio in zip(SYSTEMS, (noisy[0], ceiling[0])):
            rows.append({**pair, "system": system, **SCORES["speech"](audio, clean[0], rate)})
    groups = ["all"] + sorted({r["snr_db"] for r in rows}, key=float)

    def of(system: str, group: str) -> list[dict]:
        return [r for r in rows if r["system"] == system and group in ("all", r["snr_db"])]

    header = ["system"] + [f"{g if g == 'all' else group_label('snr_db', g)} (n={len(of(SYSTEMS[0], g))})"
                           for g in groups]
    print(f"`python benchmarks/phase_ceiling.py --limit {args.limit} --model {args.model}`; PESQ-WB / ESTOI / SI-SDR (dB)\n")
    print(markdown(header, [[s] + [cell(of(s, g), ("pesq", "estoi", "si_sdr")) for g in groups] for s in SYSTEMS]))


if __name__ == "__main__":
    main()
