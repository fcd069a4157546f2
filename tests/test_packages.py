"""audiodiff.data.packages and the unseen-sources dev set: training and unseen packages never meet."""

from __future__ import annotations

import csv
import json
import zipfile

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.audio import AudioError
from audiodiff.data import packages
from audiodiff.data.corpus import UNSEEN_SNRS, build_corpus
from audiodiff.data.reserved import reserved_list
from audiodiff.data.sources import DEBIAN_PACKAGES

RATE = 16_000


def test_training_and_unseen_packages_are_disjoint_and_never_reserved_or_core():
    training, unseen = packages.packages(packages.TRAINING), packages.packages(packages.UNSEEN)
    assert training and unseen and not training & unseen
    reserved = {entry["package"].split()[0] for entry in reserved_list()["reserved"]}
    assert not (training | unseen) & (reserved | set(DEBIAN_PACKAGES))
    assert {f.kind for f in packages.UNSEEN} == {"noise", "speech"}


def _write(path, seconds, rate, seed, pauses=False):
    """Noise, or with ``pauses`` a voice-like signal: loud for its first half, near silent after."""
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.3 * np.random.default_rng(seed).standard_normal(int(seconds * rate))
    if pauses:
        x[len(x) // 2:] *= 1e-3
    sf.write(path, x.astype(np.float32), rate)


def _pack(archive, members, name, seconds, rate, seed):
    """Write a sound as ``name`` into the zip ``archive`` (``members``: a scratch folder)."""
    _write(members / name, seconds, rate, seed)
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "a") as packed:
        packed.write(members / name, name)


def _fixture(prefix):
    """One file in every folder of both tables (twice for voices; packed into the archive where the
    package packs its sound), a spoken description to leave out, and a band-limited voice to leave out."""
    for index, folder in enumerate(packages.TRAINING + packages.UNSEEN):
        pattern = folder.patterns[0].replace("**/", "").replace("*", f"x{index}")
        for copy in range(2 if folder.kind == "speech" else 1):
            name = pattern.replace(f"x{index}", f"x{index}_{copy}", 1)
            if folder.archive:
                _pack(prefix / folder.root / folder.archive, prefix.parent / "members", name, 2.0, 22_050, index)
            else:
                _write(prefix / folder.root / name, 2.0, 22_050, index, pauses=folder.kind == "speech")
    stamps = next(f for f in packages.TRAINING if f.package == "tuxpaint-stamps-default")
    _write(prefix / stamps.root / "cat_desc.ogg", 1.0, 22_050, 99)
    voices = next(f for f in packages.UNSEEN if f.kind == "speech")
    _write(prefix / voices.root / "xx" / "narrow.wav", 1.0, 8_000, 98, pauses=True)
    _write(prefix / voices.root / "xx" / "noisy_floor.ogg", 1.0, 22_050, 97)


def test_sound_packed_in_a_zip_archive_is_read_member_by_member(tmp_path):
    archive = tmp_path / "games" / "sound.pk3"
    for index, name in enumerate(("sound/amb/rain.ogg", "sound/amb/radio.ogg", "sound/amb/deep/wind.ogg",
                                  "music/song.ogg")):
        _pack(archive, tmp_path / "members", name, 0.5, 44_100, index)
    with zipfile.ZipFile(archive, "a") as packed:
        packed.writestr("sound/amb/rain.xml", "<sound/>")  # game data beside the sound
    folder = packages.SoundFolder("some-game-data", "games", ("sound/amb/*.*",), exclude=("radio",),
                                  archive="sound.pk3")
    found = folder.files(tmp_path)
    assert [r.rel for r in found] == ["sound/amb/rain.ogg"]  # one folder deep, audio only, radio left out
    assert found[0].rate() == 44_100
    wav = found[0].load(16_000)
    assert wav.shape == (1, 8_000) and wav.dtype == torch.float32 and wav.abs().max() > 0.1
    assert packages.SoundFolder("absent-data", "nowhere", ("*.ogg",), archive="x.zip").files(tmp_path) == []
    with zipfile.ZipFile(archive, "a") as packed:
        packed.writestr("sound/amb/broken.ogg", b"not audio")
    broken = packages.Recording("sound/amb/broken.ogg", archive, "sound/amb/broken.ogg")
    with pytest.raises(AudioError, match="sound.pk3:sound/amb/broken.ogg: not an audio file"):
        broken.load(16_000)
    with pytest.raises(ValueError, match="not supported"):
        packages.SoundFolder("some-game-data", "games", ("**/*.ogg",), archive="sound.pk3").files(tmp_path)


def test_unseen_dev_set_is_built_from_unseen_packages_only(tmp_path):
    prefix, out = tmp_path / "root", tmp_path / "corpus"
    _fixture(prefix)
    build_corpus(out, prefix, kinds=("packages",), dev_unseen=16, screen=False)
    manifest = json.loads((out / "manifest.json").read_text())["files"]
    unseen = packages.packages(packages.UNSEEN)
    for entry in manifest:
        assert (entry["split"] == "unseen") == (entry["package"] in unseen), entry
        assert entry["group"] == "packages"
    names = " ".join(entry["id"] for entry in manifest)
    assert all("_desc" not in entry["id"] for entry in manifest if entry["kind"] == "noise")
    assert "cat_desc" not in names and "narrow" not in names and "noisy_floor" not in names
    assert (out / "rejected" / "unseen" / "speech" / "ktuberling-data__xx__noisy_floor.wav").exists()
    assert any(entry["kind"] == "speech" and entry["split"] == "train" for entry in manifest)
    with open(out / "dev" / "speech_unseen" / "pairs.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 16
    kinds = {row["noise_kind"] for row in rows}
    assert {"babble", "none", "machine", "music"} <= kinds
    for row in rows:
        noisy, _ = sf.read(out / "dev" / "speech_unseen" / "noisy" / row["file"])
        clean, _ = sf.read(out / "dev" / "speech_unseen" / "clean" / row["file"])
        assert len(noisy) == 6 * RATE
        if row["noise_kind"] == "none":
            assert row["snr_db"] == "inf" and np.allclose(noisy, clean, atol=1e-4)
        else:
            assert float(row["snr_db"]) in UNSEEN_SNRS and not np.allclose(noisy, clean, atol=1e-3)
    rebuilt = build_corpus(out, prefix, kinds=("packages",), dev_unseen=16, screen=False)["files"]
    assert len(rebuilt) == len(manifest)  # a rebuild lists each file once


def test_rooms_of_the_unseen_set_differ_from_training_rooms():
    from audiodiff.data.mixing import (
        TRAINING_ROOMS,
        UNSEEN_ROOMS,
        room_impulse_response,
    )

    small, large = UNSEEN_ROOMS
    floor = (0, 1)  # length and width: smaller than every training room, or larger
    assert all(small.largest[i] < TRAINING_ROOMS.smallest[i] < TRAINING_ROOMS.largest[i] < large.smallest[i]
               for i in floor)
    tail = {name: room_impulse_response(3, RATE, rooms).shape[-1] for name, rooms in
            (("small", small), ("training", TRAINING_ROOMS), ("large", large))}
    assert tail["small"] < tail["large"]
    assert torch.isfinite(room_impulse_response(3, RATE, large)).all()
