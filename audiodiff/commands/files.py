"""What the file-processing verbs (``denoise``, ``vocode``, ``repair``, ``synth``) share: their common options,
checked when parsed; inputs from files, folders and globs, checked before anything else; output names
that stay inside the output folder, in a format that can be written, in a folder that can be
written; skipping finished outputs; one pipeline over all files with a progress bar; atomic writes;
and a summary of the files that failed."""

from __future__ import annotations

import argparse
import glob
import sys
import tempfile
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from audiodiff.audio import AudioError, resample
from audiodiff.diffusion.sampling import SAMPLERS
from audiodiff.pipelines.writing import write_enhanced


def count(n: int, noun: str = "file") -> str:
    """``"1 file"``, ``"2 files"``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _checked(kind, test, wanted: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"{text} is not {wanted}")
        return value

    parse.__name__ = wanted  # argparse names the type in its messages
    return parse


positive_int = _checked(int, lambda v: v >= 1, "a whole number of at least 1")
non_negative_int = _checked(int, lambda v: v >= 0, "a whole number of at least 0")
positive_float = _checked(float, lambda v: v > 0, "a number above 0")
non_negative_float = _checked(float, lambda v: v >= 0, "a number of at least 0")


def add_run_options(parser: argparse.ArgumentParser, plot_help: str) -> None:
    """The options every file-processing verb takes: sampler, seed, batching, device, plot, overwrite."""
    parser.add_argument("--steps", type=positive_int, default=None, help="sampler steps (default: the checkpoint's)")
    parser.add_argument("--solver", choices=SAMPLERS.names(), default=None, help="sampler (default: the checkpoint's)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed: same seed, same output")
    parser.add_argument("--batch-size", type=positive_int, default=8,
                        help="chunks per model call (memory ~ batch x chunk)")
    parser.add_argument("--chunk-seconds", type=positive_float, default=4.0,
                        help="length of the chunks long input is cut into (neighbours overlap by 0.5 s, or a "
                             "quarter of a shorter chunk)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="where the model runs")
    parser.add_argument("--plot", action="store_true", help=plot_help)
    parser.add_argument("--overwrite", action="store_true", help="redo files whose output exists (default: skip them)")


def check_task(model: str, tasks: tuple[str, ...], verb: str) -> None:
    """ValueError unless the checkpoint ``model`` (name or folder) was trained for one of ``tasks``;
    reads only its config, before anything heavy loads."""
    from audiodiff.hub import load_config, resolve

    task = load_config(resolve(model)).get("task", "generic")
    if task not in tasks:
        raise ValueError(f"{model} is a {task} model; {verb} takes {' or '.join(t for t in tasks if t != 'generic')} "
                         "models (audiodiff info lists them)")


WRITABLE = {".wav", ".flac", ".ogg", ".oga"}
"""Output containers ``audio.save_audio`` writes; other names (.mp3, .aiff, ...) are written as FLAC."""


def plan_jobs(inputs: list[str], extensions: tuple[str, ...], output: str, overwrite: bool,
              rename: Callable[[Path], Path] = lambda rel: rel, done: str = "done") -> tuple[list, list]:
    """``(jobs, todo)``: every ``(input, output file)`` pair, and those still to do. Before any model
    loads, it raises ValueError for an input that does not exist, a folder or glob with no input
    files, several inputs into one file name, or an output folder that cannot be written; output
    names in a format that cannot be written become ``.flac`` (with a note)."""
    pairs = collect_inputs(inputs, extensions)
    missing = [str(src) for src, _ in pairs if not src.exists()]
    if missing:
        raise ValueError(f"{', '.join(missing)}: no such file")
    out = Path(output)
    if len(pairs) > 1 and out.suffix.lower() in extensions + tuple(WRITABLE) and not out.is_dir():
        raise ValueError(f"{count(len(pairs))} cannot all be written to one file, {out}: give a folder")
    jobs = output_paths([(src, rename(rel)) for src, rel in pairs], out, extensions + tuple(WRITABLE))
    jobs = writable_names(jobs)
    check_writable({dst.parent for _, dst in jobs})
    todo = pending(jobs, overwrite)
    if len(todo) < len(jobs):
        print(f"skipping {count(len(jobs) - len(todo))} already {done} (use --overwrite to redo them)")
    return jobs, todo


def writable_names(jobs: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Outputs whose format cannot be written (MP3 and other read-only codecs) renamed to ``.flac``."""
    renamed = [(src, dst if dst.suffix.lower() in WRITABLE else dst.with_suffix(".flac")) for src, dst in jobs]
    changed = sorted({dst.suffix for (_, dst), (_, new) in zip(jobs, renamed) if dst != new})
    if changed:
        print(f"note: {', '.join(changed)} cannot be written; those outputs are written as .flac")
    return renamed


def check_writable(folders: set[Path]) -> None:
    """Create each output folder and write a probe file in it; ValueError naming the folder if it fails."""
    for folder in sorted(folders):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as err:
            raise ValueError(f"{folder}: cannot write there ({err.strerror or err})") from None


def collect_inputs(inputs: list[str], extensions: tuple[str, ...]) -> list[tuple[Path, Path]]:
    """``(input file, relative output name)`` for files, folders (files with ``extensions``,
    recursively) and glob patterns; a folder or glob that yields no such file is a ValueError (a
    missing plain file is returned, for the caller to report)."""
    found = []
    for spec in inputs:
        path = Path(spec)
        if path.is_dir():
            these = [(p, p.relative_to(path)) for p in sorted(path.rglob("*")) if p.suffix.lower() in extensions]
        elif path.exists():
            these = [(path, Path(path.name))]
        elif any(ch in spec for ch in "*?["):
            these = [(Path(p), Path(Path(p).name)) for p in sorted(glob.glob(spec, recursive=True))
                     if Path(p).is_file() and Path(p).suffix.lower() in extensions]
        else:
            these = [(path, Path(path.name))]
        if not these:
            raise ValueError(f"{spec}: no input files ({', '.join(extensions)}) in this "
                             f"{'folder' if path.is_dir() else 'pattern'}")
        found += these
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


def audio_chunks(pipeline) -> Callable[[Path], int]:
    """``src -> `` the chunks ``pipeline`` (a RecordingPipeline) cuts an audio file into, from its
    header (0 for a file that cannot be read: it fails later, by name)."""
    import math

    import soundfile as sf

    def chunks_of(src: Path) -> int:
        try:
            info = sf.info(str(src))
        except Exception:  # noqa: BLE001 -- reported when it is loaded
            return 0
        return pipeline.chunks_for(info.channels, math.ceil(info.frames * pipeline.sample_rate / info.samplerate))

    return chunks_of


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark allowed); AudioError naming it and ``what`` it
    should hold if it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except OSError as err:
        raise AudioError(f"{path}: cannot read it ({err.strerror})") from None
    except UnicodeDecodeError:
        raise AudioError(f"{path}: not UTF-8 text (expected {what})") from None


def run_files(pipeline, todo: list[tuple[Path, Path]], load: Callable, chunks_of: Callable[[Path], int],
              seed: int, plot: bool, desc: str, subtype=None,
              labels: tuple[str, str] = ("noisy", "enhanced"), extras: Callable | None = None) -> tuple[int, list[str]]:
    """Run ``pipeline.run_many`` over ``todo`` and write each result as soon as it is done.

    ``load(src) -> (data, rate)`` raises AudioError for a bad file (``rate`` None: not audio, e.g.
    a mel); ``extras(src, data, rate)``, if given, adds to each item what the pipeline takes
    besides (a tuple; AudioError for a bad file); ``chunks_of(src)`` sizes the progress bar.
    Outputs are at ``pipeline.output_rate(rate)``; ``plot`` adds a spectrogram PNG of input and
    output (titled ``labels``) beside each. Returns ``(files written, failure messages)``.
    """
    failures: list[str] = []
    bar = tqdm(total=sum(chunks_of(src) for src, _ in todo), unit="chunk", desc=desc)

    def items():
        for src, dst in todo:
            try:
                data, rate = load(src)
                more = extras(src, data, rate) if extras else ()
            except AudioError as err:
                failures.append(str(err))
                continue
            # handed over without a reference left in this frame (the input is kept only to plot it)
            box = [((src, dst, data if plot and rate is not None else None, rate), data, rate, *more)]
            del data
            yield box.pop()

    written = 0
    for (src, dst, given, rate), out in pipeline.run_many(items(), seed=seed, on_chunks=bar.update):
        out_rate = pipeline.output_rate(rate)
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
    print(f"{verb} {count(written)} -> {where}" + (plots if plot and written else ""))
    if failures:
        print(f"{count(len(failures))} failed:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0
