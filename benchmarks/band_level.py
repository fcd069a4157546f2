"""Choose the level of the band a repair model restores: 4-8 kHz log-spectral distance and PESQ-WB
of telephone-band speech (8 kHz) restored to 16 kHz, with the restored band at several levels.

The model's band is a posterior mean of compressed magnitudes: where the band is uncertain it is
louder than the log-spectral optimum, and PESQ-WB punishes a band that is too loud. The level is
chosen on files of the unseen-sources dev set that ``benchmarks/repair.py`` does not score (by
default the 17th to the 48th clean recording; the repair benchmark uses the first ``--limit``).

Writes ``<out>/band_level.md``. Run: ``python benchmarks/band_level.py [--model speech-repair]
[--first 16] [--count 32] [--levels 0 -3 -6 -8 -10 -12 -14]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from audiodiff.audio import load_audio
from audiodiff.metrics import log_spectral_distance, pesq_wb
from audiodiff.pipelines.repair import Repairer

BAND_HZ = 4000  # as benchmarks/repair.py
RATE = 16_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="speech-repair")
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--first", type=int, default=16, help="files skipped (those the repair benchmark scores)")
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--levels", type=float, nargs="+", default=[0, -3, -6, -8, -10, -12, -14])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted((Path(args.corpus) / "dev" / "speech_unseen" / "clean").glob("*.wav"))
    files = files[args.first : args.first + args.count]
    repairers = {level: Repairer(args.model, device="cpu", band_level_db=level) for level in args.levels}
    scores = {level: [] for level in args.levels}
    for path in files:
        clean, rate = load_audio(path, RATE, channels=1)
        narrow = load_audio(path, 2 * BAND_HZ, channels=1)[0]
        for level, repairer in repairers.items():
            wide = repairer(narrow, 2 * BAND_HZ)[..., : clean.shape[-1]]
            wide = torch.nn.functional.pad(wide, (0, clean.shape[-1] - wide.shape[-1]))
            scores[level].append((log_spectral_distance(wide[0], clean[0], 512, (BAND_HZ, RATE // 2), RATE),
                                  pesq_wb(wide[0], clean[0], RATE)))
        print(f"{path.name}: done", flush=True)
    lines = [f"# Level of the restored band ({args.model})\n",
             f"`python benchmarks/band_level.py --model {args.model} --first {args.first} --count {len(files)} "
             f"--levels {' '.join(f'{v:g}' for v in args.levels)}`: {len(files)} clean recordings of the "
             "unseen-sources dev set (not those `benchmarks/repair.py` scores), each at 8 kHz restored to 16 kHz.\n",
             "| band level (dB) | 4-8 kHz LSD (dB) | PESQ-WB |", "|---|---|---|"]
    for level, found in scores.items():
        lsd, pesq = (sum(v) / len(v) for v in zip(*found))
        lines.append(f"| {level:g} | {lsd:.2f} | {pesq:.3f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "band_level.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
