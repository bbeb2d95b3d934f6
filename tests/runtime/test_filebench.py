"""``aebox-edge bench --file SONG --reference REF``: whole-file stages, and `run` beside Matchering in one run. It
measures; it never fails on time."""

import json

import pytest
from click.testing import CliRunner

from aebox_edge.cli import main
from aebox_edge.runtime.filebench import FILE_STAGES, format_file_report, run_file_bench, stage_times
from support import music, write_audio


@pytest.fixture
def song(tmp_path):
    return (write_audio(tmp_path / "song.wav", music(12.0, 44100, 2), 44100, "PCM_16"),
            write_audio(tmp_path / "ref.wav", music(6.0, 44100, 2, seed=1), 44100, "PCM_16"))


def test_file_bench_reports_stages_run_and_matchering(model, song):
    pytest.importorskip("matchering")
    r = run_file_bench(str(song[0]), str(song[1]), model_path=str(model), pairs=1)
    assert tuple(r["stages_s"]) == FILE_STAGES and all(v > 0 for v in r["stages_s"].values())
    assert r["stages_x_realtime"] == pytest.approx(12.0 / sum(r["stages_s"].values()), rel=0.05)
    for name in ("run", "run_2_threads", "matchering"):
        m = r[name]
        assert m["wall_s"] > 0 and m["cpu_s"] > 0 and len(m["walls_s"]) == 1
        assert 10 < m["peak_rss_mb"] < 4096  # the child's own peak, not the benchmark's image
    assert r["ratio_to_matchering"] == pytest.approx(r["run"]["wall_s"] / r["matchering"]["wall_s"], rel=1e-2)
    assert r["unstaged_s"] == pytest.approx(r["run"]["wall_s"] - sum(r["stages_s"].values()), abs=2e-3)
    text = "\n".join(format_file_report(r))
    assert "run / Matchering wall" in text and all(stage in text for stage in FILE_STAGES)


def test_stages_of_a_compressed_song(enhancer, song, tmp_path):
    """A FLAC song: every stage is timed, its decoding once and the spool (as ``run`` does it)."""
    from aebox_edge.io import audio

    flac = write_audio(tmp_path / "song.flac", audio.read(song[0])[0], 44100, "PCM_16")
    times = stage_times(enhancer, str(flac), str(song[1]), str(tmp_path))
    assert tuple(times) == FILE_STAGES and all(v > 0 for v in times.values())


def test_cli_bench_file_writes_json(model, song, tmp_path):
    out = tmp_path / "b.json"
    result = CliRunner().invoke(main, ["bench", "--model", str(model), "--file", str(song[0]), "--reference",
                                       str(song[1]), "--pairs", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "x real time" in result.output and json.loads(out.read_text())["stages_s"].keys() == set(FILE_STAGES)


def test_cli_bench_file_needs_a_reference(model, song):
    result = CliRunner().invoke(main, ["bench", "--model", str(model), "--file", str(song[0])])
    assert result.exit_code == 2 and "--reference" in result.output
