"""A thin LightningModule: the denoiser loss, validation metrics, and the weights' moving average
(Lightning's weight averaging). Data lives in the DataModule."""

from __future__ import annotations

import math

import lightning as L
import torch
from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.utilities import rank_zero_info

from audiodiff.diffusion.denoiser import EDMLoss, TrajectoryLoss
from audiodiff.diffusion.noise import generators
from audiodiff.diffusion.schedules import LogNormal, LogUniform
from audiodiff.hub import from_pretrained, load_grown
from audiodiff.metrics import SCORES
from audiodiff.model import DiffusionModel


class DiffusionModule(L.LightningModule):
    """Training of a conditional diffusion model, for any task: the denoiser loss on the representation
    of the target audio given the observation's condition, an EMA copy, validation metrics.

    Args:
        model: a DiffusionModel config (see ``audiodiff.model``).
        init_from: fine-tune from a shipped name or a checkpoint folder: its weights, and its config
            when ``model`` is not given (a given ``model`` may change e.g. the sample rate or the
            sampler, not the tensor shapes; it may add layers, e.g. ``context_blocks``, which keep
            their initialisation: blocks that start as the identity leave the loaded model's
            output unchanged at the first step).
        learning_rate, weight_decay, warmup_steps: AdamW with a linear warm-up.
        decay_steps, final_lr_ratio: after the warm-up, a cosine decay of the learning rate to
            ``final_lr_ratio`` of it over ``decay_steps`` steps, then constant (0: no decay).
        ema_decay: decay of the exponential moving average of the weights (:class:`WarmEMA`): the
            weights validation scores and checkpoints hold (``current_model_state``: the raw ones).
        sigma_distribution: ``lognormal`` (``ln sigma ~ N(sigma_mean, sigma_std^2)``, EDM's choice for
            generation from scratch) or ``loguniform`` over the model's sampling range
            ``[sigma_min, sigma_max]``, so that every level a few-step sampler visits, the first
            (highest) above all, is trained as often as the others.
        sigma_top_share: with ``loguniform``, the share of training noise levels set to exactly
            ``sigma_max``: the level of the first sampler step, where a one-step sample is the
            posterior mean (the default one-step enhancement).
        val_steps: sampler steps in validation (None: the model's default).
        val_examples: validation files logged as audio and spectrogram images.
        val_metrics: ``speech`` (PESQ-WB, ESTOI, SI-SDR), ``music`` (SI-SDR, log-spectral distance),
            ``synthesis`` (vocoders) or ``midi`` (onset F1, chroma cosine, multi-resolution STFT).
        label_dropout: MIDI synthesis: the share of training items whose instrument label is
            replaced by the null token (each label on its own: family, program, sound bank), so
            that one model is both conditional and unconditional (classifier-free guidance).
        trajectory_share: the share of training batches taken at the states the model's own
            sampler visits (:class:`~audiodiff.diffusion.denoiser.TrajectoryLoss`, with the model's
            solver and schedule and ``trajectory_steps`` steps), so that more steps do not add up
            errors; the rest follow ``sigma_distribution``.
        overshoot_weight: the weight of the squared error where the estimate exceeds the target
            (see :func:`~audiodiff.diffusion.denoiser.weighted_error`): above 1, enhancement
            leaves less background noise at some cost in speech; 1 is the plain posterior mean.

    Batches are ``(inputs, clean)``: ``inputs`` what the model's observation takes (a waveform
    ``[B, 1, T]`` for enhancement, repair and vocoders; the notes inputs of
    :class:`~audiodiff.observations.NotesSketch` for MIDI synthesis), turned into the condition by
    the observation (:mod:`audiodiff.observations`), as at inference.
    """

    def __init__(self, model: dict | None = None, init_from: str | None = None, learning_rate: float = 1e-3,
                 weight_decay: float = 0.0, warmup_steps: int = 200, decay_steps: int = 0,
                 final_lr_ratio: float = 0.1, ema_decay: float = 0.999,
                 sigma_distribution: str = "lognormal", sigma_mean: float = -1.0, sigma_std: float = 1.4,
                 sigma_top_share: float = 0.0, val_steps: int | None = None,
                 val_examples: int = 2, val_metrics: str = "speech", label_dropout: float = 0.0,
                 trajectory_share: float = 0.0, trajectory_steps: tuple[int, ...] = (2, 4, 8),
                 overshoot_weight: float = 1.0):
        super().__init__()
        self.save_hyperparameters()
        if init_from:  # weights (and, without a model config, the architecture) from a checkpoint
            source = from_pretrained(init_from)
            self.model = DiffusionModel(model) if model is not None else source
            if model is not None:
                for note in load_grown(self.model, source, init_from):
                    rank_zero_info(note)
            self.model.train()
            self.hparams.model = self.model.config
        elif model is not None:
            self.model = DiffusionModel(model)
        else:
            raise ValueError("give a model config or init_from")
        sampling = self.model.config["sampling"]
        distributions = {"lognormal": lambda: LogNormal(sigma_mean, sigma_std),
                         "loguniform": lambda: LogUniform(sampling["sigma_min"], sampling["sigma_max"],
                                                                 sigma_top_share)}
        if sigma_distribution not in distributions:
            raise ValueError(f"sigma_distribution must be one of {sorted(distributions)}")
        if sigma_top_share and sigma_distribution != "loguniform":
            raise ValueError("sigma_top_share needs sigma_distribution: loguniform")
        bridge = sampling["sigma_max"] if sampling.get("start") == "observation" else None  # matches the sampler
        if overshoot_weight <= 0:
            raise ValueError("overshoot_weight must be positive (1: a symmetric loss)")
        self.loss_fn = EDMLoss(distributions[sigma_distribution](), bridge_sigma=bridge,
                               overshoot_weight=overshoot_weight)
        if not 0 <= trajectory_share <= 1 or any(n < 2 for n in trajectory_steps):
            raise ValueError("trajectory_share must be in [0, 1] and trajectory_steps at least 2 each")
        self.trajectory_loss = TrajectoryLoss(self.model.sigmas, tuple(trajectory_steps), sampling["solver"],
                                              overshoot_weight)

    def _condition(self, inputs, generator: torch.Generator | None = None):
        """A batch's inputs -> the model's :class:`~audiodiff.observations.Condition`, through its
        observation (degraded as inference would give them; labels dropped while training)."""
        observation = self.model.observation
        with torch.no_grad():
            inputs = observation.degrade(inputs, generator)
        dropout = self.hparams.label_dropout if self.training else 0.0
        return observation.condition(self.model, inputs, label_dropout=dropout)

    def _loss(self, condition, clean: torch.Tensor) -> torch.Tensor:
        x0 = self.model.representation.encode(clean)
        share = self.hparams.trajectory_share  # (no draw at 0: the global random stream stays as it was)
        if self.training and share and torch.rand(()).item() < share:
            start = condition.start if self.model.config["sampling"]["start"] == "observation" else torch.zeros_like(x0)
            return self.trajectory_loss(self.model.denoiser, x0, start, cond=condition.cond)
        return self.loss_fn(self.model.denoiser, x0, cond=condition.cond, start=condition.start)

    def training_step(self, batch, batch_idx):
        inputs, clean = batch
        loss = self._loss(self._condition(inputs), clean)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def configure_callbacks(self):
        return [WarmEMA(self.hparams.ema_decay)]

    @torch.no_grad()
    def generate(self, condition, length: int, seed: int = 0) -> torch.Tensor:
        """The model's output for a :class:`~audiodiff.observations.Condition`, default sampler,
        decoded: ``[B, 1, length]`` (in validation the weights are the moving average's)."""
        shape, rep = condition.start.shape, self.model.representation
        x = self.model.generate(shape, condition, steps=self.hparams.val_steps,
                                generator=generators(seed, shape[0], condition.start.device))
        return rep.decode(x, length, guide=condition.guide, keep=condition.keep)

    def validation_step(self, batch, batch_idx):
        inputs, clean = batch
        condition = self._condition(inputs, torch.Generator().manual_seed(batch_idx))  # the same every validation
        self.log("val/loss", self._loss(condition, clean), batch_size=clean.shape[0])
        generated = self.generate(condition, clean.shape[-1])
        observed = condition.guide  # (a text's reading: its sketch decoded)
        if observed is None:
            observed = self.model.representation.decode(condition.start, clean.shape[-1])
        rate = self.model.sample_rate
        for i in range(clean.shape[0]):
            scores = SCORES[self.hparams.val_metrics](generated[i, 0].float().cpu(), clean[i, 0].float().cpu(), rate)
            for name, value in scores.items():
                if math.isfinite(value):
                    self.log(f"val/{name}", value, batch_size=1)
        if batch_idx < self.hparams.val_examples:
            self._log_example(batch_idx, observed[0, 0], generated[0, 0], clean[0, 0])

    def _log_example(self, index: int, noisy, enhanced, clean):
        writer = getattr(self.logger, "experiment", None)
        if writer is None or not hasattr(writer, "add_audio"):
            return
        from audiodiff.plots import spectrogram_figure

        rate = self.model.sample_rate
        for name, wav in (("noisy", noisy), ("enhanced", enhanced), ("clean", clean)):
            writer.add_audio(f"example{index}/{name}", wav.float().cpu().clamp(-1, 1)[None], self.global_step, rate)
        writer.add_figure(f"example{index}/spectrograms",
                          spectrogram_figure({"noisy": noisy, "enhanced": enhanced, "clean": clean}, rate),
                          self.global_step)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.model.parameters(), lr=self.hparams.learning_rate,
                                weight_decay=self.hparams.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, self.lr_factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def lr_factor(self, step: int) -> float:
        """Learning-rate multiplier at optimizer step ``step``: linear warm-up, then optional cosine decay."""
        h = self.hparams
        warmup = max(1, h.warmup_steps)
        if step + 1 < warmup:
            return (step + 1) / warmup
        if h.decay_steps <= 0:
            return 1.0
        progress = min(1.0, (step + 1 - warmup) / h.decay_steps)
        return h.final_lr_ratio + (1 - h.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class WarmEMA(WeightAveraging):
    """Lightning's weight averaging as an exponential moving average whose decay warms up:
    ``min(decay, (1 + n) / (10 + n))`` at the ``n``-th update, so the first (random or fine-tuned
    from) weights are soon forgotten. Validation runs, and checkpoints are saved, with the average."""

    def __init__(self, decay: float = 0.999):
        if not 0 <= decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {decay}")

        @torch.no_grad()
        def update(averaged: list[torch.Tensor], current: list[torch.Tensor], updates: torch.Tensor):
            n = updates.item()
            weight = 1 - min(decay, (1 + n) / (10 + n))
            if averaged[0].is_floating_point():  # (tensors come grouped by dtype; integer buffers stay)
                for a, c in zip(averaged, current):
                    a.lerp_(c, weight)

        super().__init__(multi_avg_fn=update)
