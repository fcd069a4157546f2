"""Cost of one function evaluation of every registered backbone on this CPU.

For each backbone at its default size, in the setting it is used in:

* ``bandsplit``: speech enhancement, ComplexSpec at 16 kHz (256 bins x 125 frames/s),
  ``in_channels=2`` plus ``cond_channels=2`` for the noisy-observation head;
* ``waveunet``: the 16 kHz waveform, ``in_channels=1``, no conditioning;

this script measures, on ``--seconds`` of 16 kHz audio processed as one chunk (batch 1, float32,
``torch.no_grad()``, ``torch.set_num_threads(--threads)``, default 2):

* parameters;
* MACs per second of audio: ``torch.utils.flop_counter.FlopCounterMode`` FLOPs / 2 / seconds.
  It counts matrix products and convolutions (transposed ones included), not element-wise work
  (GELU, norms, FiLM, adds), which is cheap in MACs but not free in time;
* real-time factor (RTF) per function evaluation: wall-clock seconds of one forward pass per second
  of audio. One warm-up run, then ``--repeats`` timed runs (at least 7); the median is the figure
  to quote (the machine is shared and noisy), the minimum is the best case.

The representation's encode + decode (STFT + iSTFT with compression for ComplexSpec, the
identity for Waveform) is timed separately: it is paid once per file, not once per evaluation.
A sampler with ``k`` evaluations costs about ``k x RTF(backbone) + RTF(encode+decode)``.

Parameters are the default initialisation plus small random values (so the zero-initialised
layers of residual blocks are not exactly zero); the cost does not depend on the values.

Usage::

    python benchmarks/backbones.py                 # 10 s of audio, 15 timed runs
    python benchmarks/backbones.py --seconds 4 --repeats 9

Prints a markdown table and writes it to ``benchmarks/results/backbones.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from audiodiff.nn.backbones import BACKBONES
from audiodiff.representations import ComplexSpec, Representation, Waveform

SAMPLE_RATE = 16_000
RESULTS = Path(__file__).parent / "results" / "backbones.md"


@dataclass
class Setting:
    """How a backbone is used: its representation, constructor arguments and conditioning."""

    representation: Representation
    args: dict
    description: str
    spatial_channels: int = 0  # channels of the head's spatial features (e.g. noisy observation)


SETTINGS: dict[str, Setting] = {
    "bandsplit": Setting(ComplexSpec(sample_rate=SAMPLE_RATE), {"in_channels": 2, "cond_channels": 2},
                         "ComplexSpec 16 kHz, x + noisy observation (2 + 2 ch)", spatial_channels=2),
    "waveunet": Setting(Waveform(sample_rate=SAMPLE_RATE), {"in_channels": 1},
                        "waveform 16 kHz (1 ch)"),
}


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """One warm-up call, then ``repeats`` wall-clock timings (seconds)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def count_macs(fn: Callable[[], object]) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops() // 2


def measure(name: str, seconds: float, repeats: int) -> dict:
    setting = SETTINGS[name]
    torch.manual_seed(0)
    model = BACKBONES.build({"name": name, "args": setting.args}).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    rep = setting.representation
    length = int(seconds * SAMPLE_RATE)
    wav = 0.1 * torch.randn(1, 1, length)
    x = rep.encode(wav)
    spatial = torch.randn(1, setting.spatial_channels, *x.shape[2:]) if setting.spatial_channels else None
    noise = torch.zeros(1)

    def evaluate():
        return model(x, noise, spatial=spatial)

    def round_trip():
        return rep.decode(rep.encode(wav), length)

    assert evaluate().shape == x.shape
    eval_times = timed(evaluate, repeats)
    rep_times = timed(round_trip, repeats)
    return {
        "name": name,
        "setting": setting.description,
        "input": "x".join(str(s) for s in x.shape),
        "params": sum(p.numel() for p in model.parameters()),
        "gmacs_per_s": count_macs(evaluate) / seconds / 1e9,
        "rtf_median": statistics.median(eval_times) / seconds,
        "rtf_min": min(eval_times) / seconds,
        "rep": type(rep).__name__,
        "rep_macs": count_macs(round_trip),
        "rep_rtf_median": statistics.median(rep_times) / seconds,
        "rep_rtf_min": min(rep_times) / seconds,
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| backbone | setting | input (10 s chunk) | params | GMAC / s audio | RTF / eval (median) | RTF / eval (min) "
        "| encode+decode | enc+dec RTF (median) | enc+dec RTF (min) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['setting']} | {r['input']} | {r['params'] / 1e6:.3f} M | {r['gmacs_per_s']:.3f} "
            f"| {r['rtf_median']:.4f} | {r['rtf_min']:.4f} | {r['rep']} | {r['rep_rtf_median']:.4f} "
            f"| {r['rep_rtf_min']:.4f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the audio chunk (default 10)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs after one warm-up (at least 7; default 15)")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"markdown file (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.repeats < 7:
        parser.error("--repeats must be at least 7 (the median of fewer runs is too noisy here)")
    missing = sorted(set(BACKBONES.names()) - set(SETTINGS))
    if missing:
        parser.error(f"no benchmark setting for backbone(s) {', '.join(missing)}: add them to SETTINGS")

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    started = time.perf_counter()
    with torch.no_grad():
        rows = [measure(name, args.seconds, args.repeats) for name in BACKBONES.names()]
    elapsed = time.perf_counter() - started
    load_after = os.getloadavg()

    body = table(rows).replace("10 s chunk", f"{args.seconds:g} s chunk")
    notes = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python benchmarks/backbones.py --seconds {args.seconds:g} "
        f"--repeats {args.repeats} --threads {args.threads}` ({elapsed:.0f} s).",
        f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{args.threads} threads, float32, batch 1, torch.no_grad(). Load average before/after: "
        f"{load_before[0]:.2f} / {load_after[0]:.2f} (the machine is shared; other work slows the median).",
        "RTF = seconds of compute per second of audio for one function evaluation (one backbone forward); "
        f"median and minimum of {args.repeats} timed runs after one warm-up.",
        "GMAC / s audio: FlopCounterMode FLOPs / 2 (convolutions and matrix products only).",
        "encode+decode: the representation's round trip, paid once per file, not per evaluation; its MACs "
        "are not in the table because FlopCounterMode does not count FFTs (it counts "
        + ", ".join(f"{r['rep_macs']} for {r['rep']}" for r in rows) + ").",
        "A k-evaluation sampler costs about k x RTF/eval + RTF(encode+decode).",
    ]
    report = "# Backbone cost per function evaluation\n\n" + body + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print(body)
    print()
    print("\n".join(notes))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
