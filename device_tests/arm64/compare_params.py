"""Compare the arm64 and x86 results of ``aebox-edge run --params-out`` (used by arm64_emulated.sh).

    compare_params.py ARM64.json X86.json [--model MODEL.tflite] [--tol-normalized T]
    compare_params.py --audio ARM64.wav X86.wav

Both runs use the same int8 model, so they may differ only by arithmetic (front-end floats on another CPU, other
kernels, a rounding step in a quantized tensor). The tolerance is the int8 one export verified the model with: the
per-unit limits on the parameter error of the int8 model against its float model (``verification.limits`` in the
model's ``<stem>.report.json``: dB for gains/threshold/knee/makeup, cents for frequencies, percent for Q, ratio and
times), else export's defaults (``export.verify.DEFAULT_MAX_PARAM_ERROR``: 1 dB, 50 cents, 10 %). Here it bounds the
*maximum* over windows of |arm64 - x86| of every parameter, for the network's raw outputs and the smoothed track.
Every normalized difference must also stay within the cross-CPU tolerance stored with the model's golden
parameters (``tolerance`` in ``<stem>.golden.npz``, written by ``device_tests/golden.py``: another CPU's int8 kernels
and float front end may round a few int8 steps differently; one step is about 1/256 = 0.004), else
``--tol-normalized`` (default 0.02, ``golden.TOLERANCE``).

The JSON layout is found rather than assumed: objects holding all 24 PARAM_SPEC names (physical values, scalars or
per-window lists; the smoothed track) and 24-wide lists under a key ending in "normalized" (raw network outputs).
Exit status 1 when over tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from ddsp_kernels import PARAM_SPEC

try:
    from export.verify import DEFAULT_MAX_PARAM_ERROR, error_unit
except Exception:  # export not importable: the same defaults and units
    DEFAULT_MAX_PARAM_ERROR = {"dB": 1.0, "cents": 50.0, "%": 10.0}

    def error_unit(param) -> str:
        return "dB" if param.unit == "dB" else "cents" if param.unit == "Hz" else "%"


DEFAULT_TOL_NORMALIZED = 0.02


def _numeric(v) -> bool:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.size > 0 and bool(np.all(np.isfinite(a)))


def tables(path):
    """{label: normalized array (windows, 24)} found in a params-out JSON."""
    with open(path) as fh:
        data = json.load(fh)
    found = {}

    def walk(o, p):
        if isinstance(o, dict):
            if all(n in o and _numeric(o[n]) for n in PARAM_SPEC.names):
                phys = PARAM_SPEC.as_array({n: np.atleast_1d(np.asarray(o[n], float)) for n in PARAM_SPEC.names})
                found[f"{p or 'top'} (physical)"] = PARAM_SPEC.to_normalized(phys).reshape(-1, len(PARAM_SPEC))
                return
            for k, v in o.items():
                q = f"{p}.{k}" if p else str(k)
                if str(k).lower().endswith(("normalized", "p01")) and _numeric(v):
                    a = np.asarray(v, float)
                    if a.shape[-1:] == (len(PARAM_SPEC),):
                        found[f"{q} (normalized)"] = a.reshape(-1, len(PARAM_SPEC))
                        continue
                walk(v, q)
        elif isinstance(o, list) and o and isinstance(o[0], (dict, list)):
            for i, v in enumerate(o):
                walk(v, f"{p}[{i}]")

    walk(data, "")
    if not found:
        sys.exit(f"{path}: no parameter table found (neither the 24 PARAM_SPEC names nor a normalized 24-wide list)")
    return found


def limits_for(model):
    """(limits per error unit, where they come from)."""
    if model:
        report = os.path.splitext(model)[0] + ".report.json"
        try:
            with open(report) as fh:
                limits = (json.load(fh).get("verification") or {}).get("limits")
            if isinstance(limits, dict) and all(u in limits for u in DEFAULT_MAX_PARAM_ERROR):
                return {u: float(limits[u]) for u in DEFAULT_MAX_PARAM_ERROR}, f"export's int8 limits in {os.path.basename(report)}"
        except (OSError, ValueError, AttributeError):
            pass
    return dict(DEFAULT_MAX_PARAM_ERROR), "export's default int8 limits (no <model>.report.json with verification.limits)"


def normalized_tolerance(model, given):
    """(bound on |arm64 - x86| in normalized units, where it comes from)."""
    if given is not None:
        return given, "--tol-normalized"
    if model:
        golden = os.path.splitext(model)[0] + ".golden.npz"
        try:
            with np.load(golden) as data:
                return float(data["tolerance"]), f"tolerance in {os.path.basename(golden)}"
        except (OSError, KeyError, ValueError):
            pass
    return DEFAULT_TOL_NORMALIZED, "default (device_tests/golden.py TOLERANCE; no <model>.golden.npz)"


def errors(arm_n, x86_n):
    """Per parameter: the error of arm64 against x86 in export's units, per window (windows, 24)."""
    a, b = PARAM_SPEC.to_physical(arm_n), PARAM_SPEC.to_physical(x86_n)
    out = np.empty_like(arm_n)
    for i, p in enumerate(PARAM_SPEC.params):
        unit = error_unit(p)
        if unit == "dB":
            out[:, i] = np.abs(a[p.name] - b[p.name])
        elif unit == "cents":
            out[:, i] = 1200.0 * np.abs(np.log2(a[p.name] / b[p.name]))
        else:
            out[:, i] = 100.0 * np.abs(a[p.name] - b[p.name]) / np.abs(b[p.name])
    return out


def compare_params(args) -> int:
    arm, x86 = tables(args.arm64), tables(args.x86)
    common = [k for k in arm if k in x86]
    if not common:
        print(f"parameters: FAIL: no common tables (arm64 {list(arm)}, x86 {list(x86)})")
        return 1
    limits, source = limits_for(args.model)
    tol_n, tol_n_source = normalized_tolerance(args.model, args.tol_normalized)
    lim = np.array([limits[error_unit(p)] for p in PARAM_SPEC.params])
    ok = True
    worst = {}
    common.sort(key=lambda k: "(physical)" not in k)  # the full table for the physical track, one line for the rest
    for n, label in enumerate(common):
        a, b = arm[label], x86[label]
        if a.shape != b.shape:
            print(f"{label}: FAIL: {a.shape[0]} windows on arm64, {b.shape[0]} on x86")
            ok = False
            continue
        err = errors(a, b).max(axis=0)
        dn = np.abs(a - b).max(axis=0)
        over = (err > lim) | (dn > tol_n)
        ok &= not over.any()
        worst[label] = (float(dn.max()), PARAM_SPEC.names[int(np.argmax(dn))], float((err / lim).max()))
        if n:
            print(f"{label}: {a.shape[0]} window(s); max |d| {dn.max():.2e} normalized ({PARAM_SPEC.names[int(np.argmax(dn))]}),"
                  f" {100 * (err / lim).max():.1f} % of its unit limit{'  OVER' if over.any() else ''}")
            continue
        ap, xp = PARAM_SPEC.as_array(PARAM_SPEC.to_physical(a)), PARAM_SPEC.as_array(PARAM_SPEC.to_physical(b))
        print(f"{label}: {a.shape[0]} window(s); values of window 0, errors = max over windows")
        print(f"  {'parameter':<19} {'unit':<4} {'arm64':>10} {'x86':>10} {'|d| norm':>9} {'error':>10} {'limit':>9}")
        for i, p in enumerate(PARAM_SPEC.params):
            u = error_unit(p)
            print(f"  {p.name:<19} {p.unit:<4} {ap[0, i]:>10.4f} {xp[0, i]:>10.4f} {dn[i]:>9.2e} "
                  f"{err[i]:>7.3g} {u:<2} {lim[i]:>6g} {u:<2}{'  OVER' if over[i] else ''}")
    summary = "; ".join(f"{label.split(' ')[0]} max |d| {d:.2e} ({name}), {100 * r:.1f} % of its unit limit"
                        for label, (d, name, r) in worst.items())
    print(f"parameters arm64 vs x86: {'OK' if ok else 'FAIL'}: {summary}; tolerance: normalized {tol_n:g} "
          f"({tol_n_source}) and dB {limits['dB']:g} / cents {limits['cents']:g} / % {limits['%']:g} ({source})")
    return 0 if ok else 1


def compare_audio(a_path, b_path) -> int:
    import soundfile as sf

    a, ra = sf.read(a_path, dtype="float64", always_2d=True)
    b, rb = sf.read(b_path, dtype="float64", always_2d=True)
    if a.shape != b.shape or ra != rb:
        print(f"audio: shapes differ: arm64 {a.shape} @ {ra} Hz, x86 {b.shape} @ {rb} Hz")
        return 1
    err = a - b
    if not np.any(err):
        print(f"enhanced audio arm64 vs x86: identical ({a.shape[0]} frames x {a.shape[1]} channels, bit-exact)")
        return 0
    snr = 10 * np.log10(np.sum(b ** 2) / max(np.sum(err ** 2), 1e-30))
    print(f"enhanced audio arm64 vs x86: max |d| = {np.max(np.abs(err)):.2e}, SNR {snr:.1f} dB")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arm64")
    ap.add_argument("x86")
    ap.add_argument("--model", help="the .tflite both ran (its <stem>.report.json holds export's int8 limits)")
    ap.add_argument("--tol-normalized", type=float,
                    help="bound on |arm64 - x86| in normalized units [<model>.golden.npz's tolerance, else 0.02]")
    ap.add_argument("--audio", action="store_true", help="compare two wav files instead")
    args = ap.parse_args()
    if args.audio:
        return compare_audio(args.arm64, args.x86)
    return compare_params(args)


if __name__ == "__main__":
    sys.exit(main())
