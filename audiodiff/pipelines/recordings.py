"""Recordings in, recordings out, through an audio observation: what the Enhancer and the Vocoder share.

Each input is brought to the model's rate by the model's observation (resampled, or rebuilt from
its mel), split into channels, each channel brought to a reference level and cut into
chunks (a file shorter than a chunk is padded only to the next multiple of ``quantum_seconds``);
the :class:`~audiodiff.pipelines.runner.ChunkedRunner` generates them, batched across files; the
level is restored and, for enhancement, the input's rate and length.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

import torch

from audiodiff.audio import level_gain, resample
from audiodiff.hub import from_pretrained
from audiodiff.model import DiffusionModel
from audiodiff.pipelines.runner import ChunkedRunner, Signal, pick_device


class Recording(NamedTuple):
    """What finishing a recording needs: its output rate and length, each channel's level gain
    ``[C, 1]``, and what the pipeline keeps besides (the Vocoder: the mel it matches its output to)."""

    rate: int
    length: int
    gain: torch.Tensor
    kept: object = None


class RecordingPipeline:
    """Args:
        model: a :class:`DiffusionModel`, a shipped name or a checkpoint folder.
        device: ``auto``, ``cpu`` or ``cuda``.
        steps, solver: sampler settings (default: the checkpoint's).
        chunk_seconds, overlap_seconds: chunking of long input (the overlap at most a quarter chunk).
        batch_size: chunks per denoiser call.
        quantum_seconds: short files are padded to a multiple of this, not to a whole chunk.
        input_share: the share of the input mixed back into the output (see :class:`Enhancer`).
    """

    def __init__(self, model: DiffusionModel | str, device: str = "auto", steps: int | None = None,
                 solver: str | None = None, chunk_seconds: float = 4.0, overlap_seconds: float = 0.5,
                 batch_size: int = 8, quantum_seconds: float = 0.5, input_share: float = 0.0):
        self.device = pick_device(device)
        self.model = (model if isinstance(model, DiffusionModel) else from_pretrained(model)).to(self.device).eval()
        sampling = self.model.config["sampling"]
        rate = self.model.sample_rate
        overlap_seconds = min(overlap_seconds, chunk_seconds / 4)  # a short chunk overlaps by a quarter
        self.runner = ChunkedRunner(self.model, self.device, int(chunk_seconds * rate), int(overlap_seconds * rate),
                                    batch_size, steps or sampling["steps"], solver or sampling["solver"],
                                    input_share=input_share)
        self.quantum = max(1, int(quantum_seconds * rate))

    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    @property
    def steps(self) -> int:
        return self.runner.steps

    def run_many(self, items: Iterable[tuple[object, torch.Tensor, int | None]], steps: int | None = None,
                 seed: int = 0, on_chunks=None) -> Iterator[tuple[object, torch.Tensor]]:
        """Run ``(key, input, sample_rate)`` items; yields ``(key, output [C, T])`` in order.

        ``on_chunks(n)`` is called after each batch with the number of chunks done (progress bars).
        """
        signals = (self._signal(*item) for item in items)
        for signal, out in self.runner.run(signals, seed=seed, steps=steps, on_chunks=on_chunks):
            yield signal.key, self._finish(signal, out)

    def output_rate(self, rate: int | None) -> int:
        """The rate outputs of an input at ``rate`` are written at (None: a mel)."""
        return rate if self.model.observation.keeps_rate and rate is not None else self.sample_rate

    def chunks_for(self, channels: int, length: int) -> int:
        """Chunks an input of ``channels`` x ``length`` samples at the model's rate takes (progress bars)."""
        return channels * len(self.runner.starts(length, min(self.runner.chunk, length)))

    def _observe(self, key, audio, rate: int | None) -> tuple[torch.Tensor, object]:
        """The model's observation ``[C, T']`` at its rate, from an input ``[C, T]`` at ``rate``, and
        what :meth:`_finish` needs besides (:attr:`Recording.kept`; nothing here)."""
        audio = torch.as_tensor(audio, dtype=torch.float32)
        if audio.ndim != 2:
            raise ValueError(f"{key}: expected audio [C, T], got shape {tuple(audio.shape)}")
        return self.model.observation.observe(audio, rate), None

    def _signal(self, key, audio, rate: int | None) -> Signal:
        wav, kept = self._observe(key, audio, rate)
        if not self.model.observation.keeps_rate:  # written at the model's rate
            rate, audio = self.sample_rate, wav
        gain = level_gain(wav[:, None])[:, 0]  # [C, 1]: each channel to the reference level
        source = wav * gain
        length = wav.shape[-1]
        chunk = min(self.runner.chunk, -(-length // self.quantum) * self.quantum)

        def inputs(channel: int, start: int, size: int) -> torch.Tensor:
            piece = source[channel : channel + 1, start : start + size]
            return torch.nn.functional.pad(piece, (0, size - piece.shape[-1]))

        return Signal(key, wav.shape[0], length, chunk, inputs, context=Recording(rate, audio.shape[-1], gain, kept))

    def _finish(self, signal: Signal, out: torch.Tensor) -> torch.Tensor:
        recording = signal.context
        signal.inputs = None  # the level-normalised input is not needed any more (long files: memory)
        out = resample(out.div_(recording.gain), self.sample_rate, recording.rate)
        if out.shape[-1] < recording.length:
            out = torch.nn.functional.pad(out, (0, recording.length - out.shape[-1]))
        return out[:, : recording.length].clamp_(-1, 1)
