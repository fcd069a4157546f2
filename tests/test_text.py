"""The text front end of speech synthesis: written forms as words, sentences, espeak-ng."""

from __future__ import annotations

import shutil

import pytest

from audiodiff.text import ESPEAK_RATE, TextError, normalize, pronounceable, render, sentences


@pytest.mark.parametrize("written, said", [
    ("It costs $5.20.", "It costs five dollars, twenty cents."),
    ("Meet me on 2026-12-07 at 10:30.", "Meet me on December seventh, twenty twenty-six at ten thirty."),
    ("Call before 9:05 pm.", "Call before nine oh five P M."),
    ("At 7:00 or 18:00.", "At seven o'clock or eighteen hundred."),
    ("The 21st time in 1999.", "The twenty-first time in nineteen ninety-nine."),
    ("Half: 50% of 1,250 is 625.", "Half: fifty percent of one thousand, two hundred and fifty is six hundred and twenty-five."),
    ("Pi is 3.14.", "Pi is three point one four."),
    ("Dr. Smith and Mrs. Jones, e.g. here.", "doctor Smith and missus Jones, for example here."),
    ("St. Louis is on Elm St. now.", "Saint Louis is on Elm Street now."),
    ("Party 🎉 time ✨!", "Party time!"),
])
def test_written_forms_are_read_as_words(written, said):
    assert normalize(written) == said


def test_other_languages_read_their_numbers():
    assert normalize("Tengo 42 gatos.", lang="es") == "Tengo cuarenta y dos gatos."


def test_sentences_split_where_they_end_and_keep_abbreviations():
    text = "Mr. Brown moved to St. Louis. It rained!  Why?\n\nemoji only: \n 🎉🎉 \n"
    assert sentences(text) == ["mister Brown moved to Saint Louis.", "It rained!", "Why?", "emoji only:"]
    assert sentences("🎉 ✨") == [] and sentences("   ") == []


def test_nothing_pronounceable_is_refused_clearly():
    assert not pronounceable("🎉 -- !!") and pronounceable("日本") and pronounceable("42")
    with pytest.raises(TextError, match="nothing to pronounce"):
        render("🎉 !!")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_renders_speech_of_a_plausible_length():
    wav = render("The quick brown fox jumps over the lazy dog.")
    seconds = len(wav) / ESPEAK_RATE
    assert 1.5 < seconds < 5 and wav.std() > 0.01
    assert len(render("The quick brown fox jumps over the lazy dog.", words_per_minute=240)) < len(wav)
