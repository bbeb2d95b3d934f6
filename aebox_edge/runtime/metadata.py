"""The metadata JSON that travels next to every exported ``.tflite`` (``model.tflite`` -> ``model.json``).

Written by ``export`` and checked by the runtime: the runtime refuses a model whose metadata is missing, whose
sha256 does not match the file, or whose parameter spec or front end differ from this code's (a model trained
on other features or another parameter table would silently produce wrong settings).
"""

from __future__ import annotations

import json
import os
from typing import Any

from ddsp_kernels import PARAM_SPEC

from ..defaults import QUANTIZE_MODES
from ..errors import InputError
from ..io.atomic import sha256_file, write_json
from ..frontend import FRONT_ENDS, FrontEndConfig

SCHEMA_VERSION = 1
OUTPUT_KINDS = ("params", "correction")  # normalized parameters, or logit corrections of the analytic fit


class ModelMetadataError(InputError):
    """A model whose metadata is missing, malformed or does not match this code."""


def metadata_path(model_path: str | os.PathLike) -> str:
    return os.path.splitext(os.fspath(model_path))[0] + ".json"


def report_path(model_path: str | os.PathLike) -> str:
    """``<stem>.report.json`` beside ``model_path`` (the export's report)."""
    return os.path.splitext(os.fspath(model_path))[0] + ".report.json"


def param_spec_dict() -> list[dict[str, Any]]:
    return [{"name": p.name, "unit": p.unit, "minimum": p.minimum, "maximum": p.maximum, "scale": p.scale}
            for p in PARAM_SPEC.params]


def match_dict() -> dict[str, Any]:
    """What a correction model's match features are (``ddsp_kernels.match``): bands and limit."""
    from ddsp_kernels.match import BAND_CENTRES_HZ, MAX_DIFF_DB

    return {"bands_hz": [round(f, 6) for f in BAND_CENTRES_HZ], "max_diff_db": MAX_DIFF_DB}


def build_metadata(model_path: str | os.PathLike, *, front_end: FrontEndConfig, quantization: str,
                   input_names: list[str], output_name: str, model_config: str, output_kind: str = "params",
                   training: dict | None = None, extra: dict | None = None) -> dict[str, Any]:
    """The metadata of an exported model file (hashes it). Raises ``InputError`` for an unknown quantization or
    output kind."""
    if quantization not in QUANTIZE_MODES:
        raise InputError(f"quantization must be one of {QUANTIZE_MODES}, got {quantization!r}")
    if output_kind not in OUTPUT_KINDS:
        raise InputError(f"output kind must be one of {OUTPUT_KINDS}, got {output_kind!r}")
    meta = {
        "schema_version": SCHEMA_VERSION,
        "model_config": model_config,
        "quantization": quantization,
        "sha256": sha256_file(model_path),
        "param_spec": param_spec_dict(),
        "front_end": front_end.to_dict(),
        "analysis_rate": front_end.sample_rate,
        "analysis_window_samples": front_end.window_samples,
        "inputs": list(input_names),  # order: dirty input features, reference features (, match features)
        "output": output_name,        # 24 values in PARAM_SPEC order, of the output kind:
        "output_kind": output_kind,   # normalized parameters, or logit corrections of the analytic fit
        "training": training or {},
    }
    if output_kind == "correction":
        meta["match"] = match_dict()
    meta.update(extra or {})
    return meta


def write_metadata(model_path: str | os.PathLike, meta: dict[str, Any]) -> str:
    """Write ``meta`` beside the model atomically; returns the JSON path."""
    path = metadata_path(model_path)
    write_json(path, meta, sort_keys=True)
    return path


# The fields the runtime reads, and their JSON types ("match" only for correction models).
REQUIRED_FIELDS = {"schema_version": int, "sha256": str, "quantization": str, "param_spec": list, "front_end": dict,
                   "inputs": list, "output": str}
OPTIONAL_FIELDS = {"output_kind": str, "match": dict, "signature_key": str, "analysis_rate": int,
                   "analysis_window_samples": int}
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer"}


def _json_type(value) -> str:
    for kind, name in ((bool, "a boolean"), (dict, "an object"), (list, "a list"), (str, "a string"),
                       (int, "an integer"), (float, "a number")):
        if isinstance(value, kind):
            return name
    return "null"


def check_schema(path: str, meta) -> None:
    """Raise ``ModelMetadataError`` naming ``path`` unless ``meta`` is a JSON object with every field of
    ``REQUIRED_FIELDS`` (and those of ``OPTIONAL_FIELDS`` it has) of the right type, ``inputs`` a non-empty list of
    strings; says what is missing or wrong."""
    if not isinstance(meta, dict):
        raise ModelMetadataError(f"{path}: model metadata must be a JSON object, got {_json_type(meta)}; re-export "
                                 f"the model with aebox-edge export")
    missing = [name for name in REQUIRED_FIELDS if name not in meta]
    wrong = [f"{name} is {_json_type(meta[name])}, expected {_JSON_TYPES[kind]}"
             for name, kind in {**REQUIRED_FIELDS, **OPTIONAL_FIELDS}.items()
             if name in meta and (not isinstance(meta[name], kind) or isinstance(meta[name], bool))]
    if isinstance(meta.get("inputs"), list) and (not meta["inputs"]
                                                 or not all(isinstance(n, str) for n in meta["inputs"])):
        wrong.append("inputs must be a non-empty list of tensor names")
    if missing or wrong:
        raise ModelMetadataError(f"{path}: malformed model metadata: "
                                 + "; ".join(([f"missing {', '.join(missing)}"] if missing else []) + wrong))


def load_metadata(model_path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate the metadata of ``model_path``; raises ModelMetadataError with the reason."""
    model_path = os.fspath(model_path)
    path = metadata_path(model_path)
    if not os.path.isfile(path):
        raise ModelMetadataError(f"{model_path}: no metadata file {path}; re-export the model with aebox-edge export")
    try:
        with open(path) as fh:
            meta = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ModelMetadataError(f"{path}: unreadable metadata ({exc})") from exc
    check_schema(path, meta)  # the shape first: what follows indexes into it
    problems = []
    if meta.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"schema_version {meta.get('schema_version')!r}, this code reads {SCHEMA_VERSION}")
    if meta.get("param_spec") != param_spec_dict():
        problems.append("its parameter spec differs from this code's PARAM_SPEC")
    front_end = meta.get("front_end") or {}
    expected = FRONT_ENDS.get(front_end.get("name"))
    if expected is None:
        problems.append(f"unknown front end {front_end.get('name')!r}")
    elif front_end != expected.to_dict():
        diff = sorted(k for k in set(front_end) | set(expected.to_dict())
                      if front_end.get(k) != expected.to_dict().get(k))
        problems.append(f"its front end differs from this code's {expected.name!r} front end in {diff}")
    kind = meta.get("output_kind", "params")  # models exported before the correction head predict parameters
    if kind not in OUTPUT_KINDS:
        problems.append(f"unknown output kind {kind!r}")
    elif kind == "correction" and meta.get("match") != match_dict():
        problems.append("its match features differ from this code's (ddsp_kernels.match bands or limit)")
    if os.path.isfile(model_path) and meta.get("sha256") != sha256_file(model_path):
        problems.append("its sha256 does not match the model file")
    if problems:
        raise ModelMetadataError(f"{model_path}: model metadata does not match: " + "; ".join(problems))
    return meta
