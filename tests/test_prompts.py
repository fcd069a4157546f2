"""Recorded prompts with transcripts (text to speech): listing, held-out share, reserved prompts, alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from audiodiff.audio import load_audio
from audiodiff.data.prompts import align, prompts, transcripts
from audiodiff.data.reserved import is_reserved

REPO = Path(__file__).resolve().parents[1]

INSTALLED = Path("/usr/share/asterisk/sounds/en_US_f_Allison").is_dir()


@pytest.mark.skipif(not INSTALLED, reason="asterisk-core-sounds-en-g722 is not installed")
def test_prompts_have_transcripts_and_leave_reserved_ones_out():
    listed = prompts()
    english = [p for p in listed if p.voice == "en_US_f_Allison"]
    assert len(english) > 400 and all(p.path.is_file() and p.text for p in english)
    assert not any(is_reserved(p.package, f"{p.name}.g722") for p in listed)
    assert "all-circuits-busy-now" in transcripts(Path("/"), "en")  # a reserved prompt: listed in the file...
    assert "all-circuits-busy-now" not in {p.name for p in english}  # ...but never used
    assert not any("[" in p.text for p in listed)  # tone descriptions are not speech
    shares = {split: sum(p.split == split for p in listed) / len(listed) for split in ("heldout", "dev")}
    assert 0.07 < shares["heldout"] < 0.13 and 0.03 < shares["dev"] < 0.07


def test_alignment_follows_a_stretched_copy():
    rng = np.random.default_rng(0)
    sketch = rng.standard_normal((20, 50))
    target = np.repeat(sketch, 2, axis=1)  # every frame twice as long
    index = align(sketch, target)
    assert index.shape == (100,) and np.all(np.diff(index) >= 0)
    assert np.mean(np.abs(index - np.arange(100) // 2) <= 1) > 0.95


def _ljspeech_tree(root: Path, texts: list[str]) -> None:
    """An LJSpeech-layout folder: espeak-ng's speech of ``texts`` at 22.05 kHz, metadata.csv."""
    from audiodiff.audio import resample, save_audio
    from audiodiff.text import ESPEAK_RATE, render

    (root / "wavs").mkdir(parents=True)
    lines = []
    for i, text in enumerate(texts):
        wav = resample(torch.from_numpy(render(text, "en"))[None], ESPEAK_RATE, 22_050)
        save_audio(root / "wavs" / f"LJ001-{i:04d}.wav", wav, 22_050)
        lines.append(f"LJ001-{i:04d}|{text.upper()}|{text}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")


TEXTS = ["The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
         "It is easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
         "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
         "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
         "Four hours of steady work faced us.", "A large size in stockings is hard to sell."]


def test_an_ljspeech_corpus_is_readied_and_the_gpu_recipe_trains_on_it(tmp_path, monkeypatch, one_thread):
    """`audiodiff data prompts` on an LJSpeech-layout folder writes the prompts layout (16 kHz
    recordings, aligned readings, transcripts, the voice's pace), and recipes/speech_tts/ljspeech.yaml,
    unchanged but for the device, size and step count, trains two steps on it."""
    import json

    from audiodiff.cli import main
    from audiodiff.data.prompts import corpus_prompts

    _ljspeech_tree(tmp_path / "LJSpeech-1.1", TEXTS)
    listed = corpus_prompts(tmp_path / "LJSpeech-1.1")
    assert [p.voice for p in listed] == ["LJSpeech"] * len(TEXTS) and listed[0].text == TEXTS[0]
    assert main(["data", "prompts", str(tmp_path / "LJSpeech-1.1"), "--out", str(tmp_path / "data" / "ljspeech")]) == 0
    train = tmp_path / "data" / "ljspeech" / "train" / "prompts"
    sketches = sorted((train / "LJSpeech").glob("*.sketch.npy"))
    assert sketches and len(sketches) < len(TEXTS) + 1
    audio, rate = load_audio(sketches[0].with_name(sketches[0].name.replace(".sketch.npy", ".wav")))
    assert rate == 16_000 and np.load(sketches[0]).shape == (80, audio.shape[-1] // 256 + 1)
    assert 0.7 < json.loads((train / "voices.json").read_text())["LJSpeech"] < 1.4  # espeak-ng read itself
    monkeypatch.chdir(tmp_path)
    assert main(["fit", "--config", str(REPO / "recipes" / "speech_tts" / "ljspeech.yaml"),
                 "--trainer.accelerator", "cpu", "--trainer.precision", "32-true", "--trainer.max_steps", "2",
                 "--trainer.limit_val_batches", "1", "--trainer.val_check_interval", "2",
                 "--trainer.enable_progress_bar", "false", "--data.batch_size", "2", "--data.num_workers", "0",
                 "--data.val_limit", "1", "--data.segment_seconds", "0.5", "--data.val_prompt_dir", str(train)]) == 0
    assert sorted((tmp_path / "runs").rglob("*.ckpt"))


def test_libritts_folders_give_a_voice_per_speaker(tmp_path):
    from audiodiff.audio import save_audio
    from audiodiff.data.prompts import corpus_prompts

    for speaker, chapter, text in (("19", "198", "Hello there."), ("26", "495", "Good morning.")):
        folder = tmp_path / "train-clean-100" / speaker / chapter
        folder.mkdir(parents=True)
        save_audio(folder / f"{speaker}_{chapter}_000001.wav", 0.1 * torch.randn(1, 24_000), 24_000)
        (folder / f"{speaker}_{chapter}_000001.normalized.txt").write_text(text)
    listed = corpus_prompts(tmp_path)
    assert [(p.voice, p.text) for p in listed] == [("LibriTTS_19", "Hello there."), ("LibriTTS_26", "Good morning.")]
    assert listed[0].audio(16_000).shape == (1, 16_000)
    with pytest.raises(FileNotFoundError, match="neither an LJSpeech"):
        corpus_prompts(tmp_path / "train-clean-100" / "19" / "198" / "missing")
