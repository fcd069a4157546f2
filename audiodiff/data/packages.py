"""Recorded sound in Debian packages beyond the core sources: game ambiences, machines, effects and
soundtracks (background noise for speech), and voices. One table says, per package, which files are
which kind of noise, and whether the package trains or is kept for the unseen-sources dev set.

A package is either in ``TRAINING`` or in ``UNSEEN``, never both: the unseen-sources dev set
(``dev/speech_unseen``) measures what the model does on recordings from packages it never heard,
as the product is judged (leave-sources-out). A test checks that the two are disjoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audiodiff.data.reserved import is_reserved

AUDIO_SUFFIXES = (".ogg", ".wav", ".flac", ".oga", ".mp3")


@dataclass(frozen=True)
class SoundFolder:
    """Files of one kind in one package: ``root`` (under the install prefix) and glob ``patterns``
    relative to it; names containing any of ``exclude`` are left out (voices among effects, jingles).

    ``kind`` is ``noise`` or ``speech``; ``noise_kind`` labels the noise in dev pair tables
    (``ambience``, ``machine``, ``effects``, ``music``, ...).
    """

    package: str
    root: str
    patterns: tuple[str, ...]
    kind: str = "noise"
    noise_kind: str = "effects"
    exclude: tuple[str, ...] = ()

    def files(self, prefix: Path) -> list[tuple[str, Path]]:
        """``(path relative to root, absolute path)`` of every matching, non-reserved audio file, sorted."""
        root = Path(prefix) / self.root
        found = {p for pattern in self.patterns for p in root.glob(pattern)
                 if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES}
        out = []
        for path in sorted(found):
            rel = path.relative_to(root).as_posix()
            if any(word in rel.lower() for word in self.exclude) or is_reserved(self.package, rel):
                continue
            out.append((rel, path))
        return out


GAMES = "usr/share/games"
SCORCHED_MACHINE_NAMES = ("f16", "f18", "jet", "t38", "apache", "cessna", "helicopter", "factoryloop")
SCORCHED_MACHINES = tuple(f"*/data/wav/misc/{name}*.wav" for name in SCORCHED_MACHINE_NAMES) + ("*/data/wav/movement/*.wav",)
"""Scorched 3D's engines, aircraft and factory loops (the rest of its ``misc`` sounds are ambiences)."""
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
    SoundFolder("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps", ("**/*.ogg", "**/*.wav"),
                exclude=("_desc",)),  # the spoken descriptions are speech:
    SoundFolder("tuxpaint-stamps-default", "usr/share/tuxpaint/stamps", ("**/*_desc*.ogg",), kind="speech"),
    SoundFolder("klettres-data", "usr/share/klettres", ("*/alpha/*.ogg", "*/syllab/*.ogg"), kind="speech"),
)
"""Recorded noise for training (about 10 hours: game soundtracks as background music, effects,
ambiences) and voices (Tux Paint's stamp descriptions read in 13 languages, 2.9 hours; KLettres'
letters and syllables read by native speakers of some 20 languages, 51 minutes)."""

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
    import numpy as np

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
    import soundfile as sf

    kept = []
    for path in paths:
        wav, rate = sf.read(str(path), dtype="float32")
        if dynamic_range_db(wav, rate) >= MIN_DYNAMIC_RANGE_DB:
            kept.append(path)
        else:
            rejected.mkdir(parents=True, exist_ok=True)
            path.replace(rejected / path.name)
    return kept


def native_rate(path: Path) -> int:
    """The sample rate a file was recorded at (0 if unreadable)."""
    import soundfile as sf

    try:
        return sf.info(str(path)).samplerate
    except Exception:  # noqa: BLE001 -- unreadable files are skipped by the caller
        return 0


def items(prefix: Path, folders: tuple[SoundFolder, ...], kind: str, min_rate: int = 0) -> dict[str, list]:
    """:class:`~audiodiff.data.sources.Item` records of ``kind`` in ``folders``, grouped by noise kind
    (speech: one group, ``speech``); speech recorded below ``min_rate`` is left out (band-limited)."""
    from audiodiff.data.sources import Item, file_loader

    groups: dict[str, list] = {}
    for folder in folders:
        if folder.kind != kind:
            continue
        for rel, path in folder.files(prefix):
            if kind == "speech" and native_rate(path) < min_rate:
                continue
            item = Item(f"{folder.package}/{rel}", folder.package, kind, file_loader(path), rel)
            groups.setdefault(folder.noise_kind if kind == "noise" else "speech", []).append(item)
    return groups
