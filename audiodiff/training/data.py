"""The LightningDataModule: on-the-fly mixtures or paired folders for training, paired folders
(whole files) for validation; or aligned audio + MIDI folders for both (music synthesis)."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from audiodiff.data.aligned import AlignedMidiDataset
from audiodiff.data.datasets import MixtureDataset, PairedFolders
from audiodiff.data.prompts import PromptDataset


class TrainingData(L.LightningDataModule):
    """Args:
        sample_rate, hop_length, sketch_harmonics: the model's, set from it by ``audiodiff fit``
            (:data:`~audiodiff.training.cli.MODEL_SETTINGS`; recipes do not repeat them): its rate,
            and for music synthesis the hop piano-roll frames follow and the partials a note in the
            harmonic sketch of its ``notes`` observation.
        train_clean_dir, train_noise_dir: mix on the fly (offline corpus, LibriSpeech + noise sets, ...);
            ``train_clean_dir`` may list several folders.
        train_noisy_dir: instead, paired training folders (VoiceBank-DEMAND, DNS) with ``train_clean_dir``.
        val_noisy_dir, val_clean_dir: paired validation folders (whole files).
        val_limit: validate on the first N files only (None: all).
        segment_seconds, batch_size, num_workers, epoch_length, snr_range, reverb_probability,
        synthetic_noise_probability, babble_probability, click_probability, machine_noise_probability,
        noise_probability, noise_augment_probability, speech_augment_probability, balance_noise_folders,
        cache_seconds, seed:
            as in MixtureDataset (``noise_probability: 0`` and no noise folder: clean audio only, for
            models whose observation degrades it: repair and vocoders).
        train_midi_dir, val_midi_dir: music synthesis instead: folders of audio with aligned MIDI
            beside it (:class:`~audiodiff.data.aligned.AlignedMidiDataset`; the corpus's
            ``train/tracks`` and ``heldout/tracks``, or MAESTRO); validation on the first
            ``val_segment_seconds`` of the first ``val_limit`` files.
        train_prompt_dir, val_prompt_dir: text to speech instead: recorded prompts beside their
            aligned readings (:class:`~audiodiff.data.prompts.PromptDataset`; the corpus's
            ``train/prompts``, a voice per folder); validation on the first ``val_limit`` whole
            prompts of ``val_prompt_dir``.
    """

    def __init__(self, sample_rate: int = 16_000, train_clean_dir: str | list[str] = "data/corpus/train/speech",
                 train_noise_dir: str | None = "data/corpus/train/noise/16000", train_noisy_dir: str | None = None,
                 val_noisy_dir: str = "data/corpus/dev/speech/noisy", val_clean_dir: str = "data/corpus/dev/speech/clean",
                 val_limit: int | None = 24, segment_seconds: float = 2.0, batch_size: int = 16, num_workers: int = 0,
                 epoch_length: int = 8_000, snr_range: tuple[float, float] = (-5.0, 15.0),
                 reverb_probability: float = 0.3, synthetic_noise_probability: float = 0.15,
                 babble_probability: float = 0.15, click_probability: float = 0.0,
                 machine_noise_probability: float = 0.0, noise_probability: float = 1.0,
                 noise_augment_probability: float = 0.0, speech_augment_probability: float = 0.0,
                 balance_noise_folders: bool = False, cache_seconds: float = 36_000.0,
                 train_midi_dir: str | list[str] | None = None, val_midi_dir: str | None = None,
                 train_prompt_dir: str | None = None, val_prompt_dir: str | None = None,
                 val_segment_seconds: float = 6.0, hop_length: int = 128, sketch_harmonics: int = 4,
                 seed: int = 0):
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage: str | None = None):
        h = self.hparams
        if h.train_midi_dir:
            self.train_set = AlignedMidiDataset(h.train_midi_dir, h.sample_rate, h.hop_length, h.segment_seconds,
                                                random_crop=True, length=h.epoch_length, seed=h.seed,
                                                harmonics=h.sketch_harmonics)
            self.val_set = AlignedMidiDataset(h.val_midi_dir or h.train_midi_dir, h.sample_rate, h.hop_length,
                                              h.val_segment_seconds, random_crop=False, limit=h.val_limit,
                                              harmonics=h.sketch_harmonics)
            return
        if h.train_prompt_dir:
            frames = round(h.segment_seconds * h.sample_rate / h.hop_length)
            self.train_set = PromptDataset(h.train_prompt_dir, h.hop_length, frames, h.epoch_length, seed=h.seed)
            self.val_set = PromptDataset(h.val_prompt_dir or h.train_prompt_dir, h.hop_length, None, limit=h.val_limit)
            return
        if h.train_noisy_dir:
            self.train_set = PairedFolders(h.train_noisy_dir, h.train_clean_dir, h.sample_rate, h.segment_seconds,
                                           random_crop=True, seed=h.seed, length=h.epoch_length)
        else:
            self.train_set = MixtureDataset(h.train_clean_dir, h.train_noise_dir, h.sample_rate, h.segment_seconds,
                                            h.snr_range, reverb_probability=h.reverb_probability,
                                            length=h.epoch_length, seed=h.seed,
                                            synthetic_noise_probability=h.synthetic_noise_probability,
                                            babble_probability=h.babble_probability,
                                            click_probability=h.click_probability,
                                            machine_noise_probability=h.machine_noise_probability,
                                            noise_probability=h.noise_probability,
                                            noise_augment_probability=h.noise_augment_probability,
                                            speech_augment_probability=h.speech_augment_probability,
                                            balance_noise_folders=h.balance_noise_folders,
                                            cache_seconds=h.cache_seconds)
        val = PairedFolders(h.val_noisy_dir, h.val_clean_dir, h.sample_rate)
        if h.val_limit:
            val.noisy_files = val.noisy_files[: h.val_limit]
        self.val_set = val

    def train_dataloader(self):
        h = self.hparams
        return DataLoader(self.train_set, batch_size=h.batch_size, shuffle=True, num_workers=h.num_workers,
                          drop_last=True, persistent_workers=h.num_workers > 0)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=1, num_workers=0)
