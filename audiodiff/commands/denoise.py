"""``audiodiff denoise IN... -o OUT``: enhance files, folders and globs."""

from __future__ import annotations

import glob
import math
import sys
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from audiodiff.audio import AUDIO_EXTENSIONS, AudioError, chunk_starts, load_audio
from audiodiff.commands import verb
from audiodiff.diffusion.sampling import SAMPLERS
from audiodiff.pipelines.writing import remove_stale_parts, write_enhanced


def configure(parser):
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files, folders (searched recursively) or globs")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder (relative names are kept); a file name when IN is one file")
    parser.add_argument("--model", default="speech-enhance", help="shipped name or checkpoint folder")
    parser.add_argument("--steps", type=int, default=None, help="sampler steps (default: the checkpoint's)")
    parser.add_argument("--solver", choices=SAMPLERS.names(), default=None, help="sampler (default: the checkpoint's)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, same output")
    parser.add_argument("--batch-size", type=int, default=8, help="chunks per model call (memory ~ batch x chunk)")
    parser.add_argument("--chunk-seconds", type=float, default=4.0, help="length of the chunks long input is cut into")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the model runs")
    parser.add_argument("--plot", action="store_true", help="also write a noisy-vs-enhanced spectrogram PNG per file")
    parser.add_argument("--overwrite", action="store_true", help="redo files whose output exists (default: skip them)")
    parser.add_argument("--devices", type=int, default=1,
                        help="processes per node (GPUs, or CPU processes without CUDA); above 1, each takes a "
                             "disjoint shard of the files (Lightning predict loop, DDP)")
    parser.add_argument("--num-nodes", type=int, default=1, help="nodes of a torchrun or SLURM launch")


def collect_inputs(inputs: list[str]) -> list[tuple[Path, Path]]:
    """``(input file, relative output name)`` for files, folders and glob patterns."""
    found = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            found += [(p, p.relative_to(path)) for p in sorted(path.rglob("*")) if p.suffix.lower() in AUDIO_EXTENSIONS]
        elif path.exists():
            found.append((path, Path(path.name)))
        elif any(ch in spec for ch in "*?["):
            found += [(Path(p), Path(Path(p).name)) for p in sorted(glob.glob(spec, recursive=True)) if Path(p).is_file()]
        else:
            found.append((path, Path(path.name)))  # reported as missing when loaded
    return found


def output_paths(pairs, output: Path) -> list[tuple[Path, Path]]:
    """``(input, output file)``: ``output`` itself for one input and an audio-file name, else
    ``output / relative name``. A relative name that would leave ``output``, or two inputs that
    would be written to the same file, are refused before anything is written."""
    single_file = len(pairs) == 1 and output.suffix.lower() in AUDIO_EXTENSIONS
    if single_file:
        return [(pairs[0][0], output)]
    root = output.resolve()
    claimed: dict[Path, Path] = {}
    for src, rel in pairs:
        dst = (output / rel).resolve()
        if not dst.is_relative_to(root):
            raise ValueError(f"{src}: its output name {rel} would be written outside {output}")
        if dst in claimed and claimed[dst].resolve() != src.resolve():
            raise ValueError(f"{claimed[dst]} and {src} would both be written to {output / rel}: "
                             "enhance them in separate runs or pass their parent folder")
        claimed[dst] = src
    unique = {(output / rel).resolve(): (src, output / rel) for src, rel in pairs}
    return list(unique.values())


def pending(jobs: list[tuple[Path, Path]], overwrite: bool) -> list[tuple[Path, Path]]:
    """The jobs still to do: all with ``overwrite``, else those whose output does not exist."""
    return [(src, dst) for src, dst in jobs if overwrite or not dst.exists()]


@verb("denoise", "enhance noisy recordings (speech or music) with a diffusion model", configure)
def denoise(args) -> int:
    from audiodiff.pipelines.enhance import Enhancer

    jobs = output_paths(collect_inputs(args.inputs), Path(args.output))
    todo = pending(jobs, args.overwrite)
    if len(todo) < len(jobs):
        print(f"skipping {len(jobs) - len(todo)} file(s) already enhanced (use --overwrite to redo them)")
    enhancer = Enhancer(args.model, device="cpu" if args.devices * args.num_nodes > 1 else args.device,
                        steps=args.steps, solver=args.solver, chunk_seconds=args.chunk_seconds,
                        batch_size=args.batch_size)
    if args.devices * args.num_nodes > 1:  # every rank shards the full list, then skips its finished files
        return _denoise_distributed(args, jobs, enhancer)
    remove_stale_parts([dst for _, dst in jobs])
    failures: list[str] = []
    hop = enhancer.chunk - enhancer.overlap

    def chunks_of(src: Path) -> int:
        try:
            info = sf.info(str(src))
        except Exception:
            return 0
        length = math.ceil(info.frames * enhancer.sample_rate / info.samplerate)
        return len(chunk_starts(length, enhancer.chunk, hop)) * info.channels

    bar = tqdm(total=sum(chunks_of(src) for src, _ in todo), unit="chunk", desc="denoise")

    def items():
        for src, dst in todo:
            try:
                wav, rate = load_audio(src)
            except AudioError as err:
                failures.append(str(err))
                continue
            # handed over without a reference left in this frame (the input is kept only to plot it)
            box = [((src, dst, wav if args.plot else None), wav, rate)]
            del wav
            yield box.pop()

    written = 0
    for (src, dst, noisy), enhanced in enhancer.enhance_many(items(), seed=args.seed, on_chunks=bar.update):
        error = write_enhanced(src, dst, enhanced, sf.info(str(src)).samplerate, noisy, _subtype)
        if error:
            failures.append(error)
        else:
            written += 1
    bar.close()
    return _report(args, written, failures)


def _denoise_distributed(args, jobs, enhancer) -> int:
    from audiodiff.pipelines.distributed import denoise_distributed

    accelerator = {"auto": "auto", "cpu": "cpu", "cuda": "gpu"}[args.device]
    result = denoise_distributed(jobs, enhancer, args.devices, args.num_nodes, accelerator, seed=args.seed,
                                 plot=args.plot, subtype=_subtype, overwrite=args.overwrite)
    if result is None:  # not rank 0: rank 0 reports for everyone
        return 0
    per_rank, failures = result
    print(f"{len(per_rank)} processes enhanced " + " + ".join(str(len(w)) for w in per_rank) + " file(s)")
    return _report(args, sum(len(w) for w in per_rank), failures)


def _report(args, written: int, failures: list[str]) -> int:
    where = Path(args.output)
    plots = f" (spectrogram: {where.with_suffix('.png')})" if where.suffix else " (spectrogram PNGs beside them)"
    print(f"enhanced {written} file(s) -> {where}" + (plots if args.plot else ""))
    if failures:
        print(f"{len(failures)} file(s) failed:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


def _subtype(src: Path, dst: Path) -> str | None:
    """Keep the input's sample format when writing the same container."""
    info = sf.info(str(src))
    return info.subtype if src.suffix.lower() == dst.suffix.lower() and sf.check_format(info.format, info.subtype) else None
