"""The ``audiodiff`` command line: --version, --help, ``info``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import audiodiff
from tiny_config import TINY_MASK
from audiodiff.cli import VERBS, main
from audiodiff.hub import save_pretrained
from audiodiff.model import DiffusionModel

CONFIG = TINY_MASK


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = DiffusionModel(CONFIG)
    return model, save_pretrained(model, tmp_path / "tiny")


def _listed_verbs(help_text: str) -> list[str]:
    """Sub-command names in argparse's help: 4-space-indented entries under positional arguments."""
    section = help_text.split("positional arguments:")[1].split("options:")[0]
    return re.findall(r"^    (\S+)", section, flags=re.MULTILINE)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out.strip()
    assert out == f"audiodiff {audiodiff.__version__}"
    assert re.fullmatch(r"audiodiff \d+\.\d+\.\d+\S*", out)


def test_version_through_installed_script():
    script = Path(sys.executable).parent / "audiodiff"
    if not script.exists():
        pytest.skip("the audiodiff console script is not installed in this environment")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"audiodiff {audiodiff.__version__}"


def test_help_lists_only_registered_verbs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    listed = _listed_verbs(out)
    assert listed == list(VERBS)
    assert {"data", "denoise", "eval", "export", "fit", "info", "synth", "vocode"} <= set(listed)


def test_an_unknown_verb_is_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["enhance"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_no_verb_prints_help(capsys):
    assert main([]) == 0
    assert "usage: audiodiff" in capsys.readouterr().out


def test_info_prints_task_and_parameters(checkpoint, capsys):
    model, folder = checkpoint
    assert main(["info", str(folder)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    assert re.search(r"^task\s+speech-enhance$", out, flags=re.MULTILINE), out
    assert re.search(r"^representation\s+complex_spec$", out, flags=re.MULTILINE), out
    assert re.search(r"^head\s+observation$", out, flags=re.MULTILINE), out
    assert re.search(r"^sample rate\s+16000 Hz$", out, flags=re.MULTILINE), out
    assert re.search(r"^sampler\s+dpmpp_2m, 2 steps, karras", out, flags=re.MULTILINE), out
    found = re.search(r"^backbone\s+bandsplit \((\d+\.\d+) M parameters\)$", out, flags=re.MULTILINE)
    assert found, out
    params = sum(p.numel() for p in model.parameters())
    assert params > 10_000  # so the printed value is not a rounded 0.00
    assert float(found.group(1)) == pytest.approx(params / 1e6, abs=0.005)


def test_info_json(checkpoint, capsys):
    model, folder = checkpoint
    assert main(["info", "--json", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out) == model.config


def test_info_missing_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["info", "missing"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("audiodiff info: error: missing")
    assert "no such checkpoint" in captured.err


def test_info_pickle_exits_2(tmp_path, capsys):
    path = tmp_path / "model.ckpt"
    torch.save({"w": torch.zeros(2)}, path)
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "pickle" in err


def test_info_bad_config_exits_2(checkpoint, capsys):
    _, folder = checkpoint
    config = json.loads((folder / "config.json").read_text())
    del config["backbone"]
    (folder / "config.json").write_text(json.dumps(config))
    assert main(["info", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "backbone" in err and "audiodiff info: error:" in err
