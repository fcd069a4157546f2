"""The Enhancer pipeline and the denoise / eval / export verbs, on a tiny model and synthetic audio."""

from __future__ import annotations

import csv
import math

import pytest
import soundfile as sf
import torch

from tiny_config import TINY_MASK
from audiodiff.audio import load_audio, save_audio
from audiodiff.cli import main
from audiodiff.commands.export import export_checkpoint
from audiodiff.hub import CheckpointError, from_pretrained, save_pretrained
from audiodiff.model import DiffusionModel
from audiodiff.pipelines.enhance import Enhancer

CONFIG = TINY_MASK


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    model = DiffusionModel(CONFIG)
    with torch.no_grad():  # zero-initialised layers would make the model an identity map
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@pytest.fixture
def checkpoint(tmp_path, tiny_model):
    return save_pretrained(tiny_model, tmp_path / "tiny")


def noisy_tone(seconds=1.0, rate=16_000, channels=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * rate)) / rate
    tone = 0.3 * torch.sin(2 * math.pi * 220 * t) * (1 + torch.sin(2 * math.pi * 3 * t)) / 2
    return (tone + 0.05 * torch.randn(channels, t.numel(), generator=g)).clamp(-1, 1)


def test_shape_rate_and_channels_are_kept(tiny_model):
    enhancer = Enhancer(tiny_model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.125)
    for rate, channels, seconds in ((16_000, 1, 1.3), (22_050, 2, 0.7), (8_000, 1, 0.2)):
        audio = noisy_tone(seconds, rate, channels)
        out = enhancer(audio, rate, seed=0)
        assert out.shape == audio.shape and torch.isfinite(out).all() and out.abs().max() <= 1
    assert enhancer(noisy_tone(1.0)[0], 16_000).shape == (16_000,)


def test_tiny_inputs(tiny_model):
    enhancer = Enhancer(tiny_model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.125)
    for length in (1, 2, 127, 129):
        assert enhancer(torch.full((1, length), 0.1), 16_000).shape == (1, length)


def test_same_seed_same_output_other_seed_differs(tiny_model):
    enhancer = Enhancer(tiny_model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.125)
    audio = noisy_tone(0.8)
    a, b, c = enhancer(audio, 16_000, seed=1), enhancer(audio, 16_000, seed=1), enhancer(audio, 16_000, seed=2)
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_batched_files_equal_single_file_runs(tiny_model):
    """Chunks of many files share batches; each file's output equals its single-file output."""
    enhancer = Enhancer(tiny_model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.125, batch_size=5)
    files = [noisy_tone(s, seed=i) for i, s in enumerate((0.3, 1.1, 0.6, 0.9, 0.2))]
    together = dict(enhancer.run_many([(i, f, 16_000) for i, f in enumerate(files)], seed=3))
    assert list(together) == list(range(5))
    single = Enhancer(tiny_model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.125, batch_size=1)
    for i, f in enumerate(files):
        assert (together[i] - single(f, 16_000, seed=3)).abs().max() < 1e-4


def test_level_is_restored(tiny_model):
    """The pipeline normalises the input level and undoes it: scaling the input scales the output."""
    enhancer = Enhancer(tiny_model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.125)
    audio = noisy_tone(0.6)
    loud, quiet = enhancer(audio, 16_000, seed=0), enhancer(audio * 0.1, 16_000, seed=0)
    assert torch.allclose(quiet * 10, loud, atol=1e-4)


def test_attenuation_limit_mixes_the_input_back(tiny_model):
    """A limit of L dB gives ``(1 - a) * enhanced + a * input``, ``a = 10^(-L/20)``; the checkpoint's
    limit is the default, ``inf`` turns it off, a negative one is refused."""
    audio = 0.3 * noisy_tone(0.9)
    plain = Enhancer(tiny_model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.125)(audio, 16_000, seed=0)
    assert plain.abs().max() < 1  # no clipping, so the mix is exact
    limited = Enhancer(tiny_model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.125,
                       attenuation_limit_db=20)(audio, 16_000, seed=0)
    assert (limited - (0.9 * plain + 0.1 * audio)).abs().max() < 1e-4
    assert not torch.allclose(limited, plain, atol=1e-3)
    limiting = DiffusionModel({**CONFIG, "sampling": {**CONFIG["sampling"], "attenuation_limit_db": 6.0}})
    assert Enhancer(limiting, device="cpu").input_share == pytest.approx(10 ** (-6 / 20))
    assert Enhancer(limiting, device="cpu", attenuation_limit_db=math.inf).input_share == 0
    with pytest.raises(ValueError, match="attenuation limit"):
        Enhancer(tiny_model, device="cpu", attenuation_limit_db=-3)
    with pytest.raises(ValueError, match="attenuation_limit_db"):
        DiffusionModel({**CONFIG, "sampling": {**CONFIG["sampling"], "attenuation_limit_db": -1}})


def test_denoise_folder_keeps_names_skips_done_and_reports_bad_files(tmp_path, checkpoint, capsys):
    src = tmp_path / "in"
    save_audio(src / "a.wav", noisy_tone(0.5), 16_000)
    save_audio(src / "sub" / "b.flac", noisy_tone(0.4, 22_050, 2), 22_050)
    (src / "broken.wav").write_bytes(b"RIFF....not audio")
    out = tmp_path / "out"
    code = main(["denoise", str(src), "-o", str(out), "--model", str(checkpoint), "--device", "cpu", "--plot"])
    assert code == 1  # one bad file: the others are written, the exit code says something failed
    err = capsys.readouterr().err
    assert "broken.wav" in err and "not an audio file" in err
    a, rate_a = load_audio(out / "a.wav")
    b, rate_b = load_audio(out / "sub" / "b.flac")
    assert (rate_a, a.shape) == (16_000, (1, 8_000)) and (rate_b, b.shape) == (22_050, (2, 8_820))
    assert (out / "a.png").is_file() and sf.info(str(out / "a.wav")).subtype == sf.info(str(src / "a.wav")).subtype

    before = (out / "a.wav").stat().st_mtime_ns
    (src / "broken.wav").unlink()
    assert main(["denoise", str(src), "-o", str(out), "--model", str(checkpoint), "--device", "cpu"]) == 0
    assert "skipping 2 files" in capsys.readouterr().out
    assert (out / "a.wav").stat().st_mtime_ns == before


def test_denoise_single_file_to_named_output(tmp_path, checkpoint):
    save_audio(tmp_path / "x.wav", noisy_tone(0.3), 16_000)
    assert main(["denoise", str(tmp_path / "x.wav"), "-o", str(tmp_path / "y.wav"), "--model", str(checkpoint),
                 "--steps", "1", "--solver", "euler"]) == 0
    assert load_audio(tmp_path / "y.wav")[0].shape == (1, 4_800)
    assert main(["denoise", str(tmp_path / "x.wav"), "-o", str(tmp_path / "z.wav"), "--model", str(checkpoint),
                 "--steps", "1", "--solver", "euler", "--attenuation-limit", "0"]) == 0
    # 0 dB: nothing may be removed, so the input comes back (to 16-bit precision)
    assert (load_audio(tmp_path / "z.wav")[0] - load_audio(tmp_path / "x.wav")[0]).abs().max() < 1e-3


def test_eval_prints_means_and_writes_csv(tmp_path, capsys):
    for name in ("a.wav", "b.wav"):
        clean = noisy_tone(1.0, seed=5)
        save_audio(tmp_path / "clean" / name, clean, 16_000)
        save_audio(tmp_path / "enh" / name, clean + 0.01 * torch.randn_like(clean), 16_000)
    assert main(["eval", "--clean", str(tmp_path / "clean"), "--enhanced", str(tmp_path / "enh")]) == 0
    out = capsys.readouterr().out
    assert "pesq" in out and "si_sdr" in out
    rows = list(csv.DictReader(open(tmp_path / "enh" / "metrics.csv")))
    assert [r["file"] for r in rows] == ["a.wav", "b.wav"] and float(rows[0]["si_sdr"]) > 20


def test_eval_never_dies_on_one_file_and_always_writes_its_csv(tmp_path, capsys):
    clean = noisy_tone(1.0, seed=5)
    save_audio(tmp_path / "clean" / "speech.wav", clean, 16_000)
    save_audio(tmp_path / "enh" / "speech.wav", clean + 0.01 * torch.randn_like(clean), 16_000)
    tone = torch.sin(torch.arange(22_050) / 22_050 * 2 * math.pi * 440)[None] * 0.3
    save_audio(tmp_path / "clean" / "music.wav", tone, 22_050)
    save_audio(tmp_path / "enh" / "music.wav", tone * 0.9, 22_050)
    save_audio(tmp_path / "clean" / "silent.wav", torch.zeros(1, 16_000), 16_000)  # PESQ finds no utterance
    save_audio(tmp_path / "enh" / "silent.wav", 1e-3 * torch.randn(1, 16_000), 16_000)
    save_audio(tmp_path / "enh" / "orphan.wav", clean, 16_000)  # no reference
    (tmp_path / "enh" / "broken.wav").write_bytes(b"not audio")
    (tmp_path / "clean" / "broken.wav").write_bytes(b"not audio")
    assert main(["eval", "--clean", str(tmp_path / "clean"), "--enhanced", str(tmp_path / "enh")]) == 0
    err = capsys.readouterr().err
    assert "orphan.wav: no reference" in err and "broken.wav" in err and "silent.wav: could not be scored" in err
    rows = {r["file"]: r for r in csv.DictReader(open(tmp_path / "enh" / "metrics.csv"))}
    assert set(rows) == {"speech.wav", "music.wav", "silent.wav", "broken.wav"}
    assert rows["speech.wav"]["kind"] == "speech" and float(rows["speech.wav"]["ovrl"]) > 1
    assert rows["music.wav"]["kind"] == "music" and float(rows["music.wav"]["lsd"]) >= 0
    assert rows["music.wav"]["pesq"] == "nan" and rows["broken.wav"]["si_sdr"] == "nan"


def test_export_takes_ema_weights_and_refuses_pickled_objects(tmp_path, tiny_model):
    average = {f"model.{k}": v + 1 for k, v in tiny_model.state_dict().items()}
    raw = {f"model.{k}": v for k, v in tiny_model.state_dict().items()}
    ckpt = tmp_path / "last.ckpt"
    torch.save({"hyper_parameters": {"model": CONFIG}, "state_dict": average, "current_model_state": raw}, ckpt)
    export_checkpoint(ckpt, tmp_path / "exported")
    loaded = from_pretrained(tmp_path / "exported")
    key = next(iter(tiny_model.state_dict()))
    assert torch.equal(loaded.state_dict()[key], tiny_model.state_dict()[key] + 1)
    assert main(["export", str(ckpt), str(tmp_path / "raw"), "--raw"]) == 0
    assert torch.equal(from_pretrained(tmp_path / "raw").state_dict()[key], tiny_model.state_dict()[key])
    assert main(["export", str(ckpt), str(tmp_path / "two_steps"), "--steps", "2"]) == 0
    assert from_pretrained(tmp_path / "two_steps").config["sampling"]["steps"] == 2
    assert main(["export", str(ckpt), str(tmp_path / "limited"), "--attenuation-limit", "20"]) == 0
    assert from_pretrained(tmp_path / "limited").config["sampling"]["attenuation_limit_db"] == 20
    assert main(["export", str(ckpt), str(tmp_path / "unlimited"), "--attenuation-limit", "inf"]) == 0
    assert "attenuation_limit_db" not in from_pretrained(tmp_path / "unlimited").config["sampling"]
    assert main(["export", str(ckpt), str(tmp_path / "band"), "--band-level", "-6"]) == 0
    assert from_pretrained(tmp_path / "band").config["sampling"]["band_level_db"] == -6

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"hyper_parameters": {"model": CONFIG}, "state_dict": {}, "x": Evil()}, tmp_path / "evil.ckpt")
    with pytest.raises(CheckpointError, match="weights_only"):
        export_checkpoint(tmp_path / "evil.ckpt", tmp_path / "nope")
