"""Shared test set-up: make tests/ importable for its helper modules, keep torch on two threads."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(2)


@pytest.fixture
def one_thread():
    """Run a test on one torch thread (the machine's two cores are often shared), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
