"""Recorded prompts with their transcripts, for text to speech: the Asterisk voices (studio recordings,
G.722 at 16 kHz) with the transcript list each core-sounds package ships, and espeak-ng's reading of
each transcript aligned to the recording.

A prompt is held out (for the text-to-speech benchmark) by a hash of its name, one in ten; reserved
prompts (``reserved_sources.json``) are never listed; tones and bracketed descriptions
(``[ascending tones]``) are not speech.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from audiodiff.data.reserved import is_reserved
from audiodiff.data.sources import ASTERISK_VOICES, decode_g722

ESPEAK_VOICES = {"en": "en-us", "es": "es-419", "fr": "fr", "it": "it", "ru": "ru"}
"""espeak-ng's voice for each prompt language."""
HELDOUT_SHARE = 10  # one prompt in ten


@dataclass(frozen=True)
class Prompt:
    """One recorded prompt: the voice (its folder name, e.g. ``en_US_f_Allison``), the package, its
    name (the path inside the voice folder, without ``.g722``), language, transcript and file."""

    voice: str
    package: str
    name: str
    lang: str
    text: str
    path: Path

    @property
    def heldout(self) -> bool:
        """Kept out of training for the benchmark (one prompt in ten, by a hash of voice and name)."""
        return int(hashlib.sha1(f"{self.voice}/{self.name}".encode()).hexdigest(), 16) % HELDOUT_SHARE == 0

    def audio(self, sample_rate: int = 16_000) -> torch.Tensor:
        """The recording, ``[1, T]`` at ``sample_rate``."""
        return decode_g722(self.path, sample_rate)


def transcripts(prefix: Path, lang: str) -> dict[str, str]:
    """``{prompt name: text}`` from ``core-sounds-<lang>.txt.gz`` (``name: text`` lines; ``;`` comments)."""
    for doc in sorted((prefix / "usr/share/doc").glob(f"asterisk-core-sounds-{lang}*/core-sounds-{lang}.txt.gz")):
        lines = gzip.decompress(doc.read_bytes()).decode("utf-8-sig", errors="replace").splitlines()
        found = {}
        for line in lines:
            match = re.match(r"^\s*([^;:\s][^:]*?)\s*:\s*(.+?)\s*$", line)
            if match:
                found[match[1]] = match[2]
        return found
    return {}


def prompts(prefix: Path = Path("/")) -> list[Prompt]:
    """Every installed voice's speech prompts with transcripts, reserved ones left out, sorted."""
    found = []
    for package, folder in ASTERISK_VOICES.items():
        lang = package.split("-")[3]
        root = prefix / folder
        for name, text in transcripts(prefix, lang).items():
            path = root / f"{name}.g722"
            spoken = re.sub(r"\[[^\]]*\]", "", text).strip()
            if not path.is_file() or not re.search(r"\w", spoken) or is_reserved(package, f"{name}.g722"):
                continue
            found.append(Prompt(Path(folder).name, package, name, lang, spoken, path))
    return sorted(found, key=lambda p: (p.voice, p.name))


def align(sketch: np.ndarray, target: np.ndarray) -> np.ndarray:
    """For each frame of ``target`` ``[D, N]`` (features, e.g. a log-mel), the frame of ``sketch``
    ``[D, M]`` it matches on the dynamic-time-warping path (cosine distance of mean-removed frames):
    ``[N]`` indices into ``sketch``, non-decreasing."""
    import librosa

    def centred(x):
        return x - x.mean(axis=1, keepdims=True)

    _, path = librosa.sequence.dtw(X=centred(sketch), Y=centred(target), metric="cosine")
    path = path[::-1]  # from the start
    index = np.zeros(target.shape[1], dtype=np.int64)
    for i, j in path:
        index[j] = i  # the last sketch frame matched to target frame j
    return np.maximum.accumulate(index)
