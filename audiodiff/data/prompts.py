"""Recorded prompts with their transcripts, for text to speech: the Asterisk voices (studio recordings,
G.722 at 16 kHz) with the transcript list each core-sounds package ships, or a speech corpus of
LJSpeech's or LibriTTS's layout (:func:`corpus_prompts`); and espeak-ng's reading of each transcript
aligned to the recording.

A prompt is held out for the text-to-speech benchmark exactly when the corpus holds its recording out
of the speech folders (one in ten, :func:`~audiodiff.data.corpus.is_heldout`: so no model of the
project, the vocoder included, trains on it), validates (one in twenty of the rest, by a hash), or
trains; a prompt reading the same text as a held-out or reserved prompt of its voice is left out;
reserved prompts (``reserved_sources.json``) are never listed; tones and bracketed descriptions
(``[ascending tones]``) are not speech.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from audiodiff.audio import load_audio
from audiodiff.data.reserved import is_reserved
from audiodiff.data.sources import ASTERISK_VOICES, DEV_FRACTION, decode_g722, held_out
from audiodiff.text import reading



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
    def split(self) -> str:
        """``heldout`` (the benchmark's: where the corpus holds the recording out), ``dev``
        (validation: one in twenty of the rest) or ``train``."""
        if held_out(f"{self.package}/{self.name}{self.path.suffix}", DEV_FRACTION["speech"]):
            return "heldout"
        return "dev" if int(hashlib.sha1(f"{self.voice}/{self.name}".encode()).hexdigest(), 16) % 20 == 0 else "train"

    def audio(self, sample_rate: int = 16_000) -> torch.Tensor:
        """The recording, ``[1, T]`` at ``sample_rate`` (mono)."""
        if self.path.suffix == ".g722":
            return decode_g722(self.path, sample_rate)
        return load_audio(self.path, sample_rate, channels=1)[0]


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
        listed = transcripts(prefix, lang)
        kept_out = {_said(text) for name, text in listed.items() if is_reserved(package, f"{name}.g722")}
        voice = []
        for name, text in listed.items():
            path = root / f"{name}.g722"
            spoken = re.sub(r"\[[^\]]*\]", "", text).strip()
            if not path.is_file() or not re.search(r"\w", spoken) or is_reserved(package, f"{name}.g722"):
                continue
            voice.append(Prompt(Path(folder).name, package, name, lang, spoken, path))
        kept_out |= {_said(p.text) for p in voice if p.split == "heldout"}
        found += [p for p in voice if p.split == "heldout" or _said(p.text) not in kept_out]
    return sorted(found, key=lambda p: (p.voice, p.name))


def corpus_prompts(root: Path, lang: str = "en") -> list[Prompt]:
    """The recordings of a speech corpus with their transcripts, sorted: LJSpeech's layout
    (``metadata.csv`` of ``id|text|normalized text`` lines beside ``wavs/<id>.wav``; one voice,
    ``LJSpeech``) or LibriTTS's (``<speaker>/<chapter>/<id>.wav`` beside ``<id>.normalized.txt``,
    anywhere under ``root``; a voice per speaker, ``LibriTTS_<speaker>``)."""
    root = Path(root)
    found = []
    if (root / "metadata.csv").is_file():
        for line in (root / "metadata.csv").read_text(encoding="utf-8").splitlines():
            fields = line.split("|")
            path = root / "wavs" / f"{fields[0]}.wav"
            if len(fields) >= 2 and path.is_file():
                found.append(Prompt("LJSpeech", "ljspeech", fields[0], lang, fields[-1].strip(), path))
    else:
        for text_file in sorted(root.rglob("*.normalized.txt")):
            path = text_file.with_name(text_file.name.replace(".normalized.txt", ".wav"))
            parts = text_file.relative_to(root).parts  # (..., speaker, chapter, file)
            speaker = parts[-3] if len(parts) >= 3 else "0"
            if path.is_file():
                found.append(Prompt(f"LibriTTS_{speaker}", "libritts", path.stem, lang,
                                    text_file.read_text(encoding="utf-8").strip(), path))
    if not found:
        raise FileNotFoundError(f"{root}: neither an LJSpeech folder (metadata.csv, wavs/) nor LibriTTS "
                                "recordings (<id>.wav beside <id>.normalized.txt)")
    return sorted((p for p in found if re.search(r"\w", p.text)), key=lambda p: (p.voice, p.name))


def _said(text: str) -> str:
    """A transcript's words, lower-case: two prompts saying the same thing compare equal."""
    return " ".join(re.findall(r"\w+", text.lower()))


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


SKETCH_MEL = {"sample_rate": 16_000, "n_fft": 1024, "hop_length": 256, "n_mels": 80, "f_min": 0.0, "f_max": 8_000.0}
"""The log-mel sketches are written in: speech-vocoder's (the text-to-speech model generates it)."""


def write_prompts(out: Path, found: list[Prompt], manifest: list) -> None:
    """Every prompt of ``found`` (:func:`prompts`, :func:`corpus_prompts`): its recording (16 kHz)
    under ``<split>/prompts/<voice>/<name>.wav``, and for the training and dev splits espeak-ng's
    reading aligned to it, ``<name>.sketch.npy`` (log-mel ``[80, N]``, :data:`SKETCH_MEL`, a frame
    per frame of the recording); ``<split>/prompts/transcripts.tsv`` (voice, name, text);
    ``train/prompts/voices.json``: per voice, the median ratio of a recording's length to
    espeak-ng's reading of it (the pace a voice speaks at)."""
    import json

    from tqdm import tqdm

    from audiodiff.audio import save_audio
    from audiodiff.representations import Mel

    mel = Mel(**SKETCH_MEL)
    rows: dict[str, list[str]] = {"train": [], "dev": [], "heldout": []}
    ratios: dict[str, list[float]] = {}
    for prompt in tqdm(found, desc="prompts", unit="prompt"):
        split = prompt.split
        path = out / split / "prompts" / prompt.voice / f"{prompt.name}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        audio = prompt.audio(SKETCH_MEL["sample_rate"])
        save_audio(path, audio, SKETCH_MEL["sample_rate"])
        rows[split].append(f"{prompt.voice}\t{prompt.name}\t{prompt.text}")
        manifest.append({"id": f"{prompt.package}/{prompt.name}", "package": prompt.package, "kind": "prompts",
                         "split": split, "sample_rate": SKETCH_MEL["sample_rate"],
                         "path": path.relative_to(out).as_posix(), "seconds": round(audio.shape[-1] / 16_000, 3)})
        if split != "heldout":
            sketch = reading(prompt.text, prompt.lang, mel)
            target = mel.encode(audio[None])[0, 0]
            index = align(sketch.numpy(), target.numpy())
            np.save(path.with_suffix(".sketch.npy"), sketch[:, torch.from_numpy(index)].numpy().astype(np.float32))
            if split == "train":
                ratios.setdefault(prompt.voice, []).append(target.shape[-1] / sketch.shape[-1])
    for split, lines in rows.items():
        (out / split / "prompts").mkdir(parents=True, exist_ok=True)
        (out / split / "prompts" / "transcripts.tsv").write_text("voice\tname\ttext\n" + "\n".join(lines) + "\n")
    paces = {voice: round(float(np.median(r)), 3) for voice, r in ratios.items()}
    (out / "train" / "prompts" / "voices.json").write_text(json.dumps(paces, indent=1))


class PromptDataset(torch.utils.data.Dataset):
    """Recorded prompts beside their aligned readings (``<name>.wav`` and ``<name>.sketch.npy``, as
    :func:`write_prompts` leaves them; a voice per folder, named after it): items
    ``({"sketch": [1, n_mels, n + 1], "voice": name}, target [1, n * hop])``.

    Args:
        folder: the prompts folder (``train/prompts``).
        hop_length: the sketch's hop (a frame per ``hop_length`` samples of the recording).
        segment_frames: crop length in frames (random crops: files drawn in proportion to their
            length); None gives whole files, the first ``limit`` taking the voices in turn (validation).
        length: items per epoch (random crops).
    """

    def __init__(self, folder: str | Path, hop_length: int = 256, segment_frames: int | None = 125,
                 length: int = 10_000, limit: int | None = None, seed: int = 0):
        by_voice: dict[str, list[Path]] = {}
        for path in sorted(Path(folder).rglob("*.sketch.npy")):
            by_voice.setdefault(path.relative_to(folder).parts[0], []).append(path)
        turns = [path for group in itertools.zip_longest(*by_voice.values()) for path in group if path]
        self.sketches = turns[:limit]  # the voices in turn: a limit keeps every voice
        if not self.sketches:
            raise FileNotFoundError(f"{folder}: no prompts with aligned readings (audiodiff data build-corpus "
                                    "--kinds prompts)")
        self.root, self.hop, self.segment, self.seed = Path(folder), hop_length, segment_frames, seed
        self.frames = np.array([np.load(p, mmap_mode="r").shape[1] for p in self.sketches])
        self.length = length if segment_frames else len(self.sketches)

    def __len__(self) -> int:
        return self.length

    def voice_of(self, sketch: Path) -> str:
        return sketch.relative_to(self.root).parts[0]

    def __getitem__(self, index: int):
        import soundfile as sf

        if self.segment:
            rng = np.random.default_rng([self.seed, index])
            file = int(rng.choice(len(self.sketches), p=self.frames / self.frames.sum()))
        else:
            file = index
        path = self.sketches[file]
        sketch = torch.from_numpy(np.load(path))
        audio = torch.from_numpy(sf.read(str(path.with_name(path.name.replace(".sketch.npy", ".wav"))),
                                         dtype="float32")[0])[None]
        frames = sketch.shape[1] - 1  # a centred STFT: T // hop + 1 frames
        first, count = 0, frames
        if self.segment:
            count = self.segment
            first = int(rng.integers(0, max(1, frames - count + 1)))
        sketch = torch.nn.functional.pad(sketch, (0, max(0, first + count + 1 - sketch.shape[1])), value=float(sketch.min()))
        audio = torch.nn.functional.pad(audio, (0, max(0, (first + count) * self.hop - audio.shape[-1])))
        inputs = {"sketch": sketch[None, :, first : first + count + 1], "voice": self.voice_of(path)}
        return inputs, audio[:, first * self.hop : (first + count) * self.hop]
