"""``audiodiff repair IN... -o OUT``: fill gaps (lost packets, dropouts) and restore a missing high band."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from audiodiff.audio import AUDIO_EXTENSIONS, AudioError, load_audio
from audiodiff.commands import verb
from audiodiff.commands.files import (
    audio_chunks,
    add_run_options,
    check_task,
    count,
    non_negative_float,
    plan_jobs,
    positive_float,
    read_text,
    report,
    run_files,
)
from audiodiff.pipelines.writing import remove_stale_parts

TASKS = ("speech-repair", "music-repair")
MIN_GAP_MS = 2.0  # found gaps: runs of digital zeros at least this long


def configure(parser):
    parser.add_argument("inputs", nargs="+", metavar="IN", help="audio files, folders (searched recursively) or globs")
    parser.add_argument("-o", "--output", required=True, metavar="OUT",
                        help="output folder (relative names are kept); a file name when IN is one file")
    parser.add_argument("--model", default="speech-repair",
                        help="shipped name (speech-repair: 16 kHz speech; music-repair: 22.05 kHz music) or "
                             "checkpoint folder")
    parser.add_argument("--gaps", metavar="CSV",
                        help="the gaps to fill, one a row: file,start_s,end_s (file: the input's base name); "
                             "files not listed are searched for gaps (default: all are)")
    parser.add_argument("--min-gap-ms", type=positive_float, default=MIN_GAP_MS,
                        help="searched gaps are runs of digital zeros (every channel) at least this long")
    parser.add_argument("--band", type=non_negative_float, default=None, metavar="HZ",
                        help="nothing above HZ is known: restore it (default: half the input's rate when that is "
                             "below the model's, e.g. 8 kHz files; 0: the full band is there)")
    parser.add_argument("--band-level", type=float, default=None, metavar="DB",
                        help="level of the restored band against the model's estimate (default: the "
                             "model's, -6 for speech-repair; higher is brighter)")
    add_run_options(parser, plot_help="also write an input-vs-repaired spectrogram PNG per file")


def read_gaps(path: str) -> dict[str, list[tuple[float, float]]]:
    """``{base name: [(start_s, end_s), ...]}`` from a CSV of ``file,start_s,end_s`` rows (a header
    row naming those columns is allowed); AudioError naming the line of any bad row."""
    gaps: dict[str, list[tuple[float, float]]] = {}
    rows = list(csv.reader(read_text(path, "CSV rows file,start_s,end_s").splitlines()))
    for line, row in enumerate(rows, 1):
        if not row or (line == 1 and [c.strip() for c in row] == ["file", "start_s", "end_s"]):
            continue
        try:
            name, start, end = row[0].strip(), float(row[1]), float(row[2])
        except (IndexError, ValueError):
            raise AudioError(f"{path}, line {line}: expected file,start_s,end_s, got {','.join(row)!r}") from None
        if not (0 <= start < end and math.isfinite(end)):
            raise AudioError(f"{path}, line {line}: a gap runs from a start >= 0 to a later end, got {start}..{end}")
        gaps.setdefault(name, []).append((start, end))
    if not gaps:
        raise AudioError(f"{path}: no gaps listed")
    return gaps


@verb("repair", "fill gaps (lost packets, dropouts) and restore a missing high band", configure)
def repair(args) -> int:
    check_task(args.model, TASKS, "repair")
    return repair_files(args)


def repair_files(args) -> int:
    """Repair every input of ``args`` (``repair``'s options: inputs, output, model, gaps, min_gap_ms,
    band and the run options) and write them; the exit code. ``vocode --task bandwidth`` runs it too."""
    from audiodiff.pipelines.repair import Repairer

    listed = read_gaps(args.gaps) if args.gaps else {}
    jobs, todo = plan_jobs(args.inputs, AUDIO_EXTENSIONS, args.output, args.overwrite, done="repaired")
    names = [src.name for src, _ in jobs]
    unknown = sorted(set(listed) - set(names))
    if unknown:
        raise AudioError(f"{args.gaps}: no input is named {', '.join(unknown)}")
    twice = sorted(name for name in listed if names.count(name) > 1)
    if twice:
        raise AudioError(f"{args.gaps}: {', '.join(twice)} names more than one input: repair them one folder at a time")
    repairer = Repairer(args.model, device=args.device, steps=args.steps, solver=args.solver,
                        chunk_seconds=args.chunk_seconds, batch_size=args.batch_size, min_gap_ms=args.min_gap_ms,
                        band_level_db=args.band_level)
    remove_stale_parts([dst for _, dst in jobs])
    summary: list[str] = []

    def damage_of(src: Path, audio, rate: int) -> tuple:
        try:
            damage = repairer.damage(audio, rate, listed.get(src.name), args.band)
        except ValueError as err:
            raise AudioError(f"{src}: {err}") from None
        seconds = sum(end - start for start, end in damage.gaps) / rate
        longest = max((end - start for start, end in damage.gaps), default=0) / rate
        band = f", the band above {damage.band_hz / 1000:g} kHz" if damage.band_hz else ""
        summary.append(f"  {src.name}: {count(len(damage.gaps), 'gap')} ({seconds:.2f} s, the longest "
                       f"{longest * 1000:.0f} ms){band}")
        return (damage,)

    written, failures = run_files(repairer, todo, load_audio, audio_chunks(repairer), args.seed, args.plot, "repair",
                                  labels=("input", "repaired"), extras=damage_of)
    if summary:
        print("filled:\n" + "\n".join(summary))
    return report(args.output, written, failures, args.plot, verb="repaired")
