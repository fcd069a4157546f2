"""Vocoder quality and speed on dev-set speech (never reserved sources).

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

Bandwidth extension (``vocode --task bandwidth``) is repair of the band above 4 kHz: measured by
``benchmarks/repair.py`` (its ``band`` kind, beside plain resampling and spectral folding).

RTF = processing seconds / audio seconds (2 threads when no ``audiodiff fit`` runs, else 1; the
output says which). Writes ``<out>/vocode.md``, ``vocode.csv`` and ``vocode_spectrograms.png``.

Run: ``python benchmarks/vocode.py [--limit 30] [--nfe 2 4 8]``
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

from audiodiff.audio import load_audio  # noqa: E402
from audiodiff.metrics import f0_track, synthesis_scores  # noqa: E402
from audiodiff.observations import MelInversion  # noqa: E402
from audiodiff.pipelines.vocode import Vocoder  # noqa: E402
from audiodiff.plots import save_spectrograms  # noqa: E402

RATE = 16_000
DIGITS = {"pesq": 2, "log_mel": 2, "mrstft": 3, "f0_rmse": 1, "vuv_error": 3, "rtf": 3}


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
    parser.add_argument("--nfe", type=int, nargs="+", default=[2, 4, 8])
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
    with open(args.out / "vocode.csv", "w", newline="") as f:
        fields = sorted({k for r in rows for k in r}, key=lambda k: (k not in ("task", "file", "system"), k))
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    where = (f"{len(files)} clean dev files ({args.dev}), this machine's CPU, {args.threads} thread(s)"
             f", torch {torch.__version__}, "
             f"torchaudio {torchaudio.__version__}")
    text = "\n\n".join([
        "# Vocoder", f"Run: `python benchmarks/vocode.py {' '.join(sys.argv[1:])}`; {where}.",
        f"## Vocoder (mel -> speech, model `{args.model}`)",
        table([r for r in rows if r["task"] == "vocoder"], ("pesq", "log_mel", "mrstft", "f0_rmse", "vuv_error", "rtf")),
        "PESQ-WB higher is better; log-mel distance (dB), MR-STFT distance, F0 RMSE (Hz) and voicing error lower.",
    ])
    (args.out / "vocode.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
