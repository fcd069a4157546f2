"""Enhancement speed: batching many short files, and peak memory on one long recording.

1. Batching: 32 one-second noisy files enhanced in one call (their chunks share batches) against
   32 calls of one file; wall time of each and the largest difference between the two outputs.
2. The same through the command line: one ``audiodiff denoise`` run over the 32 files against 32
   runs of one file each (start-up and model loading included, as a user pays them).
3. Long input: a 30-minute recording (dev-set files joined) enhanced by `audiodiff denoise` in a
   child process: wall time, real-time factor and peak resident memory (ru_maxrss).

Run: ``python benchmarks/enhance_speed.py [--model speech-enhance] [--minutes 30]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from audiodiff.audio import load_audio, save_audio
from audiodiff.pipelines.enhance import Enhancer

sys.path.insert(0, str(Path(__file__).parent))
from scale import long_recording, timed_denoise  # noqa: E402


def dev_files(folder: Path, count: int, seconds: float, rate: int) -> list[torch.Tensor]:
    files = sorted(folder.glob("*.wav"))[:count]
    return [load_audio(f, sample_rate=rate, channels=1)[0][:, : int(seconds * rate)] for f in files]


def batching(enhancer: Enhancer, folder: Path) -> list[str]:
    """32 one-second files: one ``run_many`` call against 32 calls (``enhancer``: batch size 32)."""
    rate = enhancer.sample_rate
    files = dev_files(folder, 32, 1.0, rate)
    items = [(i, f, rate) for i, f in enumerate(files)]
    # warm-up of both shapes: a first call at a new batch size pays one-time kernel set-up
    enhancer(files[0], rate)
    dict(enhancer.run_many(items, seed=0))
    start = time.perf_counter()
    together = dict(enhancer.run_many(items, seed=0))
    batched = time.perf_counter() - start
    start = time.perf_counter()
    alone = [enhancer(f, rate, seed=0) for f in files]
    single = time.perf_counter() - start
    diff = max((together[i] - alone[i]).abs().max().item() for i in range(len(files)))
    return [f"| 32 x 1 s files, one call (batch 32) | {batched:.2f} s |",
            f"| 32 x 1 s files, 32 calls | {single:.2f} s |",
            f"| speed-up | {single / batched:.2f}x |",
            f"| largest output difference | {diff:.2e} |"]


def command_line(model: str, folder: Path, rate: int, threads: int) -> list[str]:
    """The batching comparison through ``audiodiff denoise`` child processes (``rate``: the model's)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        files = dev_files(folder, 32, 1.0, rate)
        sources = [tmp / "in" / f"{i:02d}.wav" for i in range(len(files))]
        for src, audio in zip(sources, files):
            save_audio(src, audio, rate)
        together, _ = timed_denoise(tmp / "in", tmp / "together", model, threads)
        alone = sum(timed_denoise(src, tmp / "alone" / src.name, model, threads)[0] for src in sources)
        diff = max((load_audio(tmp / "together" / src.name)[0] - load_audio(tmp / "alone" / src.name)[0])
                   .abs().max().item() for src in sources)
    return [f"| 32 x 1 s files, one `audiodiff denoise` run | {together:.1f} s |",
            f"| 32 x 1 s files, 32 `audiodiff denoise` runs | {alone:.1f} s |",
            f"| speed-up | {alone / together:.1f}x |",
            f"| largest output difference (16-bit files) | {diff:.2e} |"]


def long_file(model: str, folder: Path, minutes: float, threads: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        src = long_recording(folder, minutes, Path(tmp) / "long.wav")
        wall, peak_mb = timed_denoise(src, Path(tmp) / "out.wav", model, threads)
    return [f"| {minutes:g}-minute recording: wall time | {wall:.0f} s |",
            f"| real-time factor | {wall / (minutes * 60):.3f} |",
            f"| peak resident memory | {peak_mb:.0f} MB |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="speech-enhance")
    parser.add_argument("--dev", type=Path, default=Path("data/corpus/dev/speech/noisy"))
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "enhance_speed.md")
    args = parser.parse_args()
    lines = ["| measurement | value |", "|---|---|"]
    torch.set_num_threads(args.threads)
    enhancer = Enhancer(args.model, device="cpu", batch_size=32)
    lines += batching(enhancer, args.dev)
    lines += command_line(args.model, args.dev, enhancer.sample_rate, args.threads)
    lines += long_file(args.model, args.dev, args.minutes, args.threads)
    text = "\n".join(lines) + f"\n\n{args.threads} threads, CPU, `python benchmarks/enhance_speed.py`\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
