"""Text for speech: written forms read as words, sentences, and espeak-ng's rendering of them.

``normalize`` reads numbers, ordinals, decimals, percentages, currency, clock times, ISO dates and
common abbreviations as words (PyPI ``num2words``, in the voice's language); ``sentences`` splits a
text where a sentence ends (not after an abbreviation); ``render`` speaks a sentence with espeak-ng,
the rule-based engine whose phonemes and timing a text-to-speech model starts from.
Text with nothing pronounceable is a :class:`TextError`; emoji and symbols are dropped.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata

import numpy as np

ESPEAK_RATE = 22_050  # espeak-ng's output rate
ESPEAK_VOICES = {"en": "en-us", "es": "es-419", "fr": "fr", "it": "it", "ru": "ru"}
"""espeak-ng's voice for each language the shipped voices speak."""


class TextError(ValueError):
    """Text that cannot be spoken (nothing pronounceable, or no engine to speak it)."""


ABBREVIATIONS = {
    "en": {"mr.": "mister", "mrs.": "missus", "ms.": "miss", "dr.": "doctor", "prof.": "professor",
           "jr.": "junior", "sr.": "senior", "vs.": "versus", "etc.": "et cetera", "e.g.": "for example",
           "i.e.": "that is", "no.": "number", "approx.": "approximately", "dept.": "department",
           "min.": "minutes", "sec.": "seconds", "ext.": "extension", "tel.": "telephone", "ave.": "avenue"},
}
CURRENCIES = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"


def _words(value: str, lang: str, to: str = "cardinal", **kwargs) -> str:
    from num2words import num2words

    number = float(value.replace(",", "")) if "." in value else int(value.replace(",", ""))
    try:
        return num2words(number, lang=lang, to=to, **kwargs)
    except NotImplementedError:
        return num2words(number, lang=lang)


def _clock(match: re.Match, words) -> str:
    """``10:30`` ten thirty, ``9:05 pm`` nine oh five P M, ``7:00`` seven o'clock (``18:00``: eighteen hundred)."""
    hours, minutes, half = match[1], match[2], match[3]
    if minutes == "00":
        said = f"{words(hours)} o'clock" if half or int(hours) <= 12 else f"{words(hours)} hundred"
    else:
        said = f"{words(hours)} {'oh ' if minutes[0] == '0' else ''}{words(minutes.lstrip('0'))}"
    return f"{said} {half.upper()} M" if half else said


def normalize(text: str, lang: str = "en") -> str:
    """``text`` with its written forms as words, symbols and emoji dropped, spaces collapsed."""
    words = lambda value, **kw: _words(value, lang, **kw)  # noqa: E731
    if lang == "en":
        text = re.sub(r"\bSt\.(?=\s+[A-Z])", "Saint", text)  # St. Louis; Elm St. (no name after it)
        text = re.sub(r"\bSt\.", "Street", text)
        for short, long in ABBREVIATIONS["en"].items():
            text = re.sub(rf"(?i)(?<![\w.]){re.escape(short)}(?=\s|$)", long, text)
        text = re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", lambda m: (
            f"{MONTHS[int(m[2]) - 1]} {words(m[3], to='ordinal')}, {words(m[1], to='year')}"
            if 1 <= int(m[2]) <= 12 and 1 <= int(m[3]) <= 31 else m[0]), text)
        text = re.sub(r"\b(\d{1,2}):(\d{2})(?:\s*([ap])(?:\.m\.|m\b))?", lambda m: _clock(m, words), text, flags=re.I)
        text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: words(m[1], to="ordinal"), text)
        text = re.sub(r"\b(1[1-9]\d\d|20\d\d)\b(?![.,]\d)", lambda m: words(m[1], to="year"), text)
    text = re.sub(rf"([$€£¥])\s?({NUMBER})", lambda m: words(m[2], to="currency", currency=CURRENCIES[m[1]]), text)
    text = re.sub(rf"({NUMBER})\s?%", lambda m: f"{words(m[1])} {'percent' if lang == 'en' else '%'}", text)
    text = re.sub(NUMBER, lambda m: words(m[0]), text)
    kept = "".join(c if unicodedata.category(c)[0] in "LMNPZ" else " " for c in text)  # no emoji, no symbols
    return re.sub(r"\s+([.,!?;:])", r"\1", re.sub(r"\s+", " ", kept)).strip()


def pronounceable(text: str) -> bool:
    """Whether ``text`` has a letter or a digit to read."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def sentences(text: str, lang: str = "en") -> list[str]:
    """The sentences of ``text`` (split after ``.``, ``!``, ``?`` or a line break, not after a
    known abbreviation), normalized; ones with nothing pronounceable are dropped."""
    known = {short.rstrip(".") for short in ABBREVIATIONS.get(lang, {})} | ({"st"} if lang == "en" else set())
    pieces, current = [], ""
    for part in re.split(r"(?<=[.!?])\s+|\n+", text.strip()):
        current = f"{current} {part}".strip()
        last = re.findall(r"(\w+)\.$", current)
        if last and last[0].lower() in known:
            continue  # "Dr." does not end a sentence
        pieces.append(current)
        current = ""
    if current:
        pieces.append(current)
    return [s for s in (normalize(p, lang) for p in pieces) if pronounceable(s)]


def check_espeak() -> str:
    """The espeak-ng executable; TextError if it is not installed."""
    found = shutil.which("espeak-ng")
    if found is None:
        raise TextError("text to speech needs espeak-ng: apt-get install espeak-ng")
    return found


def render(sentence: str, voice: str = "en-us", words_per_minute: int = 160) -> np.ndarray:
    """``sentence`` spoken by espeak-ng: ``[T]`` float32 at :data:`ESPEAK_RATE`."""
    import soundfile as sf

    if not pronounceable(sentence):
        raise TextError(f"nothing to pronounce in {sentence!r}")
    done = subprocess.run([check_espeak(), "-v", voice, "-s", str(words_per_minute), "--stdout", sentence],
                          capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        raise TextError(f"espeak-ng could not speak {sentence!r}: {done.stderr.decode(errors='replace').strip()}")
    wav, rate = sf.read(io.BytesIO(done.stdout), dtype="float32")
    assert rate == ESPEAK_RATE, rate
    return wav


def reading(text: str, lang: str, mel) -> "torch.Tensor":
    """espeak-ng's reading of ``text`` (normalized) as a log-mel ``[n_mels, M]`` of ``mel`` (a
    :class:`~audiodiff.representations.Mel`): what a text-to-speech model is given."""
    import torch

    from audiodiff.audio import resample

    spoken = torch.from_numpy(render(normalize(text, lang), ESPEAK_VOICES.get(lang, lang)))[None]
    return mel.encode(resample(spoken, ESPEAK_RATE, mel.sample_rate)[None])[0, 0]
