"""Write the short test clip for arm64_emulated.sh: ``input.wav`` (generated music through a muddy-club EQ +
compressor) and ``reference.wav`` (other generated music, clean), 44.1 kHz stereo float, seeded, so the host and the
arm64 root read byte-identical files. Run with the host's .venv python (needs numpy, soundfile, ddsp_kernels)."""

from __future__ import annotations

import argparse
import os

import numpy as np
import soundfile as sf

RATE = 44100


def _music(seed: int, seconds: float) -> np.ndarray:
    try:  # the project's procedural music when present
        from aebox_edge.data.music import synthesize

        clean, _ = synthesize(np.random.default_rng(seed), duration_s=seconds, sample_rate=RATE)
        return np.asarray(clean, dtype=np.float64)
    except Exception:  # a plain fallback: chords over a kick, stereo
        rng = np.random.default_rng(seed)
        t = np.arange(int(seconds * RATE)) / RATE
        root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
        x = sum(np.sin(2 * np.pi * root * r * h * t) / h for r in (1, 1.26, 1.5) for h in range(1, 6))
        kick = np.sin(2 * np.pi * 55 * t) * np.exp(-((t * 2) % 1) * 12)
        x = 0.15 * x + 0.5 * kick
        return np.stack([x, np.roll(x, 40)], axis=1)


def _stereo(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x], axis=1) if x.ndim == 1 else x


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    from ddsp_kernels import apply_chain

    try:
        from aebox_edge.evaluation.demo import MUDDY_CLUB
    except Exception:
        MUDDY_CLUB = None
    clean = _stereo(_music(0, args.seconds))
    if MUDDY_CLUB is not None:
        dirty = apply_chain(clean, RATE, MUDDY_CLUB)
    else:
        from ddsp_kernels import PARAM_SPEC

        dirty = apply_chain(clean, RATE, PARAM_SPEC.to_physical(np.random.default_rng(7).random(len(PARAM_SPEC))))
    reference = _stereo(_music(1, args.seconds))
    os.makedirs(args.out, exist_ok=True)
    for name, x in (("input", dirty), ("reference", reference)):
        x = np.asarray(x, dtype=np.float64)
        x = 0.5 * x / max(1e-9, float(np.max(np.abs(x))))
        sf.write(os.path.join(args.out, f"{name}.wav"), x.astype(np.float32), RATE, subtype="FLOAT")
    print(f"clip: {args.seconds:g} s, {RATE} Hz stereo: {args.out}/input.wav (muddy), {args.out}/reference.wav")


if __name__ == "__main__":
    main()
