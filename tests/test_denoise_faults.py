"""`audiodiff denoise` killed with SIGKILL midway: no partial output file is left under an output
name, and a rerun finishes the rest without redoing the files that were already written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import soundfile as sf
import torch

from audiodiff.commands.files import count
from audiodiff.hub import save_pretrained
from tiny_config import TINY_MASK
from audiodiff.model import DiffusionModel

REPO = Path(__file__).resolve().parents[1]
# full-size network (random weights): slow enough on one thread that the kill lands mid-run
CONFIG = {**TINY_MASK, "backbone": {"name": "bandsplit", "args": {**TINY_MASK["backbone"]["args"], "channels": 96,
                                                                 "blocks": 8}}}
FILES, SECONDS = 8, 12.0


def _denoise(inputs: Path, out: Path, ckpt: Path, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "audiodiff.cli", "denoise", str(inputs), "-o", str(out), "--model", str(ckpt),
           "--device", "cpu"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_killed_denoise_leaves_no_partial_output_and_a_rerun_finishes_the_rest(tmp_path):
    torch.manual_seed(0)
    ckpt = save_pretrained(DiffusionModel(CONFIG), tmp_path / "model")
    inputs, out = tmp_path / "in", tmp_path / "out"
    inputs.mkdir()
    g = torch.Generator().manual_seed(0)
    for i in range(FILES):
        sf.write(str(inputs / f"f{i}.wav"), (0.1 * torch.randn(int(SECONDS * 16_000), generator=g)).numpy(), 16_000)

    run = _denoise(inputs, out, ckpt, start_new_session=True)
    deadline = time.time() + 600
    while not list(out.glob("*.wav")) and run.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)
    run.communicate()
    finished = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    assert 1 <= len(finished) < FILES, "the kill should land after the first file and before the last"
    for name in finished:  # whatever carries an output name is complete
        data, rate = sf.read(str(out / name))
        assert rate == 16_000 and data.shape == (int(SECONDS * 16_000),)
    # a killed save can only leave a hidden temporary file, never a truncated output

    rerun = _denoise(inputs, out, ckpt)
    stdout, stderr = rerun.communicate(timeout=900)
    assert rerun.returncode == 0, stderr[-3000:]
    assert f"skipping {count(len(finished))} already enhanced" in stdout
    assert f"enhanced {count(FILES - len(finished))}" in stdout
    assert sorted(p.name for p in out.glob("*.wav")) == sorted(f"f{i}.wav" for i in range(FILES))
    for name, mtime in finished.items():
        assert (out / name).stat().st_mtime_ns == mtime, f"{name} was redone"
    assert not list(out.glob(".*.part")), "temporary files of the killed run were not cleaned up"


def test_rerun_removes_temporary_files_of_a_killed_save(tmp_path, one_thread):
    from audiodiff.cli import main

    tiny = {**CONFIG, "backbone": {"name": "bandsplit", "args": {**CONFIG["backbone"]["args"], "channels": 16,
                                                                   "blocks": 1}}}
    ckpt = save_pretrained(DiffusionModel(tiny), tmp_path / "model")
    (tmp_path / "in").mkdir()
    sf.write(str(tmp_path / "in" / "a.wav"), (0.1 * torch.randn(8000)).numpy(), 16_000)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".a.wav.0123456789ab.part"
    stale.write_bytes(b"RIFF half a file")
    other = out / ".notes.txt.part"  # not one of this run's outputs: left alone
    other.write_bytes(b"x")
    assert main(["denoise", str(tmp_path / "in"), "-o", str(out), "--model", str(ckpt), "--device", "cpu"]) == 0
    assert not stale.exists() and other.exists()
    assert (out / "a.wav").is_file()


def test_output_names_cannot_leave_the_output_folder(tmp_path):
    import pytest

    from audiodiff.audio import AUDIO_EXTENSIONS
    from audiodiff.commands.files import output_paths

    out = tmp_path / "out"
    ok = output_paths([(Path("a.wav"), Path("sub/a.wav")), (Path("b.wav"), Path("b.wav"))], out, AUDIO_EXTENSIONS)
    assert [dst for _, dst in ok] == [out / "sub/a.wav", out / "b.wav"]
    for bad in (Path("../escape.wav"), Path("sub/../../escape.wav"), Path("/etc/escape.wav")):
        with pytest.raises(ValueError, match="outside"):
            output_paths([(Path("x.wav"), bad), (Path("y.wav"), Path("y.wav"))], out, AUDIO_EXTENSIONS)


def test_two_inputs_with_one_output_name_are_refused(tmp_path):
    import pytest

    from audiodiff.audio import AUDIO_EXTENSIONS
    from audiodiff.commands.files import output_paths

    out = tmp_path / "out"
    with pytest.raises(ValueError, match="a/x.wav and b/x.wav would both be written"):
        output_paths([(Path("a/x.wav"), Path("x.wav")), (Path("b/x.wav"), Path("x.wav"))], out, AUDIO_EXTENSIONS)
    same = output_paths([(Path("a/x.wav"), Path("x.wav")), (Path("a/x.wav"), Path("x.wav"))], out, AUDIO_EXTENSIONS)
    assert same == [(Path("a/x.wav"), out / "x.wav")]  # one file named twice is done once


def test_an_output_folder_that_cannot_be_written_is_refused_before_any_compute(tmp_path, one_thread, capsys):
    from audiodiff.cli import main

    tiny = {**CONFIG, "backbone": {"name": "bandsplit", "args": {**CONFIG["backbone"]["args"], "channels": 16,
                                                                   "blocks": 1}}}
    ckpt = save_pretrained(DiffusionModel(tiny), tmp_path / "model")
    inputs, out = tmp_path / "in", tmp_path / "out"
    for name in ("blocked/a.wav", "free/b.wav"):
        (inputs / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(inputs / name), (0.1 * torch.randn(8000)).numpy(), 16_000)
    out.mkdir()
    (out / "blocked").write_text("a file where the output folder should be")
    code = main(["denoise", str(inputs), "-o", str(out), "--model", str(ckpt), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and f"{out / 'blocked'}: cannot write there" in err
    assert not (out / "free" / "b.wav").exists()  # refused before the model ran


def test_stale_parts_are_listed_once_per_folder_and_matched_by_name(tmp_path):
    from audiodiff.pipelines.writing import remove_stale_parts

    (tmp_path / "x.wav.part").write_bytes(b"")  # not our naming scheme
    for name in (".a.wav.0123456789ab.part", ".b.wav.fedcba987654.part", ".c.wav.0123456789ab.part"):
        (tmp_path / name).write_bytes(b"")
    assert remove_stale_parts([tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "missing" / "d.wav"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".c.wav.0123456789ab.part", "x.wav.part"]
