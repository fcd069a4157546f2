"""Sampler error against ground truth, per number of function evaluations (NFE).

Data: a two-component Gaussian mixture on audio-shaped tensors ``[B, 1, 4096]`` whose exact
denoiser is known (``audiodiff.diffusion.analytic``), Karras schedule sigma 0.002..80, rho 7.

* ODE solvers: RMS distance to a fine RK4 solution of the probability-flow ODE from the same
  start (4,000 steps in float64), ours beside diffusers' EDM schedulers driven by the same exact
  denoiser (``EDMEulerScheduler``, ``EDMDPMSolverMultistepScheduler`` at its defaults).
* SDE solvers draw fresh samples, so they are scored by distribution: the standard deviation of a
  sample around its nearest component mean, over the true 0.1 (1.00 is exact).

Run: ``python benchmarks/samplers.py`` (about a minute on two CPU cores).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from audiodiff.diffusion import analytic
from audiodiff.diffusion.noise import generators
from audiodiff.diffusion.sampling import SAMPLERS, function_evaluations, sample, steps_for_evaluations
from audiodiff.diffusion.schedules import get_sigmas_karras

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_samplers import diffusers_schedulers, run_diffusers  # noqa: E402

SIGMA_MIN, SIGMA_MAX = 0.002, 80.0
STOCHASTIC = ("dpmpp_2m_sde", "pc")


def rms(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).pow(2).mean().sqrt().item()


def spread_ratio(out: torch.Tensor, mixture) -> float:
    """Mean over items of std(item - nearest mean) / data std."""
    ratios = [min(rms(item, m) for m in mixture.means) / mixture.std for item in out]
    return sum(ratios) / len(ratios)


def cell(error: float, nfe: int, target: int) -> str:
    return f"{error:.2e}" + ("" if nfe == target else f" ({nfe})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nfe", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "samplers.md")
    args = parser.parse_args()
    torch.set_num_threads(2)

    mixture = analytic.audio_mixture(4096)
    x = torch.randn(args.batch, 1, 4096, generator=torch.Generator().manual_seed(0)) * SIGMA_MAX
    low = 1e-5
    ref = mixture(analytic.solve_flow_reference(mixture, x.double(), SIGMA_MAX, low, 4000), torch.tensor(low))

    header = "| solver | " + " | ".join(f"NFE {n}" for n in args.nfe) + " |"
    rule = "|---" * (len(args.nfe) + 1) + "|"
    lines = ["RMS error against the exact probability-flow solution (lower is better; "
             "a number in brackets is the NFE actually used when the budget is not reachable):", "",
             header, rule]
    curves = {}
    for solver in [s for s in SAMPLERS.names() if s not in STOCHASTIC]:
        row, curve = [], []
        for nfe in args.nfe:
            steps = steps_for_evaluations(solver, nfe)
            out = sample(mixture, x, get_sigmas_karras(steps, SIGMA_MIN, SIGMA_MAX), solver)
            used = function_evaluations(solver, steps)
            row.append(cell(rms(out, ref), used, nfe))
            curve.append((used, rms(out, ref)))
        lines.append(f"| audiodiff `{solver}` | " + " | ".join(row) + " |")
        curves[f"audiodiff {solver}"] = curve
    for solver, scheduler in diffusers_schedulers(SIGMA_MIN, SIGMA_MAX).items():
        errors = [rms(run_diffusers(scheduler, mixture, x, nfe), ref) for nfe in args.nfe]
        lines.append(f"| diffusers `{type(scheduler).__name__}` | " + " | ".join(f"{e:.2e}" for e in errors) + " |")
        curves[f"diffusers {type(scheduler).__name__}"] = list(zip(args.nfe, errors))

    lines += ["", "SDE samplers: std of a sample around its nearest component / true std (1.00 is exact):", "",
              header, rule]
    for solver in STOCHASTIC:
        row = []
        for nfe in args.nfe:
            steps = steps_for_evaluations(solver, nfe)
            out = sample(mixture, x, get_sigmas_karras(steps, SIGMA_MIN, SIGMA_MAX), solver,
                         generator=generators(0, args.batch))
            row.append(f"{spread_ratio(out, mixture):.2f}" + (
                "" if function_evaluations(solver, steps) == nfe else f" ({function_evaluations(solver, steps)})"))
        lines.append(f"| audiodiff `{solver}` | " + " | ".join(row) + " |")

    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    plot(curves, args.out.with_suffix(".png"))
    print(f"written to {args.out} and {args.out.with_suffix('.png')}")


def plot(curves: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, points in curves.items():
        nfe, err = zip(*points)
        dashed = name.startswith("diffusers")
        ax.loglog(nfe, err, "x--" if dashed else "o-", label=name, alpha=0.8, markersize=8 if dashed else 5)
    ax.set_xlabel("function evaluations (NFE)")
    ax.set_ylabel("RMS error vs exact PF-ODE solution")
    ax.set_title("Samplers on a Gaussian mixture [B, 1, 4096]")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
