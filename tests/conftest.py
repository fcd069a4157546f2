"""Shared test set-up: make tests/ importable for its helper modules, keep torch on two threads."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(2)
