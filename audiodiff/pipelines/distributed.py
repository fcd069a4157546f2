"""Enhance a corpus on several processes, GPUs or nodes with Lightning's predict loop.

Every process (rank) takes a disjoint shard of the file list (file ``i`` goes to rank
``i mod world_size``; no padding, so no file is done twice), enhances its files with an
:class:`~audiodiff.pipelines.enhance.Enhancer` (chunks of several files share batches) and a
:class:`WriteEnhanced` callback saves each result atomically as soon as its batch is done. Chunk
seeds depend only on the seed and the chunk's place in its file, so the outputs equal a
single-process run's. Lightning starts the processes (``ddp``) or joins an existing launch
(torchrun, SLURM).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, Dataset

from audiodiff.audio import AudioError, load_audio
from audiodiff.pipelines.enhance import Enhancer
from audiodiff.pipelines.writing import remove_stale_parts, write_enhanced
from audiodiff.processes import end_process_group


def shard(jobs: list, rank: int, world_size: int) -> list:
    """Rank ``rank``'s share of ``jobs``: every ``world_size``-th item from ``rank`` on."""
    return jobs[rank::world_size]


class _Jobs(Dataset):
    """``(src, dst)`` pairs -> ``(src, dst, audio [C, T] | None, rate | error message)``."""

    def __init__(self, jobs: list[tuple[Path, Path]]):
        self.jobs = jobs

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int):
        src, dst = self.jobs[index]
        try:
            wav, rate = load_audio(src)
        except AudioError as err:
            return src, dst, None, str(err)
        return src, dst, wav, rate


class _Corpus(L.LightningDataModule):
    """Each rank shards the full job list (the same on every rank, whatever the others have written
    meanwhile), removes its own shard's stale temporary files, and skips its finished outputs."""

    def __init__(self, jobs: list[tuple[Path, Path]], files_per_step: int, overwrite: bool):
        super().__init__()
        self.jobs, self.files_per_step, self.overwrite = jobs, files_per_step, overwrite

    def predict_dataloader(self):
        mine = shard(self.jobs, self.trainer.global_rank, self.trainer.world_size)
        remove_stale_parts([dst for _, dst in mine])
        todo = [(src, dst) for src, dst in mine if self.overwrite or not dst.exists()]
        return DataLoader(_Jobs(todo), batch_size=self.files_per_step, collate_fn=list, num_workers=0)


class _EnhanceStep(L.LightningModule):
    """``predict_step``: a list of loaded files -> ``[(src, dst, noisy, enhanced | None, rate | error)]``."""

    def __init__(self, enhancer: Enhancer, seed: int):
        super().__init__()
        self.enhancer, self.seed = enhancer, seed
        self.model = enhancer.model  # registered, so Lightning moves it to this rank's device
        # a rank may get no file (fewer files than ranks): that is fine, not an error
        self.allow_zero_length_dataloader_with_multiple_devices = True

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        """Files stay on the CPU (they may be hours long): the Enhancer moves each chunk batch."""
        return batch

    def predict_step(self, batch, batch_idx):
        self.enhancer.device = self.device
        loaded = [(i, job[2], job[3]) for i, job in enumerate(batch) if job[2] is not None]
        enhanced = dict(self.enhancer.run_many(loaded, seed=self.seed))
        return [(src, dst, wav, enhanced.get(i), info) for i, (src, dst, wav, info) in enumerate(batch)]


class WriteEnhanced(BasePredictionWriter):
    """Saves each enhanced file (atomically) when its batch ends; keeps this rank's tallies."""

    def __init__(self, plot: bool = False, subtype=None):
        super().__init__(write_interval="batch")
        self.plot, self.subtype = plot, subtype
        self.written: list[str] = []
        self.failures: list[str] = []

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        for src, dst, noisy, enhanced, info in prediction:
            error = info if enhanced is None else write_enhanced(src, dst, enhanced, info,
                                                                 noisy if self.plot else None, self.subtype)
            if error:  # recorded, never raised: a rank that raised would leave the others waiting
                self.failures.append(error)
            else:
                self.written.append(str(dst))


def _gather(obj) -> list:
    """``obj`` from every rank (a one-item list without a process group)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        out = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(out, obj)
        return out
    return [obj]


def denoise_distributed(jobs: list[tuple[Path, Path]], enhancer: Enhancer, devices: int, num_nodes: int = 1,
                        accelerator: str = "auto", seed: int = 0, files_per_step: int = 4, plot: bool = False,
                        subtype=None, overwrite: bool = False) -> tuple[list[list[str]], list[str]] | None:
    """Enhance ``jobs`` on ``devices`` processes per node x ``num_nodes`` nodes; existing outputs
    are skipped unless ``overwrite``.

    Returns, on rank 0, ``(files written by each rank, failure messages of all ranks)``; None on
    the other ranks.
    """
    if accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available()):
        accelerator = "cpu"
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0)) // devices))
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # keep the start-up chatter out
    writer = WriteEnhanced(plot=plot, subtype=subtype)
    trainer = L.Trainer(accelerator=accelerator, devices=devices, num_nodes=num_nodes,
                        strategy="ddp" if devices * num_nodes > 1 else "auto", callbacks=[writer],
                        use_distributed_sampler=False, logger=False, enable_checkpointing=False,
                        enable_model_summary=False, enable_progress_bar=sys.stderr.isatty())
    trainer.predict(_EnhanceStep(enhancer, seed), datamodule=_Corpus(jobs, files_per_step, overwrite), return_predictions=False)
    written, failures = _gather(writer.written), _gather(writer.failures)
    end_process_group()
    if trainer.global_rank != 0:
        return None
    return written, [line for rank in failures for line in rank]
