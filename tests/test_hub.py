"""audiodiff.hub: checkpoint folders, shipped names, and refusal of pickles and bad configs."""

from __future__ import annotations

import copy
import json
import os
import pickle

import pytest
import torch
from safetensors.torch import load_file

import audiodiff
from tiny_config import TINY_MASK
from audiodiff.hub import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    CheckpointError,
    checkpoint_dirs,
    from_pretrained,
    resolve,
    save_pretrained,
    shipped_names,
)
from audiodiff.model import DiffusionModel
from audiodiff.registry import ConfigError

TINY = TINY_MASK


def _tiny_model(seed: int = 0) -> DiffusionModel:
    torch.manual_seed(seed)
    model = DiffusionModel(copy.deepcopy(TINY))
    with torch.no_grad():  # make every weight matter, including zero-initialised ones
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model.eval()


def _inputs():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 256, 12, generator=g)
    cond = torch.randn(2, 2, 256, 12, generator=g)
    return x, torch.tensor([0.3, 5.0]), cond


def _run(model):
    with torch.no_grad():
        return model.denoiser(*_inputs())


@pytest.fixture
def saved(tmp_path):
    model = _tiny_model()
    folder = save_pretrained(model, tmp_path / "tiny", card="# tiny\n")
    return model, folder


class Exploit:
    """Unpickling this would run a shell command creating a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_exploit(path, marker, protocol=pickle.HIGHEST_PROTOCOL):
    path.write_bytes(pickle.dumps({"state_dict": Exploit(marker)}, protocol=protocol))
    return path


# --------------------------------------------------------------------------- save / load


def test_save_pretrained_writes_the_three_files(saved):
    model, folder = saved
    assert {p.name for p in folder.iterdir()} == {CONFIG_NAME, "README.md", WEIGHTS_NAME}
    config = json.loads((folder / CONFIG_NAME).read_text())
    assert config == model.config
    assert config["task"] == "speech-enhance"
    state = load_file(str(folder / WEIGHTS_NAME))
    assert set(state) == set(model.state_dict())
    assert all(t.dtype == torch.float32 for t in state.values())


def test_save_pretrained_without_card(tmp_path):
    folder = save_pretrained(_tiny_model(), tmp_path / "nocard")
    assert not (folder / "README.md").exists()


def test_from_pretrained_rebuilds_from_config_alone(saved):
    model, folder = saved
    loaded = from_pretrained(folder)
    assert isinstance(loaded, DiffusionModel)
    assert loaded is not model
    assert not loaded.training
    assert loaded.config == model.config
    assert loaded.representation == model.representation
    assert torch.equal(_run(loaded), _run(model))
    # the weights matter: a fresh model from the same config gives other outputs
    fresh = _tiny_model(seed=123)
    assert not torch.allclose(_run(fresh), _run(model))


def test_from_pretrained_accepts_str_path(saved):
    model, folder = saved
    assert torch.equal(_run(from_pretrained(str(folder))), _run(model))


def test_audiodiff_load_folder(saved):
    model, folder = saved
    loaded = audiodiff.load(str(folder))
    assert torch.equal(_run(loaded), _run(model))
    assert loaded.sample_rate == 16_000
    assert loaded.config["sampling"]["steps"] == 2
    assert loaded.sigmas().shape == (3,)


def test_shipped_name_through_env_var(saved, tmp_path, monkeypatch):
    model, _ = saved
    root = tmp_path / "shipped"
    save_pretrained(model, root / "tiny-enhance")
    other = tmp_path / "other"
    other.mkdir()
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the name must not resolve as a relative folder
    monkeypatch.setenv("AUDIODIFF_CHECKPOINTS", os.pathsep.join([str(other), str(root)]))
    assert checkpoint_dirs()[:2] == [other, root]
    assert "tiny-enhance" in shipped_names()
    assert resolve("tiny-enhance") == root / "tiny-enhance"
    loaded = audiodiff.load("tiny-enhance")
    assert torch.equal(_run(loaded), _run(model))


def test_shipped_name_unknown_lists_known(saved, tmp_path, monkeypatch):
    model, _ = saved
    root = tmp_path / "shipped"
    save_pretrained(model, root / "tiny-enhance")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDIODIFF_CHECKPOINTS", str(root))
    with pytest.raises(CheckpointError) as info:
        audiodiff.load("speech-enhance-typo")
    message = str(info.value)
    assert "speech-enhance-typo" in message and "no such checkpoint" in message
    assert "tiny-enhance" in message


def test_shipped_name_without_env_var_is_not_found(saved, tmp_path, monkeypatch):
    model, _ = saved
    save_pretrained(model, tmp_path / "shipped" / "tiny-enhance")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUDIODIFF_CHECKPOINTS", raising=False)
    with pytest.raises(CheckpointError, match="tiny-enhance"):
        audiodiff.load("tiny-enhance")


def test_missing_folder(tmp_path):
    missing = tmp_path / "does-not-exist"
    with pytest.raises(CheckpointError) as info:
        from_pretrained(missing)
    assert str(missing) in str(info.value)
    assert "no such checkpoint folder" in str(info.value)


def test_folder_without_config(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=f"no {CONFIG_NAME}"):
        from_pretrained(tmp_path / "empty")


def test_folder_without_weights(saved):
    _, folder = saved
    (folder / WEIGHTS_NAME).unlink()
    with pytest.raises(CheckpointError, match=f"no {WEIGHTS_NAME}"):
        from_pretrained(folder)


def test_config_not_json(saved):
    _, folder = saved
    (folder / CONFIG_NAME).write_text("{task: enhance")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        from_pretrained(folder)


def test_weights_not_matching_config(saved):
    """Other shapes than the config describes: a CheckpointError, not torch's RuntimeError."""
    _, folder = saved
    config = json.loads((folder / CONFIG_NAME).read_text())
    config["backbone"]["args"]["channels"] *= 2
    (folder / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not match the config"):
        from_pretrained(folder)


def test_weights_with_missing_tensors(saved):
    _, folder = saved
    config = json.loads((folder / CONFIG_NAME).read_text())
    config["backbone"]["args"]["blocks"] = 3
    (folder / CONFIG_NAME).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="missing"):
        from_pretrained(folder)


# --------------------------------------------------------------------------- pickles are refused


@pytest.mark.parametrize("name", ["model.ckpt", "weights.pt", "model.pth", "pytorch_model.bin", "state.pkl"])
def test_pickle_file_is_refused(tmp_path, name):
    marker = tmp_path / "PWNED"
    path = _write_exploit(tmp_path / name, marker)
    with pytest.raises(CheckpointError) as info:
        audiodiff.load(str(path))
    message = str(info.value)
    assert str(path) in message
    assert "pickle" in message.lower() and "refused" in message
    assert not marker.exists()


def test_pickle_named_safetensors_is_refused_as_file(tmp_path):
    marker = tmp_path / "PWNED"
    path = _write_exploit(tmp_path / "weights.safetensors", marker)
    with pytest.raises(CheckpointError) as info:
        from_pretrained(path)
    assert str(path) in str(info.value) and "pickle" in str(info.value).lower()
    assert not marker.exists()


def test_torch_save_zip_is_refused(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "model.weights"  # an innocent-looking suffix
    torch.save({"x": Exploit(marker)}, path)
    with pytest.raises(CheckpointError, match="pickle"):
        from_pretrained(path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_as_model_safetensors_in_folder_is_refused(saved, tmp_path, protocol):
    _, folder = saved
    marker = tmp_path / "PWNED"
    _write_exploit(folder / WEIGHTS_NAME, marker, protocol=protocol)
    with pytest.raises(CheckpointError) as info:
        audiodiff.load(str(folder))
    message = str(info.value)
    assert str(folder / WEIGHTS_NAME) in message
    assert "not a safetensors file" in message and "pickle" in message.lower()
    assert not marker.exists()


def test_other_file_is_refused(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY))
    with pytest.raises(CheckpointError, match="expected a checkpoint folder"):
        from_pretrained(path)


# --------------------------------------------------------------------------- bad configs


def _write_config(folder, config):
    (folder / CONFIG_NAME).write_text(json.dumps(config))


def test_unexpected_top_level_key(saved):
    _, folder = saved
    _write_config(folder, {**TINY, "optimizer": "adam"})
    with pytest.raises(CheckpointError) as info:
        from_pretrained(folder)
    assert "optimizer" in str(info.value) and "unexpected" in str(info.value)
    assert str(folder / CONFIG_NAME) in str(info.value)


def test_unexpected_backbone_arg(saved):
    _, folder = saved
    config = copy.deepcopy(TINY)
    config["backbone"]["args"]["n_layers"] = 4
    _write_config(folder, config)
    with pytest.raises(CheckpointError) as info:
        from_pretrained(folder)
    assert "n_layers" in str(info.value) and "bandsplit" in str(info.value)


def test_unknown_backbone_name(saved):
    _, folder = saved
    config = copy.deepcopy(TINY)
    config["backbone"]["name"] = "transformer9000"
    _write_config(folder, config)
    with pytest.raises(CheckpointError) as info:
        from_pretrained(folder)
    assert "transformer9000" in str(info.value) and "bandsplit" in str(info.value)


@pytest.mark.parametrize("key", ["representation", "backbone"])
def test_missing_required_key(saved, key):
    _, folder = saved
    config = copy.deepcopy(TINY)
    del config[key]
    _write_config(folder, config)
    with pytest.raises(CheckpointError) as info:
        from_pretrained(folder)
    assert key in str(info.value) and "missing" in str(info.value)


def test_config_not_a_dict(saved):
    _, folder = saved
    _write_config(folder, [TINY])
    with pytest.raises(CheckpointError, match="dict"):
        from_pretrained(folder)


@pytest.mark.parametrize(
    ("change", "word"),
    [
        (lambda c: c.update(extra=1), "extra"),
        (lambda c: c["backbone"]["args"].update(depth=3), "depth"),
        (lambda c: c["backbone"].update(name="nope"), "nope"),
        (lambda c: c["head"].update(name="nope_head"), "nope_head"),
        (lambda c: c["representation"]["args"].update(window="hann"), "window"),
        (lambda c: c["sampling"].update(solver="magic"), "magic"),
        (lambda c: c["sampling"].update(schedule="weird"), "weird"),
        (lambda c: c["sampling"].update(eta=1.0), "eta"),
        (lambda c: c["backbone"]["args"].update(cond_channels=5), "cond_channels"),
        (lambda c: c["backbone"].update(kwargs={}), "kwargs"),
    ],
)
def test_model_config_errors_name_the_key(change, word):
    config = copy.deepcopy(TINY)
    change(config)
    with pytest.raises(ConfigError) as info:
        DiffusionModel(config)
    assert word in str(info.value)


def test_info_without_a_model_lists_every_shipped_model_with_task_and_rate(capsys):
    from audiodiff.cli import main
    from audiodiff.hub import shipped_names

    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    assert sorted(line.split()[0] for line in lines) == shipped_names()
    assert any(line.split()[:3] == ["speech-enhance", "speech-enhance", "16000"] for line in lines)
