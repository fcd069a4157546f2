"""Recorded sound in Debian packages beyond the core sources: game ambiences, machines, effects and
soundtracks (background noise for speech), and voices. One table says, per package, which files are
which kind of noise, and whether the package trains or is kept for the unseen-sources dev set.

A package is either in ``TRAINING`` or in ``UNSEEN``, never both: the unseen-sources dev set
(``dev/speech_unseen``) measures what the model does on recordings from packages it never heard,
as the product is judged (leave-sources-out). A test checks that the two are disjoint.
"""

from __future__ import annotations

import fnmatch
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from audiodiff.audio import AudioError, load_audio, resample
from audiodiff.data.reserved import is_reserved

AUDIO_SUFFIXES = (".ogg", ".wav", ".flac", ".oga", ".mp3")


@dataclass(frozen=True)
class Recording:
    """One audio file of a package: the file at ``path``, or the ``member`` of the zip archive at
    ``path`` (games ship their sound packed: 0 A.D.'s ``public.zip``, UFO: AI's ``.pk3``).
    ``rel`` names it inside the package folder (the member path inside an archive)."""

    rel: str
    path: Path
    member: str = ""

    def _open(self):
        if not self.member:
            return str(self.path)
        with zipfile.ZipFile(self.path) as archive:
            return io.BytesIO(archive.read(self.member))

    def rate(self) -> int:
        """The rate it was recorded at (0 if unreadable)."""
        try:
            return sf.info(self._open()).samplerate
        except Exception:  # noqa: BLE001 -- unreadable files are skipped by the caller
            return 0

    def load(self, sample_rate: int) -> torch.Tensor:
        """Mono ``[1, T]`` float32 at ``sample_rate``; :class:`~audiodiff.audio.AudioError` if unreadable."""
        if not self.member:
            return load_audio(self.path, sample_rate=sample_rate, channels=1)[0]
        name = f"{self.path}:{self.member}"
        try:
            wav, rate = sf.read(self._open(), dtype="float32", always_2d=True)
        except Exception as err:  # noqa: BLE001 -- libsndfile's own words explain the problem
            raise AudioError(f"{name}: not an audio file (libsndfile: {err})") from None
        if not len(wav):
            raise AudioError(f"{name}: no samples")
        if not np.isfinite(wav).all():
            raise AudioError(f"{name}: NaN or infinite samples")
        return resample(torch.from_numpy(wav.T.mean(0, keepdims=True)), rate, sample_rate)


def _matches(name: str, pattern: str) -> bool:
    """Glob match of a whole ``/``-separated ``name``: ``*`` stays within one path part, as in
    Path.glob; ``**`` (any depth) is not supported inside archives."""
    if "**" in pattern:
        raise ValueError(f"archive pattern {pattern!r}: '**' is not supported; name each level")
    parts, wanted = name.split("/"), pattern.split("/")
    return len(parts) == len(wanted) and all(fnmatch.fnmatchcase(p, w) for p, w in zip(parts, wanted))


@dataclass(frozen=True)
class SoundFolder:
    """Files of one kind in one package: ``root`` (under the install prefix) and glob ``patterns``
    relative to it, or to the zip ``archive`` under it when the package packs its sound; names
    containing any of ``exclude`` are left out (voices among effects, jingles).

    ``kind`` is ``noise`` or ``speech``; ``noise_kind`` labels the noise in dev pair tables
    (``ambience``, ``machine``, ``effects``, ``music``, ...).
    """

    package: str
    root: str
    patterns: tuple[str, ...]
    kind: str = "noise"
    noise_kind: str = "effects"
    exclude: tuple[str, ...] = ()
    archive: str = ""

    def files(self, prefix: Path) -> list[Recording]:
        """Every matching, non-reserved audio file, sorted by name."""
        root = Path(prefix) / self.root
        if self.archive:
            path = root / self.archive
            names = []
            if path.is_file():
                with zipfile.ZipFile(path) as archive:
                    names = archive.namelist()
            found = [Recording(name, path, name) for name in names
                     if any(_matches(name, pattern) for pattern in self.patterns)]
        else:
            found = [Recording(p.relative_to(root).as_posix(), p)
                     for p in {p for pattern in self.patterns for p in root.glob(pattern) if p.is_file()}]
        return sorted((r for r in found if Path(r.rel).suffix.lower() in AUDIO_SUFFIXES
                       and not any(word in r.rel.lower() for word in self.exclude)
                       and not is_reserved(self.package, r.rel)), key=lambda r: r.rel)


GAMES = "usr/share/games"
SCORCHED_MACHINE_NAMES = ("f16", "f18", "jet", "t38", "apache", "cessna", "helicopter", "factoryloop")
SCORCHED_MACHINES = tuple(f"*/data/wav/misc/{name}*.wav" for name in SCORCHED_MACHINE_NAMES) + ("*/data/wav/movement/*.wav",)
"""Scorched 3D's engines, aircraft and factory loops (the rest of its ``misc`` sounds are ambiences)."""
UFOAI_MACHINE_NAMES = ("alien-device", "alien-generator", "alien-ventilation", "alien_engine", "alienenergy",
                       "alienmachinery", "alienpowermachinery", "engine_alien", "hum", "machine1", "minepump",
                       "wind_turbine", "lights_loop", "droning", "steam", "tv_static")
UFOAI_MACHINES = tuple(f"sound/ambience/{name}*.ogg" for name in UFOAI_MACHINE_NAMES) + ("sound/ugv/*.ogg",)
"""UFO: Alien Invasion's generators, ventilation, engines, pumps, hum and static (its other ambience
loops are fire, water, wind, insects, cities; radio and TV voices, disco and jingles are left out)."""
TRAINING: tuple[SoundFolder, ...] = (
    SoundFolder("wesnoth-1.16-music", f"{GAMES}/wesnoth/1.16/data/core/music", ("*.ogg",), noise_kind="music"),
    SoundFolder("wesnoth-1.16-data", f"{GAMES}/wesnoth/1.16/data/core/sounds", ("ambient/*.ogg",),
                noise_kind="ambience"),
    SoundFolder("wesnoth-1.16-data", f"{GAMES}/wesnoth/1.16/data/core/sounds", ("*.ogg", "*.wav")),
    SoundFolder("hedgewars-data", f"{GAMES}/hedgewars/Data", ("Music/*.ogg",), noise_kind="music"),
    SoundFolder("hedgewars-data", f"{GAMES}/hedgewars/Data", ("Sounds/*.ogg",)),  # not Sounds/voices/
    SoundFolder("supertux-data", f"{GAMES}/supertux2", ("music/*/*.ogg",), noise_kind="music"),
    SoundFolder("supertux-data", f"{GAMES}/supertux2", ("sounds/*.ogg", "sounds/*.wav")),
    SoundFolder("colobot-common-sounds", f"{GAMES}/colobot", ("music/*.ogg",), noise_kind="music"),
    SoundFolder("colobot-common-sounds", f"{GAMES}/colobot", ("sounds/*.wav",)),
    SoundFolder("marsshooter-data", f"{GAMES}/marsshooter/audio", ("music/*.ogg",), noise_kind="music"),
    SoundFolder("marsshooter-data", f"{GAMES}/marsshooter/audio", ("toon/*.wav",)),
    SoundFolder("warmux-data", f"{GAMES}/warmux", ("music/*/*.ogg",), noise_kind="music"),
    SoundFolder("warmux-data", f"{GAMES}/warmux", ("sound/default/misc/*.ogg", "sound/default/weapons/*.ogg")),
    SoundFolder("openclonk-data", f"{GAMES}/openclonk", ("Music.ocg/*.ogg",), noise_kind="music"),
    SoundFolder("megaglest-data", f"{GAMES}/megaglest", ("data/core/water_sounds/*.wav",), noise_kind="ambience"),
    SoundFolder("megaglest-data", f"{GAMES}/megaglest", ("techs/*/commondata/sounds/*.wav",
                                                          "techs/*/factions/*/units/*/sounds/*.wav")),
    SoundFolder("lincity-ng-data", f"{GAMES}/lincity-ng", ("music/*/*.ogg",), noise_kind="music"),
    SoundFolder("lincity-ng-data", f"{GAMES}/lincity-ng", ("sounds/*.wav",)),
    SoundFolder("freecol", f"{GAMES}/freecol", ("*/resources/music/*/*.ogg",), noise_kind="music"),
    SoundFolder("freecol", f"{GAMES}/freecol", ("*/resources/sound/*/*.ogg", "*/resources/sound/*.ogg")),
    SoundFolder("scorched3d-data", f"{GAMES}/scorched3d/data/globalmods", SCORCHED_MACHINES, noise_kind="machine"),
    SoundFolder("scorched3d-data", f"{GAMES}/scorched3d/data/globalmods", ("*/data/wav/misc/*.wav",),
                noise_kind="ambience", exclude=SCORCHED_MACHINE_NAMES + ("fight4life", "scream")),
    SoundFolder("0ad-data", f"{GAMES}/0ad/mods/public", ("audio/ambient/*/*.ogg",), noise_kind="ambience",
                archive="public.zip"),  # rain, wind, snowstorm, rivers, waves, markets, ports, farms, days
    SoundFolder("ufoai-sound", f"{GAMES}/ufoai/base", UFOAI_MACHINES, noise_kind="machine", archive="0snd.pk3"),
    SoundFolder("ufoai-sound", f"{GAMES}/ufoai/base", ("sound/ambience/*.ogg",), noise_kind="ambience",
                exclude=UFOAI_MACHINE_NAMES + ("radiomessage", "tv_news", "disco", "jingle", "aliencom"),
                archive="0snd.pk3"),
    SoundFolder("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps", ("**/*.ogg", "**/*.wav"),
                exclude=("_desc",)),  # the spoken descriptions are speech:
    SoundFolder("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps", ("**/*_desc*.ogg",), kind="speech"),
    SoundFolder("klettres-data", "usr/share/klettres", ("*/alpha/*.ogg", "*/syllab/*.ogg"), kind="speech"),
)
"""Recorded noise for training (about 10.5 hours: game soundtracks as background music, effects,
ambiences and machines, 53 minutes of the last two packed inside 0 A.D.'s and UFO: AI's archives)
and voices (Tux Paint's stamp descriptions read in 13 languages, 2.9 hours; KLettres' letters and
syllables read by native speakers of some 20 languages, 51 minutes)."""

UNSEEN: tuple[SoundFolder, ...] = (
    SoundFolder("flightgear-data-base", f"{GAMES}/flightgear", ("Sounds/*.wav", "Aircraft/*/Sounds/*.wav"),
                noise_kind="machine"),
    SoundFolder("torcs-data", f"{GAMES}/torcs", ("data/sound/*.wav",), noise_kind="machine"),
    SoundFolder("supertuxkart-data", f"{GAMES}/supertuxkart/data", ("tracks/*/*.ogg",), noise_kind="ambience"),
    SoundFolder("redeclipse-data", f"{GAMES}/redeclipse/data/sounds", ("ambience/*.ogg", "ambience/*/*.ogg"),
                noise_kind="ambience"),
    SoundFolder("supertuxkart-data", f"{GAMES}/supertuxkart/data", ("sfx/*.ogg",)),
    SoundFolder("widelands-data", f"{GAMES}/widelands/data", ("sound/*/*.ogg", "sound/*/*/*.ogg")),
    SoundFolder("naev-data", "usr/share/naev", ("dat/snd/music/*.ogg",), noise_kind="music"),
    SoundFolder("supertuxkart-data", f"{GAMES}/supertuxkart/data", ("music/*.ogg",), noise_kind="music"),
    SoundFolder("ktuberling-data", "usr/share/ktuberling/sounds", ("*/*.ogg", "*/*.wav"), kind="speech"),
)
"""Packages kept out of training for the unseen-sources dev set: engines, aircraft, wind and rain
(machine), race-track and Red Eclipse ambiences (winds, forest, water, crowds), game effects, soundtracks, and KTuberling's words read in some 18
languages (voices, and babble made of them)."""


def packages(folders: tuple[SoundFolder, ...]) -> set[str]:
    return {folder.package for folder in folders}


MIN_DYNAMIC_RANGE_DB = 30.0
"""Voices kept for training and the dev sets: the loudest 20 ms frames at least this far above the
quietest (95th against 5th percentile of frame energy). A recording with a noisy floor (many of the
volunteer recordings) would teach a model to keep noise, and as a reference it would score the
removal of that noise as damage. Studio prompts reach 35-60 dB; Tux Paint's French, Dutch and
Danish readings sit near 20 dB."""


def dynamic_range_db(wav, sample_rate: int) -> float:
    """95th over 5th percentile of the 20 ms frame energies of ``[T]`` audio, in dB."""
    x = np.asarray(wav, dtype=np.float64).reshape(-1)
    n = int(0.02 * sample_rate)
    frames = x[: len(x) // n * n].reshape(-1, n)
    if len(frames) < 2:
        return 0.0
    energy = (frames**2).mean(1) + 1e-12
    return float(10 * np.log10(np.percentile(energy, 95) / np.percentile(energy, 5)))


def keep_quiet_floor(paths: list[Path], rejected: Path) -> list[Path]:
    """The voices in ``paths`` whose :func:`dynamic_range_db` reaches ``MIN_DYNAMIC_RANGE_DB``; the
    others are moved to ``rejected/``."""
    kept = []
    for path in paths:
        wav, rate = sf.read(str(path), dtype="float32")
        if dynamic_range_db(wav, rate) >= MIN_DYNAMIC_RANGE_DB:
            kept.append(path)
        else:
            rejected.mkdir(parents=True, exist_ok=True)
            path.replace(rejected / path.name)
    return kept


def items(prefix: Path, folders: tuple[SoundFolder, ...], kind: str, min_rate: int = 0) -> dict[str, list]:
    """:class:`~audiodiff.data.sources.Item` records of ``kind`` in ``folders``, grouped by noise kind
    (speech: one group, ``speech``); speech recorded below ``min_rate`` is left out (band-limited)."""
    from audiodiff.data.sources import Item

    groups: dict[str, list] = {}
    for folder in folders:
        if folder.kind != kind:
            continue
        for recording in folder.files(prefix):
            if kind == "speech" and recording.rate() < min_rate:
                continue
            item = Item(f"{folder.package}/{recording.rel}", folder.package, kind, recording.load, recording.rel)
            groups.setdefault(folder.noise_kind if kind == "noise" else "speech", []).append(item)
    return groups
