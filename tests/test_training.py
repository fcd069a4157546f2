"""audiodiff.training: the LightningModule (loss, EMA, init_from) and `audiodiff fit` on recipes/debug.yaml
over a small synthetic tree."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tiny_config import TINY_MASK
from audiodiff.hub import from_pretrained, save_pretrained
from audiodiff.model import DiffusionModel

pytest.importorskip("lightning")

from audiodiff.training.data import TrainingData  # noqa: E402
from audiodiff.training.module import DiffusionModule  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "debug.yaml"
RATE = 16_000

TINY = TINY_MASK


pytestmark = pytest.mark.usefixtures("one_thread")


def _speech_like(seconds: float, f0: float, seed: int) -> np.ndarray:
    """A harmonic tone (f0 with a slow vibrato) under a syllable-rate amplitude envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * np.sin(2 * np.pi * 2.5 * t))) / RATE
    x = sum(np.sin(k * phase) / k for k in range(1, 9))
    envelope = np.clip(np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 6)), 0, None) ** 2
    x = x * (0.1 + envelope)
    return (0.4 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train_tree")
    dirs = {name: root / name for name in ("clean", "noise", "dev_noisy", "dev_clean")}
    for d in dirs.values():
        d.mkdir()
    for i, f0 in enumerate((110, 145, 190, 230)):
        sf.write(str(dirs["clean"] / f"utt{i}.wav"), _speech_like(1.0, f0, i), RATE)
    rng = np.random.default_rng(0)
    sf.write(str(dirs["noise"] / "white.wav"), (0.1 * rng.standard_normal(RATE)).astype(np.float32), RATE)
    t = np.arange(RATE) / RATE
    hum = 0.1 * np.sin(2 * np.pi * 50 * t) + 0.05 * np.sin(2 * np.pi * 150 * t) + 0.02 * rng.standard_normal(RATE)
    sf.write(str(dirs["noise"] / "hum.flac"), hum.astype(np.float32), RATE)
    for i, f0 in enumerate((120, 210)):
        clean = _speech_like(1.0, f0, 10 + i)
        noisy = clean + (0.05 * rng.standard_normal(clean.size)).astype(np.float32)
        sf.write(str(dirs["dev_clean"] / f"pair{i}.wav"), clean, RATE)
        sf.write(str(dirs["dev_noisy"] / f"pair{i}.wav"), noisy, RATE)
    return dirs


def _batch(tree, batch_size=2, seed=0):
    data = TrainingData(train_clean_dir=str(tree["clean"]), train_noise_dir=str(tree["noise"]),
                           val_noisy_dir=str(tree["dev_noisy"]), val_clean_dir=str(tree["dev_clean"]),
                           segment_seconds=0.5, batch_size=batch_size, epoch_length=4, reverb_probability=0.0,
                           seed=seed)
    data.setup("fit")
    return next(iter(data.train_dataloader())), data


# ------------------------------------------------------------------------------------------ module


def test_data_module(tree):
    (noisy, clean), data = _batch(tree)
    assert noisy.shape == clean.shape == (2, 1, RATE // 2)
    assert len(data.val_set) == 2
    val_noisy, val_clean = next(iter(data.val_dataloader()))
    assert val_noisy.shape == val_clean.shape == (1, 1, RATE)


def test_loss_is_finite_and_trains(tree):
    torch.manual_seed(0)
    module = DiffusionModule(model=copy.deepcopy(TINY), warmup_steps=1)
    batch, _ = _batch(tree)
    loss = module._loss(module._condition(batch[0]), batch[1])
    assert loss.ndim == 0 and math.isfinite(loss.item()) and loss.item() > 0
    loss.backward()
    grads = [p.grad for p in module.model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_moving_average_warms_up_then_follows_the_weights_at_its_decay():
    from torch.optim.swa_utils import AveragedModel

    from audiodiff.training.module import WarmEMA

    torch.manual_seed(0)
    module = DiffusionModule(model=copy.deepcopy(TINY), ema_decay=0.9)
    (callback,) = module.configure_callbacks()
    assert isinstance(callback, WarmEMA)
    average = AveragedModel(module, **callback._kwargs)
    average.update_parameters(module)  # the first update copies
    before = [p.detach().clone() for p in module.model.parameters()]
    expected_decays = [min(0.9, (1 + n) / (10 + n)) for n in (1, 2, 200)]
    for n, decay in zip((1, 2, 200), expected_decays):
        average.n_averaged.fill_(n)
        with torch.no_grad():
            for p in module.model.parameters():
                p.add_(1.0)
        old = [a.detach().clone() for a in average.module.model.parameters()]
        average.update_parameters(module)
        for a_old, a_new, p in zip(old, average.module.model.parameters(), module.model.parameters()):
            assert torch.allclose(a_new, a_old + (1 - decay) * (p - a_old), atol=1e-6)
    assert expected_decays == [2 / 11, 3 / 12, 0.9]  # fast forgetting first, then the decay
    assert not all(torch.equal(b, p) for b, p in zip(before, module.model.parameters()))
    with pytest.raises(ValueError, match="ema_decay"):
        WarmEMA(1.0)


def _saved_tiny_model(tmp_path):
    """A tiny model with non-trivial weights and its checkpoint folder."""
    torch.manual_seed(3)
    source = DiffusionModel(copy.deepcopy(TINY))
    with torch.no_grad():
        for p in source.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return source, save_pretrained(source, tmp_path / "tiny")


def test_init_from_saved_folder(tmp_path):
    source, folder = _saved_tiny_model(tmp_path)
    module = DiffusionModule(init_from=str(folder))
    expected = source.state_dict()
    for name, value in module.model.state_dict().items():
        assert torch.equal(value, expected[name]), name
    assert module.model.training  # ready to fine-tune
    assert module.hparams.model == source.config  # the checkpoint's config replaces the given one
    other = DiffusionModule(model=copy.deepcopy(TINY))  # a fresh model differs
    assert not all(torch.equal(v, expected[k]) for k, v in other.model.state_dict().items())


def test_init_from_grows_a_checkpoint_with_identity_blocks(tmp_path):
    """A recipe may add layers to a shipped model (here a long-context path): the loaded weights
    are kept, the new blocks start as the identity, so the grown model's output is unchanged."""
    source, folder = _saved_tiny_model(tmp_path)
    grown = copy.deepcopy(TINY)
    grown["backbone"]["args"].update(context_blocks=2, context_stride=4)
    module = DiffusionModule(model=grown, init_from=str(folder))
    assert len(module.model.denoiser.backbone.context) == 2
    x, cond = torch.randn(2, 2, 256, 40), torch.randn(2, 2, 256, 40)
    sigma = torch.tensor([0.3, 3.0])
    with torch.no_grad():
        torch.testing.assert_close(module.model.denoiser(x, sigma, cond), source.denoiser(x, sigma, cond),
                                   atol=1e-6, rtol=0)
    # the other way round, a checkpoint's weights that the recipe's model has no place for, is refused
    bigger = save_pretrained(module.model, tmp_path / "grown")
    with pytest.raises(ValueError, match="no place for"):
        DiffusionModule(model=copy.deepcopy(TINY), init_from=str(bigger))


def test_module_needs_a_model():
    with pytest.raises(ValueError, match="model config or init_from"):
        DiffusionModule()


# ------------------------------------------------------------------------------------- audiodiff fit


def _events(log_dir: Path):
    """``(scalars by tag, all tags by kind)`` from the TensorBoard event files in ``log_dir``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir), size_guidance={"audio": 0, "images": 0, "scalars": 0})
    acc.Reload()
    tags = acc.Tags()
    return {tag: [e.value for e in acc.Scalars(tag)] for tag in tags["scalars"]}, tags


def test_fit_debug_recipe(tree, tmp_path, monkeypatch):
    from audiodiff.cli import main
    from audiodiff.commands.export import export_checkpoint

    monkeypatch.chdir(tmp_path)  # nothing may land in the repository
    root = tmp_path / "run"
    code = main(["fit", "--config", str(RECIPE),
                 "--data.train_clean_dir", str(tree["clean"]), "--data.train_noise_dir", str(tree["noise"]),
                 "--data.val_noisy_dir", str(tree["dev_noisy"]), "--data.val_clean_dir", str(tree["dev_clean"]),
                 "--trainer.default_root_dir", str(root)])
    assert code == 0
    log_dirs = sorted(root.glob("lightning_logs/version_*"))
    assert len(log_dirs) == 1
    log_dir = log_dirs[0]
    assert (log_dir / "config.yaml").is_file()
    assert str(tree["clean"]) in (log_dir / "config.yaml").read_text()  # the override was used

    scalars, tags = _events(log_dir)
    assert len(scalars["train/loss"]) == 3  # one per step
    assert all(math.isfinite(v) for v in scalars["train/loss"])
    assert "val/loss" in scalars and all(math.isfinite(v) for v in scalars["val/loss"])
    assert {"val/pesq", "val/estoi", "val/si_sdr"} <= set(scalars)  # validation scored the EMA model
    assert {"example0/noisy", "example0/enhanced", "example0/clean"} <= set(tags["audio"])  # val_examples: 1
    assert "example0/spectrograms" in tags["images"]
    assert not any(t.startswith("example1/") for t in tags["audio"])

    checkpoints = sorted(log_dir.glob("checkpoints/*.ckpt"))
    assert len(checkpoints) == 1
    state = torch.load(checkpoints[0], map_location="cpu", weights_only=True)  # no pickled objects
    assert state["global_step"] == 3
    assert state["hyper_parameters"]["model"]["backbone"]["args"]["channels"] == 16
    raw = state["current_model_state"]  # the moving average is the checkpoint's state_dict, the raw weights beside it
    assert raw.keys() == state["state_dict"].keys()
    assert not all(torch.equal(raw[k], state["state_dict"][k]) for k in raw)

    model = export_checkpoint(checkpoints[0], tmp_path / "exported")
    loaded = from_pretrained(tmp_path / "exported")
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, state["state_dict"][f"model.{name}"]), name
    assert sum(p.numel() for p in model.parameters()) < 50_000  # tiny, as the recipe says
    assert not list(Path(tmp_path).glob("*.ckpt")) and not (REPO / "lightning_logs").exists()


def test_learning_rate_warms_up_then_decays_to_its_floor():
    module = DiffusionModule(model=copy.deepcopy(TINY), warmup_steps=10, decay_steps=100, final_lr_ratio=0.2)
    factors = [module.lr_factor(step) for step in range(200)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))  # never rises after the warm-up
    assert factors[60] == pytest.approx(0.6, abs=0.02)  # half-way through the cosine
    assert factors[150] == factors[199] == pytest.approx(0.2)
    constant = DiffusionModule(model=copy.deepcopy(TINY), warmup_steps=10)
    assert constant.lr_factor(10_000) == 1.0


def test_top_share_without_loguniform_is_refused():
    with pytest.raises(ValueError, match="loguniform"):
        DiffusionModule(model=copy.deepcopy(TINY), sigma_distribution="lognormal", sigma_top_share=0.5)


@pytest.mark.parametrize("recipe", sorted((REPO / "recipes").rglob("*.yaml")), ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_recipe_builds_its_model_and_names_only_known_options(recipe):
    """A typo in a recipe fails here, not hours into a GPU job."""
    import inspect

    import yaml

    from audiodiff.training.data import TrainingData

    spec = yaml.safe_load(recipe.read_text())
    module_args = set(inspect.signature(DiffusionModule).parameters)
    data_args = set(inspect.signature(TrainingData).parameters)
    assert set(spec.get("model", {})) <= module_args, recipe
    assert set(spec.get("data", {})) <= data_args, recipe
    if spec.get("model", {}).get("model"):
        model = DiffusionModel(spec["model"]["model"])
        if "sample_rate" in spec.get("data", {}):
            assert spec["data"]["sample_rate"] == model.sample_rate


def _recipes_starting_from_a_checkpoint() -> list[Path]:
    """Recipes with both ``model.init_from`` and a ``model.model`` config (the two must fit)."""
    import yaml

    found = []
    for path in sorted((REPO / "recipes").rglob("*.yaml")):
        spec = yaml.safe_load(path.read_text()).get("model", {})
        if spec.get("init_from") and spec.get("model"):
            found.append(path)
    return found


def test_some_recipes_start_from_a_shipped_model():
    assert len(_recipes_starting_from_a_checkpoint()) >= 2  # speech magnitude, repair


@pytest.mark.parametrize("recipe", _recipes_starting_from_a_checkpoint(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_a_recipe_that_starts_from_a_shipped_model_fits_its_weights(recipe):
    """A shipped checkpoint that changes shape (a new formulation) must not silently break the
    recipes that start from it: their model takes its weights, tensor for tensor."""
    import yaml

    spec = yaml.safe_load(recipe.read_text())["model"]
    DiffusionModule(model=spec["model"], init_from=spec["init_from"])


def test_init_from_a_checkpoint_of_another_shape_names_the_weight(tmp_path):
    folder = tmp_path / "tiny"
    save_pretrained(DiffusionModel(copy.deepcopy(TINY)), folder)
    wider = copy.deepcopy(TINY)
    wider["backbone"]["args"]["channels"] = TINY["backbone"]["args"]["channels"] * 2
    with pytest.raises(ValueError, match=r"init_from .*differ in shape.*\(e\.g\. "):
        DiffusionModule(model=wider, init_from=str(folder))


def _write_pair_tree(root: Path, layout: dict[str, str], files: int = 3) -> None:
    """Short noisy/clean WAVs at 16 kHz in ``layout``'s folders (role -> path under ``root``)."""
    from audiodiff.audio import save_audio

    generator = torch.Generator().manual_seed(0)
    for i in range(files):
        clean = 0.1 * torch.randn(1, 40_000, generator=generator)
        noise = 0.05 * torch.randn(1, 40_000, generator=generator)
        for role, folder in layout.items():
            wav = clean + noise if "noisy" in role else noise if role == "noise" else clean
            save_audio(root / folder / f"f{i}.wav", wav, 16_000)


GPU_RECIPES = {  # recipe: the folders of its documented layout (role -> path)
    "voicebank_demand.yaml": {"train_noisy_dir": "data/voicebank_demand/noisy_trainset_28spk_wav",
                              "train_clean_dir": "data/voicebank_demand/clean_trainset_28spk_wav",
                              "val_noisy_dir": "data/voicebank_demand/noisy_testset_wav",
                              "val_clean_dir": "data/voicebank_demand/clean_testset_wav"},
    "dns_challenge.yaml": {"train_clean_dir": "data/dns/clean/read_speech", "noise": "data/dns/noise",
                           "val_noisy_dir": "data/dns/test/noisy", "val_clean_dir": "data/dns/test/clean"},
}


@pytest.mark.parametrize("recipe", sorted(GPU_RECIPES))
def test_gpu_recipes_train_on_a_tiny_tree_of_their_layout(recipe, tmp_path, monkeypatch, one_thread):
    """Each GPU recipe, unchanged but for the device, its size and the step count, trains two steps
    and validates on a fixture tree laid out as its header says."""
    from audiodiff.cli import main

    _write_pair_tree(tmp_path, GPU_RECIPES[recipe])
    monkeypatch.chdir(tmp_path)
    code = main(["fit", "--config", str(REPO / "recipes" / "speech_enhance" / recipe),
                 "--trainer.accelerator", "cpu", "--trainer.precision", "32-true", "--trainer.max_steps", "2",
                 "--trainer.limit_val_batches", "1", "--trainer.val_check_interval", "2",
                 "--trainer.enable_progress_bar", "false", "--data.batch_size", "2", "--data.num_workers", "0",
                 "--data.val_limit", "1", "--data.segment_seconds", "0.5"])
    assert code == 0
    assert sorted((tmp_path / "runs").rglob("*.ckpt"))
