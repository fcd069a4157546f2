"""The mel vocoder: its observation, the Vocoder pipeline, training inputs, and the ``audiodiff vocode``
command (tiny random-weight models: shapes, rates, seams and errors, not quality). ``vocode --task
bandwidth`` runs the repair path: tests/test_repair.py."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.audio import AudioError
from audiodiff.hub import save_pretrained
from audiodiff.metrics import log_spectral_distance, pesq_wb
from audiodiff.model import DiffusionModel
from audiodiff.observations import Condition, MelInversion, NoisyRecording
from audiodiff.pipelines.enhance import Enhancer
from audiodiff.pipelines.vocode import Vocoder
from audiodiff.registry import ConfigError
from tiny_config import TINY_MASK

RATE = 16_000


def _speech_like(seconds: float, f0: float = 140.0, seed: int = 0) -> torch.Tensor:
    """A voiced, formant-shaped harmonic signal with a syllable envelope: ``[1, T]``."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * RATE)) / RATE
    wav = sum(torch.sin(2 * math.pi * f0 * k * t + float(torch.rand(1, generator=g)) * 6) / k
              * (1.0 + 2.0 * math.exp(-((f0 * k - 700) / 400) ** 2)) for k in range(1, 40) if f0 * k < 7_800)
    envelope = 0.5 + 0.5 * torch.sin(2 * math.pi * 3.0 * t)
    return (0.1 * wav * envelope / wav.abs().max())[None].float()


def _tiny(observation: dict | None, task: str) -> DiffusionModel:
    config = copy.deepcopy(TINY_MASK)
    config["task"] = task
    if observation:
        config["observation"] = observation
    torch.manual_seed(0)
    return DiffusionModel(config)


MEL = {"name": "mel_inversion", "args": {"iterations": 4}}


# ------------------------------------------------------------------------------------ observations


def test_noisy_observation_is_the_default_and_keeps_the_rate():
    model = _tiny(None, "speech-enhance")
    assert isinstance(model.observation, NoisyRecording) and model.observation.keeps_rate
    assert "observation" not in model.config  # enhancement checkpoints are unchanged


def test_observation_rate_must_match_the_model():
    bad = {"name": "mel_inversion", "args": {"sample_rate": 22_050}}
    with pytest.raises(ConfigError, match="22050"):
        _tiny(bad, "speech-vocoder")
    with pytest.raises(ConfigError, match="does not take"):
        _tiny({"name": "mel_inversion", "args": {"cutoff": 4000}}, "speech-vocoder")


def test_mel_inversion_rebuilds_speech_and_blocks_are_seamless():
    wav = _speech_like(3.0)
    observation = MelInversion(iterations=16)
    rough = observation.observe(wav, RATE)
    assert rough.shape == wav.shape
    assert pesq_wb(rough[0], wav[0], RATE) > 2.0
    mel = observation.mel.encode(wav[None])[0]
    assert mel.shape == (1, 80, wav.shape[-1] // 256 + 1)
    blocked = MelInversion(iterations=16, block_seconds=1.0).observe_mel(mel, wav.shape[-1])
    assert blocked.shape == wav.shape
    # no dip at the block joins: the level around each join stays near the level elsewhere
    frame = 400
    rms = blocked[0, : wav.shape[-1] // frame * frame].reshape(-1, frame).pow(2).mean(1).sqrt()
    ref = wav[0, : wav.shape[-1] // frame * frame].reshape(-1, frame).pow(2).mean(1).sqrt()
    assert (rms / ref.clamp_min(1e-4))[2:-2].min() > 0.5
    assert log_spectral_distance(blocked, wav) < log_spectral_distance(torch.zeros_like(wav) + 1e-4, wav)


def test_mel_inversion_refuses_a_wrong_mel():
    with pytest.raises(ValueError, match="80"):
        MelInversion().observe_mel(torch.zeros(64, 20))
    with pytest.raises(ValueError, match="NaN"):
        MelInversion().observe_mel(torch.full((80, 20), float("nan")))


# -------------------------------------------------------------------------------------- pipeline


def test_vocoder_from_mel_and_from_audio():
    vocoder = Vocoder(_tiny(MEL, "speech-vocoder"), device="cpu", chunk_seconds=1.0, overlap_seconds=0.25)
    wav = _speech_like(2.3)
    mel = vocoder.mel_of(wav, RATE)
    assert mel.shape == (1, 80, wav.shape[-1] // 256 + 1)
    from_mel = vocoder(mel[0])
    assert from_mel.shape == (1, (mel.shape[-1] - 1) * 256) and torch.isfinite(from_mel).all()
    at_22k = torch.as_tensor(np.interp(np.arange(0, wav.shape[-1], RATE / 22_050), np.arange(wav.shape[-1]),
                                       wav[0].numpy()), dtype=torch.float32)[None]
    from_audio = vocoder(at_22k, 22_050)
    assert from_audio.shape[-1] == pytest.approx(wav.shape[-1], abs=2)  # written at the model's rate
    assert torch.equal(vocoder(mel[0], seed=1), vocoder(mel[0], seed=1))


def test_vocoder_batches_files_like_single_calls():
    vocoder = Vocoder(_tiny(MEL, "speech-vocoder"), device="cpu", chunk_seconds=1.0, overlap_seconds=0.25,
                      batch_size=4)
    mels = [vocoder.mel_of(_speech_like(s, f0, i), RATE) for i, (s, f0) in enumerate([(0.7, 120), (1.9, 180),
                                                                                       (1.2, 220)])]
    together = dict(vocoder.run_many([(i, m, None) for i, m in enumerate(mels)], seed=5))
    for i, m in enumerate(mels):
        assert (together[i] - vocoder(m, seed=5)).abs().max() < 1e-4


# -------------------------------------------------------------------------------------- training


def test_training_step_degrades_clean_input():
    from audiodiff.training.module import DiffusionModule

    config = copy.deepcopy(TINY_MASK)
    config["observation"] = MEL
    module = DiffusionModule(model=config, warmup_steps=1, sigma_distribution="loguniform", sigma_top_share=0.5)
    clean = torch.cat([_speech_like(0.5, f0, i)[None] for i, f0 in enumerate((110, 200))])  # [2, 1, T]
    condition = module._condition(clean)
    observed = condition.guide
    assert observed.shape == clean.shape and not torch.allclose(observed, clean, atol=1e-3)
    assert torch.equal(condition.cond, module.model.representation.encode(observed))
    loss = module._loss(condition, clean)
    assert math.isfinite(loss.item())
    loss.backward()


# --------------------------------------------------------------------------------------- command


def test_vocode_command_mels_audio_and_bad_files(tmp_path, one_thread, capsys):
    from audiodiff.cli import main

    ckpt = save_pretrained(_tiny(MEL, "speech-vocoder"), tmp_path / "vocoder")
    inputs = tmp_path / "in"
    (inputs / "sub").mkdir(parents=True)
    wav = _speech_like(1.5)
    mel = MelInversion().mel.encode(wav[None])[0, 0].numpy()
    np.save(inputs / "sub" / "utt.npy", mel)
    sf.write(str(inputs / "take.flac"), wav[0].numpy(), RATE)
    np.save(inputs / "wrong_bands.npy", np.zeros((64, 40), np.float32))
    (inputs / "pickled.npy").write_bytes(b"\x93NUMPY not really")
    out = tmp_path / "out"
    code = main(["vocode", str(inputs), "-o", str(out), "--model", str(ckpt), "--device", "cpu", "--plot"])
    captured = capsys.readouterr()
    assert code == 1
    assert "wrong_bands.npy: expected a log-mel [80, frames]" in captured.err and "pickled.npy" in captured.err
    assert "wrote 2 files" in captured.out
    data, rate = sf.read(str(out / "sub" / "utt.wav"))
    assert rate == RATE and data.shape == ((mel.shape[-1] - 1) * 256,)
    data, rate = sf.read(str(out / "take.flac"))
    assert rate == RATE and data.shape == (wav.shape[-1],)
    assert (out / "take.png").is_file() and not (out / "sub" / "utt.png").exists()  # a mel has no input audio
    # rerun: everything done is skipped
    assert main(["vocode", str(inputs / "sub"), "-o", str(out / "sub"), "--model", str(ckpt), "--device", "cpu"]) == 0
    assert "skipping 1 file already done" in capsys.readouterr().out


def test_loading_a_mel_never_unpickles(tmp_path):
    from audiodiff.commands.vocode import load_mel_or_audio

    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(AudioError, match="objects.npy"):
        load_mel_or_audio(tmp_path / "objects.npy", 80)


def test_vocoder_chunks_join_without_a_seam():
    """Across each chunk boundary the level changes no more than it does inside chunks."""
    vocoder = Vocoder(_tiny(MEL, "speech-vocoder"), device="cpu", chunk_seconds=1.0, overlap_seconds=0.25)
    wav = torch.cat([_speech_like(1.0, f0, i) for i, f0 in enumerate((120, 150, 180, 210, 240))], dim=-1)
    out = vocoder(vocoder.mel_of(wav, RATE))[0]
    frame = 160  # 10 ms
    level = 20 * torch.log10(out[: out.shape[0] // frame * frame].reshape(-1, frame).pow(2).mean(1).sqrt() + 1e-5)
    steps = (level[1:] - level[:-1]).abs()
    hop = int((1.0 - 0.25) * RATE) // frame
    at_joins = torch.stack([steps[k * hop - 3 : k * hop + 3].max() for k in range(1, out.shape[0] // (hop * frame))])
    assert at_joins.max() <= steps.quantile(0.99) + 1.0


def test_magnitude_vocoder_chunks_stay_coherent_across_joins():
    """A phaseless (magnitude) model's chunks each run Griffin-Lim, started from the phase of the
    one observation they share, so where two chunks overlap their waveforms agree and the join
    keeps the level; started from zero phase, the overlapping pieces disagree."""
    config = copy.deepcopy(TINY_MASK)
    config.update(task="speech-vocoder", observation=MEL,
                  representation={"name": "magnitude", "args": {"iterations": 16}},
                  head={"name": "observation", "args": {"channels": 1}})
    config["backbone"]["args"].update(in_channels=1, out_channels=1, cond_mask=False)
    config["sampling"] = {**config["sampling"], "start": "observation", "sigma_max": 1e-4, "sigma_min": 1e-5}
    torch.manual_seed(0)
    model = DiffusionModel(config).eval()  # at a tiny sigma it returns its observation's magnitude
    wav = torch.cat([_speech_like(1.0, f0, i) for i, f0 in enumerate((120, 150, 180, 210))], dim=-1)
    vocoder = Vocoder(model, device="cpu", chunk_seconds=1.0, overlap_seconds=0.25)
    mel = vocoder.mel_of(wav, RATE)
    x = model.representation.encode(vocoder.model.observation.observe_mel(mel)[None])
    joins = {}
    for name, guide in (("guided", True), ("zero phase", False)):
        size = RATE
        pieces = []
        for start in (0, int(0.75 * RATE)):  # two overlapping chunks, as the pipeline cuts them
            obs = vocoder.model.observation.observe_mel(mel)[None, :, start : start + size]
            pieces.append(model.representation.decode(model.representation.encode(obs), size,
                                                      guide=obs if guide else None)[0, 0])
        overlap = pieces[0][int(0.75 * RATE):], pieces[1][: int(0.25 * RATE)]
        joins[name] = float((overlap[0] - overlap[1]).pow(2).mean() / overlap[0].pow(2).mean())
    assert joins["guided"] < 0.3 and joins["zero phase"] > 1.0  # relative squared difference in the overlap
    out = vocoder(mel)[0]
    frame = 160
    level = 20 * torch.log10(out[: out.shape[0] // frame * frame].reshape(-1, frame).pow(2).mean(1).sqrt() + 1e-5)
    steps = (level[1:] - level[:-1]).abs()
    hop = int(0.75 * RATE) // frame
    at_joins = torch.stack([steps[k * hop - 3 : k * hop + 3].max() for k in range(1, out.shape[0] // (hop * frame))])
    assert x.shape[1] == 1 and at_joins.max() <= steps.quantile(0.99) + 1.0


def test_matching_brings_the_output_back_to_its_mel_and_blocks_have_no_seams():
    observation = MelInversion(match_passes=4)
    wav = _speech_like(3.0)
    mel = observation.mel.encode(wav[None])[0]
    off = wav * torch.linspace(0.3, 1.5, wav.shape[-1])  # the wrong level, changing over time
    matched = observation.match(off, mel)

    def distance(x):
        return float((observation.mel.encode(x[None])[0] - mel).pow(2).mean().sqrt())

    assert matched.shape == wav.shape and distance(matched) < 0.25 * distance(off)
    blocks = MelInversion(match_passes=4, block_seconds=0.7).match(off, mel)  # frame-local: blocks agree
    torch.testing.assert_close(blocks, matched, atol=1e-4, rtol=0)
    assert torch.equal(MelInversion().match(off, mel), off)  # match_passes 0: untouched
    vocoder = Vocoder(_tiny({"name": "mel_inversion", "args": {"iterations": 4, "match_passes": 2}}, "speech-vocoder"),
                      device="cpu")
    from_mel, from_audio = vocoder(mel), vocoder(wav, RATE)  # a recording goes through the same mel
    inner = from_mel.shape[-1] - 1024  # the mel path ends at its last frame; the edges differ
    torch.testing.assert_close(from_mel[:, :inner], from_audio[:, :inner], atol=1e-3, rtol=0)


def test_sampling_can_start_from_the_observation():
    """At a tiny sigma the denoiser is nearly the identity, so a sample that starts from the
    observation stays on it, and one that starts from noise does not."""
    config = copy.deepcopy(TINY_MASK)
    config["sampling"] = {**config["sampling"], "start": "observation", "sigma_max": 1e-4, "sigma_min": 1e-5}
    cond = torch.randn(1, 2, 256, 40, generator=torch.Generator().manual_seed(0))
    condition = Condition(cond, cond, None)
    torch.manual_seed(0)
    refine = DiffusionModel(config).eval()
    out = refine.generate(cond.shape, condition, steps=1, generator=[torch.Generator().manual_seed(1)])
    assert (out - cond).abs().max() < 1e-2
    scratch = DiffusionModel({**config, "sampling": {**config["sampling"], "start": "noise"}}).eval()
    scratch.load_state_dict(refine.state_dict())
    out = scratch.generate(cond.shape, condition, steps=1, generator=[torch.Generator().manual_seed(1)])
    assert (out - cond).abs().max() > 1.0
    with pytest.raises(ValueError, match="condition shaped"):
        refine.generate((1, 2, 256, 41), condition, steps=1, generator=[torch.Generator().manual_seed(1)])
    with pytest.raises(ConfigError, match="start"):
        DiffusionModel({**config, "sampling": {**config["sampling"], "start": "middle"}})


def test_each_pipeline_refuses_a_model_of_another_kind():
    """The Enhancer (and its attenuation limit, which mixes the input back) takes enhancement models
    only; the Vocoder takes mel vocoders only (a repair model: tests/test_repair.py)."""
    with pytest.raises(ValueError, match="needs an enhancement model"):
        Enhancer(_tiny(MEL, "speech-vocoder"), device="cpu", attenuation_limit_db=20)
    with pytest.raises(ValueError, match="needs a mel vocoder model .*'speech-enhance'$"):
        Vocoder(_tiny(None, "speech-enhance"), device="cpu")
