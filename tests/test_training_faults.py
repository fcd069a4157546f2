"""Training at scale and under faults, through the real CLI in subprocesses (``recipes/debug.yaml``):
DDP on two CPU processes (gloo) keeps both replicas stepping in lockstep with identical weights, and a
run killed with SIGKILL mid-epoch resumes from its last checkpoint to the same final step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from test_training import tree  # noqa: F401 (the synthetic training tree fixture)

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "debug.yaml"


def _fit_command(tree, root: Path, *extra: str) -> list[str]:  # noqa: F811
    return [sys.executable, "-m", "audiodiff.cli", "fit", "--config", str(RECIPE),
            "--data.train_clean_dir", str(tree["clean"]), "--data.train_noise_dir", str(tree["noise"]),
            "--data.val_noisy_dir", str(tree["dev_noisy"]), "--data.val_clean_dir", str(tree["dev_clean"]),
            "--trainer.default_root_dir", str(root), "--trainer.callbacks+=training_probe.RankProbe", *extra]


def _env(probe: Path, sleep: float = 0.0) -> dict:
    probe.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO / 'tests'}{os.pathsep}{REPO}",
            "AUDIODIFF_PROBE_DIR": str(probe), "AUDIODIFF_PROBE_SLEEP": str(sleep)}


def _steps(probe: Path, rank: int) -> list[int]:
    path = probe / f"rank{rank}.steps"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_ddp_two_cpu_processes_step_together_and_save_one_consistent_checkpoint(tree, tmp_path):  # noqa: F811
    root, probe = tmp_path / "run", tmp_path / "probe"
    done = subprocess.run(_fit_command(tree, root, "--trainer.devices", "2", "--trainer.strategy", "ddp"),
                          cwd=tmp_path, env=_env(probe), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "MEMBER: 2/2" in done.stderr + done.stdout
    assert _steps(probe, 0) == _steps(probe, 1) == [1, 2, 3]  # max_steps 3, on both ranks
    rank0, rank1 = load_file(str(probe / "rank0.safetensors")), load_file(str(probe / "rank1.safetensors"))
    for name, value in rank0.items():
        assert torch.equal(value, rank1[name]), f"replicas differ in {name}"
    (ckpt,) = root.glob("lightning_logs/version_*/checkpoints/*.ckpt")  # written once, by rank 0
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert state["global_step"] == 3
    for name, value in rank0.items():  # the raw weights (state_dict holds their moving average)
        assert torch.equal(value, state["current_model_state"][f"model.{name}"]), name


def test_sigkill_mid_epoch_then_resume_reaches_the_same_final_step(tree, tmp_path):  # noqa: F811
    root, probe, ckpts = tmp_path / "run", tmp_path / "probe", tmp_path / "ckpt"
    every_step = ["--trainer.max_steps", "8", "--data.epoch_length", "8",  # 4 steps per epoch
                  "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
                  "--trainer.callbacks.dirpath", str(ckpts), "--trainer.callbacks.every_n_train_steps", "1",
                  "--trainer.callbacks.save_last", "true", "--trainer.callbacks.save_top_k", "-1"]
    run = subprocess.Popen(_fit_command(tree, root, *every_step), cwd=tmp_path, env=_env(probe, sleep=1.5),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 600
    while len(_steps(probe, 0)) < 2 and run.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # the step-2 checkpoint is written while the probe sleeps
    os.killpg(run.pid, signal.SIGKILL)  # mid-epoch: step 2 of 4
    run.wait()
    killed_at = _steps(probe, 0)
    assert run.returncode == -signal.SIGKILL and 2 <= killed_at[-1] < 4, killed_at
    last = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=True)["global_step"]
    assert 1 <= last <= killed_at[-1]

    done = subprocess.run(_fit_command(tree, root, *every_step, "--ckpt_path", str(ckpts / "last.ckpt")),
                          cwd=tmp_path, env=_env(probe), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = _steps(probe, 0)[len(killed_at):]
    assert resumed == list(range(last + 1, 9))  # picks up after the checkpoint, ends at max_steps
    final = torch.load(ckpts / "last.ckpt", map_location="cpu", weights_only=True)
    assert final["global_step"] == 8
