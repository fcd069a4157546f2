"""audiodiff.data.mixing and audiodiff.data.datasets: SNR mixing, levels, reverberation, on-the-fly
mixtures, coloured noise and paired folders."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.audio import AudioError, save_audio
from audiodiff.data import datasets
from audiodiff.data.datasets import MixtureDataset, PairedFolders, audio_files
from audiodiff.data.noises import coloured_noise
from audiodiff.data.mixing import (
    MixParams,
    apply_mix,
    fit_to_length,
    mix_at_snr,
    power,
    reverberate,
    room_impulse_response,
    sample_mix_params,
)

RATE = 16_000


pytestmark = pytest.mark.usefixtures("one_thread")


def _db(x):
    return 10 * np.log10(float(x))


def _tone(seconds: float, freq: float, seed: int, rate: int = RATE) -> np.ndarray:
    """A speech-like test signal: a harmonic tone with amplitude modulation, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * k * freq * t) / k for k in range(1, 5))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(t.size)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


# ------------------------------------------------------------------------------------------ mixing


@pytest.mark.parametrize("snr_db", [-10.0, -5.0, 0.0, 7.5, 20.0])
def test_mix_at_snr_exact(snr_db):
    g = torch.Generator().manual_seed(0)
    clean = 0.3 * torch.randn(1, 8000, generator=g)
    noise = 0.05 * torch.randn(1, 8000, generator=g) + 0.1 * torch.sin(torch.arange(8000) / 7.0)
    mixed = mix_at_snr(clean, noise, snr_db)
    assert mixed.shape == clean.shape
    measured = _db(power(clean) / power(mixed - clean))
    assert measured == pytest.approx(snr_db, abs=0.01)


def test_fit_to_length_loops_from_offset():
    x = torch.arange(5.0)[None]
    assert fit_to_length(x, 12, offset=3).tolist() == [[3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4]]
    assert fit_to_length(x, 2).tolist() == [[0, 1]]


def test_sample_mix_params_ranges_and_reproducible():
    a = [sample_mix_params(np.random.default_rng(s), (-5, 15), (-25, -5), 0.5, 1000) for s in range(50)]
    b = [sample_mix_params(np.random.default_rng(s), (-5, 15), (-25, -5), 0.5, 1000) for s in range(50)]
    assert a == b
    assert all(-5 <= p.snr_db <= 15 and -25 <= p.gain_db <= -5 and 0 <= p.noise_offset < 1000 for p in a)
    reverberant = sum(p.rir_seed is not None for p in a)
    assert 0 < reverberant < 50
    assert all(sample_mix_params(np.random.default_rng(s), reverb_probability=0.0).rir_seed is None
               for s in range(10))


def test_apply_mix_levels_dry():
    clean = torch.from_numpy(_tone(1.0, 180, 0))[None]
    noise = 0.2 * torch.randn(1, 3000, generator=torch.Generator().manual_seed(1))
    params = MixParams(snr_db=5.0, gain_db=-20.0, noise_offset=123, rir_seed=None)
    noisy, target = apply_mix(clean, noise, params, RATE)
    assert noisy.shape == target.shape == clean.shape
    assert _db(power(target)) == pytest.approx(-20.0, abs=0.01)  # target RMS at gain_db
    assert _db(power(target) / power(noisy - target)) == pytest.approx(5.0, abs=0.01)
    # dry: the target is the clean signal, only scaled
    assert torch.allclose(target / target.abs().max(), clean / clean.abs().max(), atol=1e-6)


def test_apply_mix_never_clips():
    clean = torch.from_numpy(_tone(0.5, 220, 2))[None]
    noise = torch.randn(1, 8000, generator=torch.Generator().manual_seed(3))
    params = MixParams(snr_db=-10.0, gain_db=-1.0, noise_offset=0, rir_seed=None)
    noisy, target = apply_mix(clean, noise, params, RATE)
    peak = max(noisy.abs().max().item(), target.abs().max().item())
    assert peak <= 0.99 + 1e-6
    assert peak == pytest.approx(0.99, abs=1e-4)  # scaled down to just below full scale
    # both scaled alike: the SNR survives the anti-clipping gain
    assert _db(power(target) / power(noisy - target)) == pytest.approx(-10.0, abs=0.01)


def _synthetic_rir(length=4000, peak=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    rir = torch.randn(length, generator=g) * torch.exp(-torch.arange(length) / 800.0) * 0.3
    rir[:peak] = 0
    rir[peak] = 1.0
    return rir


def test_reverberate_length_and_early_target():
    rir = _synthetic_rir()
    clean = torch.from_numpy(_tone(0.5, 200, 4))[None]
    wet, early = reverberate(clean, rir, RATE, early_ms=50.0)
    assert wet.shape == early.shape == clean.shape
    # an impulse shows the alignment: the direct path lands where the impulse was
    impulse = torch.zeros(1, 6000)
    impulse[0, 1000] = 1.0
    wet, early = reverberate(impulse, rir, RATE, early_ms=50.0)
    cut = int(0.05 * RATE)  # 800 samples after the direct path
    assert wet[0, 1000:1000 + 3000] == pytest.approx(rir[40:3040], abs=1e-5)
    assert early[0, 1000:1000 + cut] == pytest.approx(rir[40:40 + cut], abs=1e-5)
    assert early[0, 1000 + cut:].abs().max() < 1e-5  # late reverberation removed from the target
    assert early[0, :1000].abs().max() < 1e-5  # causal: nothing before the direct sound
    assert wet[0, 1000 + cut:].abs().max() > 1e-3


def test_room_impulse_response():
    rir = room_impulse_response(seed=3, sample_rate=RATE)
    assert rir.ndim == 1 and rir.dtype == torch.float32
    assert rir.abs().max() == pytest.approx(1.0, abs=1e-6)
    assert torch.equal(rir, room_impulse_response(seed=3, sample_rate=RATE))
    # the reverberant mixture keeps its length and target level
    clean = torch.from_numpy(_tone(0.5, 150, 5))[None]
    params = MixParams(snr_db=10.0, gain_db=-15.0, noise_offset=0, rir_seed=3)
    noisy, target = apply_mix(clean, 0.1 * torch.randn(1, 4000), params, RATE)
    assert noisy.shape == target.shape == clean.shape
    assert torch.isfinite(noisy).all()
    assert _db(power(target)) == pytest.approx(-15.0, abs=0.01)


# ------------------------------------------------------------------------------------- coloured noise


def _octave_slope(x: np.ndarray, rate: int = RATE) -> float:
    """Fitted power spectral slope in dB per octave (octaves from 125 Hz to 4 kHz)."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    centres = 125 * 2.0 ** np.arange(6)
    levels = [10 * np.log10(spec[(freqs >= c / np.sqrt(2)) & (freqs < c * np.sqrt(2))].mean()) for c in centres]
    return float(np.polyfit(np.log2(centres), levels, 1)[0])


def test_coloured_noise_shape_and_level():
    x = coloured_noise(np.random.default_rng(0), 12_345, slope_db=-3.0)
    assert x.shape == (1, 12_345) and x.dtype == torch.float32
    assert x.std().item() == pytest.approx(1.0, abs=1e-3)
    assert torch.equal(x, coloured_noise(np.random.default_rng(0), 12_345, slope_db=-3.0))


def test_coloured_noise_slope_sign():
    n = 2**16
    white = coloured_noise(np.random.default_rng(1), n, 0.0)[0].numpy()
    pink = coloured_noise(np.random.default_rng(1), n, -3.0)[0].numpy()
    blue = coloured_noise(np.random.default_rng(1), n, 3.0)[0].numpy()

    def low_share(x):
        spec = np.abs(np.fft.rfft(x)) ** 2
        return spec[1 : len(spec) // 8].sum() / spec[1:].sum()

    assert low_share(pink) > low_share(white) > low_share(blue)
    assert _octave_slope(white) == pytest.approx(0.0, abs=0.5)
    assert _octave_slope(pink) == pytest.approx(-3.0, abs=0.5)
    assert _octave_slope(blue) == pytest.approx(3.0, abs=0.5)
    assert _octave_slope(coloured_noise(np.random.default_rng(2), n, -6.0)[0].numpy()) == pytest.approx(-6.0, abs=0.5)


# ------------------------------------------------------------------------------------- folders


@pytest.fixture
def mix_dirs(tmp_path):
    clean, noise = tmp_path / "clean", tmp_path / "noise"
    clean.mkdir()
    noise.mkdir()
    for i, (freq, seconds) in enumerate(((140, 0.7), (210, 1.1), (260, 0.4))):
        sf.write(str(clean / f"s{i}.wav"), _tone(seconds, freq, i), RATE)
    rng = np.random.default_rng(9)
    sf.write(str(noise / "hum.wav"), (0.1 * np.sin(np.arange(RATE) / 5.0)).astype(np.float32), RATE)
    (noise / "sub").mkdir()
    sf.write(str(noise / "sub" / "hiss.flac"), (0.1 * rng.standard_normal(RATE // 2)).astype(np.float32), RATE)
    (clean / "notes.txt").write_text("not audio")
    return clean, noise


def test_audio_files(mix_dirs, tmp_path):
    clean, noise = mix_dirs
    assert [p.name for p in audio_files(clean)] == ["s0.wav", "s1.wav", "s2.wav"]
    assert [p.relative_to(noise).as_posix() for p in audio_files(noise)] == ["hum.wav", "sub/hiss.flac"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("x")
    with pytest.raises(AudioError, match="no audio files"):
        audio_files(empty)
    with pytest.raises(AudioError, match="no such folder"):
        audio_files(tmp_path / "missing")


def _dataset(dirs, **kw):
    clean, noise = dirs
    args = dict(sample_rate=RATE, segment_seconds=0.5, reverb_probability=0.0, length=20, seed=7,
                synthetic_noise_probability=0.2, babble_probability=0.2)
    args.update(kw)
    return MixtureDataset(str(clean), str(noise), **args)


def test_mixture_dataset_reproducible(mix_dirs):
    ds = _dataset(mix_dirs)
    assert len(ds) == 20
    noisy, clean = ds[3]
    assert noisy.shape == clean.shape == (1, 8000)
    assert noisy.dtype == clean.dtype == torch.float32
    again = _dataset(mix_dirs)[3]  # a fresh dataset, same seed and index
    assert torch.equal(noisy, again[0]) and torch.equal(clean, again[1])
    assert torch.equal(noisy, ds[3][0])  # and the same object, asked twice
    other = ds[4]
    assert not torch.equal(noisy, other[0])
    assert not torch.equal(noisy, _dataset(mix_dirs, seed=8)[3][0])


def test_mixture_dataset_levels(mix_dirs):
    ds = _dataset(mix_dirs, segment_seconds=1.5, reverb_probability=0.5)
    for i in range(4):
        noisy, clean = ds[i]
        assert noisy.shape == clean.shape == (1, int(1.5 * RATE))  # clean files joined to fit
        assert noisy.pow(2).mean().sqrt().item() == pytest.approx(0.1, rel=1e-3)
        assert torch.isfinite(noisy).all() and torch.isfinite(clean).all()
        assert clean.pow(2).mean() > 0


def _spy_coloured(monkeypatch) -> list:
    calls = []
    real = datasets.coloured_noise

    def spy(rng, length, slope_db):
        calls.append((length, slope_db))
        return real(rng, length, slope_db)

    monkeypatch.setattr(datasets, "coloured_noise", spy)
    return calls


def test_mixture_dataset_coloured_noise(mix_dirs, monkeypatch):
    calls = _spy_coloured(monkeypatch)
    ds = _dataset(mix_dirs, synthetic_noise_probability=1.0, babble_probability=0.0)
    items = [ds[i] for i in range(8)]
    assert not set(audio_files(mix_dirs[1])) & set(ds._cache)  # never a noise file
    assert len(calls) == 8
    assert all(length == ds.segment and -6 <= slope <= 3 for length, slope in calls)
    assert len({round(slope, 6) for _, slope in calls}) == 8  # slopes drawn per pair
    for noisy, clean in items:
        assert noisy.shape == (1, ds.segment)
        assert noisy.pow(2).mean().sqrt().item() == pytest.approx(0.1, rel=1e-3)
        assert not torch.allclose(noisy, clean)


def test_mixture_dataset_babble(mix_dirs, monkeypatch):
    calls = _spy_coloured(monkeypatch)
    ds = _dataset(mix_dirs, synthetic_noise_probability=0.0, babble_probability=1.0)
    for i in range(6):
        noisy, clean = ds[i]
        assert noisy.shape == clean.shape == (1, ds.segment)
        assert noisy.pow(2).mean().sqrt().item() == pytest.approx(0.1, rel=1e-3)
        assert not torch.allclose(noisy, clean)
    assert not calls
    assert not set(audio_files(mix_dirs[1])) & set(ds._cache)  # babble is made of clean files only


def test_mixture_dataset_file_noise_only(mix_dirs, monkeypatch):
    calls = _spy_coloured(monkeypatch)
    ds = _dataset(mix_dirs, synthetic_noise_probability=0.0, babble_probability=0.0)
    for i in range(6):
        ds[i]
    assert not calls
    assert set(audio_files(mix_dirs[1])) & set(ds._cache)


def test_balanced_noise_folders_draw_each_folder_alike(mix_dirs):
    """Nine hum files beside one hiss file in its own folder: drawn file by file, hiss comes up about
    one time in ten; drawn folder by folder, about one time in two."""
    clean, noise = mix_dirs
    for i in range(8):
        sf.write(str(noise / f"hum{i}.wav"), (0.1 * np.sin(np.arange(RATE) / (5.0 + i))).astype(np.float32), RATE)
    hiss = noise / "sub" / "hiss.flac"

    def hiss_share(balanced):
        ds = _dataset(mix_dirs, synthetic_noise_probability=0.0, babble_probability=0.0, length=200,
                      balance_noise_folders=balanced)
        hits = 0
        for i in range(len(ds)):
            ds._cache.clear()
            ds._cached = 0
            ds[i]
            hits += hiss in ds._cache
        return hits / len(ds)

    assert hiss_share(False) < 0.2
    assert 0.35 < hiss_share(True) < 0.65


def _write_pair(noisy_dir, clean_dir, rel, seconds_noisy, seconds_clean, freq, seed):
    for folder, seconds, extra in ((clean_dir, seconds_clean, 0.0), (noisy_dir, seconds_noisy, 0.05)):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        x = _tone(seconds, freq, seed)
        x = x + extra * np.random.default_rng(seed + 100).standard_normal(x.size).astype(np.float32)
        sf.write(str(path), x, RATE, subtype="FLOAT")


def test_paired_folders_pairs_by_relative_name(tmp_path):
    noisy_dir, clean_dir = tmp_path / "noisy", tmp_path / "clean"
    _write_pair(noisy_dir, clean_dir, "p1_001.wav", 0.5, 0.5, 150, 1)
    _write_pair(noisy_dir, clean_dir, "spk2/p2_001.wav", 0.6, 0.55, 330, 2)  # clean shorter: trimmed
    ds = PairedFolders(str(noisy_dir), str(clean_dir), RATE)
    assert len(ds) == 2
    for index, rel, length in ((0, "p1_001.wav", 8000), (1, "spk2/p2_001.wav", int(0.55 * RATE))):
        noisy, clean = ds[index]
        assert noisy.shape == clean.shape == (1, length)
        assert noisy.pow(2).mean().sqrt().item() == pytest.approx(0.1, rel=1e-3)
        ref_clean = torch.from_numpy(sf.read(str(clean_dir / rel), dtype="float32")[0][:length])
        ref_noisy = torch.from_numpy(sf.read(str(noisy_dir / rel), dtype="float32")[0][:length])
        gain = noisy[0].norm() / ref_noisy.norm()
        assert torch.allclose(clean[0], ref_clean * gain, atol=1e-5)  # its own clean file, same gain


def test_paired_folders_segments(tmp_path):
    noisy_dir, clean_dir = tmp_path / "noisy", tmp_path / "clean"
    _write_pair(noisy_dir, clean_dir, "a.wav", 1.0, 1.0, 200, 3)
    _write_pair(noisy_dir, clean_dir, "b.wav", 0.25, 0.25, 250, 4)
    fixed = PairedFolders(str(noisy_dir), str(clean_dir), RATE, segment_seconds=0.5, random_crop=False)
    noisy, clean = fixed[0]
    assert noisy.shape == (1, 8000)
    ref = torch.from_numpy(sf.read(str(clean_dir / "a.wav"), dtype="float32")[0][:8000])
    assert torch.allclose(clean[0] / clean[0].norm(), ref / ref.norm(), atol=1e-5)  # from the start
    noisy, clean = fixed[1]  # short file: zero-padded
    assert noisy.shape == clean.shape == (1, 8000)
    assert noisy[0, 4000:].abs().max() == 0 and clean[0, 4000:].abs().max() == 0
    rand = PairedFolders(str(noisy_dir), str(clean_dir), RATE, segment_seconds=0.5, random_crop=True, seed=1)
    assert torch.equal(rand[0][0], rand[0][0])  # reproducible crop
    assert rand[0][0].shape == (1, 8000)


def test_paired_folders_missing_clean(tmp_path):
    noisy_dir, clean_dir = tmp_path / "noisy", tmp_path / "clean"
    _write_pair(noisy_dir, clean_dir, "ok.wav", 0.2, 0.2, 200, 5)
    _write_pair(noisy_dir, clean_dir, "sub/lost.wav", 0.2, 0.2, 200, 6)
    (clean_dir / "sub" / "lost.wav").unlink()
    with pytest.raises(AudioError, match="no clean file") as err:
        PairedFolders(str(noisy_dir), str(clean_dir), RATE)
    assert str(clean_dir / "sub" / "lost.wav") in str(err.value)


def test_click_noise_is_sparse_and_reproducible():
    a = datasets.click_noise(np.random.default_rng(3), 16_000, 16_000)
    b = datasets.click_noise(np.random.default_rng(3), 16_000, 16_000)
    assert a.shape == (1, 16_000) and torch.equal(a, b)
    assert a.std().item() == pytest.approx(1.0, rel=1e-3)
    # impulsive: most samples near zero, a few large (Gaussian noise has kurtosis 3)
    kurtosis = (a.pow(4).mean() / a.pow(2).mean().pow(2)).item()
    assert kurtosis > 10
    assert (a.abs() < 1e-6).float().mean().item() > 0.3


def test_mixture_dataset_clicks(mix_dirs, monkeypatch):
    calls = _spy_coloured(monkeypatch)
    ds = _dataset(mix_dirs, synthetic_noise_probability=0.0, babble_probability=0.0, click_probability=1.0)
    for i in range(4):
        noisy, clean = ds[i]
        assert noisy.shape == clean.shape == (1, ds.segment)
        assert not torch.allclose(noisy, clean)
    assert not calls
    assert not set(audio_files(mix_dirs[1])) & set(ds._cache)  # clicks replace the noise files


def test_mixture_dataset_draws_from_several_clean_folders(mix_dirs, tmp_path):
    clean, noise = mix_dirs
    extra = tmp_path / "more_clean"
    extra.mkdir()
    sf.write(str(extra / "tone.wav"), (0.3 * np.sin(np.arange(RATE) * 0.2)).astype(np.float32), RATE)
    both = MixtureDataset([str(clean), str(extra)], str(noise), sample_rate=RATE, segment_seconds=0.5, length=4)
    assert set(both.clean_files) == set(audio_files(clean)) | {extra / "tone.wav"}


def test_clean_only_pairs_without_noise(mix_dirs):
    clean, _ = mix_dirs
    ds = MixtureDataset(str(clean), None, sample_rate=RATE, segment_seconds=0.5, length=4, noise_probability=0.0)
    noisy, target = ds[0]
    assert torch.equal(noisy, target)
    some = MixtureDataset(str(clean), str(mix_dirs[1]), sample_rate=RATE, segment_seconds=0.5, length=40,
                          noise_probability=0.5, reverb_probability=0.0)
    identical = sum(torch.equal(*some[i]) for i in range(40))
    assert 8 < identical < 32


def test_paired_training_crops_change_each_time_round_the_files(tmp_path):
    for name in ("a.wav", "b.wav"):
        wav = torch.randn(1, 16_000, generator=torch.Generator().manual_seed(len(name)))
        save_audio(tmp_path / "noisy" / name, wav, 16_000)
        save_audio(tmp_path / "clean" / name, wav, 16_000)
    data = PairedFolders(str(tmp_path / "noisy"), str(tmp_path / "clean"), segment_seconds=0.1, length=6)
    assert len(data) == 6
    first, again = data[0][1], data[2][1]  # the same file, once more round
    assert first.shape == again.shape and not torch.equal(first, again)
    assert torch.equal(data[0][1], first)  # reproducible


def test_the_file_cache_holds_a_bounded_amount_of_audio(tmp_path):
    for i in range(4):
        save_audio(tmp_path / "clean" / f"{i}.wav", 0.1 * torch.randn(1, 16_000), 16_000)
        save_audio(tmp_path / "noise" / f"{i}.wav", 0.1 * torch.randn(1, 16_000), 16_000)
    data = MixtureDataset(str(tmp_path / "clean"), str(tmp_path / "noise"), segment_seconds=0.5, length=40,
                          reverb_probability=0.0, cache_seconds=2.5)
    for i in range(40):
        data[i]
        assert sum(w.shape[-1] for w in data._cache.values()) <= 2.5 * 16_000
    assert data._cached == sum(w.shape[-1] for w in data._cache.values())
