"""aebox_edge.io.atomic and .native: the one atomic-write rule, hashing, native stderr capture."""

import hashlib
import json
import os

import numpy as np
import pytest

from aebox_edge.errors import InputError
from aebox_edge.io.atomic import atomic_path, atomic_write, sha256_file, write_json, write_npz
from aebox_edge.io.native import native_stderr


def test_writes_land_whole_with_umask_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    atomic_write(tmp_path / "a.bin", b"abc")
    write_json(tmp_path / "a.json", {"b": 1, "a": [2]}, sort_keys=True)
    assert (tmp_path / "a.bin").read_bytes() == b"abc"
    assert (tmp_path / "a.json").read_text() == json.dumps({"a": [2], "b": 1}, indent=2) + "\n"
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(os.listdir(tmp_path)) == ["a.bin", "a.json"]


def test_a_failed_write_leaves_the_target_and_no_temporary(tmp_path):
    target = tmp_path / "keep.json"
    target.write_text("old")
    with pytest.raises(TypeError):
        write_json(target, {"not json": object()})
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["keep.json"]


def test_overwrite_refusal_at_the_rename(tmp_path):
    target = tmp_path / "x.bin"
    with pytest.raises(InputError, match="already exists"):
        with atomic_path(target, overwrite=False) as tmp:
            open(tmp, "wb").close()
            target.write_bytes(b"appeared meanwhile")
    assert target.read_bytes() == b"appeared meanwhile" and os.listdir(tmp_path) == ["x.bin"]


def test_npz_is_reproducible_and_hashed(tmp_path):
    arrays = {"a": np.arange(5, dtype=np.float32), "b": np.array(["x", "yz"])}
    first = write_npz(tmp_path / "1.npz", arrays)
    assert write_npz(tmp_path / "2.npz", arrays) == first
    assert first == hashlib.sha256((tmp_path / "1.npz").read_bytes()).hexdigest() == sha256_file(tmp_path / "1.npz")
    with np.load(tmp_path / "1.npz") as data:
        np.testing.assert_array_equal(data["a"], arrays["a"])


def test_native_stderr_is_captured():
    with native_stderr() as lines:
        os.write(2, b"INFO: from native code\n")
    assert lines == ["INFO: from native code"]
