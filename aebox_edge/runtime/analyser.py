"""The exported analyser (``.tflite`` + metadata JSON) run by a LiteRT interpreter: features in, the 24 normalized
EQ + compressor parameters out. The interpreter is created with an explicit thread count and allocated once; every
prediction reuses its tensors."""

from __future__ import annotations

import os

import numpy as np

from ddsp_kernels import PARAM_SPEC
from ddsp_kernels.match import BAND_CENTRES_HZ, BandLevels, combine
from ddsp_kernels.signal import mono

from ..defaults import DEFAULT_MODEL, MODEL_ENV, THREADS
from ..errors import InputError, RuntimeFailure, check_positive_int
from ..frontend import FRONT_ENDS, centre_fit, fit_window, log_mel
from ..io.native import native_stderr
from .backend import load_backend
from .matching import ReferenceMeter, analytic_fit, match_features
from .metadata import load_metadata

SIGNATURE_KEY = "serving_default"


def default_model_path() -> str:
    """The model to use when none is given: ``$AEBOX_EDGE_MODEL``, else ``DEFAULT_MODEL`` in the package data
    (``aebox_edge/models/``), else in the source checkout's ``models/`` directory. Raises ``InputError``."""
    if os.environ.get(MODEL_ENV):
        return os.environ[MODEL_ENV]
    from importlib import resources

    packaged = resources.files("aebox_edge.models") / DEFAULT_MODEL
    checkout = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "models",
                            DEFAULT_MODEL)
    for candidate in (str(packaged), checkout):
        if os.path.isfile(candidate):
            return candidate
    raise InputError(f"no model given and no shipped model found (looked for {DEFAULT_MODEL} in aebox_edge/models/ "
                     f"and {os.path.dirname(checkout)}); pass --model PATH.tflite or export one with aebox-edge export")


class Analyser:
    """An exported analyser ready to predict EQ + compressor settings.

    ``model_path`` (default: ``default_model_path()``) must have its metadata JSON beside it
    (``metadata.load_metadata``); ``num_threads`` goes to the interpreter; ``backend`` forces one of
    ``backend.BACKENDS``. Bad or mismatched models raise ``InputError`` (``ModelMetadataError``); no importable
    interpreter raises ``RuntimeFailure``."""

    def __init__(self, model_path: str | os.PathLike | None = None, *, num_threads: int = THREADS,
                 backend: str | None = None):
        check_positive_int("num_threads", num_threads)
        self.model_path = os.fspath(model_path) if model_path is not None else default_model_path()
        if not os.path.isfile(self.model_path):
            raise InputError(f"{self.model_path}: no such model file")
        self.metadata = load_metadata(self.model_path)
        self.front_end = FRONT_ENDS[self.metadata["front_end"]["name"]]
        self.num_threads = num_threads
        self.backend = load_backend(backend)
        self.output_kind = self.metadata.get("output_kind", "params")
        self._interpreter, inputs, outputs = self._open_interpreter()
        self._input_indices, self._output_index = self._tensor_indices(inputs, outputs)

    def _open_interpreter(self) -> tuple[object, dict, dict]:
        """The allocated interpreter with its signature's input and output details; ``InputError`` for a file the
        interpreter cannot load."""
        try:
            with native_stderr() as log:
                interpreter = self.backend.interpreter_class(model_path=self.model_path, num_threads=self.num_threads)
                interpreter.allocate_tensors()
            signature = interpreter.get_signature_runner(self.metadata.get("signature_key", SIGNATURE_KEY))
            return interpreter, signature.get_input_details(), signature.get_output_details()
        except (ValueError, RuntimeError, KeyError) as exc:
            detail = " ".join(line for line in log if not line.startswith("INFO:"))
            raise InputError(f"{self.model_path}: not a usable .tflite model ({type(exc).__name__}: {exc}"
                             f"{'; ' + detail if detail else ''})") from None

    def _tensor_indices(self, inputs: dict, outputs: dict) -> tuple[list[int], int]:
        """Tensor indices of the inputs (input features, reference features, and a correction model's match
        features) and of the output, once the signature is checked against the metadata and the front end
        (``InputError`` when they differ)."""
        names = list(self.metadata["inputs"])
        if sorted(inputs) != sorted(names) or self.metadata["output"] not in outputs:
            raise InputError(f"{self.model_path}: model signature (inputs {sorted(inputs)}, outputs {sorted(outputs)})"
                             f" does not match its metadata (inputs {names}, output {self.metadata['output']!r})")
        expected = [[1, *self.front_end.shape, 1]] * 2
        if self.output_kind == "correction":
            expected.append([1, len(BAND_CENTRES_HZ)])
        if len(names) != len(expected):
            raise InputError(f"{self.model_path}: a {self.output_kind!r} model takes {len(expected)} inputs, its "
                             f"metadata names {len(names)}")
        for name, shape in zip(names, expected):
            if list(inputs[name]["shape"]) != shape or inputs[name]["dtype"] != np.float32:
                raise InputError(f"{self.model_path}: input {name!r} is {list(inputs[name]['shape'])} "
                                 f"{np.dtype(inputs[name]['dtype']).name}, expected {shape} float32")
        output = outputs[self.metadata["output"]]
        if list(output["shape"]) != [1, len(PARAM_SPEC)]:
            raise InputError(f"{self.model_path}: output shape {list(output['shape'])}, expected [1, 24]")
        return [inputs[name]["index"] for name in names], output["index"]

    @property
    def analysis_rate(self) -> int:
        return self.front_end.sample_rate

    def window_frames(self, sample_rate: int) -> int:
        """Frames of one analysis window at ``sample_rate``."""
        return max(1, round(self.front_end.window_samples * sample_rate / self.analysis_rate))

    def analysis_audio(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Audio (samples,) or (samples, channels) at ``sample_rate`` -> mono float32 at the analysis rate.
        Raises ``InputError`` for a bad sample rate."""
        from ..io.audio import resample

        audio = np.asarray(audio, dtype=np.float32)
        return resample(mono(audio), sample_rate, self.analysis_rate)

    def features(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The network input for ``audio`` (centre 2.5 s after mixing and resampling): (frames, n_mels, 1)."""
        mono = self.analysis_audio(audio, sample_rate)
        return log_mel(fit_window(mono, self.front_end), self.front_end)[..., None]

    def invoke(self, input_features: np.ndarray, reference_features: np.ndarray,
               match_features: np.ndarray | None = None) -> np.ndarray:
        """One invoke: the model's 24 raw outputs (float32; normalized parameters, or for a correction model logit
        corrections, which need ``match_features``). Raises ``RuntimeFailure`` for non-finite outputs."""
        arrays = [input_features, reference_features]
        if self.output_kind == "correction":
            if match_features is None:
                raise InputError(f"{self.model_path}: a correction model needs the match features")
            arrays.append(match_features)
        interpreter = self._interpreter
        for index, array in zip(self._input_indices, arrays):
            interpreter.set_tensor(index, np.asarray(array, dtype=np.float32)[None])
        interpreter.invoke()
        out = np.array(interpreter.get_tensor(self._output_index)[0], dtype=np.float32)
        if not np.all(np.isfinite(out)):
            raise RuntimeFailure(f"{self.model_path}: the model produced non-finite parameters")
        return out

    def predict(self, input_features: np.ndarray, reference_features: np.ndarray,
                match_features: np.ndarray | None = None, analytic: np.ndarray | None = None) -> np.ndarray:
        """The 24 normalized parameters (float32 in [0, 1]) for the features; a correction model also needs the
        match features and the analytic fit it corrects (``ddsp_kernels.match.combine``)."""
        out = self.invoke(input_features, reference_features, match_features)
        if self.output_kind == "correction":
            if analytic is None:
                raise InputError(f"{self.model_path}: a correction model needs the analytic fit it corrects")
            return combine(analytic, out).astype(np.float32)
        return np.clip(out, 0.0, 1.0)

    def prepare(self, input_audio: np.ndarray, reference_audio: np.ndarray, sample_rate: int | None = None,
                reference_rate: int | None = None) -> tuple:
        """The arguments of :meth:`predict` for the centre window of each signal, (samples,) or (samples,
        channels) at ``sample_rate`` / ``reference_rate`` (default: the analysis rate): the two feature arrays, and
        for a correction model the match features and the analytic fit (the reference measured on its window)."""
        sample_rate = sample_rate or self.analysis_rate
        reference_rate = reference_rate or sample_rate
        features = (self.features(input_audio, sample_rate), self.features(reference_audio, reference_rate))
        if self.output_kind != "correction":
            return features
        x, ref = (centre_fit(a, self.window_frames(r), axis=0)
                  for a, r in ((input_audio, sample_rate), (reference_audio, reference_rate)))
        meter = ReferenceMeter(reference_rate, 1 if ref.ndim == 1 else ref.shape[1], self.analysis_rate)
        meter.add(ref, self.analysis_audio(ref, reference_rate))
        reference = meter.result()
        match = match_features(self.analysis_audio(x, sample_rate), self.analysis_rate, reference)
        return (*features, match, analytic_fit(BandLevels(sample_rate).add(x), reference))

    def predict_params(self, input_audio: np.ndarray, reference_audio: np.ndarray, sample_rate: int | None = None,
                       reference_rate: int | None = None) -> dict[str, float]:
        """Physical EQ + compressor settings (name -> dB / Hz / ms) from the centre 2.5 s of each signal
        (:meth:`prepare`)."""
        p = self.predict(*self.prepare(input_audio, reference_audio, sample_rate, reference_rate))
        return {name: float(v) for name, v in PARAM_SPEC.to_physical(p).items()}

