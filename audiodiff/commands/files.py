"""What ``denoise`` and ``vocode`` share: inputs from files, folders and globs, output names that
stay inside the output folder, skipping finished outputs, one pipeline over all files with a
progress bar, atomic writes, and a summary of the files that failed."""

from __future__ import annotations

import glob
import sys
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from audiodiff.audio import AudioError, resample
from audiodiff.pipelines.writing import write_enhanced


def collect_inputs(inputs: list[str], extensions: tuple[str, ...]) -> list[tuple[Path, Path]]:
    """``(input file, relative output name)`` for files, folders (files with ``extensions``,
    recursively) and glob patterns."""
    found = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            found += [(p, p.relative_to(path)) for p in sorted(path.rglob("*")) if p.suffix.lower() in extensions]
        elif path.exists():
            found.append((path, Path(path.name)))
        elif any(ch in spec for ch in "*?["):
            found += [(Path(p), Path(Path(p).name)) for p in sorted(glob.glob(spec, recursive=True)) if Path(p).is_file()]
        else:
            found.append((path, Path(path.name)))  # reported as missing when loaded
    return found


def output_paths(pairs, output: Path, extensions: tuple[str, ...]) -> list[tuple[Path, Path]]:
    """``(input, output file)``: ``output`` itself for one input and an output name with one of
    ``extensions``, else ``output / relative name``. A relative name that would leave ``output``,
    or two inputs that would be written to the same file, are refused before anything is written."""
    single_file = len(pairs) == 1 and output.suffix.lower() in extensions
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
                             "process them in separate runs or pass their parent folder")
        claimed[dst] = src
    unique = {(output / rel).resolve(): (src, output / rel) for src, rel in pairs}
    return list(unique.values())


def pending(jobs: list[tuple[Path, Path]], overwrite: bool) -> list[tuple[Path, Path]]:
    """The jobs still to do: all with ``overwrite``, else those whose output does not exist."""
    return [(src, dst) for src, dst in jobs if overwrite or not dst.exists()]


def run_files(pipeline, todo: list[tuple[Path, Path]], load: Callable, chunks_of: Callable[[Path], int],
              seed: int, plot: bool, desc: str, subtype=None,
              labels: tuple[str, str] = ("noisy", "enhanced")) -> tuple[int, list[str]]:
    """Run ``pipeline.enhance_many`` over ``todo`` and write each result as soon as it is done.

    ``load(src) -> (data, rate)`` raises AudioError for a bad file (``rate`` None: not audio, e.g.
    a mel); ``chunks_of(src)`` sizes the progress bar. Outputs keep the input's rate when the
    model's observation does, else the model's; ``plot`` adds a spectrogram PNG of input and output
    (titled ``labels``) beside each. Returns ``(files written, failure messages)``.
    """
    failures: list[str] = []
    keeps_rate = pipeline.model.observation.keeps_rate
    bar = tqdm(total=sum(chunks_of(src) for src, _ in todo), unit="chunk", desc=desc)

    def items():
        for src, dst in todo:
            try:
                data, rate = load(src)
            except AudioError as err:
                failures.append(str(err))
                continue
            # handed over without a reference left in this frame (the input is kept only to plot it)
            box = [((src, dst, data if plot and rate is not None else None, rate), data, rate)]
            del data
            yield box.pop()

    written = 0
    for (src, dst, given, rate), out in pipeline.enhance_many(items(), seed=seed, on_chunks=bar.update):
        out_rate = rate if keeps_rate else pipeline.sample_rate
        shown = None if given is None else resample(torch.as_tensor(given), rate, out_rate)
        error = write_enhanced(src, dst, out, out_rate, shown, subtype, labels)
        if error:
            failures.append(error)
        else:
            written += 1
    bar.close()
    return written, failures


def report(output: str, written: int, failures: list[str], plot: bool, verb: str = "enhanced") -> int:
    """Print where the outputs are and which files failed; the exit code (1 if any failed)."""
    where = Path(output)
    plots = f" (spectrogram: {where.with_suffix('.png')})" if where.suffix else " (spectrogram PNGs beside them)"
    print(f"{verb} {written} file(s) -> {where}" + (plots if plot else ""))
    if failures:
        print(f"{len(failures)} file(s) failed:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0
