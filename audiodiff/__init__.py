"""audiodiff: diffusion-based audio enhancement and synthesis."""

__version__ = "0.1.0"

from audiodiff.audio import AudioError, load_audio, save_audio  # noqa: E402
from audiodiff.diffusion.sampling import SAMPLERS, sample  # noqa: E402
from audiodiff.hub import from_pretrained, save_pretrained  # noqa: E402
from audiodiff.model import DiffusionModel  # noqa: E402
from audiodiff.pipelines.enhance import Enhancer  # noqa: E402
from audiodiff.pipelines.repair import Repairer  # noqa: E402
from audiodiff.pipelines.speak import TextToSpeech  # noqa: E402
from audiodiff.pipelines.synth import MusicSynth  # noqa: E402
from audiodiff.pipelines.vocode import Vocoder  # noqa: E402


def load(name_or_folder: str, device: str = "cpu") -> DiffusionModel:
    """Load a shipped model by name or a checkpoint folder (offline, safetensors only)."""
    return from_pretrained(name_or_folder, device=device)


__all__ = [
    "AudioError", "DiffusionModel", "Enhancer", "MusicSynth", "Repairer", "SAMPLERS", "TextToSpeech", "Vocoder",
    "__version__", "from_pretrained", "load",
    "load_audio", "sample", "save_audio", "save_pretrained",
]
