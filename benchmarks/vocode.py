"""Vocoder and bandwidth-extension quality and speed on dev-set speech (never reserved sources).

Data: the clean side of the speech dev set built by ``audiodiff data build-corpus`` (16 kHz,
4-second excerpts of held-out Czech dialogue and English prompts).

Vocoder: each file -> its log-mel (80 Slaney bands, n_fft 1024, hop 256, 0-8 kHz: the shipped
model's ``Mel``) -> audio, by
* ``Griffin-Lim k``: torchaudio ``InverseMelScale`` + ``GriffinLim`` (k = 32 and 100 iterations,
  momentum 0.99, random initial phase);
* ``librosa``: ``librosa.feature.inverse.mel_to_audio`` (NNLS inversion, 32 Griffin-Lim iterations);
* ``audiodiff NFE=n``: the ``Vocoder`` (``speech-vocoder``) at n denoiser calls, seed 0.
Metrics against the original: PESQ-WB, log-mel distance (dB), multi-resolution STFT distance,
F0 RMSE (Hz, frames voiced in both) and voicing error (share of frames), pYIN tracks.

Bandwidth extension: each file -> 8 kHz (band-limited resampling) -> 16 kHz, by
* ``plain resampling``: torchaudio's windowed-sinc resampler (the narrowband input as it is);
* ``spectral folding``: the 0-4 kHz band mirrored about 4 kHz into 4-8 kHz at -12 dB, the
  classic non-learned extension;
* ``audiodiff NFE=n``: the ``speech-bandwidth`` model at n denoiser calls, seed 0.
Metrics: log-spectral distance of the 4-8 kHz band (dB), PESQ-WB, RTF.

RTF = processing seconds / audio seconds (2 threads when no ``audiodiff fit`` runs, else 1; the
output says which). Writes ``<out>/vocode.md``, ``vocode.csv``, ``vocode_spectrograms.png`` and
``bandwidth_spectrograms.png``.

Run: ``python benchmarks/vocode.py [--limit 30] [--nfe 2 4 8] [--bandwidth-nfe 1 2 4]``
"""

from __future__ import annotations

from enhance import markdown, mean

import argparse  # noqa: E402
import csv  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchaudio  # noqa: E402

from audiodiff.audio import load_audio, resample  # noqa: E402
from audiodiff.metrics import f0_track, log_spectral_distance, pesq_wb, synthesis_scores  # noqa: E402
from audiodiff.observations import MelInversion  # noqa: E402
from audiodiff.pipelines.vocode import Vocoder  # noqa: E402
from audiodiff.plots import save_spectrograms  # noqa: E402

RATE = 16_000
HIGH_BAND = (4_000, 8_000)
DIGITS = {"pesq": 2, "log_mel": 2, "mrstft": 3, "f0_rmse": 1, "vuv_error": 3, "lsd_high": 2, "rtf": 3}


def griffin_lim(observation: MelInversion, iterations: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
    mel = observation.mel

    def run(logmel: torch.Tensor, length: int) -> torch.Tensor:
        return mel.decode(logmel[None], length, n_iter=iterations)[0, 0]

    return run


def librosa_inversion(observation: MelInversion) -> Callable[[torch.Tensor, int], torch.Tensor]:
    import librosa

    m = observation.mel

    def run(logmel: torch.Tensor, length: int) -> torch.Tensor:
        wav = librosa.feature.inverse.mel_to_audio(logmel[0].exp().numpy(), sr=m.sample_rate, n_fft=m.n_fft,
                                                   hop_length=m.hop_length, power=1.0, fmin=m.f_min, fmax=m.f_max,
                                                   length=length)
        return torch.from_numpy(wav).float()

    return run


def audiodiff_vocoder(vocoder: Vocoder, nfe: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
    def run(logmel: torch.Tensor, length: int) -> torch.Tensor:
        out = vocoder(logmel, steps=nfe, seed=0)[0]
        return torch.nn.functional.pad(out, (0, max(0, length - out.shape[-1])))[:length]

    return run


def spectral_folding(narrow: torch.Tensor) -> torch.Tensor:
    """``[T]`` at 16 kHz, empty above 4 kHz -> its 0-4 kHz band mirrored about 4 kHz into 4-8 kHz
    at -12 dB (the aliasing a zero-insertion upsampler would make, tamed)."""
    window = torch.hann_window(512)
    spec = torch.stft(narrow, 512, 128, window=window, return_complex=True)  # 257 bins of 31.25 Hz
    spec[129:] = 0.25 * spec[1:129].flip(0)
    return torch.istft(spec, 512, 128, window=window, length=narrow.shape[-1])


def timed(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def vocoder_rows(files: list[Path], vocoder: Vocoder | None, nfes: list[int], show: Path) -> list[dict]:
    """The baselines always; audiodiff at each NFE when a vocoder checkpoint is given."""
    observation = vocoder.model.observation if vocoder else MelInversion()
    systems = {"Griffin-Lim 32": griffin_lim(observation, 32), "Griffin-Lim 100": griffin_lim(observation, 100),
               "librosa": librosa_inversion(observation)}
    if vocoder:
        systems |= {f"audiodiff NFE={n}": audiodiff_vocoder(vocoder, n) for n in nfes}
    shown = f"audiodiff NFE={nfes[0]}" if vocoder else "Griffin-Lim 32"
    rows = []
    for index, path in enumerate(files):
        wav = load_audio(path, RATE, channels=1)[0][0]
        logmel = observation.mel.encode(wav[None, None])[0]  # [1, n_mels, N]
        outputs, track = {"original": wav}, f0_track(wav, RATE)
        for name, run in systems.items():
            torch.manual_seed(0)  # Griffin-Lim's random initial phase
            out, seconds = timed(lambda: run(logmel, wav.shape[-1]))
            outputs[name] = out
            rows.append({"task": "vocoder", "file": path.name, "system": name, "rtf": seconds / (wav.shape[-1] / RATE),
                         **synthesis_scores(out, wav, RATE, track)})
        if index == 0:
            save_spectrograms(show, {k: outputs[k] for k in ("original", "Griffin-Lim 100", shown)}, RATE)
        print(f"vocoder {index + 1}/{len(files)} {path.name}", flush=True)
    return rows


def bandwidth_rows(files: list[Path], model: str, nfes: list[int], show: Path) -> list[dict]:
    extender = Vocoder(model, device="cpu")
    systems: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
        "plain resampling": lambda narrow8k: resample(narrow8k, 8_000, RATE),
        "spectral folding": lambda narrow8k: spectral_folding(resample(narrow8k, 8_000, RATE)),
    }
    systems |= {f"audiodiff NFE={n}": (lambda narrow8k, n=n: extender(narrow8k[None], 8_000, steps=n, seed=0)[0])
                for n in nfes}
    rows = []
    for index, path in enumerate(files):
        wav = load_audio(path, RATE, channels=1)[0][0]
        narrow = resample(wav, RATE, 8_000)
        outputs = {"original": wav}
        for name, run in systems.items():
            out, seconds = timed(lambda: run(narrow))
            out = torch.nn.functional.pad(out, (0, max(0, wav.shape[-1] - out.shape[-1])))[: wav.shape[-1]]
            outputs[name] = out
            rows.append({"task": "bandwidth", "file": path.name, "system": name,
                         "rtf": seconds / (wav.shape[-1] / RATE), "pesq": pesq_wb(out, wav, RATE),
                         "lsd_high": log_spectral_distance(out, wav, band=HIGH_BAND, sample_rate=RATE)})
        if index == 0:
            shown = f"audiodiff NFE={extender.steps}" if extender.steps in nfes else f"audiodiff NFE={nfes[0]}"
            save_spectrograms(show, {"narrowband (8 kHz)": outputs["plain resampling"], shown: outputs[shown],
                                     "original": wav}, RATE)
        print(f"bandwidth {index + 1}/{len(files)} {path.name}", flush=True)
    return rows


def table(rows: list[dict], metrics: tuple[str, ...], digits: dict[str, int] = DIGITS) -> str:
    """A markdown table: one line per system (in first-seen order), the mean of each metric."""
    systems = list(dict.fromkeys(r["system"] for r in rows))
    body = []
    for name in systems:
        mine = [r for r in rows if r["system"] == name]
        body.append([name] + [f"{mean([r[m] for r in mine if np.isfinite(r[m])]):.{digits[m]}f}" for m in metrics])
    return markdown(["system", *metrics], body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dev", type=Path, default=Path("data/corpus/dev/speech/clean"))
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--model", default="speech-vocoder", help="vocoder checkpoint, or none (baselines only)")
    parser.add_argument("--bandwidth-model", default="speech-bandwidth",
                        help="bandwidth-extension checkpoint, or none (skip that part)")
    parser.add_argument("--nfe", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--bandwidth-nfe", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    files = sorted(args.dev.glob("*.wav"))[: args.limit]
    if not files:
        raise SystemExit(f"no dev files in {args.dev}: run `audiodiff data build-corpus --out data/corpus` first")
    args.out.mkdir(parents=True, exist_ok=True)
    vocoder = None if args.model == "none" else Vocoder(args.model, device="cpu")
    rows = vocoder_rows(files, vocoder, args.nfe, args.out / "vocode_spectrograms.png")
    if args.bandwidth_model != "none":
        rows += bandwidth_rows(files, args.bandwidth_model, args.bandwidth_nfe, args.out / "bandwidth_spectrograms.png")
    with open(args.out / "vocode.csv", "w", newline="") as f:
        fields = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("task", "file", "system"), k))
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    where = (f"{len(files)} clean dev files ({args.dev}), this machine's CPU, {args.threads} thread(s)"
             f", torch {torch.__version__}, "
             f"torchaudio {torchaudio.__version__}")
    text = "\n\n".join([
        "# Vocoder and bandwidth extension", f"Run: `python benchmarks/vocode.py {' '.join(sys.argv[1:])}`; {where}.",
        f"## Vocoder (mel -> speech, model `{args.model}`)",
        table([r for r in rows if r["task"] == "vocoder"], ("pesq", "log_mel", "mrstft", "f0_rmse", "vuv_error", "rtf")),
        "PESQ-WB higher is better; log-mel distance (dB), MR-STFT distance, F0 RMSE (Hz) and voicing error lower.",
    ] + ([] if args.bandwidth_model == "none" else [
        f"## Bandwidth extension (8 kHz -> 16 kHz, model `{args.bandwidth_model}`)",
        table([r for r in rows if r["task"] == "bandwidth"], ("lsd_high", "pesq", "rtf")),
        "lsd_high: log-spectral distance of the 4-8 kHz band to the original (dB, lower is better).",
    ]))
    (args.out / "vocode.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
