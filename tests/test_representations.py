"""audiodiff.representations: ComplexSpec, Waveform, Mel; immutability and config round trip."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from audiodiff.registry import ConfigError
from audiodiff.representations import (REPRESENTATIONS, ComplexSpec, Magnitude, Mel, Representation, Waveform,
                                       griffin_lim)


def _noise(*shape, seed=0):
    return 0.3 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _rel_error(a, b):
    return ((a - b).norm() / b.norm()).item()


# --------------------------------------------------------------------------- ComplexSpec


def test_complex_spec_defaults_give_256_bins():
    rep = ComplexSpec()
    assert rep.sample_rate == 16_000
    assert rep.freq_bins == 256
    assert rep.frames(16_000) == 126  # 125 frames a second, plus one (centred STFT)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("length", [1, 127, 128, 129, 16_000])
def test_complex_spec_shape(channels, length):
    rep = ComplexSpec()
    x = rep.encode(_noise(3, channels, length))
    assert x.shape == (3, 2 * channels, 256, length // 128 + 1)
    assert x.shape[-1] == rep.frames(length)
    assert x.dtype == torch.float32


@pytest.mark.parametrize("length", [1, 2, 3, 127, 128, 129, 255, 257, 509, 510, 511, 1001, 16_000, 16_001, 24_577])
def test_complex_spec_round_trip_mono(length):
    rep = ComplexSpec()
    wav = _noise(2, 1, length, seed=length)
    back = rep.decode(rep.encode(wav), length)
    assert back.shape == wav.shape
    assert _rel_error(back, wav) < 1e-5


@pytest.mark.parametrize("length", [1, 129, 510, 16_001])
def test_complex_spec_round_trip_stereo(length):
    rep = ComplexSpec()
    wav = _noise(2, 2, length, seed=length)
    wav[:, 1] *= 0.1  # very different channel levels must not leak into each other
    back = rep.decode(rep.encode(wav), length)
    assert back.shape == wav.shape
    for c in range(2):
        assert _rel_error(back[:, c], wav[:, c]) < 1e-5


@pytest.mark.parametrize("settings", [dict(alpha=1.0, scale=1.0), dict(alpha=0.3, scale=0.5), dict(n_fft=254, hop_length=64)])
def test_complex_spec_round_trip_other_settings(settings):
    rep = ComplexSpec(**settings)
    wav = _noise(1, 1, 3001)
    assert _rel_error(rep.decode(rep.encode(wav), 3001), wav) < 1e-5


def test_complex_spec_stereo_channel_order():
    """Channels are re_0, im_0, re_1, im_1: each audio channel encodes as it would alone."""
    rep = ComplexSpec()
    wav = _noise(1, 2, 2000)
    both = rep.encode(wav)
    assert torch.allclose(both[:, 0:2], rep.encode(wav[:, 0:1]), atol=1e-6)
    assert torch.allclose(both[:, 2:4], rep.encode(wav[:, 1:2]), atol=1e-6)


def test_complex_spec_decode_crops_and_pads_to_length():
    rep = ComplexSpec()
    wav = _noise(1, 1, 1000)
    x = rep.encode(wav)
    assert rep.decode(x, 900).shape == (1, 1, 900)
    assert torch.allclose(rep.decode(x, 900), wav[..., :900], atol=1e-5)
    assert rep.decode(x, 1100).shape == (1, 1, 1100)


def test_complex_spec_silence_stays_silent():
    rep = ComplexSpec()
    x = rep.encode(torch.zeros(1, 1, 1000))
    assert torch.isfinite(x).all() and x.abs().max() < 1e-4
    wav = rep.decode(x, 1000)
    assert torch.isfinite(wav).all() and wav.abs().max() < 1e-6


def test_complex_spec_compression_applies():
    """|encoded bin| = scale * |STFT|^alpha, phase unchanged, for a sine."""
    rep = ComplexSpec(alpha=0.5, scale=0.15)
    n = torch.arange(8000, dtype=torch.float32)
    freq_bin = 40  # exactly on a bin: 40 * 16000 / 510 Hz
    wav = 0.8 * torch.sin(2 * math.pi * freq_bin * n / rep.n_fft)
    x = rep.encode(wav[None, None])
    enc = torch.complex(x[0, 0], x[0, 1])  # [F, N]
    stft = torch.stft(wav, 510, 128, window=torch.hann_window(510), center=True,
                      pad_mode="constant", return_complex=True)
    mid = slice(5, -5)  # frames away from the edges
    peak = stft[freq_bin, mid].abs()
    assert peak.min() > 50  # a strong component, so the comparison means something
    expected = 0.15 * peak.pow(0.5)
    assert torch.allclose(enc[freq_bin, mid].abs(), expected, rtol=1e-4)
    # the whole spectrogram, not just the peak bin
    strong = stft.abs() > 1e-3
    assert torch.allclose(enc.abs()[strong], 0.15 * stft.abs()[strong].pow(0.5), rtol=1e-3)
    # phase kept
    phase_diff = torch.angle(enc[freq_bin, mid] * stft[freq_bin, mid].conj())
    assert phase_diff.abs().max() < 1e-4
    # and it really is compressed: the encoded peak is far below the raw magnitude
    assert enc[freq_bin, mid].abs().max() < 0.05 * peak.max()


def test_complex_spec_scale_and_alpha_change_the_encoding():
    wav = _noise(1, 1, 2000)
    a = ComplexSpec().encode(wav)
    b = ComplexSpec(scale=0.3).encode(wav)
    assert torch.allclose(b, 2 * a, rtol=1e-5, atol=1e-7)
    c = ComplexSpec(alpha=1.0, scale=1.0).encode(wav)
    assert not torch.allclose(a, c, atol=1e-3)


def test_complex_spec_decode_half_precision():
    rep = ComplexSpec()
    wav = _noise(1, 1, 1000)
    back = rep.decode(rep.encode(wav).half(), 1000)
    assert back.dtype == torch.float32
    assert _rel_error(back, wav) < 1e-2


# --------------------------------------------------------------------------- Waveform


def test_waveform_encode_is_identity():
    wav = _noise(2, 1, 100)
    assert torch.equal(Waveform().encode(wav), wav)


def test_waveform_decode_crops_and_pads():
    wav = _noise(2, 1, 100)
    rep = Waveform()
    assert torch.equal(rep.decode(wav, 100), wav)
    assert torch.equal(rep.decode(wav, 60), wav[..., :60])
    padded = rep.decode(wav, 130)
    assert padded.shape == (2, 1, 130)
    assert torch.equal(padded[..., :100], wav)
    assert torch.equal(padded[..., 100:], torch.zeros(2, 1, 30))


# --------------------------------------------------------------------------- Mel


def test_mel_shape_and_decode_length():
    rep = Mel()
    wav = _noise(2, 1, 4000)
    mel = rep.encode(wav)
    assert mel.shape == (2, 1, 80, 4000 // 256 + 1)
    assert torch.isfinite(mel).all()
    assert mel.min().item() >= math.log(1e-5) - 1e-4  # clamped log
    back = rep.decode(mel, 3999, n_iter=4)
    assert back.shape == (2, 1, 3999)
    assert torch.isfinite(back).all()


def test_mel_stereo_and_settings():
    rep = Mel(n_mels=40, hop_length=128, n_fft=512)
    mel = rep.encode(_noise(1, 2, 2000))
    assert mel.shape == (1, 2, 40, 2000 // 128 + 1)
    assert rep.decode(mel, 2000, n_iter=2).shape == (1, 2, 2000)


def test_mel_tone_lands_in_the_right_band():
    rep = Mel()
    n = torch.arange(8000, dtype=torch.float32)
    low = rep.encode(torch.sin(2 * math.pi * 200 * n / 16_000)[None, None])
    high = rep.encode(torch.sin(2 * math.pi * 4000 * n / 16_000)[None, None])
    assert low[0, 0].mean(-1).argmax() < high[0, 0].mean(-1).argmax()


# --------------------------------------------------------------------------- immutability, configs


@pytest.mark.parametrize("rep", [Waveform(), ComplexSpec(), Mel()], ids=lambda r: type(r).__name__)
def test_representations_are_frozen(rep):
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.sample_rate = 8_000
    assert rep.sample_rate == 16_000


def test_complex_spec_settings_are_frozen():
    rep = ComplexSpec()
    for field, value in [("n_fft", 1022), ("hop_length", 64), ("alpha", 1.0), ("scale", 1.0)]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(rep, field, value)
    assert rep == ComplexSpec()


@pytest.mark.parametrize(
    "rep",
    [Waveform(), Waveform(sample_rate=22_050), ComplexSpec(), ComplexSpec(sample_rate=48_000, n_fft=1534, hop_length=384,
     alpha=0.3, scale=0.2), Mel(), Mel(n_mels=64, f_max=7_600.0)],
    ids=lambda r: type(r).__name__,
)
def test_config_rebuilds_equal_object(rep):
    config = rep.config()
    assert set(config) == {"name", "args"}
    assert config["name"] in REPRESENTATIONS.names()
    rebuilt = REPRESENTATIONS.build(config)
    assert type(rebuilt) is type(rep)
    assert rebuilt == rep
    # and through JSON, as in a checkpoint's config.json
    assert REPRESENTATIONS.build(json.loads(json.dumps(config))) == rep


def test_config_names():
    assert ComplexSpec().config()["name"] == "complex_spec"
    assert Waveform().config()["name"] == "waveform"
    assert Mel().config()["name"] == "mel"
    assert ComplexSpec(scale=0.2).config()["args"]["scale"] == 0.2


def test_mel_config_after_use():
    """Using a Mel (which caches its transform) must not leak the cache into its config."""
    rep = Mel()
    rep.encode(torch.zeros(1, 1, 1024))
    assert set(rep.config()["args"]) == {f.name for f in dataclasses.fields(Mel)}
    assert REPRESENTATIONS.build(rep.config()) == rep


def test_build_refuses_unknown_names_and_args():
    with pytest.raises(ConfigError, match="unknown representation 'stft'"):
        REPRESENTATIONS.build({"name": "stft", "args": {}})
    with pytest.raises(ConfigError, match="window"):
        REPRESENTATIONS.build({"name": "complex_spec", "args": {"window": "hann"}})


def test_representation_base_is_abstract():
    with pytest.raises(TypeError):
        Representation()


def test_magnitude_encodes_without_phase_and_decodes_through_griffin_lim():
    t = torch.arange(16_000) / 16_000
    wav = (0.3 * torch.sin(2 * math.pi * 220 * t) + 0.2 * torch.sin(2 * math.pi * 1330 * t))[None, None]
    rep = Magnitude()
    x = rep.encode(wav)
    assert x.shape == (1, 1, 256, 16_000 // 128 + 1) and (x >= 0).all()
    shifted = rep.encode(torch.roll(wav, 37, dims=-1))  # a time shift changes the phase, barely the magnitude
    assert (shifted - x)[..., 4:-4].abs().max() < 0.05 * x.max()
    back = rep.decode(x, wav.shape[-1])
    assert back.shape == wav.shape
    assert (rep.encode(back) - x)[..., 4:-4].abs().mean() < 0.15 * x.mean()  # a signal with that magnitude
    assert (rep.encode(torch.randn_like(wav) * 0.2) - x).abs().mean() > 0.5 * x.mean()  # (noise is not)
    assert rep.decode(torch.zeros_like(x), wav.shape[-1]).abs().max() == 0


def test_griffin_lim_is_torchaudios_from_zero_phase_and_closer_from_a_guide():
    import torchaudio

    wav = torch.randn(2, 8_000, generator=torch.Generator().manual_seed(0)) * 0.1
    window = torch.hann_window(510)
    spec = torch.stft(wav, 510, 128, window=window, return_complex=True)
    ours = griffin_lim(spec.abs(), 510, 128, 8_000, 16)
    theirs = torchaudio.functional.griffinlim(spec.abs(), window, 510, 128, 510, 1.0, 16, 0.99, 8_000, False)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    rough = spec * torch.exp(1j * 0.5 * torch.randn(spec.shape, generator=torch.Generator().manual_seed(1)))
    guided = griffin_lim(spec.abs(), 510, 128, 8_000, 16, phase=rough)  # a guide near the true phase

    def spectral_error(out):
        return float((torch.stft(out, 510, 128, window=window, return_complex=True).abs() - spec.abs()).norm()
                     / spec.abs().norm())

    assert spectral_error(guided) < 0.5 * spectral_error(ours)
    rep = Magnitude(iterations=8)
    x = rep.encode(wav[:, None])
    assert (rep.decode(x, 8_000, guide=wav[:, None]) - wav[:, None]).pow(2).mean() < 0.2 * wav.pow(2).mean()
