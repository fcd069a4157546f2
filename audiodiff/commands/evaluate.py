"""``audiodiff eval --clean DIR --enhanced DIR``: PESQ-WB, ESTOI, SI-SDR and DNSMOS P.835 per file and on average."""

from __future__ import annotations

import csv
from pathlib import Path

from tqdm import tqdm

from audiodiff.audio import load_audio
from audiodiff.commands import verb
from audiodiff.data.datasets import audio_files


def configure(parser):
    parser.add_argument("--clean", required=True, help="folder of clean references")
    parser.add_argument("--enhanced", required=True, help="folder of enhanced files with the same relative names")
    parser.add_argument("--csv", default=None, help="per-file scores (default: ENHANCED/metrics.csv)")


@verb("eval", "score enhanced files against clean references: PESQ-WB, ESTOI, SI-SDR, DNSMOS SIG/BAK/OVRL",
      configure)
def evaluate(args) -> int:
    from audiodiff.metrics import speech_scores

    clean_dir, enhanced_dir = Path(args.clean), Path(args.enhanced)
    rows = []
    for path in tqdm(audio_files(enhanced_dir), desc="eval", unit="file"):
        rel = path.relative_to(enhanced_dir)
        est, rate = load_audio(path, channels=1)
        ref, _ = load_audio(clean_dir / rel, sample_rate=rate, channels=1)
        n = min(est.shape[-1], ref.shape[-1])
        rows.append({"file": rel.as_posix(), **speech_scores(est[0, :n], ref[0, :n], rate)})
    out = Path(args.csv) if args.csv else enhanced_dir / "metrics.csv"
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for key in rows[0]:
        if key != "file":
            print(f"{key:7s} {sum(r[key] for r in rows) / len(rows):7.3f}")
    print(f"{len(rows)} files; per-file scores in {out}")
    return 0
