"""Sub-commands of the ``audiodiff`` CLI, one module each; ``verb`` registers them in ``VERBS``."""

from __future__ import annotations

import argparse
from typing import Callable

VERBS: dict[str, tuple[Callable, Callable, str]] = {}


def verb(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register ``fn(args) -> exit code`` as ``audiodiff <name>``; ``configure`` adds its options."""

    def add(fn):
        VERBS[name] = (fn, configure, help)
        return fn

    return add
