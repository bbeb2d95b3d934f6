"""Training-data toolkit (docs/architecture.md, section 5): music generator, venue IRs, crowd noise, styles, dataset,
CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from scipy import signal

from aebox_edge.cli import main
from aebox_edge.errors import InputError
from aebox_edge.data.crowd import crowd_noise, scale_to_snr
from aebox_edge.data.dataset import DataConfig, build_dataset, open_dataset, synth_clip, synth_dataset, tf_dataset
from aebox_edge.data.irs import club_ir, convolve, load_ir_folder, phone_ir, rt60_mid, schroeder_rt60
from aebox_edge.data.music import synthesize
from aebox_edge.data.styles import PRESETS, STYLES, draw_style
from ddsp_kernels import PARAM_SPEC, apply_chain

SR = 24000


def _rms_db(x):
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


def _files(directory):
    return {name: open(os.path.join(directory, name), "rb").read() for name in sorted(os.listdir(directory))}


# ---- music ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [16000, 24000, 44100])
def test_music_any_rate_is_seeded_bounded_and_not_silent(rate):
    x, info = synthesize(np.random.default_rng(7), 2.0, rate)
    y, _ = synthesize(np.random.default_rng(7), 2.0, rate)
    z, _ = synthesize(np.random.default_rng(8), 2.0, rate)
    assert x.dtype == np.float32 and x.shape == (2 * rate,)
    assert np.array_equal(x, y) and not np.array_equal(x, z)
    assert np.isfinite(x).all() and np.max(np.abs(x)) <= 0.99
    assert _rms_db(x) > -35
    assert 70 <= info["bpm"] <= 170 and len(info["parts"]) >= 2


def _centroid_hz(x, sr):
    f, _, z = signal.stft(x, sr, nperseg=2048, noverlap=2048 - 512)
    mag = np.abs(z)
    return float(np.mean((f[:, None] * mag).sum(0) / np.maximum(mag.sum(0), 1e-12)))


def _spread(n):
    stats = []
    for i in range(n):
        x, _ = synthesize(np.random.default_rng(np.random.SeedSequence(1234, spawn_key=(i,))), 5.0, SR)
        x = x.astype(np.float64)
        rms = np.sqrt(np.mean(x ** 2))
        stats.append((_centroid_hz(x, SR), 20 * np.log10(np.max(np.abs(x)) / rms), 20 * np.log10(rms)))
    return np.array(stats)


def test_music_varies_like_real_music_small_sample():
    stats = _spread(40)
    centroid, crest, rms = stats.T
    assert centroid.min() < 1500 and centroid.max() > 3500
    assert crest.min() < 9 and crest.max() > 15
    assert rms.min() < -22 and rms.max() > -15


@pytest.mark.slow
def test_music_spread_over_500_clips():
    centroid, crest, rms = _spread(500).T
    assert centroid.min() <= 1000 and centroid.max() >= 5000
    assert crest.min() <= 6 and crest.max() >= 19
    assert rms.min() <= -25 and rms.max() >= -13


# ---- impulse responses ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("rt60", [0.3, 0.7, 1.5])
def test_club_ir_reaches_requested_rt60(rt60):
    for seed in range(2):
        ir, info = club_ir(np.random.default_rng(seed), SR, rt60_s=rt60)
        assert info["rt60_s"] == rt60
        assert np.isclose(np.sum(ir ** 2), 1.0)
        assert abs(rt60_mid(ir, SR) - rt60) / rt60 < 0.2


def test_club_ir_draws_rt60_in_range():
    _, info = club_ir(np.random.default_rng(3), SR, rt60_range=(0.4, 0.5))
    assert 0.4 <= info["rt60_s"] <= 0.5


def test_schroeder_on_exponential_noise():
    rng = np.random.default_rng(0)
    t = np.arange(int(1.2 * SR)) / SR
    ir = rng.standard_normal(len(t)) * np.exp(-np.log(1000) * t / 0.8)
    assert schroeder_rt60(ir, SR) == pytest.approx(0.8, rel=0.05)


def test_phone_ir_band_limits():
    for seed in range(4):
        ir, info = phone_ir(np.random.default_rng(seed), SR)
        f, h = signal.freqz(ir, worN=8192, fs=SR)
        db = 20 * np.log10(np.abs(h) + 1e-12)
        mid = np.median(db[(f > 500) & (f < 1500)])
        assert 100 <= info["mic_highpass_hz"] <= 200 and 8000 <= info["mic_lowpass_hz"] <= 11000
        assert np.median(db[(f > 20) & (f < 40)]) < mid - 12
        assert np.median(db[f > 11500]) < mid - 10


def test_ir_folder_loader_and_dataset_with_loaded_irs(tmp_path):
    rng = np.random.default_rng(0)
    club, _ = club_ir(rng, 48000, rt60_s=0.5)
    irs = tmp_path / "irs"
    os.makedirs(irs / "phone")
    sf.write(irs / "hall.wav", np.stack([club, 0.5 * club], axis=1), 48000)
    sf.write(irs / "phone" / "iphone.flac", 0.3 * phone_ir(rng, 16000)[0], 16000)
    (irs / "broken.wav").write_bytes(b"RIFF0000WAVEjunk")
    warnings = []
    bank = load_ir_folder(str(irs), SR, warn=warnings.append)
    assert bank.club_files == ["hall.wav"] and bank.phone_files == ["phone/iphone.flac"]
    assert [s["path"] for s in bank.skipped] == ["broken.wav"] and len(warnings) == 1
    for ir in bank.club + bank.phone:
        assert np.isclose(np.sum(ir ** 2), 1.0) and np.argmax(np.abs(ir)) < 0.002 * SR
    assert abs(rt60_mid(bank.club[0], SR) - 0.5) / 0.5 < 0.2  # resampled 48k -> 24k keeps the decay

    manifest = synth_dataset(str(tmp_path / "ds"), 2, DataConfig(seed=1, irs=str(irs)), workers=1)
    assert manifest["irs"]["kind"] == "folder" and manifest["irs"]["club"] == ["hall.wav"]
    assert np.isnan(open_dataset(str(tmp_path / "ds"))[0]["rt60_s"])
    with pytest.raises(InputError):
        load_ir_folder(str(tmp_path / "ds"), SR)


# ---- crowd noise and styles -----------------------------------------------------------------------------------

def test_crowd_noise_and_snr():
    noise = crowd_noise(np.random.default_rng(1), SR * 2, SR)
    assert np.isfinite(noise).all() and np.sqrt(np.mean(noise ** 2)) == pytest.approx(1.0)
    assert not np.array_equal(noise, crowd_noise(np.random.default_rng(2), SR * 2, SR))
    music = np.random.default_rng(3).standard_normal(SR) * 0.1
    scaled = scale_to_snr(noise[:SR], music, 17.0)
    assert _rms_db(music) - _rms_db(scaled) == pytest.approx(17.0)


def test_styles_stay_inside_param_spec_and_keep_their_character():
    rng = np.random.default_rng(0)
    for name in STYLES:
        for _ in range(30):
            p = draw_style(name, rng, level_db=rng.uniform(-40, -5))
            assert set(p) == set(PARAM_SPEC.names) and PARAM_SPEC.contains(p)
            if name == "warm":
                assert p["low_shelf_gain_db"] > 0 > p["high_shelf_gain_db"] and p["comp_ratio"] == 1
            if name == "bright":
                assert p["low_shelf_gain_db"] < 0 < p["high_shelf_gain_db"] and p["comp_ratio"] == 1
            if name == "telephone":
                assert p["peak1_gain_db"] >= 12 and p["low_shelf_gain_db"] <= -20 and p["high_shelf_gain_db"] <= -20
            if name == "broadcast":
                assert p["comp_ratio"] >= 3 and p["comp_threshold_db"] <= -40
    with pytest.raises(ValueError):
        draw_style("loud", rng)
    assert set(PRESETS) == {"neutral", "broadcast", "telephone", "bright", "warm"}


# ---- examples -------------------------------------------------------------------------------------------------

def test_dirty_is_venue_of_style_of_clean_without_crowd():
    config = DataConfig(seed=11, crowd_snr_db=None)
    w, pre = config.window_samples, config.pre_roll_samples
    for index in range(3):
        clip = synth_clip(config, index)
        assert clip.noise is None and np.isnan(clip.snr_db)
        dirty = convolve(apply_chain(clip.source, SR, clip.params), clip.venue_ir)[pre:]
        clean = convolve(clip.source, clip.venue_ir)[pre:]
        first, swapped = clip.examples(config)
        # input = dirty(A) is the venue IR applied to the style applied to clean A (A with its pre-roll)
        np.testing.assert_allclose(first["input"], dirty[:w], atol=2e-6)
        np.testing.assert_allclose(first["target"], clean[:w], atol=2e-6)
        np.testing.assert_allclose(first["reference"], clean[w:], atol=2e-6)
        np.testing.assert_allclose(swapped["input"], dirty[w:], atol=2e-6)
        np.testing.assert_allclose(swapped["reference"], clean[:w], atol=2e-6)
        np.testing.assert_allclose(swapped["target"], clean[w:], atol=2e-6)
        assert PARAM_SPEC.contains(clip.params)


def test_crowd_noise_is_the_only_difference_with_crowd_on():
    config = DataConfig(seed=11, crowd_snr_db=(12.0, 12.0))
    clip = synth_clip(config, 0)
    pre = config.pre_roll_samples
    styled = convolve(apply_chain(clip.source, SR, clip.params), clip.venue_ir)[pre:]
    np.testing.assert_allclose(clip.dirty - clip.noise, styled, atol=1e-9)
    assert _rms_db(styled) - _rms_db(clip.noise) == pytest.approx(12.0, abs=1e-6)


def _check_dataset(root, count):
    reader = open_dataset(root)
    manifest = reader.manifest
    assert len(reader) == count == manifest["counts"]["examples"]
    assert sum(manifest["style_histogram"].values()) == count
    for k in range(manifest["counts"]["shards"]):
        shard = reader.shard(k)
        for name in ("input", "reference", "target"):
            arr = shard[name]
            assert arr.dtype == np.float32 and arr.shape[1:] == (60000,)
            assert np.isfinite(arr).all() and np.max(np.abs(arr)) <= 0.99 + 1e-6
            assert min(_rms_db(row) for row in arr) > -50  # no silent clip
        assert shard["style_params"].shape == (len(shard["input"]), 24)
        assert PARAM_SPEC.contains(shard["style_params"])
        assert set(shard["style"]) <= set(STYLES)
    return reader


def test_synth_dataset_is_byte_identical_and_seeded(tmp_path):
    config = DataConfig(seed=5, shard_size=4)
    a, b, c, d = (str(tmp_path / n) for n in "abcd")
    synth_dataset(a, 6, config, workers=1)
    synth_dataset(b, 6, config, workers=2)
    synth_dataset(c, 6, DataConfig(seed=6, shard_size=4), workers=1)
    assert _files(a) == _files(b)
    assert sorted(_files(a)) == ["manifest.json", "shard-00000.npz", "shard-00001.npz"]
    reader = _check_dataset(a, 6)
    other = open_dataset(c)
    assert not np.array_equal(reader[0]["input"], other[0]["input"])
    manifest = reader.manifest
    assert manifest["seed"] == 5 and manifest["config"]["seed"] == 5 and manifest["counts"]["clips"] == 3
    # examples come in pairs: the triple and its swap
    first, second = reader[0], reader[1]
    assert not first["swapped"] and second["swapped"] and first["clip"] == second["clip"] == 0
    np.testing.assert_array_equal(first["target"], second["reference"])
    # an odd count keeps the first triple of the last clip
    synth_dataset(d, 3, config, workers=1)
    assert [bool(s) for s in open_dataset(d).shard(0)["swapped"]] == [False, True, False]


def test_reader_batches_cover_every_example(tmp_path):
    synth_dataset(str(tmp_path), 5, DataConfig(seed=2, shard_size=2, swap=False), workers=1)
    reader = open_dataset(str(tmp_path))
    batches = list(reader.batches(2, shuffle=True, seed=1))
    assert [len(b["clip"]) for b in batches] == [2, 2, 1]
    assert sorted(np.concatenate([b["clip"] for b in batches]).tolist()) == [0, 1, 2, 3, 4]
    assert not any(np.concatenate([b["swapped"] for b in batches]))
    with pytest.raises(IndexError):
        reader[5]


def test_tf_dataset_reader(tmp_path):
    tf = pytest.importorskip("tensorflow")
    synth_dataset(str(tmp_path), 2, DataConfig(seed=2), workers=1)
    batch = next(iter(tf_dataset(str(tmp_path), batch_size=2)))
    assert batch["input"].shape == (2, 60000) and batch["input"].dtype == tf.float32
    assert batch["style_params"].shape == (2, 24)


# ---- command line ---------------------------------------------------------------------------------------------

def test_cli_synth_then_preview(tmp_path):
    out, pv = str(tmp_path / "ds"), str(tmp_path / "pv")
    runner = CliRunner()
    result = runner.invoke(main, ["data", "synth", "--out", out, "--count", "2", "--seed", "1", "--workers", "1",
                                  "--styles", "warm,bright", "--noise-snr", "5", "6"])
    assert result.exit_code == 0, result.output
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["config"]["styles"] == ["warm", "bright"] and manifest["config"]["crowd_snr_db"] == [5.0, 6.0]
    snr = open_dataset(out)[0]["snr_db"]
    assert 5.0 <= snr <= 6.0
    result = runner.invoke(main, ["data", "preview", out, "--index", "1", "--out", pv])
    assert result.exit_code == 0, result.output
    for name in ("input", "reference", "target"):
        audio, rate = sf.read(os.path.join(pv, f"{name}.wav"))
        assert rate == SR and audio.shape == (60000,)
    assert open(os.path.join(pv, "spectrograms.png"), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(main, ["data", "synth", "--out", out, "--count", "2", "--workers", "1"])
    assert result.exit_code == 2 and "--force" in result.output
    result = runner.invoke(main, ["data", "preview", out, "--index", "9", "--out", pv])
    assert result.exit_code == 2 and "out of range" in result.output
    result = runner.invoke(main, ["data", "synth", "--out", out, "--count", "2", "--styles", "loud"])
    assert result.exit_code == 2 and "unknown style" in result.output


def test_cli_build_on_mixed_folder(tmp_path):
    music = tmp_path / "music"
    os.makedirs(music / "sub")
    files = [("a.wav", 44100, 2, "PCM_16"), ("sub/b.flac", 48000, 1, "PCM_24"), ("c.wav", 16000, 3, "FLOAT"),
             ("d.ogg", 32000, 2, "VORBIS")]
    for i, (name, rate, channels, subtype) in enumerate(files):
        x, _ = synthesize(np.random.default_rng(i), 6.0, rate)
        sf.write(music / name, np.stack([x] * channels, axis=1) * 0.9, rate, subtype=subtype)
    sf.write(music / "short.wav", np.full(SR, 0.1), SR)
    (music / "broken.flac").write_bytes(b"fLaC not really")
    (music / "notes.txt").write_text("not audio")
    out = str(tmp_path / "ds")
    result = CliRunner().invoke(main, ["data", "build", "--music", str(music), "--out", out, "--workers", "1",
                                       "--patches-per-file", "2", "--no-crowd", "--shard-size", "3"])
    assert result.exit_code == 0, result.output
    assert "broken.flac" in result.stderr and "warning" in result.stderr
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    assert manifest["counts"]["files_found"] == 6 and manifest["counts"]["files_skipped"] == 2
    assert sorted(s["path"] for s in manifest["skipped"]) == ["broken.flac", "short.wav"]
    assert [f["path"] for f in manifest["sources"]["files"]] == ["a.wav", "c.wav", "d.ogg", "sub/b.flac"]
    assert manifest["counts"]["clips"] == 8 and manifest["config"]["crowd_snr_db"] is None
    _check_dataset(out, 16)
    again = str(tmp_path / "again")
    build_dataset(again, str(music), DataConfig(crowd_snr_db=None, shard_size=3), patches_per_file=2, workers=2)
    assert _files(again) == _files(out)


def test_cli_build_without_audio_exits_2(tmp_path):
    (tmp_path / "readme.txt").write_text("nothing here")
    result = CliRunner().invoke(main, ["data", "build", "--music", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no audio files" in result.output
    os.makedirs(tmp_path / "bad")
    (tmp_path / "bad" / "x.wav").write_bytes(b"garbage")
    result = CliRunner().invoke(main, ["data", "build", "--music", str(tmp_path / "bad"), "--out",
                                       str(tmp_path / "o2"), "--workers", "1"])
    assert result.exit_code == 2 and "no usable audio" in result.output


def test_data_cli_module_imports_no_numpy():
    code = "import sys, aebox_edge.data.cli; print(sorted(m for m in ('numpy', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.stdout.strip() == "[]"
    from aebox_edge.data.cli import STYLE_NAMES

    assert STYLE_NAMES == STYLES
