import dataclasses
import json

import numpy as np
import pytest

from aebox_edge.frontend import (
    FRONT_ENDS,
    FrontEndConfig,
    analysis_features,
    fit_window,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    resize_time,
    stft,
)

librosa = pytest.importorskip("librosa")

SR = 24000


def _signals():
    """Noise, a decaying tone over modulated noise, and a clip with a silent half (exercises the dB floor)."""
    rng = np.random.default_rng(7)
    t = np.arange(60000) / SR
    noise = 0.1 * rng.standard_normal(60000)
    music = 0.3 * np.sin(2 * np.pi * 220 * t) * np.exp(-t) + 0.05 * rng.standard_normal(60000) * np.sin(np.pi * t) ** 2
    gapped = np.where(t < 1.2, 0.5 * np.sin(2 * np.pi * 3000 * t), 0.0)
    return {"noise": noise, "music": music, "gapped": gapped}


def _librosa_log_mel(y, config):
    spec = librosa.feature.melspectrogram(
        y=y, sr=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length, win_length=config.win_length,
        window="hann", center=True, pad_mode="constant", power=2.0, n_mels=config.n_mels, norm="slaney", htk=False,
    )
    return librosa.power_to_db(spec, ref=1.0, amin=1e-10, top_db=80).T


@pytest.mark.filterwarnings("ignore:Empty filters detected")
@pytest.mark.parametrize("sr,n_fft,n_mels", [(24000, 1024, 64), (24000, 512, 256), (24000, 65536, 128),
                                             (44100, 2048, 128), (16000, 400, 40)])
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels):
    ours = mel_filterbank(sr, n_fft, n_mels, dtype=np.float64)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, htk=False, norm="slaney", dtype=np.float64)
    assert ours.shape == (n_mels, n_fft // 2 + 1)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)


def test_mel_filterbank_fmin_fmax_and_dtype():
    ours = mel_filterbank(SR, 1024, 40, fmin=50.0, fmax=8000.0)
    ref = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=40, fmin=50.0, fmax=8000.0, htk=False, norm="slaney")
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-6)
    with pytest.raises(ValueError):
        mel_filterbank(SR, 1024, 40, fmin=5000.0, fmax=1000.0)


def test_slaney_mel_scale():
    hz = np.array([0.0, 100.0, 999.0, 1000.0, 1001.0, 4000.0, 12000.0])
    np.testing.assert_allclose(hz_to_mel(hz), librosa.hz_to_mel(hz, htk=False), rtol=0, atol=1e-9)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12, atol=1e-9)
    assert hz_to_mel(1000.0) == pytest.approx(15.0)


@pytest.mark.filterwarnings("ignore:Empty filters detected")
@pytest.mark.parametrize("name", ["noise", "music", "gapped"])
@pytest.mark.parametrize("front_end", ["edge", "paper_unresized"])
def test_log_mel_matches_librosa(name, front_end):
    config = FRONT_ENDS["edge"] if front_end == "edge" else dataclasses.replace(FRONT_ENDS["paper"], frames=None)
    y = _signals()[name].astype(np.float32)
    ours = log_mel(y, config)
    ref = _librosa_log_mel(y, config)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape == config.shape
    above_floor = ref > ref.max() - 79.0
    # Measured: at most 6.4e-4 dB (float32 rounding; librosa computes in float32 too).
    assert np.abs(ours - ref)[above_floor].max() < 1e-3
    assert np.abs(ours - ref).max() < 1e-3


def test_shapes_and_floor():
    y = _signals()["gapped"]
    edge = log_mel(y, FRONT_ENDS["edge"])
    paper = log_mel(y, FRONT_ENDS["paper"])
    assert edge.shape == (235, 64) and edge.dtype == np.float32
    assert paper.shape == (256, 256) and paper.dtype == np.float32
    assert edge.min() == pytest.approx(edge.max() - 80.0)
    assert np.all(np.isfinite(edge)) and np.all(np.isfinite(paper))


def test_log_mel_processes_any_length():
    assert log_mel(np.ones(1000), FRONT_ENDS["edge"]).shape == (1 + 1000 // 256, 64)
    with pytest.raises(ValueError):
        log_mel(np.zeros((2, 3, 4)), FRONT_ENDS["edge"])


def test_batch_equals_single():
    signals = _signals()
    batch = np.stack([signals["noise"], signals["music"]])
    for config in FRONT_ENDS.values():
        out = log_mel(batch, config)
        assert out.shape == (2, *config.shape)
        for i in range(2):
            np.testing.assert_allclose(out[i], log_mel(batch[i], config), rtol=0, atol=1e-4)


def test_resize_time_half_pixel_centres():
    # tf.image.resize([0, 1] -> 4, bilinear, half_pixel_centers) = [0, 0.25, 0.75, 1]; [0, 1, 2, 3] -> 2 = [0.5, 2.5]
    up = resize_time(np.array([[0.0], [1.0]], dtype=np.float32), 4)
    np.testing.assert_allclose(up[:, 0], [0.0, 0.25, 0.75, 1.0])
    down = resize_time(np.arange(4, dtype=np.float32)[:, None], 2)
    np.testing.assert_allclose(down[:, 0], [0.5, 2.5])
    x = np.random.default_rng(0).standard_normal((7, 3)).astype(np.float32)
    np.testing.assert_array_equal(resize_time(x, 7), x)


def test_paper_resize_applied_to_natural_frames():
    y = _signals()["music"]
    natural = log_mel(y, dataclasses.replace(FRONT_ENDS["paper"], frames=None))
    np.testing.assert_allclose(log_mel(y, FRONT_ENDS["paper"]), resize_time(natural, 256), rtol=0, atol=1e-5)


def test_fit_window_centres():
    config = FRONT_ENDS["edge"]
    long = np.arange(70000, dtype=np.float32)
    cropped = fit_window(long, config)
    assert cropped.shape == (60000,) and cropped[0] == 5000
    padded = fit_window(np.ones(50000), config)
    assert padded.shape == (60000,) and padded.dtype == np.float32
    assert padded[:5000].sum() == 0 and padded[-5000:].sum() == 0 and padded[5000:55000].min() == 1
    assert fit_window(np.ones((3, 1000)), config).shape == (3, 60000)


def test_analysis_features():
    signals = _signals()
    for config in FRONT_ENDS.values():
        inp, ref = analysis_features(signals["noise"][:50000], signals["music"], config)
        assert inp.shape == ref.shape == (*config.shape, 1)
        np.testing.assert_array_equal(ref[..., 0], log_mel(signals["music"], config))


def test_config_round_trip():
    for name, config in FRONT_ENDS.items():
        assert config.name == name
        restored = FrontEndConfig.from_dict(json.loads(json.dumps(config.to_dict())))
        assert restored == config
    with pytest.raises(ValueError):
        FrontEndConfig.from_dict({**FRONT_ENDS["edge"].to_dict(), "extra": 1})
    with pytest.raises(ValueError):
        FrontEndConfig(name="bad", n_fft=256, win_length=512, hop_length=128, n_mels=32)


def test_bench_log_mel_edge(benchmark):
    y = _signals()["music"].astype(np.float32)
    out = benchmark(log_mel, y, FRONT_ENDS["edge"])
    assert out.shape == (235, 64)


def test_bad_front_end_input_is_an_input_error():
    from aebox_edge.errors import InputError

    assert issubclass(InputError, ValueError)
    with pytest.raises(InputError, match="empty"):
        stft(np.zeros(0, np.float32), 512, 128)
    with pytest.raises(InputError, match="shaped"):
        log_mel(np.zeros((1, 2, 3), np.float32), FRONT_ENDS["edge"])


@pytest.mark.parametrize("name", ["edge", "paper"])
@pytest.mark.parametrize("hop", [29952, 30000, 60000, 256])
def test_window_log_mels_equal_per_window_log_mels(rng, name, hop):
    """Windows of one stream through WindowLogMels (frames inside a window computed once and shared when starts
    differ by whole STFT hops) equal log_mel of each window on its own, edge frames (zero padding) included."""
    from aebox_edge.frontend import FRONT_ENDS, WindowLogMels, log_mel

    config = FRONT_ENDS[name]
    n = config.window_samples
    x = (rng.standard_normal(n * 3) * np.linspace(0.01, 1.0, n * 3)).astype(np.float32)
    mels = WindowLogMels(config)
    starts = list(range(0, len(x) - n, hop))[:12] + [len(x) - n]
    for start in starts:
        np.testing.assert_allclose(mels.window(x[start:start + n], start), log_mel(x[start:start + n], config),
                                   atol=1e-4)


def test_window_log_mels_compute_shared_frames_once(rng, monkeypatch):
    """With a hop on the STFT grid (1.248 s, live's) a window computes only the frames the one before lacked."""
    import aebox_edge.frontend as frontend

    config = frontend.FRONT_ENDS["edge"]
    n, hop = config.window_samples, 117 * config.hop_length
    x = rng.standard_normal(n + hop).astype(np.float32)
    counted = []
    real_rfft = frontend.rfft
    monkeypatch.setattr(frontend, "rfft", lambda frames: counted.append(len(frames)) or real_rfft(frames))
    mels = frontend.WindowLogMels(config)
    mels.window(x[:n], 0)
    mels.window(x[hop:hop + n], hop)
    assert counted[0] == config.natural_frames
    assert counted[1] == config.natural_frames - (config.natural_frames - 4 - 117)  # 117 new inner + 4 edge frames
