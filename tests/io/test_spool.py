"""io.spool: raw frames through a temporary file, which formats count as compressed, a refused write, and
``aebox-edge run`` decoding a compressed input once (the render pass reads the spool)."""

import errno

import numpy as np
import pytest

from aebox_edge.errors import RuntimeFailure
from aebox_edge.io import audio
from aebox_edge.io.spool import Spool, is_compressed
from support import music, write_audio


def test_frames_come_back_in_order_in_any_block_size(rng):
    parts = [rng.standard_normal((int(n), 3)).astype(np.float32) for n in rng.integers(0, 500, 20)]
    whole = np.concatenate(parts)
    with Spool(3) as spool:
        written = np.concatenate(list(spool.tee(iter(parts))))
        assert spool.frames == len(whole)
        for size in (1, 7, 256, 10_000):
            blocks = list(spool.blocks(size))
            assert all(len(b) == size for b in blocks[:-1]) and 0 < len(blocks[-1]) <= size
            np.testing.assert_array_equal(np.concatenate(blocks), whole)
    np.testing.assert_array_equal(written, whole)


def test_blocks_are_new_arrays(rng):
    """A consumer may keep (or scale in place) the blocks it gets: they do not share a buffer."""
    with Spool(1) as spool:
        spool.write(rng.standard_normal((100, 1)))
        a, b = list(spool.blocks(50))
        a *= 0
        assert np.all(b != 0) and not np.shares_memory(a, b)


def test_a_refused_write_is_a_runtime_failure(monkeypatch):
    with Spool(2) as spool:
        def full(_):
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(spool, "_file", type("F", (), {"write": staticmethod(full), "close": lambda self: None})())
        with pytest.raises(RuntimeFailure, match="No space left on device"):
            spool.write(np.zeros((4, 2)))


@pytest.mark.parametrize("format,subtype,compressed", [
    ("WAV", "PCM_16", False), ("WAV", "FLOAT", False), ("AIFF", "PCM_24", False), ("WAV", "IMA_ADPCM", True),
    ("FLAC", "PCM_16", True), ("OGG", "VORBIS", True), ("OGG", "OPUS", True), ("MP3", "MPEG_LAYER_III", True)])
def test_which_formats_are_compressed(format, subtype, compressed):
    assert is_compressed(format, subtype) is compressed


def test_run_decodes_a_compressed_input_once(enhancer, tmp_path, monkeypatch):
    """The same audio as FLAC and as WAV gives the same output; the FLAC is decoded once, the WAV twice."""
    from aebox_edge.runtime.enhance import enhance_file

    flac = write_audio(tmp_path / "in.flac", music(3.0, 44100, 2), 44100, "PCM_16")
    wav = write_audio(tmp_path / "in.wav", audio.read(flac)[0], 44100, "PCM_16")  # the same 16-bit samples
    ref = write_audio(tmp_path / "ref.wav", music(4.0, 44100, 2, seed=1), 44100, "PCM_16")
    opened = []
    real = audio.iter_blocks

    def counting(path, *args, **kwargs):
        opened.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(audio, "iter_blocks", counting)
    outputs = {}
    for path in (flac, wav):
        out = tmp_path / f"out_{path.suffix[1:]}.wav"
        enhance_file(enhancer, str(path), str(ref), str(out))
        outputs[path.suffix] = audio.read(out)[0]
    assert opened.count(str(flac)) == 1 and opened.count(str(wav)) == 2
    np.testing.assert_array_equal(outputs[".flac"], outputs[".wav"])
