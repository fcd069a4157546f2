"""``audiodiff eval --clean DIR --enhanced DIR``: quality scores per file and on average.

Speech files get PESQ-WB, ESTOI, SI-SDR and DNSMOS P.835 (SIG, BAK, OVRL: what a listener hears);
music files get SI-SDR and log-spectral distance. ``--kind auto`` (the default) takes files at
16 kHz or below for speech and the others for music. One file never stops the run: a file that
cannot be read, has no reference or cannot be scored is reported and its scores are empty (NaN);
the CSV is always written.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

from tqdm import tqdm

from audiodiff.audio import AudioError, load_audio
from audiodiff.commands import verb
from audiodiff.data.datasets import audio_files

KINDS = ("auto", "speech", "music")
SPEECH_MAX_RATE = 16_000


def configure(parser):
    parser.add_argument("--clean", required=True, help="folder of clean references")
    parser.add_argument("--enhanced", required=True, help="folder of enhanced files with the same relative names")
    parser.add_argument("--csv", default=None, help="per-file scores (default: ENHANCED/metrics.csv)")
    parser.add_argument("--kind", choices=KINDS, default="auto",
                        help="speech metrics (PESQ-WB, ESTOI, SI-SDR, DNSMOS) or music metrics (SI-SDR, LSD); "
                             f"auto: speech for files at {SPEECH_MAX_RATE} Hz or below, music above")


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def score_file(path: Path, reference: Path, kind: str) -> tuple[str, dict[str, float]]:
    """``(kind used, scores)`` of one enhanced file against its reference; raises AudioError for a
    file or reference that cannot be read."""
    from audiodiff.metrics import SCORES

    est, rate = load_audio(path, channels=1)
    ref, _ = load_audio(reference, sample_rate=rate, channels=1)
    kind = kind if kind != "auto" else ("speech" if rate <= SPEECH_MAX_RATE else "music")
    n = min(est.shape[-1], ref.shape[-1])
    return kind, SCORES[kind](est[0, :n], ref[0, :n], rate)


@verb("eval", "score enhanced files against clean references: PESQ-WB, ESTOI, SI-SDR, DNSMOS (speech), "
              "SI-SDR, LSD (music)", configure)
def evaluate(args) -> int:
    clean_dir, enhanced_dir = Path(args.clean), Path(args.enhanced)
    out = Path(args.csv) if args.csv else enhanced_dir / "metrics.csv"
    try:
        files = audio_files(enhanced_dir)
    except AudioError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not clean_dir.is_dir():
        print(f"error: {clean_dir}: no such folder (the clean references)", file=sys.stderr)
        return 1
    if args.kind != "music":
        try:
            from audiodiff.metrics import dnsmos_model

            dnsmos_model()
        except ImportError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    rows = []
    for path in tqdm(files, desc="eval", unit="file"):
        rel = path.relative_to(enhanced_dir)
        row = {"file": rel.as_posix(), "kind": ""}
        reference = clean_dir / rel
        if not reference.exists():
            _warn(f"{rel}: no reference {reference}; skipped")
            continue
        try:
            row["kind"], scores = score_file(path, reference, args.kind)
            row.update(scores)
        except AudioError as err:
            _warn(f"{err}; its scores are empty")
        except Exception as err:  # noqa: BLE001 -- a metric that fails on one file (e.g. PESQ finds no speech)
            _warn(f"{rel}: could not be scored ({type(err).__name__}: {err}); its scores are empty")
        rows.append(row)
    fields = ["file", "kind"] + sorted({k for r in rows for k in r} - {"file", "kind"})
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, restval=math.nan)
        writer.writeheader()
        writer.writerows(rows)
    for key in fields[2:]:
        values = [r[key] for r in rows if key in r and math.isfinite(r[key])]
        if values:
            print(f"{key:7s} {sum(values) / len(values):7.3f}  ({len(values)} file{'s' * (len(values) != 1)})")
    print(f"{len(rows)} file{'s' * (len(rows) != 1)} scored; per-file scores in {out}")
    return 0
