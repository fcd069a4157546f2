"""MIDI reading, piano rolls, the harmonic sketch and instrument names (audiodiff.notes)."""

import io

import numpy as np
import pytest
import torch

from audiodiff.audio import AudioError
from audiodiff.notes import FAMILIES, harmonic_sketch, instrument_program, piano_roll, read_midi
from audiodiff.data.tracks import solo_midi

pretty_midi = pytest.importorskip("pretty_midi")


def two_track_midi(tempo: float = 90.0) -> bytes:
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    violin = pretty_midi.Instrument(program=40, name="violin")
    violin.notes = [pretty_midi.Note(100, 76, 0.5, 1.0), pretty_midi.Note(64, 79, 0.0, 0.5)]
    drums = pretty_midi.Instrument(program=0, is_drum=True)
    drums.notes = [pretty_midi.Note(100, 36, 0.0, 0.1)]
    cello = pretty_midi.Instrument(program=42)
    cello.notes = [pretty_midi.Note(80, 48, 0.0, 2.0)]
    midi.instruments += [violin, drums, cello]
    buffer = io.BytesIO()
    midi.write(buffer)
    return buffer.getvalue()


def test_read_midi_keeps_pitched_tracks_with_sorted_notes_in_seconds():
    violin, cello = read_midi(two_track_midi())
    assert (violin.program, violin.family, cello.program) == (40, FAMILIES.index("strings"), 42)
    np.testing.assert_allclose(violin.notes, [[0.0, 0.5, 79, 64], [0.5, 1.0, 76, 100]], atol=1e-2)
    assert cello.end == pytest.approx(2.0, abs=1e-2)


def test_a_solo_track_keeps_its_notes_and_program():
    _, cello = read_midi(two_track_midi(tempo=137.0))
    (again,) = read_midi(solo_midi(cello))
    assert again.program == 42
    np.testing.assert_allclose(again.notes, cello.notes, atol=2e-3)


def test_broken_midi_is_an_audio_error_naming_the_file(tmp_path):
    path = tmp_path / "song.mid"
    path.write_bytes(b"MThd garbage")
    with pytest.raises(AudioError, match="song.mid"):
        read_midi(path)
    with pytest.raises(AudioError, match="no such file"):
        read_midi(tmp_path / "missing.mid")


def test_piano_roll_marks_onsets_sustain_and_velocity_per_frame():
    notes = np.array([[0.1, 0.3, 60, 127], [0.2, 0.25, 64, 63.5]])
    roll = piano_roll(notes, frames=50, frame_rate=100.0)  # 10 ms frames
    assert roll.shape == (4, 128, 50)
    assert roll[0, 60].nonzero().flatten().tolist() == [10] and roll[0, 64].nonzero().flatten().tolist() == [20]
    assert roll[1, 60].nonzero().flatten().tolist() == list(range(10, 30))
    assert roll[2, 60, 15] == pytest.approx(1.0) and roll[2, 64, 22] == pytest.approx(0.5)
    assert roll[:, 61].abs().sum() == 0 and roll[:, 60, 30:].abs().sum() == 0
    late = piano_roll(np.array([[1.0, 2.0, 60, 100]]), frames=50, frame_rate=100.0)
    assert late.abs().sum() == 0  # a note after the last frame leaves no trace


def test_piano_roll_counts_each_sounding_note_s_age_from_its_start():
    roll = piano_roll(np.array([[0.1, 0.3, 60, 100], [-0.5, 0.2, 64, 100]]), frames=50, frame_rate=100.0)
    torch.testing.assert_close(roll[3, 60, 10:30], torch.arange(20) / 100.0)
    assert roll[3, 60, :10].abs().sum() == 0 and roll[3, 60, 30:].abs().sum() == 0  # zero while silent
    # begun half a second before the window: as old in frame 0 as it is, so a vibrato keeps its phase
    torch.testing.assert_close(roll[3, 64, :20], 0.5 + torch.arange(20) / 100.0)
    assert roll[0, 64].sum() == 0  # and no onset


def test_harmonic_sketch_plays_each_note_at_its_pitch_and_time():
    rate = 16_000
    sketch = harmonic_sketch(np.array([[0.25, 0.75, 69, 127]]), rate, rate)
    assert sketch.shape == (rate,)
    assert sketch[: int(0.25 * rate)].abs().max() == 0  # silent before the onset
    assert sketch[int(0.85 * rate):].abs().max() == 0  # and after the release
    held = sketch[int(0.3 * rate) : int(0.7 * rate)]
    spectrum = torch.fft.rfft(held).abs()
    peak_hz = spectrum.argmax().item() * rate / held.numel()
    assert abs(peak_hz - 440.0) < 5.0
    quiet = harmonic_sketch(np.array([[0.25, 0.75, 69, 32]]), rate, rate)
    assert quiet.abs().max() < 0.5 * sketch.abs().max()  # velocity sets loudness


@pytest.mark.parametrize("value, program", [("violin", 40), ("Acoustic Grand Piano", 0), ("strings", 40),
                                            ("brass", 56), ("73", 73), (19, 19)])
def test_instrument_names_numbers_and_families(value, program):
    assert instrument_program(value) == program


def test_unknown_instrument_lists_the_families():
    with pytest.raises(ValueError, match="strings"):
        instrument_program("kazoo")
    with pytest.raises(ValueError, match="0-127"):
        instrument_program("200")
