"""Training and validation datasets for enhancement: on-the-fly mixtures and paired folders.

Items are ``(noisy, clean)`` pairs of ``[1, T]`` float32 waveforms, already brought to a common
level (noisy RMS 0.1, the same gain applied to the clean target), as the Enhancer does at inference.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from audiodiff.audio import AUDIO_EXTENSIONS, AudioError, level_gain, load_audio
from audiodiff.data.augment import SPEECH_SPEED_RANGE, augment_noise, augment_speech, source_length
from audiodiff.data.mixing import apply_mix, sample_mix_params
from audiodiff.data.noises import MACHINE_NOISES, click_noise, coloured_noise


def audio_files(folder: str | Path) -> list[Path]:
    """Audio files under ``folder`` (recursively), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioError(f"{folder}: no such folder")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise AudioError(f"{folder}: no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    return files


def normalize_pair(noisy: torch.Tensor, clean: torch.Tensor):
    gain = level_gain(noisy)
    return noisy * gain, clean * gain


class MixtureDataset(Dataset):
    """Clean speech or music mixed with noise on the fly, reproducible from ``seed`` and the index.

    Args:
        clean_dir, noise_dir: folders of mono files at ``sample_rate`` (``clean_dir`` may be a list
            of folders: their files are drawn from alike).
        segment_seconds: length of each pair (clean files are joined or cropped to fit).
        snr_range, gain_range: uniform ranges in dB.
        reverb_probability: share of pairs rendered in a simulated room.
        length: pairs per epoch.
        synthetic_noise_probability: share of pairs whose noise is coloured Gaussian noise
            (spectral slope -6..+3 dB/octave) instead of a noise file.
        babble_probability: share of pairs whose noise is babble: 3-6 other clean segments summed.
        click_probability: share of pairs whose noise is impulsive (:func:`click_noise`).
        machine_noise_probability: share of pairs whose noise is procedural hum, fan or traffic
            rumble (:data:`~audiodiff.data.noises.MACHINE_NOISES`, one drawn alike).
        noise_probability: share of pairs that get noise at all; the others are ``(clean, clean)``
            (bandwidth extension and vocoders degrade their input otherwise; 0 gives clean only).
        noise_augment_probability: share of noise-file draws that are altered
            (:func:`~audiodiff.data.augment.augment_noise`: speed, equaliser, reversal), each a
            random window ``[1, segment]`` of its file rather than the whole file.
        speech_augment_probability: share of clean segments (babble voices included) that are
            altered (:func:`~audiodiff.data.augment.augment_speech`: speed perturbation, gentle
            equaliser); the target is the altered clean segment.
        balance_noise_folders: draw a noise file's folder first (each folder holding noise files
            alike: core noise, ambience, effects, machine, music), then a file in it; otherwise every
            file alike, so the kind with the most (short) files dominates.
        cache_seconds: decoded files kept in memory, most recently used first (10 hours: 2.3 GB
            at 16 kHz per data-loading worker), so a corpus of any size runs in bounded memory.
    """

    def __init__(self, clean_dir: str | list[str], noise_dir: str, sample_rate: int = 16_000,
                 segment_seconds: float = 2.0,
                 snr_range: tuple[float, float] = (-5.0, 15.0), gain_range: tuple[float, float] = (-30.0, -5.0),
                 reverb_probability: float = 0.3, length: int = 10_000, seed: int = 0,
                 synthetic_noise_probability: float = 0.15, babble_probability: float = 0.15,
                 click_probability: float = 0.0, machine_noise_probability: float = 0.0,
                 noise_probability: float = 1.0,
                 noise_augment_probability: float = 0.0, speech_augment_probability: float = 0.0,
                 balance_noise_folders: bool = False, cache_seconds: float = 36_000.0):
        self.clean_files = [f for folder in ([clean_dir] if isinstance(clean_dir, (str, Path)) else clean_dir)
                            for f in audio_files(folder)]
        noise_files = audio_files(noise_dir) if noise_probability > 0 else []
        by_folder: dict[Path, list[Path]] = {}
        for path in noise_files:
            by_folder.setdefault(path.parent if balance_noise_folders else Path(), []).append(path)
        self.noise_groups = list(by_folder.values())
        self.sample_rate, self.length, self.seed = sample_rate, length, seed
        self.segment = int(segment_seconds * sample_rate)
        self.snr_range, self.gain_range, self.reverb_probability = snr_range, gain_range, reverb_probability
        self.synthetic_noise_probability, self.babble_probability = synthetic_noise_probability, babble_probability
        self.click_probability, self.noise_probability = click_probability, noise_probability
        self.machine_noise_probability = machine_noise_probability
        self.noise_augment_probability = noise_augment_probability
        self.speech_augment_probability = speech_augment_probability
        self._cache: OrderedDict[Path, torch.Tensor] = OrderedDict()
        self.cache_samples, self._cached = int(cache_seconds * sample_rate), 0

    def __len__(self) -> int:
        return self.length

    def _load(self, path: Path) -> torch.Tensor:
        """A file's audio ``[1, T]``, from a cache of the most recently used files that holds at
        most ``cache_seconds`` of audio (per data-loading worker)."""
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        wav = load_audio(path, sample_rate=self.sample_rate, channels=1)[0]
        self._cache[path] = wav
        self._cached += wav.shape[-1]
        while self._cached > self.cache_samples and len(self._cache) > 1:
            self._cached -= self._cache.popitem(last=False)[1].shape[-1]
        return wav

    def _clean_segment(self, rng: np.random.Generator) -> torch.Tensor:
        factor = None  # (no draw at probability 0: the same mixes as without augmentation)
        if self.speech_augment_probability and rng.random() < self.speech_augment_probability:
            factor = float(rng.uniform(*SPEECH_SPEED_RANGE))
        needed = self.segment if factor is None else source_length(self.segment, factor, self.sample_rate)
        pieces, total = [], 0
        while total < needed:
            wav = self._load(self.clean_files[rng.integers(len(self.clean_files))])
            pieces.append(wav)
            total += wav.shape[-1]
        joined = torch.cat(pieces, dim=-1)
        start = int(rng.integers(0, joined.shape[-1] - needed + 1))
        window = joined[:, start : start + needed]
        return window if factor is None else augment_speech(window, factor, self.segment, rng, self.sample_rate)

    def _noise(self, rng: np.random.Generator) -> torch.Tensor:
        choice = rng.random()
        if choice < self.synthetic_noise_probability:
            return coloured_noise(rng, self.segment, slope_db=float(rng.uniform(-6, 3)))
        choice -= self.synthetic_noise_probability
        if choice < self.babble_probability:
            return sum(self._clean_segment(rng) for _ in range(int(rng.integers(3, 7))))
        choice -= self.babble_probability
        if choice < self.click_probability:
            return click_noise(rng, self.segment, self.sample_rate)
        if choice - self.click_probability < self.machine_noise_probability:
            generate = MACHINE_NOISES[rng.integers(len(MACHINE_NOISES))]
            return generate(rng, self.segment, self.sample_rate)
        group = self.noise_groups[rng.integers(len(self.noise_groups))] if len(self.noise_groups) > 1 \
            else self.noise_groups[0]
        noise = self._load(group[rng.integers(len(group))])
        if self.noise_augment_probability and rng.random() < self.noise_augment_probability:
            return augment_noise(noise, self.segment, rng, self.sample_rate)
        return noise

    def __getitem__(self, index: int):
        rng = np.random.default_rng([self.seed, index])
        clean = self._clean_segment(rng)
        if self.noise_probability < 1 and rng.random() >= self.noise_probability:  # (no draw at 1: same mixes)
            return normalize_pair(clean, clean)
        noise = self._noise(rng)
        # a noise exactly one segment long is already a random window (coloured, babble, clicks,
        # augmented): use it from its start, since an offset would only wrap it round (a click)
        noise_length = 1 if noise.shape[-1] == self.segment else noise.shape[-1]
        params = sample_mix_params(rng, self.snr_range, self.gain_range, self.reverb_probability, noise_length)
        noisy, target = apply_mix(clean, noise, params, self.sample_rate)
        return normalize_pair(noisy, target)


class PairedFolders(Dataset):
    """Noisy and clean files with the same relative names (VoiceBank-DEMAND layout:
    ``noisy_testset_wav/p232_001.wav`` beside ``clean_testset_wav/p232_001.wav``).

    ``segment_seconds=None`` returns whole files (batch size 1); otherwise a crop (random for
    training, from the start when ``random_crop`` is False), zero-padded when short. ``length``
    (training): items per epoch, item ``i`` being file ``i % files`` with a crop drawn from ``[seed,
    i]``, so that a file comes back with a new crop each time round (without it: one item per file).
    """

    def __init__(self, noisy_dir: str, clean_dir: str, sample_rate: int = 16_000,
                 segment_seconds: float | None = None, random_crop: bool = True, seed: int = 0,
                 length: int | None = None):
        self.noisy_files = audio_files(noisy_dir)
        self.clean_dir, self.noisy_dir = Path(clean_dir), Path(noisy_dir)
        for path in self.noisy_files:
            if not (self.clean_dir / path.relative_to(self.noisy_dir)).is_file():
                raise AudioError(f"{path}: no clean file {self.clean_dir / path.relative_to(self.noisy_dir)}")
        self.sample_rate, self.random_crop, self.seed = sample_rate, random_crop, seed
        self.segment = int(segment_seconds * sample_rate) if segment_seconds else None
        self.length = length

    def __len__(self) -> int:
        return self.length or len(self.noisy_files)

    def __getitem__(self, index: int):
        path = self.noisy_files[index % len(self.noisy_files)]
        noisy = load_audio(path, self.sample_rate, channels=1)[0]
        clean = load_audio(self.clean_dir / path.relative_to(self.noisy_dir), self.sample_rate, channels=1)[0]
        length = min(noisy.shape[-1], clean.shape[-1])
        noisy, clean = noisy[:, :length], clean[:, :length]
        if self.segment:
            start = 0
            if self.random_crop and length > self.segment:
                start = int(np.random.default_rng([self.seed, index]).integers(0, length - self.segment))
            pad = max(0, start + self.segment - length)
            noisy = torch.nn.functional.pad(noisy, (0, pad))[:, start : start + self.segment]
            clean = torch.nn.functional.pad(clean, (0, pad))[:, start : start + self.segment]
        return normalize_pair(noisy, clean)
