"""``data build --corpus``: song split, excerpts, determinism and the clean = original choice, on a tiny fake corpus
of synthesized songs (tests/corpus_fixtures.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aebox_edge.io.audio import resample
from aebox_edge.cli import main
from aebox_edge.data.corpus_build import CorpusOptions, allocate_patches, build_corpus_dataset, split_songs
from aebox_edge.data.dataset import DataConfig, open_dataset
from aebox_edge.errors import InputError

from corpus_fixtures import make_corpus

pytest.importorskip("pedalboard")

OPTIONS = CorpusOptions(patches_per_song=2, excerpts=3, excerpt_seconds=2.0)


def _files(root):
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = open(path, "rb").read()
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("corpus")
    corpus = base / "corpus"
    corpus.mkdir()
    manifest = make_corpus(str(corpus), seconds=12.0)
    out = base / "out"
    summary = build_corpus_dataset(str(out), str(corpus), DataConfig(seed=3, shard_size=4), OPTIONS, workers=1)
    return corpus, manifest, out, summary


def test_split_by_song_and_readable_datasets(built):
    corpus, manifest, out, summary = built
    songs = {}
    for split in ("train", "val"):
        reader = open_dataset(str(out / split))
        m = reader.manifest
        assert m["split"] == split and m["clean"].startswith("original")
        assert len(reader) == m["counts"]["examples"] == summary["splits"][split]["examples"] > 0
        ex = reader[0]
        assert ex["input"].shape == ex["target"].shape == (m["window_samples"],)
        assert np.isfinite(ex["input"]).all() and np.max(np.abs(ex["input"])) <= 1.0
        songs[split] = {s["song"] for s in m["sources"]["songs"]}
        index = np.concatenate([reader.shard(k)["song"] for k in range(len(m["shards"]))])
        assert set(index) == set(range(len(m["sources"]["songs"])))
        lines = [json.loads(line) for line in open(out / split / "clips.jsonl")]
        assert len(lines) == m["counts"]["clips"] and {line["song"] for line in lines} == songs[split]
        assert all("phone" in line and "gain" in line["phone"] for line in lines)
    expected = {s: {e["song"] for e in manifest["entries"] if e["kind"] == "music" and e["split"] == s}
                for s in ("train", "val")}
    assert songs == expected and not songs["train"] & songs["val"]


def test_clean_is_the_original_song(built):
    corpus, manifest, out, _ = built
    reader = open_dataset(str(out / "train"))
    m = reader.manifest
    lines = [json.loads(line) for line in open(out / "train" / "clips.jsonl")]
    config = DataConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in m["config"].items()})
    checked = 0
    for i in range(len(reader)):
        ex = reader[i]
        if ex["swapped"]:
            continue
        line = lines[int(ex["clip"])]
        x, sr = sf.read(os.path.join(corpus, line["path"]), dtype="float64")
        mono = resample(x.mean(axis=1), sr, config.sample_rate)
        start = int(round((line["offset_s"] + config.pre_roll_s) * config.sample_rate))
        song = mono[start:start + config.window_samples]
        assert np.corrcoef(song, ex["target"])[0, 1] > 0.999  # same audio up to a gain: no venue on the clean side
        checked += 1
    assert checked >= 3


def test_excerpts_line_up_with_their_index(built):
    corpus, manifest, out, summary = built
    index = json.load(open(out / "excerpts" / "excerpts.json"))
    assert index["format"] == "aebox-edge-excerpts" and index["version"] == 1
    items = index["items"]
    assert len(items) == summary["excerpts"] == 3  # two val songs of 12 s: one has room for a second excerpt
    val_songs = {e["song"]: e for e in manifest["entries"] if e["kind"] == "music" and e["split"] == "val"}
    wavs = sorted(n for n in os.listdir(out / "excerpts") if n.endswith(".wav"))
    assert wavs == sorted(item[k] for item in items for k in ("input", "reference", "target"))
    for item in items:
        entry = val_songs[item["song"]]
        assert item["package"] == entry["package"] and item["licence"] == entry["licence"]
        x, sr = sf.read(os.path.join(corpus, entry["path"]), dtype="float32", always_2d=True)
        n = int(round(item["seconds"] * item["sample_rate"]))
        for k in ("input", "reference", "target"):
            info = sf.info(os.path.join(out / "excerpts", item[k]))
            assert (info.samplerate, info.channels, info.frames, info.subtype) == \
                (item["sample_rate"], item["channels"], n, "FLOAT") == (sr, x.shape[1], n, "FLOAT")
        target, _ = sf.read(os.path.join(out / "excerpts", item["target"]), dtype="float32", always_2d=True)
        reference, _ = sf.read(os.path.join(out / "excerpts", item["reference"]), dtype="float32", always_2d=True)
        a, b = (int(round(item["offsets_s"][k] * sr)) for k in ("target", "reference"))
        assert np.array_equal(target, x[a:a + n]) and np.array_equal(reference, x[b:b + n])
        assert abs(a - b) >= n  # the reference is another part of the song
        dirty, _ = sf.read(os.path.join(out / "excerpts", item["input"]), dtype="float32", always_2d=True)
        assert np.isfinite(dirty).all() and not np.allclose(dirty, target)
        assert "phone" in item["degradation"] and "style" in item["degradation"]
    ids = [item["id"] for item in items]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_excerpt_split_train_gives_a_tuning_set_of_training_songs(built, tmp_path):
    """``--excerpt-split train``: excerpts of train songs only (choices made on them leave the val ones unseen)."""
    corpus, manifest, _, _ = built
    options = CorpusOptions(patches_per_song=1, excerpts=2, excerpt_seconds=2.0, excerpt_split="train")
    build_corpus_dataset(str(tmp_path / "dev"), str(corpus), DataConfig(seed=3, shard_size=4), options, workers=1)
    items = json.load(open(tmp_path / "dev" / "excerpts" / "excerpts.json"))["items"]
    train = {e["song"] for e in manifest["entries"] if e["kind"] == "music" and e["split"] == "train"}
    assert items and {item["song"] for item in items} <= train
    with pytest.raises(InputError, match="excerpt-split"):
        CorpusOptions(excerpt_split="test")


def test_same_seed_same_bytes_for_any_worker_count(built, tmp_path):
    corpus, _, out, _ = built
    again = tmp_path / "again"
    build_corpus_dataset(str(again), str(corpus), DataConfig(seed=3, shard_size=4), OPTIONS, workers=2)
    first, second = _files(out), _files(again)
    assert sorted(first) == sorted(second)
    # libsndfile stamps the time into a float WAV's PEAK chunk: compare the excerpts' samples, all else by bytes
    wavs = [k for k in first if k.endswith(".wav")]
    assert len(wavs) == 9
    for k in wavs:
        assert np.array_equal(sf.read(out / k)[0], sf.read(again / k)[0]), k
    differ = [k for k in first if first[k] != second[k] and k not in wavs]
    assert not differ
    other = tmp_path / "other"
    build_corpus_dataset(str(other), str(corpus), DataConfig(seed=4, shard_size=4), OPTIONS, workers=1)
    assert _files(other)["train/shard-00000.npz"] != first["train/shard-00000.npz"]


def test_song_in_both_splits_is_refused():
    entries = [{"kind": "music", "split": "train", "song": "p/a", "path": "a.ogg"},
               {"kind": "music", "split": "val", "song": "p/a", "path": "b.ogg"}]
    with pytest.raises(InputError, match="both splits"):
        split_songs(entries)


def test_allocation_follows_length_and_total():
    counts = allocate_patches([30.0, 60.0, 600.0, 3.0], 50, 4, 5.5)
    assert sum(counts) == 50
    assert counts[3] <= 1 and counts[0] <= 5 and counts[2] > counts[1] > 0  # length-capped weights
    assert allocate_patches([30.0, 60.0, 3.0], None, 4, 5.5) == [4, 4, 1]


def test_cli_build_corpus_and_refusals(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    make_corpus(str(corpus), seconds=7.0, train=(("pkg-a", 1),), val=(("pkg-v", 1),), with_assets=False)
    out = tmp_path / "out"
    runner = CliRunner()
    args = ["data", "build", "--corpus", str(corpus), "--out", str(out), "--workers", "1", "--excerpts", "1",
            "--excerpt-seconds", "2", "--train-examples", "2", "--val-examples", "2"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "train: 2 examples" in result.output and "excerpts: 1" in result.output
    assert len(open_dataset(str(out / "train"))) == 2 and len(open_dataset(str(out / "val"))) == 2
    again = runner.invoke(main, args)
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(main, args + ["--force"]).exit_code == 0
    both = runner.invoke(main, ["data", "build", "--corpus", str(corpus), "--music", str(corpus), "--out",
                                str(tmp_path / "x")])
    assert both.exit_code == 2 and "exactly one" in both.output
    irs = runner.invoke(main, ["data", "build", "--corpus", str(corpus), "--irs", str(corpus), "--out",
                               str(tmp_path / "y")])
    assert irs.exit_code == 2 and "--irs" in irs.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text("{}")
    r = runner.invoke(main, ["data", "build", "--corpus", str(bad), "--out", str(tmp_path / "z")])
    assert r.exit_code == 2 and "aebox-edge-corpus" in r.output
