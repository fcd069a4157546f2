"""Repair: finding gaps, training masks, the masked observation, the Repairer and `audiodiff repair`."""

from __future__ import annotations

import copy
import math

import pytest
import soundfile as sf
import torch

from tiny_config import TINY_MASK, perturb
from audiodiff.audio import load_audio
from audiodiff.gaps import crossover, dropouts, find_gaps, gaps_in_seconds, known_mask, packet_loss, splice
from audiodiff.hub import save_pretrained
from audiodiff.model import DiffusionModel
from audiodiff.pipelines.repair import Repairer

RATE = 16_000


def tiny_repair_config() -> dict:
    config = copy.deepcopy(TINY_MASK)
    config["task"] = "speech-repair"
    config["representation"] = {"name": "magnitude", "args": {"iterations": 4}}
    config["head"] = {"name": "observation", "args": {"channels": 2}}
    config["backbone"]["args"].update(in_channels=1, out_channels=1, cond_mask="real")
    config["observation"] = {"name": "masked"}
    config["sampling"] = {**config["sampling"], "sigma_min": 0.05, "sigma_max": 0.5, "start": "observation"}
    return config


@pytest.fixture(scope="module")
def repairer():
    torch.manual_seed(0)
    return Repairer(perturb(DiffusionModel(tiny_repair_config())).eval(), device="cpu", chunk_seconds=1.0,
                    overlap_seconds=0.25)


def tones(seconds: float, rate: int = RATE, channels: int = 1) -> torch.Tensor:
    t = torch.arange(int(seconds * rate)) / rate
    return torch.stack([0.3 * torch.sin(2 * math.pi * (220 + 110 * c) * t) for c in range(channels)])


# ------------------------------------------------------------------------------------------ gaps


def test_gaps_are_runs_of_zeros_in_every_channel_long_enough():
    audio = tones(1.0, channels=2)
    audio[:, 1000:1100] = 0  # 6.25 ms: a gap
    audio[:, 5000:5010] = 0  # 0.6 ms: too short
    audio[0, 8000:9000] = 0  # one channel only: not a gap
    audio[:, -200:] = 0  # at the end
    assert find_gaps(audio, RATE, min_gap_ms=2.0) == [(1000, 1100), (RATE - 200, RATE)]
    assert find_gaps(audio, RATE, min_gap_ms=10.0) == [(RATE - 200, RATE)]


def test_gaps_in_seconds_are_clipped_sorted_and_merged():
    assert gaps_in_seconds([(0.5, 0.6), (0.1, 0.2), (0.55, 0.7), (0.9, 5.0)], 100, 95) == [(10, 20), (50, 70), (90, 95)]


def test_splice_keeps_every_sample_outside_the_gaps_and_their_fades():
    original, repaired = tones(1.0), torch.ones(1, RATE)
    gaps = [(4000, 4800), (10_000, 10_050)]
    out = splice(original, repaired, gaps, RATE, fade_ms=5.0)
    fade = int(0.005 * RATE)
    changed = (out != original)[0].nonzero().flatten()
    assert changed.min() >= 4000 - fade and changed.max() < 10_050 + fade
    inside = known_mask(RATE, [(s - fade, e + fade) for s, e in gaps]).bool()
    assert torch.equal(out[:, inside], original[:, inside])  # bit-exact outside
    assert torch.equal(out[:, 4000:4800], repaired[:, 4000:4800])  # the gap is the repair's


def test_crossover_takes_the_low_band_from_the_original():
    rate = 16_000
    t = torch.arange(rate) / rate
    low, high = torch.sin(2 * math.pi * 1000 * t)[None], torch.sin(2 * math.pi * 6000 * t)[None]
    out = crossover(low + 0.5 * high, 3 * low + high, 4000, rate)
    spectrum = torch.fft.rfft(out[0]).abs() / (rate / 2)
    assert spectrum[1000].item() == pytest.approx(1.0, abs=1e-3) and spectrum[6000].item() == pytest.approx(1.0, abs=1e-3)


def test_packet_loss_is_bursty_at_the_drawn_rate():
    generator = torch.Generator().manual_seed(0)
    masks = [packet_loss(10 * RATE, RATE, generator) for _ in range(20)]
    for known in masks:
        runs = [e - s for s, e in find_gaps(known[None], RATE, min_gap_ms=1) if e < len(known)]
        assert all(r >= 0.01 * RATE for r in runs)  # whole packets of 10 ms or more (the last may be cut)
    losses = [1 - m.mean().item() for m in masks]
    assert 0.03 < min(losses) and max(losses) < 0.4


def test_dropouts_are_20_to_500_ms():
    generator = torch.Generator().manual_seed(1)
    for _ in range(20):
        runs = [e - s for s, e in find_gaps(dropouts(3 * RATE, RATE, generator)[None], RATE, min_gap_ms=1)]
        assert 1 <= len(runs) <= 3 and all(0.02 * RATE - 1 <= r <= 1.0 * RATE for r in runs)


# ----------------------------------------------------------------------------------- observation


def test_the_masked_observation_marks_what_is_known():
    model = DiffusionModel(tiny_repair_config())
    observation = model.observation
    clean = 0.1 * torch.randn(6, 1, RATE, generator=torch.Generator().manual_seed(0))
    inputs = observation.degrade(clean, torch.Generator().manual_seed(3))
    assert inputs["audio"].shape == inputs["known"].shape == clean.shape and inputs["band_hz"].shape == (6,)
    assert torch.equal(inputs["audio"] * inputs["known"], inputs["audio"])  # nothing in the gaps
    condition = observation.condition(model, inputs)
    assert condition.cond.shape[1] == 2 and condition.start.shape[1] == 1
    known = condition.cond[:, 1]
    for i in range(6):
        if inputs["band_hz"][i] > 0:  # the band above 4 kHz is unknown, the rest known
            assert known[i, 128:].max() == 0 and known[i, :120].min() > 0.99
        else:
            assert (known[i].mean() - inputs["known"][i].mean()).abs() < 0.05


# -------------------------------------------------------------------------------------- pipeline


def test_repair_fills_the_gaps_and_keeps_the_rest_bit_exact(repairer):
    audio = tones(2.3, rate=44_100, channels=2)
    audio[:, 30_000:34_410] = 0  # 100 ms dropout
    out = repairer(audio, 44_100)
    assert out.shape == audio.shape
    fade = int(0.005 * 44_100)
    outside = known_mask(audio.shape[-1], [(30_000 - fade, 34_410 + fade)]).bool()
    assert torch.equal(out[:, outside], audio[:, outside])
    assert out[:, 30_000:34_410].abs().max() > 0  # filled


def test_given_gaps_and_batching_give_the_same_repair(repairer):
    audio = tones(1.7)
    audio[:, 8000:8800] = 0
    alone = repairer(audio, RATE, seed=2)
    given = repairer(audio, RATE, gaps=[(0.5, 0.55)], seed=2)
    torch.testing.assert_close(alone, given)
    other = tones(0.9)
    items = [(0, audio, RATE, None), (1, other, RATE, repairer.damage(other, RATE, [(0.1, 0.2)]))]
    together = dict(repairer.run_many(items, seed=2))
    torch.testing.assert_close(together[0], alone, atol=1e-5, rtol=0)


def test_only_chunks_with_something_missing_go_through_the_model(repairer, monkeypatch):
    from audiodiff.pipelines import repair

    audio = tones(8.0, rate=22_050, channels=2)
    audio[:, 88_200:90_405] = 0  # 100 ms at 4 s: near two of the eleven 1 s chunks (0.75 s apart) a channel
    generated = []
    real_generate = repairer.runner._generate

    def counting(batch, *args):
        generated.append(len(batch))
        return real_generate(batch, *args)

    monkeypatch.setattr(repairer.runner, "_generate", counting)
    done = []
    out = next(iter(repairer.run_many([(0, audio, 22_050, None)], seed=1, on_chunks=done.append)))[1]
    assert sum(generated) == 4 and sum(done) == repairer.chunks_for(2, 8 * RATE) == 22
    monkeypatch.setattr(repair, "INTACT_MARGIN_SECONDS", 100.0)  # every chunk generated
    generated.clear()
    every = repairer(audio, 22_050, seed=1)
    assert sum(generated) == 22
    torch.testing.assert_close(out, every, atol=1e-6, rtol=0)  # the same repair
    intact = tones(3.0)
    assert torch.equal(repairer(intact, RATE), intact)  # nothing missing: nothing generated, input back
    pulled = []

    def files():
        for index in range(3 * repairer.runner.batch_size):
            pulled.append(index)
            yield index, tones(0.5), RATE, None

    for key, _ in repairer.run_many(files()):  # intact files stream: not all read before the first is done
        assert len(pulled) <= key + 1 + repairer.runner.batch_size


def test_narrowband_input_comes_back_at_the_models_rate_with_its_band_kept(repairer):
    phone = tones(1.0, rate=8000)
    out = repairer(phone, 8000)
    assert out.shape == (1, RATE)
    assert repairer.damage(phone, 8000).band_hz == 4000
    spectrum = torch.fft.rfft(out[0]).abs() / (RATE / 2)
    assert spectrum[220].item() == pytest.approx(0.3, rel=0.05)  # the known band as it was
    quieter = Repairer(repairer.model, device="cpu", band_level_db=-6.0, chunk_seconds=1.0, overlap_seconds=0.25)
    lower = quieter(phone, 8000)
    high = lambda x: torch.fft.rfft(x[0])[4200:].abs().pow(2).sum()  # noqa: E731  (1 Hz bins: above 4.2 kHz)
    assert high(lower) / high(out) == pytest.approx(10 ** -0.6, rel=0.02)  # the restored band 6 dB down
    low = lambda x: torch.fft.rfft(x[0])[:3000]  # noqa: E731
    torch.testing.assert_close(low(lower), low(out), atol=1e-3, rtol=0)  # (FFT sums reach 2,400)


# --------------------------------------------------------------------------------------- command


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    return save_pretrained(perturb(DiffusionModel(tiny_repair_config())).eval(), tmp_path / "repair")


def test_repair_command_with_a_gap_list_and_found_gaps(tmp_path, checkpoint, capsys):
    from audiodiff.cli import main

    inputs = tmp_path / "in"
    inputs.mkdir()
    first, second = tones(1.2), tones(1.0)
    second[:, 4000:4400] = 0
    sf.write(str(inputs / "a.wav"), first[0].numpy(), RATE)
    sf.write(str(inputs / "b.flac"), second[0].numpy(), RATE)
    listed = tmp_path / "gaps.csv"
    listed.write_text("file,start_s,end_s\na.wav,0.2,0.3\na.wav,0.6,0.61\n")
    out = tmp_path / "out"
    args = ["repair", str(inputs), "-o", str(out), "--model", str(checkpoint), "--device", "cpu", "--gaps", str(listed)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "a.wav: 2 gaps (0.11 s, the longest 100 ms)" in printed and "b.flac: 1 gap (0.03 s, the longest 25 ms)" in printed
    repaired, rate = load_audio(out / "a.wav")
    assert rate == RATE and repaired.shape == first.shape
    fade = int(0.005 * RATE)
    outside = known_mask(RATE * 12 // 10, [(3200 - fade, 4800 + fade), (9600 - fade, 9760 + fade)]).bool()
    torch.testing.assert_close(repaired[:, outside], first[:, outside], atol=1e-4, rtol=0)  # 16-bit file
    assert main(args) == 0 and "skipping 2 files already repaired" in capsys.readouterr().out


def test_vocode_bandwidth_is_repair_with_the_band_above_4_khz(tmp_path, checkpoint, capsys):
    """``vocode --task bandwidth`` runs ``repair --band 4000``: the same file bit for bit, at 16 kHz,
    resumable; a mel or a model of another kind is refused by name."""
    from audiodiff.cli import main

    phone = tmp_path / "call.wav"
    sf.write(str(phone), tones(1.0, rate=8000)[0].numpy(), 8000)
    common = ["--model", str(checkpoint), "--device", "cpu", "--seed", "3"]
    assert main(["vocode", "--task", "bandwidth", str(phone), "-o", str(tmp_path / "wide.wav"), *common]) == 0
    assert "call.wav: 0 gaps (0.00 s, the longest 0 ms), the band above 4 kHz" in capsys.readouterr().out
    assert main(["repair", str(phone), "-o", str(tmp_path / "repaired.wav"), "--band", "4000", *common]) == 0
    wide, rate = load_audio(tmp_path / "wide.wav")
    assert rate == RATE and wide.shape == (1, RATE)
    assert torch.equal(wide, load_audio(tmp_path / "repaired.wav")[0])
    assert main(["vocode", "--task", "bandwidth", str(phone), "-o", str(tmp_path / "wide.wav"), *common]) == 0
    assert "skipping 1 file already repaired" in capsys.readouterr().out
    assert main(["repair", str(phone), "-o", str(tmp_path / "darker.wav"), "--band-level", "-12", *common]) == 0
    darker = load_audio(tmp_path / "darker.wav")[0]
    high = lambda x: torch.fft.rfft(x[0])[4200:].abs().pow(2).sum()  # noqa: E731  (1 Hz bins: above 4.2 kHz)
    assert high(darker) < 0.1 * high(wide)  # the restored band 12 dB down (16-bit files)
    mel = tmp_path / "mel.npy"
    mel.write_bytes(b"\x93NUMPY")
    assert main(["vocode", "--task", "bandwidth", str(mel), "-o", str(tmp_path / "x"), *common]) == 1
    assert "mel.npy: not an audio file" in capsys.readouterr().err
    vocoder = save_pretrained(DiffusionModel(tiny_repair_config() | {"task": "speech-vocoder"}), tmp_path / "vocoder")
    code = main(["vocode", "--task", "bandwidth", str(phone), "-o", str(tmp_path / "y.wav"), "--model", str(vocoder)])
    assert code == 2 and not (tmp_path / "y.wav").exists()
    assert "vocode --task bandwidth takes speech-repair models" in capsys.readouterr().err


def test_the_vocoder_refuses_a_repair_model_and_names_the_repairer():
    from audiodiff.pipelines.vocode import Vocoder

    with pytest.raises(ValueError, match="not 'speech-repair' \\(bandwidth extension is repair: Repairer\\)"):
        Vocoder(DiffusionModel(tiny_repair_config()), device="cpu")


@pytest.mark.parametrize("rows, problem", [("a.wav,0.3,0.2\n", "later end"), ("a.wav,x,0.2\n", "line 1"),
                                           ("c.wav,0.1,0.2\n", "no input is named c.wav"), ("\n", "no gaps")])
def test_a_bad_gap_list_is_refused_before_anything_runs(tmp_path, checkpoint, capsys, rows, problem):
    from audiodiff.cli import main

    sf.write(str(tmp_path / "a.wav"), tones(0.5)[0].numpy(), RATE)
    listed = tmp_path / "gaps.csv"
    listed.write_text(rows)
    code = main(["repair", str(tmp_path / "a.wav"), "-o", str(tmp_path / "out.wav"), "--model", str(checkpoint),
                 "--gaps", str(listed)])
    assert code == 2 and problem in capsys.readouterr().err
    assert not (tmp_path / "out.wav").exists()


def test_silence_at_the_ends_is_padding_and_a_late_gap_is_an_error(repairer):
    audio = tones(1.0)
    audio[:, :1600] = 0  # leading digital silence
    audio[:, 8000:8320] = 0
    audio[:, -800:] = 0
    assert repairer.damage(audio, RATE).gaps == [(8000, 8320)]
    with pytest.raises(ValueError, match="starts after the end"):
        repairer.damage(audio, RATE, gaps=[(0.2, 0.3), (1.5, 1.6)])


def test_a_band_the_model_was_not_trained_to_restore_is_refused():
    config = tiny_repair_config()
    config["observation"] = {"name": "masked", "args": {"packet_share": 0.5, "dropout_share": 0.5}}
    music = Repairer(DiffusionModel(config), device="cpu")
    assert music.damage(tones(0.5, rate=8000), 8000).band_hz == 0  # a low rate alone asks for nothing
    with pytest.raises(ValueError, match="not trained"):
        music.damage(tones(0.5), RATE, band_hz=4000)


def test_the_decoder_keeps_the_known_samples_and_fills_a_long_gap():
    """Griffin-Lim with the known samples kept: no exact silence inside a long gap, and the
    known samples around it as they were."""
    from audiodiff.representations import Magnitude

    rep = Magnitude(iterations=16)
    clean = tones(2.0)[None]
    known = known_mask(clean.shape[-1], [(8000, 8000 + RATE)])[None, None]  # a 1 s gap
    out = rep.decode(rep.encode(clean), clean.shape[-1], guide=clean * known, keep=known)
    assert torch.equal(out[..., :8000], clean[..., :8000])
    middle = out[..., 8000 + 6000 : 8000 + 10000]
    assert middle.abs().max() > 0.05  # the middle of the gap is filled, not silent
