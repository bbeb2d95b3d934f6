import json
import os

import pytest

from aebox_edge.data.dataset import DataConfig, synth_clip
from aebox_edge.demo import run_demo
from aebox_edge.errors import InputError
from aebox_edge.metrics import evaluate


def test_demo_enhances_with_the_shipped_model(tmp_path):
    out = str(tmp_path / "demo")
    lines = []
    result = run_demo(out, seed=3, clips=2, echo=lines.append)
    for name in ("live_recording.wav", "studio_reference.wav", "enhanced.wav", "spectrograms.png", "demo.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    assert result["bench"]["stages"]["end-to-end"]["p95"] > 0
    assert any(line.startswith("result: ") for line in lines)
    with open(os.path.join(out, "demo.json")) as fh:
        assert set(json.load(fh)["metrics"]) == {"Corrupt (recording vs studio)", "Enhanced vs studio"}
    other = synth_clip(DataConfig(seed=4, clip_seconds=10.0), 0)
    corrupt = result["metrics"]["Corrupt (recording vs studio)"]["msd"]
    expected = (corrupt + evaluate(other.dirty, other.clean, 24000)["msd"]) / 2
    assert result["mean_metrics"]["Corrupt (recording vs studio)"]["msd"] == pytest.approx(expected)
    assert result["mean_metrics"]["Enhanced vs studio"] != result["metrics"]["Enhanced vs studio"]
    assert any(line.startswith("mean over 2 generated recordings") for line in lines)
    with pytest.raises(InputError, match="--force"):
        run_demo(out, seed=3, echo=lines.append)
