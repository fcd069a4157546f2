"""The Repairer: recordings with gaps (lost packets, dropouts) or a missing high band in, repaired
recordings out, any length and rate (written at the input's, or at the model's when the input's is
lower: the band above it is restored), many files at once.

Gaps are given (seconds) or found as runs of digital silence. Each file goes through the model like
the Enhancer's recordings (:class:`~audiodiff.pipelines.recordings.RecordingPipeline`: chunked,
batched, level restored, back at the input's rate), the model given the audio with its gaps and
where they are (:class:`~audiodiff.observations.MaskedAudio`; chunks with nothing missing near
them are passed through, not generated); then only the gaps are taken from its output,
cross-faded over at most 5 ms on the known side of each edge, so the rest of the file is the input
sample for sample. A missing high band is taken from the output above the band edge.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from audiodiff.audio import resample
from audiodiff.gaps import Gap, crossover, find_gaps, gaps_in_seconds, known_mask, rescale_gaps, splice
from audiodiff.model import DiffusionModel
from audiodiff.observations import MaskedAudio
from audiodiff.pipelines.recordings import RecordingPipeline
from audiodiff.pipelines.runner import Signal


INTACT_MARGIN_SECONDS = 0.05
"""A chunk with nothing missing within this of it is passed through, not generated: the output
outside the gaps is the input anyway, and the margin keeps the gap-edge cross-fades (5 ms) and the
resampling back to the input's rate inside generated audio."""


class Damage(NamedTuple):
    """What is missing from one input: its gaps (samples at its rate) and the band edge (Hz; 0: none)."""

    gaps: list[Gap]
    band_hz: float


class Repairer(RecordingPipeline):
    """Fill gaps and restore a missing high band with a repair model (``speech-repair``, ``music-repair``).

    Args: as :class:`~audiodiff.pipelines.recordings.RecordingPipeline`, and
        min_gap_ms: found gaps are runs of exact zeros (all channels) at least this long.
        fade_ms: cross-fade at each gap edge, on the known side.
        band_level_db: the level of a restored band relative to the model's estimate (default: the
            checkpoint's ``sampling.band_level_db``, else 0). The estimate is a posterior mean of
            compressed magnitudes, louder than the log-spectral optimum where the band is uncertain.

    ``run_many`` takes ``(key, audio [C, T], rate, damage)`` items, ``damage`` from :meth:`damage`
    (None: found). Found gaps are runs of exact zeros inside the file: digital silence that
    touches its start or end is taken for padding, not a loss.

    Example:
        >>> repairer = Repairer("speech-repair")
        >>> fixed = repairer(audio, 16_000)                          # gaps found: runs of zeros
        >>> fixed = repairer(audio, 16_000, gaps=[(1.20, 1.32)])     # or given, in seconds
        >>> wide = repairer(phone, 8_000)                            # the band above 4 kHz restored
    """

    def __init__(self, model: DiffusionModel | str = "speech-repair", min_gap_ms: float = 2.0, fade_ms: float = 5.0,
                 band_level_db: float | None = None, **kwargs):
        super().__init__(model, **kwargs)
        if not isinstance(self.model.observation, MaskedAudio):
            raise ValueError(f"Repairer needs a repair model, not {self.model.config.get('task')!r}")
        self.min_gap_ms, self.fade_ms = min_gap_ms, fade_ms
        if band_level_db is None:
            band_level_db = self.model.config["sampling"].get("band_level_db", 0.0)
        self.band_gain = 10 ** (band_level_db / 20)

    def __call__(self, audio: torch.Tensor, sample_rate: int, gaps: list[tuple[float, float]] | None = None,
                 band_hz: float | None = None, steps: int | None = None, seed: int = 0) -> torch.Tensor:
        """Repair one recording ``[C, T]`` (or ``[T]``) at ``sample_rate``; returns the same shape and rate."""
        squeeze = audio.ndim == 1
        audio = audio[None] if squeeze else audio
        damage = self.damage(audio, sample_rate, gaps, band_hz)
        ((_, out),) = list(self.run_many([(0, audio, sample_rate, damage)], steps=steps, seed=seed))
        return out[0] if squeeze else out

    def output_rate(self, rate: int | None) -> int:
        """The input's rate, or the model's when the input's is lower."""
        return max(rate or 0, self.sample_rate)

    def damage(self, audio: torch.Tensor, rate: int, gaps: list[tuple[float, float]] | None = None,
               band_hz: float | None = None) -> Damage:
        """What is missing from ``audio`` ``[C, T]`` at ``rate``: ``gaps`` in seconds (None: found,
        inner runs of zeros), ``band_hz`` the edge above which nothing is known (None: half the
        input's rate when that is below the model's and the model restores bands, else none; 0:
        none). ValueError for a band the model cannot restore or a gap past the end."""
        length = audio.shape[-1]
        if gaps is None:
            found = [(s, e) for s, e in find_gaps(audio, rate, self.min_gap_ms) if s > 0 and e < length]
        else:
            late = [(s, e) for s, e in gaps if s * rate >= length]
            if late:
                raise ValueError(f"the gap {late[0][0]:g}-{late[0][1]:g} s starts after the end ({length / rate:.3f} s)")
            found = gaps_in_seconds(gaps, rate, length)
        trains_bands = self.model.observation.packet_share + self.model.observation.dropout_share < 1
        if band_hz is None:
            band_hz = rate / 2 if rate < self.sample_rate and trains_bands else 0.0
        if band_hz and not (trains_bands and band_hz < self.sample_rate / 2):
            raise ValueError(f"this model does not restore a band above {band_hz:g} Hz "
                             + ("(it was not trained to)" if not trains_bands else
                                f"(its own band ends at {self.sample_rate / 2:g} Hz)"))
        return Damage(found, float(band_hz))

    def _signal(self, key, audio, rate: int, damage: Damage | None = None) -> Signal:
        audio = torch.as_tensor(audio, dtype=torch.float32)
        if audio.ndim != 2:
            raise ValueError(f"{key}: expected audio [C, T], got shape {tuple(audio.shape)}")
        damage = damage or self.damage(audio, rate)
        if rate < self.sample_rate:  # written at the model's rate: the band above the input's is restored
            audio, length = resample(audio, rate, self.sample_rate), math.ceil(audio.shape[-1] * self.sample_rate / rate)
            audio = torch.nn.functional.pad(audio, (0, max(0, length - audio.shape[-1])))[:, :length]
            damage = damage._replace(gaps=rescale_gaps(damage.gaps, rate, self.sample_rate, length))
            rate = self.sample_rate
        signal = super()._signal(key, audio, rate)
        known = known_mask(signal.length, rescale_gaps(damage.gaps, rate, self.sample_rate, signal.length))
        band = torch.tensor(damage.band_hz)
        piece_of = signal.inputs

        def inputs(channel: int, start: int, size: int) -> dict:  # (beyond the end: known, as the STFT pads it)
            mask = torch.nn.functional.pad(known[start : start + size], (0, max(0, start + size - signal.length)),
                                           value=1.0)
            return {"audio": piece_of(channel, start, size), "known": mask[None], "band_hz": band}

        signal.inputs = inputs
        signal.context = signal.context._replace(kept=(audio, damage))
        if not damage.band_hz:
            margin = int(INTACT_MARGIN_SECONDS * self.sample_rate)

            def passthrough(channel: int, start: int, size: int) -> torch.Tensor | None:
                """An intact chunk (nothing missing within the margin of it) is its input."""
                if known[max(0, start - margin) : start + size + margin].all():
                    return piece_of(channel, start, size)[0]
                return None

            signal.passthrough = passthrough
        return signal

    def _finish(self, signal: Signal, out: torch.Tensor) -> torch.Tensor:
        original, damage = signal.context.kept
        rate = signal.context.rate
        out = super()._finish(signal, out)
        if 0 < damage.band_hz < rate / 2:
            original = crossover(original, original + self.band_gain * (out - original), damage.band_hz, rate)
        return splice(original, out, damage.gaps, rate, self.fade_ms)
