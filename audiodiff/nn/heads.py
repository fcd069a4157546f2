"""Conditioning heads: turn a condition into what a backbone consumes, through two doors only.

``head(cond) -> (spatial, global_emb)``: ``spatial`` features aligned with ``x`` (concatenated on
channels) and/or a ``global_emb`` vector ``[B, global_dim]`` added to the noise embedding.
``head.null(cond)`` is the "no condition" input for classifier-free guidance (Ho & Salimans 2022).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from audiodiff.registry import Registry

HEADS = Registry("head")


class Head(nn.Module):
    """Base: subclasses set ``spatial_channels`` and ``global_dim`` and define forward / null."""

    spatial_channels: int = 0
    global_dim: int = 0

    def null(self, cond):
        """The null condition shaped like ``cond`` (zeros unless a head says otherwise)."""
        return torch.zeros_like(cond)


@HEADS.register("observation")
class ObservationHead(Head):
    """The encoded observation in model space, ``[B, C, F, N]`` (or ``[B, C, T]``), passed on as spatial
    features (a noisy recording, a sketch, a masked recording, ...)."""

    def __init__(self, channels: int = 2):
        super().__init__()
        self.spatial_channels = channels

    def forward(self, cond: torch.Tensor):
        if cond.shape[1] != self.spatial_channels:
            raise ValueError(f"the observation has {cond.shape[1]} channels, expected {self.spatial_channels}")
        return cond, None


@HEADS.register("mel")
class MelHead(Head):
    """Log-mel ``[B, n_mels, N]`` to spectrogram-aligned features ``[B, channels, freq_bins, N]``.

    A learned linear map from mel bands to STFT bins per frame (frames must share the hop of the
    spectrogram representation), widened to ``channels`` by a 1x1 convolution.
    """

    def __init__(self, n_mels: int = 80, freq_bins: int = 256, channels: int = 2):
        super().__init__()
        self.spatial_channels = channels
        self.to_bins = nn.Linear(n_mels, freq_bins)
        self.widen = nn.Conv2d(1, channels, 1)

    def forward(self, cond: torch.Tensor):
        bins = self.to_bins(cond.transpose(1, 2)).transpose(1, 2)  # [B, F, N]
        return self.widen(bins[:, None]), None


@HEADS.register("mel_wave")
class MelWaveHead(Head):
    """Log-mel ``[B, n_mels, N]`` to waveform-aligned features ``[B, channels, N * hop_length]``."""

    def __init__(self, n_mels: int = 80, hop_length: int = 256, channels: int = 16):
        super().__init__()
        self.spatial_channels = channels
        self.hop_length = hop_length
        self.proj = nn.Conv1d(n_mels, channels, 3, padding=1)

    def forward(self, cond: torch.Tensor):
        h = self.proj(cond)
        return nn.functional.interpolate(h, scale_factor=self.hop_length, mode="linear"), None


@HEADS.register("notes")
class NotesHead(Head):
    """Piano roll ``[B, R, pitches, N]`` (:func:`audiodiff.notes.piano_roll`: onset, sustain,
    velocity, age) to spectrogram-aligned features ``[B, roll_channels + 2 * len(age_hz),
    freq_bins, N]`` by a learned pitch-to-bin map.

    Args:
        roll_channels: the roll's first channels passed on as they are (3: onset, sustain, velocity).
        age_hz: frequencies (Hz) of sinusoids of each sounding note's age (the roll's channel 3),
            ``sin`` and ``cos`` per frequency, zero where no note sounds: the clock a synthesizer's
            vibrato and tremolo run on from the note-on, which a convolution over frames cannot
            count out itself. They follow the roll channels, so a model grown by them
            (``init_from``) starts as the model it was.
    """

    AGE = 3  # the roll channel holding each sounding note's age in seconds

    def __init__(self, pitches: int = 128, roll_channels: int = 3, freq_bins: int = 256,
                 age_hz: list[float] | None = None):
        super().__init__()
        self.age_hz = [float(f) for f in age_hz or []]
        if self.age_hz and roll_channels > self.AGE:
            raise ValueError("with age_hz, roll_channels passes on at most onset, sustain and velocity (3)")
        self.roll_channels = roll_channels
        self.spatial_channels = roll_channels + 2 * len(self.age_hz)
        self.pitches = pitches
        self.to_bins = nn.Linear(pitches, freq_bins)
        self.register_buffer("omega", 2 * math.pi * torch.tensor(self.age_hz).view(1, -1, 1, 1), persistent=False)

    def forward(self, cond: torch.Tensor):
        needed = self.AGE + 1 if self.age_hz else self.roll_channels
        if cond.shape[1] < needed or cond.shape[2] != self.pitches:
            raise ValueError(f"piano roll is {tuple(cond.shape[1:3])} (channels, pitches), expected at least "
                             f"{needed} channels and {self.pitches} pitches")
        # only the pitches that play somewhere in the batch (a part uses a few of the 128): the
        # others add nothing but the bias, so the map over them alone is the same, and far cheaper
        played = (cond[:, :needed] != 0).any(dim=3).any(dim=1).any(dim=0).nonzero().flatten()
        roll = cond[:, :needed, played]
        features = roll[:, : self.roll_channels]
        if self.age_hz:
            sounding = roll[:, 1:2]
            phase = self.omega.to(cond.dtype) * roll[:, self.AGE : self.AGE + 1]
            features = torch.cat([features, sounding * torch.sin(phase), sounding * torch.cos(phase)], dim=1)
        bins = nn.functional.linear(features.transpose(2, 3), self.to_bins.weight[:, played], self.to_bins.bias)
        return bins.transpose(2, 3), None


@HEADS.register("class")
class ClassHead(Head):
    """Class labels ``[B]`` (long; ``-1`` = no label) to a global vector ``[B, dim]``.

    Row ``num_classes`` of the embedding table is the learned null token.

    Args:
        num_classes: labels ``0 .. num_classes - 1`` (or give ``names``: label ``i`` is ``names[i]``).
        dim: the global vector's size.
        names: what each label means (stored in the model config; e.g. sound banks by name).
        zero_init: every row starts at zero, so a head added to a trained model (``init_from``)
            leaves that model's output unchanged until training moves it.
    """

    NULL = -1

    def __init__(self, num_classes: int | None = None, dim: int = 128, names: list[str] | None = None,
                 zero_init: bool = False):
        super().__init__()
        if names is not None and num_classes not in (None, len(names)):
            raise ValueError(f"num_classes is {num_classes} but {len(names)} names are given")
        if names is None and num_classes is None:
            raise ValueError("give num_classes or names")
        self.names = list(names) if names is not None else None
        self.num_classes = len(names) if names is not None else num_classes
        self.global_dim = dim
        self.table = nn.Embedding(self.num_classes + 1, dim)
        if zero_init:
            nn.init.zeros_(self.table.weight)

    def labels(self, names: list[str]) -> torch.Tensor:
        """Labels ``[len(names)]`` of ``names``; the null token for names this head does not know
        (e.g. a program no training item had, or a recording with no sound bank)."""
        known = self.names or []
        return torch.tensor([known.index(n) if n in known else self.NULL for n in names], dtype=torch.long)

    def forward(self, cond: torch.Tensor):
        labels = torch.as_tensor(cond, dtype=torch.long, device=self.table.weight.device)
        if ((labels < self.NULL) | (labels >= self.num_classes)).any():
            raise ValueError(f"class labels must lie in [0, {self.num_classes}) or be -1 (none)")
        return None, self.table(torch.where(labels == self.NULL, self.num_classes, labels))

    def null(self, cond):
        return torch.full_like(torch.as_tensor(cond, dtype=torch.long), self.NULL)


@HEADS.register("composite")
class CompositeHead(Head):
    """Several heads on a dict condition: spatial features concatenated, global vectors summed.

    Args:
        heads: ``{key: {"name": ..., "args": {...}}}``; ``cond[key]`` goes to that head.
        null_keys: the parts classifier-free guidance replaces by their null (default: all); e.g.
            ``[instrument]`` guides toward an instrument while the notes stay given.
    """

    def __init__(self, heads: dict, null_keys: list[str] | None = None):
        super().__init__()
        self.parts = nn.ModuleDict({key: HEADS.build(spec) for key, spec in heads.items()})
        self.null_keys = set(heads) if null_keys is None else set(null_keys)
        if not self.null_keys <= set(heads):
            raise ValueError(f"null_keys {sorted(self.null_keys - set(heads))} are not heads ({', '.join(heads)})")
        self.spatial_channels = sum(h.spatial_channels for h in self.parts.values())
        dims = {h.global_dim for h in self.parts.values() if h.global_dim}
        if len(dims) > 1:
            raise ValueError(f"global vectors of different sizes cannot be summed: {sorted(dims)}")
        self.global_dim = dims.pop() if dims else 0

    def forward(self, cond: dict):
        spatial, global_emb = [], None
        for key, head in self.parts.items():
            s, g = head(cond[key])
            if s is not None:
                spatial.append(s)
            if g is not None:
                global_emb = g if global_emb is None else global_emb + g
        return (torch.cat(spatial, dim=1) if spatial else None), global_emb

    def named_labels(self, names: dict, count: int) -> dict[str, torch.Tensor]:
        """Labels ``[count]`` for each part that is a class head with names (e.g. ``program``,
        ``bank``), from ``names[key]`` (``count`` names; a missing key or a name the head does not
        know gives the null token)."""
        return {key: head.labels(names.get(key) or [""] * count) for key, head in self.parts.items()
                if isinstance(head, ClassHead) and head.names is not None}

    def null(self, cond: dict):
        """``cond`` with the parts in ``null_keys`` (all by default) replaced by their null."""
        return {key: head.null(cond[key]) if key in self.null_keys else cond[key] for key, head in self.parts.items()}
