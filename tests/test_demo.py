import json
import os

import pytest

from aebox_edge.demo import run_demo
from aebox_edge.errors import InputError


def test_demo_enhances_with_the_shipped_model(tmp_path):
    out = str(tmp_path / "demo")
    lines = []
    result = run_demo(out, seed=3, echo=lines.append)
    for name in ("live_recording.wav", "studio_reference.wav", "enhanced.wav", "spectrograms.png", "demo.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0, name
    assert result["bench"]["stages"]["end-to-end"]["p95"] > 0
    assert any(line.startswith("result: ") for line in lines)
    with open(os.path.join(out, "demo.json")) as fh:
        assert set(json.load(fh)["metrics"]) == {"Corrupt (recording vs studio)", "Enhanced vs studio"}
    with pytest.raises(InputError, match="--force"):
        run_demo(out, seed=3, echo=lines.append)
