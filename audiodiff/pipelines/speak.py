"""TextToSpeech: text in, speech in a recorded voice out (``audiodiff speak``).

A text is split into sentences and read by espeak-ng (:mod:`audiodiff.text`); each reading, as a
log-mel stretched to the voice's pace, is turned by the diffusion model into the voice's log-mel
(:class:`~audiodiff.observations.SpokenSketch`), chunk by chunk and batched across sentences and
texts (:class:`~audiodiff.pipelines.runner.ChunkedRunner` in model space); the vocoder renders each
sentence (``speech-vocoder``), and the sentences are joined with pauses, faded at each edge.
A sentence's result depends on the seed and its place in its text only, not on what it was batched with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch

from audiodiff.hub import from_pretrained
from audiodiff.model import DiffusionModel
from audiodiff.observations import SpokenSketch
from audiodiff.pipelines.runner import ChunkedRunner, Signal, pick_device
from audiodiff.pipelines.vocode import Vocoder
from audiodiff.text import TextError, reading, sentences

PAUSE_SECONDS = 0.1  # between sentences (each ends in espeak-ng's own pause, about 0.35 s)
MIN_FRAMES = 8  # a sentence's log-mel: the vocoder's Griffin-Lim needs a few frames
FADE_SECONDS = 0.01  # at each sentence's edges
MEL_FLOOR, MEL_CEILING = math.log(1e-5), 6.0  # log-mels: the floor of Mel.encode, far above speech's loudest


class TextToSpeech:
    """Speak text with a text-to-speech model (default ``speech-tts``) and a vocoder.

    Args:
        model: a :class:`DiffusionModel`, a shipped name or a checkpoint folder.
        vocoder: the mel vocoder (a name, folder or :class:`Vocoder`).
        device: ``auto``, ``cpu`` or ``cuda``.
        steps, solver, guidance: sampler settings (default: the checkpoint's).
        chunk_seconds, overlap_seconds: long sentences are generated in overlapping chunks.
        batch_size: chunks per denoiser call, across sentences and texts.

    Example:
        >>> tts = TextToSpeech("speech-tts")
        >>> audio, rate = tts("Your call is important to us.", voice="en_US_f_Allison", seed=0)  # [1, T]
    """

    def __init__(self, model: DiffusionModel | str = "speech-tts", vocoder: Vocoder | str = "speech-vocoder",
                 device: str = "auto", steps: int | None = None, solver: str | None = None,
                 guidance: float | None = None, chunk_seconds: float = 8.0, overlap_seconds: float = 0.5,
                 batch_size: int = 8):
        self.device = pick_device(device)
        self.model = (model if isinstance(model, DiffusionModel) else from_pretrained(model)).to(self.device).eval()
        if not isinstance(self.model.observation, SpokenSketch):
            raise ValueError(f"TextToSpeech needs a text-to-speech model, not {self.model.config.get('task')!r}")
        self.vocoder = vocoder if isinstance(vocoder, Vocoder) else Vocoder(vocoder, device=device, steps=None)
        rep, sampling = self.model.representation, self.model.config["sampling"]
        frames = rep.sample_rate / rep.hop_length
        self.runner = ChunkedRunner(self.model, self.device, int(chunk_seconds * frames), int(overlap_seconds * frames),
                                    batch_size, steps or sampling["steps"], solver or sampling["solver"],
                                    guidance if guidance is not None else sampling.get("guidance", 1.0), decode=False)

    @property
    def sample_rate(self) -> int:
        return self.vocoder.sample_rate

    @property
    def voices(self) -> list[str]:
        """The voices this model speaks in (``voice=``), the default first."""
        return list(self.model.denoiser.head.parts["voice"].names)

    def check_voice(self, voice: str | None) -> str:
        """``voice``, or the default when None; ValueError naming the voices for an unknown one."""
        if voice is None:
            return self.voices[0]
        if voice not in self.voices:
            raise ValueError(f"voice {voice!r}: this model speaks in {', '.join(self.voices)}")
        return voice

    def __call__(self, text: str, voice: str | None = None, seed: int = 0, pace: float = 1.0,
                 steps: int | None = None, guidance: float | None = None) -> tuple[torch.Tensor, int]:
        """Speak ``text``: ``(audio [1, T], sample_rate)``. ``pace`` above 1 speaks faster; ``steps`` and
        ``guidance`` (toward the voice) override the settings this speaker was made with."""
        ((_, audio),) = list(self.speak_many([(0, text)], voice=voice, seed=seed, pace=pace, steps=steps,
                                             guidance=guidance))
        return audio, self.sample_rate

    def speak_many(self, items: Iterable[tuple[object, str]], voice: str | None = None, seed: int = 0,
                   pace: float = 1.0, steps: int | None = None, guidance: float | None = None,
                   on_chunks=None) -> Iterator[tuple[object, torch.Tensor]]:
        """Speak ``(key, text)`` items; yields ``(key, audio [1, T])`` in order. ``steps`` and ``guidance``
        override the speaker's settings (guidance: classifier-free, toward the voice; 1: none).
        TextError for a text with nothing pronounceable (before anything runs for it)."""
        voice = self.check_voice(voice)
        if guidance is not None and guidance < 0:
            raise ValueError(f"guidance must be >= 0 (1: none), got {guidance}")
        if not 0.25 <= pace <= 4:
            raise ValueError(f"pace must be between 0.25 and 4, got {pace}")
        for key, mels in self._mels(items, voice, seed, pace, steps, guidance, on_chunks):
            mels = [mel.clamp(MEL_FLOOR, MEL_CEILING) for mel in mels]  # the range of speech's log-mels
            waves = dict(self.vocoder.run_many([(i, mel[None], None) for i, mel in enumerate(mels)], seed=seed))
            yield key, self._join([waves[i] for i in range(len(mels))])

    def _mels(self, items, voice: str, seed: int, pace: float, steps: int | None, guidance: float | None,
              on_chunks):
        """``(key, [log-mel [n_mels, N] per sentence])`` for each item, in order."""
        lang = voice[:2]
        stretch = self.model.observation.paces.get(voice, 1.0) / pace
        observation, rep = self.model.observation, self.model.representation

        def signals():
            for key, text in items:
                said = sentences(text, lang)
                if not said:
                    raise TextError(f"{key}: nothing to pronounce in {text!r}")
                for index, sentence in enumerate(said):
                    sketch = reading(sentence, lang, rep)
                    frames = max(MIN_FRAMES, round(sketch.shape[1] * stretch))
                    mode = "linear" if frames >= sketch.shape[1] else "area"  # squeezed: no frame skipped
                    sketch = torch.nn.functional.interpolate(sketch[None], size=frames, mode=mode)[0]
                    yield Signal((key, index, len(said)), 1, frames, min(self.runner.chunk, frames),
                                 lambda c, start, size, s=sketch: observation.inputs(_frames(s, start, size), voice),
                                 part=index, rows=sketch.shape[0])

        done: list[torch.Tensor] = []
        for signal, mel in self.runner.run(signals(), seed=seed, steps=steps, guidance=guidance,
                                          on_chunks=on_chunks):
            key, index, count = signal.key
            done.append(mel)
            if index == count - 1:
                yield key, done
                done = []

    def _join(self, waves: list[torch.Tensor]) -> torch.Tensor:
        """Sentences ``[1, T_i]`` faded at their edges and joined with pauses: ``[1, T]``."""
        fade, pause = int(FADE_SECONDS * self.sample_rate), torch.zeros(1, int(PAUSE_SECONDS * self.sample_rate))
        pieces = []
        for wave in waves:
            ramp = torch.linspace(0, 1, min(fade, wave.shape[-1] // 2))
            wave = wave.clone()
            wave[..., : len(ramp)] *= ramp
            wave[..., wave.shape[-1] - len(ramp) :] *= ramp.flip(0)
            pieces += [wave, pause]
        return torch.cat(pieces[:-1], dim=-1)


def _frames(sketch: torch.Tensor, start: int, size: int) -> torch.Tensor:
    """Frames ``[start, start + size)`` of ``sketch`` ``[n_mels, N]``, padded with its quietest value."""
    piece = sketch[:, start : start + size]
    return torch.nn.functional.pad(piece, (0, size - piece.shape[1]), value=float(sketch.min()))

