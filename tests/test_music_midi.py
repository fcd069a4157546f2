"""Music synthesis from MIDI: aligned audio + MIDI data, guidance, the training recipe, the MusicSynth
pipeline (lengths, tracks, seeds, seams) and ``audiodiff synth``."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import mir_eval
import pytest
import soundfile as sf
import torch
import yaml

from audiodiff.audio import AudioError
from audiodiff.data.aligned import AlignedMidiDataset, bank_of
from audiodiff.notes import harmonic_sketch, piano_roll, read_midi, window_notes
from audiodiff.diffusion.guidance import GuidedDenoiser
from audiodiff.metrics import (ONSET_DETECTORS, chroma_cosine, detect_onsets, music_synthesis_scores, onset_f1,
                               onset_misses)
from audiodiff.model import DiffusionModel
from audiodiff.observations import Condition
from audiodiff.pipelines.synth import MusicSynth
from tiny_config import perturb

pretty_midi = pytest.importorskip("pretty_midi")
REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "music_midi" / "debug.yaml"
RATE = 16_000


def tiny_config() -> dict:
    return copy.deepcopy(yaml.safe_load(RECIPE.read_text())["model"]["model"])


def write_midi(path: Path, parts: list[tuple[int, list[tuple[float, float, int, int]]]]) -> None:
    """``parts``: ``(program, [(start, end, pitch, velocity)])`` per instrument."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    for program, notes in parts:
        inst = pretty_midi.Instrument(program=program)
        inst.notes = [pretty_midi.Note(v, p, s, e) for s, e, p, v in notes]
        midi.instruments.append(inst)
    midi.write(str(path))


def melody(seed: int, seconds: float = 3.0) -> list[tuple[float, float, int, int]]:
    rng = np.random.default_rng(seed)
    times = np.arange(0.2, seconds - 0.3, 0.25)
    return [(float(t), float(t + 0.2), int(rng.integers(55, 80)), int(rng.integers(60, 120))) for t in times]


@pytest.fixture(scope="module")
def aligned(tmp_path_factory) -> Path:
    """Three 3-second solo renders (a 2-harmonic 'instrument') beside their MIDI, at 16 kHz."""
    root = tmp_path_factory.mktemp("aligned")
    for i, program in enumerate((0, 40, 73)):
        notes = melody(i)
        write_midi(root / f"piece{i}.mid", [(program, notes)])
        audio = harmonic_sketch(np.array(notes, dtype=float), RATE, 3 * RATE, harmonics=2, decay_seconds=0.3)
        sf.write(str(root / f"piece{i}.wav"), audio.numpy(), RATE)
    (root / "no_midi.wav").write_bytes((root / "piece0.wav").read_bytes())  # ignored: nothing beside it
    return root


def test_a_sketch_envelope_replaces_the_decay_note_by_note():
    """``envelope(pitch, ages)`` shapes the notes it answers for; ``None`` keeps the generic decay."""
    notes = np.array([[0.0, 1.0, 60.0, 100.0], [0.0, 1.0, 72.0, 100.0]])
    plain = harmonic_sketch(notes, RATE, 2 * RATE, harmonics=1)
    torch.testing.assert_close(harmonic_sketch(notes, RATE, 2 * RATE, harmonics=1, envelope=lambda p, a: None), plain)
    seen = []

    def tremolo_on_c4(pitch, ages):
        seen.append(ages.max())
        return 1.0 + 0.5 * np.sin(2 * np.pi * 5.0 * ages) if pitch == 60 else None

    shaped = harmonic_sketch(notes, RATE, 2 * RATE, harmonics=1, envelope=tremolo_on_c4)
    assert max(seen) == pytest.approx(1.0)  # ages stop at the note's end, through the release
    spectrum = lambda x: torch.stft(x, 1024, 256, window=torch.hann_window(1024), return_complex=True).abs()
    c4, c5 = round(261.63 * 1024 / RATE), round(523.25 * 1024 / RATE)
    held = slice(8, RATE // 256 - 4)  # frames inside the held notes
    level = lambda x, b: spectrum(x)[b, held]
    assert level(shaped, c4).std() > 3 * level(plain, c4).std()  # the tremolo shows on C4 ...
    torch.testing.assert_close(level(shaped, c5), level(plain, c5), atol=1e-3, rtol=0.05)  # ... and not on C5


def test_aligned_items_match_the_spectrogram_frames_and_the_audio(aligned):
    ds = AlignedMidiDataset(aligned, RATE, hop_length=64, segment_seconds=1.0, random_crop=False)
    assert len(ds) == 3
    inputs, target = ds[1]
    assert target.shape == (1, RATE) and inputs["sketch"].shape == (1, RATE)
    assert inputs["notes"].shape == (4, 128, RATE // 64 + 1)
    assert inputs["instrument"].item() == 40 // 8  # strings
    # validation crops start at the first note: the first roll onset is in frame 0
    assert inputs["notes"][0].sum(0).nonzero()[0].item() == 0
    # the sketch is the target's notes (same pitches and times): close in chroma
    assert chroma_cosine(inputs["sketch"][0], target[0], RATE) > 0.9
    random = AlignedMidiDataset(aligned, RATE, hop_length=64, segment_seconds=0.5, length=10, seed=1)
    assert len(random) == 10
    a, b = random[3], random[3]
    torch.testing.assert_close(a[1], b[1])  # reproducible from the seed and index


def test_maestro_layout_midi_suffix_and_another_rate(tmp_path):
    """MAESTRO: ``2018/<name>.wav`` at 44.1 kHz beside ``<name>.midi``; crops come at the model's rate."""
    folder = tmp_path / "2018"
    folder.mkdir()
    notes = melody(7, 2.0)
    write_midi(folder / "recital.midi", [(0, notes)])
    audio = harmonic_sketch(np.array(notes, dtype=float), 44_100, 2 * 44_100)
    sf.write(str(folder / "recital.wav"), audio.numpy(), 44_100)
    ds = AlignedMidiDataset(tmp_path, RATE, hop_length=64, segment_seconds=1.0, random_crop=False)
    inputs, target = ds[0]
    assert target.shape == (1, RATE) and inputs["instrument"].item() == 0
    assert chroma_cosine(inputs["sketch"][0], target[0], RATE) > 0.95  # same notes, resampled


def test_a_folder_without_aligned_midi_is_an_error(tmp_path):
    sf.write(str(tmp_path / "x.wav"), np.zeros(1600, dtype="float32"), RATE)
    with pytest.raises(AudioError, match="no audio file has a MIDI file beside it"):
        AlignedMidiDataset(tmp_path)


def test_guidance_extrapolates_from_the_null_condition():
    torch.manual_seed(0)
    model = DiffusionModel(tiny_config()).eval()
    x = torch.randn(2, 2, 128, 11)
    cond = {"sketch": torch.randn(2, 2, 128, 11), "notes": torch.rand(2, 3, 128, 11), "instrument": torch.tensor([3, 5])}
    null = model.denoiser.head.null(cond)
    assert torch.equal(null["notes"], cond["notes"]) and (null["instrument"] == -1).all()  # null_keys: instrument
    sigma = torch.full((2,), 0.7)
    with torch.no_grad():
        plain, unconditional = model.denoiser(x, sigma, cond), model.denoiser(x, sigma, null)
        guided = GuidedDenoiser(model.denoiser, null, 2.5)(x, sigma, cond)
        same = GuidedDenoiser(model.denoiser, null, 1.0)(x, sigma, cond)
    torch.testing.assert_close(guided, unconditional + 2.5 * (plain - unconditional), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(same, plain)


def test_sampling_can_start_from_the_sketch():
    """With ``start: observation`` a MIDI model refines its harmonic sketch: at a tiny sigma the
    sample stays on the encoded sketch; training then runs the bridge loss toward it."""
    from audiodiff.training.module import DiffusionModule

    config = tiny_config()
    config["sampling"] = {**config["sampling"], "start": "observation", "sigma_max": 1e-4, "sigma_min": 1e-5}
    torch.manual_seed(0)
    model = DiffusionModel(config).eval()
    cond = {"sketch": torch.randn(1, 2, 128, 11), "notes": torch.rand(1, 3, 128, 11), "instrument": torch.tensor([3])}
    condition = Condition(cond, cond["sketch"], None)
    out = model.generate((1, 2, 128, 11), condition, steps=1, generator=[torch.Generator().manual_seed(1)])
    assert (out - cond["sketch"]).abs().max() < 1e-2
    with pytest.raises(ValueError, match="condition shaped"):
        model.generate((1, 2, 128, 12), condition, steps=1, generator=[torch.Generator().manual_seed(1)])
    module = DiffusionModule(model=config, sigma_distribution="loguniform")
    assert module.loss_fn.bridge_sigma == config["sampling"]["sigma_max"]
    frames = model.representation.encode(torch.zeros(1, 1, 4000)).shape[-1]
    batch = ({"sketch": torch.randn(2, 1, 4000), "notes": torch.rand(2, 3, 128, frames),
              "instrument": torch.tensor([1, 2])}, torch.randn(2, 1, 4000))
    assert torch.isfinite(module._loss(module._condition(batch[0]), batch[1]))


def test_fit_music_midi_debug_recipe(aligned, tmp_path, monkeypatch):
    from audiodiff.cli import main
    from audiodiff.commands.export import export_checkpoint
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.chdir(tmp_path)
    root = tmp_path / "run"
    code = main(["fit", "--config", str(RECIPE), "--data.train_midi_dir", str(aligned),
                 "--data.val_midi_dir", str(aligned), "--trainer.default_root_dir", str(root)])
    assert code == 0
    (log_dir,) = sorted(root.glob("lightning_logs/version_*"))
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    acc.Reload()
    scalars = {tag: [e.value for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    assert len(scalars["train/loss"]) == 3 and all(math.isfinite(v) for v in scalars["train/loss"])
    assert {"val/onset_f1", "val/chroma", "val/mrstft"} <= set(scalars)
    (checkpoint,) = log_dir.glob("checkpoints/*.ckpt")
    export_checkpoint(checkpoint, tmp_path / "exported")
    synth = MusicSynth(str(tmp_path / "exported"), device="cpu", chunk_seconds=1.0)
    audio = synth(aligned / "piece0.mid")
    assert torch.isfinite(audio).all()


@pytest.fixture(scope="module")
def synth() -> MusicSynth:
    torch.manual_seed(0)
    model = perturb(DiffusionModel(tiny_config()), std=0.1)  # zero-initialised layers (the instrument's) awake
    return MusicSynth(model, device="cpu", chunk_seconds=0.5, overlap_seconds=0.1)


def test_length_tracks_and_seed(synth, tmp_path):
    path = tmp_path / "two.mid"
    write_midi(path, [(0, melody(0, 1.5)), (40, [(0.0, 1.6, 48, 90)])])
    audio = synth(path, seed=0)
    end = max(t.end for t in read_midi(path))
    assert end == pytest.approx(1.6, abs=0.01)
    expected = math.ceil((end + 1.0) * RATE / 64) * 64  # the last note's end plus a second, whole frames
    assert audio.shape == (expected,)
    torch.testing.assert_close(synth(path, seed=0), audio)  # same seed, same output
    assert not torch.equal(synth(path, seed=1), audio)
    # multi-track: every track is played (the mix is neither track alone)
    for alone in (synth([t], seed=0) for t in read_midi(path)):
        assert alone.shape[-1] <= audio.shape[-1]
        assert not torch.allclose(audio[: alone.shape[-1]], alone, atol=1e-4)


def test_instrument_changes_the_rendering(synth, tmp_path):
    path = tmp_path / "one.mid"
    write_midi(path, [(0, melody(2, 1.0))])
    assert not torch.allclose(synth(path, instrument="violin"), synth(path, instrument="piano"))
    assert not torch.allclose(synth(path, instrument="violin", guidance=3.0), synth(path, instrument="violin"))


def test_no_seam_at_chunk_boundaries(synth, tmp_path):
    """Across a chunk boundary, neither the level (10 ms RMS) nor the sample-to-sample difference
    steps more than anywhere inside the chunks."""
    path = tmp_path / "long.mid"
    write_midi(path, [(0, [(0.0, 3.0, 60, 100), (0.5, 2.5, 67, 90)])])
    audio = synth(path, seed=0)
    overlap = synth.runner.overlap
    hop = synth.runner.chunk - overlap
    boundaries = [k * hop + overlap // 2 for k in range(1, audio.shape[-1] // hop)]  # mid cross-fade
    frame = RATE // 100
    level = audio[: audio.shape[-1] // frame * frame].reshape(-1, frame).pow(2).mean(1).sqrt()
    level_steps = (level[1:] - level[:-1]).abs()
    jumps = (audio[1:] - audio[:-1]).abs()
    near = torch.zeros_like(jumps, dtype=torch.bool)
    for b in boundaries:
        near[max(0, b - overlap) : b + overlap] = True
    assert jumps[near].max() <= jumps[~near].max()
    frames_near = torch.tensor([near[i * frame : (i + 1) * frame].any().item() for i in range(len(level_steps))])
    assert level_steps[frames_near].max() <= level_steps[~frames_near].max()


def magnitude_config(observation: dict | None = None) -> dict:
    """A phaseless MIDI model (magnitude representation, real mask on the sketch's magnitude) whose
    tiny sigma makes sampling from the sketch return the sketch's magnitude."""
    config = tiny_config()
    config["representation"] = {"name": "magnitude", "args": {**config["representation"]["args"], "iterations": 8}}
    config["head"]["args"]["heads"]["sketch"]["args"]["channels"] = 1
    config["backbone"]["args"].update(in_channels=1, out_channels=1, cond_mask="real")
    config["sampling"] = {**config["sampling"], "start": "observation", "sigma_max": 1e-4, "sigma_min": 1e-5}
    if observation is not None:
        config["observation"] = observation
    return config


def render_two_notes(config: dict, tmp_path: Path) -> tuple[torch.Tensor, np.ndarray]:
    """Render two overlapping notes across chunk joins: ``(audio [T], the notes as the file stores them)``."""
    torch.manual_seed(0)
    synth = MusicSynth(DiffusionModel(config), device="cpu", chunk_seconds=0.5, overlap_seconds=0.1)
    path = tmp_path / "one.mid"
    write_midi(path, [(0, [(0.0, 1.2, 60, 100), (0.4, 1.5, 67, 90)])])
    (track,) = read_midi(path)
    return synth(path, seed=0), track.notes


def relative_error(audio: torch.Tensor, reference: torch.Tensor) -> float:
    return float((audio - reference).pow(2).sum() / reference.pow(2).sum())


def test_a_magnitude_model_renders_through_griffin_lim_from_the_sketch(tmp_path):
    """At a tiny sigma, Griffin-Lim started from the sketch's phase gives back the sketch itself,
    across chunk joins."""
    audio, notes = render_two_notes(magnitude_config(), tmp_path)
    assert relative_error(audio, harmonic_sketch(notes, RATE, audio.shape[-1])) < 0.05


def test_the_notes_observation_sets_the_partials_of_the_sketch(tmp_path, aligned):
    """A model whose ``notes`` observation has 12 harmonics is given (and so, at a tiny sigma,
    renders) the 12-partial sketch, not the default 4-partial one; the dataset makes the same."""
    audio, notes = render_two_notes(magnitude_config({"name": "notes", "args": {"harmonics": 12}}), tmp_path)
    rich, plain = (harmonic_sketch(notes, RATE, audio.shape[-1], harmonics=h) for h in (12, 4))
    assert relative_error(audio, rich) < 0.05 < relative_error(audio, plain)
    ds = AlignedMidiDataset(aligned, RATE, hop_length=64, segment_seconds=1.0, random_crop=False, harmonics=12)
    inputs, target = ds[0]
    _, file_notes = ds.notes_of(ds.files[0])
    start = float(file_notes[0, 0])
    expected = harmonic_sketch(window_notes(file_notes, start, 1.0), RATE, RATE, harmonics=12)
    torch.testing.assert_close(inputs["sketch"][0], expected)


def test_the_data_takes_the_models_rate_hop_and_sketch(aligned, tmp_path, monkeypatch):
    """``audiodiff fit`` derives the data settings the model fixes (rate, roll hop, partials a note)
    from the model: a recipe cannot set them to something else."""
    from audiodiff.training.cli import MODEL_SETTINGS, RecipeCLI
    from audiodiff.training.data import TrainingData
    from audiodiff.training.module import DiffusionModule

    monkeypatch.chdir(tmp_path)
    cli = RecipeCLI(DiffusionModule, TrainingData, run=False, save_config_callback=None,
                    args=["--config", str(RECIPE), "--data.train_midi_dir", str(aligned), "--data.val_midi_dir",
                          str(aligned), "--model.model.observation", '{"name": "notes", "args": {"harmonics": 12}}'])
    data = cli.datamodule.hparams
    assert (data.sample_rate, data.hop_length, data.sketch_harmonics) == (RATE, 64, 12)
    assert set(MODEL_SETTINGS) == {"data.sample_rate", "data.hop_length", "data.sketch_harmonics"}
    with pytest.raises(SystemExit):
        RecipeCLI(DiffusionModule, TrainingData, run=False, save_config_callback=None,
                  args=["--config", str(RECIPE), "--data.sketch_harmonics", "12"])


BANKS = ["fluidr3", "timgm6mb", "musescore"]
PROGRAMS = ["acoustic grand piano", "violin", "flute"]


def bank_config() -> dict:
    """The tiny model with sound-bank and program heads (as the shipped recipe has)."""
    config = tiny_config()
    heads = config["head"]["args"]["heads"]
    heads["bank"] = {"name": "class", "args": {"names": BANKS, "dim": 16}}
    heads["program"] = {"name": "class", "args": {"names": PROGRAMS, "dim": 16}}
    config["head"]["args"]["null_keys"] = ["instrument", "program"]
    return config


def test_items_carry_the_tracks_program_by_name(aligned):
    ds = AlignedMidiDataset(aligned, RATE, hop_length=64, segment_seconds=0.5, random_crop=False)
    assert [ds[i][0]["program"] for i in range(3)] == ["acoustic grand piano", "violin", "flute"]
    assert [int(ds[i][0]["instrument"]) for i in range(3)] == [0, 5, 9]


def test_training_gives_program_labels_and_the_null_token_for_programs_never_trained():
    from audiodiff.training.module import DiffusionModule

    module = DiffusionModule(model=bank_config(), sigma_distribution="loguniform")
    inputs = {"sketch": torch.randn(3, 1, 4000), "notes": torch.rand(3, 3, 128, 63),
              "instrument": torch.tensor([5, 9, 9]), "program": ["violin", "flute", "ocarina"]}
    assert module._condition(inputs).cond["program"].tolist() == [1, 2, -1]


def test_a_family_name_leaves_the_program_open_and_an_untrained_program_plays_as_its_family(tmp_path):
    torch.manual_seed(0)
    synth = MusicSynth(perturb(DiffusionModel(bank_config()), std=0.1), device="cpu", chunk_seconds=0.5,
                       overlap_seconds=0.1)
    path = tmp_path / "one.mid"
    write_midi(path, [(40, melody(3, 1.0))])  # a violin track
    own, violin, strings, viola = (synth(path, instrument=i) for i in (None, "violin", "strings", "viola"))
    torch.testing.assert_close(own, violin)
    torch.testing.assert_close(strings, viola)  # viola: not one of the model's programs
    assert not torch.allclose(violin, strings, atol=1e-4)


def test_the_bank_comes_from_the_file_name(aligned, tmp_path):
    assert bank_of(Path("music21__bach__bwv1.6@timgm6mb__t2.wav")) == "timgm6mb"
    assert bank_of(Path("piece@fluidr3.wav")) == "fluidr3"
    assert bank_of(Path("2018/recital.wav")) == ""
    for name in ("piece0@musescore__t0", "piece1"):
        for suffix in (".wav", ".mid"):
            (tmp_path / (name + suffix)).write_bytes((aligned / ("piece0" + suffix)).read_bytes())
    ds = AlignedMidiDataset(tmp_path, RATE, hop_length=64, segment_seconds=0.5, random_crop=False)
    assert [ds[i][0]["bank"] for i in range(2)] == ["musescore", ""]


def test_training_gives_bank_labels_and_the_null_token_for_unknown_banks():
    from audiodiff.training.module import DiffusionModule

    module = DiffusionModule(model=bank_config(), sigma_distribution="loguniform")
    inputs = {"sketch": torch.randn(3, 1, 4000), "notes": torch.rand(3, 3, 128, 63),
              "instrument": torch.tensor([1, 2, 3]), "bank": ["musescore", "", "other"]}
    module.eval()  # no label dropout
    cond = module._condition(inputs).cond
    assert cond["bank"].tolist() == [2, -1, -1] and cond["instrument"].tolist() == [1, 2, 3]
    del inputs["bank"]  # data without banks (MAESTRO): all null
    assert module._condition(inputs).cond["bank"].tolist() == [-1, -1, -1]
    module.train()
    module.hparams.label_dropout = 1.0
    dropped = module._condition({**inputs, "bank": ["fluidr3"] * 3}).cond
    assert dropped["bank"].tolist() == [-1] * 3 and dropped["instrument"].tolist() == [-1] * 3


def test_the_bank_changes_the_rendering_and_an_unknown_bank_is_an_error(tmp_path):
    torch.manual_seed(0)
    synth = MusicSynth(perturb(DiffusionModel(bank_config()), std=0.1), device="cpu", chunk_seconds=0.5,
                       overlap_seconds=0.1)
    assert synth.banks == BANKS
    path = tmp_path / "one.mid"
    write_midi(path, [(0, melody(2, 1.0))])
    renders = [synth(path, bank=bank) for bank in (None, "fluidr3", "musescore")]
    for i in range(3):
        for j in range(i):
            assert not torch.allclose(renders[i], renders[j], atol=1e-4)
    with pytest.raises(ValueError, match="bank 'sgm': this model knows fluidr3, timgm6mb, musescore"):
        synth(path, bank="sgm")
    plain = MusicSynth(DiffusionModel(tiny_config()), device="cpu")
    assert plain.banks == []
    with pytest.raises(ValueError, match="knows no sound banks"):
        plain(path, bank="fluidr3")


def test_a_midi_without_pitched_notes_is_an_audio_error(synth, tmp_path):
    path = tmp_path / "drums.mid"
    midi = pretty_midi.PrettyMIDI()
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 36, 0.0, 0.2)]
    midi.instruments.append(drums)
    midi.write(str(path))
    with pytest.raises(AudioError, match="drums.mid: no pitched notes"):
        synth(path)


def test_cli_renders_good_files_reports_bad_ones_and_resumes(tmp_path, monkeypatch, capsys):
    from audiodiff.cli import main
    from audiodiff.hub import save_pretrained

    torch.manual_seed(0)
    save_pretrained(DiffusionModel(tiny_config()), tmp_path / "model")
    scores = tmp_path / "scores"
    (scores / "sub").mkdir(parents=True)
    write_midi(scores / "sub" / "a.mid", [(0, melody(0, 1.0))])
    (scores / "broken.mid").write_bytes(b"MThd not really")
    out = tmp_path / "out"
    argv = ["synth", "--midi", str(scores), "-o", str(out), "--model", str(tmp_path / "model"),
            "--chunk-seconds", "0.75", "--device", "cpu", "--plot"]
    assert main(argv) == 1  # one bad file: a summary and a non-zero exit, the good one written
    assert (out / "sub" / "a.wav").is_file() and not (out / "broken.wav").exists()
    assert (out / "sub" / "a.png").is_file()  # the sketch above the rendering
    assert "broken.mid: not a readable MIDI file" in capsys.readouterr().err
    info = sf.info(str(out / "sub" / "a.wav"))
    assert info.samplerate == RATE and info.channels == 1
    before = (out / "sub" / "a.wav").stat().st_mtime_ns
    (scores / "broken.mid").unlink()
    assert main(argv) == 0
    assert (out / "sub" / "a.wav").stat().st_mtime_ns == before  # finished files are not redone
    assert "skipping 1 file already done" in capsys.readouterr().out


def test_cli_refuses_a_bank_the_model_does_not_know(tmp_path, monkeypatch):
    from audiodiff.cli import main
    from audiodiff.hub import save_pretrained

    torch.manual_seed(0)
    save_pretrained(DiffusionModel(bank_config()), tmp_path / "model")
    write_midi(tmp_path / "a.mid", [(0, melody(0, 1.0))])
    argv = ["synth", "--midi", str(tmp_path / "a.mid"), "-o", str(tmp_path / "a.wav"), "--model", str(tmp_path / "model"),
            "--chunk-seconds", "0.75", "--device", "cpu", "--bank"]
    with pytest.raises(SystemExit, match="--bank: .*: bank .sgm.: this model knows fluidr3, timgm6mb, musescore"):
        main(argv + ["sgm"])
    assert not (tmp_path / "a.wav").exists()
    assert main(argv + ["timgm6mb"]) == 0 and sf.info(str(tmp_path / "a.wav")).samplerate == RATE


def test_synthesis_metrics_reward_the_right_notes():
    notes = np.array(melody(5, 3.0), dtype=float)
    reference = harmonic_sketch(notes, RATE, 3 * RATE, harmonics=3)
    wrong = notes.copy()
    wrong[:, 2] += 5  # a fourth higher
    moved = harmonic_sketch(wrong, RATE, 3 * RATE, harmonics=3)
    assert music_synthesis_scores(reference, reference, RATE) == pytest.approx(
        {"onset_f1": 1.0, "chroma": 1.0, "mrstft": 0.0}, abs=1e-6)
    assert chroma_cosine(moved, reference, RATE) < 0.8
    late = torch.nn.functional.pad(reference, (RATE // 10, 0))[: 3 * RATE]  # 100 ms late
    assert onset_f1(late, reference, RATE) < 0.5


def test_superflux_reads_vibrato_as_one_note_where_spectral_flux_does_not():
    """A held note whose pitch wobbles by half a semitone at 5.5 Hz (and its level by 10%), as a sound
    bank's vibrato does, has one onset to the SuperFlux detector; librosa's plain flux (the scores'
    default) fires on the wobble. SuperFlux finds the notes of a melody."""
    t = np.arange(4 * RATE) / RATE
    phase = 2 * np.pi * np.cumsum(440 * 2 ** (50 / 1200 * np.sin(2 * np.pi * 5.5 * t))) / RATE
    held = sum(np.sin(k * phase) / k for k in range(1, 9)) * np.minimum(t / 0.05, 1) * (1 + 0.1 * np.sin(2 * np.pi * 5.5 * t))
    held = torch.tensor(0.05 * held * (t >= 0.5))
    found = detect_onsets(held, RATE, "superflux")
    assert len(found) == 1 and abs(found[0] - 0.5) < 0.05
    assert len(detect_onsets(held, RATE)) > 5
    notes = np.array(melody(5, 3.0), dtype=float)
    sketch = harmonic_sketch(notes, RATE, 3 * RATE, harmonics=3)
    found = detect_onsets(sketch, RATE, "superflux")
    assert mir_eval.onset.f_measure(np.unique(notes[:, 0]), found, window=0.05)[0] > 0.9
    for detector in ONSET_DETECTORS:
        assert onset_f1(sketch, sketch, RATE, detector=detector) == 1.0
    with pytest.raises(ValueError, match="onset detector 'hfc'"):
        detect_onsets(sketch, RATE, "hfc")


def test_onset_misses_tell_missing_notes_from_the_reference_sound_itself():
    """A note the estimate leaves out is missed at a note-on; a burst in the reference where no note
    starts (as a bank's vibrato reads to the detector) is missed off the notes."""
    rate = 22_050
    notes = np.array([(0.5, 1.3, 60, 100), (1.5, 2.3, 64, 100), (2.5, 3.3, 67, 100), (3.5, 4.3, 72, 100)])
    sketch = harmonic_sketch(notes, rate, 5 * rate, harmonics=6)
    burst = torch.zeros(5 * rate)
    burst[int(2.0 * rate): int(2.05 * rate)] = 0.3 * torch.randn(int(0.05 * rate), generator=torch.Generator().manual_seed(0))
    found = onset_misses(sketch, sketch + burst, rate, notes[:, 0])
    assert found["missed_at_note"] == 0.0
    assert found["missed_off_note"] == pytest.approx(1 / len(detect_onsets(sketch + burst, rate)))
    without_third = harmonic_sketch(notes[[0, 1, 3]], rate, 5 * rate, harmonics=6)
    found = onset_misses(without_third, sketch, rate, notes[:, 0])
    assert found["missed_at_note"] == pytest.approx(1 / len(detect_onsets(sketch, rate)))
    assert found["onset_recall"] < 1.0
    silent = onset_misses(torch.zeros(5 * rate), sketch, rate, notes[:, 0])  # every reference onset is missed
    assert silent["onset_recall"] == 0.0 and silent["missed_at_note"] + silent["missed_off_note"] == pytest.approx(1.0)


def test_init_from_grows_the_notes_head_by_age_sinusoids_without_changing_the_model(tmp_path):
    """A shipped MIDI model fine-tuned with ``age_hz`` keeps its output at the first step: the
    backbone's input layer grows by the new channels, whose weights start at zero."""
    from audiodiff.hub import save_pretrained
    from audiodiff.training.module import DiffusionModule

    source = perturb(DiffusionModel(tiny_config()), seed=1).eval()
    folder = save_pretrained(source, tmp_path / "source")
    grown = tiny_config()
    grown["head"]["args"]["heads"]["notes"]["args"]["age_hz"] = [2.0, 5.0]
    module = DiffusionModule(model=grown, init_from=str(folder))
    split = module.model.denoiser.backbone.split.weight
    assert split.shape[1] == source.denoiser.backbone.split.weight.shape[1] + 4 * 16  # 4 channels x 16 bins
    roll = piano_roll(np.array([[-0.3, 0.4, 60, 90], [0.1, 0.6, 67, 70]]), 11, 20.0)[None]
    cond = {"sketch": torch.randn(1, 2, 128, 11), "notes": roll, "instrument": torch.tensor([3])}
    x, sigma = torch.randn(1, 2, 128, 11), torch.tensor([0.5])
    model = module.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.denoiser(x, sigma, cond), source.denoiser(x, sigma, cond), atol=1e-6, rtol=0)
        perturb(model.denoiser.backbone.split, seed=2)  # once trained, the age features count
        assert (model.denoiser(x, sigma, cond) - source.denoiser(x, sigma, cond)).abs().max() > 1e-4
