"""Missing audio: finding gaps (runs of digital silence), the masks of the losses users meet (lost
packets, dropouts), and putting a repair back so that what was not missing stays as it was.

Gaps are ``(start, end)`` sample ranges, end exclusive; masks are ``[T]`` floats, 1 where the audio
is known and 0 where it is missing.
"""

from __future__ import annotations

import math

import torch

from audiodiff.audio import crossfade_window

Gap = tuple[int, int]


def find_gaps(audio: torch.Tensor, rate: int, min_gap_ms: float = 2.0) -> list[Gap]:
    """Runs of exact zeros in every channel of ``audio`` ``[C, T]`` at least ``min_gap_ms`` long."""
    silent = (audio == 0).all(dim=0).to(torch.int8)
    edges = torch.diff(silent, prepend=silent.new_zeros(1), append=silent.new_zeros(1))
    starts, ends = (edges == 1).nonzero().flatten(), (edges == -1).nonzero().flatten()
    shortest = max(1, math.ceil(min_gap_ms * rate / 1000))
    return [(int(s), int(e)) for s, e in zip(starts, ends) if e - s >= shortest]


def gaps_in_seconds(spans: list[tuple[float, float]], rate: int, length: int) -> list[Gap]:
    """``(start_s, end_s)`` spans as sample ranges at ``rate``, clipped to ``length``, sorted and merged."""
    ranges = sorted((max(0, math.floor(s * rate)), min(length, math.ceil(e * rate))) for s, e in spans)
    merged: list[Gap] = []
    for start, end in ranges:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def rescale_gaps(gaps: list[Gap], rate: int, new_rate: int, length: int) -> list[Gap]:
    """Gaps at ``rate`` as the (covering) sample ranges at ``new_rate``, within ``length``."""
    return gaps_in_seconds([(s / rate, e / rate) for s, e in gaps], new_rate, length)


def known_mask(length: int, gaps: list[Gap]) -> torch.Tensor:
    """``[length]``: 1 where the audio is known, 0 in the gaps."""
    known = torch.ones(length)
    for start, end in gaps:
        known[start:end] = 0
    return known


def splice(original: torch.Tensor, repaired: torch.Tensor, gaps: list[Gap], rate: int,
           fade_ms: float = 5.0) -> torch.Tensor:
    """``original`` ``[C, T]`` with its gaps taken from ``repaired``, cross-faded over at most
    ``fade_ms`` on the known side of each edge: outside the gaps and their fades, the output is
    the original sample for sample."""
    fade = int(fade_ms * rate / 1000)
    weight = torch.zeros(original.shape[-1])
    ramp = crossfade_window(2 * fade + 2, fade)[:fade]  # rising, above 0 and below 1
    for start, end in gaps:
        weight[start:end] = 1
        if not fade:
            continue
        before = weight[max(0, start - fade) : start]
        before.copy_(torch.maximum(before, ramp[fade - before.shape[0]:]))
        after = weight[end : end + fade]
        after.copy_(torch.maximum(after, ramp.flip(0)[: after.shape[0]]))
    return torch.lerp(original, repaired, weight)  # exact at weights 0 and 1


def crossover(original: torch.Tensor, repaired: torch.Tensor, band_hz: float, rate: int,
              width_hz: float = 250.0, rolloff: float = 0.94) -> torch.Tensor:
    """``original`` ``[C, T]`` below ``band_hz`` and ``repaired`` above it, through a raised-cosine
    crossover ``width_hz`` wide ending at ``rolloff * band_hz`` (where a resampled band's own
    anti-aliasing filter has begun to fall, so the two do not leave a notch)."""
    length = original.shape[-1]
    freqs = torch.fft.rfftfreq(length, 1 / rate)
    ramp = ((rolloff * band_hz - freqs) / width_hz).clamp(0, 1)
    keep = 0.5 - 0.5 * torch.cos(math.pi * ramp)  # 1 well below the band edge, 0 above it
    mixed = keep * torch.fft.rfft(original) + (1 - keep) * torch.fft.rfft(repaired)
    return torch.fft.irfft(mixed, length)


def packet_loss(length: int, rate: int, generator: torch.Generator, packet_ms: tuple[float, float] = (10, 20),
                loss: tuple[float, float] = (0.05, 0.3), burst: tuple[float, float] = (1.4, 3.3)) -> torch.Tensor:
    """A ``[length]`` mask of lost packets: packets of one duration drawn from ``packet_ms``, lost in
    bursts by a two-state (Gilbert-Elliott) chain with a loss rate drawn from ``loss`` and a mean
    burst length (packets) from ``burst``."""
    uniform = lambda low, high: low + (high - low) * torch.rand((), generator=generator).item()  # noqa: E731
    packet = max(1, int(uniform(*packet_ms) * rate / 1000))
    rate_lost, mean_burst = uniform(*loss), uniform(*burst)
    leave = 1 / mean_burst  # P(bad -> good)
    enter = rate_lost * leave / (1 - rate_lost)  # P(good -> bad): the chain's stationary loss rate
    draws = torch.rand(math.ceil(length / packet), generator=generator)
    lost, bad = torch.zeros(len(draws), dtype=torch.bool), False
    for i, u in enumerate(draws.tolist()):
        bad = (u >= leave) if bad else (u < enter)
        lost[i] = bad
    return 1 - lost.repeat_interleave(packet)[:length].float()


def dropouts(length: int, rate: int, generator: torch.Generator, count: tuple[int, int] = (1, 3),
             dropout_ms: tuple[float, float] = (20, 500)) -> torch.Tensor:
    """A ``[length]`` mask of ``count`` single dropouts, each of a duration drawn log-uniformly
    from ``dropout_ms`` (at most half the length) at a uniform place."""
    known = torch.ones(length)
    for _ in range(int(torch.randint(count[0], count[1] + 1, (), generator=generator))):
        low, high = (math.log(ms * rate / 1000) for ms in dropout_ms)
        size = min(length // 2, int(math.exp(low + (high - low) * torch.rand((), generator=generator).item())))
        start = int(torch.randint(0, max(1, length - size), (), generator=generator))
        known[start : start + size] = 0
    return known
