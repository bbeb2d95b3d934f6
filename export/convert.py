"""Keras analyser -> TFLite in four modes, verified against the float model, written atomically with its metadata.

Recipe (docs/architecture.md, section 8): ``model.export(dir, format="tf_saved_model")`` then
``TFLiteConverter.from_saved_model`` (``from_concrete_functions`` silently drops the weights and ``from_keras_model``
aborts on some TF versions). Modes:

- ``int8``: full integer (``TFLITE_BUILTINS_INT8``), activations calibrated on a representative dataset of clips
  through the numpy front end; model inputs and output stay float32 (the converter adds QUANTIZE / DEQUANTIZE).
- ``float16``: float16 weights, float32 compute.
- ``dynamic``: int8 weights, activations quantized on the fly (dynamic range quantization).
- ``none``: float32.

``export_tflite`` runs three steps: ``convert``; ``verify_converted`` on the .tflite written to a hidden temporary
file beside ``out_path`` (``aebox_edge.io.atomic.atomic_path``, with the metadata the runtime's ``Enhancer`` needs to
load it), which is renamed into place only when every parameter's p95 error is within its limit, so a failure leaves
no model file behind; ``publish``: ``<stem>.json`` (metadata, ``aebox_edge.runtime.metadata``) and
``<stem>.report.json`` (the report ``export_tflite`` returns) beside it.
"""

from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np

from aebox_edge.defaults import CALIBRATION_CLIPS, QUANTIZE_MODES, VERIFY_CLIPS
from aebox_edge.errors import InputError, RuntimeFailure
from aebox_edge.io.atomic import atomic_path, sha256_file, write_json
from aebox_edge.runtime.analyser import SIGNATURE_KEY
from aebox_edge.runtime.enhancer import Enhancer
from aebox_edge.runtime.inspect import delegation, invoke_time_ms
from aebox_edge.runtime.metadata import build_metadata, metadata_path, report_path, write_metadata
from aebox_edge.training.networks import output_kind
from aebox_edge.training.saved import load_saved_analyser, model_front_end
from ddsp_kernels.match import combine

from . import calibration, verify

DEFAULT_OUT_PATTERN = os.path.join("models", "aebox_edge_{config}_{quantize}.tflite")


class ExportFailure(RuntimeFailure):
    """A failed conversion or a converted model outside the error limits; ``report`` holds what was measured."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report


def load_keras_analyser(model_or_path):
    """``(keras model, source path or None, training run record)`` from a model, a ``.keras`` file or a run
    directory (see ``aebox_edge.training.saved``)."""
    import keras

    if isinstance(model_or_path, keras.Model):
        return model_or_path, None, {}
    return load_saved_analyser(model_or_path)


def _batch_one_signature(model):
    """TensorSpecs of the model's inputs with batch 1. A static batch keeps the converted graph free of the
    SHAPE / GATHER / PACK ops that a ``None`` batch puts in front of every reshape (e.g. the paper model's Flatten),
    which XNNPACK does not delegate; the runtime analyses one window at a time."""
    import tensorflow as tf

    return [tf.TensorSpec((1, *t.shape[1:]), tf.float32, name=t.name) for t in model.inputs]


def convert_saved_model(saved_model_dir: str, quantize: str, representative=None) -> bytes:
    """The TFLite flatbuffer of a SavedModel in one of the four modes (``representative`` is needed by int8)."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir)
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "int8":
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        with warnings.catch_warnings():  # int8 calibration runs TF's own deprecated tf.lite.Interpreter
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            return converter.convert()
    except Exception as exc:  # ConverterError and friends: the conversion itself failed
        raise ExportFailure(f"TFLite conversion ({quantize}) failed: {_converter_message(exc)}") from exc


def _converter_message(exc: Exception) -> str:
    """The converter's error lines without their MLIR locations and IR dumps (the full text stays chained)."""
    messages = []
    for line in str(exc).splitlines():
        if "error:" in line:
            text = line.split("error:", 1)[1]
            text = text.rsplit(")): ", 1)[-1].strip().rstrip(":").strip()
            if text and text not in messages:
                messages.append(text)
    return "; ".join(messages)[:500] or f"{type(exc).__name__}: {str(exc)[:500]}"


def _metadata(model_path, front_end, quantize, input_names, output_kind, source, run_config) -> dict:
    """The metadata of the converted model at ``model_path`` (``aebox_edge.runtime.metadata.build_metadata``)."""
    import tensorflow as tf

    from ai_edge_litert.interpreter import Interpreter

    signature = Interpreter(model_path=model_path).get_signature_list()[SIGNATURE_KEY]
    if sorted(signature["inputs"]) != sorted(input_names) or len(signature["outputs"]) != 1:
        raise ExportFailure(f"converted signature {signature} does not match the Keras inputs {input_names}")
    return build_metadata(model_path, front_end=front_end, quantization=quantize, input_names=input_names,
                          output_name=signature["outputs"][0], model_config=front_end.name, output_kind=output_kind,
                          training=run_config,
                          extra={"signature_key": SIGNATURE_KEY,
                                 "input_shape": [1, *front_end.shape, 1],  # each feature tensor, batch 1
                                 "tensorflow_version": tf.__version__,
                                 "source_model": None if source is None else {
                                     "path": source, "sha256": sha256_file(source)}})


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.remove(path)


def convert(model, quantize: str, calib, input_names: list[str]) -> bytes:
    """The TFLite flatbuffer of the Keras ``model`` (via a batch-1 SavedModel); int8 calibrates on ``calib``
    (``calibration.Clips``, or None for the other modes)."""
    with tempfile.TemporaryDirectory() as saved_model_dir:
        model.export(saved_model_dir, format="tf_saved_model", verbose=False,
                     input_signature=[_batch_one_signature(model)])
        representative = calibration.representative_dataset(calib, input_names) if calib else None
        return convert_saved_model(saved_model_dir, quantize, representative)


def verify_converted(path: str, model, clips, limits: dict[str, float], timing_runs: int, source: str) -> dict:
    """Run the converted model at ``path`` exactly as on the device (the runtime's ``Enhancer``: metadata check,
    ai_edge_litert) on the verification ``clips`` and compare it with the float Keras ``model``: the report's
    ``verification`` (``source`` describes the clips), ``delegation`` and ``invoke_ms`` entries, and ``passed``.
    Raises ``ExportFailure`` when the float model produces non-finite parameters."""
    enhancer = Enhancer(path, num_threads=1)
    p_test = np.stack([enhancer.predict(*clips.example(i)) for i in range(len(clips))])
    p_float = np.asarray(model.predict(list(clips.inputs), batch_size=8, verbose=0), dtype=np.float32)
    if clips.analytic is not None:  # a correction model: compare the parameters it makes, not its raw outputs
        p_float = combine(clips.analytic, p_float).astype(np.float32)
    if not np.all(np.isfinite(p_float)):
        raise ExportFailure("the float Keras model produced non-finite parameters")
    errors = verify.param_errors(p_float, p_test)
    failed = verify.over_limit(errors, limits)
    return {
        "verification": {
            "clips": len(clips), "source": source, "limits": limits, "param_errors": errors, "over_limit": failed,
            "msd": verify.rendered_msd(clips.audio, p_float, p_test, enhancer.analysis_rate),
            "max_abs_normalized_error": float(np.max(np.abs(p_test - p_float))),
        },
        "delegation": delegation(path),
        "invoke_ms": invoke_time_ms(path, [a[:1] for a in clips.inputs], enhancer.metadata["inputs"],
                                    runs=timing_runs),
        "passed": not failed,
    }


def publish(out_path: str, meta: dict, report: dict) -> None:
    """Write the metadata and the report beside the model now at ``out_path`` (adding their paths to ``report``);
    removes the model and raises ``ExportFailure`` when they cannot be written."""
    try:
        report["metadata"] = write_metadata(out_path, meta)
        report["report"] = report_path(out_path)
        write_json(report["report"], report)
    except OSError as exc:
        _remove(out_path)
        raise ExportFailure(f"could not write the metadata or report of {out_path}: {exc}") from exc


def export_tflite(model_or_path, out_path: str | None = None, *, quantize: str = "int8", config: str | None = None,
                  calibration_clips: int = CALIBRATION_CLIPS, calibration_data: str | None = None,
                  verify_clips: int = VERIFY_CLIPS, seed: int = 0, max_param_error: dict | None = None,
                  timing_runs: int = 20, progress=None) -> dict:
    """Convert, verify and publish the analyser; returns the report (also written as ``<stem>.report.json``).

    ``model_or_path``: a Keras model, a ``.keras`` file or a training run directory. ``out_path`` defaults to
    ``models/aebox_edge_<front end>_<quantize>.tflite`` (the name the runtime looks for). ``config`` names the front
    end (default: the training run's, else the one matching the model's input shape). int8 calibrates on
    ``calibration_clips`` synthesized clips (seeded by ``seed``) or on examples of the dataset directory
    ``calibration_data``; verification runs the converted model through the runtime's ``Enhancer`` on
    ``verify_clips`` held-out clips. ``max_param_error`` maps error units (``dB``, ``cents``, ``%``) to limits on
    each parameter's p95 error (defaults: ``verify.DEFAULT_MAX_PARAM_ERROR``). ``progress(1)`` is called per clip
    prepared. Raises InputError for bad input, ExportFailure (with ``.report`` when verification ran) when the
    conversion or verification fails.
    """
    if quantize not in QUANTIZE_MODES:
        raise InputError(f"unknown quantization {quantize!r}; choose from {', '.join(QUANTIZE_MODES)}")
    if verify_clips < 1 or (quantize == "int8" and calibration_clips < 1):
        raise InputError("need at least one verification clip, and one calibration clip for int8")
    limits = {**verify.DEFAULT_MAX_PARAM_ERROR, **(max_param_error or {})}
    model, source, run_config = load_keras_analyser(model_or_path)
    front_end = model_front_end(model, config, run_config)
    out_path = os.fspath(out_path or DEFAULT_OUT_PATTERN.format(config=front_end.name, quantize=quantize))
    if not out_path.endswith(".tflite"):
        raise InputError(f"output path {out_path} must end in .tflite")

    n_calibration = calibration_clips if quantize == "int8" else 0
    kind = output_kind(model)
    calib, clips = calibration.clip_sets(front_end, n_calibration, verify_clips, seed, calibration_data, progress,
                                         correction=kind == "correction")
    source_text = calibration_data or f"synthesized, seed {seed}"
    verify_source = source_text if calibration_data else (
        f"{source_text}, clips {n_calibration}..{n_calibration + verify_clips - 1}")
    keras_names = [t.name for t in model.inputs]
    flatbuffer = convert(model, quantize, calib, keras_names)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with atomic_path(out_path) as tmp_path:  # renamed into place only when verified
        with open(tmp_path, "wb") as fh:
            fh.write(flatbuffer)
        try:
            meta = _metadata(tmp_path, front_end, quantize, keras_names, kind, source, run_config)
            write_metadata(tmp_path, meta)  # the runtime's Enhancer needs it to load the model
            checks = verify_converted(tmp_path, model, clips, limits, timing_runs, verify_source)
        finally:
            _remove(metadata_path(tmp_path))
        report = {
            "model": out_path, "quantization": quantize, "front_end": front_end.name, "source": source,
            "size_bytes": len(flatbuffer), "sha256": meta["sha256"], "inputs": meta["inputs"],
            "output": meta["output"],
            "output_kind": kind,
            "calibration": None if calib is None else {"clips": len(calib), "source": source_text},
            **checks,
        }
        failed = report["verification"]["over_limit"]
        if failed:
            raise ExportFailure(f"{quantize} model exceeds the parameter error limits {limits} (p95) for "
                                f"{', '.join(failed)}; nothing written", report)
    publish(out_path, meta, report)
    return report
