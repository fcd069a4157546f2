"""The chunked runner every pipeline runs on: signals of any length cut into overlapping chunks,
chunks of the same size from many signals generated in shared batches, cross-faded back.

A pipeline describes each signal it wants generated as a :class:`Signal` (its channels, length at
the model's rate, chunk size, and the observation's inputs for any chunk); the runner does the
rest: the chunk plan, batching, a generator per chunk (seeded by the seed, the chunk's index and
the signal's channel or part, so a result does not depend on the batch it shared), device and
autocast, the observation's condition (:mod:`audiodiff.observations`), the sampler, decoding and
the overlap-add (:class:`~audiodiff.audio.OverlapAdd`). Signals come back in the order given, each
as soon as its chunks are done: memory grows with chunk x batch size plus the signals being
assembled, not with their number.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch.utils.data import default_collate

from audiodiff.audio import OverlapAdd, chunk_starts
from audiodiff.model import DiffusionModel


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return torch.device(device)


@dataclass(eq=False)
class Signal:
    """One signal to generate.

    Attributes:
        key: the pipeline's name for it (a file, a track).
        channels, length: its shape ``[channels, length]`` at the model's rate.
        chunk: samples per chunk (the runner's, or less for a short signal).
        inputs: ``(channel, start, size) -> `` the observation's inputs for that chunk, unbatched
            (audio ``[1, size]``, or a dict such as :meth:`~audiodiff.observations.NotesSketch.inputs`).
        part: tells the chunks of signals generated with the same seed apart (a track's index).
        context: whatever the pipeline needs to finish it (level, rate, ...).
        rows: a model-space signal's rows (its representation's bins: the runner's ``decode`` off).
        passthrough: ``(channel, start, size) ->`` the chunk's output ``[size]`` when it needs no
            model (repair: a chunk with nothing missing is its input), else None; None: every chunk
            is generated. Waveform signals only.
    """

    key: object
    channels: int
    length: int
    chunk: int
    inputs: Callable[[int, int, int], object]
    part: int = 0
    context: object = None
    rows: int = 1
    passthrough: Callable[[int, int, int], torch.Tensor | None] | None = None
    starts: list[int] = field(default_factory=list)
    pending: int = 0
    joined: OverlapAdd | None = None


def _to(inputs, device: torch.device):
    """Collated inputs on ``device`` (tensors moved, names left alone)."""
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device)
    return {key: _to(value, device) for key, value in inputs.items()} if isinstance(inputs, dict) else inputs


class ChunkedRunner:
    """Generate :class:`Signal` s with ``model``.

    Args:
        model: a :class:`DiffusionModel` (on ``device``, in eval mode).
        device: where it runs (autocast to float16 on CUDA).
        chunk, overlap: samples per chunk and overlap between neighbours (a short signal is one
            chunk of its own size, see :attr:`Signal.chunk`).
        batch_size: chunks per denoiser call.
        steps, solver, guidance: sampler settings.
        input_share: the share of the observed waveform mixed back into each output chunk
            (an attenuation limit; 0: none).
        decode: outputs are waveforms (chunk, overlap and signal lengths in samples); False keeps
            them in model space, ``[F, N]`` a signal (lengths in frames: e.g. log-mels for a vocoder).
    """

    def __init__(self, model: DiffusionModel, device: torch.device, chunk: int, overlap: int, batch_size: int,
                 steps: int, solver: str, guidance: float = 1.0, input_share: float = 0.0, decode: bool = True):
        if not 0 <= overlap < chunk:
            raise ValueError("overlap must be shorter than a chunk")
        self.model, self.device = model, device
        self.chunk, self.overlap, self.batch_size = chunk, overlap, batch_size
        self.steps, self.solver, self.guidance, self.input_share = steps, solver, guidance, input_share
        self.decode = decode

    def starts(self, length: int, chunk: int) -> list[int]:
        """Where the chunks of a signal of ``length`` samples in chunks of ``chunk`` begin."""
        return chunk_starts(length, chunk, self.chunk - self.overlap)

    def run(self, signals: Iterable[Signal], seed: int = 0, steps: int | None = None,
            guidance: float | None = None, on_chunks=None) -> Iterator[tuple[Signal, torch.Tensor]]:
        """Generate ``signals``; yields ``(signal, output [channels, length])`` in order.

        ``on_chunks(n)`` is called after each batch with the number of chunks done (progress bars).
        """
        queue: list[tuple[Signal, int, int]] = []  # (signal, channel, chunk index)
        waiting: list[Signal] = []
        signals = iter(signals)
        exhausted = False
        while True:
            while not exhausted and len(queue) < self.batch_size and len(waiting) < self.batch_size:
                signal = next(signals, None)
                if signal is None:
                    exhausted = True
                    break
                jobs = self._plan(signal)
                passed = signal.channels * len(signal.starts) - len(jobs)
                if on_chunks is not None and passed:
                    on_chunks(passed)
                waiting.append(signal)
                queue.extend(jobs)
            while waiting and waiting[0].pending == 0:
                yield self._result(waiting.pop(0))
            if not queue:  # every signal taken so far is done
                if exhausted:
                    break
                continue
            size = queue[0][0].chunk
            picked = [i for i, job in enumerate(queue) if job[0].chunk == size][: self.batch_size]
            batch = [queue[i] for i in picked]
            queue = [job for i, job in enumerate(queue) if i not in set(picked)]
            self._generate(batch, size, steps or self.steps, seed, self.guidance if guidance is None else guidance)
            if on_chunks is not None:
                on_chunks(len(batch))

    def _plan(self, signal: Signal) -> list[tuple[Signal, int, int]]:
        """Cut ``signal`` into chunks: the ``(signal, channel, chunk index)`` jobs to generate; the
        chunks it passes through are added to its output at once."""
        if signal.passthrough is not None and not self.decode:
            raise ValueError("passthrough is for waveform signals (the runner's decode on)")
        signal.starts = self.starts(signal.length, signal.chunk)
        signal.joined = OverlapAdd(signal.channels if self.decode else signal.rows,
                                   max(signal.length, signal.starts[-1] + signal.chunk))
        overlap = self.overlap if len(signal.starts) > 1 else 0
        jobs = []
        for c in range(signal.channels):
            for k, start in enumerate(signal.starts):
                kept = None if signal.passthrough is None else signal.passthrough(c, start, signal.chunk)
                if kept is None:
                    jobs.append((signal, c, k))
                else:
                    signal.joined.add(start, kept, overlap, channels=c)
        signal.pending = len(jobs)
        return jobs

    @staticmethod
    def _result(signal: Signal) -> tuple[Signal, torch.Tensor]:
        out, signal.joined = signal.joined.result(signal.length), None
        return signal, out

    @torch.no_grad()
    def _generate(self, batch: list[tuple[Signal, int, int]], size: int, steps: int, seed: int,
                  guidance: float) -> None:
        inputs = _to(default_collate([signal.inputs(c, signal.starts[k], size) for signal, c, k in batch]),
                     self.device)
        gens = [torch.Generator(self.device).manual_seed(seed * 1_000_003 + 7_919 * k + c + signal.part)
                for signal, c, k in batch]
        autocast = (torch.autocast("cuda", dtype=torch.float16) if self.device.type == "cuda"
                    else contextlib.nullcontext())
        with autocast:
            condition = self.model.observation.condition(self.model, inputs)
            x = self.model.generate(condition.start.shape, condition, steps=steps, solver=self.solver,
                                    generator=gens, guidance=guidance)
        if not self.decode:  # model space: [B, 1, F, N] -> rows F (mono signals)
            for (signal, _, k), piece in zip(batch, x.float().cpu()):
                signal.joined.add(signal.starts[k], piece[0], self.overlap if len(signal.starts) > 1 else 0)
                signal.pending -= 1
            return
        guide = None if condition.guide is None else condition.guide.float()
        out = self.model.representation.decode(x.float(), size, guide=guide, keep=condition.keep).cpu()  # phaseless: the guide's phase
        if self.input_share:
            out.lerp_(guide.cpu(), self.input_share)
        for (signal, c, k), piece in zip(batch, out):
            signal.joined.add(signal.starts[k], piece[0], self.overlap if len(signal.starts) > 1 else 0, channels=c)
            signal.pending -= 1
