"""Build the offline corpus: train/dev folders of speech, noise and music from Debian packages,
plus fixed dev sets of noisy/clean pairs, and a manifest.

Layout written under ``out``::

    train/speech/*.wav          16 kHz mono          dev/speech/{noisy,clean}/*.wav + pairs.csv
    train/noise/16000/*.wav     16 kHz mono          dev/music/{noisy,clean}/*.wav  + pairs.csv
    train/noise/22050/*.wav     22.05 kHz mono
    train/music/*.wav           22.05 kHz mono (sources recorded at that rate or above only)
    train/rendered/*.wav + .mid 22.05 kHz mono renders of music21 scores, each beside its MIDI
    train/tracks/*.wav + .mid   each pitched track of those rendered alone, beside its one-track MIDI
    (held-out sources for the dev pairs live in heldout/, never in train/)
    rejected/<split>/speech/    speech screened out (not clean: see ``screening``), speech_screen.csv
    manifest.json               every written file: id, package, kind, split, seconds

Reserved sources (``reserved_sources.json``) are skipped by the source listings and checked again
here before anything is written.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from audiodiff.audio import AudioError, load_audio, save_audio
from audiodiff.data import packages
from audiodiff.data.prompts import prompts, write_prompts
from audiodiff.data.mixing import TRAINING_ROOMS, UNSEEN_ROOMS, Rooms, apply_mix, sample_mix_params
from audiodiff.data.screening import screen_speech
from audiodiff.data.sources import DEV_FRACTION, Item, held_out, is_reserved, list_items, missing_packages
from audiodiff.data.tracks import write_solo_tracks

SPEECH_RATE, MUSIC_RATE = 16_000, 22_050
SNR_BUCKETS = (-5.0, 0.0, 5.0, 10.0, 15.0)


def group_key(item: Item) -> str:
    """Items of one group go to the same split: a game level, or the file itself."""
    if item.package == "fillets-ng-data-cs":
        return item.id.split("/")[1]
    return item.id.split("@")[0]  # a rendered piece: the score, whatever the soundfont


def is_heldout(item: Item) -> bool:
    """Stable split by a hash of the group key (independent of which other files exist).

    Synthetic speech only trains: the dev set stays made of recorded voices."""
    if item.id.startswith("tts/"):
        return False
    return held_out(group_key(item), DEV_FRACTION[item.kind])


def noise_kind(item_id: str) -> str:
    if item_id.startswith("openttd-opensfx"):
        return "field-recording"
    name = item_id.split("/")[-1]
    return "ambience" if name.startswith(("ambi_", "vinyl_", "misc_")) else "loop"


def _safe_name(item_id: str) -> str:
    return item_id.replace("/", "__").rsplit(".", 1)[0] + ".wav"


def _check_not_reserved(item: Item) -> None:
    if is_reserved(item.package, item.key or item.id.partition("/")[2]):
        raise RuntimeError(f"refusing to write reserved source {item.id}")


def write_items(items: list[Item], folder: Path, root: Path, sample_rate: int, split: str, manifest: list,
                desc: str) -> list[Path]:
    """Decode each item at ``sample_rate`` into ``folder`` (skipping files already there: a rerun
    resumes); unreadable or silent items are reported and skipped. Manifest paths are relative to
    ``root``."""
    paths = []
    folder.mkdir(parents=True, exist_ok=True)
    for item in tqdm(items, desc=desc, unit="file"):
        _check_not_reserved(item)
        path = folder / _safe_name(item.id)
        try:
            wav = item.load(sample_rate) if not path.exists() else None
        except AudioError as err:
            print(f"skipped: {err}")
            continue
        if wav is not None:
            if wav.abs().max() < 1e-4:
                print(f"skipped: {item.id}: silent")
                continue
            save_audio(path, wav, sample_rate)
            if item.midi is not None:  # the score it plays, beside it
                path.with_suffix(".mid").write_bytes(item.midi())
        manifest.append({"id": item.id, "package": item.package, "kind": item.kind, "split": split,
                         "sample_rate": sample_rate, "path": path.relative_to(root).as_posix(),
                         "seconds": round(sf.info(str(path)).duration, 3)})
        paths.append(path)
    return paths


def _load(path: Path) -> torch.Tensor:
    return load_audio(path, channels=1)[0]


def _segment(rng: np.random.Generator, files: list[Path], length: int) -> torch.Tensor:
    """A ``[1, length]`` excerpt: consecutive random files joined until long enough, then cropped."""
    pieces, total = [], 0
    while total < length:
        wav = _load(files[rng.integers(len(files))])
        pieces.append(wav)
        total += wav.shape[-1]
    joined = torch.cat(pieces, dim=-1)
    start = int(rng.integers(0, joined.shape[-1] - length + 1))
    return joined[:, start : start + length]


def write_dev_pairs(out: Path, clean_files: list[Path], noises: dict[str, list[Path]], count: int, seconds: float,
                    sample_rate: int, seed: int, desc: str, snrs: tuple[float, ...] = SNR_BUCKETS,
                    rooms: tuple[Rooms, ...] = (TRAINING_ROOMS,), babble_files: list[Path] | None = None,
                    with_clean: bool = False) -> None:
    """Fixed noisy/clean pairs in ``out/{noisy,clean}`` and ``out/pairs.csv``: noise kinds cycle
    (the keys of ``noises``, then ``babble`` of 4-8 voices from ``babble_files`` if given, then
    ``none``, clean speech left as it is, if ``with_clean``), SNR buckets cycle through ``snrs``,
    30% of the noisy pairs are reverberant in a room drawn from ``rooms``."""
    if not clean_files or not any(noises.values()):
        return
    kinds = sorted(k for k, files in noises.items() if files) + ["babble"] * bool(babble_files) + ["none"] * with_clean
    rng = np.random.default_rng(seed)
    length = int(seconds * sample_rate)
    rows = []
    for i in tqdm(range(count), desc=desc, unit="pair"):
        kind = kinds[i % len(kinds)]
        snr = snrs[(i // len(kinds)) % len(snrs)]
        clean = _segment(rng, clean_files, length)
        if kind == "none":
            noise, source, snr = None, "", math.inf
        elif kind == "babble":
            noise = sum(_segment(rng, babble_files, length) for _ in range(int(rng.integers(4, 9))))
            source = "babble"
        else:
            noise_path = noises[kind][rng.integers(len(noises[kind]))]
            noise, source = _load(noise_path), noise_path.stem
        level = 0.0 if noise is None else snr
        params = sample_mix_params(rng, snr_range=(level, level), noise_length=1 if noise is None else noise.shape[-1],
                                   reverb_probability=0.0 if noise is None else 0.3)
        room = rooms[int(rng.integers(len(rooms)))] if len(rooms) > 1 else rooms[0]
        noisy, target = apply_mix(clean, noise, params, sample_rate, room)
        name = f"{i:04d}.wav"
        save_audio(out / "noisy" / name, noisy, sample_rate)
        save_audio(out / "clean" / name, target, sample_rate)
        rows.append({"file": name, "snr_db": snr, "noise_kind": kind, "noise": source,
                     "reverb": params.rir_seed is not None})
    with open(out / "pairs.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def by_noise_kind(files: list[Path]) -> dict[str, list[Path]]:
    """The core sources' noise files grouped by :func:`noise_kind`."""
    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(noise_kind(path.stem.replace("__", "/")), []).append(path)
    return groups


KINDS = ("speech", "noise", "music", "rendered", "packages", "prompts")
UNSEEN_SNRS = (-5.0, 0.0, 5.0, 10.0, 15.0, 20.0)


def write_packaged_sources(out: Path, prefix: Path, manifest: list, count: int, seed: int) -> None:
    """The recorded sound of :mod:`~audiodiff.data.packages`: its training noise into
    ``train/noise/16000/packages/`` and voices into ``train/speech/packages/``; its unseen packages
    into ``unseen/`` (voices with a noisy floor go to ``rejected/``, see
    :func:`~audiodiff.data.packages.keep_quiet_floor`) and from them the unseen-sources dev set ``dev/speech_unseen`` (``count`` pairs of
    6 s: noise kinds, babble of 4-8 unseen voices and clean speech cycling, SNR -5 to 20 dB, rooms of
    other sizes than training's)."""
    for folders, split, noise_root, speech_root in (
            (packages.TRAINING, "train", out / "train" / "noise" / "16000" / "packages", out / "train" / "speech" / "packages"),
            (packages.UNSEEN, "unseen", out / "unseen" / "noise", out / "unseen" / "speech")):
        noises = {}
        for noise_kind_, listed in packages.items(prefix, folders, "noise").items():
            folder = noise_root / noise_kind_
            noises[noise_kind_] = write_items(listed, folder, out, SPEECH_RATE, split, manifest,
                                              f"{split} {noise_kind_} noise")
        written = write_items(packages.items(prefix, folders, "speech", SPEECH_RATE).get("speech", []),
                              speech_root, out, SPEECH_RATE, split, manifest, f"{split} voices")
        voices = packages.keep_quiet_floor(written, out / "rejected" / split / "speech")
        gone = {path.relative_to(out).as_posix() for path in set(written) - set(voices)}
        manifest[:] = [entry for entry in manifest if entry["path"] not in gone]
    write_dev_pairs(out / "dev" / "speech_unseen", voices, noises, count, 6.0, SPEECH_RATE, seed + 2,
                    "unseen-sources dev pairs", snrs=UNSEEN_SNRS, rooms=UNSEEN_ROOMS, babble_files=voices,
                    with_clean=True)


def _manifest_entries(out: Path) -> list[dict]:
    """The files an earlier build listed in ``out/manifest.json`` (none if there is none)."""
    path = out / "manifest.json"
    return json.loads(path.read_text())["files"] if path.exists() else []


def build_corpus(out: Path, prefix: Path = Path("/"), dev_speech: int = 150, dev_music: int = 40,
                 seed: int = 0, screen: bool | Callable = True, kinds: tuple[str, ...] = KINDS,
                 dev_unseen: int = 150) -> dict:
    """Build ``kinds`` (default: everything) under ``out``; returns the manifest (also written to
    ``manifest.json``). Speech enhancement needs ``speech``, ``noise`` and ``packages`` (the other
    packages' recorded noise and voices, and the unseen-sources dev set); MIDI synthesis ``rendered``;
    text to speech ``prompts`` (recorded prompts with transcripts, :func:`~audiodiff.data.prompts.write_prompts`).

    ``screen``: move speech that a reference enhancer changes a lot (game dialogue with effects)
    out of the training and held-out folders before the dev pairs are mixed (see ``screening``);
    ``True`` uses DeepFilterNet3, a callable ``(wav [T], rate) -> PESQ`` replaces it, ``False`` keeps all."""
    out, prefix = Path(out), Path(prefix)
    missing = missing_packages(prefix)
    if missing:
        print(f"note: not found under {prefix}: {', '.join(missing)} (apt-get install them for the full corpus)")
    manifest: list[dict] = []
    plan = [("speech", SPEECH_RATE), ("noise", SPEECH_RATE), ("noise", MUSIC_RATE), ("music", MUSIC_RATE),
            ("rendered", MUSIC_RATE)]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown corpus kinds {', '.join(unknown)}: choose from {', '.join(KINDS)}")
    plan = [(kind, rate) for kind, rate in plan if kind in kinds]
    listed = {kind: list_items(prefix, kind) for kind in kinds if kind not in ("packages", "prompts")}
    written = {(kind, split, rate): [] for kind in KINDS for split in ("train", "heldout")
               for rate in (SPEECH_RATE, MUSIC_RATE)}
    for kind, rate in plan:
        for split in ("train", "heldout"):
            items = [it for it in listed[kind] if is_heldout(it) == (split == "heldout")]
            if kind == "music":  # band-limited clean music would teach a model to cut the highs
                items = [it for it in items if (it.native_rate or rate) >= rate]
            folder = out / split / kind / (str(rate) if kind == "noise" else "")
            written[(kind, split, rate)] = write_items(items, folder, out, rate, split, manifest,
                                                       f"{split} {kind} {rate} Hz")
    for split in ("train", "heldout"):
        for path in write_solo_tracks(written[("rendered", split, MUSIC_RATE)], out / split / "tracks", prefix,
                                      MUSIC_RATE, desc=f"{split} solo tracks"):
            manifest.append({"id": f"tracks/{path.stem}", "package": "music21", "kind": "tracks", "split": split,
                             "sample_rate": MUSIC_RATE, "path": path.relative_to(out).as_posix(),
                             "seconds": round(sf.info(str(path)).duration, 3)})
    if screen and "speech" in kinds:
        kept = screen_speech(out, {split: out / split / "speech" for split in ("train", "heldout")},
                             scorer=screen if callable(screen) else None)
        for split in ("train", "heldout"):
            written[("speech", split, SPEECH_RATE)] = kept[split]
        for entry in manifest:
            if entry["kind"] == "speech" and not (out / entry["path"]).exists():
                entry["screened_out"] = True  # moved to rejected/ (see speech_screen.csv)
    write_dev_pairs(out / "dev" / "speech", written[("speech", "heldout", SPEECH_RATE)],
                    by_noise_kind(written[("noise", "heldout", SPEECH_RATE)]), dev_speech, 4.0, SPEECH_RATE, seed, "dev speech pairs")
    write_dev_pairs(out / "dev" / "music", written[("music", "heldout", MUSIC_RATE)],
                    by_noise_kind(written[("noise", "heldout", MUSIC_RATE)]), dev_music, 6.0, MUSIC_RATE, seed + 1, "dev music pairs")
    if "packages" in kinds:
        first = len(manifest)
        write_packaged_sources(out, prefix, manifest, dev_unseen, seed)
        for entry in manifest[first:]:
            entry["group"] = "packages"
    if "prompts" in kinds:
        write_prompts(out, prompts(prefix), manifest)
    built = set(kinds) | ({"tracks"} if "rendered" in kinds else set())
    manifest = [entry for entry in _manifest_entries(out)
                if entry.get("group", entry["kind"]) not in built] + manifest
    summary = {"prefix": str(prefix), "missing_packages": missing, "files": manifest}
    (out / "manifest.json").write_text(json.dumps(summary, indent=1))
    return summary
