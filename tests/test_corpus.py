"""audiodiff.data.sources / corpus: the offline corpus builder on a small fixture tree that mimics the
Debian packages' layouts, and proof that reserved (evaluation-only) sources never get written."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiodiff.audio import save_audio
from audiodiff.data import midi, sources, tts
from audiodiff.data.corpus import (
    DEV_FRACTION,
    SNR_BUCKETS,
    _check_not_reserved,
    _safe_name,
    build_corpus,
    is_heldout,
    write_items,
)
from audiodiff.data.sources import Item, is_reserved, read_cat, reserved_list

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed: G.722 fixtures cannot be encoded")


def _entry(prefix: str) -> dict:
    return next(e for e in reserved_list()["reserved"] if e["package"].startswith(prefix))


RES_LEVELS = set(_entry("fillets-ng-data-cs")["levels"])
RES_ALLISON = set(_entry("asterisk-core-sounds-en-g722")["files"])
RES_OPENSFX = list(_entry("openttd-opensfx")["entries_by_title"])
RES_SONIC = set(_entry("sonic-pi-samples")["names"])
RES_MOH = set(_entry("asterisk-moh-opsound-g722")["names"])


# --------------------------------------------------------------------------------------- fixtures


def _signal(seconds: float, rate: int, seed: int) -> np.ndarray:
    """Short synthetic audio: two sines plus a little noise, peak ~0.5, never silent."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = rng.uniform(100, 900)
    x = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 2.3 * f0 * t) + 0.2 * rng.standard_normal(t.size)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def _write(path: Path, seconds: float, rate: int, seed: int, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), _signal(seconds, rate, seed), rate, **kw)
    return path


def _wav_bytes(seconds: float, rate: int, seed: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, _signal(seconds, rate, seed), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _g722(path: Path, freq: int, seconds: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency={freq}:sample_rate=16000",
                    "-t", str(seconds), "-ar", "16000", "-acodec", "g722", "-f", "g722", str(path)],
                   check=True, capture_output=True)
    return path


def write_cat(path: Path, entries: list[tuple[str, bytes]]) -> None:
    """An OpenTTD ``.cat``: ``(offset | 0x80000000, size)`` table, then per entry a length byte,
    the NUL-terminated title and the WAV bytes (``size`` counts all three)."""
    bodies = []
    for title, wav in entries:
        name = title.encode() + b"\0"
        assert len(name) < 256
        bodies.append(bytes([len(name)]) + name + wav)
    offset = 8 * len(entries)
    table = b""
    for body in bodies:
        table += struct.pack("<II", offset | 0x80000000, len(body))
        offset += len(body)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(table + b"".join(bodies))


LICENCE_TEXT = """Preamble. The licenses for most software are designed to take away your freedom to share it.
Section 4 applies in 2007 only. Too short to read. YOU MUST NOT REMOVE THE NOTICE FROM ANY COPY OF IT.
You may convey verbatim copies of the program as you receive it, in any medium, with this notice kept;
the same sentence appears twice, and a program reads it once. The same sentence appears twice, and a
program reads it once. Each voice should read some other sentence from this little licence text here.
Every sentence that is long enough goes to the next voice in the fixed list of voices, round robin.
"""
LICENCE_SENTENCES = [
    "The licenses for most software are designed to take away your freedom to share it.",
    "You may convey verbatim copies of the program as you receive it, in any medium, with this notice kept;",
    "the same sentence appears twice, and a program reads it once.",
    "Each voice should read some other sentence from this little licence text here.",
    "Every sentence that is long enough goes to the next voice in the fixed list of voices, round robin.",
]

# Stand-in for flite and text2wave: writes a tone whose length follows the text (flite: ``-t TEXT``;
# text2wave: text on stdin), at 16 kHz, to the path after ``-o``; fails on the text "FAIL".
FAKE_ENGINE = """#!{python}
import sys, numpy as np, soundfile as sf
args = sys.argv[1:]
text = args[args.index("-t") + 1] if "-t" in args else sys.stdin.read()
if "FAIL" in text:
    sys.exit("cannot say that")
t = np.arange(int(0.02 * len(text) * 16000)) / 16000
sf.write(args[args.index("-o") + 1], (0.3 * np.sin(2 * np.pi * 220 * t)).astype("float32"), 16000)
"""


# Stand-in for fluidsynth: a 1.5 s stereo tone at the rate after ``-r``, raw 16-bit samples to
# stdout (``-F - -T raw -O s16``); fails unless the last argument is a MIDI file.
FAKE_FLUIDSYNTH = """#!{python}
import sys, numpy as np
args = sys.argv[1:]
if open(args[-1], "rb").read(4) != b"MThd":
    sys.exit("not a MIDI file")
rate = int(args[args.index("-r") + 1])
t = np.arange(int(1.5 * rate)) / rate
tone = (6000 * np.sin(2 * np.pi * 330 * t)).astype("<i2")
sys.stdout.buffer.write(np.stack([tone, tone], 1).tobytes())
"""
SCORES = ("folk/tune_a.xml", "folk/tune_b.xml", "folk/tune_c.xml")


def write_scores(root: Path) -> None:
    """A tiny score corpus: three two-part tunes, and the name of a reserved chorale holding garbage
    (a builder that even parsed it would fail)."""
    from music21 import note, stream

    for i, rel in enumerate(SCORES):
        score = stream.Score()
        for octave in (5, 3):
            part = stream.Part()
            for step in "CDEG"[: 2 + i]:
                part.append(note.Note(f"{step}{octave}", quarterLength=1))
            score.append(part)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        score.write("musicxml", fp=str(root / rel))
    (root / "bach").mkdir()
    (root / "bach" / "bwv94.8.mxl").write_bytes(b"not a score")


def write_licence(prefix: Path) -> None:
    path = prefix / tts.LICENSES / "GPL-3"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LICENCE_TEXT)


def write_fake_engines(prefix: Path) -> None:
    import sys

    for rel in (tts.FLITE, tts.TEXT2WAVE):
        path = prefix / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(FAKE_ENGINE.format(python=sys.executable))
        path.chmod(0o755)


def _pick(candidates, key, heldout: bool, count: int) -> list[str]:
    """The first ``count`` candidate names whose split (by ``key(name)``) is ``heldout``."""
    chosen = [c for c in candidates if is_heldout(key(c)) == heldout][:count]
    assert len(chosen) == count, "not enough candidate names for the wanted split"
    return chosen


def _speech_item(level):
    return Item(f"fillets-ng-data-cs/{level}/cs/x.ogg", "fillets-ng-data-cs", "speech", None)


def _sonic_item(name):
    return Item(f"sonic-pi-samples/{name}.flac", "sonic-pi-samples", "noise", None)


def _music_item(name):
    return Item(f"fillets-ng-data/music/{name}.ogg", "fillets-ng-data", "music", None)


def _opensfx_item(index):
    return Item(f"openttd-opensfx/{index:02d}", "openttd-opensfx", "noise", None)


OTHER_TITLES = ['"Steam train". Original by nobody. License: CC0.', '"Harbour ambience". Test fixture.',
                '"Factory hum". Test fixture.', '"Rain on a roof". Test fixture.', '"Crowd". Test fixture.']


def build_tree(prefix: Path) -> dict:
    """Write the fixture tree; return what a correct builder must keep (``expected``) and drop."""
    expected: dict[str, str] = {}  # id -> "train" | "heldout"
    reserved_ids: set[str] = set()

    # fillets speech: reserved levels and non-reserved ones (at least one of them held out)
    sound = prefix / sources.FILLETS_SOUND
    levels_ok = [f"level{i:02d}" for i in range(60) if f"level{i:02d}" not in RES_LEVELS]
    train_levels = _pick(levels_ok, _speech_item, False, 2)
    heldout_levels = _pick(levels_ok, _speech_item, True, 1)
    reserved_levels = ["bathroom", sorted(RES_LEVELS)[-1]]
    seed = 0
    for level in train_levels + heldout_levels + reserved_levels:
        for word in ("a", "b"):
            seed += 1
            _write(sound / level / "cs" / f"{level}-fish-{word}.ogg", 1.0 + 0.5 * (seed % 2), 22_050, seed,
                   format="OGG", subtype="VORBIS")
            item_id = f"fillets-ng-data-cs/{level}/cs/{level}-fish-{word}.ogg"
            if level in RES_LEVELS:
                reserved_ids.add(item_id)
            else:
                expected[item_id] = "heldout" if level in heldout_levels else "train"
    _write(sound / train_levels[0] / "en" / "english-only.ogg", 0.5, 22_050, 99, format="OGG", subtype="VORBIS")

    # Allison prompts (G.722) and music on hold (G.722): need ffmpeg to encode
    if FFMPEG:
        allison = prefix / sources.ALLISON
        for i, rel in enumerate(("seconds.g722", "digits/1.g722", "hello-world.g722", "digits/2.g722")):
            _g722(allison / rel, 300 + 50 * i)
            item_id = f"asterisk-core-sounds-en-g722/{rel}"
            if rel in RES_ALLISON:
                reserved_ids.add(item_id)
            else:
                expected[item_id] = "heldout" if is_heldout(Item(item_id, "", "speech", None)) else "train"
        # a second language's voice, and signal tones (not speech) in both
        carlo = prefix / sources.ASTERISK_VOICES["asterisk-core-sounds-it-g722"]
        for i, rel in enumerate(("benvenuto.g722", "digits/3.g722")):
            _g722(carlo / rel, 320 + 40 * i)
            item_id = f"asterisk-core-sounds-it-g722/{rel}"
            expected[item_id] = "heldout" if is_heldout(Item(item_id, "", "speech", None)) else "train"
        for folder in (allison, carlo):
            _g722(folder / "beep.g722", 1000)
        moh = prefix / sources.MOH
        for i, name in enumerate(("manolo_camp-morning_coffee", "macroform-robot_dity", "fixture-hold-tune")):
            _g722(moh / f"{name}.g722", 500 + 70 * i, seconds=1.0)
            item_id = f"asterisk-moh-opsound-g722/{name}.g722"
            if name in RES_MOH:
                reserved_ids.add(item_id)
            # the others are not written either: 16 kHz G.722 is too narrow for the 22.05 kHz music

    # OpenSFX .cat: reserved titles copied from the list, other titles (one of them at a held-out
    # index), and one entry that is not a RIFF WAV (skipped)
    count = 8
    heldout_index = next(i for i in range(count) if is_heldout(_opensfx_item(i)))
    titles: list[str | None] = [None] * count
    titles[heldout_index] = OTHER_TITLES[0]
    reserved_titles = [RES_OPENSFX[0], RES_OPENSFX[4], RES_OPENSFX[-1]]
    free = [i for i in range(count) if titles[i] is None]
    for i, title in zip(free, reserved_titles + OTHER_TITLES[1:]):
        titles[i] = title
    entries = []
    cat_titles = {}
    for i, title in enumerate(titles):
        wav = b"JUNKnot a wave" if title == OTHER_TITLES[-1] else _wav_bytes(0.8, 22_050, 200 + i)
        entries.append((title, wav))
        cat_titles[i] = title
        item_id = f"openttd-opensfx/{i:02d}"
        if title in RES_OPENSFX:
            reserved_ids.add(item_id)
        elif wav[:4] == b"RIFF":
            expected[item_id] = "heldout" if is_heldout(_opensfx_item(i)) else "train"
    write_cat(prefix / sources.OPENSFX, entries)

    # Sonic Pi: reserved names, noise names (one held out), and a drum hit that is not noise
    sonic = prefix / sources.SONIC_PI
    noise_names = ["ambi_drone", "loop_garzul"]
    noise_names += [n for n in ("ambi_choir", "misc_crow") if n not in noise_names]
    for i, name in enumerate(["ambi_sauna", "vinyl_hiss", *noise_names, "bd_haus"]):
        _write(sonic / f"{name}.flac", 1.0, 44_100, 300 + i)
        item_id = f"sonic-pi-samples/{name}.flac"
        if name in RES_SONIC:
            reserved_ids.add(item_id)
        elif name.startswith(sources.SONIC_PI_NOISE_PREFIXES):
            expected[item_id] = "heldout" if is_heldout(_sonic_item(name)) else "train"

    # fillets music: one held out, one in train
    music_names = [f"track{i:02d}" for i in range(40)]
    for i, name in enumerate(_pick(music_names, _music_item, False, 1) + _pick(music_names, _music_item, True, 1)):
        _write(prefix / sources.FILLETS_MUSIC / f"{name}.ogg", 2.0, 22_050, 400 + i, format="OGG", subtype="VORBIS")
        item_id = f"fillets-ng-data/music/{name}.ogg"
        expected[item_id] = "heldout" if is_heldout(_music_item(name)) else "train"

    # synthetic speech: a licence text, stand-in flite / text2wave programs, one Festival voice
    write_licence(prefix)
    write_fake_engines(prefix)
    (prefix / tts.FESTIVAL_VOICES / "kal_diphone").mkdir(parents=True)
    for uid, _, _, _ in tts.utterances(prefix):
        expected[uid] = "train"

    # rendered scores: a stand-in fluidsynth, two soundfonts, the tiny score corpus
    fake = prefix / midi.FLUIDSYNTH
    fake.parent.mkdir(parents=True, exist_ok=True)
    fake.write_text(FAKE_FLUIDSYNTH.format(python=sys.executable))
    fake.chmod(0o755)
    for name in ("fluidr3", "timgm6mb"):
        (prefix / midi.SOUNDFONTS[name][1]).parent.mkdir(parents=True, exist_ok=True)
        (prefix / midi.SOUNDFONTS[name][1]).write_bytes(b"sfbk")
    write_scores(prefix / "music21" / "corpus")
    for rel in SCORES:
        font = midi.pick_soundfont(rel, ["fluidr3", "timgm6mb"])
        item_id = f"music21/{rel.rsplit('.', 1)[0]}@{font}.mid"
        expected[item_id] = "heldout" if is_heldout(Item(item_id, "music21", "rendered", None)) else "train"
    reserved_ids.add("music21/bach/bwv94.8@fluidr3.mid")

    return {"expected": expected, "reserved_ids": reserved_ids, "cat_titles": cat_titles,
            "heldout_levels": heldout_levels, "train_levels": train_levels}


def keep_all(wav, rate):
    """A stand-in screening scorer (no DeepFilterNet in the tests): every file scores as clean."""
    return 4.5


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("corpus")
    prefix, out = root / "prefix", root / "out"
    info = build_tree(prefix)
    manifest = build_corpus(out, prefix=prefix, dev_speech=6, dev_music=3, screen=keep_all)
    return {"prefix": prefix, "out": out, "manifest": manifest, **info}


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------- unit tests


def test_fixture_levels_cover_both_splits():
    # the split is a hash of the level name: the chosen fixture names cover both splits
    assert 0 < DEV_FRACTION["speech"] < 1
    levels = [f"level{i:02d}" for i in range(60)]
    assert any(is_heldout(_speech_item(level)) for level in levels)
    assert not all(is_heldout(_speech_item(level)) for level in levels)
    # stable: the same group key gives the same answer for any file of the level
    a = Item("fillets-ng-data-cs/level07/cs/one.ogg", "fillets-ng-data-cs", "speech", None)
    b = Item("fillets-ng-data-cs/level07/cs/two.ogg", "fillets-ng-data-cs", "speech", None)
    assert is_heldout(a) == is_heldout(b)


def test_is_reserved_whole_package():
    assert is_reserved("alsa-utils", "Front_Center.wav")
    assert is_reserved("bucklespring-data", "wav/01-0.wav")
    assert is_reserved("pocketsphinx-testdata", "anything")


def test_is_reserved_file_list():
    assert is_reserved("asterisk-core-sounds-en-g722", "seconds.g722")
    assert is_reserved("asterisk-core-sounds-en-g722", "digits/1.g722")
    assert is_reserved("asterisk-core-sounds-en-g722", "digits\\1.g722")  # Windows separators
    assert not is_reserved("asterisk-core-sounds-en-g722", "digits/2.g722")
    assert not is_reserved("asterisk-core-sounds-en-g722", "1.g722")  # only inside digits/
    for rel in RES_ALLISON:
        assert is_reserved("asterisk-core-sounds-en-g722", rel)


def test_is_reserved_levels():
    for level in RES_LEVELS:
        assert is_reserved("fillets-ng-data-cs", f"{level}/cs/{level}-x-hello.ogg")
    assert not is_reserved("fillets-ng-data-cs", "level01/cs/level01-x-hello.ogg")


def test_is_reserved_titles():
    for title in RES_OPENSFX:
        assert is_reserved("openttd-opensfx", title)
    assert not is_reserved("openttd-opensfx", OTHER_TITLES[0])
    assert not is_reserved("openttd-opensfx", RES_OPENSFX[0][:-1])  # exact titles only


def test_is_reserved_names():
    for name in RES_SONIC:
        assert is_reserved("sonic-pi-samples", f"{name}.flac")
    for name in RES_MOH:
        assert is_reserved("asterisk-moh-opsound-g722", f"{name}.g722")
    assert not is_reserved("sonic-pi-samples", "ambi_drone.flac")
    assert not is_reserved("sonic-pi-samples", "loop_garzul.flac")
    assert not is_reserved("asterisk-moh-opsound-g722", "fixture-hold-tune.g722")


def test_is_reserved_unknown_package():
    assert not is_reserved("no-such-package", "bathroom/cs/x.ogg")


def test_licence_sentences_keep_plain_sentences_once(tmp_path):
    write_licence(tmp_path)
    assert tts.license_sentences(tmp_path) == LICENCE_SENTENCES


def test_tts_voices_read_different_sentences_and_only_installed_voices_speak(tmp_path):
    write_licence(tmp_path)
    assert tts.utterances(tmp_path) == []  # no engine installed
    write_fake_engines(tmp_path)
    (tmp_path / tts.FESTIVAL_VOICES / "ked_diphone").mkdir(parents=True)
    spoken = tts.utterances(tmp_path)
    voices = [uid.split("/")[1] for uid, _, _, _ in spoken]
    # five sentences round robin over the six voices: the kal_diphone one is skipped (not installed)
    assert voices == ["flite-kal16", "flite-awb", "flite-rms", "flite-slt"]
    assert [text for _, _, text, _ in spoken] == LICENCE_SENTENCES[:4]
    wav = spoken[1][3](16_000)
    assert wav.shape == (1, int(0.02 * len(LICENCE_SENTENCES[1]) * 16_000))


def test_tts_failure_is_an_audio_error_naming_the_voice(tmp_path):
    write_fake_engines(tmp_path)
    with pytest.raises(sources.AudioError, match="flite voice awb"):
        tts.synthesise(tmp_path, "flite", "awb", "FAIL now", 16_000)


def test_read_cat_parses_fixture(tmp_path):
    wavs = [_wav_bytes(0.3, 22_050, i) for i in range(3)]
    titles = [RES_OPENSFX[1], OTHER_TITLES[1], "é unicode title"]
    write_cat(tmp_path / "x.cat", list(zip(titles, wavs)))
    entries = read_cat(tmp_path / "x.cat")
    assert [t for t, _ in entries] == titles
    assert [w for _, w in entries] == wavs
    data, rate = sf.read(io.BytesIO(entries[2][1]))
    assert rate == 22_050 and len(data) == int(0.3 * 22_050)


def test_opensfx_noise_skips_reserved_and_non_wav(tmp_path):
    titles = [RES_OPENSFX[2], OTHER_TITLES[0], OTHER_TITLES[1]]
    wavs = [_wav_bytes(0.3, 22_050, 1), _wav_bytes(0.3, 22_050, 2), b"not riff"]
    write_cat(tmp_path / sources.OPENSFX, list(zip(titles, wavs)))
    items = sources.opensfx_noise(tmp_path)
    assert [it.id for it in items] == ["openttd-opensfx/01"]
    wav = items[0].load(16_000)
    assert wav.shape == (1, int(0.3 * 16_000))


def test_sonic_pi_keeps_only_noise_names(tmp_path):
    for i, name in enumerate(("ambi_sauna", "ambi_drone", "loop_garzul", "bd_haus")):
        _write(tmp_path / sources.SONIC_PI / f"{name}.flac", 0.2, 44_100, i)
    ids = [it.id for it in sources.sonic_pi_noise(tmp_path)]
    assert ids == ["sonic-pi-samples/ambi_drone.flac", "sonic-pi-samples/loop_garzul.flac"]


@pytest.mark.parametrize("item_id", [
    "fillets-ng-data-cs/bathroom/cs/bathroom-x-ahoj.ogg",
    "asterisk-core-sounds-en-g722/seconds.g722",
    "asterisk-core-sounds-en-g722/digits/1.g722",
    "asterisk-moh-opsound-g722/manolo_camp-morning_coffee.g722",
    "sonic-pi-samples/ambi_sauna.flac",
])
def test_check_not_reserved_refuses(item_id, tmp_path):
    def load(rate):
        raise AssertionError("a reserved item must not even be decoded")

    item = Item(item_id, item_id.split("/")[0], "speech", load)
    with pytest.raises(RuntimeError, match="reserved"):
        _check_not_reserved(item)
    with pytest.raises(RuntimeError, match="reserved"):
        write_items([item], tmp_path / "w", tmp_path, 16_000, "train", [], "test")
    assert not list((tmp_path / "w").glob("*"))


def test_check_not_reserved_refuses_opensfx_by_title():
    """OpenSFX ids are indices; the reserved list names titles: the item's key carries the title."""
    title = sources.reserved_list()["reserved"][5]["entries_by_title"][0]
    with pytest.raises(RuntimeError, match="reserved"):
        _check_not_reserved(Item("openttd-opensfx/07", "openttd-opensfx", "noise", None, title))


def test_check_not_reserved_accepts_others():
    for item_id in ("fillets-ng-data-cs/level01/cs/a.ogg", "sonic-pi-samples/ambi_drone.flac",
                    "asterisk-core-sounds-en-g722/digits/2.g722", "fillets-ng-data/music/track01.ogg",
                    "openttd-opensfx/03"):
        _check_not_reserved(Item(item_id, item_id.split("/")[0], "noise", None))


@needs_ffmpeg
def test_decode_g722(tmp_path):
    path = _g722(tmp_path / "tone.g722", 440, seconds=0.5)
    wav = sources.decode_g722(path, 16_000)
    assert wav.shape[0] == 1 and abs(wav.shape[1] - 8000) < 200
    assert wav.abs().max() > 0.05
    (tmp_path / "bad.g722").write_bytes(b"")
    with pytest.raises(sources.AudioError, match="bad.g722"):
        sources.decode_g722(tmp_path / "bad.g722", 16_000)


# ------------------------------------------------------------------------------- the built corpus


def test_no_reserved_source_in_manifest(corpus):
    files = corpus["manifest"]["files"]
    ids = {f["id"] for f in files}
    assert corpus["reserved_ids"], "the fixture must contain reserved items"
    assert not ids & corpus["reserved_ids"]
    for entry in files:
        package, _, rel = entry["id"].partition("/")
        if package == "fillets-ng-data-cs":
            assert rel.split("/")[0] not in RES_LEVELS
        elif package == "asterisk-core-sounds-en-g722":
            assert rel not in RES_ALLISON
        elif package == "openttd-opensfx":
            assert corpus["cat_titles"][int(rel)] not in RES_OPENSFX
        elif package == "sonic-pi-samples":
            assert Path(rel).stem not in RES_SONIC
        elif package == "asterisk-moh-opsound-g722":
            assert Path(rel).stem not in RES_MOH
    # the manifest on disk says the same
    on_disk = json.loads((corpus["out"] / "manifest.json").read_text())
    assert {f["id"] for f in on_disk["files"]} == ids


def test_no_reserved_source_in_written_files(corpus):
    out = corpus["out"]
    names = [p.name for p in out.rglob("*.wav")]
    assert names
    forbidden = {_safe_name(i) for i in corpus["reserved_ids"]}
    assert not forbidden & set(names)
    for name in names:
        stem = name[: -len(".wav")]
        parts = stem.split("__")
        assert not RES_LEVELS & set(parts), name
        assert parts[-1] not in RES_SONIC | RES_MOH, name
        if parts[0] == "asterisk-core-sounds-en-g722":
            assert "/".join(parts[1:]) + ".g722" not in RES_ALLISON, name
    # every manifest path exists, and every written source file is in the manifest
    listed = {f["path"] for f in corpus["manifest"]["files"]}
    for rel in listed:
        assert (out / rel).is_file()
    written = {p.relative_to(out).as_posix() for p in (out / "train").rglob("*.wav")}
    written |= {p.relative_to(out).as_posix() for p in (out / "heldout").rglob("*.wav")}
    assert written == listed


def test_non_reserved_sources_appear(corpus):
    files = [f for f in corpus["manifest"]["files"] if f["kind"] != "tracks"]  # tracks: renders of the pieces
    ids = {f["id"] for f in files}
    assert set(corpus["expected"]) == ids
    for entry in files:
        assert entry["split"] == corpus["expected"][entry["id"]]
        assert entry["seconds"] > 0
    assert "sonic-pi-samples/ambi_drone.flac" in ids
    assert "sonic-pi-samples/loop_garzul.flac" in ids
    assert "sonic-pi-samples/bd_haus.flac" not in ids  # a drum hit, not noise
    assert not any("/en/" in i for i in ids)  # only the Czech dialogue
    spoken = {i.split("/")[1] for i in ids if i.startswith("tts/")}
    assert spoken == {"flite-kal16", "flite-awb", "flite-rms", "flite-slt", "festival-kal_diphone"}
    if FFMPEG:
        assert "asterisk-core-sounds-en-g722/hello-world.g722" in ids
        assert "asterisk-core-sounds-en-g722/digits/2.g722" in ids
        assert "asterisk-core-sounds-it-g722/benvenuto.g722" in ids  # every installed language
        assert not any(i.endswith("/beep.g722") for i in ids)  # a signal tone is not speech
        assert "asterisk-moh-opsound-g722/fixture-hold-tune.g722" not in ids  # narrowband music left out
        assert "asterisk-moh-opsound-g722/fixture-hold-tune.g722" in {
            it.id for it in sources.moh_music(corpus["prefix"])}  # (listed, then filtered by bandwidth)
    # noise is written at both rates, speech at 16 kHz, music at 22.05 kHz
    rates = {(f["kind"], f["sample_rate"]) for f in files}
    assert rates == {("speech", 16_000), ("noise", 16_000), ("noise", 22_050), ("music", 22_050),
                     ("rendered", 22_050)}
    for entry in files:
        assert sf.info(str(corpus["out"] / entry["path"])).samplerate == entry["sample_rate"]


def test_heldout_never_in_train(corpus):
    files = corpus["manifest"]["files"]
    train = {f["id"] for f in files if f["split"] == "train"}
    heldout = {f["id"] for f in files if f["split"] == "heldout"}
    assert train and heldout
    assert not train & heldout
    for f in files:
        assert f["path"].startswith(f["split"] + "/")
    # a held-out level goes to heldout as a whole
    for level in corpus["heldout_levels"]:
        assert not any(f"/{level}/" in i for i in train)
        assert any(f"/{level}/" in i for i in heldout)
    for level in corpus["train_levels"]:
        assert not any(f"/{level}/" in i for i in heldout)
    train_names = {p.name for p in (corpus["out"] / "train").rglob("*.wav")}
    assert not train_names & {_safe_name(i) for i in heldout}


@pytest.mark.parametrize("kind, count, seconds, rate", [("speech", 6, 4.0, 16_000), ("music", 3, 6.0, 22_050)])
def test_dev_pairs(corpus, kind, count, seconds, rate):
    folder = corpus["out"] / "dev" / kind
    rows = _rows(folder / "pairs.csv")
    assert len(rows) == count
    assert list(rows[0]) == ["file", "snr_db", "noise_kind", "noise", "reverb"]
    heldout_noise = {Path(f["path"]).stem for f in corpus["manifest"]["files"]
                     if f["kind"] == "noise" and f["split"] == "heldout"}
    kinds = sorted({r["noise_kind"] for r in rows})
    for i, row in enumerate(rows):
        assert float(row["snr_db"]) in SNR_BUCKETS
        assert row["noise_kind"] in {"field-recording", "ambience", "loop"}
        assert row["noise_kind"] == kinds[i % len(kinds)]  # kinds cycle
        assert row["noise"] in heldout_noise  # dev noise only from held-out sources
        assert row["reverb"] in {"True", "False"}
        noisy, rn = sf.read(str(folder / "noisy" / row["file"]))
        clean, rc = sf.read(str(folder / "clean" / row["file"]))
        assert rn == rc == rate
        assert noisy.shape == clean.shape == (int(seconds * rate),)
        assert np.abs(noisy).max() <= 0.99 + 1e-3 and np.abs(clean).max() <= 0.99 + 1e-3
        assert np.sqrt(np.mean(clean**2)) > 1e-3
        if row["reverb"] == "False":  # dry: noisy - clean is the scaled noise, at the bucket's SNR
            snr = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
            assert snr == pytest.approx(float(row["snr_db"]), abs=0.2)
    # the SNR buckets cycle once every noise kind has been used
    expected = [SNR_BUCKETS[(i // len(kinds)) % len(SNR_BUCKETS)] for i in range(count)]
    assert [float(r["snr_db"]) for r in rows] == expected


def test_rebuild_is_idempotent(corpus):
    out = corpus["out"]
    before = json.loads((out / "manifest.json").read_text())
    train_file = out / before["files"][0]["path"]
    mtime = train_file.stat().st_mtime_ns
    pairs = {p: p.read_bytes() for p in (out / "dev").rglob("*") if p.is_file()}
    again = build_corpus(out, prefix=corpus["prefix"], dev_speech=6, dev_music=3, screen=keep_all)
    assert again == before
    assert json.loads((out / "manifest.json").read_text()) == before
    assert train_file.stat().st_mtime_ns == mtime  # resumed, not rewritten
    assert {p: p.read_bytes() for p in (out / "dev").rglob("*") if p.is_file()} == pairs


def test_reserved_sentences_are_never_read(tmp_path):
    harvard = "The birch canoe slid on the smooth planks."
    assert is_reserved("text", harvard) and is_reserved("text", "the BIRCH canoe  slid on the smooth planks")
    assert not is_reserved("text", "The birch canoe slid on the rough planks.")
    write_licence(tmp_path)
    path = tmp_path / tts.LICENSES / "GPL-3"
    path.write_text(path.read_text() + " " + harvard + " Glue the sheet to the dark blue background.")
    sentences = tts.license_sentences(tmp_path)
    assert sentences == LICENCE_SENTENCES  # nothing reserved got in


def test_rendered_scores_sit_beside_their_midi(corpus):
    from music21 import converter

    rendered = [f for f in corpus["manifest"]["files"] if f["kind"] == "rendered"]
    assert {f["id"] for f in rendered} == {i for i in corpus["expected"] if i.startswith("music21/")}
    assert len(rendered) == len(SCORES)
    for entry in rendered:
        audio = corpus["out"] / entry["path"]
        score = converter.parse(str(audio.with_suffix(".mid")))
        assert len(score.parts) == 2 and len(score.flatten().notes) >= 4  # both parts, every note
        data, rate = sf.read(str(audio))
        assert rate == 22_050 and data.ndim == 1 and abs(len(data) / rate - 1.5) < 0.01


def test_each_pitched_track_is_rendered_alone_beside_its_own_midi(corpus):
    from audiodiff.notes import read_midi

    pieces = {f["path"]: f for f in corpus["manifest"]["files"] if f["kind"] == "rendered"}
    tracks = [f for f in corpus["manifest"]["files"] if f["kind"] == "tracks"]
    assert len(tracks) == 2 * len(pieces)  # two parts per tune
    for entry in tracks:
        audio = corpus["out"] / entry["path"]
        piece = entry["path"].replace("/tracks/", "/rendered/").rsplit("__t", 1)[0] + ".wav"
        assert piece in pieces and pieces[piece]["split"] == entry["split"]  # a piece's tracks stay in its split
        (solo,) = read_midi(audio.with_suffix(".mid"))  # one instrument
        whole = read_midi((corpus["out"] / piece).with_suffix(".mid"))
        k = int(audio.stem.rsplit("__t", 1)[1])
        assert solo.program == whole[k].program
        np.testing.assert_allclose(solo.notes, whole[k].notes, atol=2e-3)  # same notes, same times
        assert sf.info(str(audio)).samplerate == 22_050


def test_parts_get_instruments_by_range_and_the_piano_sometimes():
    everyone_on_piano = [rel for rel in (f"x/{i}.krn" for i in range(200)) if midi._digest(rel) % 4 == 0]
    assert 30 < len(everyone_on_piano) < 70
    assert midi.assign_programs(everyone_on_piano[0], [40.0, 70.0]) == [0, 0]
    mixed = next(rel for rel in (f"x/{i}.krn" for i in range(200)) if midi._digest(rel) % 4)
    low, mid, high = midi.assign_programs(mixed, [40.0, 55.0, 72.0])
    assert low in midi.LOW and mid in midi.MIDDLE and high in midi.HIGH
    assert midi.assign_programs(mixed, [40.0, 55.0, 72.0]) == [low, mid, high]  # reproducible


def test_unreadable_score_is_an_audio_error(tmp_path):
    from audiodiff.audio import AudioError

    (tmp_path / "broken.xml").write_text("<score-partwise><part>")
    with pytest.raises(AudioError, match="broken.xml"):
        midi.score_to_midi(tmp_path / "broken.xml", "broken.xml")


def test_a_runaway_render_is_cut(tmp_path):
    endless = tmp_path / "fluidsynth"
    endless.write_text(f"#!{sys.executable}\nimport sys\nwhile True:\n    sys.stdout.buffer.write(bytes(4096))\n")
    endless.chmod(0o755)
    wav = midi.render_midi(b"MThd", tmp_path / "font.sf2", 8_000, str(endless), seconds=0.5)
    assert wav.shape == (1, 4_000)
    failing = tmp_path / "broken"
    failing.write_text(f"#!{sys.executable}\nimport sys\nsys.exit('no soundfont')\n")
    failing.chmod(0o755)
    from audiodiff.audio import AudioError

    with pytest.raises(AudioError, match="no soundfont"):
        midi.render_midi(b"MThd", tmp_path / "font.sf2", 8_000, str(failing), label="piece")


def test_screening_moves_unclean_game_dialogue_out_and_caches_scores(tmp_path):
    """Screened sources' files that score below the threshold go to rejected/<split>/speech, other
    sources are never scored, scores are cached (a rerun scores nothing), and kept files stay."""
    from audiodiff.data.screening import THRESHOLD, screen_speech

    folders = {"train": tmp_path / "train" / "speech", "heldout": tmp_path / "heldout" / "speech"}
    t = torch.arange(8000) / 16000
    files = {"train": {"fillets-ng-data-cs__l1__cs__clean.wav": 0.1, "fillets-ng-data-cs__l1__cs__fx.wav": 0.5,
                       "asterisk-core-sounds-en-g722__hello.wav": 0.5},
             "heldout": {"fillets-ng-data-cs__l2__cs__fx.wav": 0.5}}
    for split, names in files.items():
        for name, amp in names.items():
            save_audio(folders[split] / name, (amp * torch.sin(2 * math.pi * 220 * t))[None], 16000)
    scored = []

    def scorer(wav, rate):  # "processed" files are the loud ones here
        scored.append(wav.abs().max().item())
        return 1.0 if wav.abs().max() > 0.3 else 4.0

    kept = screen_speech(tmp_path, folders, scorer=scorer)
    assert len(scored) == 3  # the Asterisk prompt is not a screened source
    assert sorted(p.name for p in kept["train"]) == ["asterisk-core-sounds-en-g722__hello.wav",
                                                     "fillets-ng-data-cs__l1__cs__clean.wav"]
    assert kept["heldout"] == []
    assert (tmp_path / "rejected" / "train" / "speech" / "fillets-ng-data-cs__l1__cs__fx.wav").is_file()
    assert (tmp_path / "rejected" / "heldout" / "speech" / "fillets-ng-data-cs__l2__cs__fx.wav").is_file()
    assert sorted(p.name for p in folders["train"].iterdir()) == sorted(p.name for p in kept["train"])
    rows = {r["file"]: r for r in _rows(tmp_path / "speech_screen.csv")}
    assert rows["fillets-ng-data-cs__l1__cs__fx.wav"]["kept"] == "False"
    assert float(rows["fillets-ng-data-cs__l1__cs__clean.wav"]["pesq"]) >= THRESHOLD
    # a rebuild decodes the rejected file again: the cached score sends it back without scoring
    save_audio(folders["train"] / "fillets-ng-data-cs__l1__cs__fx.wav", (0.5 * torch.sin(2 * math.pi * 220 * t))[None],
               16000)
    again = screen_speech(tmp_path, folders, scorer=scorer)
    assert len(scored) == 3 and again == kept
