"""Quality metrics for enhancement: PESQ-WB, ESTOI, SI-SDR (torchmetrics), log-spectral distance, and
the non-intrusive DNSMOS P.835 and PLCMOS v2 (what a listener hears: no reference needed).

All take ``estimate`` and ``reference`` ``[T]`` or ``[B, T]`` waveforms and return floats (means over B).
"""

from __future__ import annotations

import torch
from torchmetrics.functional.audio import (
    perceptual_evaluation_speech_quality,
    scale_invariant_signal_distortion_ratio,
    short_time_objective_intelligibility,
)

from audiodiff.audio import resample


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019)."""
    return scale_invariant_signal_distortion_ratio(estimate, reference, zero_mean=True).mean().item()


def pesq_wb(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """Wide-band PESQ (ITU-T P.862.2) at 16 kHz (other rates are resampled)."""
    est, ref = resample(estimate, sample_rate, 16_000), resample(reference, sample_rate, 16_000)
    return perceptual_evaluation_speech_quality(est, ref, 16_000, "wb").mean().item()


def estoi(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """Extended STOI (Jensen & Taal 2016)."""
    return short_time_objective_intelligibility(estimate, reference, sample_rate, extended=True).mean().item()


def log_spectral_distance(estimate: torch.Tensor, reference: torch.Tensor, n_fft: int = 1024,
                          band: tuple[int, int] | None = None, sample_rate: int | None = None) -> float:
    """RMS over frequency of the log10 power spectrum difference (dB), averaged over frames.

    ``band=(f_lo, f_hi)`` in Hz (with ``sample_rate``) restricts the bins.
    """
    window = torch.hann_window(n_fft)

    def spec(x):
        s = torch.stft(x.reshape(-1, x.shape[-1]), n_fft, n_fft // 4, window=window, return_complex=True)
        return 10 * torch.log10(s.abs().pow(2).clamp_min(1e-10))

    diff = spec(estimate) - spec(reference)
    if band is not None:
        freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)
        diff = diff[:, (freqs >= band[0]) & (freqs < band[1])]
    return diff.pow(2).mean(dim=1).sqrt().mean().item()


DNSMOS_KEYS = ("sig", "bak", "ovrl")
_dnsmos_model = None


def dnsmos_model():
    """speechmos's DNSMOS P.835 model (ONNX files inside its wheel), built once, its onnxruntime
    sessions on torch's thread count (onnxruntime would otherwise take every core)."""
    global _dnsmos_model
    if _dnsmos_model is None:
        try:
            import onnxruntime
            from speechmos import dnsmos
        except ImportError as err:
            raise ImportError(f"DNSMOS needs PyPI speechmos and onnxruntime ({err}): "
                              "pip install 'audiodiff[eval]'") from None
        from pathlib import Path

        folder = Path(dnsmos.__file__).parent / "dnsmos_models"
        model = dnsmos.DNSMOS(str(folder / "sig_bak_ovr.onnx"), str(folder / "model_v8.onnx"))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = torch.get_num_threads(), 1
        model.onnx_sess = onnxruntime.InferenceSession(model.primary_model_path, options)
        model.p808_onnx_sess = onnxruntime.InferenceSession(str(folder / "model_v8.onnx"), options)
        _dnsmos_model = model
    return _dnsmos_model


def dnsmos(estimate: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """DNSMOS P.835 (Reddy et al., ICASSP 2022) of one ``[T]`` waveform: ``{"sig": speech
    distortion, "bak": background intrusiveness, "ovrl": overall}``, each a predicted mean opinion
    score from 1 to 5 (higher is better), averaged over 9 s windows a second apart (shorter clips are
    repeated to 9 s, as the DNS Challenge scores them). Needs no reference. Audio is resampled to 16 kHz
    and clipped to [-1, 1]."""
    wav = resample(estimate.reshape(-1).float(), sample_rate, 16_000).clamp(-1, 1).numpy()
    scores = dnsmos_model()(wav, 16_000, False)
    return {key: float(scores[f"{key}_mos"]) for key in DNSMOS_KEYS}


_plcmos_model = None


def plcmos(estimate: torch.Tensor, sample_rate: int) -> float:
    """PLCMOS v2 (Mittag et al., Interspeech 2023; speechmos's ONNX model): the predicted mean opinion
    score, 1 to 5, of speech after packet-loss concealment. Needs no reference. Audio is resampled
    to 16 kHz and clipped to [-1, 1]; its simulated raters are drawn from a fixed seed, so a file
    always gets the same score."""
    global _plcmos_model
    if _plcmos_model is None:
        try:
            from speechmos.plcmos import PLCMOS
        except ImportError as err:
            raise ImportError(f"PLCMOS needs PyPI speechmos and onnxruntime ({err}): "
                              "pip install 'audiodiff[eval]'") from None
        _plcmos_model = PLCMOS()
    import numpy as np

    wav = resample(estimate.reshape(-1).float(), sample_rate, 16_000).clamp(-1, 1).numpy()
    state = np.random.get_state()
    np.random.seed(0)
    try:
        return float(_plcmos_model.get_mos(wav, 16_000))
    finally:
        np.random.set_state(state)


def speech_scores(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """``{"pesq", "estoi", "si_sdr", "sig", "bak", "ovrl"}`` for one pair of ``[T]`` waveforms:
    the intrusive scores against ``reference`` and DNSMOS P.835 of ``estimate`` (:func:`dnsmos`)."""
    return {"pesq": pesq_wb(estimate, reference, sample_rate), "estoi": estoi(estimate, reference, sample_rate),
            "si_sdr": si_sdr(estimate, reference), **dnsmos(estimate, sample_rate)}


def music_scores(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """``{"si_sdr": ..., "lsd": ...}`` for one pair of ``[T]`` waveforms."""
    return {"si_sdr": si_sdr(estimate, reference), "lsd": log_spectral_distance(estimate, reference)}


SCORES = {"speech": speech_scores, "music": music_scores}


# ----------------------------------------------------------------------------- synthesis (vocoders)

MRSTFT_RESOLUTIONS = ((512, 128, 512), (1024, 256, 1024), (2048, 512, 2048))  # (n_fft, hop, window)


def _magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    window = torch.hann_window(win, device=x.device)
    return torch.stft(x.reshape(-1, x.shape[-1]), n_fft, hop, win, window, return_complex=True).abs()


def mrstft_distance(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """Multi-resolution STFT distance (Yamamoto et al. 2020): spectral convergence plus mean absolute
    log-magnitude difference, averaged over three resolutions (lower is better)."""
    total = 0.0
    for n_fft, hop, win in MRSTFT_RESOLUTIONS:
        est, ref = _magnitude(estimate, n_fft, hop, win), _magnitude(reference, n_fft, hop, win)
        convergence = (est - ref).norm() / ref.norm().clamp_min(1e-8)
        log_mag = (est.clamp_min(1e-7).log() - ref.clamp_min(1e-7).log()).abs().mean()
        total += (convergence + log_mag).item()
    return total / len(MRSTFT_RESOLUTIONS)


def log_mel_distance(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int, n_mels: int = 80) -> float:
    """Mean absolute difference of the log-mel spectra in dB (1024-point frames, hop 256)."""
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=1024, hop_length=256, n_mels=n_mels, power=2.0)
    est, ref = (10 * torch.log10(mel(x.reshape(-1, x.shape[-1])).clamp_min(1e-10)) for x in (estimate, reference))
    return (est - ref).abs().mean().item()


def f0_track(x: torch.Tensor, sample_rate: int):
    """librosa's pYIN over ``[T]``: ``(f0 [frames] in Hz, voiced [frames] bool)``, 65-400 Hz,
    1024-sample frames at 16 kHz (scaled with the rate)."""
    import librosa

    f0, voiced, _ = librosa.pyin(x.reshape(-1).double().numpy(), fmin=65.0, fmax=400.0, sr=sample_rate,
                                 frame_length=1024 * sample_rate // 16_000)
    return f0, voiced


def f0_errors(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int,
              reference_track=None) -> dict[str, float]:
    """``{"f0_rmse": Hz over frames voiced in both, "vuv_error": share of frames whose voicing
    differs}`` from pYIN tracks (:func:`f0_track`; pass the reference's to avoid recomputing it)."""
    import numpy as np

    f_est, v_est = f0_track(estimate, sample_rate)
    f_ref, v_ref = reference_track if reference_track is not None else f0_track(reference, sample_rate)
    frames = min(len(f_est), len(f_ref))
    f_est, v_est, f_ref, v_ref = f_est[:frames], v_est[:frames], f_ref[:frames], v_ref[:frames]
    both = v_est & v_ref
    rmse = float(np.sqrt(np.mean((f_est[both] - f_ref[both]) ** 2))) if both.any() else float("nan")
    return {"f0_rmse": rmse, "vuv_error": float(np.mean(v_est != v_ref))}


def synthesis_scores(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int,
                     reference_track=None) -> dict[str, float]:
    """Vocoder scores for one pair of ``[T]`` waveforms: PESQ-WB, log-mel and multi-resolution STFT
    distances, F0 RMSE and voicing error (``reference_track``: the reference's :func:`f0_track`)."""
    return {"pesq": pesq_wb(estimate, reference, sample_rate),
            "log_mel": log_mel_distance(estimate, reference, sample_rate),
            "mrstft": mrstft_distance(estimate, reference),
            **f0_errors(estimate, reference, sample_rate, reference_track)}


SCORES["synthesis"] = synthesis_scores


# ----------------------------------------------------------------------------- music synthesis (MIDI)

ONSET_DETECTORS = ("spectral flux", "superflux")
"""The onset detectors :func:`detect_onsets` knows. ``spectral flux``: librosa's defaults (log-mel
flux between neighbouring frames, hop 512). ``superflux``: Böck and Widmer's vibrato suppression
(DAFx 2013), with the paper's parameters on a mel spectrogram: 46 ms frames every 5 ms, 138 bands
from 27.5 Hz, the flux taken two frames apart against a maximum filter of three bands, so a
partial that wobbles by a band or two (vibrato) does not read as an attack."""
ONSET_DETECTOR = "spectral flux"
"""The detector the MIDI-synthesis scores use, chosen on training renders by
``benchmarks/onset_detector.py``: against the MIDI note-ons of 40 fluidsynth renders it scores F1
0.696 where SuperFlux scores 0.574 (SuperFlux misses slow attacks: recall 0.548)."""


def detect_onsets(x: torch.Tensor, sample_rate: int, detector: str = ONSET_DETECTOR) -> "np.ndarray":
    """Onset times in seconds of a ``[T]`` waveform: peaks of the onset envelope of ``detector`` (one
    of :data:`ONSET_DETECTORS`), librosa's peak picking, not backtracked."""
    import librosa
    import numpy as np

    y = x.reshape(-1).double().numpy()
    if detector == "spectral flux":
        return librosa.onset.onset_detect(y=y, sr=sample_rate, units="time", backtrack=False)
    if detector != "superflux":
        raise ValueError(f"onset detector {detector!r}: expected one of {', '.join(ONSET_DETECTORS)}")
    hop = round(0.005 * sample_rate)
    mel = librosa.feature.melspectrogram(y=y, sr=sample_rate, n_fft=round(0.046 * sample_rate), hop_length=hop,
                                         n_mels=138, fmin=27.5, fmax=sample_rate / 2)
    envelope = librosa.onset.onset_strength(S=librosa.power_to_db(mel, ref=np.max), sr=sample_rate,
                                            hop_length=hop, lag=2, max_size=3)
    return librosa.onset.onset_detect(onset_envelope=envelope, sr=sample_rate, hop_length=hop, units="time",
                                      backtrack=False)


def onset_f1(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int, window: float = 0.05,
             detector: str = ONSET_DETECTOR) -> float:
    """F-measure of the onsets ``detector`` finds in ``estimate`` against those it finds in ``reference``
    (mir_eval, +-``window`` seconds); 1.0 when neither has any."""
    import mir_eval

    ref, est = detect_onsets(reference, sample_rate, detector), detect_onsets(estimate, sample_rate, detector)
    if len(ref) == 0 and len(est) == 0:
        return 1.0
    if len(ref) == 0 or len(est) == 0:
        return 0.0
    return float(mir_eval.onset.f_measure(ref, est, window=window)[0])


def onset_misses(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int, note_ons: "np.ndarray",
                 window: float = 0.05) -> dict[str, float]:
    """Where the onsets detected in ``estimate`` fall short of those detected in ``reference``.

    ``note_ons`` are the MIDI note-on times (seconds). Returns the onset precision and recall, and
    the share of the reference's onsets that are missed although a note starts within ``window``
    (``missed_at_note``) or missed with no note-on near them (``missed_off_note``: what the detector
    reads in the reference's sound itself, such as a bank's vibrato or a slow attack's late peak).
    """
    import mir_eval
    import numpy as np

    ref, est = detect_onsets(reference, sample_rate), detect_onsets(estimate, sample_rate)
    if len(ref) == 0:
        return {"onset_precision": float(len(est) == 0), "onset_recall": 1.0,
                "missed_at_note": 0.0, "missed_off_note": 0.0}
    _, precision, recall = mir_eval.onset.f_measure(ref, est, window=window) if len(est) else (0.0, 0.0, 0.0)
    missed = [t for t in ref if len(est) == 0 or np.abs(est - t).min() > window]
    at_note = sum(1 for t in missed if len(note_ons) and np.abs(note_ons - t).min() <= window)
    return {"onset_precision": float(precision), "onset_recall": float(recall),
            "missed_at_note": at_note / len(ref), "missed_off_note": (len(missed) - at_note) / len(ref)}


def chroma_cosine(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """Mean cosine similarity of the chroma (librosa CQT chroma, hop 512) frame by frame, over the
    frames where the reference is not silent."""
    import librosa
    import numpy as np

    def chroma(x):
        return librosa.feature.chroma_cqt(y=x.reshape(-1).double().numpy(), sr=sample_rate, hop_length=512)

    est, ref = chroma(estimate), chroma(reference)
    frames = min(est.shape[1], ref.shape[1])
    est, ref = est[:, :frames], ref[:, :frames]
    rms = librosa.feature.rms(y=reference.reshape(-1).double().numpy(), hop_length=512)[0][:frames]
    sounding = rms > 1e-3 * max(rms.max(), 1e-12)
    if not sounding.any():
        return float("nan")
    cos = (est * ref).sum(0) / (np.linalg.norm(est, axis=0) * np.linalg.norm(ref, axis=0) + 1e-8)
    return float(cos[sounding].mean())


def music_synthesis_scores(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> dict[str, float]:
    """MIDI-synthesis scores for one pair of ``[T]`` waveforms against the reference render: onset
    F1, chroma cosine and multi-resolution STFT distance."""
    return {"onset_f1": onset_f1(estimate, reference, sample_rate),
            "chroma": chroma_cosine(estimate, reference, sample_rate),
            "mrstft": mrstft_distance(estimate, reference)}


SCORES["midi"] = music_synthesis_scores
