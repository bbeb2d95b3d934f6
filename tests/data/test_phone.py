"""Phone degradations (aebox_edge.data.phone): each stage's physics, determinism, codec alignment, and the
recorded level's independence from the production style."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal, stats

from aebox_edge.data import phone
from aebox_edge.data.music import synthesize
from aebox_edge.data.phone import (PhoneConfig, agc, bandlimit, codec_delay, codec_round_trip, lag_samples, limiter,
                                   phone_chain, rms_db)
from aebox_edge.data.styles import STYLES, draw_style
from ddsp_kernels import apply_chain

pytest.importorskip("pedalboard")

SR = 16000


def _music(seconds=1.0, sr=SR, seed=0, channels=1):
    x = np.stack([synthesize(np.random.default_rng(seed + k), seconds, sr)[0] for k in range(channels)], 1)
    return x[:, 0].astype(np.float64) if channels == 1 else x.astype(np.float64)


def _tone_db(y, x, sr, hz):
    """Gain (dB) of the system x -> y at ``hz`` from their cross-spectrum."""
    f, pxy = signal.csd(x, y, sr, nperseg=4096)
    _, pxx = signal.welch(x, sr, nperseg=4096)
    k = int(np.argmin(np.abs(f - hz)))
    return float(20 * np.log10(np.abs(pxy[k]) / pxx[k]))


def test_bandlimit_is_butterworth_in_physical_units():
    x = np.random.default_rng(0).standard_normal(4 * SR)
    y = bandlimit(x, SR, 300.0, 4000.0, 4, 4)
    assert _tone_db(y, x, SR, 300.0) == pytest.approx(-3.0, abs=0.5)
    assert _tone_db(y, x, SR, 4000.0) == pytest.approx(-3.0, abs=0.5)
    assert _tone_db(y, x, SR, 1200.0) == pytest.approx(0.0, abs=0.3)
    assert _tone_db(y, x, SR, 75.0) < -40  # 4th order: 24 dB/octave, two octaves down
    assert np.array_equal(bandlimit(x, SR, None, 0.46 * SR), x)  # a low-pass above the band is skipped


def test_limiter_holds_its_ceiling_and_leaves_quiet_audio_alone():
    x = _music(2.0) * 8.0
    for ceiling in (-6.0, -1.0, -0.1):
        y = limiter(x, SR, ceiling)
        assert np.max(np.abs(y)) <= 10 ** (ceiling / 20) * (1 + 1e-9)
        assert y.shape == x.shape
    quiet = 0.1 * x / np.max(np.abs(x))
    assert np.array_equal(limiter(quiet, SR, -1.0), quiet)
    stereo = np.stack([x, 0.5 * x], 1)
    y = limiter(stereo, SR, -1.0)
    assert np.allclose(y[:, 1], 0.5 * y[:, 0])  # one gain for both channels


def test_agc_rides_toward_its_target_within_its_limits_and_gates_silence():
    x = _music(6.0)
    for level in (-45.0, -10.0):
        y, gains = agc(x * 10 ** ((level - rms_db(x)) / 20), SR, target_db=-20.0, max_gain_db=30.0)
        assert rms_db(y[2 * SR:]) == pytest.approx(-20.0, abs=3.0)
    y, gains = agc(x * 10 ** ((-50.0 - rms_db(x)) / 20), SR, target_db=-20.0, max_gain_db=12.0)
    assert np.max(gains) <= 12.0 + 1e-9 and rms_db(y) == pytest.approx(-38.0, abs=1.5)
    x = x * 10 ** ((-20.0 - rms_db(x)) / 20)
    step = np.concatenate([0.1 * x[:3 * SR], x[3 * SR:]])  # -40 then -20 dBFS: +20 dB at 3 s
    _, gains = agc(step, SR, target_db=-20.0, attack_s=0.5, release_s=2.0, max_gain_db=40.0)
    t = (np.arange(len(gains)) + 0.5) * 0.01
    before, after = np.median(gains[(t > 2.0) & (t < 3.0)]), np.median(gains[t > 5.0])
    assert before == pytest.approx(20.0, abs=3.0) and after == pytest.approx(0.0, abs=3.0)
    assert gains[int(3.1 / 0.01)] > before - 8.0  # a slow rider: 0.1 s after the step most of the gain is left
    silent, g = agc(np.zeros(SR), SR)
    assert not np.any(silent) and np.all(g == 0.0)


def _bursty_noise(seconds, sr, channels, seed=0):
    """Band-limited noise under a syllable-like envelope: no periodicity, so one clear correlation peak (a tonal
    signal has several, and a codec's phase distortion can tip the maximum onto a neighbouring period)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = signal.sosfilt(signal.butter(4, 3000.0, fs=sr, output="sos"), rng.standard_normal((n, channels)), axis=0)
    env = np.interp(np.arange(n), np.linspace(0, n, 40), rng.uniform(0.1, 1.0, 40))
    return 0.3 * x * env[:, None] / np.std(x)


@pytest.mark.parametrize("codec", ["mp3", "gsm"])
@pytest.mark.parametrize("sr,channels", [(24000, 1), (44100, 2), (48000, 2)])
def test_codec_round_trip_keeps_length_and_alignment(codec, sr, channels):
    x = _bursty_noise(1.37, sr, channels)  # a length that is no whole number of codec frames
    x = x[:, 0] if channels == 1 else x
    y = codec_round_trip(x, sr, codec, 9.0)
    assert y.shape == x.shape and np.isfinite(y).all()
    for ch in range(channels):
        a, b = (v if v.ndim == 1 else v[:, ch] for v in (x, y))
        assert lag_samples(b, a) == 0
        assert np.corrcoef(a, b)[0, 1] > (0.9 if codec == "mp3" else 0.4)


def test_codec_delay_is_measured_and_removed(monkeypatch):
    real = phone._raw_round_trip
    monkeypatch.setattr(phone, "_raw_round_trip", lambda f, sr, c, q: np.concatenate([np.zeros((37, f.shape[1])),
                                                                                     real(f, sr, c, q)]))
    codec_delay.cache_clear()
    try:
        assert codec_delay("mp3", 24000) == 37
        x = 0.3 * _music(1.0, 24000)
        y = codec_round_trip(x, 24000, "mp3", 7.0)
        assert len(y) == len(x) and lag_samples(y, x) == 0
    finally:
        codec_delay.cache_clear()


def test_every_stage_is_deterministic_from_the_seed():
    x = _music(1.5, 24000, channels=2)
    config = PhoneConfig().always("bandlimit", "agc", "limiter", "codec")
    for stage in (None, "bandlimit", "agc", "limiter", "codec"):
        cfg = config if stage is None else PhoneConfig().off("bandlimit", "agc", "limiter", "codec").always(stage)
        a, ra = phone_chain(x, 24000, np.random.default_rng(3), cfg)
        b, rb = phone_chain(x, 24000, np.random.default_rng(3), cfg)
        c, rc = phone_chain(x, 24000, np.random.default_rng(4), cfg)
        assert np.array_equal(a, b) and ra == rb, stage
        assert not np.array_equal(a, c) and ra != rc, stage
        assert (stage is None and {"bandlimit", "agc", "limiter", "codec"} <= set(ra)) or stage in ra
        assert a.shape == x.shape and np.max(np.abs(a)) <= 1.0


def test_switching_a_stage_off_keeps_the_other_draws():
    x = _music(1.0, 24000)
    _, on = phone_chain(x, 24000, np.random.default_rng(9), PhoneConfig().always("agc", "codec"))
    _, off = phone_chain(x, 24000, np.random.default_rng(9), PhoneConfig().always("codec").off("agc"))
    assert "agc" in on and "agc" not in off
    assert on["gain"] == off["gain"] and on["codec"]["codec"] == off["codec"]["codec"]


def test_recording_gain_sets_the_level_over_the_drawn_range():
    x = _music(1.0)
    levels, gains = [], []
    for i in range(40):
        y, rec = phone_chain(x, SR, np.random.default_rng(i), PhoneConfig().off("limiter"))
        levels.append(rms_db(y))
        gains.append(rec["gain"]["gain_db"])
    assert -30.0 <= min(gains) and max(gains) <= 0.0 and max(gains) - min(gains) > 20.0
    assert np.allclose(levels, np.array(gains) + PhoneConfig().reference_rms_db, atol=0.05)


def _style_level_draws(n, config):
    sources = [_music(0.5, SR, seed=i) for i in range(10)]
    rows = []
    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence(5, spawn_key=(i,)))
        src = sources[i % 10] * 10 ** (-rng.uniform(1.0, 9.0) / 20)
        style = STYLES[int(rng.integers(len(STYLES)))]
        styled = apply_chain(src, SR, draw_style(style, rng, rms_db(src)))
        dirty, _ = phone_chain(styled, SR, rng, config)
        rows.append((style, rms_db(dirty), rms_db(styled) - rms_db(src), rms_db(styled)))
    style = np.array([r[0] for r in rows])
    return style, *(np.array([r[k] for r in rows]) for k in (1, 2, 3))


def test_dirty_level_is_independent_of_the_style_over_500_draws():
    """With the gain and codec stages on (others at their probabilities), the dirty RMS says nothing about the
    style or the level change it made; the same statistics on the styled signal before the phone show both."""
    style, dirty_db, style_gain_db, styled_db = _style_level_draws(500, PhoneConfig().always("codec"))
    groups = [dirty_db[style == s] for s in STYLES]
    assert min(len(g) for g in groups) > 50
    assert stats.kruskal(*groups).pvalue > 0.01
    assert abs(stats.spearmanr(dirty_db, style_gain_db)[0]) < 0.15
    assert abs(stats.pearsonr(dirty_db, style_gain_db)[0]) < 0.15
    # the test can fail: before the phone the level follows the style
    assert stats.kruskal(*[styled_db[style == s] for s in STYLES]).pvalue < 1e-6
    assert stats.spearmanr(styled_db, style_gain_db)[0] > 0.5
