"""The Enhancer: noisy recordings in, enhanced recordings out, any length, many files at once.

Each file is resampled to the model's rate, split into channels, brought to a reference level,
cut into overlapping chunks (a file shorter than a chunk is padded only to the next multiple of
``quantum_seconds``); chunks of the same length from many files share batches; each chunk is
sampled with its own
generator (seeded by the seed and the chunk's index in its file, so a file's result does not depend
on the batch it shared); an attenuation limit mixes a little of the input back; chunks are
cross-faded back, the level and sample rate restored.
Memory grows with chunk x batch size plus the file being assembled, not with the number of files.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import torch

from audiodiff.audio import chunk_starts, crossfade_window, level_gain, resample
from audiodiff.hub import from_pretrained
from audiodiff.model import DiffusionModel


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when present, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    return torch.device(device)


def input_share(limit_db: float | None) -> float:
    """The share of the input mixed back into the output so that nothing is attenuated by more than
    ``limit_db`` decibels: ``10 ** (-limit_db / 20)``; ``None`` or ``inf`` is no limit (0)."""
    if limit_db is None or math.isinf(limit_db):
        return 0.0
    if not limit_db >= 0:
        raise ValueError(f"attenuation limit must be >= 0 dB (inf: no limit), got {limit_db}")
    return 10 ** (-limit_db / 20)


@dataclass(eq=False)
class _File:
    """One recording being enhanced."""

    key: object
    rate: int  # of the output: the input's, or the model's when the observation does not keep it
    length: int  # samples at the model's rate
    original_length: int
    gain: torch.Tensor  # [C, 1, 1]
    starts: list[int]
    chunk: int  # samples per chunk: the pipeline's chunk, or less for a short file
    out: torch.Tensor  # [C, length]
    weight: torch.Tensor  # [length]
    source: torch.Tensor  # [C, length] level-normalised input at the model's rate
    pending: int = field(default=0)


class Enhancer:
    """Enhance recordings with a conditional diffusion model.

    Args:
        model: a :class:`DiffusionModel`, a shipped name or a checkpoint folder.
        device: ``auto``, ``cpu`` or ``cuda``.
        steps, solver: sampler settings (default: the checkpoint's).
        chunk_seconds, overlap_seconds: chunking of long input.
        batch_size: chunks per denoiser call.
        quantum_seconds: short files are padded to a multiple of this, not to a whole chunk.
        attenuation_limit_db: remove at most this many dB: the output is
            ``(1 - a) * enhanced + a * input`` with ``a = 10 ** (-limit / 20)``, which keeps a floor of
            the input under spectral holes (default: the checkpoint's ``sampling.attenuation_limit_db``,
            else none; ``float("inf")``: none).

    Example:
        >>> enhancer = Enhancer("speech-enhance")
        >>> clean = enhancer(noisy, 16_000, steps=4, seed=0)   # noisy: [C, T] or [T]
    """

    def __init__(self, model: DiffusionModel | str = "speech-enhance", device: str = "auto",
                 steps: int | None = None, solver: str | None = None, chunk_seconds: float = 4.0,
                 overlap_seconds: float = 0.5, batch_size: int = 8, quantum_seconds: float = 0.5,
                 attenuation_limit_db: float | None = None):
        self.device = pick_device(device)
        self.model = (model if isinstance(model, DiffusionModel) else from_pretrained(model)).to(self.device).eval()
        sampling = self.model.config["sampling"]
        self.steps, self.solver = steps or sampling["steps"], solver or sampling["solver"]
        rate = self.model.sample_rate
        self.chunk, self.overlap = int(chunk_seconds * rate), int(overlap_seconds * rate)
        if not 0 <= self.overlap < self.chunk:
            raise ValueError("overlap must be shorter than a chunk")
        self.batch_size = batch_size
        self.quantum = max(1, int(quantum_seconds * rate))
        if attenuation_limit_db is None:
            attenuation_limit_db = sampling.get("attenuation_limit_db")
        self.input_share = input_share(attenuation_limit_db)
        if self.input_share and not self.model.observation.keeps_rate:
            raise ValueError("an attenuation limit mixes the input back: only for enhancement models, "
                             f"not for {self.model.config.get('task', 'this model')}")

    @property
    def sample_rate(self) -> int:
        return self.model.sample_rate

    def __call__(self, audio: torch.Tensor, sample_rate: int, steps: int | None = None, seed: int = 0) -> torch.Tensor:
        """Enhance one recording ``[C, T]`` (or ``[T]``) at ``sample_rate``; returns the same shape and rate."""
        squeeze = audio.ndim == 1
        audio = audio[None] if squeeze else audio
        ((_, out),) = list(self.enhance_many([(0, audio, sample_rate)], steps=steps, seed=seed))
        return out[0] if squeeze else out

    def enhance_many(self, items: Iterable[tuple[object, torch.Tensor, int]], steps: int | None = None,
                     seed: int = 0, on_chunks=None) -> Iterator[tuple[object, torch.Tensor]]:
        """Enhance ``(key, audio [C, T], sample_rate)`` items; yields ``(key, enhanced [C, T])`` in order.

        ``on_chunks(n)`` is called after each batch with the number of chunks done (progress bars).
        """
        queue: list[tuple[_File, int, int]] = []  # (file, channel, chunk index)
        waiting: list[_File] = []
        items = iter(items)
        exhausted = False
        while True:
            while not exhausted and len(queue) < self.batch_size:
                item = next(items, None)
                if item is None:
                    exhausted = True
                    break
                file, chunks = self._prepare(*item)
                item = None  # the caller's audio is not needed any more (long files: memory)
                waiting.append(file)
                queue.extend(chunks)
            if not queue:
                break
            size = queue[0][0].chunk
            picked = [i for i, job in enumerate(queue) if job[0].chunk == size][: self.batch_size]
            batch = [queue[i] for i in picked]
            queue = [job for i, job in enumerate(queue) if i not in set(picked)]
            self._run(batch, steps or self.steps, seed)
            if on_chunks is not None:
                on_chunks(len(batch))
            while waiting and waiting[0].pending == 0:
                done = waiting.pop(0)
                yield done.key, self._finish(done)

    def _observe(self, key, audio, rate: int | None) -> torch.Tensor:
        """The model's condition ``[C, T']`` at its rate, from an input ``[C, T]`` at ``rate``."""
        audio = torch.as_tensor(audio, dtype=torch.float32)
        if audio.ndim != 2:
            raise ValueError(f"{key}: expected audio [C, T], got shape {tuple(audio.shape)}")
        return self.model.observation.observe(audio, rate)

    def _prepare(self, key, audio: torch.Tensor, rate: int | None):
        wav = self._observe(key, audio, rate)
        if not self.model.observation.keeps_rate:  # synthesis: written at the model's rate
            rate, audio = self.sample_rate, wav
        gain = level_gain(wav[:, None])  # [C, 1, 1]: each channel to the reference level
        length = wav.shape[-1]
        chunk = min(self.chunk, -(-length // self.quantum) * self.quantum)
        starts = chunk_starts(length, chunk, self.chunk - self.overlap)
        size = max(length, starts[-1] + chunk)
        source = torch.zeros(wav.shape[0], size)
        torch.mul(wav, gain[:, 0], out=source[:, :length])
        file = _File(key, rate, length, audio.shape[-1], gain, starts, chunk, torch.zeros(wav.shape[0], size),
                     torch.zeros(size), source)
        chunks = [(file, c, k) for c in range(wav.shape[0]) for k in range(len(starts))]
        file.pending = len(chunks)
        return file, chunks

    @torch.no_grad()
    def _run(self, batch, steps: int, seed: int) -> None:
        size = batch[0][0].chunk
        noisy = torch.stack([f.source[c : c + 1, f.starts[k] : f.starts[k] + size] for f, c, k in batch])
        noisy = noisy.to(self.device)  # [B, 1, size]
        gens = [torch.Generator(self.device).manual_seed(seed * 1_000_003 + 7_919 * k + c) for _, c, k in batch]
        rep = self.model.representation
        autocast = (torch.autocast("cuda", dtype=torch.float16) if self.device.type == "cuda"
                    else contextlib.nullcontext())
        with autocast:
            y = rep.encode(noisy)
            x = self.model.generate(y.shape, cond=y, steps=steps, solver=self.solver, generator=gens)
        enhanced = rep.decode(x.float(), size, guide=noisy).cpu()  # phaseless models start from its phase
        if self.input_share:
            enhanced.lerp_(noisy.cpu(), self.input_share)
        fade = crossfade_window(size, self.overlap if size == self.chunk else 0)
        for (file, c, k), piece in zip(batch, enhanced):
            s = file.starts[k]
            file.out[c, s : s + size] += piece[0] * fade
            if c == 0:
                file.weight[s : s + size] += fade
            file.pending -= 1

    def _finish(self, file: _File) -> torch.Tensor:
        # in place, and the input copy dropped first: a long file's peak memory is a few copies of it
        file.source = None
        out = file.out[:, : file.length]
        out.div_(file.weight[: file.length].clamp_min_(1e-8)).div_(file.gain[:, 0])
        file.out = file.weight = None
        out = resample(out, self.sample_rate, file.rate)
        if out.shape[-1] < file.original_length:
            out = torch.nn.functional.pad(out, (0, file.original_length - out.shape[-1]))
        return out[:, : file.original_length].clamp_(-1, 1)
