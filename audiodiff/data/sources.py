"""Offline audio sources: where the Debian packages put their audio, how to decode it, and which
files are reserved for evaluation (never used for training or validation).

Each source lists :class:`Item` records (a stable id, the package, a path, a loader). Roots are
absolute paths under ``prefix`` (``/`` on a real system; a fixture tree in the tests).
"""

from __future__ import annotations

import hashlib

import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from audiodiff.audio import AudioError, load_audio
from audiodiff.data import midi, tts
from audiodiff.data.reserved import is_reserved, reserved_list  # noqa: F401 (reserved_list re-exported)

FILLETS_SOUND = "usr/share/games/fillets-ng/sound"
FILLETS_MUSIC = "usr/share/games/fillets-ng/music"
ASTERISK_SOUNDS = "usr/share/asterisk/sounds"
# Asterisk's studio prompts, one professional voice per language (G.722, 16 kHz): package -> folder
ASTERISK_VOICES = {
    "asterisk-core-sounds-en-g722": f"{ASTERISK_SOUNDS}/en_US_f_Allison",
    "asterisk-core-sounds-es-g722": f"{ASTERISK_SOUNDS}/es_MX_f_Allison",
    "asterisk-core-sounds-fr-g722": f"{ASTERISK_SOUNDS}/fr_CA_f_June",
    "asterisk-core-sounds-it-g722": f"{ASTERISK_SOUNDS}/it_IT_m_Carlo",
    "asterisk-core-sounds-ru-g722": f"{ASTERISK_SOUNDS}/ru_RU_f_IvrvoiceRU",
}
ALLISON = ASTERISK_VOICES["asterisk-core-sounds-en-g722"]
# prompts that are signal tones, not speech (the same names in every language)
ASTERISK_TONES = frozenset({"beep", "beeperr", "ascending-2tone", "descending-2tone"})
MOH = "usr/share/asterisk/moh"
OPENSFX = "usr/share/games/openttd/baseset/opensfx/opensfx.cat"
SONIC_PI = "usr/share/sonic-pi/samples"
SONIC_PI_NOISE_PREFIXES = ("ambi_", "misc_", "vinyl_", "loop_", "glitch_")
G722_RATE = 16_000  # G.722 is wideband: nothing above 8 kHz

# Debian packages the corpus builder reads (apt-get install ...); ffmpeg decodes G.722.
DEBIAN_PACKAGES = {
    "fillets-ng-data-cs": FILLETS_SOUND,
    **ASTERISK_VOICES,
    "asterisk-moh-opsound-g722": MOH,
    "openttd-opensfx": OPENSFX,
    "sonic-pi-samples": SONIC_PI,
    "ffmpeg": "usr/bin/ffmpeg",
    "flite": tts.FLITE,
    "festival": tts.TEXT2WAVE,
    "festvox-kallpc16k": f"{tts.FESTIVAL_VOICES}/kal_diphone",
    "festvox-kdlpc16k": f"{tts.FESTIVAL_VOICES}/ked_diphone",
    "fluidsynth": midi.FLUIDSYNTH,
    **{package: path for package, path in midi.SOUNDFONTS.values()},
}


DEV_FRACTION = {"speech": 0.1, "noise": 0.2, "music": 0.2, "rendered": 0.15}
"""The share of each kind's sources held out of training (for the dev sets)."""


def held_out(key: str, fraction: float) -> bool:
    """Whether the source ``key`` (a file id, or a group's) is held out: a stable hash of the key
    (independent of which other files exist) below ``fraction``."""
    return hashlib.sha1(key.encode()).digest()[0] / 256 < fraction


@dataclass(frozen=True)
class Item:
    """One source recording: ``id`` is stable and unique (``package/relative/path``)."""

    id: str
    package: str
    kind: str  # speech | noise | music
    load: Callable[[int], torch.Tensor]  # sample_rate -> mono [1, T]
    key: str = ""  # what the reserved list names: path inside the package root, title or name
    native_rate: int | None = None  # sample rate of the recording itself, when it is band-limited by it
    midi: Callable[[], bytes] | None = None  # the MIDI a rendered item plays (written beside it as .mid)


def file_loader(path: Path) -> Callable[[int], torch.Tensor]:
    def load(sample_rate: int) -> torch.Tensor:
        return load_audio(path, sample_rate=sample_rate, channels=1)[0]

    return load


def decode_g722(path: Path, sample_rate: int) -> torch.Tensor:
    """Decode a raw G.722 file (16 kHz) with ffmpeg to mono ``[1, T]`` float32."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError(f"{path}: decoding G.722 needs ffmpeg (apt-get install ffmpeg)")
    cmd = [ffmpeg, "-v", "error", "-f", "g722", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(sample_rate), "-"]
    done = subprocess.run(cmd, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        raise AudioError(f"{path}: not decodable as G.722 ({done.stderr.decode(errors='replace').strip()})")
    return torch.from_numpy(np.frombuffer(done.stdout, dtype=np.float32).copy())[None]


def _g722_loader(path: Path) -> Callable[[int], torch.Tensor]:
    return lambda sample_rate: decode_g722(path, sample_rate)


def fillets_speech(prefix: Path) -> list[Item]:
    """Czech game dialogue: ``<level>/cs/*.ogg`` of every non-reserved level."""
    root = prefix / FILLETS_SOUND
    items = []
    for path in sorted(root.glob("*/cs/*.ogg")):
        rel = path.relative_to(root).as_posix()
        if not is_reserved("fillets-ng-data-cs", rel):
            items.append(Item(f"fillets-ng-data-cs/{rel}", "fillets-ng-data-cs", "speech", file_loader(path), rel))
    return items


def asterisk_speech(prefix: Path) -> list[Item]:
    """Asterisk's prompts in every installed language (``ASTERISK_VOICES``: five languages, four voices, G.722)
    minus the reserved files, the ``silence/`` folder (comfort noise) and the signal tones."""
    items = []
    for package, folder in ASTERISK_VOICES.items():
        root = prefix / folder
        for path in sorted(root.rglob("*.g722")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith("silence/") or path.stem in ASTERISK_TONES or is_reserved(package, rel):
                continue
            items.append(Item(f"{package}/{rel}", package, "speech", _g722_loader(path), rel))
    return items


def tts_speech(prefix: Path) -> list[Item]:
    """Synthetic English speech (flite and Festival voices reading licence texts): see ``tts``."""
    return [Item(uid, package, "speech", load, text) for uid, package, text, load in tts.utterances(prefix)]


def moh_music(prefix: Path) -> list[Item]:
    """Asterisk music-on-hold tracks (G.722, so nothing above 8 kHz) minus the reserved ones."""
    root = prefix / MOH
    return [
        Item(f"asterisk-moh-opsound-g722/{p.name}", "asterisk-moh-opsound-g722", "music", _g722_loader(p), p.name,
             native_rate=G722_RATE)
        for p in sorted(root.glob("*.g722"))
        if not is_reserved("asterisk-moh-opsound-g722", p.name)
    ]


def fillets_music(prefix: Path) -> list[Item]:
    """The game's soundtrack (Ogg); not on the reserved list."""
    root = prefix / FILLETS_MUSIC
    return [Item(f"fillets-ng-data/music/{p.name}", "fillets-ng-data", "music", file_loader(p), p.name)
            for p in sorted(root.glob("*.ogg"))]


def sonic_pi_noise(prefix: Path) -> list[Item]:
    """Sonic Pi ambience, loops and textures (FLAC) minus the reserved names."""
    root = prefix / SONIC_PI
    return [
        Item(f"sonic-pi-samples/{p.name}", "sonic-pi-samples", "noise", file_loader(p), p.name)
        for p in sorted(root.glob("*.flac"))
        if p.name.startswith(SONIC_PI_NOISE_PREFIXES) and not is_reserved("sonic-pi-samples", p.name)
    ]


def read_cat(path: Path) -> list[tuple[str, bytes]]:
    """Entries of an OpenTTD sound ``.cat``: ``(title, RIFF WAV bytes)``.

    Layout: a table of little-endian ``(offset | 0x80000000, size)`` pairs (the first offset / 8
    is the entry count); at each offset, a length byte, the NUL-terminated title, then the WAV.
    """
    data = path.read_bytes()
    count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
    entries = []
    for i in range(count):
        offset, size = struct.unpack_from("<II", data, 8 * i)
        offset &= 0x7FFFFFFF
        name_len = data[offset]
        title = data[offset + 1 : offset + 1 + name_len].rstrip(b"\0").decode("utf-8", errors="replace")
        entries.append((title, data[offset + 1 + name_len : offset + size]))
    return entries


def opensfx_noise(prefix: Path) -> list[Item]:
    """OpenSFX field recordings (RIFF WAVs inside one ``.cat``) minus the reserved titles."""
    path = prefix / OPENSFX
    if not path.is_file():
        return []
    items = []
    for index, (title, wav) in enumerate(read_cat(path)):
        if is_reserved("openttd-opensfx", title) or wav[:4] != b"RIFF":
            continue
        items.append(Item(f"openttd-opensfx/{index:02d}", "openttd-opensfx", "noise",
                          _bytes_loader(wav, f"{path}#{index}"), title))
    return items


def _bytes_loader(wav: bytes, label: str) -> Callable[[int], torch.Tensor]:
    def load(sample_rate: int) -> torch.Tensor:
        import io

        import soundfile as sf

        from audiodiff.audio import resample

        try:
            data, rate = sf.read(io.BytesIO(wav), dtype="float32", always_2d=True)
        except Exception as err:
            raise AudioError(f"{label}: not an audio file (libsndfile: {err})") from None
        return resample(torch.from_numpy(data.T.copy()).mean(0, keepdim=True), rate, sample_rate)

    return load


def rendered_music(prefix: Path) -> list[Item]:
    """Scores of the music21 corpus rendered by fluidsynth, each with its MIDI: see ``midi``."""
    return [Item(uid, "music21", "rendered", load, key, midi=score)
            for uid, key, load, score in midi.rendered_pieces(prefix)]


SOURCES = {
    "speech": (fillets_speech, asterisk_speech, tts_speech),
    "noise": (opensfx_noise, sonic_pi_noise),
    "music": (moh_music, fillets_music),
    "rendered": (rendered_music,),
}


def list_items(prefix: Path, kind: str) -> list[Item]:
    """All non-reserved items of one kind found under ``prefix``."""
    return [item for source in SOURCES[kind] for item in source(Path(prefix))]


def missing_packages(prefix: Path) -> list[str]:
    """Debian packages whose files are absent under ``prefix`` (ffmpeg: not on the PATH), and
    ``music21 (PyPI)`` when it is not installed."""
    missing = [pkg for pkg, rel in DEBIAN_PACKAGES.items()
               if not (shutil.which(pkg) if pkg == "ffmpeg" else (Path(prefix) / rel).exists())]
    return missing + ([] if midi.corpus_root(prefix) else ["music21 (PyPI)"])
