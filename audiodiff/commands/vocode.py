"""``audiodiff vocode IN... -o OUT``: speech from mel spectrograms (``.npy``), re-synthesis of
recordings through their mel, or (``--task bandwidth``) telephone-band speech restored to 16 kHz."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audiodiff.audio import AUDIO_EXTENSIONS, AudioError, load_audio
from audiodiff.commands import verb
from audiodiff.commands.files import add_run_options, check_task, plan_jobs, report, run_files
from audiodiff.pipelines.writing import remove_stale_parts

TASKS = {"vocoder": "speech-vocoder", "bandwidth": "speech-bandwidth"}
MEL_EXTENSIONS = (".npy",)

EPILOG = """\
mel input (.npy, vocoder only): a float array [n_mels, frames] (or [channels, n_mels, frames]),
the natural log of the magnitude mel spectrogram, clamped at 1e-5: with the shipped model, 16 kHz,
n_fft 1024, hop 256 (frames = samples // 256 + 1), 80 Slaney-scale bands with Slaney norm, 0-8 kHz
(librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=1024, hop_length=256, n_mels=80, power=1)
then np.log(np.maximum(mel, 1e-5)) gives it, up to the padding of the first and last two frames;
audiodiff.Vocoder().mel_of(wav, rate) gives it exactly).
Outputs are .wav at the model's rate (16 kHz), named after the inputs.

examples:
  audiodiff vocode mels/ -o speech/                       # every .npy and audio file under mels/
  audiodiff vocode take.flac -o take_resynth.wav --steps 4
  audiodiff vocode --task bandwidth phone_call.wav -o wideband.wav --plot
"""


def configure(parser):
    parser.epilog = EPILOG
    parser.add_argument("inputs", nargs="+", metavar="IN",
                        help="mel .npy files, audio files, folders (searched recursively) or globs")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder (relative names are kept, as .wav); a .wav name when IN is one file")
    parser.add_argument("--task", choices=sorted(TASKS), default="vocoder",
                        help="vocoder: mel (or audio, through its mel) to speech; bandwidth: narrowband "
                             "speech (e.g. 8 kHz telephone audio) to 16 kHz")
    parser.add_argument("--model", default=None, help="shipped name or checkpoint folder (default: by --task)")
    add_run_options(parser, plot_help="also write an input-vs-output spectrogram PNG per audio input")


def load_mel_or_audio(path: Path, n_mels: int | None):
    """``(log-mel [C, n_mels, N], None)`` for a ``.npy`` file, else ``(audio [C, T], rate)``."""
    if path.suffix.lower() not in MEL_EXTENSIONS:
        return load_audio(path)
    if n_mels is None:
        raise AudioError(f"{path}: this model takes audio, not a mel spectrogram")
    try:
        mel = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise AudioError(f"{path}: not a readable .npy array ({err})") from None
    if mel.ndim not in (2, 3) or mel.shape[-2] != n_mels or mel.shape[-1] < 2 or not np.issubdtype(mel.dtype, np.number):
        raise AudioError(f"{path}: expected a log-mel [{n_mels}, frames] or [channels, {n_mels}, frames], "
                         f"got {mel.dtype} {mel.shape}")
    if not np.isfinite(mel).all():
        raise AudioError(f"{path}: the mel spectrogram holds NaN or Inf values")
    mel = torch.from_numpy(np.asarray(mel, dtype=np.float32))
    return (mel[None] if mel.ndim == 2 else mel), None


def _wav_name(rel: Path) -> Path:
    return rel.with_suffix(".wav") if rel.suffix.lower() in MEL_EXTENSIONS else rel


@verb("vocode", "synthesise speech from mel spectrograms, or restore telephone-band speech", configure)
def vocode(args) -> int:
    from audiodiff.pipelines.vocode import Vocoder

    extensions = AUDIO_EXTENSIONS + (MEL_EXTENSIONS if args.task == "vocoder" else ())
    model = args.model or TASKS[args.task]
    check_task(model, (TASKS[args.task],), f"vocode --task {args.task}")
    jobs, todo = plan_jobs(args.inputs, extensions, args.output, args.overwrite, rename=_wav_name)
    vocoder = Vocoder(model, device=args.device, steps=args.steps, solver=args.solver,
                      chunk_seconds=args.chunk_seconds, batch_size=args.batch_size)
    remove_stale_parts([dst for _, dst in jobs])
    observation = vocoder.model.observation
    n_mels = observation.n_mels if vocoder.takes_mel else None

    def chunks_of(src: Path) -> int:
        try:
            if src.suffix.lower() in MEL_EXTENSIONS:
                shape = np.load(src, mmap_mode="r", allow_pickle=False).shape
                channels, length = (shape[0] if len(shape) == 3 else 1), (shape[-1] - 1) * observation.hop_length
            else:
                info = sf.info(str(src))
                channels, length = info.channels, math.ceil(info.frames * vocoder.sample_rate / info.samplerate)
        except Exception:
            return 0
        return vocoder.chunks_for(channels, length)

    written, failures = run_files(vocoder, todo, lambda src: load_mel_or_audio(src, n_mels), chunks_of, args.seed,
                                  args.plot, args.task, labels=("input", "output"))
    return report(args.output, written, failures, args.plot, verb="wrote")
