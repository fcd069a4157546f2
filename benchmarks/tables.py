"""The benchmark tables of the README, the docs and the model cards, made from the runs' own
``benchmarks/results/*.csv``, so that no page can disagree with a run or with another page.

A table sits in a markdown file between ``<!-- table:NAME -->`` and ``<!-- /table -->``.
``python benchmarks/tables.py`` rewrites every such block in ``README.md``, ``docs/*.md`` and
``checkpoints/*/README.md``; ``--check`` only reports the blocks that are out of date (exit 1), and a
test runs it.

Tables (NAME): ``music-midi`` (``benchmarks/music.py``'s systems), ``vocode-vocoder``
(``benchmarks/vocode.py``'s systems), ``shipped-models`` (each shipped model's headline figure at
its default steps beside the best peer of its benchmark), ``enhance-unseen``, ``enhance-speech``,
``enhance-music`` (every system of that set on its mixtures: scores and real-time factor),
``enhance-unseen-clean`` (DNSMOS on the set's clean recordings: do no harm), ``enhance-unseen-kinds``
(DNSMOS OVRL by noise kind), ``repair-speech``, ``repair-band``, ``repair-music``
(``benchmarks/repair.py``'s systems per kind of loss), ``tts-allison``, ``tts-voices`` (``benchmarks/tts.py``).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BLOCK = re.compile(r"(<!-- table:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(<!-- /table -->)", re.S)
SPEECH = (("pesq", "PESQ-WB", 2), ("estoi", "ESTOI", 3), ("si_sdr", "SI-SDR (dB)", 1), ("sig", "SIG", 2),
          ("bak", "BAK", 2), ("ovrl", "OVRL", 2))


def read(name: str) -> list[dict]:
    """Rows of ``results/<name>`` with numbers as floats (empty cells: NaN)."""
    with open(RESULTS / name, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            try:
                row[key] = float(value) if value != "" else math.nan
            except (TypeError, ValueError):
                pass
    return rows


def mean(values) -> float:
    values = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    return sum(values) / len(values) if values else math.nan


def markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body]) + "\n"


def systems_of(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(row["system"] for row in rows))


def system_table(name: str, metrics, clean: bool = False) -> str:
    """Every system of one enhancement set: mean scores and real-time factor, over the mixtures or
    (``clean``) over the clean recordings the set also holds (noise kind ``none``)."""
    rows = [r for r in read(name) if (r.get("noise_kind") == "none") == clean]
    body = []
    for system in systems_of(rows):
        mine = [r for r in rows if r["system"] == system]
        rtf = sum(r["seconds"] for r in mine) / sum(r["audio_seconds"] for r in mine)
        body.append([system] + [f"{mean(r[key] for r in mine):.{digits}f}" for key, _, digits in metrics]
                    + [f"{rtf:.3f}"])
    return markdown(["system"] + [label for _, label, _ in metrics] + ["RTF"], body)


def music_enhance_table(name: str) -> str:
    """Music enhancement: SI-SDR / LSD overall and by noise kind, and RTF, every system."""
    rows = read(name)
    kinds = sorted({r["noise_kind"] for r in rows})

    def cell(mine):
        return f"{mean(r['si_sdr'] for r in mine):.1f} / {mean(r['lsd'] for r in mine):.2f}"

    body = []
    for system in systems_of(rows):
        mine = [r for r in rows if r["system"] == system]
        rtf = sum(r["seconds"] for r in mine) / sum(r["audio_seconds"] for r in mine)
        body.append([system, cell(mine)] + [cell([r for r in mine if r["noise_kind"] == k]) for k in kinds]
                    + [f"{rtf:.3f}"])
    return markdown(["system (SI-SDR dB / LSD dB)", "all", *kinds, "RTF"], body)


def kinds_table(name: str, metric: str = "ovrl") -> str:
    """One metric by noise kind, every system."""
    rows = read(name)
    kinds = sorted({r["noise_kind"] for r in rows})
    body = [[system] + [f"{mean(r[metric] for r in rows if r['system'] == system and r['noise_kind'] == k):.2f}"
                        for k in kinds] for system in systems_of(rows)]
    counts = {k: sum(r["noise_kind"] == k for r in rows if r["system"] == systems_of(rows)[0]) for k in kinds}
    return markdown(["system"] + [f"{k} (n={counts[k]})" for k in kinds], body)


HEADLINES = (  # model, results file, rows of, metric label, key, higher is better, its row, the peers' rows
    ("speech-enhance", "enhance_unseen.csv", {}, "DNSMOS OVRL, unseen sources", "ovrl", True,
     "audiodiff NFE={nfe}", ("DeepFilterNet3", "NSNet2", "RNNoise")),
    ("music-enhance", "devsets/enhance_music.csv", {}, "SI-SDR (dB), music dev set", "si_sdr", True,
     "audiodiff NFE={nfe}", ("noisereduce", "DeepFilterNet3", "NSNet2", "RNNoise")),
    ("speech-repair", "repair.csv", {"medium": "speech", "kind": "packets"}, "in-gap LSD (dB), lost packets",
     "lsd_gap", False, "audiodiff NFE={nfe}", ("LPC", "repetition")),
    ("music-repair", "repair.csv", {"medium": "music", "kind": "dropouts"}, "in-gap LSD (dB), dropouts",
     "lsd_gap", False, "audiodiff NFE={nfe}", ("LPC", "repetition")),
    ("speech-tts", "tts.csv", {"voice": "en_US_f_Allison"}, "MCD (dB) to the voice, Allison", "mcd", False,
     "audiodiff NFE={nfe}", ("flite slt", "flite kal16", "festival kal_diphone", "espeak-ng")),
    ("speech-vocoder", "vocode.csv", {"task": "vocoder"}, "MR-STFT distance", "mrstft", False,
     "audiodiff NFE={nfe}", ("Griffin-Lim 32", "Griffin-Lim 100", "librosa")),
    ("music-midi", "music.csv", {}, "onset F1 against the MIDI's render", "onset_f1", True,
     "audiodiff NFE={nfe}, no bank", ("fluidsynth, another soundfont", "harmonic sketch")),
)


def shipped_models() -> str:
    """Each shipped model: task, rate, its default setting's headline figure beside the best peer."""
    import json

    body = []
    for model, results, where, label, key, higher, ours, peers in HEADLINES:
        config = json.loads((ROOT / "checkpoints" / model / "config.json").read_text())
        rows = [r for r in read(results) if all(r[k] == v for k, v in where.items()) and r.get("noise_kind") != "none"]

        def score(system, rows=rows, key=key):
            return mean(r[key] for r in rows if r["system"] == system)

        mine = score(ours.format(nfe=config["sampling"]["steps"]))
        best = (max if higher else min)(peers, key=score)
        body.append([f"[`{model}`](checkpoints/{model}/README.md)", config.get("task", ""),
                     f"{config['representation']['args']['sample_rate'] / 1000:g} kHz", label,
                     f"**{mine:.3f}**" if key != "si_sdr" else f"**{mine:.1f}**",
                     f"{best} {score(best):.3f}" if key != "si_sdr" else f"{best} {score(best):.1f}"])
    return markdown(["model", "task", "rate", "headline metric", "audiodiff (default steps)", "best peer"], body)


def vocode_table(task: str, metrics) -> str:
    """Every system of ``benchmarks/vocode.py``'s run for one task (``vocoder``; the rows of the
    retired ``bandwidth`` task are left out)."""
    rows = [r for r in read("vocode.csv") if r["task"] == task]
    body = [[system] + [f"{mean(r[key] for r in rows if r['system'] == system):.{digits}f}"
                        for key, _, digits in metrics] for system in systems_of(rows)]
    return markdown(["system"] + [label for _, label, _ in metrics], body)


def music_table() -> str:
    """Every system of ``benchmarks/music.py``'s run: means over its pieces."""
    rows = read("music.csv")
    metrics = (("onset_f1", "onset F1", 3), ("chroma", "chroma cosine", 3), ("mrstft", "MR-STFT distance", 3),
               ("rtf", "RTF", 3))
    body = [[system] + [f"{mean(r[key] for r in rows if r['system'] == system):.{digits}f}" for key, _, digits in metrics]
            for system in systems_of(rows)]
    return markdown(["system"] + [label for _, label, _ in metrics], body)


VOCODER = (("pesq", "PESQ-WB", 2), ("log_mel", "log-mel dist. (dB)", 2), ("mrstft", "MR-STFT dist.", 3),
           ("f0_rmse", "F0 RMSE (Hz)", 1), ("vuv_error", "voicing error", 3), ("rtf", "RTF", 3))

REPAIR = {"plcmos": ("PLCMOS", 2), "pesq": ("PESQ-WB", 2), "lsd_gap": ("in-gap LSD (dB)", 2),
          "snr_gap": ("in-gap SNR (dB)", 1), "lsd_band": ("4-8 kHz LSD (dB)", 2)}


def repair_table(medium: str, kinds: tuple[str, ...]) -> str:
    """``benchmarks/repair.py``'s systems for one medium: each kind of loss, its metrics and RTF."""
    rows = [r for r in read("repair.csv") if r["medium"] == medium and r["kind"] in kinds]
    keys = [k for k in REPAIR if any(math.isfinite(r.get(k, math.nan)) for r in rows)]
    body = []
    for kind in kinds:
        mine = [r for r in rows if r["kind"] == kind]
        for system in systems_of(mine):
            theirs = [r for r in mine if r["system"] == system]
            rtf = sum(r["seconds"] for r in theirs) / sum(r["audio_seconds"] for r in theirs)
            body.append([kind, system] + [f"{mean(r.get(k, math.nan) for r in theirs):.{REPAIR[k][1]}f}"
                                          if any(math.isfinite(r.get(k, math.nan)) for r in theirs) else "-"
                                          for k in keys] + [f"{rtf:.3f}"])
    return markdown(["loss", "system"] + [REPAIR[k][0] for k in keys] + ["RTF"], body)


def tts_table(voices: tuple[str, ...] | None = None) -> str:
    """``benchmarks/tts.py``'s systems: means over the held-out prompts of ``voices`` (default: all)."""
    rows = [r for r in read("tts.csv") if voices is None or r["voice"] in voices]
    metrics = (("wer", "WER", 3), ("mcd", "MCD (dB)", 2), ("duration_ratio", "duration ratio", 2),
               ("f0_rmse", "F0 RMSE (Hz)", 1))
    body = []
    for system in systems_of(rows):
        theirs = [r for r in rows if r["system"] == system]
        rtf = sum(r["seconds"] for r in theirs) / sum(r["audio_seconds"] for r in theirs)
        body.append([system] + [f"{mean(r[k] for r in theirs):.{digits}f}" if math.isfinite(mean(r[k] for r in theirs))
                                else "-" for k, _, digits in metrics] + [f"{rtf:.3f}"])
    return markdown(["system"] + [label for _, label, _ in metrics] + ["RTF"], body)


def tts_voices_table() -> str:
    """Every voice of ``benchmarks/tts.py``'s run: each system's MCD, duration ratio and F0 RMSE."""
    rows = [r for r in read("tts.csv") if r["system"] != "recording"]
    body = []
    for voice in dict.fromkeys(r["voice"] for r in rows):
        for system in systems_of([r for r in rows if r["voice"] == voice]):
            theirs = [r for r in rows if r["voice"] == voice and r["system"] == system]
            body.append([voice, system, f"{mean(r['mcd'] for r in theirs):.2f}",
                         f"{mean(r['duration_ratio'] for r in theirs):.2f}", f"{mean(r['f0_rmse'] for r in theirs):.1f}"])
    return markdown(["voice", "system", "MCD (dB)", "duration ratio", "F0 RMSE (Hz)"], body)


TABLES = {
    "tts-allison": lambda: tts_table(("en_US_f_Allison",)),
    "tts-voices": tts_voices_table,
    "repair-speech": lambda: repair_table("speech", ("packets", "dropouts")),
    "repair-packets": lambda: repair_table("speech", ("packets",)),
    "repair-band": lambda: repair_table("speech", ("band",)),
    "repair-music": lambda: repair_table("music", ("packets", "dropouts")),
    "music-midi": music_table,
    "vocode-vocoder": lambda: vocode_table("vocoder", VOCODER),
    "shipped-models": shipped_models,
    "enhance-unseen": lambda: system_table("enhance_unseen.csv", SPEECH),
    "enhance-speech": lambda: system_table("devsets/enhance_speech.csv", SPEECH),
    "enhance-music": lambda: music_enhance_table("devsets/enhance_music.csv"),
    "enhance-unseen-clean": lambda: system_table("enhance_unseen.csv", SPEECH[3:], clean=True),
    "enhance-unseen-kinds": lambda: kinds_table("enhance_unseen.csv"),
}


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "checkpoints").glob("*/README.md"))]


def refresh(text: str, where: Path) -> str:
    def table(match: re.Match) -> str:
        name = match["name"]
        if name not in TABLES:
            raise SystemExit(f"{where}: unknown table {name!r} (known: {', '.join(TABLES)})")
        return match.group(1) + TABLES[name]() + match.group(4)

    return BLOCK.sub(table, text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a table is out of date")
    args = parser.parse_args()
    stale = []
    for page in pages():
        text = page.read_text()
        new = refresh(text, page)
        if new != text:
            stale.append(page.relative_to(ROOT).as_posix())
            if not args.check:
                page.write_text(new)
    if stale:
        print(("out of date: " if args.check else "rewrote: ") + ", ".join(stale))
    return 1 if stale and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
