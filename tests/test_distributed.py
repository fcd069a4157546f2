"""Enhancing a corpus on two CPU processes (Lightning predict loop, DDP over gloo): every file is
written exactly once, by one rank, and the outputs equal a single-process run's."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import torch

from audiodiff.hub import save_pretrained
from audiodiff.model import DiffusionModel
from audiodiff.pipelines.distributed import shard
from tiny_config import TINY_MASK

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("count, world", [(0, 2), (5, 2), (7, 3), (2, 4)])
def test_shards_are_disjoint_and_cover_everything(count, world):
    jobs = list(range(count))
    parts = [shard(jobs, rank, world) for rank in range(world)]
    assert sorted(j for part in parts for j in part) == jobs


def _run(args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "audiodiff.cli", "denoise", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_two_processes_write_every_file_once_and_match_one_process(tmp_path):
    torch.manual_seed(0)
    model = DiffusionModel(TINY_MASK)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ckpt = save_pretrained(model, tmp_path / "tiny")
    inputs = tmp_path / "in"
    g = torch.Generator().manual_seed(1)
    for i, (seconds, channels) in enumerate([(0.7, 1), (2.5, 1), (1.0, 2), (5.3, 1), (0.3, 1)]):
        (inputs / "sub").mkdir(parents=True, exist_ok=True)
        wav = 0.2 * torch.randn(int(seconds * 16_000), channels, generator=g)
        sf.write(str(inputs / ("sub" if i % 2 else "") / f"f{i}.wav"), wav.numpy(), 16_000, subtype="FLOAT")
    (inputs / "broken.wav").write_bytes(b"RIFF....not audio")

    single = _run([str(inputs), "-o", str(tmp_path / "one"), "--model", str(ckpt), "--device", "cpu"], tmp_path)
    double = _run([str(inputs), "-o", str(tmp_path / "two"), "--model", str(ckpt), "--devices", "2"], tmp_path)
    for done in (single, double):
        assert done.returncode == 1, done.stderr[-3000:]  # the broken file is reported, the rest done
        assert "broken.wav" in done.stderr
    counts = re.search(r"2 processes enhanced (\d+) \+ (\d+) file", double.stdout)
    assert counts, double.stdout
    assert sorted(int(c) for c in counts.groups()) == [2, 3]  # 5 good files, one shard each
    assert "enhanced 5 files" in double.stdout

    outputs = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.wav"))
    assert len(outputs) == 5
    assert outputs == sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.wav"))
    for rel in outputs:
        a, _ = sf.read(str(tmp_path / "one" / rel))
        b, _ = sf.read(str(tmp_path / "two" / rel))
        assert a.shape == b.shape
        assert abs(a - b).max() < 1e-6, rel
    assert not list((tmp_path / "two").rglob("*.part*"))

    # fewer files than ranks: the idle rank must not fail the run
    lone = _run([str(inputs / "f0.wav"), "-o", str(tmp_path / "lone"), "--model", str(ckpt), "--devices", "2"],
                tmp_path)
    assert lone.returncode == 0, lone.stderr[-3000:]
    assert "enhanced 1 file " in lone.stdout

    # a rerun shards the full list the same way and redoes only the missing output
    (tmp_path / "two" / outputs[0]).unlink()
    rerun = _run([str(inputs), "-o", str(tmp_path / "two"), "--model", str(ckpt), "--devices", "2"], tmp_path)
    assert rerun.returncode == 1 and "skipping 4 files already enhanced" in rerun.stdout, rerun.stderr[-3000:]
    assert "enhanced 1 file " in rerun.stdout
    b, _ = sf.read(str(tmp_path / "two" / outputs[0]))
    assert abs(sf.read(str(tmp_path / "one" / outputs[0]))[0] - b).max() < 1e-6
