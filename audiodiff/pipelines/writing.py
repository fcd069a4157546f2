"""Writing enhanced files: atomic saves whose failures are reported, not raised, and the clean-up
of temporary files a killed run left behind."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import soundfile as sf
import torch

from audiodiff.audio import AudioError, save_audio


def write_enhanced(src: Path, dst: Path, enhanced: torch.Tensor, rate: int, noisy: torch.Tensor | None = None,
                   subtype=None, labels: tuple[str, str] = ("noisy", "enhanced")) -> str | None:
    """Save ``enhanced`` ``[C, T]`` to ``dst`` (and, given ``noisy`` ``[C, T]`` at the same rate, a
    spectrogram PNG of both beside it, titled ``labels``). ``subtype(src, dst)`` picks the sample
    format. Returns None, or an error message naming the file: a full disk or a read-only folder
    fails this file, not the run."""
    try:
        save_audio(dst, enhanced, rate, subtype=subtype(src, dst) if subtype else None)
        if noisy is not None:
            from audiodiff.plots import save_spectrograms

            save_spectrograms(dst.with_suffix(".png"), {labels[0]: noisy[0], labels[1]: enhanced[0]}, rate)
    except (OSError, AudioError, sf.LibsndfileError, RuntimeError, ValueError) as err:
        return f"{src}: could not write {dst}: {err}"
    return None


_PART = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}\.part$")


def remove_stale_parts(outputs: list[Path]) -> int:
    """Delete the temporary ``.<name>.<hex>.part`` files that a killed run left beside ``outputs``
    (each folder is listed once). Outputs are only ever renamed into place, so a ``.part`` file of
    a finished output is always garbage. Call it before this run writes anything. Returns the count."""
    wanted: dict[Path, set[str]] = defaultdict(set)
    for dst in outputs:
        wanted[dst.parent].add(dst.name)
    removed = 0
    for folder, names in wanted.items():
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            match = _PART.match(entry.name)
            if match and match["name"] in names:
                entry.unlink(missing_ok=True)
                removed += 1
    return removed
