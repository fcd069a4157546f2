"""Resume overhead: a training run killed with SIGKILL and resumed from its last checkpoint, against
the same run left alone.

Both use ``recipes/debug.yaml`` on the offline corpus with a checkpoint every ``--every`` steps. The
killed run is stopped right after the checkpoint of step ``--kill-after`` appears; the rerun passes
``--ckpt_path last``. Overhead = (killed part + resumed part) - uninterrupted wall time: start-up
again, plus the steps after the last checkpoint that must be redone.

Run: ``python benchmarks/resume.py [--steps 40] [--every 5] [--kill-after 20]``
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fit_command(root: Path, steps: int, every: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "audiodiff.cli", "fit", "--config", str(REPO / "recipes" / "debug.yaml"),
            "--trainer.default_root_dir", str(root), "--trainer.max_steps", str(steps),
            "--data.epoch_length", str(2 * steps), "--trainer.limit_val_batches", "0",
            "--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint",
            "--trainer.callbacks.dirpath", str(root / "ckpt"), "--trainer.callbacks.every_n_train_steps", str(every),
            "--trainer.callbacks.save_last", "true", "--trainer.callbacks.save_top_k", "-1", *extra]


def run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--kill-after", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    with tempfile.TemporaryDirectory() as tmp:
        whole = run(fit_command(Path(tmp) / "whole", args.steps, args.every), env)

        root = Path(tmp) / "killed"
        start = time.perf_counter()
        proc = subprocess.Popen(fit_command(root, args.steps, args.every), env=env, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        target = f"step={args.kill_after}.ckpt"
        while proc.poll() is None and not any(p.name.endswith(target) for p in (root / "ckpt").glob("*.ckpt")):
            time.sleep(0.05)
        if proc.poll() is not None:
            raise SystemExit(f"the run ended before its step-{args.kill_after} checkpoint (exit code {proc.returncode})")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.perf_counter() - start
        resumed = run(fit_command(root, args.steps, args.every, "--ckpt_path", str(root / "ckpt" / "last.ckpt")), env)
    overhead = killed + resumed - whole
    print(f"| uninterrupted, {args.steps} steps | {whole:.1f} s |")
    print(f"| killed after the step-{args.kill_after} checkpoint + resumed | {killed:.1f} s + {resumed:.1f} s |")
    print(f"| resume overhead | {overhead:.1f} s ({100 * overhead / whole:.0f}% of the run) |")
    print(f"\n`python benchmarks/resume.py --steps {args.steps} --every {args.every} --kill-after {args.kill_after}`"
          f" (recipes/debug.yaml, CPU, {args.threads} thread(s))")


if __name__ == "__main__":
    main()
