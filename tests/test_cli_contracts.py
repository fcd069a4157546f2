"""What every file-processing verb promises before it computes: flags checked when parsed (exit 2),
inputs checked before any "already done" skip, no silent folder named like a file, writable names
and folders, the right task, and nothing already written lost."""

from __future__ import annotations

import pytest
import soundfile as sf
import torch

from audiodiff.audio import save_audio
from audiodiff.cli import main
from audiodiff.hub import save_pretrained
from audiodiff.model import DiffusionModel
from tiny_config import TINY_MASK, perturb

VERBS = {  # verb: arguments before the input
    "denoise": ["denoise"],
    "vocode": ["vocode", "--task", "bandwidth"],
    "synth": ["synth"],
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    return save_pretrained(perturb(DiffusionModel(TINY_MASK)).eval(), folder / "tiny")


@pytest.fixture
def audio(tmp_path):
    path = tmp_path / "a.wav"
    save_audio(path, 0.1 * torch.randn(1, 8_000, generator=torch.Generator().manual_seed(0)), 16_000)
    return path


@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize("flag, value", [("--batch-size", "0"), ("--steps", "0"), ("--steps", "-1"),
                                         ("--chunk-seconds", "0"), ("--seed", "-2"), ("--steps", "two")])
def test_numeric_flags_are_checked_when_parsed(verb, flag, value, audio, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*VERBS[verb], str(audio), "-o", str(tmp_path / "out.wav"), flag, value])
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err
    assert not (tmp_path / "out.wav").exists()


def test_a_missing_input_is_an_error_even_when_its_output_exists(tmp_path, tiny, capsys):
    done = tmp_path / "a.wav"
    done.write_bytes(b"an earlier result")
    code = main(["denoise", str(tmp_path / "missing.wav"), "-o", str(done), "--model", str(tiny)])
    assert code == 2 and "missing.wav: no such file" in capsys.readouterr().err
    assert done.read_bytes() == b"an earlier result"


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_a_glob_or_folder_without_inputs_is_an_error(verb, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for spec in (str(tmp_path / "nothing*.wav"), str(tmp_path / "empty")):
        assert main([*VERBS[verb], spec, "-o", str(tmp_path / "out")]) == 2
        assert "no input files" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_several_inputs_into_one_file_name_is_an_error(tmp_path, audio, tiny, capsys):
    other = tmp_path / "b.wav"
    save_audio(other, torch.zeros(1, 1600), 16_000)
    code = main(["denoise", str(audio), str(other), "-o", str(tmp_path / "both.wav"), "--model", str(tiny)])
    assert code == 2 and "2 files cannot all be written to one file" in capsys.readouterr().err
    assert not (tmp_path / "both.wav").exists()


def test_an_mp3_input_comes_back_as_flac_with_a_note(tmp_path, tiny, capsys):
    source = tmp_path / "in" / "song.mp3"
    source.parent.mkdir()
    try:
        sf.write(str(source), (0.1 * torch.randn(16_000)).numpy(), 16_000, format="MP3")
    except (sf.LibsndfileError, TypeError, ValueError):
        pytest.skip("this libsndfile cannot encode MP3 to make the input")
    assert main(["denoise", str(source.parent), "-o", str(tmp_path / "out"), "--model", str(tiny),
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert ".mp3 cannot be written" in out and "enhanced 1 file " in out
    assert sf.info(str(tmp_path / "out" / "song.flac")).format == "FLAC"


@pytest.mark.parametrize("verb, task", [("denoise", "speech-vocoder"), ("vocode", "speech-enhance"),
                                        ("synth", "speech-enhance")])
def test_a_model_of_another_task_is_refused_before_it_runs(verb, task, tmp_path, audio, capsys):
    model = save_pretrained(DiffusionModel({**TINY_MASK, "task": task}), tmp_path / task)
    code = main([*VERBS[verb], str(audio), "-o", str(tmp_path / "out.wav"), "--model", str(model)])
    err = capsys.readouterr().err
    assert code == 2 and f"is a {task} model" in err
    assert not (tmp_path / "out.wav").exists()


def test_counts_read_as_words_and_no_picture_is_announced_that_was_not_written(tmp_path, audio, tiny, capsys):
    assert main(["denoise", str(audio), "-o", str(tmp_path / "x.wav"), "--model", str(tiny), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "enhanced 1 file " in out and "spectrogram" not in out
    assert main(["denoise", str(audio), "-o", str(tmp_path / "x.wav"), "--model", str(tiny), "--plot"]) == 0
    out = capsys.readouterr().out
    assert "skipping 1 file already enhanced" in out and "enhanced 0 files" in out and "spectrogram" not in out
