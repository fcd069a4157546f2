"""The shipped checkpoints and the bundled examples `make demo` uses: every folder in checkpoints/
loads from its config alone, has a model card, and turns real audio into finite output of the
expected shape (the input's, or at the model's rate for synthesis); the demo's inputs and models exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from audiodiff.audio import load_audio
from audiodiff.hub import from_pretrained
from audiodiff.pipelines.enhance import Enhancer
from audiodiff.pipelines.repair import Repairer
from audiodiff.pipelines.vocode import Vocoder

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted(p.name for p in (ROOT / "checkpoints").iterdir() if (p / "config.json").is_file())
CARD_SECTIONS = ("Data", "Training", "Metrics", "Limitations")
EXAMPLE = {"speech-enhance": "examples/noisy_speech.flac", "music-enhance": "examples/noisy_music.flac",
           "speech-vocoder": "examples/clean_speech.flac",
           "speech-repair": "examples/lost_packets_speech.flac", "music-repair": "examples/noisy_music.flac",
           "music-midi": "examples/chorale.mid"}

pytestmark = pytest.mark.usefixtures("one_thread")


DEMO_DEFAULTS = {"denoise": "speech-enhance", "repair": "speech-repair", "synth": "music-midi", "speak": "speech-tts"}


def test_demo_inputs_and_models_exist():
    """Every `make demo` line's input file and model (its --model, else its verb's default) exist,
    and every shipped model is run by the demo."""
    from audiodiff.commands.vocode import TASKS

    makefile = (ROOT / "Makefile").read_text()
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    used = set()
    for line in re.findall(r"audiodiff (.+)", demo):
        verb, *words = line.split()
        if verb == "vocode":
            verb, words = TASKS[words[words.index("--task") + 1]], words[2:]
        model = words[words.index("--model") + 1] if "--model" in words else DEMO_DEFAULTS.get(verb, verb)
        if verb != "speak":
            assert (ROOT / words[0]).is_file(), words[0]
        assert model in SHIPPED, f"make demo uses {model}, which is not in checkpoints/"
        used.add(model)
    assert used == set(SHIPPED), f"make demo does not run {sorted(set(SHIPPED) - used)}"


@pytest.mark.parametrize("name", SHIPPED)
def test_model_card_has_the_sections_users_need(name):
    card = (ROOT / "checkpoints" / name / "README.md").read_text()
    for section in CARD_SECTIONS:
        assert re.search(rf"^## {section}", card, re.M), f"{name}: model card lacks '## {section}'"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_enhances_real_audio(name):
    model = from_pretrained(name)
    assert model.config["sampling"]["steps"] <= 8
    if model.config["task"] == "music-midi":
        return _renders_the_example_midi(model)
    if model.config["task"] == "speech-tts":
        return _speaks_a_sentence(model)
    audio, rate = load_audio(ROOT / EXAMPLE[model.config["task"]])
    clip = audio[:, : int(1.5 * rate)]
    keeps_rate = model.observation.keeps_rate
    pipeline = Repairer if model.config["task"].endswith("-repair") else Enhancer if keeps_rate else Vocoder
    enhanced = pipeline(model, device="cpu")(clip, rate)
    length = clip.shape[-1] if keeps_rate else round(clip.shape[-1] * model.sample_rate / rate)
    assert enhanced.shape[0] == clip.shape[0] and abs(enhanced.shape[-1] - length) <= 1
    assert torch.isfinite(enhanced).all()
    assert 0 < enhanced.abs().max() < 4 * clip.abs().max()


def _speaks_a_sentence(model):
    """A text-to-speech model speaks a short sentence in each of its voices: finite, audible, of a
    plausible length."""
    from audiodiff.pipelines.speak import TextToSpeech

    tts = TextToSpeech(model, device="cpu")
    for voice in tts.voices:
        audio, rate = tts("Thank you.", voice=voice)
        assert torch.isfinite(audio).all() and 0.01 < audio.abs().max() <= 1.0
        assert 0.3 < audio.shape[-1] / rate < 3.0


def _renders_the_example_midi(model):
    """A music-midi model plays the first two seconds of the bundled chorale: finite, audible, in range."""
    from audiodiff.notes import Track, read_midi, window_notes
    from audiodiff.pipelines.synth import RELEASE_SECONDS, MusicSynth

    tracks = [Track(t.program, window_notes(t.notes, 0.0, 2.0)) for t in read_midi(ROOT / EXAMPLE["music-midi"])]
    audio = MusicSynth(model, device="cpu")([t for t in tracks if len(t.notes)])
    end = max(t.end for t in tracks if len(t.notes))
    assert abs(audio.shape[-1] / model.sample_rate - (end + RELEASE_SECONDS)) < 0.02
    assert torch.isfinite(audio).all() and 1e-3 < audio.abs().max() <= 1.0


# ---------------------------------------------------------------- quality regression on the examples
# Each shipped model on its bundled example, against the example's reference. The floors sit below
# what the shipped weights score (in the comments) with a margin for float rounding across CPUs; a
# change that loses more than that fails here.


def _example(name, channels=1):
    return load_audio(ROOT / "examples" / name, channels=channels)


def test_speech_enhance_cleans_the_example():
    from audiodiff.metrics import dnsmos, si_sdr

    noisy, rate = _example("noisy_speech.flac")  # clean_speech.flac under noise at 5 dB
    clean, _ = _example("clean_speech.flac")
    out = Enhancer("speech-enhance", device="cpu")(noisy, rate)
    assert si_sdr(out[0], clean[0]) - si_sdr(noisy[0], clean[0]) > 6.0  # +8.8 dB
    assert dnsmos(out[0], rate)["ovrl"] - dnsmos(noisy[0], rate)["ovrl"] > 0.2  # +0.27


def test_music_enhance_cleans_the_example():
    from audiodiff.metrics import si_sdr

    noisy, rate = _example("noisy_music.flac")
    clean, _ = _example("clean_music.flac")
    out = Enhancer("music-enhance", device="cpu")(noisy, rate)
    assert si_sdr(out[0], clean[0]) - si_sdr(noisy[0], clean[0]) > 0.5  # +0.98 dB


def test_speech_vocoder_resynthesizes_the_example_from_its_mel():
    from audiodiff.metrics import log_mel_distance

    clean, rate = _example("clean_speech.flac")
    out = Vocoder("speech-vocoder", device="cpu")(clean, rate)
    n = min(out.shape[-1], clean.shape[-1])
    assert log_mel_distance(out[0, :n], clean[0, :n], rate) < 1.2  # 0.94 dB


def test_vocode_bandwidth_restores_the_high_band_of_the_telephone_example(tmp_path):
    """``vocode --task bandwidth`` (speech-repair, as ``repair --band 4000``) on the real 8 kHz GSM
    prompt: energy in 4-8 kHz far above plain resampling's, and the band below it as it was."""
    from audiodiff.audio import resample
    from audiodiff.cli import main

    narrow, rate = _example("narrowband_prompt.flac")
    wide_file = tmp_path / "wide.wav"
    assert main(["vocode", "--task", "bandwidth", str(ROOT / "examples" / "narrowband_prompt.flac"), "-o",
                 str(wide_file), "--device", "cpu"]) == 0
    wide, wide_rate = load_audio(wide_file)
    plain = resample(narrow, rate, wide_rate)
    assert wide_rate == 16_000 and wide.shape == plain.shape
    spectra = {name: torch.fft.rfft(x[0]) for name, x in (("wide", wide), ("plain", plain))}
    freqs = torch.fft.rfftfreq(plain.shape[-1], 1 / wide_rate)

    def db(power: torch.Tensor, reference: torch.Tensor) -> float:
        return 10 * torch.log10(power.sum() / reference.sum()).item()

    high, low = (freqs >= 4_000) & (freqs < 8_000), freqs < 3_400
    share = {name: db(spec[high].abs().pow(2), spec.abs().pow(2)) for name, spec in spectra.items()}
    assert share["wide"] - share["plain"] > 30, share  # -25.2 against -86.2 dB of the file's energy
    assert -40 < share["wide"] < -10, share  # a speech-like high band, not noise over everything
    kept = db((spectra["wide"][low] - spectra["plain"][low]).abs().pow(2), spectra["plain"][low].abs().pow(2))
    assert kept < -40, kept  # -68 dB: below the crossover it is the input (a 16-bit file)


def test_music_midi_plays_the_example_chorale_in_tune():
    from audiodiff.metrics import chroma_cosine
    from audiodiff.notes import Track, read_midi, window_notes
    from audiodiff.pipelines.synth import MusicSynth

    reference, rate = _example("chorale_fluidsynth.flac")
    tracks = [Track(t.program, window_notes(t.notes, 0.0, 6.0)) for t in read_midi(ROOT / EXAMPLE["music-midi"])]
    out = MusicSynth("music-midi", device="cpu")([t for t in tracks if len(t.notes)])
    n = 6 * rate
    assert chroma_cosine(out[:n], reference[0, :n], rate) > 0.92  # 0.95 over the whole piece


def test_speech_repair_fills_the_lost_packets_of_the_example():
    from audiodiff.gaps import find_gaps, known_mask
    from audiodiff.metrics import log_spectral_distance

    lost, rate = _example("lost_packets_speech.flac")  # clean_speech.flac with 9 gaps of zeros
    clean, _ = _example("clean_speech.flac")
    out = Repairer("speech-repair", device="cpu")(lost, rate)
    gaps = find_gaps(lost, rate)
    fade = int(0.005 * rate)
    outside = known_mask(lost.shape[-1], [(s - fade, e + fade) for s, e in gaps]).bool()
    assert torch.equal(out[:, outside], lost[:, outside])
    inside = ~known_mask(lost.shape[-1], gaps).bool()
    filled = log_spectral_distance(out[0], clean[0], 512) - log_spectral_distance(lost[0], clean[0], 512)
    assert filled < -3.0, filled  # -3.4 dB: the whole file's LSD falls once the gaps hold speech
    assert out[0, inside].abs().mean() > 0.2 * clean[0, inside].abs().mean()
