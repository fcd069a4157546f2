"""Recorded prompts with transcripts (text to speech): listing, held-out share, reserved prompts, alignment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from audiodiff.data.prompts import align, prompts, transcripts
from audiodiff.data.reserved import is_reserved

INSTALLED = Path("/usr/share/asterisk/sounds/en_US_f_Allison").is_dir()


@pytest.mark.skipif(not INSTALLED, reason="asterisk-core-sounds-en-g722 is not installed")
def test_prompts_have_transcripts_and_leave_reserved_ones_out():
    listed = prompts()
    english = [p for p in listed if p.voice == "en_US_f_Allison"]
    assert len(english) > 400 and all(p.path.is_file() and p.text for p in english)
    assert not any(is_reserved(p.package, f"{p.name}.g722") for p in listed)
    assert "all-circuits-busy-now" in transcripts(Path("/"), "en")  # a reserved prompt: listed in the file...
    assert "all-circuits-busy-now" not in {p.name for p in english}  # ...but never used
    assert not any("[" in p.text for p in listed)  # tone descriptions are not speech
    shares = {split: sum(p.split == split for p in listed) / len(listed) for split in ("heldout", "dev")}
    assert 0.07 < shares["heldout"] < 0.13 and 0.03 < shares["dev"] < 0.07


def test_alignment_follows_a_stretched_copy():
    rng = np.random.default_rng(0)
    sketch = rng.standard_normal((20, 50))
    target = np.repeat(sketch, 2, axis=1)  # every frame twice as long
    index = align(sketch, target)
    assert index.shape == (100,) and np.all(np.diff(index) >= 0)
    assert np.mean(np.abs(index - np.arange(100) // 2) <= 1) > 0.95
