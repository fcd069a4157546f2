"""``audiodiff vocode IN... -o OUT``: speech from mel spectrograms (``.npy``), re-synthesis of
recordings through their mel, or (``--task bandwidth``) telephone-band speech restored to 16 kHz:
bandwidth extension is repair in frequency, so that task is ``audiodiff repair --band 4000`` (the
same code and the same model, ``speech-repair``)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audiodiff.audio import AUDIO_EXTENSIONS, AudioError, load_audio
from audiodiff.commands import verb
from audiodiff.commands.files import add_run_options, check_task, plan_jobs, report, run_files
from audiodiff.pipelines.writing import remove_stale_parts

TASKS = {"vocoder": "speech-vocoder", "bandwidth": "speech-repair"}  # --task: the kind of model it runs (default)
TELEPHONE_BAND_HZ = 4_000.0  # --task bandwidth: nothing above it is known
MEL_EXTENSIONS = (".npy",)

EPILOG = """\
mel input (.npy, vocoder only): a float array [n_mels, frames] (or [channels, n_mels, frames]),
the natural log of the magnitude mel spectrogram, clamped at 1e-5: with the shipped model, 16 kHz,
n_fft 1024, hop 256 (frames = samples // 256 + 1), 80 Slaney-scale bands with Slaney norm, 0-8 kHz
(librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=1024, hop_length=256, n_mels=80, power=1)
then np.log(np.maximum(mel, 1e-5)) gives it, up to the padding of the first and last two frames;
audiodiff.Vocoder().mel_of(wav, rate) gives it exactly).
Outputs are .wav at the model's rate (16 kHz), named after the inputs.
--task bandwidth: the band above 4 kHz restored by speech-repair, exactly as
`audiodiff repair IN -o OUT --band 4000` (runs of digital zeros inside a file are filled too);
audio in, outputs at 16 kHz (or at the input's rate when higher), named as the inputs.

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
                        help="output folder (relative names are kept, a mel's as .wav); a file name when IN is "
                             "one file")
    parser.add_argument("--task", choices=sorted(TASKS), default="vocoder",
                        help="vocoder: mel (or audio, through its mel) to speech; bandwidth: the band above "
                             "4 kHz of speech (e.g. 8 kHz telephone audio) restored, as `repair --band 4000`")
    parser.add_argument("--model", default=None,
                        help="shipped name or checkpoint folder (default: speech-vocoder; --task bandwidth: "
                             "speech-repair)")
    add_run_options(parser, plot_help="also write an input-vs-output spectrogram PNG per audio input")


def load_mel_or_audio(path: Path, n_mels: int):
    """``(log-mel [C, n_mels, N], None)`` for a ``.npy`` file, else ``(audio [C, T], rate)``."""
    if path.suffix.lower() not in MEL_EXTENSIONS:
        return load_audio(path)
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
    model = args.model or TASKS[args.task]
    check_task(model, (TASKS[args.task],), f"vocode --task {args.task}")
    if args.task == "bandwidth":
        return restore_band(args, model)
    return vocode_files(args, model)


def restore_band(args, model: str) -> int:
    """``--task bandwidth``: ``audiodiff repair --band 4000`` with ``model`` on the same inputs and
    run options (gaps found as ``repair`` finds them); the exit code."""
    from audiodiff.commands.repair import MIN_GAP_MS, repair_files

    return repair_files(argparse.Namespace(**{**vars(args), "model": model, "gaps": None, "min_gap_ms": MIN_GAP_MS,
                                              "band": TELEPHONE_BAND_HZ, "band_level": None}))


def vocode_files(args, model: str) -> int:
    """Vocode every input of ``args`` (mel ``.npy`` files and audio) with ``model``; the exit code."""
    from audiodiff.pipelines.vocode import Vocoder

    jobs, todo = plan_jobs(args.inputs, AUDIO_EXTENSIONS + MEL_EXTENSIONS, args.output, args.overwrite,
                           rename=_wav_name)
    vocoder = Vocoder(model, device=args.device, steps=args.steps, solver=args.solver,
                      chunk_seconds=args.chunk_seconds, batch_size=args.batch_size)
    remove_stale_parts([dst for _, dst in jobs])
    observation = vocoder.model.observation

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

    written, failures = run_files(vocoder, todo, lambda src: load_mel_or_audio(src, observation.n_mels), chunks_of,
                                  args.seed, args.plot, args.task, labels=("input", "output"))
    return report(args.output, written, failures, args.plot, verb="wrote")
