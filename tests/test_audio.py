"""audiodiff.audio: load/save, AudioError messages, channel and rate conversion, chunking."""

from __future__ import annotations

import math
import os
import stat

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.audio import (
    MAX_CHANNELS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioError,
    chunk_starts,
    convert_channels,
    load_audio,
    OverlapAdd,
    resample,
    save_audio,
)

RATE = 16_000


def _sine(freq: float, seconds: float = 0.25, rate: int = RATE, channels: int = 1, amp: float = 0.5):
    t = np.arange(int(seconds * rate)) / rate
    cols = [amp * np.sin(2 * np.pi * freq * (k + 1) * t) for k in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)  # [T, C] as soundfile wants


def _expect_error(path, *words, **kwargs) -> str:
    """load_audio(path) raises AudioError whose message names the file and every word given."""
    with pytest.raises(AudioError) as info:
        load_audio(path, **kwargs)
    message = str(info.value)
    assert str(path) in message, message
    for word in words:
        assert word.lower() in message.lower(), message
    return message


# --------------------------------------------------------------------------- load_audio errors


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nope.wav", "no such file")


def test_folder_instead_of_file(tmp_path):
    folder = tmp_path / "speech.wav"
    folder.mkdir()
    _expect_error(folder, "folder")


def test_random_bytes_are_not_audio(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _expect_error(path, "not an audio file")


def test_text_file_with_wav_suffix_is_not_audio(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is a shopping list, not a recording\n" * 20)
    _expect_error(path, "not an audio file")


def test_truncated_wav(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, _sine(440, seconds=0.5), RATE, subtype="PCM_16")
    data = path.read_bytes()
    header = 44  # canonical PCM WAV header written by libsndfile
    assert data[36:40] == b"data"
    cut = header + (len(data) - header) // 2 + 1  # mid data chunk, even mid-sample
    path.write_bytes(data[:cut])
    _expect_error(path, "truncated")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _expect_error(path, "empty")


def test_zero_length_audio(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((0, 1), np.float32), RATE)
    assert path.stat().st_size > 0  # a valid header, just no frames
    _expect_error(path, "zero-length")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_inf_samples(tmp_path, bad):
    path = tmp_path / "bad.wav"
    data = _sine(440)
    data[100, 0] = bad
    data[200, 0] = bad
    sf.write(path, data, RATE, subtype="FLOAT")
    message = _expect_error(path, "NaN/Inf")
    assert "2 " in message  # counts the bad samples


def test_three_channels_cannot_become_stereo(tmp_path):
    path = tmp_path / "three.wav"
    sf.write(path, _sine(440, channels=3), RATE)
    _expect_error(path, "channel layout", "3 channels", channels=2)


def test_three_channels_mix_down_to_mono(tmp_path):
    path = tmp_path / "three.wav"
    data = _sine(440, channels=3)
    sf.write(path, data, RATE, subtype="FLOAT")
    wav, _ = load_audio(path, channels=1)
    assert wav.shape == (1, data.shape[0])
    assert torch.allclose(wav[0], torch.from_numpy(data.mean(axis=1)), atol=1e-6)


def test_too_many_channels(tmp_path):
    path = tmp_path / "many.wav"
    try:
        sf.write(path, np.zeros((16, MAX_CHANNELS + 1), np.float32), RATE)
    except Exception as err:  # pragma: no cover - depends on libsndfile
        pytest.skip(f"libsndfile cannot write {MAX_CHANNELS + 1} channels: {err}")
    _expect_error(path, "channel layout", f"{MAX_CHANNELS + 1} channels")


@pytest.mark.parametrize("rate", [MIN_SAMPLE_RATE // 2, MAX_SAMPLE_RATE + 16_000])
def test_unsupported_sample_rate(tmp_path, rate):
    path = tmp_path / f"rate{rate}.wav"
    sf.write(path, np.zeros((64, 1), np.float32), rate)
    _expect_error(path, "sample rate", str(rate))


def test_audio_error_is_value_error():
    assert issubclass(AudioError, ValueError)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
@pytest.mark.parametrize("channels", [1, 2])
def test_lossless_round_trip(tmp_path, suffix, channels):
    rng = np.random.default_rng(1)
    wav = torch.from_numpy(rng.uniform(-0.9, 0.9, (channels, 4001)).astype(np.float32))
    path = save_audio(tmp_path / f"x{suffix}", wav, 22_050)
    assert path == tmp_path / f"x{suffix}"
    assert sf.info(str(path)).format == suffix[1:].upper()
    back, rate = load_audio(path)
    assert rate == 22_050
    assert back.dtype == torch.float32
    assert back.shape == (channels, 4001)
    assert (back - wav).abs().max() <= 1.0 / 2**15 + 1e-7  # 16-bit quantisation


def test_ogg_round_trip(tmp_path):
    wav = torch.from_numpy(_sine(440, seconds=0.5, channels=2).T.copy())
    path = save_audio(tmp_path / "x.ogg", wav, RATE)
    assert sf.info(str(path)).format == "OGG"
    back, rate = load_audio(path)
    assert rate == RATE
    assert back.dtype == torch.float32
    assert back.shape == wav.shape
    for c in range(2):
        corr = np.corrcoef(back[c].numpy(), wav[c].numpy())[0, 1]
        assert corr > 0.9, corr


def test_save_accepts_1d_and_clips(tmp_path):
    wav = torch.linspace(-2, 2, 1000)
    back, _ = load_audio(save_audio(tmp_path / "clip.wav", wav, RATE, subtype="FLOAT"))
    assert back.shape == (1, 1000)
    assert back.max().item() == pytest.approx(1.0) and back.min().item() == pytest.approx(-1.0)


def test_save_refuses_nan(tmp_path):
    wav = torch.zeros(1, 100)
    wav[0, 10] = float("nan")
    target = tmp_path / "nan.wav"
    with pytest.raises(AudioError, match="NaN"):
        save_audio(target, wav, RATE)
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_bad_rank(tmp_path):
    with pytest.raises(AudioError, match=r"\[C, T\]"):
        save_audio(tmp_path / "x.wav", torch.zeros(1, 1, 100), RATE)


def test_save_respects_umask(tmp_path):
    """The written file gets the usual 0o666 & ~umask mode, not a temp file's owner-only 0o600."""
    old = os.umask(0o022)
    try:
        path = save_audio(tmp_path / "shared.wav", torch.zeros(1, 100), RATE)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_save_is_atomic(tmp_path, monkeypatch, error):
    target = tmp_path / "out.wav"
    save_audio(target, torch.full((1, 800), 0.25), RATE)
    before = target.read_bytes()
    written = []

    def broken_write(file, data, samplerate, *args, **kwargs):
        with open(file, "wb") as f:  # half a file, then the crash
            f.write(b"RIFF\x00\x00")
        written.append(str(file))
        raise error

    monkeypatch.setattr(sf, "write", broken_write)
    with pytest.raises(type(error)):
        save_audio(target, torch.full((1, 800), -0.5), RATE)
    assert written, "the fake writer was not called"
    assert written[0] != str(target)  # it wrote elsewhere first
    assert target.read_bytes() == before  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no .part left behind


def test_save_overwrites_and_leaves_no_part_file(tmp_path):
    target = tmp_path / "sub" / "out.flac"
    save_audio(target, torch.full((1, 800), 0.25), RATE)
    save_audio(target, torch.full((1, 800), -0.5), RATE)
    back, _ = load_audio(target)
    assert back.mean().item() == pytest.approx(-0.5, abs=1e-3)
    assert [p.name for p in target.parent.iterdir()] == ["out.flac"]


# --------------------------------------------------------------------------- channels and rates


def test_mixdown_to_mono(tmp_path):
    path = tmp_path / "stereo.wav"
    data = np.stack([np.full(500, 0.5), np.full(500, -0.25)], axis=1).astype(np.float32)
    sf.write(path, data, RATE, subtype="FLOAT")
    wav, rate = load_audio(path, channels=1)
    assert rate == RATE
    assert wav.shape == (1, 500)
    assert torch.allclose(wav, torch.full((1, 500), 0.125))


def test_mono_to_stereo(tmp_path):
    path = tmp_path / "mono.wav"
    data = _sine(330)
    sf.write(path, data, RATE, subtype="FLOAT")
    wav, _ = load_audio(path, channels=2)
    assert wav.shape == (2, data.shape[0])
    assert torch.equal(wav[0], wav[1])
    assert torch.allclose(wav[0], torch.from_numpy(data[:, 0]))
    wav[0].zero_()  # a real copy, not a view of one channel
    assert wav[1].abs().sum() > 0


def test_convert_channels_keeps_and_refuses():
    wav = torch.randn(2, 10)
    assert convert_channels(wav, None) is wav
    assert convert_channels(wav, 2) is wav
    with pytest.raises(AudioError, match="cannot turn 2 channels into 4"):
        convert_channels(wav, 4)


@pytest.mark.parametrize(("orig", "new"), [(16_000, 8_000), (16_000, 24_000), (22_050, 16_000), (8_000, 44_100)])
def test_load_with_resampling_changes_length_by_ratio(tmp_path, orig, new):
    path = tmp_path / "x.wav"
    frames = orig // 4
    sf.write(path, _sine(200, seconds=0.25, rate=orig), orig, subtype="FLOAT")
    wav, rate = load_audio(path, sample_rate=new)
    assert rate == new
    assert wav.dtype == torch.float32
    assert abs(wav.shape[-1] - frames * new / orig) <= 1
    # the sine survives: same peak level, same frequency (zero crossings)
    assert wav[0, 100:-100].abs().max().item() == pytest.approx(0.5, abs=0.02)
    crossings = int((np.diff(np.sign(wav[0].numpy())) != 0).sum())
    assert abs(crossings - 2 * 200 * 0.25) <= 2


def test_resample_same_rate_is_identity():
    wav = torch.randn(1, 100)
    assert resample(wav, RATE, RATE) is wav


def test_resample_batched_shape():
    out = resample(torch.randn(3, 2, 1600), 16_000, 48_000)
    assert out.shape == (3, 2, 4800)


# --------------------------------------------------------------------------- chunking


def _chunked_and_back(wav: torch.Tensor, chunk: int, overlap: int) -> tuple[torch.Tensor, list[int]]:
    """``wav`` ``[C, T]`` cut into zero-padded chunks and cross-faded back, as the pipelines do."""
    length = wav.shape[-1]
    starts = chunk_starts(length, chunk, chunk - overlap)
    joined = OverlapAdd(wav.shape[0], max(length, starts[-1] + chunk))
    padded = torch.nn.functional.pad(wav, (0, starts[-1] + chunk - length))
    for s in starts:
        joined.add(s, padded[:, s : s + chunk], overlap)
    return joined.result(length), starts


@pytest.mark.parametrize(
    ("length", "chunk", "overlap"),
    [(1, 100, 20), (57, 100, 20), (100, 100, 20), (101, 100, 20), (1000, 100, 20),
     (1003, 128, 32), (4096, 512, 0), (777, 64, 63), (5000, 1024, 256), (2, 3, 1)],
)
def test_chunks_cross_faded_back_reconstruct(length, chunk, overlap):
    wav = torch.randn(2, length, generator=torch.Generator().manual_seed(length))
    back, starts = _chunked_and_back(wav, chunk, overlap)
    assert starts[0] == 0 and starts == sorted(starts)
    assert starts[-1] + chunk >= length  # the last window reaches the end
    assert back.shape == (2, length)
    assert (back - wav).abs().max().item() < 1e-6


def test_overlap_add_channels_on_their_own():
    joined = OverlapAdd(2, 10)
    joined.add(0, torch.ones(10), 0, channels=0)
    joined.add(0, 2 * torch.ones(6), 2, channels=1)
    joined.add(4, 4 * torch.ones(6), 2, channels=1)
    out = joined.result(10)
    assert torch.equal(out[0], torch.ones(10))
    assert torch.allclose(out[1, :4], torch.full((4,), 2.0)) and torch.allclose(out[1, 6:], torch.full((4,), 4.0))


def test_chunk_starts_cover_with_hop():
    starts = chunk_starts(1000, 100, 80)
    assert starts[:3] == [0, 80, 160]
    assert starts[-1] == 900
    assert len(starts) == math.ceil((1000 - 100) / 80) + 1


def test_overlap_add_cross_fades_between_chunks():
    """Different content in overlapping windows is blended, not hard-switched."""
    joined = OverlapAdd(1, 180)
    joined.add(0, torch.zeros(1, 100), 20)
    joined.add(80, torch.ones(1, 100), 20)
    out = joined.result(180)
    fade = out[0, 80:100]
    assert fade[0] > 0 and fade[-1] < 1
    assert torch.all(fade[1:] > fade[:-1])
    assert torch.allclose(out[0, :80], torch.zeros(80)) and torch.allclose(out[0, 100:], torch.ones(80))


PIPELINE_RATES = (8_000, 16_000, 22_050, 44_100, 48_000)  # models' rates and the usual file rates


def _band_db(x: torch.Tensor, rate: int, lo: float, hi: float) -> float:
    """Mean power in dB of ``[T]`` between ``lo`` and ``hi`` Hz (Hann-windowed periodogram)."""
    power = torch.fft.rfft(x * torch.hann_window(x.shape[-1], dtype=x.dtype)).abs() ** 2
    freqs = torch.fft.rfftfreq(x.shape[-1], 1 / rate)
    return 10 * torch.log10(power[(freqs >= lo) & (freqs < hi)].mean()).item()


@pytest.mark.parametrize("orig", PIPELINE_RATES)
@pytest.mark.parametrize("new", PIPELINE_RATES)
def test_resampling_rejects_images_and_aliases_by_60_db(orig, new):
    if orig == new:
        return
    from audiodiff.audio import resample

    edge = min(orig, new) / 2
    noise = torch.randn(2 * orig, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = resample(noise, orig, new)
    if new > orig:  # white noise up: nothing new above the old band edge
        assert _band_db(out, new, 100, 0.9 * edge) - _band_db(out, new, edge, new / 2) >= 60
    else:  # noise above the new band edge down: nothing folds into the band
        spectrum = torch.fft.rfft(noise)
        spectrum[torch.fft.rfftfreq(noise.shape[-1], 1 / orig) < edge] = 0
        high = resample(torch.fft.irfft(spectrum, noise.shape[-1]), orig, new)
        assert _band_db(out, new, 100, 0.9 * edge) - _band_db(high, new, 100, edge) >= 60
