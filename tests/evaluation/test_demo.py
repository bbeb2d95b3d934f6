import json
import os
import re
import subprocess
import sys
from importlib import metadata

import pytest

from aebox_edge.data.dataset import DataConfig, synth_clip
from aebox_edge.evaluation.demo import run_demo
from aebox_edge.errors import InputError
from aebox_edge.evaluation.metrics import evaluate


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


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names):
    """The distributions ``names`` need, transitively, without extras (as installed here)."""
    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_requirement_name(r) for r in requirements if "extra ==" not in r]
    return seen


_BLOCKING_RUNNER = """
import importlib.abc, json, sys
blocked = set(json.loads(sys.argv[1]))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the demo install)", name=name)

sys.meta_path.insert(0, Block())
from aebox_edge.evaluation.demo import run_demo
result = run_demo(sys.argv[2], clips=2, echo=lambda line: None)
assert result["figure"] and result["mean_metrics"]["Enhanced vs studio"]["lufs"] >= 0
"""


def test_demo_needs_only_the_runtime_and_the_demo_extra(tmp_path):
    """``make demo`` installs ``.[demo]`` alone (pyloudnorm was once missing there and only the dev venv hid it):
    the demo runs with every module of the other installed distributions (TensorFlow, the dev extras...) blocked."""
    own = metadata.requires("aebox-edge")
    allowed = _closure({_requirement_name(r) for r in own if "extra ==" not in r or 'extra == "demo"' in r})
    allowed.add("aebox-edge")
    blocked = sorted(module for module, dists in metadata.packages_distributions().items()
                     if not {d.lower().replace("_", "-") for d in dists} & allowed)
    assert {"tensorflow", "pedalboard", "librosa"} <= set(blocked)
    subprocess.run([sys.executable, "-c", _BLOCKING_RUNNER, json.dumps(blocked), str(tmp_path / "demo")], check=True)
