"""Long input: `audiodiff denoise` on 1, 10 and 60 minutes of audio; wall time, real-time factor
and peak resident memory per length (time should grow linearly, memory stay flat and under 2 GB).

Each recording is dev-set noisy files joined end to end, written as a 16-bit WAV, and enhanced by
`audiodiff denoise` in its own child process (so ``ru_maxrss`` is that run's peak alone), with
the model's default settings.

Run: ``python benchmarks/scale.py [--minutes 1 10 60] [--model speech-enhance] [--threads 2]``
Writes ``results/scale.md`` and ``results/scale.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from audiodiff.audio import load_audio, save_audio

# runs one command and prints its wall time and the peak RSS (kB) of its process tree
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(json.dumps({"wall": time.perf_counter() - start,
                  "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def long_recording(folder: Path, minutes: float, path: Path) -> Path:
    """Dev-set files joined (repeating as needed) into ``minutes`` of audio, saved to ``path``."""
    files = sorted(folder.glob("*.wav"))
    if not files:
        raise SystemExit(f"{folder}: no dev files (run `audiodiff data build-corpus --out data/corpus`)")
    rate = load_audio(files[0])[1]
    pieces, total = [], 0
    while total < minutes * 60 * rate:
        wav = load_audio(files[len(pieces) % len(files)])[0]
        pieces.append(wav)
        total += wav.shape[-1]
    return save_audio(path, torch.cat(pieces, -1)[:, : int(minutes * 60 * rate)], rate, subtype="PCM_16")


def timed_denoise(src: Path, dst: Path, model: str, threads: int) -> tuple[float, float]:
    """``(wall seconds, peak resident MB)`` of ``audiodiff denoise src -o dst`` in a child process."""
    cmd = [sys.executable, "-m", "audiodiff.cli", "denoise", str(src), "-o", str(dst), "--model", model,
           "--device", "cpu", "--overwrite"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout)
    return result["wall"], result["peak_kb"] / 1024


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["minutes"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot(minutes, [r["wall"] for r in rows], "o-", label="measured")
    a.plot(minutes, [rows[-1]["wall"] * m / minutes[-1] for m in minutes], "--", color="grey", label="linear")
    a.set(xlabel="audio (minutes)", ylabel="wall time (s)", title="time")
    a.legend()
    b.plot(minutes, [r["peak_mb"] for r in rows], "o-")
    b.axhline(2048, color="red", ls=":", label="2 GB")
    b.set(xlabel="audio (minutes)", ylabel="peak RSS (MB)", title="memory", ylim=(0, 2300))
    b.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--model", default="speech-enhance")
    parser.add_argument("--dev", type=Path, default=Path("data/corpus/dev/speech/noisy"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in sorted(args.minutes):
            src = long_recording(args.dev, minutes, Path(tmp) / f"long_{minutes:g}min.wav")
            wall, peak = timed_denoise(src, Path(tmp) / "out.wav", args.model, args.threads)
            rows.append({"minutes": minutes, "wall": wall, "rtf": wall / (60 * minutes), "peak_mb": peak})
            print(f"{minutes:g} min: {wall:.1f} s, RTF {rows[-1]['rtf']:.3f}, peak {peak:.0f} MB", flush=True)
    lines = ["| audio | wall time | real-time factor | seconds per audio minute | peak RSS |", "|---|---|---|---|---|"]
    lines += [f"| {r['minutes']:g} min | {r['wall']:.1f} s | {r['rtf']:.3f} | {r['wall'] / r['minutes']:.1f} | "
              f"{r['peak_mb']:.0f} MB |" for r in rows]
    text = ("\n".join(lines) + f"\n\n`python benchmarks/scale.py --threads {args.threads}` (model {args.model}, "
            f"its default steps; CPU, {args.threads} threads; wall time includes start-up and file I/O)\n")
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.md").write_text(text)
    plot(rows, args.out / "scale.png")


if __name__ == "__main__":
    main()
