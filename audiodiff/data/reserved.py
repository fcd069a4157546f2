"""The evaluation-only sources (the builder's own copy of ``shared/data/reserved_sources.json``)
and the one question asked of them: is this file, title, name or sentence reserved?"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path


@lru_cache(maxsize=1)
def reserved_list() -> dict:
    """The builder's own copy of ``shared/data/reserved_sources.json``."""
    return json.loads(resources.files("audiodiff.data").joinpath("reserved_sources.json").read_text())


def _reserved_entry(package_prefix: str) -> dict:
    """The reserved-list entry of a package (matched on its exact name)."""
    for entry in reserved_list()["reserved"]:
        if entry["package"].split()[0] == package_prefix:
            return entry
    return {}


def is_reserved(package: str, relative: str) -> bool:
    """True if ``relative`` (path inside the package root, title or name) is reserved."""
    entry = _reserved_entry(package)
    if not entry:
        return False
    if entry.get("files") == "all":
        return True
    rel = relative.replace("\\", "/")
    if isinstance(entry.get("files"), list):
        return rel in entry["files"]
    if "levels" in entry:
        return rel.split("/")[0] in entry["levels"]
    if "entries_by_title" in entry:
        return rel in entry["entries_by_title"]
    if "names" in entry:
        return Path(rel).stem in entry["names"]
    if "sentences" in entry:  # texts evaluation sets read (package "text")
        return _words(relative) in {_words(s) for s in entry["sentences"]}
    return False


def _words(text: str) -> str:
    """Lower-case words only: punctuation, case and spacing do not hide a reserved sentence."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))
