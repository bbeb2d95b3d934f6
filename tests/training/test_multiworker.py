"""``train --strategy multiworker`` on a two-worker cluster on localhost (``TF_CONFIG``), as on a real cluster: two
processes of the real CLI on a tiny set (one training and one validation step); only the chief writes the run."""

import csv
import json
import re
import socket
import subprocess
import sys

import numpy as np
import pytest

from aebox_edge.data.dataset import DataConfig, synth_dataset
from support import REPO_ROOT, env

keras = pytest.importorskip("keras")
import aebox_edge.training.train  # noqa: E402,F401  (registers the enhancer's layers for loading last.keras)


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def test_two_workers_on_localhost_train_one_step(tmp_path):
    data = str(tmp_path / "data")
    synth_dataset(data, 4, DataConfig(seed=3, clip_seconds=1.0), workers=1)  # 2 clips: 2 train, 2 validate
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    outs = [tmp_path / "chief", tmp_path / "worker1"]  # the second worker is given its own --out, to see it untouched
    procs = []
    for index, out in enumerate(outs):
        worker_env = env()
        worker_env.update(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
                          OPENBLAS_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "aebox_edge", "train", "--strategy", "multiworker", "--config", "edge",
             "--grad", "autodiff", "--epochs", "1", "--batch-size", "2", "--val-fraction", "0.5", "--data", data,
             "--out", str(out)],
            cwd=REPO_ROOT, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=600)[0])  # a guard against a hung collective, not a bound
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for index, (proc, output) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, f"worker {index} exited {proc.returncode}:\n{output[-4000:]}"

    chief, other = outs
    assert not other.exists()  # the non-chief wrote nothing
    for name in ("config.json", "model.keras", "log.csv", "checkpoints/last.keras", "checkpoints/best.keras",
                 "checkpoints/state.json"):
        assert (chief / name).is_file(), name
    with open(chief / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["epoch"] for row in rows] == ["0"]
    loss, val_loss = float(rows[0]["loss"]), float(rows[0]["val_loss"])
    assert np.isfinite(loss) and np.isfinite(val_loss)
    # both workers report the chief's logged loss: the epoch's metrics are reduced over the cluster, not per worker
    for output in outputs:
        reported = re.findall(r"val_loss: ([-+.e0-9]+)", output)
        assert reported and float(reported[-1]) == pytest.approx(val_loss, rel=1e-3), output[-2000:]

    assert keras.models.load_model(chief / "model.keras").count_params() > 0
    enhancer = keras.models.load_model(chief / "checkpoints" / "last.keras")
    assert int(enhancer.optimizer.iterations.numpy()) == 1  # one global batch of 2, one example per worker
