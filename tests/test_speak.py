"""Text to speech: the spoken observation, TextToSpeech on the runner in model space, `audiodiff speak`."""

from __future__ import annotations

import copy
import shutil

import pytest
import torch

from tiny_config import TINY_MASK, perturb
from audiodiff.audio import load_audio
from audiodiff.hub import save_pretrained
from audiodiff.model import DiffusionModel
from audiodiff.pipelines.speak import TextToSpeech
from audiodiff.pipelines.vocode import Vocoder

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
VOICES = ["en_US_f_Allison", "es_MX_f_Allison"]


def tiny_tts_config() -> dict:
    config = copy.deepcopy(TINY_MASK)
    config["task"] = "speech-tts"
    config["representation"] = {"name": "mel", "args": {"sample_rate": 16_000, "n_fft": 1024, "hop_length": 256,
                                                        "n_mels": 80}}
    config["observation"] = {"name": "spoken", "args": {"paces": {"en_US_f_Allison": 1.2}}}
    config["head"] = {"name": "composite", "args": {"heads": {
        "sketch": {"name": "observation", "args": {"channels": 1}},
        "voice": {"name": "class", "args": {"names": VOICES, "dim": 16}}}, "null_keys": ["voice"]}}
    config["backbone"]["args"].update(in_channels=1, out_channels=1, cond_mask="real")
    config["sigma_data"] = 2.0
    config["sampling"] = {**config["sampling"], "sigma_min": 0.05, "sigma_max": 2.0, "start": "observation"}
    return config


def tiny_vocoder() -> DiffusionModel:
    """A fast mel vocoder (the tiny network, a few Griffin-Lim iterations, no matching passes)."""
    config = copy.deepcopy(TINY_MASK)
    config["task"] = "speech-vocoder"
    config["observation"] = {"name": "mel_inversion", "args": {"iterations": 2}}
    torch.manual_seed(0)
    return perturb(DiffusionModel(config)).eval()


@pytest.fixture(scope="module")
def tts():
    torch.manual_seed(0)
    return TextToSpeech(perturb(DiffusionModel(tiny_tts_config()), std=0.001).eval(),  # log-mels near the reading
                        vocoder=Vocoder(tiny_vocoder(), device="cpu"), device="cpu", chunk_seconds=1.0,
                        overlap_seconds=0.25)


def test_speech_of_each_sentence_joined_with_pauses(tts):
    one, rate = tts("Good morning.", seed=1)
    two, _ = tts("Good morning. Good morning.", seed=1)
    assert rate == 16_000 and one.shape[0] == 1 and 0.3 * rate < one.shape[-1] < 3 * rate
    assert two.shape[-1] > 2 * one.shape[-1]  # two sentences and a pause
    assert torch.isfinite(two).all() and two.abs().max() <= 1


def test_the_voices_pace_and_the_users_pace_set_the_length(tts):
    allison, _ = tts("The meeting starts at ten thirty.", voice="en_US_f_Allison")
    other, _ = tts("The meeting starts at ten thirty.", voice="es_MX_f_Allison")  # no pace measured: 1
    faster, _ = tts("The meeting starts at ten thirty.", voice="en_US_f_Allison", pace=2.0)
    assert allison.shape[-1] > other.shape[-1] > faster.shape[-1]
    with pytest.raises(ValueError, match="speaks in en_US_f_Allison, es_MX_f_Allison"):
        tts("Hello.", voice="nobody")


def test_guidance_toward_the_voice_is_a_per_call_setting(tts):
    plain, _ = tts("Good morning.", seed=2)
    torch.testing.assert_close(tts("Good morning.", seed=2, guidance=1.0)[0], plain)
    assert not torch.allclose(tts("Good morning.", seed=2, guidance=3.0)[0], plain, atol=1e-4)


def test_a_sentence_does_not_depend_on_what_it_is_batched_with(tts):
    alone = list(tts._mels([(0, "Hello there. It rained.")], VOICES[0], 3, 1.0, None, None, None))[0][1]
    batched = list(tts._mels([(9, "Good morning."), (0, "Hello there. It rained.")], VOICES[0], 3, 1.0, None, None, None))
    for a, b in zip(alone, batched[1][1]):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
    # the audio too, from log-mels in speech's range (the untrained network's own are not: its output
    # layers start at zero here, so it passes the reading on)
    plain = TextToSpeech(DiffusionModel(tiny_tts_config()).eval(), vocoder=tts.vocoder, device="cpu",
                         chunk_seconds=1.0, overlap_seconds=0.25)
    speech = dict(plain.speak_many([(9, "Good morning."), (0, "Hello there. It rained.")], seed=3))
    torch.testing.assert_close(speech[0], plain("Hello there. It rained.", seed=3)[0], atol=1e-4, rtol=0)


def test_speak_command_text_file_and_errors(tmp_path, capsys):
    from audiodiff.cli import main

    torch.manual_seed(0)
    model = save_pretrained(perturb(DiffusionModel(tiny_tts_config()), std=0.01).eval(), tmp_path / "tts")
    vocoder = save_pretrained(tiny_vocoder(), tmp_path / "vocoder")
    assert main(["speak", "--list-voices", "--model", str(model), "--vocoder", str(vocoder), "--device", "cpu"]) == 0
    assert capsys.readouterr().out.split() == VOICES
    out = tmp_path / "hello.wav"
    assert main(["speak", "Hello there.", "-o", str(out), "--model", str(model), "--vocoder", str(vocoder), "--device", "cpu"]) == 0
    audio, rate = load_audio(out)
    assert rate == 16_000 and audio.shape[-1] > 0.3 * rate
    lines = tmp_path / "lines.tsv"
    lines.write_text("a\tGood morning.\n\nb\tIt is 10:30.\n")
    folder = tmp_path / "spoken"
    assert main(["speak", "--file", str(lines), "-o", str(folder), "--model", str(model), "--vocoder", str(vocoder), "--device", "cpu"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.wav", "b.wav"]
    assert main(["speak", "--file", str(lines), "-o", str(folder), "--model", str(model), "--vocoder", str(vocoder)]) == 0
    assert "skipping 2 files already spoken" in capsys.readouterr().out
    lines.write_text("a\tGood morning.\nb\t🎉🎉\n")
    assert main(["speak", "--file", str(lines), "-o", str(tmp_path / "x"), "--model", str(model), "--vocoder", str(vocoder)]) == 2
    assert "b: nothing to pronounce" in capsys.readouterr().err and not (tmp_path / "x" / "a.wav").exists()
    lines.write_text("no tab here\n")
    assert main(["speak", "--file", str(lines), "-o", str(tmp_path / "y"), "--model", str(model), "--vocoder", str(vocoder)]) == 2
    assert "line 1: expected id<TAB>text" in capsys.readouterr().err
