"""The text front end of speech synthesis: written forms as words, sentences, espeak-ng."""

from __future__ import annotations

import shutil

import pytest

from audiodiff.text import ESPEAK_RATE, TextError, normalize, pronounceable, render, sentences


@pytest.mark.parametrize("written, said", [
    ("It costs $5.20.", "It costs five dollars and twenty cents."),
    ("$5, $1,000,000 and £1.", "five dollars, one million dollars and one pound."),
    ("Meet me on 2026-12-07 at 10:30.", "Meet me on December seventh, twenty twenty-six at ten thirty."),
    ("Call before 9:05 pm.", "Call before nine oh five P.M.."),
    ("At 7:00 or 18:00.", "At seven o'clock or eighteen hundred."),
    ("The 21st time in 1999.", "The twenty-first time in nineteen ninety-nine."),
    ("1500 people, 1990-2000, the 1990s.", "one thousand, five hundred people, nineteen ninety to two thousand, "
                                          "the nineteen nineties."),
    ("Half: 50% of 1,250 is 625.", "Half: fifty percent of one thousand, two hundred and fifty is six hundred and twenty-five."),
    ("Pi is 3.14, not 2.50 or -5.", "Pi is three point one four, not two point five zero or minus five."),
    ("Dial 555-1234.", "Dial five five five, one two three four."),
    ("Dr. Smith and Mrs. Jones, e.g., here.", "Doctor Smith and Missus Jones, for example, here."),
    ("St. Louis is on Elm St. now.", "Saint Louis is on Elm Street now."),
    ("No. 5, or no.", "number five, or no."),
    ("Party 🎉 time ✨!", "Party time!"),
    ("1" * 40, " ".join(["one"] * 40)),
])
def test_written_forms_are_read_as_words(written, said):
    assert normalize(written) == said


def test_other_languages_keep_their_numbers_for_espeak():
    assert normalize("Tengo 1.000 gatos y 3,5 perros 🎉.", lang="es") == "Tengo 1.000 gatos y 3,5 perros."


def test_sentences_split_where_they_end_and_keep_abbreviations():
    text = "Mr. Brown moved to St. Louis. It rained!  Why?\nThe U.S. flag.\n\nemoji only: \n 🎉🎉 \n"
    assert sentences(text) == ["Mister Brown moved to Saint Louis.", "It rained!", "Why?", "The U S flag.",
                               "emoji only:"]
    assert sentences("Press 1 for yes or 2 for no. Press 3 to exit.") == [
        "Press one for yes or two for no.", "Press three to exit."]
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
    assert len(render("-five degrees")) > 0.3 * ESPEAK_RATE  # text is no command-line option
