"""aebox_edge.io.audio: reading, resampling, block reading and atomic writing."""

import os

import numpy as np
import pytest
import soundfile as sf

from aebox_edge.io import audio
from aebox_edge.errors import AudioError, InputError, RuntimeFailure


def noise(rng, frames, channels, scale=0.5):
    return (scale * rng.uniform(-1, 1, (frames, channels))).astype(np.float32)


def sine(freq, sr, frames, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(frames) / sr)).astype(np.float32)


# --- round trips -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, subtype, atol", [("a.wav", "PCM_16", 1 / 32768), ("a.wav", "FLOAT", 0),
                                                  ("a.flac", "PCM_24", 1 / 2**23), ("a.flac", "PCM_16", 1 / 32768)])
def test_round_trip_lossless(tmp_path, rng, name, subtype, atol):
    x = noise(rng, 4801, 2)
    path = tmp_path / name
    audio.write(path, x, 48000, subtype=subtype)
    y, sr = audio.read(path)
    assert sr == 48000 and y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=atol, rtol=0)
    assert sf.info(str(path)).subtype == subtype


def test_round_trip_ogg_keeps_shape_and_rate(tmp_path, rng):
    x = noise(rng, 44100, 2)
    path = tmp_path / "a.ogg"
    audio.write(path, x, 44100)
    y, sr = audio.read(path)
    assert sr == 44100 and y.shape == x.shape
    assert audio.info(path).format == "OGG" and audio.info(path).subtype == "VORBIS"


def test_mono_comes_back_two_dimensional(tmp_path, rng):
    x = noise(rng, 1000, 1)[:, 0]
    audio.write(tmp_path / "m.wav", x, 16000, subtype="FLOAT")
    y, sr = audio.read(tmp_path / "m.wav")
    assert y.shape == (1000, 1) and sr == 16000
    np.testing.assert_array_equal(y[:, 0], x)


@pytest.mark.parametrize("sr", [8000, 192000])
def test_eight_channels_at_extreme_rates(tmp_path, rng, sr):
    x = noise(rng, sr // 10, 8)
    audio.write(tmp_path / "multi.flac", x, sr)
    y, got_sr = audio.read(tmp_path / "multi.flac")
    assert got_sr == sr and y.shape == (sr // 10, 8)
    np.testing.assert_allclose(y, x, atol=1 / 32768)
    meta = audio.info(tmp_path / "multi.flac")
    assert (meta.sample_rate, meta.channels, meta.frames) == (sr, 8, sr // 10)
    assert meta.duration_s == pytest.approx(0.1)


@pytest.mark.parametrize("name, subtype", [("a.wav", "PCM_16"), ("a.wav", "PCM_24"), ("a.wav", "PCM_32"),
                                           ("a.aiff", "PCM_16"), ("a.flac", "PCM_16"), ("a.flac", "PCM_24")])
def test_integer_pcm_reads_as_libsndfile_converts_it(tmp_path, rng, name, subtype):
    # float32 reads of integer PCM go through integer reads and a numpy scaling: libsndfile's values, bit for bit,
    # full scale included, whole and in blocks
    full = np.concatenate([rng.integers(-2**31, 2**31, (3000, 2)), [[-2**31, 2**31 - 1], [0, -1]]]).astype(np.int32)
    path = tmp_path / name
    sf.write(str(path), full, 44100, subtype=subtype)
    expected = sf.read(str(path), dtype="float32", always_2d=True)[0]
    y, _ = audio.read(path)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(np.concatenate(list(audio.iter_blocks(path, 1000))), expected)


def test_read_float64(tmp_path, rng):
    x = noise(rng, 100, 2)
    audio.write(tmp_path / "f.wav", x, 48000, subtype="FLOAT")
    y, _ = audio.read(tmp_path / "f.wav", dtype="float64")
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, x)


# --- resampling --------------------------------------------------------------------------------------------------

def test_resample_48k_to_24k_keeps_frequency_and_amplitude():
    x = np.stack([sine(1000, 48000, 48000), sine(1000, 48000, 48000, amp=0.25)], axis=1)
    y = audio.resample(x, 48000, 24000)
    assert y.shape == (24000, 2) and y.dtype == np.float32
    mid = y[2400:-2400]  # away from the filter's edge transients
    spectrum = np.abs(np.fft.rfft(mid[:, 0] * np.hanning(len(mid))))
    peak_hz = np.argmax(spectrum) * 24000 / len(mid)
    assert peak_hz == pytest.approx(1000, abs=2)
    assert np.max(np.abs(mid[:, 0])) == pytest.approx(0.5, rel=0.01)
    assert np.max(np.abs(mid[:, 1])) == pytest.approx(0.25, rel=0.01)


def test_resample_length_for_non_integer_ratio():
    x = sine(440, 44100, 44101)
    y = audio.resample(x, 44100, 48000)
    assert y.shape == (int(np.ceil(44101 * 160 / 147)),) and y.dtype == np.float32


def test_resample_same_rate_is_identity():
    x = sine(440, 48000, 100)
    assert audio.resample(x, 48000, 48000) is x


@pytest.mark.parametrize("rates", [(0, 48000), (48000, -1), (44100.5, 48000)])
def test_resample_rejects_bad_rates(rates):
    with pytest.raises(InputError):
        audio.resample(np.zeros(10, np.float32), *rates)


# --- block reading -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("frames, block", [(10007, 1024), (1024, 1024), (100, 4096), (5, 1)])
def test_blocks_concatenate_to_read(tmp_path, rng, frames, block):
    path = tmp_path / "long.flac"
    audio.write(path, noise(rng, frames, 2), 48000)
    whole, _ = audio.read(path)
    blocks = list(audio.iter_blocks(path, block))
    assert all(b.shape == (block, 2) and b.dtype == np.float32 for b in blocks[:-1])
    assert 0 < len(blocks[-1]) <= block
    np.testing.assert_array_equal(np.concatenate(blocks), whole)


def test_blocks_with_overlap(tmp_path, rng):
    path = tmp_path / "o.wav"
    audio.write(path, noise(rng, 1000, 1), 8000, subtype="FLOAT")
    whole, _ = audio.read(path)
    with audio.BlockReader(path, 256, overlap=64) as reader:
        assert (reader.sample_rate, reader.channels, reader.frames) == (8000, 1, 1000)
        blocks = list(reader)
        again = list(reader)  # iterating again starts over
    assert all(len(b) == 256 for b in blocks[:-1])
    for a, b in zip(blocks, blocks[1:]):
        np.testing.assert_array_equal(a[-64:], b[:64])
    np.testing.assert_array_equal(np.concatenate([blocks[0]] + [b[64:] for b in blocks[1:]]), whole)
    assert len(again) == len(blocks)


def test_blocks_overlap_survives_caller_mutating_blocks(tmp_path, rng):
    path = tmp_path / "o.wav"
    audio.write(path, noise(rng, 600, 1), 8000, subtype="FLOAT")
    whole, _ = audio.read(path)
    for i, block in enumerate(audio.iter_blocks(path, 200, overlap=50)):
        np.testing.assert_array_equal(block, whole[150 * i:150 * i + 200])
        block[:] = 0  # in-place processing must not leak into the next block


@pytest.mark.parametrize("block, overlap", [(0, 0), (100, 100), (100, -1)])
def test_block_reader_rejects_bad_sizes(tmp_path, rng, block, overlap):
    audio.write(tmp_path / "a.wav", noise(rng, 10, 1), 8000)
    with pytest.raises(InputError):
        audio.BlockReader(tmp_path / "a.wav", block, overlap)


# --- bad inputs --------------------------------------------------------------------------------------------------

def _missing(tmp_path):
    return tmp_path / "missing.wav"


def _directory(tmp_path):
    (tmp_path / "dir.wav").mkdir()
    return tmp_path / "dir.wav"


def _text(tmp_path):
    path = tmp_path / "x.wav"
    path.write_text("this is not audio at all, just some text\n" * 20)
    return path


def _empty(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    return path


def _zero_frames(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(str(path), np.zeros((0, 2), np.float32), 48000)
    return path


def _nan(tmp_path):
    path = tmp_path / "nan.wav"
    x = np.zeros((1000, 2), np.float32)
    x[500, 1] = np.nan
    sf.write(str(path), x, 48000, subtype="FLOAT")
    return path


def _inf(tmp_path):
    path = tmp_path / "inf.wav"
    x = np.zeros((5000, 1), np.float32)
    x[-1, 0] = np.inf
    sf.write(str(path), x, 48000, subtype="FLOAT")
    return path


BAD_INPUTS = {
    "missing": (_missing, "no such file"),
    "directory": (_directory, "is a directory"),
    "text": (_text, "not an audio file"),
    "empty": (_empty, "empty"),
    "zero_frames": (_zero_frames, "contains no audio frames"),
    "nan": (_nan, "contains NaN or Inf samples"),
    "inf": (_inf, "contains NaN or Inf samples"),
}
SAMPLE_FREE = {"nan", "inf"}  # only reading the samples finds these


def _read_via_blocks(path):
    return list(audio.iter_blocks(path, 1024))


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
@pytest.mark.parametrize("load", [audio.read, audio.info, _read_via_blocks], ids=["read", "info", "blocks"])
def test_bad_inputs_raise_audio_error_naming_path_and_reason(tmp_path, kind, load):
    make, reason = BAD_INPUTS[kind]
    path = make(tmp_path)
    if load is audio.info and kind in SAMPLE_FREE:
        assert audio.info(path).frames > 0
        return
    with pytest.raises(AudioError) as caught:
        load(path)
    assert caught.value.path == str(path)
    assert reason in caught.value.reason
    assert str(path) in str(caught.value)
    assert caught.value.exit_code == 2


def test_iter_blocks_raises_on_open_not_on_first_block(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        audio.iter_blocks(tmp_path / "missing.wav", 1024)


# --- writing -----------------------------------------------------------------------------------------------------

def _listing(directory):
    return sorted(os.listdir(directory))


def test_write_keeps_format_and_subtype_of_like(tmp_path, rng):
    src = tmp_path / "in.flac"
    sf.write(str(src), noise(rng, 1000, 2), 96000, subtype="PCM_24")
    x, sr = audio.read(src)
    audio.write(tmp_path / "out.flac", x, sr, like=src)
    out = audio.info(tmp_path / "out.flac")
    assert (out.format, out.subtype, out.sample_rate) == ("FLAC", "PCM_24", 96000)
    # An AudioInfo works too, and a target without an extension takes the format of `like`.
    audio.write(tmp_path / "out", x, sr, like=audio.info(src))
    assert (sf.info(str(tmp_path / "out")).format, sf.info(str(tmp_path / "out")).subtype) == ("FLAC", "PCM_24")


def test_write_explicit_format_and_extension_win_over_like(tmp_path, rng):
    src = tmp_path / "in.wav"
    sf.write(str(src), noise(rng, 100, 1), 48000, subtype="FLOAT")
    x, sr = audio.read(src)
    audio.write(tmp_path / "a.flac", x, sr, like=src)  # FLAC cannot hold FLOAT: its default subtype
    assert (audio.info(tmp_path / "a.flac").format, audio.info(tmp_path / "a.flac").subtype) == ("FLAC", "PCM_16")
    audio.write(tmp_path / "b.wav", x, sr, like=src, subtype="PCM_24")
    assert (audio.info(tmp_path / "b.wav").format, audio.info(tmp_path / "b.wav").subtype) == ("WAV", "PCM_24")
    audio.write(tmp_path / "c.wav", x, sr, like=src)
    assert audio.info(tmp_path / "c.wav").subtype == "FLOAT"


def test_write_unknown_extension_without_like_raises(tmp_path):
    with pytest.raises(AudioError, match="format"):
        audio.write(tmp_path / "out.xyz", np.zeros((10, 1), np.float32), 48000)
    with pytest.raises(AudioError, match="cannot hold"):
        audio.write(tmp_path / "out.flac", np.zeros((10, 1), np.float32), 48000, subtype="FLOAT")
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("subtype, atol", [("PCM_16", 1 / 32768), ("ULAW", 0.04)])
def test_write_clips_float_data_for_integer_subtypes(tmp_path, subtype, atol):
    x = np.array([[1.5], [-1.5], [0.5]], np.float32)  # libsndfile's u-law encoder wraps 1.5 to about 0.17
    audio.write(tmp_path / "c.wav", x, 8000, subtype=subtype)
    y, _ = audio.read(tmp_path / "c.wav")
    np.testing.assert_allclose(y[:, 0], [1.0, -1.0, 0.5], atol=atol)


def test_pcm16_writes_round_to_the_nearest_step_without_bias(tmp_path):
    """A ``PCM_16`` file stores ``to_pcm16`` of the float data: each sample within half a step (1/32767; and float32
    rounding) of its float value, -x stored as the negative of x, and no DC offset (libsndfile's own conversion,
    ``floor(x * 32768)`` in libsndfile 1.2, is half a step low on average)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.9, 0.9, (20000, 2)).astype(np.float32)
    x = np.concatenate([x, -x, [[1.0, -1.0], [1.5, -1.5], [0.0, 0.5 / 32767]]]).astype(np.float32)
    audio.write(tmp_path / "p.wav", x, 8000)
    stored, _ = audio.read(tmp_path / "p.wav", dtype="int16")
    np.testing.assert_array_equal(stored, audio.to_pcm16(x))
    error = stored[:-3] / 32767.0 - x[:-3]
    assert np.abs(error).max() <= 0.51 / 32767  # half a step, and float32 rounding of x * 32767
    np.testing.assert_array_equal(stored[:20000], -stored[20000:40000])
    assert abs(error.mean()) * 32767 < 0.02
    np.testing.assert_array_equal(stored[-3:], [[32767, -32767], [32767, -32767], [0, 0]])


def test_write_keeps_float_data_unclipped_for_float_subtype(tmp_path):
    x = np.array([[1.5], [-2.0], [0.5]], np.float32)
    audio.write(tmp_path / "f.wav", x, 8000, subtype="FLOAT")
    np.testing.assert_array_equal(audio.read(tmp_path / "f.wav")[0], x)


def test_write_refuses_non_finite_data(tmp_path):
    x = np.zeros((100, 2), np.float32)
    x[3, 1] = np.nan
    with pytest.raises(RuntimeFailure, match="NaN"):
        audio.write(tmp_path / "n.wav", x, 48000)
    assert _listing(tmp_path) == []


def test_failure_mid_write_leaves_nothing(tmp_path, rng, monkeypatch):
    real_write = sf.SoundFile.write

    def half_then_fail(self, data):
        real_write(self, data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(sf.SoundFile, "write", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        audio.write(tmp_path / "out.wav", noise(rng, 1000, 2), 48000)
    assert _listing(tmp_path) == []


def test_wrong_shape_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        audio.write(tmp_path / "out.wav", np.zeros((10, 2, 2), np.float32), 48000)
    with pytest.raises(ValueError), audio.AtomicAudioWriter(tmp_path / "out.wav", 48000, 2) as writer:
        writer.write(np.zeros((10, 2), np.float32))
        writer.write(np.zeros((10, 3), np.float32))
    assert _listing(tmp_path) == []


def test_atomic_writer_blocks_and_exception(tmp_path, rng):
    x = noise(rng, 3000, 2)
    with audio.AtomicAudioWriter(tmp_path / "out.wav", 48000, 2, subtype="FLOAT") as writer:
        for start in range(0, 3000, 1000):
            writer.write(x[start:start + 1000])
            assert not (tmp_path / "out.wav").exists()  # nothing at the target before the commit
    assert writer.frames_written == 3000
    np.testing.assert_array_equal(audio.read(tmp_path / "out.wav")[0], x)
    assert _listing(tmp_path) == ["out.wav"]

    with pytest.raises(KeyboardInterrupt), audio.AtomicAudioWriter(tmp_path / "new.wav", 48000, 2) as writer:
        writer.write(x)
        raise KeyboardInterrupt
    assert _listing(tmp_path) == ["out.wav"]


def test_written_file_gets_normal_permissions(tmp_path):
    audio.write(tmp_path / "p.wav", np.zeros((10, 1), np.float32), 8000)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "p.wav").st_mode & 0o777 == 0o666 & ~umask


def test_existing_output_needs_overwrite(tmp_path, rng):
    target = tmp_path / "out.wav"
    old = noise(rng, 100, 1)
    audio.write(target, old, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="already exists"):
        audio.write(target, noise(rng, 200, 1), 8000)
    np.testing.assert_array_equal(audio.read(target)[0], old)
    assert _listing(tmp_path) == ["out.wav"]
    new = noise(rng, 200, 1)
    audio.write(target, new, 8000, subtype="FLOAT", overwrite=True)
    np.testing.assert_array_equal(audio.read(target)[0], new)
    assert _listing(tmp_path) == ["out.wav"]


def test_writing_over_the_input_raises(tmp_path, rng):
    src = tmp_path / "in.wav"
    original = noise(rng, 100, 1)
    sf.write(str(src), original, 8000, subtype="FLOAT")
    os.link(src, tmp_path / "hardlink.wav")
    os.symlink(src, tmp_path / "symlink.wav")
    for target in (src, tmp_path / "hardlink.wav", tmp_path / "symlink.wav"):
        with pytest.raises(AudioError, match="input"):
            audio.write(target, np.zeros((100, 1), np.float32), 8000, like=src, overwrite=True)
        with pytest.raises(AudioError, match="input"):
            audio.write(src, np.zeros((100, 1), np.float32), 8000, like=audio.info(target), overwrite=True)
    np.testing.assert_array_equal(audio.read(src)[0], original)


def test_missing_directory_raises(tmp_path):
    with pytest.raises(AudioError, match="directory does not exist"):
        audio.write(tmp_path / "nope" / "out.wav", np.zeros((10, 1), np.float32), 8000)
    assert _listing(tmp_path) == []


def test_bad_like_raises_for_like(tmp_path):
    with pytest.raises(AudioError) as caught:
        audio.write(tmp_path / "out.wav", np.zeros((10, 1), np.float32), 8000, like=tmp_path / "gone.wav")
    assert caught.value.path == str(tmp_path / "gone.wav")
