"""Shared helpers of the runtime tests (no tests here): the edge analyser exported once per session (untrained but
for a random correction head, int8, by the real ``build_analyser`` + ``export_tflite``), and audio file writers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import lfilter

REPO_ROOT = Path(__file__).resolve().parent.parent
_EXPORTED: dict[str, Path] = {}


def exported_model(tmp_path_factory) -> dict[str, Path]:
    """``{"tflite": ..., "keras": ...}`` of the edge analyser, exported once per session; skips without TF."""
    if not _EXPORTED:
        pytest.importorskip("tensorflow", reason="exporting a test model needs TensorFlow (the train extra)")
        import keras

        from aebox_edge.training.networks import build_analyser
        from export.convert import export_tflite

        out = tmp_path_factory.mktemp("runtime_model")
        keras.utils.set_random_seed(0)
        model = build_analyser("edge")
        head = model.get_layer("correction")  # starts at zero (the analytic fit): give the test model a real one
        rng = np.random.default_rng(0)
        head.set_weights([rng.normal(0, 0.05, w.shape).astype(np.float32) for w in head.get_weights()])
        model.save(out / "edge.keras")
        export_tflite(model, out / "edge_int8.tflite", quantize="int8", calibration_clips=4, verify_clips=4,
                      timing_runs=1)
        _EXPORTED.update(tflite=out / "edge_int8.tflite", keras=out / "edge.keras")
    return _EXPORTED


def music(seconds: float, rate: int, channels: int = 1, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """A cheap seeded test signal (chords, a decaying kick, noise), shaped (frames, channels), float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    f0 = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    x = sum(np.sin(2 * np.pi * f0 * r * t + rng.uniform(0, 6)) for r in (1, 1.25, 1.5, 2.0)) / 4
    x = x + np.sin(2 * np.pi * 55 * t) * np.exp(-(t * 2 % 1) * 10) + 0.05 * rng.standard_normal(len(t))
    out = np.stack([np.roll(x, 7 * c) for c in range(channels)], axis=1)
    return (level * out / max(1e-9, np.abs(out).max())).astype(np.float32)


def write_audio(path, x: np.ndarray, rate: int, subtype: str | None = None) -> Path:
    sf.write(str(path), x, rate, subtype=subtype)
    return Path(path)


def bad_audio_file(tmp_path, kind: str) -> Path:
    """A file of one bad kind in ``tmp_path``: ``missing`` (not created), ``non_audio``, ``empty``, ``zero_frames``,
    or a 3 s float wav holding a ``nan`` or ``inf`` sample."""
    path = Path(tmp_path) / f"{kind}.wav"
    if kind == "non_audio":
        path.write_text("not audio\n" * 20)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "zero_frames":
        sf.write(str(path), np.zeros((0, 1), np.float32), 48000)
    elif kind in ("nan", "inf"):
        x = music(3.0, 24000)
        x[1000] = np.nan if kind == "nan" else np.inf
        write_audio(path, x, 24000, "FLOAT")
    return path


def env() -> dict:
    """Environment for subprocesses that run this checkout's code."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), e.get("PYTHONPATH")]))
    return e


def run_subprocess(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env(), capture_output=True, text=True,
                          timeout=600, **kwargs)


EXCERPT_RATE = 44100


def excerpts_dir(directory, count=2, seconds=3.0):
    """``count`` items of a song-like stereo signal at 44.1 kHz: target and reference two parts of one 'song', the
    input the target low-passed (one pole), quieter and noisier."""
    directory.mkdir()
    items = []
    for k in range(count):
        song = music(2 * seconds, EXCERPT_RATE, channels=2, seed=k)
        n = len(song) // 2
        target, reference = song[:n], song[n:2 * n]
        dirty = lfilter([0.1], [1.0, -0.9], target, axis=0)
        rng = np.random.default_rng(k)
        dirty = (0.2 * dirty + 0.002 * rng.standard_normal(dirty.shape)).astype(np.float32)
        item = {"id": f"{k:04d}", "song": f"fake/song{k}", "package": "fake", "licence": "CC0-1.0",
                "sample_rate": EXCERPT_RATE, "channels": 2, "seconds": seconds}
        for name, x in (("input", dirty), ("reference", reference), ("target", target)):
            item[name] = f"{k:04d}_{name}.wav"
            write_audio(directory / item[name], x, EXCERPT_RATE, "FLOAT")
        items.append(item)
    (directory / "excerpts.json").write_text(json.dumps({"format": "aebox-edge-excerpts", "version": 1,
                                                         "items": items}))
    return directory
