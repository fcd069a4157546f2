"""The README's Python example runs as written (on the bundled examples), and its tables are current."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_python_example_runs(tmp_path, monkeypatch):
    code = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    shutil.copy(ROOT / "examples" / "noisy_speech.flac", tmp_path / "noisy.wav")
    shutil.copy(ROOT / "examples" / "chorale.mid", tmp_path / "song.mid")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "clean.wav").is_file()


def test_the_readme_fits_on_a_screen():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 150


def test_benchmark_tables_in_readme_docs_and_cards_match_the_results():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tables.py"), "--check"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
