"""Text for speech: written forms read as words, sentences, and espeak-ng's rendering of them.

``normalize`` reads English numbers, ordinals, decimals, negative numbers, percentages, currency,
clock times, ISO dates, years, decades, phone numbers and common abbreviations as words (PyPI
``num2words``; espeak-ng reads its other languages' own); ``sentences`` splits a
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


ABBREVIATIONS = {"Mr.": "Mister", "Mrs.": "Missus", "Ms.": "Miz", "Dr.": "Doctor", "Prof.": "Professor",
                 "Jr.": "Junior", "Sr.": "Senior", "vs.": "versus", "etc.": "et cetera", "e.g.": "for example",
                 "i.e.": "that is", "approx.": "approximately", "Dept.": "Department", "ext.": "extension",
                 "Ext.": "Extension", "Tel.": "Telephone", "Ave.": "Avenue"}
"""English abbreviations read as words (case as written; ``No.`` before a number and ``St.`` are
handled apart)."""
TITLES = ("Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Jr", "Sr")  # their period never ends a sentence
CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
              "£": ("pound", "pounds", "penny", "pence")}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
YEAR = r"(?:1[1-9]\d\d|20\d\d)"


def _cardinal(digits: str) -> str:
    """An integer written in digits (thousands separated by commas or not) read in English words;
    one too long for words digit by digit."""
    from num2words import num2words

    plain = digits.replace(",", "")
    try:
        if len(plain) > 15:  # an identifier, not an amount
            raise OverflowError
        return num2words(int(plain))
    except (OverflowError, KeyError, NotImplementedError, ValueError):
        return " ".join(num2words(int(d)) for d in plain)


def _number(written: str) -> str:
    """An integer or decimal as words: ``3.14`` three point one four, ``2.50`` two point five zero."""
    whole, _, fraction = written.partition(".")
    said = _cardinal(whole) if whole else ""
    if fraction:
        said += " point " + " ".join(_cardinal(d) for d in fraction)
    return said.strip()


def _money(match: re.Match) -> str:
    """``$5`` five dollars, ``$5.20`` five dollars and twenty cents, ``£1`` one pound."""
    one, many, cent, cents = CURRENCIES[match[1]]
    whole, fraction = match[2].replace(",", ""), match[3]
    said = f"{_cardinal(whole)} {one if int(whole) == 1 else many}"
    if fraction and int(fraction):
        fraction = fraction.ljust(2, "0")
        said += f" and {_cardinal(fraction)} {cent if int(fraction) == 1 else cents}"
    return said


def _clock(match: re.Match) -> str:
    """``10:30`` ten thirty, ``9:05 pm`` nine oh five P.M., ``7:00`` seven o'clock, ``18:00`` eighteen hundred."""
    hours, minutes, half = match[1], match[2], match[3]
    if int(hours) > 24 or int(minutes) > 59:
        return match[0]
    if minutes == "00":
        said = f"{_cardinal(hours)} o'clock" if half or int(hours) <= 12 else f"{_cardinal(hours)} hundred"
    else:
        said = f"{_cardinal(hours)} {'oh ' if minutes[0] == '0' else ''}{_cardinal(minutes.lstrip('0'))}"
    return f"{said} {half.upper()}.M." if half else said


def _year(digits: str) -> str:
    from num2words import num2words

    return num2words(int(digits), to="year")


def _decade(match: re.Match) -> str:
    """``1990s`` nineteen nineties, ``80s`` eighties."""
    said = _year(match[1]) if len(match[1]) == 4 else _cardinal(match[1])
    return said[:-1] + "ies" if said.endswith("y") else said + "s"


def _date(match: re.Match) -> str:
    from num2words import num2words

    year, month, day = match[1], int(match[2]), int(match[3])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return match[0]
    return f"{MONTHS[month - 1]} {num2words(day, to='ordinal')}, {_year(year)}"


def expand_abbreviations(text: str) -> str:
    """English abbreviations and dotted initials (``U.S.``) as words, so their periods end nothing."""
    text = re.sub(r"\bNo\.\s*(?=\d)", "number ", text)
    text = re.sub(r"\bSt\.(?=\s+[A-Z])", "Saint", text)  # St. Louis; Elm St. (no name after it)
    text = re.sub(r"\bSt\.", "Street", text)
    for short, long in ABBREVIATIONS.items():
        text = re.sub(rf"(?<![\w.]){re.escape(short)}(?=[\s,;:)]|$)", long, text)
    return re.sub(r"\b((?:[A-Z]\.){2,})", lambda m: " ".join(m[1].split(".")).strip(), text)


def normalize(text: str, lang: str = "en") -> str:
    """``text`` with its written forms as words (English; espeak-ng reads its other languages'
    numbers, dates and symbols itself), symbols and emoji dropped, spaces collapsed."""
    from num2words import num2words

    if lang == "en":
        text = expand_abbreviations(text)
        text = re.sub(r"\b(\d{4})-(\d{2})-(\d{2})\b", _date, text)
        text = re.sub(r"\b(\d{1,2}):(\d{2})(?:\s*([ap])(?:\.m\.|m\b))?", _clock, text, flags=re.I)
        text = re.sub(r"([$€£])\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?(?!\d)", _money, text)
        text = re.sub(r"(\d+(?:\.\d+)?)\s?%", lambda m: f"{_number(m[1])} percent", text)
        text = re.sub(rf"\b({YEAR})\s*[-–]\s*({YEAR})\b", lambda m: f"{_year(m[1])} to {_year(m[2])}", text)
        text = re.sub(rf"\b(in|since|by|until|from|of|year|circa|around|before|after)\s+({YEAR})\b",
                      lambda m: f"{m[1]} {_year(m[2])}", text, flags=re.I)
        text = re.sub(r"\b(\d{4}|\d0)s\b", _decade, text)
        text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: num2words(int(m[1]), to="ordinal"), text)
        text = re.sub(r"\b\d+(?:-\d+)+\b", lambda m: ", ".join(" ".join(_cardinal(d) for d in group)
                                                                for group in m[0].split("-")), text)  # phone numbers
        text = re.sub(r"(?<![\w])[-−](?=\d)", "minus ", text)
        text = re.sub(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])|(?<![\w\d])\.\d+(?![\w])",
                      lambda m: _number(m[0]), text)
    kept = "".join(c if unicodedata.category(c)[0] in "LMNPZ" else " " for c in text)  # no emoji, no symbols
    return re.sub(r"\s+([.,!?;:])", r"\1", re.sub(r"\s+", " ", kept)).strip()


def pronounceable(text: str) -> bool:
    """Whether ``text`` has a letter or a digit to read."""
    return any(unicodedata.category(c)[0] in "LN" for c in text)


def sentences(text: str, lang: str = "en") -> list[str]:
    """The sentences of ``text``, normalized: split after ``.``, ``!`` or ``?`` and at blank lines
    (a single line break is a space), not after a title (``Dr.``) or an English abbreviation;
    ones with nothing pronounceable are dropped."""
    pieces = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if lang == "en":
            paragraph = expand_abbreviations(paragraph)
        current = ""
        for part in re.split(r"(?<=[.!?])\s+", paragraph):
            current = f"{current} {part}".strip()
            if re.search(rf"\b(?:{'|'.join(TITLES)})\.$", current):
                continue  # a title does not end a sentence
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
    done = subprocess.run([check_espeak(), "-v", voice, "-s", str(words_per_minute), "--stdout", "--stdin"],
                          input=sentence.encode("utf-8"), capture_output=True, check=False)  # "-5" is no option
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
