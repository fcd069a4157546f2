# The two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.install-stamp

.PHONY: test demo install bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall only when the package metadata changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/audiodiff denoise examples/noisy_speech.flac -o outputs/demo/enhanced_speech.flac --model speech-enhance --plot --overwrite
	$(BIN)/audiodiff denoise examples/noisy_music.flac -o outputs/demo/enhanced_music.flac --model music-enhance --plot --overwrite
	$(BIN)/audiodiff vocode --task bandwidth examples/narrowband_prompt.flac -o outputs/demo/wideband_prompt.wav --plot --overwrite
	$(BIN)/audiodiff repair examples/lost_packets_speech.flac -o outputs/demo/repaired_speech.flac --plot --overwrite
	$(BIN)/audiodiff repair examples/dropouts_music.flac -o outputs/demo/repaired_music.flac --model music-repair --plot --overwrite
	$(BIN)/audiodiff vocode --task vocoder examples/clean_speech.flac -o outputs/demo/resynthesized_speech.wav --plot --overwrite
	$(BIN)/audiodiff synth examples/chorale.mid -o outputs/demo/chorale.wav --plot --overwrite
	$(BIN)/audiodiff speak "Thank you for calling. Please check the number and dial again." -o outputs/demo/spoken.wav --plot --overwrite
	@echo "Listen: examples/noisy_*.flac (input) vs outputs/demo/enhanced_*.flac; spectrograms: outputs/demo/enhanced_*.png"
	@echo "Telephone band restored: examples/narrowband_prompt.flac (8 kHz) vs outputs/demo/wideband_prompt.wav (16 kHz, plot beside it)"
	@echo "Lost packets filled: examples/lost_packets_speech.flac -> outputs/demo/repaired_speech.flac (plot beside it)"
	@echo "Music dropouts filled: examples/dropouts_music.flac -> outputs/demo/repaired_music.flac (plot beside it)"
	@echo "Re-synthesized from its mel: examples/clean_speech.flac -> outputs/demo/resynthesized_speech.wav"
	@echo "MIDI rendered: examples/chorale.mid -> outputs/demo/chorale.wav (fluidsynth's render for comparison: examples/chorale_fluidsynth.flac)"
	@echo "Text spoken (early model): outputs/demo/spoken.wav (spectrogram: outputs/demo/spoken.png)"

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python benchmarks/samplers.py
	$(BIN)/python benchmarks/backbones.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
