"""``aebox-edge eval --excerpts``: every row and JSON field on two tiny synthetic excerpt items, Corrupt equal to the
metrics of the input, the model rows equal to what ``run``'s own code gives, bad paths as one error line with no
heavy import, and the Matchering row without Matchering."""

import json
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from aebox_edge.io import audio
from aebox_edge.cli import main
from aebox_edge.evaluation.realmusic import format_table, summarize_row
from aebox_edge.evaluation.metrics import METRICS
from aebox_edge.evaluation.metrics import evaluate as clip_metrics
from support import excerpts_dir, run_subprocess

ROW_KEYS = ["corrupt", "loudness", "baseline", "matchering", "int8", "float", "ceiling"]
RATE = 44100


@pytest.fixture(scope="module")
def float_model(tmp_path_factory):
    """The test analyser exported as float32 (``--quantize none``), as ``--model-float`` takes it."""
    from support import exported_model

    from export.convert import export_tflite

    path = tmp_path_factory.mktemp("float_model") / "edge_float32.tflite"
    export_tflite(str(exported_model(tmp_path_factory)["keras"]), str(path), quantize="none", verify_clips=1,
                  timing_runs=1)
    return path


# Runs the CLI in a fresh interpreter and reports its exit codes and which heavy modules it imported.
_SCRIPT = """
import json, sys
from aebox_edge.cli import main
codes = [main.main(args, prog_name="aebox-edge", standalone_mode=False) or 0 for args in {args!r}]
print(json.dumps({{"codes": codes, "heavy": sorted(m for m in ("tensorflow", "scipy", "ai_edge_litert", "matchering")
                                                   if m in sys.modules)}}))
"""


def _run(args_list):
    proc = run_subprocess(["-c", _SCRIPT.format(args=args_list)])
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(proc.stdout.splitlines()[-1])


def test_every_row_and_field_through_run(tmp_path, model, float_model, enhancer):
    data = excerpts_dir(tmp_path / "excerpts")
    out, figures = tmp_path / "eval.json", tmp_path / "figures"
    proc, report = _run([["eval", "--excerpts", str(data), "--model", str(model), "--model-float", str(float_model),
                          "--ceiling", "--ceiling-evals", "30", "--json", str(out), "--figures", str(figures),
                          "--figure-count", "1"]])
    assert report["codes"] == [0], proc.stderr
    assert "tensorflow" not in report["heavy"]
    result = json.loads(out.read_text())
    assert result["format"] == "aebox-edge-realmusic-eval"
    assert [i["id"] for i in result["items"]] == ["0000", "0001"]
    assert all(i["sample_rate"] == RATE and i["channels"] == 2 and i["seconds"] == 3.0 for i in result["items"])
    assert set(result["models"]) == {"int8", "float"}
    assert result["models"]["float"]["quantization"] == "none"
    assert list(result["rows"]) == ROW_KEYS
    for key, row in result["rows"].items():
        assert row["status"] == "ok", (key, row["note"])
        assert row["label"] in proc.stdout and row["label"] in result["table"]
        assert [v["id"] for v in row["per_item"]] == ["0000", "0001"]
        for field in ("mean", "median", "std", "change_pct", "beats_corrupt"):
            assert set(row[field]) == set(METRICS), (key, field)
        assert all(0 <= row["beats_corrupt"][m] <= 2 for m in METRICS)
        assert row["n"] == 2 and row["seconds_per_item"] >= 0
    assert "aebox-edge run (int8)" in proc.stdout and "aebox-edge run (float32)" in proc.stdout
    assert all(v == 0 for v in result["rows"]["corrupt"]["beats_corrupt"].values())

    for entry, scored in zip(result["items"], result["rows"]["corrupt"]["per_item"]):
        x, _ = audio.read(data / f"{entry['id']}_input.wav")
        y, _ = audio.read(data / f"{entry['id']}_target.wav")
        assert {m: scored[m] for m in METRICS} == clip_metrics(x, y, RATE)
    for row in result["rows"].values():
        mean = {m: float(np.mean([v[m] for v in row["per_item"]])) for m in METRICS}
        assert mean == pytest.approx(row["mean"], rel=1e-12)

    # the int8 row is what `aebox-edge run` writes, scored: same code, same default options
    from aebox_edge.runtime import enhance_file

    enhance_file(enhancer, str(data / "0000_input.wav"), str(data / "0000_reference.wav"), str(tmp_path / "run.wav"))
    ran, _ = audio.read(tmp_path / "run.wav")
    target, _ = audio.read(data / "0000_target.wav")
    int8 = result["rows"]["int8"]["per_item"][0]
    assert {m: int8[m] for m in METRICS} == pytest.approx(clip_metrics(ran, target, RATE), rel=1e-9)
    assert len(int8["times_s"]) >= 1 and len(int8["params"]["comp_ratio"]) == len(int8["times_s"])
    ceiling = result["rows"]["ceiling"]["per_item"][0]
    assert 1 <= ceiling["evals"] <= 30 + 25 and ceiling["objective_end"] <= ceiling["objective_start"]

    assert sorted(p.name for p in figures.iterdir()) == ["0000_params_float.png", "0000_params_int8.png",
                                                         "0000_spectrograms.png"]
    assert sorted(result["figures"]) == sorted(str(p) for p in figures.iterdir())


def test_bad_paths_exit_2_with_one_line_and_no_heavy_import(tmp_path, model):
    good = excerpts_dir(tmp_path / "good", count=1, seconds=1.0)
    no_manifest = tmp_path / "no_manifest"
    no_manifest.mkdir()
    bad_format = tmp_path / "bad_format"
    bad_format.mkdir()
    (bad_format / "excerpts.json").write_text(json.dumps({"format": "something-else", "items": []}))
    missing_file = excerpts_dir(tmp_path / "missing_file", count=1, seconds=1.0)
    (missing_file / "0000_target.wav").unlink()
    cases = [
        (["--excerpts", str(tmp_path / "nowhere"), "--model", str(model)], tmp_path / "nowhere"),
        (["--excerpts", str(no_manifest), "--model", str(model)], no_manifest / "excerpts.json"),
        (["--excerpts", str(bad_format), "--model", str(model)], bad_format / "excerpts.json"),
        (["--excerpts", str(missing_file), "--model", str(model)], missing_file / "0000_target.wav"),
        (["--excerpts", str(good), "--model", str(tmp_path / "none.tflite")], tmp_path / "none.tflite"),
        (["--excerpts", str(good), "--model", str(model), "--model-float", str(tmp_path / "f.tflite")],
         tmp_path / "f.tflite"),
        (["--excerpts", str(good), "--model", str(model), "--json", str(tmp_path / "no" / "out.json")],
         tmp_path / "no" / "out.json"),
    ]
    proc, report = _run([["eval", *args] for args, _ in cases])
    assert report["codes"] == [2] * len(cases)
    assert report["heavy"] == []
    assert proc.stdout.splitlines()[:-1] == []
    lines = proc.stderr.splitlines()
    assert len(lines) == len(cases), proc.stderr
    for line, (_, path) in zip(lines, cases):
        assert line.startswith("aebox-edge: error:") and str(path) in line


def test_without_matchering_the_row_says_not_installed(tmp_path, model, monkeypatch):
    data = excerpts_dir(tmp_path / "excerpts", count=1)
    monkeypatch.setitem(sys.modules, "matchering", None)  # `import matchering` raises ImportError
    out = tmp_path / "eval.json"
    result = CliRunner().invoke(main, ["eval", "--excerpts", str(data), "--model", str(model), "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["rows"]
    assert list(rows) == ["corrupt", "loudness", "baseline", "matchering", "int8"]
    assert rows["matchering"]["status"] == "unavailable" and "not installed" in rows["matchering"]["note"]
    assert rows["matchering"]["per_item"] == []
    line = next(line for line in result.stdout.splitlines() if line.startswith("| Matchering"))
    assert "not installed" in line
    assert "--quantize none" in result.stdout  # the float row is left out with a note on how to export one


def test_summary_counts_items_below_corrupt_and_the_table_shows_them():
    corrupt = [{"id": str(k), "msd": 2.0, "sce": 100.0, "rms": 4.0, "lufs": 1.0, "seconds": 0.0} for k in range(3)]
    row = [{"id": "0", "msd": 1.0, "sce": 100.0, "rms": 1.0, "lufs": 3.0, "seconds": 1.0},
           {"id": "1", "msd": 3.0, "sce": 50.0, "rms": 1.0, "lufs": 0.5, "seconds": 2.0},
           {"id": "2", "msd": 1.0, "sce": 150.0, "rms": 7.0, "lufs": 0.5, "seconds": 3.0}]
    summary = summarize_row(row, corrupt)
    assert summary["beats_corrupt"] == {"msd": 2, "sce": 1, "rms": 2, "lufs": 2}
    assert summary["median"] == {"msd": 1.0, "sce": 100.0, "rms": 1.0, "lufs": 0.5}
    assert summary["change_pct"]["msd"] == pytest.approx(100 * (5 / 3 - 2) / 2)
    assert summary["seconds_per_item"] == 2.0
    rows = {"corrupt": {"label": "Corrupt", "status": "ok", **summarize_row(corrupt, corrupt)},
            "x": {"label": "X", "status": "ok", **summary},
            "peer": {"label": "Peer", "status": "unavailable", "note": "not installed"}}
    table = format_table(rows, ["a note"]).splitlines()
    assert table[2].startswith("| Corrupt | 3 | 2.00 / 2.00 | 100.0 / 100.0 |")
    assert table[3].startswith("| X | 3 | 1.67 / 1.00 (-17 %, 2/3) | 100.0 / 100.0 (0 %, 1/3) |")
    assert table[4].startswith("| Peer | 0 | not installed |")
    assert table[-1] == "Note: a note"
