"""Golden parameters: stored inputs and the parameters the runtime predicts for them, written beside a model when
it is exported (``<stem>.golden.npz``) and checked on the device by ``test_runtime_on_device.py``.

    python device_tests/golden.py models/aebox_edge_edge_int8.tflite [--clips 3] [--seed 0]

The inputs are training-style pairs (dirty input, clean reference; 2.5 s at 24 kHz) from the data synthesizer,
stored as 16-bit PCM; the parameters are what ``aebox_edge.runtime.Enhancer.predict`` gives for the stored (16-bit)
audio. ``TOLERANCE`` is the allowed difference in normalized units: one int8 output step is 1/256 and another CPU's
int8 kernels (XNNPACK on ARM vs x86) and float front end may round a few steps differently.
"""

from __future__ import annotations

import argparse
import os

import aebox_edge  # noqa: F401 - pins BLAS to one thread before numpy loads
import numpy as np

TOLERANCE = 0.02


def golden_path(model_path: str) -> str:
    return os.path.splitext(os.fspath(model_path))[0] + ".golden.npz"


def write_golden(model_path: str, clips: int = 3, seed: int = 0) -> str:
    """Write ``<stem>.golden.npz`` beside ``model_path``; returns its path."""
    from aebox_edge.io.atomic import atomic_path
    from aebox_edge.runtime import Enhancer
    from aebox_edge.runtime.bench import bench_clips

    enhancer = Enhancer(model_path)
    pairs = [bench_clips(seed + i) for i in range(clips)]
    pcm = np.array([[np.round(np.clip(a, -1.0, 1.0) * 32767) for a in pair] for pair in pairs], np.int16)
    params = np.array([predict(enhancer, pair) for pair in pcm], np.float32)
    path = golden_path(model_path)
    with atomic_path(path, suffix=".npz") as tmp:  # np.savez_compressed appends .npz to other names
        np.savez_compressed(tmp, audio=pcm, params=params, sha256=np.array(enhancer.metadata["sha256"]),
                            tolerance=np.array(TOLERANCE))
    return path


def predict(enhancer, pair: np.ndarray) -> np.ndarray:
    """Normalized parameters for one stored (input, reference) int16 pair at the analysis rate."""
    x, reference = (np.asarray(a, np.float32) / 32767 for a in pair)
    rate = enhancer.analysis_rate
    return enhancer.predict(*enhancer.prepare(x, reference, rate))


def load_golden(model_path: str) -> dict | None:
    """The golden file's arrays, or None when there is none."""
    path = golden_path(model_path)
    if not os.path.isfile(path):
        return None
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--clips", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(write_golden(args.model, args.clips, args.seed))


if __name__ == "__main__":
    main()
