import json

import numpy as np
import pytest

from aebox_edge.evaluation.metrics import (
    METRICS,
    evaluate,
    loudness_error,
    mel_spectral_distance,
    rms_error,
    spectral_centroid_error,
)
from aebox_edge.evaluation.tables import format_table, summarize

pytest.importorskip("pyloudnorm")

SR = 24000


@pytest.fixture
def music(rng):
    """2.5 s of band-limited noise with a decaying tone: a stand-in for a music clip."""
    t = np.arange(60000) / SR
    noise = np.convolve(rng.standard_normal(60000), np.ones(4) / 4, mode="same")
    return 0.1 * noise + 0.3 * np.sin(2 * np.pi * 440 * t) * np.exp(-t)


def _tilt(x, gain):
    """A simple EQ difference: add ``gain`` x the first difference (a high-frequency boost)."""
    return x + gain * np.diff(x, prepend=0.0)


def test_identical_signals_score_zero(music):
    assert evaluate(music, music, SR) == {"msd": 0.0, "sce": 0.0, "rms": 0.0, "lufs": 0.0}
    stereo = np.stack([music, 0.5 * music], axis=1)
    assert all(v == 0.0 for v in evaluate(stereo, stereo, SR).values())


def test_gain_of_two(music):
    assert rms_error(2.0 * music, music) == pytest.approx(20.0 * np.log(2.0), abs=1e-6)
    assert loudness_error(2.0 * music, music, SR) == pytest.approx(6.02, abs=0.1)
    assert spectral_centroid_error(2.0 * music, music, SR) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("freq", [1000.0, 3500.0])
def test_spectral_centroid_of_a_tone(freq):
    t = np.arange(2 * SR) / SR
    tone = 0.5 * np.sin(2 * np.pi * freq * t)
    # The centroid error against silence (centroid 0) is the tone's own mean centroid.
    assert spectral_centroid_error(tone, np.zeros_like(tone), SR) == pytest.approx(freq, rel=0.01)


def test_msd_grows_with_eq_difference(music):
    small = mel_spectral_distance(_tilt(music, 0.5), music, SR)
    large = mel_spectral_distance(_tilt(music, 2.0), music, SR)
    assert 0.0 < small < large


def test_msd_long_clip_uses_all_frames(music):
    long = np.tile(music, 3)  # 180,000 samples: several 65,536 frames
    changed = long.copy()
    changed[-5000:] *= 3.0  # only the last samples differ: the end-aligned frame must see them
    assert mel_spectral_distance(long, long, SR) == 0.0
    assert mel_spectral_distance(changed, long, SR) > 0.0


def test_silence_vs_signal_is_finite(music):
    scores = evaluate(np.zeros_like(music), music, SR)
    assert all(np.isfinite(v) for v in scores.values())
    assert scores["lufs"] > 0.0


def test_short_clip_loudness_raises(music):
    with pytest.raises(ValueError, match="0.4 s"):
        loudness_error(music[: SR // 10], music[: SR // 10], SR)


def test_mismatched_lengths_raise(music):
    with pytest.raises(ValueError):
        rms_error(music, music[:-1])


def _clips(values):
    return [dict(zip(METRICS, v)) for v in values]


def test_format_table_and_summary():
    corrupt = _clips([(6.0, 600.0, 6.0, 2.0), (6.2, 700.0, 7.0, 3.0)])
    rows = {"Baseline": _clips([(4.0, 300.0, 4.0, 1.5)] * 2), "edge int8": _clips([(2.0, 150.0, 2.0, 1.0)] * 2)}
    table = format_table(corrupt, rows)
    lines = table.splitlines()
    names = [line.split("|")[1].strip() for line in lines[2:]]
    assert names == ["Corrupt", "Baseline", "edge int8"]
    assert "6.10 ± 0.10" in lines[2] and "650.0 ± 50.0" in lines[2]

    summary = summarize(corrupt, rows)
    assert list(summary["rows"]) == ["Corrupt", "Baseline", "edge int8"]
    assert summary["rows"]["Corrupt"]["improvement_pct"]["msd"] == 0.0
    assert summary["rows"]["edge int8"]["improvement_pct"]["sce"] == pytest.approx(100 * (650 - 150) / 650)
    json.dumps(summary)

    with pytest.raises(ValueError):
        format_table(corrupt, {"Corrupt": corrupt})
    with pytest.raises(ValueError):
        format_table([], rows)
