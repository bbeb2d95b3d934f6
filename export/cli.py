"""``aebox-edge export``: Keras analyser -> verified .tflite + metadata + report. Imports only click at module level;
TensorFlow is imported when the command runs."""

from __future__ import annotations

import os
import sys

import click

from aebox_edge.defaults import CALIBRATION_CLIPS, DEFAULT_KERAS_MODEL, QUANTIZE_MODES, VERIFY_CLIPS


def _limits(ctx, param, value):
    from .verify import parse_max_param_error

    try:
        return parse_max_param_error(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def format_export_report(report: dict) -> str:
    """The human-readable report: file, size, ops, delegation, invoke time, parameter errors, rendered MSD."""
    lines = [f"model:       {report['model']} ({report['quantization']}, front end {report['front_end']}, "
             f"{report['size_bytes'] / 1024:.1f} KiB)"]
    if report.get("calibration"):
        lines.append(f"calibration: {report['calibration']['clips']} clips ({report['calibration']['source']})")
    deleg = report["delegation"]
    lines.append("ops:         " + ", ".join(f"{name} x{n}" for name, n in deleg["ops"].items()))
    left = f", not delegated: {', '.join(deleg['not_delegated'])}" if deleg["not_delegated"] else ""
    lines.append(f"delegation:  {'fully delegated to XNNPACK' if deleg['fully_delegated'] else 'NOT fully delegated'}"
                 f" (is_fully_accelerated: {deleg['fully_delegated']}; Interpreter: {deleg['xnnpack_partitions']}"
                 f" XNNPACK partition(s){left})")
    t = report["invoke_ms"]
    lines.append(f"invoke:      {t['median']:.2f} ms median ({t['threads']} thread, {t['runs']} runs, "
                 f"min {t['min']:.2f}, max {t['max']:.2f})")
    ver = report["verification"]
    if "param_errors" in ver:
        lines.append(f"verification on {ver['clips']} held-out clips, converted vs float Keras "
                     f"(limits on p95: {', '.join(f'{v:g} {k}' for k, v in ver['limits'].items())}):")
        lines.append(f"  {'parameter':<20} {'mean':>8} {'p95':>8} {'max':>8}")
        for name, e in ver["param_errors"].items():
            flag = "  OVER LIMIT" if name in ver["over_limit"] else ""
            lines.append(f"  {name:<20} {e['mean']:8.3f} {e['p95']:8.3f} {e['max']:8.3f} {e['unit']}{flag}")
        m = ver["msd"]
        lines.append(f"  rendered-audio MSD (float vs {report['quantization']} parameters): mean {m['mean']:.4f}, "
                     f"p95 {m['p95']:.4f}, max {m['max']:.4f}")
    lines.append("result:      " + ("passed" if report.get("passed") else "FAILED"))
    if report.get("metadata"):
        lines.append(f"metadata:    {report['metadata']}")
        lines.append(f"report:      {report['report']}")
    return "\n".join(lines)


def _check_out(model_path: str, out_path: str | None) -> None:
    """The model file must be a ``.keras`` (or a run directory holding one); ``--out`` (replaced if it exists, its
    folder created if missing) and the metadata and report beside it pass ``atomic.check_outputs``."""
    from aebox_edge.errors import InputError
    from aebox_edge.io.atomic import check_outputs
    from aebox_edge.runtime.metadata import metadata_path, report_path
    from aebox_edge.training.saved import saved_model_file

    model_file = saved_model_file(model_path)
    if out_path is None:
        return
    if not out_path.endswith(".tflite"):
        raise InputError(f"output path {out_path} must end in .tflite")
    if os.path.isdir(os.path.dirname(os.path.abspath(out_path))):
        check_outputs({"--out": out_path, "its metadata": metadata_path(out_path), "its report": report_path(out_path)},
                      inputs={"--model": model_file}, force=True)


@click.command()
@click.option("--model", "model_path", default=DEFAULT_KERAS_MODEL, show_default=True, metavar="RUNDIR|MODEL.keras",
              help="Training run directory (model.keras + config.json) or a .keras file.")
@click.option("--quantize", type=click.Choice(QUANTIZE_MODES), default="int8", show_default=True,
              help="int8: full integer, calibrated; float16: half-precision weights; dynamic: int8 weights; "
                   "none: float32.")
@click.option("--calibration-clips", type=click.IntRange(min=1), default=CALIBRATION_CLIPS, show_default=True,
              help="Clips for int8 calibration.")
@click.option("--calibration-data", type=click.Path(file_okay=False), default=None,
              help="Dataset directory (aebox-edge data synth/build) to take calibration and verification clips "
                   "from [default: synthesize them].")
@click.option("--verify-clips", type=click.IntRange(min=1), default=VERIFY_CLIPS, show_default=True,
              help="Held-out clips for verification.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Output .tflite [default: models/aebox_edge_<config>_<quantize>.tflite]; the metadata "
                   "<stem>.json and report <stem>.report.json go beside it.")
@click.option("--config", type=click.Choice(("edge", "paper")), default=None,
              help="Front end [default: the training run's, else the one matching the model's input shape].")
@click.option("--max-param-error", callback=_limits, default=None, metavar="UNIT=LIMIT[,...]",
              help="Limits on each parameter's p95 error, units dB, cents, % (e.g. 'dB=1,cents=50,%=10', "
                   "the default); exit 1 above them.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the synthesized clips.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def export(model_path, quantize, calibration_clips, calibration_data, verify_clips, out_path, config,
           max_param_error, seed, as_json):
    """Convert a trained analyser to TFLite, verify it against the float model and write its metadata."""
    import json

    from aebox_edge.errors import InputError

    # every path is checked before TensorFlow is imported (seconds, and its log lines)
    if not os.path.exists(model_path):
        raise InputError(f"no model at {model_path}; pass --model RUNDIR or a .keras file")
    if calibration_data is not None and not os.path.isdir(calibration_data):
        raise InputError(f"calibration dataset {calibration_data} does not exist or is not a directory")
    _check_out(model_path, out_path)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .convert import ExportFailure, export_tflite

    n_clips = verify_clips + (calibration_clips if quantize == "int8" else 0)
    try:
        with click.progressbar(length=n_clips, label="preparing clips", file=sys.stderr) as bar:
            report = export_tflite(model_path, out_path, quantize=quantize, config=config,
                                   calibration_clips=calibration_clips, calibration_data=calibration_data,
                                   verify_clips=verify_clips, seed=seed, max_param_error=max_param_error,
                                   progress=bar.update)
    except ExportFailure as exc:
        if exc.report is not None:
            click.echo(json.dumps(exc.report, indent=2) if as_json else format_export_report(exc.report))
        raise
    click.echo(json.dumps(report, indent=2) if as_json else format_export_report(report))
