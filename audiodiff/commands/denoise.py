"""``audiodiff denoise IN... -o OUT``: enhance files, folders and globs."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from audiodiff.audio import AUDIO_EXTENSIONS, load_audio
from audiodiff.commands import verb
from audiodiff.commands.files import (
    audio_chunks,
    add_run_options,
    check_task,
    non_negative_float,
    plan_jobs,
    positive_int,
    report,
    run_files,
)
from audiodiff.pipelines.writing import remove_stale_parts

TASKS = ("speech-enhance", "music-enhance", "generic")


def configure(parser):
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files, folders (searched recursively) or globs")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder (relative names are kept); a file name when IN is one file")
    parser.add_argument("--model", default="speech-enhance",
                        help="shipped name (speech-enhance, music-enhance) or checkpoint folder")
    add_run_options(parser, plot_help="also write a noisy-vs-enhanced spectrogram PNG per file")
    parser.add_argument("--attenuation-limit", type=non_negative_float, default=None, metavar="DB",
                        help="remove at most DB decibels: mixes 10^(-DB/20) of the input back, which keeps a "
                             "floor under spectral holes (default: the checkpoint's; music-enhance 20, "
                             "speech-enhance none; inf: none)")
    parser.add_argument("--devices", type=positive_int, default=1,
                        help="processes per node (GPUs, or CPU processes without CUDA); above 1, each takes a "
                             "disjoint shard of the files (Lightning predict loop, DDP)")
    parser.add_argument("--num-nodes", type=positive_int, default=1, help="nodes of a torchrun or SLURM launch")


@verb("denoise", "enhance noisy recordings (speech or music) with a diffusion model", configure)
def denoise(args) -> int:
    from audiodiff.pipelines.enhance import Enhancer

    check_task(args.model, TASKS, "denoise")
    jobs, todo = plan_jobs(args.inputs, AUDIO_EXTENSIONS, args.output, args.overwrite, done="enhanced")
    enhancer = Enhancer(args.model, device="cpu" if args.devices * args.num_nodes > 1 else args.device,
                        steps=args.steps, solver=args.solver, chunk_seconds=args.chunk_seconds,
                        batch_size=args.batch_size, attenuation_limit_db=args.attenuation_limit)
    if args.devices * args.num_nodes > 1:  # every rank shards the full list, then skips its finished files
        return _denoise_distributed(args, jobs, enhancer)
    remove_stale_parts([dst for _, dst in jobs])


    written, failures = run_files(enhancer, todo, load_audio, audio_chunks(enhancer), args.seed, args.plot, "denoise", _subtype)
    return report(args.output, written, failures, args.plot)


def _denoise_distributed(args, jobs, enhancer) -> int:
    from audiodiff.pipelines.distributed import denoise_distributed

    accelerator = {"auto": "auto", "cpu": "cpu", "cuda": "gpu"}[args.device]
    result = denoise_distributed(jobs, enhancer, args.devices, args.num_nodes, accelerator, seed=args.seed,
                                 plot=args.plot, subtype=_subtype, overwrite=args.overwrite)
    if result is None:  # not rank 0: rank 0 reports for everyone
        return 0
    per_rank, failures = result
    print(f"{len(per_rank)} processes enhanced " + " + ".join(str(len(w)) for w in per_rank)
          + f" {'file' if sum(len(w) for w in per_rank) == 1 else 'files'}")
    return report(args.output, sum(len(w) for w in per_rank), failures, args.plot)


def _subtype(src: Path, dst: Path) -> str | None:
    """Keep the input's sample format when writing the same container."""
    info = sf.info(str(src))
    return info.subtype if src.suffix.lower() == dst.suffix.lower() and sf.check_format(info.format, info.subtype) else None
