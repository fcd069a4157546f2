"""Text-to-speech quality and speed: audiodiff's speech-tts beside rule-based engines and the real
recordings, on held-out prompts of each voice, in one run.

Data: the held-out prompts of ``audiodiff data build-corpus --kinds prompts`` (``heldout/prompts``:
one prompt in ten of each Asterisk voice by a hash of its name; never trained on, never validated
on, reserved prompts never listed), ``--limit`` per voice.

Systems: ``recording`` (the voice itself: the recognizer's floor), ``espeak-ng``, ``flite slt``,
``flite kal16``, ``festival kal_diphone`` (English only), and ``audiodiff NFE=n`` (TextToSpeech in
the prompt's voice, seed 0).

Metrics: word error rate of PyPI ``pocketsphinx``'s en-us recognizer against the normalized
transcript (English voices); mel-cepstral distance (MCD, dB: mel cepstra 1-24, after
dynamic time warping; cepstra from 80 mel bands) to the recording of the same text by the same voice; duration ratio to it;
F0 RMSE (Hz, pYIN, frames voiced in both along the warping path); real-time factor (text to
waveform) at ``--threads``.

Writes ``<out>/tts.csv`` (a row per prompt and system), ``tts.md`` and ``tts_spectrograms.png``.
Run: ``python benchmarks/tts.py [--limit 20] [--nfe 1 2 4] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import time
from pathlib import Path

import numpy as np
import torch

from audiodiff.audio import level_gain, load_audio, resample
from audiodiff.data.tts import synthesise
from audiodiff.hub import CheckpointError
from audiodiff.metrics import f0_track
from audiodiff.pipelines.speak import TextToSpeech
from audiodiff.plots import save_spectrograms
from audiodiff.text import ESPEAK_RATE, ESPEAK_VOICES, normalize, render

RATE = 16_000
PICTURED = "en_US_f_Allison"  # the voice of the picture (its first prompt)
ENGINES = {"flite slt": ("flite", "slt"), "flite kal16": ("flite", "kal16"),
           "festival kal_diphone": ("festival", "kal_diphone")}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", normalize(text).lower())


def word_error_rate(hypothesis: list[str], reference: list[str]) -> float:
    """Levenshtein distance over words / reference words."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i] + [0] * len(hypothesis)
        for j, hyp in enumerate(hypothesis, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp))
        previous = current
    return previous[-1] / max(1, len(reference))


class Recognizer:
    """pocketsphinx's en-us model (inside its wheel)."""

    def __init__(self):
        from pocketsphinx import Decoder

        self.decoder = Decoder(samprate=RATE, loglevel="FATAL")

    def __call__(self, wav: torch.Tensor) -> list[str]:
        pcm = (wav.reshape(-1).clamp(-1, 1) * 32767).to(torch.int16).numpy().tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr.split() if hyp is not None else []


def cepstra(wav: torch.Tensor) -> np.ndarray:
    """Mel cepstra 1-24 ``[24, frames]``: the orthonormal DCT of the natural-log amplitude of 80
    mel bands (1024-point frames, hop 256; the signal at RMS 0.1, bands floored about 60 dB below
    speech, so digital silence and a quiet room compare alike), the units the MCD formula assumes."""
    import librosa
    from scipy.fft import dct

    level = wav.reshape(-1) * level_gain(wav.reshape(1, -1))[0]  # RMS 0.1: one floor means one thing
    mel = librosa.feature.melspectrogram(y=level.numpy(), sr=RATE, n_fft=1024, hop_length=256, n_mels=80, power=1.0)
    return dct(np.log(np.maximum(mel, 1e-2)), type=2, norm="ortho", axis=0)[1:25]  # floor: ~-60 dB re. speech


def against_recording(wav: torch.Tensor, recording: torch.Tensor, recording_f0) -> dict:
    """MCD after DTW, duration ratio and F0 RMSE along the warping path."""
    import librosa

    a, b = cepstra(wav), cepstra(recording)
    _, path = librosa.sequence.dtw(X=a, Y=b, metric="euclidean")
    diff = a[:, path[:, 0]] - b[:, path[:, 1]]
    mcd = float(np.mean(10 / math.log(10) * np.sqrt(2 * np.sum(diff**2, axis=0))))
    f_a, v_a = f0_track(wav.reshape(-1), RATE)
    f_b, v_b = recording_f0
    i, j = np.minimum(path[:, 0], len(f_a) - 1), np.minimum(path[:, 1], len(f_b) - 1)
    both = v_a[i] & v_b[j]
    rmse = float(np.sqrt(np.mean((f_a[i][both] - f_b[j][both]) ** 2))) if both.any() else math.nan
    return {"mcd": mcd, "duration_ratio": wav.shape[-1] / recording.shape[-1], "f0_rmse": rmse}


def systems(lang: str, voice: str, tts: TextToSpeech | None, nfes: list[int], guidances: list[float]):
    """``{name: text -> [T] at 16 kHz}`` for one voice (audiodiff at every step count and guidance scale)."""
    found = {"espeak-ng": lambda text: resample(torch.from_numpy(render(normalize(text, lang), ESPEAK_VOICES[lang])),
                                                 ESPEAK_RATE, RATE)}
    if lang == "en":
        for name, (engine, engine_voice) in ENGINES.items():
            found[name] = lambda text, e=engine, v=engine_voice: synthesise(Path("/"), e, v, normalize(text), RATE)[0]
    if tts is not None and voice in tts.voices:
        for nfe in nfes:
            for scale in guidances:
                name = f"audiodiff NFE={nfe}" + (f" guidance={scale:g}" if scale != 1 else "")
                found[name] = lambda text, n=nfe, g=scale: tts(text, voice=voice, seed=0, steps=n, guidance=g)[0][0]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="data/corpus")
    parser.add_argument("--limit", type=int, default=20, help="held-out prompts per voice")
    parser.add_argument("--voices", nargs="+", default=None, help="voice folders (default: all)")
    parser.add_argument("--nfe", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--guidance", type=float, nargs="+", default=[1.0],
                        help="classifier-free guidance scales toward the voice (1: none)")
    parser.add_argument("--model", default="speech-tts")
    parser.add_argument("--vocoder", default="speech-vocoder", help="the mel vocoder (name or folder)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = Path(args.corpus) / "heldout" / "prompts"
    table = [line.split("\t") for line in (folder / "transcripts.tsv").read_text().splitlines()[1:] if line]
    try:
        tts = TextToSpeech(args.model, vocoder=args.vocoder, device="cpu")
    except (CheckpointError, ValueError) as err:
        tts, note = None, f"audiodiff left out ({err})"
    else:
        note = ""
    recognizer, rows = Recognizer(), []
    for voice in args.voices or sorted({v for v, _, _ in table}):
        lang = voice[:2]
        prompts = [(name, text) for v, name, text in table if v == voice][: args.limit]
        for name, text in prompts:
            recording = load_audio(folder / voice / f"{name}.wav", RATE, channels=1)[0][0]
            recording_f0 = f0_track(recording, RATE)
            reference = words(text)
            spoken = {}
            for system, speak in {"recording": None, **systems(lang, voice, tts, args.nfe, args.guidance)}.items():
                began = time.perf_counter()
                wav = recording if speak is None else speak(text).reshape(-1).float()
                seconds = 0.0 if speak is None else time.perf_counter() - began
                spoken[system] = wav
                row = {"voice": voice, "prompt": name, "system": system, "seconds": seconds,
                       "audio_seconds": wav.shape[-1] / RATE,
                       "wer": word_error_rate(recognizer(wav), reference) if lang == "en" else math.nan}
                row |= against_recording(wav, recording, recording_f0) if speak is not None else {
                    "mcd": 0.0, "duration_ratio": 1.0, "f0_rmse": 0.0}
                rows.append(row)
            print(f"{voice} {name}: done", flush=True)
            if (voice, name) == (PICTURED, prompts[0][0]):
                picture(out / "tts_spectrograms.png", spoken, tts)
    with open(out / "tts.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "tts.md").write_text(summary(rows, note, args))
    print((out / "tts.md").read_text())
    return 0


def picture(path: Path, spoken: dict, tts: TextToSpeech | None) -> None:
    """The recording, two engines and audiodiff at its default steps saying one prompt, a row each."""
    default = f"audiodiff NFE={tts.model.config['sampling']['steps']}" if tts is not None else None
    shown = [s for s in ("recording", "espeak-ng", "flite slt", default) if s in spoken]
    save_spectrograms(path, {s: spoken[s] for s in shown}, RATE)


def summary(rows: list[dict], note: str, args) -> str:
    lines = [f"# Text-to-speech benchmark\n\n`python benchmarks/tts.py --limit {args.limit} --nfe "
             f"{' '.join(map(str, args.nfe))}"
             + (f" --guidance {' '.join(f'{g:g}' for g in args.guidance)}" if args.guidance != [1.0] else "")
             + (f" --model {args.model}" if args.model != "speech-tts" else "")
             + (f" --vocoder {args.vocoder}" if args.vocoder != "speech-vocoder" else "")
             + f" --threads {args.threads}`; this CPU, {args.threads} threads.\n"]
    if note:
        lines.append(f"- {note}")
    for voice in dict.fromkeys(r["voice"] for r in rows):
        mine = [r for r in rows if r["voice"] == voice]
        lines += [f"\n## {voice} ({len({r['prompt'] for r in mine})} prompts)\n",
                  "| system | WER | MCD (dB) | duration ratio | F0 RMSE (Hz) | RTF |", "|---|---|---|---|---|---|"]
        for system in dict.fromkeys(r["system"] for r in mine):
            theirs = [r for r in mine if r["system"] == system]
            means = [np.nanmean([r[k] for r in theirs]) for k in ("wer", "mcd", "duration_ratio", "f0_rmse")]
            rtf = sum(r["seconds"] for r in theirs) / sum(r["audio_seconds"] for r in theirs)
            lines.append(f"| {system} | " + " | ".join(f"{m:.3f}" for m in means) + f" | {rtf:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
