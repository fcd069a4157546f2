"""Repair quality and speed: audiodiff's repair models beside classical concealment, on dev material
with each kind of loss, in one run.

Data, built by ``audiodiff data build-corpus``: speech, the clean side of the unseen-sources dev set
(``dev/speech_unseen/clean``: voices of packages training never reads, 6 s each); music, the clean
side of the music dev set (``dev/music/clean``, 22.05 kHz). Each file loses, from a seed fixed per
file and kind (the training draws of :mod:`audiodiff.gaps`):

* ``packets``: 10-20 ms packets lost in bursts (two-state chain) at 5-30%;
* ``dropouts``: one to three dropouts of 20-500 ms (music: 20-400 ms);
* ``band`` (speech): everything above 4 kHz (the file at 8 kHz, restored to 16 kHz).

Systems: ``clean`` (speech gaps: the recording before the loss, its PLCMOS the ceiling); ``zeros``
(the damaged input); ``repetition``: the last pitch period repeated through the gap, attenuated
after 10 ms by 20% per 10 ms and cross-faded into what follows (the idea of G.711 Appendix I);
``LPC``: linear prediction (order 16 speech, 32 music, Burg's method on the 40 ms each
side) driven by the last pitch period of its residual, forward and backward through the gap,
cross-faded (the concealment of CELP codecs); for the band, ``resampling``
(the 8 kHz file at 16 kHz) and ``folding`` (the 0-4 kHz spectrum mirrored above 4 kHz at -12 dB);
``audiodiff NFE=n``: the Repairer with the gaps given, seed 0.

Metrics: PLCMOS v2 (speech; no reference) and PESQ-WB (speech) over the file; log-spectral distance
(LSD, dB, lower is better: frames centred in a gap) and SNR (dB) inside the gaps; for the band, the
LSD of 4-8 kHz and PESQ-WB. Real-time factor = processing seconds / audio seconds at ``--threads``.

Writes ``<out>/repair.csv`` (a row per file, kind and system), ``repair.md`` and ``repair_gap.png``
(a filled dropout). Run: ``python benchmarks/repair.py [--limit 24] [--nfe 1 2 4 8] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import librosa
import numpy as np
import torch
from scipy.signal import lfilter, lfiltic

from audiodiff.audio import load_audio, resample
from audiodiff.gaps import dropouts, find_gaps, packet_loss
from audiodiff.hub import CheckpointError
from audiodiff.metrics import log_spectral_distance, pesq_wb, plcmos
from audiodiff.pipelines.repair import Damage, Repairer

BAND_HZ = 4_000
KINDS = {"speech": ("packets", "dropouts", "band"), "music": ("packets", "dropouts")}
FOLDERS = {"speech": "dev/speech_unseen/clean", "music": "dev/music/clean"}
MODELS = {"speech": "speech-repair", "music": "music-repair"}


# ------------------------------------------------------------------------------------ damage


def damage(clean: torch.Tensor, rate: int, kind: str, seed: int, medium: str) -> tuple[torch.Tensor, list]:
    """The damaged file ``[1, T]`` and its gaps (samples); ``band``: the file at 8 kHz, no gaps."""
    generator = torch.Generator().manual_seed(seed)
    if kind == "band":
        return resample(clean, rate, 2 * BAND_HZ), []
    if kind == "packets":
        known = packet_loss(clean.shape[-1], rate, generator)
    else:
        known = dropouts(clean.shape[-1], rate, generator, dropout_ms=(20, 500 if medium == "speech" else 400))
    return clean * known, find_gaps(known[None], rate, min_gap_ms=0)  # the runs where nothing is known


# ------------------------------------------------------------------------------ classical methods


def pitch_period(history: np.ndarray, rate: int) -> int:
    """The lag (2.5-15 ms) of the autocorrelation peak of ``history``, else 10 ms."""
    low, high = int(0.0025 * rate), int(0.015 * rate)
    if len(history) < 2 * high or not np.any(history):
        return int(0.01 * rate)
    x = history - history.mean()
    corr = np.correlate(x, x, mode="full")[len(x) - 1 :]
    return low + int(np.argmax(corr[low:high]))


def repetition(x: np.ndarray, gaps: list, rate: int) -> np.ndarray:
    """Each gap filled with the last pitch period repeated, attenuated after 10 ms by 20% per 10 ms,
    and cross-faded over a quarter period into the audio that follows."""
    y = x.copy()
    for start, end in gaps:
        history = y[max(0, start - int(0.04 * rate)) : start]
        period = pitch_period(history, rate)
        cycle = history[-period:] if len(history) >= period else np.zeros(period)
        size, fade = end - start, max(1, period // 4)
        seconds = np.arange(size + fade) / rate
        fill = np.resize(cycle, size + fade) * np.clip(1 - 20 * np.maximum(0.0, seconds - 0.01), 0, 1)
        y[start:end] = fill[:size]
        after = y[end : end + fade]
        ramp = np.linspace(0, 1, len(after), endpoint=False)
        y[end : end + len(after)] = ramp * after + (1 - ramp) * fill[size : size + len(after)]
    return y


def extrapolate(history: np.ndarray, size: int, order: int, rate: int) -> np.ndarray:
    """``size`` samples continuing ``history``: its all-pole model (``order``, Burg's method) driven by
    its last pitch period of prediction residual, repeated and attenuated as in :func:`repetition`
    (the excitation codecs conceal with)."""
    if len(history) <= 2 * order or not np.any(history):
        return np.zeros(size)
    a = librosa.lpc(history.astype(np.float64), order=order)
    residual = lfilter(a, [1.0], history)
    period = pitch_period(history, rate)
    seconds = np.arange(size) / rate
    excitation = np.resize(residual[-period:], size) * np.clip(1 - 20 * np.maximum(0.0, seconds - 0.01), 0, 1)
    state = lfiltic([1.0], a, history[::-1][:order])
    return lfilter([1.0], a, excitation, zi=state)[0]


def lpc(x: np.ndarray, gaps: list, rate: int, order: int) -> np.ndarray:
    """Each gap filled by prediction forward from before it and backward from after it, cross-faded."""
    y, context = x.copy(), int(0.04 * rate)
    for i, (start, end) in enumerate(gaps):
        size = end - start
        following = gaps[i + 1][0] if i + 1 < len(gaps) else len(x)  # known audio only, up to the next gap
        forward = extrapolate(y[max(0, start - context) : start], size, order, rate)
        backward = extrapolate(x[end : min(end + context, following)][::-1], size, order, rate)[::-1]
        weight = 0.5 + 0.5 * np.cos(np.linspace(0, math.pi, size))
        y[start:end] = np.clip(weight * forward + (1 - weight) * backward, -1, 1)
    return y


def folding(narrow: torch.Tensor, rate: int, n_fft: int = 512) -> torch.Tensor:
    """The 8 kHz ``narrow`` at ``rate`` with its 0-4 kHz spectrum mirrored above 4 kHz at -12 dB."""
    wide = resample(narrow, 2 * BAND_HZ, rate)
    window = torch.hann_window(n_fft)
    spec = torch.stft(wide, n_fft, n_fft // 4, window=window, return_complex=True)
    edge = int(BAND_HZ * n_fft / rate)
    bins = torch.arange(edge + 1, spec.shape[-2])
    spec[..., bins, :] = spec[..., (2 * edge - bins).clamp_min(0), :] * 10 ** (-12 / 20)
    return torch.istft(spec, n_fft, n_fft // 4, window=window, length=wide.shape[-1])


# ------------------------------------------------------------------------------------ metrics


def in_gaps(estimate: torch.Tensor, reference: torch.Tensor, gaps: list, rate: int, n_fft: int = 512) -> dict:
    """LSD (dB) over the STFT frames centred in a gap, and SNR (dB) over the gap samples."""
    hop = n_fft // 4
    window = torch.hann_window(n_fft)

    def db(x):
        return 10 * torch.log10(torch.stft(x.reshape(-1), n_fft, hop, window=window, return_complex=True)
                                .abs().pow(2).clamp_min(1e-10))

    centres = torch.arange(db(reference).shape[-1]) * hop
    inside = torch.zeros_like(centres, dtype=torch.bool)
    mask = torch.zeros(reference.shape[-1], dtype=torch.bool)
    for start, end in gaps:
        inside |= (centres >= start) & (centres < end)
        mask[start:end] = True
    diff = (db(estimate) - db(reference))[:, inside]
    lsd = diff.pow(2).mean(0).sqrt().mean().item() if inside.any() else math.nan
    ref, err = reference.reshape(-1)[mask], (reference - estimate).reshape(-1)[mask]
    snr = 10 * math.log10(ref.pow(2).sum().item() / max(err.pow(2).sum().item(), 1e-12)) if mask.any() else math.nan
    return {"lsd_gap": lsd, "snr_gap": snr}


def scores(estimate: torch.Tensor, clean: torch.Tensor, gaps: list, rate: int, kind: str, medium: str) -> dict:
    estimate = estimate.reshape(1, -1)[:, : clean.shape[-1]]
    estimate = torch.nn.functional.pad(estimate, (0, clean.shape[-1] - estimate.shape[-1]))
    if kind == "band":
        return {"lsd_band": log_spectral_distance(estimate[0], clean[0], 512, (BAND_HZ, rate // 2), rate),
                "pesq": pesq_wb(estimate[0], clean[0], rate)}
    found = in_gaps(estimate, clean, gaps, rate)
    if medium == "speech":
        found |= {"plcmos": plcmos(estimate[0], rate), "pesq": pesq_wb(estimate[0], clean[0], rate)}
    return found


# ----------------------------------------------------------------------------------------- run


def systems(kind: str, medium: str, nfes: list[int], repairer: Repairer | None):
    """``{name: run(damaged [1, T], rate, gaps) -> [1, T']}`` for this kind of loss."""
    order = 16 if medium == "speech" else 32
    rate_of = {"speech": 16_000, "music": 22_050}[medium]
    found = {}
    if kind == "band":
        found["resampling"] = lambda x, rate, gaps: resample(x, 2 * BAND_HZ, rate_of)
        found["folding"] = lambda x, rate, gaps: folding(x, rate_of)
    else:
        found["zeros"] = lambda x, rate, gaps: x
        found["repetition"] = lambda x, rate, gaps: torch.from_numpy(repetition(x[0].numpy(), gaps, rate))[None].float()
        found["LPC"] = lambda x, rate, gaps: torch.from_numpy(lpc(x[0].numpy(), gaps, rate, order))[None].float()
    if repairer is not None:
        for nfe in nfes:
            def run(x, rate, gaps, nfe=nfe):
                if kind == "band":
                    return repairer(x, 2 * BAND_HZ, steps=nfe)
                ((_, out),) = repairer.run_many([(0, x, rate, Damage(gaps, 0.0))], steps=nfe)
                return out
            found[f"audiodiff NFE={nfe}"] = run
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--limit", type=int, default=24, help="files per medium")
    parser.add_argument("--nfe", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--media", nargs="+", default=["speech", "music"], choices=list(KINDS))
    parser.add_argument("--model", default=None, help="speech model (default speech-repair)")
    parser.add_argument("--music-model", default=None, help="music model (default music-repair)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, notes = [], []
    for medium in args.media:
        files = sorted((Path(args.corpus) / FOLDERS[medium]).glob("*.wav"))[: args.limit]
        name = (args.model if medium == "speech" else args.music_model) or MODELS[medium]
        try:
            repairer = Repairer(name, device="cpu")
        except (CheckpointError, ValueError) as err:
            repairer = None
            notes.append(f"{medium}: audiodiff left out ({err})")
        for index, path in enumerate(files):
            clean, rate = load_audio(path, channels=1)
            for kind in KINDS[medium]:
                damaged, gaps = damage(clean, rate, kind, seed=1000 * index + KINDS[medium].index(kind), medium=medium)
                ceiling = {"clean": None} if medium == "speech" and kind != "band" else {}
                for system, run in {**ceiling, **systems(kind, medium, args.nfe, repairer)}.items():
                    began = time.perf_counter()
                    estimate = clean if run is None else run(damaged, rate, gaps)
                    seconds = time.perf_counter() - began
                    found = scores(estimate, clean, gaps, rate, kind, medium)
                    if run is None:  # the recording before the loss: only PLCMOS (no reference) says something
                        found = {key: value if key == "plcmos" else math.nan for key, value in found.items()}
                    rows.append({"medium": medium, "file": path.name, "kind": kind, "system": system,
                                 "seconds": seconds, "audio_seconds": clean.shape[-1] / rate, **found})
                print(f"{medium} {path.name} {kind}: done", flush=True)
    kept = kept_rows(out / "repair.csv", args.media)
    if kept:
        notes.append(f"{', '.join(dict.fromkeys(r['medium'] for r in kept))}: rows kept from an earlier run")
    rows = kept + rows
    keys = sorted({key for row in rows for key in row}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99)
    with open(out / "repair.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    (out / "repair.md").write_text(summary(rows, notes, args))
    if "speech" in args.media:
        picture(out / "repair_gap.png", Path(args.corpus) / FOLDERS["speech"], args.model or MODELS["speech"])
    print((out / "repair.md").read_text())
    return 0


def kept_rows(path: Path, media: list[str]) -> list[dict]:
    """The rows of an earlier ``repair.csv`` for the media this run leaves out (``--media music``
    re-measures music and keeps the speech run's rows as they were)."""
    if not path.exists():
        return []
    def parsed(value: str):
        try:
            return float(value)
        except ValueError:
            return value

    with open(path, newline="") as f:
        return [{k: parsed(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)
                if row["medium"] not in media]


def picture(path: Path, folder: Path, model: str) -> None:
    """Spectrograms around a dropout in the first speech file: clean, the gap, LPC and audiodiff."""
    from audiodiff.plots import spectrogram_figure

    clean, rate = load_audio(sorted(folder.glob("*.wav"))[0], channels=1)
    start, end = int(2.0 * rate), int(2.25 * rate)  # a 250 ms dropout
    damaged = clean.clone()
    damaged[:, start:end] = 0
    shown = {"clean": clean, "dropout (250 ms)": damaged,
             "LPC": torch.from_numpy(lpc(damaged[0].numpy(), [(start, end)], rate, 16))[None].float()}
    try:
        shown["audiodiff (default)"] = Repairer(model, device="cpu")(damaged, rate, gaps=[(2.0, 2.25)])
    except (CheckpointError, ValueError):
        pass
    window = slice(int(1.5 * rate), int(2.75 * rate))
    figure = spectrogram_figure({name: wav[0, window] for name, wav in shown.items()}, rate)
    figure.savefig(path, dpi=100, bbox_inches="tight")


def summary(rows: list[dict], notes: list[str], args) -> str:
    """Means per medium, kind and system."""
    lines = [f"# Repair benchmark\n\n`python benchmarks/repair.py --limit {args.limit} --nfe "
             f"{' '.join(map(str, args.nfe))} --threads {args.threads}`; this CPU, {args.threads} threads.\n"]
    lines += [f"- {note}" for note in notes]
    if not rows:
        return "\n".join(lines + ["", "(no files)"]) + "\n"
    for medium in dict.fromkeys(r["medium"] for r in rows):
        for kind in dict.fromkeys(r["kind"] for r in rows if r["medium"] == medium):
            mine = [r for r in rows if r["medium"] == medium and r["kind"] == kind]
            metrics = [k for k in ("plcmos", "pesq", "lsd_gap", "snr_gap", "lsd_band") if k in mine[0]]
            lines += [f"\n## {medium}, {kind} ({len({r['file'] for r in mine})} files)\n",
                      "| system | " + " | ".join(metrics) + " | RTF |", "|---" * (len(metrics) + 2) + "|"]
            for system in dict.fromkeys(r["system"] for r in mine):
                theirs = [r for r in mine if r["system"] == system]
                means = [np.nanmean([r[k] for r in theirs]) for k in metrics]
                rtf = sum(r["seconds"] for r in theirs) / sum(r["audio_seconds"] for r in theirs)
                lines.append(f"| {system} | " + " | ".join(f"{m:.2f}" for m in means) + f" | {rtf:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
