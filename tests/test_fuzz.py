"""Bad input, fuzzed (hypothesis): random bytes, truncated WAV/FLAC/OGG, extreme sample rates, 0 and
1 samples, many channels, NaN/Inf, full-scale clipping, silence and DC. Every case must end in a
result (finite, shaped like the input) or an ``AudioError`` naming the file -- never another
exception, never a hang (each example has a deadline)."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audiodiff.audio import AudioError, load_audio
from audiodiff.model import DiffusionModel
from audiodiff.pipelines.enhance import Enhancer
from tiny_config import TINY_MASK

pytestmark = pytest.mark.usefixtures("one_thread")

FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}
FUZZ = settings(max_examples=40, deadline=timedelta(seconds=20), derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

TINY = {**TINY_MASK, "sampling": {**TINY_MASK["sampling"], "steps": 1}}


@pytest.fixture(scope="module")
def enhancer():
    torch.manual_seed(0)
    return Enhancer(DiffusionModel(TINY).eval(), device="cpu")


def _encoded(data: np.ndarray, rate: int, suffix: str) -> bytes:
    buf = io.BytesIO()
    fmt, subtype = FORMATS[suffix]
    sf.write(buf, data, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _load_or_refuse(path: Path):
    """``load_audio`` must return finite float32 ``[C, T]`` or raise an AudioError naming ``path``."""
    try:
        wav, rate = load_audio(path)
    except AudioError as err:
        assert str(path) in str(err)
        return None
    assert wav.dtype == torch.float32 and wav.ndim == 2 and wav.shape[-1] > 0 and rate > 0
    assert torch.isfinite(wav).all()
    return wav, rate


def _enhance_or_refuse(enhancer: Enhancer, path: Path) -> None:
    loaded = _load_or_refuse(path)
    if loaded is None:
        return
    wav, rate = loaded
    try:
        out = enhancer(wav, rate)
    except AudioError:
        return
    assert out.shape == wav.shape
    assert torch.isfinite(out).all()


@FUZZ
@given(blob=st.binary(min_size=0, max_size=4096), suffix=st.sampled_from(sorted(FORMATS)))
def test_random_bytes(tmp_path, blob, suffix):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(blob)
    _load_or_refuse(path)


@FUZZ
@given(suffix=st.sampled_from(sorted(FORMATS)), keep=st.floats(0.0, 0.999), channels=st.integers(1, 2),
       flip=st.integers(0, 255), seed=st.integers(0, 2**16))
def test_truncated_or_corrupted_files(tmp_path, enhancer, suffix, keep, channels, flip, seed):
    rng = np.random.default_rng(seed)
    data = (0.3 * rng.standard_normal((4000, channels))).astype(np.float32)
    blob = bytearray(_encoded(data, 16_000, suffix))
    cut = blob[: int(len(blob) * keep)]
    if cut and flip:  # and one corrupted byte somewhere in what is left
        cut[int(rng.integers(len(cut)))] ^= flip
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(bytes(cut))
    _enhance_or_refuse(enhancer, path)


SIGNALS = ("noise", "silence", "dc", "clipped", "nan", "inf")


@FUZZ
@given(rate=st.sampled_from([1, 8, 1_000, 8_000, 16_000, 44_100, 192_000, 1_000_000]),
       frames=st.sampled_from([1, 2, 7, 300, 5_000]), channels=st.sampled_from([1, 2, 3, 8, 65]),
       signal=st.sampled_from(SIGNALS), suffix=st.sampled_from([".wav", ".flac"]))
def test_odd_but_well_formed_files(tmp_path, enhancer, rate, frames, channels, signal, suffix):
    rng = np.random.default_rng(0)
    data = {
        "noise": 0.3 * rng.standard_normal((frames, channels)),
        "silence": np.zeros((frames, channels)),
        "dc": np.full((frames, channels), 0.5),
        "clipped": np.sign(rng.standard_normal((frames, channels))),
        "nan": np.where(rng.random((frames, channels)) < 0.5, np.nan, 0.1),
        "inf": np.full((frames, channels), np.inf),
    }[signal].astype(np.float32)
    path = tmp_path / f"odd{suffix}"
    try:  # libsndfile itself refuses some of these (FLAC above 655 kHz or 8 channels): no file then
        if suffix == ".wav":
            sf.write(str(path), data, rate, subtype="FLOAT")
        else:
            sf.write(str(path), np.nan_to_num(data, posinf=1.0), rate, subtype="PCM_16")
    except (sf.LibsndfileError, RuntimeError, ValueError):
        return
    _enhance_or_refuse(enhancer, path)


def test_zero_frames_header_only(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(str(path), np.zeros((0, 1), np.float32), 16_000)
    with pytest.raises(AudioError, match="zero-length"):
        load_audio(path)
