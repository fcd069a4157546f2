"""Clean English speech synthesised offline: flite and Festival voices reading sentences taken from
the licence texts every Debian system ships (``/usr/share/common-licenses``, package base-files).

Recorded dialogue always carries some room and background of its own; synthetic speech is the one
source here whose "clean" really is clean, and it adds six more (English) voices to the corpus.
The Harvard sentences that evaluation sets use are never read: the text comes from the licences
only, and any sentence on the reserved list is dropped all the same. Engines run from ``prefix`` (``/`` on a real system, a fixture tree in the tests).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import torch

from audiodiff.audio import AudioError, load_audio
from audiodiff.data.reserved import is_reserved

LICENSES = "usr/share/common-licenses"
LICENSE_FILES = ("GPL-3", "Apache-2.0", "MPL-2.0", "GFDL-1.3", "LGPL-3", "Artistic")
FLITE = "usr/bin/flite"
TEXT2WAVE = "usr/bin/text2wave"
FESTIVAL_VOICES = "usr/share/festival/voices/english"
# (engine, voice, Debian package that provides it)
VOICES = (
    ("flite", "kal16", "flite"), ("flite", "awb", "flite"), ("flite", "rms", "flite"), ("flite", "slt", "flite"),
    ("festival", "kal_diphone", "festvox-kallpc16k"), ("festival", "ked_diphone", "festvox-kdlpc16k"),
)
SENTENCES_PER_VOICE = 60
MIN_WORDS, MAX_WORDS = 8, 30


def license_sentences(prefix: Path) -> list[str]:
    """Plain sentences of ``MIN_WORDS``..``MAX_WORDS`` words from the licence texts, in file order,
    without repeats (sentences full of section numbers, URLs or capitals are left out)."""
    seen, out = set(), []
    for name in LICENSE_FILES:
        path = Path(prefix) / LICENSES / name
        if not path.is_file():
            continue
        text = " ".join(path.read_text(errors="replace").split())
        for sentence in re.split(r"(?<=[.;:!?])\s+", text):
            sentence = sentence.strip(" \"'()-")
            words = sentence.split()
            if not MIN_WORDS <= len(words) <= MAX_WORDS:
                continue
            if re.search(r"[0-9<>/_@#=*\[\]{}|]", sentence) or sum(w.isupper() and len(w) > 1 for w in words) > 2:
                continue
            if sentence.lower() not in seen and not is_reserved("text", sentence):
                seen.add(sentence.lower())
                out.append(sentence)
    return out


def available_voices(prefix: Path) -> list[tuple[str, str, str]]:
    """The voices of :data:`VOICES` whose engine (and Festival voice folder) exist under ``prefix``."""
    prefix = Path(prefix)
    found = []
    for engine, voice, package in VOICES:
        if engine == "flite" and (prefix / FLITE).is_file():
            found.append((engine, voice, package))
        elif engine == "festival" and (prefix / TEXT2WAVE).is_file() and (prefix / FESTIVAL_VOICES / voice).is_dir():
            found.append((engine, voice, package))
    return found


def synthesise(prefix: Path, engine: str, voice: str, text: str, sample_rate: int) -> torch.Tensor:
    """Speak ``text`` with one voice; mono ``[1, T]`` float32 at ``sample_rate``."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        if engine == "flite":
            cmd = [str(Path(prefix) / FLITE), "-voice", voice, "-t", text, "-o", str(wav)]
            stdin = None
        elif engine == "festival":
            cmd = [str(Path(prefix) / TEXT2WAVE), "-eval", f"(voice_{voice})", "-o", str(wav)]
            stdin = text.encode()
        else:
            raise ValueError(f"unknown TTS engine {engine!r}")
        try:
            done = subprocess.run(cmd, input=stdin, capture_output=True, check=False, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise AudioError(f"{engine} voice {voice}: synthesis failed ({err})") from None
        if done.returncode != 0 or not wav.is_file():
            raise AudioError(f"{engine} voice {voice}: synthesis failed ({done.stderr.decode(errors='replace').strip()})")
        return load_audio(wav, sample_rate=sample_rate, channels=1)[0]


def _loader(prefix: Path, engine: str, voice: str, text: str) -> Callable[[int], torch.Tensor]:
    return lambda sample_rate: synthesise(prefix, engine, voice, text, sample_rate)


def utterances(prefix: Path, per_voice: int = SENTENCES_PER_VOICE):
    """``(id, package, text, load)`` per utterance, ``id`` = ``tts/<engine>-<voice>/<n>``: sentence
    ``n`` of the licence texts goes to voice ``n mod len(VOICES)``, so every voice reads different
    text (``per_voice`` sentences each); voices that are not installed are left out."""
    voices = available_voices(prefix)
    sentences = license_sentences(prefix)[: per_voice * len(VOICES)] if voices else []
    out = []
    for n, text in enumerate(sentences):
        engine, voice, package = VOICES[n % len(VOICES)]
        if (engine, voice, package) in voices:
            out.append((f"tts/{engine}-{voice}/{n:04d}", package, text, _loader(prefix, engine, voice, text)))
    return out
