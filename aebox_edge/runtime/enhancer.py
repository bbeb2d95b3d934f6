"""The device runtime: an exported analyser (``.tflite`` + metadata JSON) run by a LiteRT interpreter, and the
sliding-window enhancement of whole signals with it.

No TensorFlow on this path: the interpreter comes from ``ai_edge_litert``, else ``tflite_runtime`` (with a warning
about its limits), and only when neither is installed from ``tensorflow.lite``. The interpreter is created with an
explicit thread count and allocated once; every prediction reuses its tensors.

Sliding analysis (files, ``Enhancer.process``): windows of ``front_end.window_samples`` at the analysis rate (2.5 s)
every ``hop_s`` seconds over the whole input, each mixed to mono and resampled to the analysis rate; the last window
is aligned to the end of the input, and an input shorter than one window is analysed once (zero-padded). The
reference is analysed once: its non-overlapping windows are scored and the *most typical active window* is used --
among the windows within ``REFERENCE_ACTIVE_DB`` of the loudest one, the one whose mean log-mel spectrum is closest
(mean absolute dB difference) to the median spectrum of those windows. It is a real 2.5 s excerpt (no averaged,
smeared spectrogram the network never saw in training), skips silence and intros, and is robust to one-off loud
events. The network's normalized outputs are smoothed over time with a Gaussian (zero-phase, sigma ``smoothing_s``)
and applied per block with ``ddsp_kernels.StreamingChain`` at the signal's own rate and channels, the parameters
interpolated linearly between window centres.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import sys
import tempfile
import warnings
from importlib import metadata as _dist_metadata
from typing import Callable, Iterable, Iterator

import numpy as np

from ddsp_kernels import PARAM_SPEC, StreamingChain

from ..errors import InputError, RuntimeFailure
from ..frontend import FRONT_ENDS, fit_window, log_mel
from .metadata import load_metadata

# Interpreter backends in order of preference: (name, module, attribute path of the Interpreter class, distribution).
BACKENDS = (
    ("ai_edge_litert", "ai_edge_litert.interpreter", "Interpreter", "ai-edge-litert"),
    ("tflite_runtime", "tflite_runtime.interpreter", "Interpreter", "tflite-runtime"),
    ("tensorflow", "tensorflow", "lite.Interpreter", "tensorflow"),
)
BACKEND_NOTES = {
    "tflite_runtime": "the interpreter is tflite-runtime: it cannot run under numpy 2, cannot load FULLY_CONNECTED "
                      "v12 models and runs int8 models without XNNPACK (several times slower); install ai-edge-litert",
    "tensorflow": "the interpreter is tensorflow.lite (seconds to import, deprecated); install ai-edge-litert",
}

MODEL_ENV = "AEBOX_EDGE_MODEL"
DEFAULT_MODEL = "aebox_edge_edge_int8.tflite"
SIGNATURE_KEY = "serving_default"

HOP_S = 1.25                # analysis hop
SMOOTHING_S = 2.5           # Gaussian sigma of the parameter track (files); EMA time constant (live)
BLOCK_S = 0.25              # DSP block of the file runner; parameters are updated at most once per block
UPDATE_TOLERANCE = 2e-3     # normalized change below which a block keeps the previous parameters
REFERENCE_ACTIVE_DB = 20.0  # reference windows this far below the loudest one are not candidates


@dataclasses.dataclass(frozen=True)
class Backend:
    """An interpreter backend: its name, distribution version, Interpreter class and a note on its limits."""

    name: str
    version: str
    interpreter_class: type
    note: str | None

    def __str__(self):
        return f"{self.name} {self.version}"


def import_backend(entry: tuple[str, str, str, str]) -> Backend:
    """The ``Backend`` of one ``BACKENDS`` entry; raises whatever importing it raises."""
    backend, module_name, attribute, dist = entry
    obj = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    try:
        version = _dist_metadata.version(dist)
    except _dist_metadata.PackageNotFoundError:
        version = "unknown version"
    return Backend(backend, version, obj, BACKEND_NOTES.get(backend))


def load_backend(name: str | None = None) -> Backend:
    """The first importable backend of ``BACKENDS`` (or the one named); warns when it is not ai_edge_litert.
    Raises ``RuntimeFailure`` listing why each candidate failed when none can be imported."""
    candidates = [b for b in BACKENDS if name in (None, b[0])]
    if not candidates:
        raise InputError(f"unknown interpreter backend {name!r}; choose from {', '.join(b[0] for b in BACKENDS)}")
    failures = []
    for entry in candidates:
        try:
            backend = import_backend(entry)
        except Exception as exc:  # e.g. tflite-runtime 2.14 under numpy 2 fails while importing
            failures.append(f"{entry[1]}: {type(exc).__name__}: {exc}")
            continue
        if backend.note:
            warnings.warn(backend.note, RuntimeWarning, stacklevel=2)
        return backend
    raise RuntimeFailure("no TFLite interpreter could be imported (install ai-edge-litert): " + "; ".join(failures))


@contextlib.contextmanager
def _native_log():
    """Capture what native code writes to file descriptor 2 (the interpreter logs e.g. "INFO: Created TensorFlow
    Lite XNNPACK delegate for CPU.") into the yielded list of lines."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read().decode(errors="replace").splitlines())


def default_model_path() -> str:
    """The model to use when none is given: ``$AEBOX_EDGE_MODEL``, else ``DEFAULT_MODEL`` in the package data
    (``aebox_edge/models/``), else in the source checkout's ``models/`` directory. Raises ``InputError``."""
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV]
    from importlib import resources

    packaged = resources.files("aebox_edge.models") / DEFAULT_MODEL
    checkout = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", DEFAULT_MODEL)
    for candidate in (str(packaged), checkout):
        if os.path.isfile(candidate):
            return candidate
    raise InputError(f"no model given and no shipped model found (looked for {DEFAULT_MODEL} in aebox_edge/models/ "
                     f"and {os.path.dirname(checkout)}); pass --model PATH.tflite or export one with aebox-edge export")


@dataclasses.dataclass
class ParamTrack:
    """The analysis of a signal: window centre times (s), the network's normalized outputs and their smoothed
    track, both (windows, 24). ``reference`` describes the reference window that was used."""

    times_s: np.ndarray
    raw: np.ndarray
    smoothed: np.ndarray
    reference: dict

    def at(self, t_s: float) -> np.ndarray:
        """Normalized parameters at time ``t_s``: linear between window centres, held beyond the first and last."""
        return np.array([np.interp(t_s, self.times_s, column) for column in self.smoothed.T], dtype=np.float32)

    def to_json(self) -> dict:
        """JSON-able: times, ``params`` (smoothed, physical, name -> list per window), ``raw_normalized`` and
        ``reference_window``."""
        physical = PARAM_SPEC.to_physical(self.smoothed)
        return {
            "times_s": [round(float(t), 6) for t in self.times_s],
            "params": {name: [float(v) for v in np.atleast_1d(physical[name])] for name in PARAM_SPEC.names},
            "raw_normalized": self.raw.astype(float).round(6).tolist(),
            "reference_window": self.reference,
        }


def smooth_track(times_s: np.ndarray, values: np.ndarray, sigma_s: float) -> np.ndarray:
    """Gaussian smoothing (zero-phase, normalized weights, truncated at 3 sigma) of ``values`` (n, k) sampled at
    the increasing ``times_s``; ``sigma_s <= 0`` returns a copy."""
    values = np.asarray(values, dtype=np.float64)
    if sigma_s <= 0 or len(values) < 2:
        return values.astype(np.float32)
    lo = np.searchsorted(times_s, times_s - 3 * sigma_s, side="left")
    hi = np.searchsorted(times_s, times_s + 3 * sigma_s, side="right")
    out = np.empty_like(values)
    for i in range(len(values)):
        w = np.exp(-0.5 * ((times_s[lo[i]:hi[i]] - times_s[i]) / sigma_s) ** 2)
        out[i] = w @ values[lo[i]:hi[i]] / w.sum()
    return out.astype(np.float32)


def array_blocks(x: np.ndarray, block_frames: int, overlap: int = 0) -> Iterator[np.ndarray]:
    """Blocks of an in-memory (frames, channels) array exactly as ``audio.BlockReader`` yields those of a file."""
    step = block_frames - overlap
    start = 0
    while start == 0 or start - step + block_frames < len(x):
        yield x[start:start + block_frames]
        start += step


def sliding_windows(blocks: Iterable[np.ndarray], window_frames: int, hop_frames: int
                    ) -> Iterator[tuple[int, np.ndarray]]:
    """(start frame, window) from blocks read with ``block_frames=window_frames, overlap=window_frames -
    hop_frames``: windows every ``hop_frames``, the last one aligned to the end of the signal (a signal shorter
    than one window gives one short window)."""
    previous = None
    for k, block in enumerate(blocks):
        if len(block) < window_frames and previous is not None:
            joined = np.concatenate([previous, block[window_frames - hop_frames:]])
            yield (k - 1) * hop_frames + len(joined) - window_frames, joined[-window_frames:]
            return
        yield k * hop_frames, block
        previous = block


def check_hop(hop_s: float, window_s: float) -> None:
    """Refuse (``InputError``) an analysis hop outside (0, window]."""
    if not 0 < hop_s <= window_s:
        raise InputError(f"hop must be in (0, {window_s:g}] seconds (the analysis window), got {hop_s:g}")


class Enhancer:
    """An exported analyser ready to predict EQ + compressor settings.

    ``model_path`` (default: ``default_model_path()``) must have its metadata JSON beside it
    (``metadata.load_metadata``); ``num_threads`` goes to the interpreter; ``backend`` forces one of
    ``BACKENDS``. Bad or mismatched models raise ``InputError`` (``ModelMetadataError``)."""

    def __init__(self, model_path: str | os.PathLike | None = None, *, num_threads: int = 1,
                 backend: str | None = None):
        if num_threads < 1:
            raise InputError(f"num_threads must be at least 1, got {num_threads}")
        self.model_path = os.fspath(model_path) if model_path is not None else default_model_path()
        if not os.path.isfile(self.model_path):
            raise InputError(f"{self.model_path}: no such model file")
        self.metadata = load_metadata(self.model_path)
        self.front_end = FRONT_ENDS[self.metadata["front_end"]["name"]]
        self.num_threads = num_threads
        self.backend = load_backend(backend)
        try:
            with _native_log() as log:
                interpreter = self.backend.interpreter_class(model_path=self.model_path, num_threads=num_threads)
                interpreter.allocate_tensors()
            signature = interpreter.get_signature_runner(self.metadata.get("signature_key", SIGNATURE_KEY))
            inputs, outputs = signature.get_input_details(), signature.get_output_details()
        except (ValueError, RuntimeError, KeyError) as exc:
            detail = " ".join(line for line in log if not line.startswith("INFO:"))
            raise InputError(f"{self.model_path}: not a usable .tflite model ({type(exc).__name__}: {exc}"
                             f"{'; ' + detail if detail else ''})") from None
        self._interpreter = interpreter
        names = list(self.metadata["inputs"])
        if sorted(inputs) != sorted(names) or self.metadata["output"] not in outputs:
            raise InputError(f"{self.model_path}: model signature (inputs {sorted(inputs)}, outputs {sorted(outputs)})"
                             f" does not match its metadata (inputs {names}, output {self.metadata['output']!r})")
        expected = [1, *self.front_end.shape, 1]
        for name in names:
            if list(inputs[name]["shape"]) != expected or inputs[name]["dtype"] != np.float32:
                raise InputError(f"{self.model_path}: input {name!r} is {list(inputs[name]['shape'])} "
                                 f"{np.dtype(inputs[name]['dtype']).name}, the front end needs {expected} float32")
        output = outputs[self.metadata["output"]]
        if list(output["shape"]) != [1, len(PARAM_SPEC)]:
            raise InputError(f"{self.model_path}: output shape {list(output['shape'])}, expected [1, 24]")
        self._input_index = inputs[names[0]]["index"]
        self._reference_index = inputs[names[1]]["index"]
        self._output_index = output["index"]

    @property
    def analysis_rate(self) -> int:
        return self.front_end.sample_rate

    def window_frames(self, sample_rate: int) -> int:
        """Frames of one analysis window at ``sample_rate``."""
        return max(1, round(self.front_end.window_samples * sample_rate / self.analysis_rate))

    def analysis_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Audio (samples,) or (samples, channels) at ``sample_rate`` -> mono float32 at the analysis rate."""
        from ..io.audio import resample

        audio = np.asarray(audio, dtype=np.float32)
        mono = audio.mean(axis=1) if audio.ndim == 2 else audio
        return resample(mono, sample_rate, self.analysis_rate)

    def features(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The network input for ``audio`` (centre 2.5 s after mixing and resampling): (frames, n_mels, 1)."""
        mono = self.analysis_audio(audio, sample_rate)
        return log_mel(fit_window(mono, self.front_end), self.front_end)[..., None]

    def predict(self, input_features: np.ndarray, reference_features: np.ndarray) -> np.ndarray:
        """One invoke: the 24 normalized parameters (float32 in [0, 1]) for two feature arrays."""
        interpreter = self._interpreter
        interpreter.set_tensor(self._input_index, np.asarray(input_features, dtype=np.float32)[None])
        interpreter.set_tensor(self._reference_index, np.asarray(reference_features, dtype=np.float32)[None])
        interpreter.invoke()
        p = np.array(interpreter.get_tensor(self._output_index)[0], dtype=np.float32)
        if not np.all(np.isfinite(p)):
            raise RuntimeFailure(f"{self.model_path}: the model produced non-finite parameters")
        return np.clip(p, 0.0, 1.0)

    def predict_params(self, input_audio: np.ndarray, reference_audio: np.ndarray, sample_rate: int | None = None,
                       reference_rate: int | None = None) -> dict[str, float]:
        """Physical EQ + compressor settings (name -> dB / Hz / ms) from the centre 2.5 s of each signal, given
        (samples,) or (samples, channels) at ``sample_rate`` / ``reference_rate`` (default: the analysis rate)."""
        sample_rate = sample_rate or self.analysis_rate
        p = self.predict(self.features(input_audio, sample_rate),
                         self.features(reference_audio, reference_rate or sample_rate))
        return {name: float(v) for name, v in PARAM_SPEC.to_physical(p).items()}

    def reference_features(self, blocks: Callable[[int], Iterable[np.ndarray]], sample_rate: int
                           ) -> tuple[np.ndarray, dict]:
        """Features of the most typical active window of a reference (see the module's docstring) and a
        description of it. ``blocks(n)`` returns a fresh iterator over consecutive ``n``-frame blocks (it is read
        twice: scoring, then the chosen window)."""
        n = self.window_frames(sample_rate)
        levels, spectra = [], []
        for _, window in sliding_windows(blocks(n), n, n):
            mono = self.analysis_audio(window, sample_rate)
            levels.append(10.0 * np.log10(np.mean(np.square(mono, dtype=np.float64)) + 1e-20))
            spectra.append(log_mel(fit_window(mono, self.front_end), self.front_end).mean(axis=0))
        levels, spectra = np.array(levels), np.array(spectra)
        active = np.flatnonzero(levels >= levels.max() - REFERENCE_ACTIVE_DB)
        distance = np.abs(spectra[active] - np.median(spectra[active], axis=0)).mean(axis=1)
        chosen = int(active[np.argmin(distance)])
        for k, (start, window) in enumerate(sliding_windows(blocks(n), n, n)):
            if k == chosen:
                info = {"window": chosen, "windows": len(levels), "active_windows": len(active),
                        "start_s": start / sample_rate, "duration_s": len(window) / sample_rate,
                        "level_dbfs": round(float(levels[chosen]), 2)}
                return self.features(window, sample_rate), info
        raise RuntimeFailure("the reference changed while it was being read")

    def analyse(self, windows: Iterable[tuple[int, np.ndarray]], reference_features: np.ndarray, sample_rate: int,
                *, smoothing_s: float = SMOOTHING_S, reference_info: dict | None = None,
                progress: Callable[[int], None] | None = None) -> ParamTrack:
        """The parameter track of ``sliding_windows(...)`` of an input: one prediction per window, smoothed.
        ``progress(frames)`` is called with the frames each window advances."""
        times, raw, done = [], [], 0
        for start, window in windows:
            raw.append(self.predict(self.features(window, sample_rate), reference_features))
            times.append((start + len(window) / 2) / sample_rate)
            if progress is not None:
                progress(start + len(window) - done)
            done = start + len(window)
        times = np.array(times)
        raw = np.array(raw, dtype=np.float32)
        return ParamTrack(times, raw, smooth_track(times, raw, smoothing_s), reference_info or {})

    @staticmethod
    def render(blocks: Iterable[np.ndarray], track: ParamTrack, sample_rate: int, channels: int
               ) -> Iterator[np.ndarray]:
        """Process (frames, channels) blocks with the track's parameters (carried DSP state, click-free updates
        whenever the track moved by more than ``UPDATE_TOLERANCE``); yields float32 blocks of the same shape."""
        applied = track.at(0.0)
        chain = StreamingChain(sample_rate, PARAM_SPEC.to_physical(applied), channels=channels)
        position = 0
        for block in blocks:
            p = track.at((position + len(block) / 2) / sample_rate)
            if np.max(np.abs(p - applied)) > UPDATE_TOLERANCE:
                chain.set_params(PARAM_SPEC.to_physical(p))
                applied = p
            position += len(block)
            yield chain.process(np.asarray(block, dtype=np.float32))

    def process(self, input_audio: np.ndarray, reference_audio: np.ndarray, sample_rate: int,
                reference_rate: int | None = None, *, hop_s: float = HOP_S, smoothing_s: float = SMOOTHING_S
                ) -> tuple[np.ndarray, ParamTrack]:
        """Enhance a whole in-memory signal ((samples,) or (samples, channels)) the way ``aebox-edge run`` enhances
        a file: returns the output (same shape, float32) and the parameter track."""
        x = np.asarray(input_audio, dtype=np.float32)
        frames = x[:, None] if x.ndim == 1 else x
        ref = np.asarray(reference_audio, dtype=np.float32)
        ref = ref[:, None] if ref.ndim == 1 else ref
        if len(frames) == 0 or len(ref) == 0:
            raise InputError("input and reference need at least one sample")
        check_hop(hop_s, self.front_end.window_samples / self.analysis_rate)
        reference_rate = reference_rate or sample_rate
        ref_features, ref_info = self.reference_features(lambda n: array_blocks(ref, n), reference_rate)
        n = self.window_frames(sample_rate)
        hop = min(n, max(1, round(hop_s * sample_rate)))
        windows = sliding_windows(array_blocks(frames, n, n - hop), n, hop)
        track = self.analyse(windows, ref_features, sample_rate, smoothing_s=smoothing_s, reference_info=ref_info)
        block = max(1, round(BLOCK_S * sample_rate))
        out = np.concatenate(list(self.render(array_blocks(frames, block), track, sample_rate, frames.shape[1])))
        return (out[:, 0] if x.ndim == 1 else out), track
