"""``aebox-edge data fetch`` offline: tiny fake ``.deb`` packages (and a fake wheel) built in the test stand in for
``apt-get download``; checks the manifest, licences, resume, loop trimming/skipping, duplicates, stem mixing, split
assignment and the atomic manifest write."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aebox_edge.cli import main
from aebox_edge.data import fetch
from aebox_edge.errors import InputError

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")

RATE = 16000
TRAIN, VAL, IR, CROWD, WHEEL = "supertux-data", "fretsonfire-songs-sectoid", "jconvolver-config-files", \
    "etw-data", "pyo"
IR2 = "csoundqt-examples"

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: data/music/*
Copyright: 2020 A Musician
License: CC-BY-SA-4.0

Files: debian/*
Copyright: 2021 A Packager
License: MIT
"""


def notes(seconds: float, seed: int) -> np.ndarray:
    """Non-repeating music: random tones, 0.25 s each, stereo float32."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 4)
    t = np.arange(RATE // 4) / RATE
    x = np.concatenate([rng.uniform(0.1, 0.5) * np.sin(2 * np.pi * rng.uniform(100, 3000) * t) for _ in range(n)])
    x = x + 0.01 * rng.standard_normal(len(x))
    return np.stack([x, np.roll(x, 3)], axis=1).astype(np.float32)


def write(path: Path, x: np.ndarray, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, RATE, **kwargs)


def build_deb(tmp: Path, name: str, files: dict[str, np.ndarray | bytes], copyright_text: str) -> Path:
    root = tmp / f"build-{name}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.2-3\nArchitecture: all\nMaintainer: Test <t@example.org>\n"
        f"Description: fake {name}\n")
    doc = root / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(copyright_text)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            write(path, content, format="OGG" if rel.endswith(".ogg") else None)
    deb = tmp / "built" / f"{name}_1.2-3_all.deb"
    deb.parent.mkdir(exist_ok=True)
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


def zipped(members: dict[str, bytes]) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def wav_bytes(x: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, x, RATE, format="WAV")
    return buf.getvalue()


@pytest.fixture(scope="module")
def fakes(tmp_path_factory):
    """Built fake packages {name: path} and what went into them."""
    tmp = tmp_path_factory.mktemp("fakedebs")
    song = notes(25.0, 1)
    segment = notes(12.0, 2)
    looped = np.concatenate([notes(10.0, 3), np.tile(segment, (5, 1))])  # 10 s intro + 5 x 12 s loop
    short_loop = np.tile(notes(3.0, 4), (12, 1))  # 36 s of a 3 s loop: one period is too short to keep
    music = "usr/share/games/fake/music"
    stairwell_left = np.exp(-np.arange(1000) / 200.0)
    hall = np.exp(-np.arange(3000) / 500.0)
    debs = {
        TRAIN: build_deb(tmp, TRAIN, {
            f"{music}/song.wav": song,
            f"{music}/copy/song.wav": song,  # the same bytes again: kept once
            f"{music}/looped.wav": looped,
            f"{music}/jingle.wav": notes(5.0, 5),  # too short
            f"{music}/beat.wav": short_loop,
            f"{music}/pack.zip": zipped({"inner/zipped_song.wav": wav_bytes(notes(22.0, 6))}),
            f"{music}/broken.ogg": b"OggS not really an ogg stream" * 10,
            "usr/share/games/fake/sounds/explosion.wav": notes(30.0, 7),  # not under a music folder
        }, DEP5),
        VAL: build_deb(tmp, VAL, {  # Frets on Fire layout: one folder per song, stems summed
            "usr/share/games/fretsonfire/data/songs/sectoid/Tune/song.ogg": 1.6 * notes(24.0, 8),
            "usr/share/games/fretsonfire/data/songs/sectoid/Tune/guitar.ogg": 1.6 * notes(21.0, 9)[:, :1],
            "usr/share/games/fretsonfire/data/songs/sectoid/Tune/notes.mid": b"MThd",
            "usr/share/games/val/music/song.wav": song,  # duplicate of a training file: never in val
        }, "Songs by someone, licensed under the Creative Commons\nAttribution-ShareAlike 3.0 licence.\n"),
        IR: build_deb(tmp, IR, {
            "usr/share/jconvolver/config-files/demo-reverbs/street2-L.wav": np.exp(-np.arange(800) / 100.0),
            "usr/share/jconvolver/config-files/demo-reverbs/street2-R.wav": np.exp(-np.arange(900) / 90.0),
            "usr/share/jconvolver/config-files/octave-band/oct-44-1k.wav": np.ones(50),
        }, DEP5),
        IR2: build_deb(tmp, IR2, {
            "usr/share/csoundqt/Examples/SourceMaterials/StairwellL.wav": stairwell_left,
            "usr/share/csoundqt/Examples/SourceMaterials/StairwellR.wav": 0.5 * stairwell_left,
            "usr/share/csoundqt/Examples/SourceMaterials/Stairwell.wav": stairwell_left,  # = the left side
            "usr/share/csoundqt/Examples/SourceMaterials/impulse_big_hall.wav": np.stack([hall, hall[::-1]], 1),
            "usr/share/csoundqt/Examples/SourceMaterials/808loop.wav": notes(2.0, 13),
        }, DEP5),
        CROWD: build_deb(tmp, CROWD, {
            "usr/share/games/etw/crowd/crowd01.wav": 0.1 * notes(3.0, 10),
            "usr/share/games/etw/snd/whistle.wav": 0.1 * notes(3.0, 11),
        }, DEP5),
    }
    wheel = tmp / "built" / "pyo-9.9-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pyo/lib/snds/IRMediumHallStereo.wav", wav_bytes(0.5 * notes(1.0, 12)))
        zf.writestr("pyo-9.9.dist-info/METADATA", "Name: pyo\nVersion: 9.9\nLicense-Expression: LGPL-3.0\n")
    debs[WHEEL] = wheel
    return debs


class FakeApt:
    """Stands in for ``apt-get download`` / ``pip download``: copies the fake archive, counts the calls."""

    def __init__(self, debs):
        self.debs, self.calls = debs, []

    def __call__(self, name, folder):
        self.calls.append(name)
        shutil.copy(self.debs[name], folder)


ALL = (TRAIN, VAL, IR, IR2, CROWD, WHEEL)


@pytest.fixture(scope="module")
def corpus(fakes, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    apt = FakeApt(fakes)
    manifest = fetch.fetch_corpus(str(out), ALL, download=apt)
    return out, manifest, apt


def by_source(manifest, suffix):
    found = [e for e in manifest["entries"] if e["source"].endswith(suffix)]
    assert len(found) == 1, (suffix, [e["source"] for e in manifest["entries"]])
    return found[0]


def skipped(manifest, suffix):
    found = [s for s in manifest["skipped"] if s["source"].endswith(suffix)]
    assert len(found) == 1, (suffix, manifest["skipped"])
    return found[0]


def test_manifest_entries_describe_the_files_they_point_to(corpus):
    out, manifest, apt = corpus
    assert manifest["format"] == "aebox-edge-corpus" and manifest["version"] == 1
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    for e in manifest["entries"]:
        path = out / e["path"]
        info = sf.info(str(path))
        assert e["sample_rate"] == info.samplerate and e["channels"] == info.channels
        assert e["duration_s"] == pytest.approx(info.frames / info.samplerate, abs=1e-3)
        assert e["sha256"] == fetch.sha256_file(str(path))
        assert e["version"] == ("9.9" if e["package"] == WHEEL else "1.2-3")
        assert set(e) >= {"kind", "split", "package", "source", "path", "song", "licence", "duration_s",
                          "sample_rate", "channels", "sha256"}
    song = by_source(manifest, "fake/music/song.wav")
    assert song["path"] == f"music/train/{TRAIN}/song.wav" and song["song"] == f"{TRAIN}/song"
    assert song["duration_s"] == pytest.approx(25.0) and song["channels"] == 2 and "loop_period_s" not in song
    zipped_song = by_source(manifest, "zipped_song.wav")
    assert "pack.zip!/" in zipped_song["source"] and zipped_song["duration_s"] == pytest.approx(22.0)
    assert not any("explosion" in e["source"] for e in manifest["entries"] + manifest["skipped"])
    assert (out / "licences" / f"{TRAIN}.copyright").read_text() == DEP5


def test_original_files_are_kept_unchanged(corpus, fakes, tmp_path):
    out, manifest, _ = corpus
    subprocess.run(["dpkg-deb", "-x", str(fakes[TRAIN]), str(tmp_path)], check=True)
    original = tmp_path / "usr/share/games/fake/music/song.wav"
    assert (out / f"music/train/{TRAIN}/song.wav").read_bytes() == original.read_bytes()


def test_licences_come_from_the_copyright_file(corpus):
    _, manifest, _ = corpus
    assert by_source(manifest, "fake/music/song.wav")["licence"] == "CC-BY-SA-4.0"  # Files: data/music/*
    assert by_source(manifest, "crowd01.wav")["licence"] == "GPL-2+"  # Files: *
    assert by_source(manifest, "sectoid/Tune")["licence"] == "CC-BY-SA-3.0"  # free-form copyright file
    assert by_source(manifest, "IRMediumHallStereo.wav")["licence"] == "LGPL-3.0"  # the wheel's metadata
    assert manifest["packages"][TRAIN]["licence"] == "GPL-2+"


def test_licence_for_dep5_rules():
    text = DEP5 + "\nFiles: data/music/special.ogg\nCopyright: x\nLicense: CC0-1.0\n"
    assert fetch.licence_for(text, "usr/share/games/fake/music/special.ogg") == "CC0-1.0"  # last match wins
    assert fetch.licence_for(text, "usr/share/games/fake/music/other.ogg") == "CC-BY-SA-4.0"
    assert fetch.licence_for(text, "usr/share/games/fake/sounds/other.ogg") == "GPL-2+"
    assert fetch.licence_for("This is in the public domain.", "x") == "public-domain"
    assert fetch.licence_for("", "x") == "unknown"


def test_short_files_loops_duplicates_and_undecodable_files_are_skipped_with_a_reason(corpus):
    _, manifest, _ = corpus
    assert skipped(manifest, "jingle.wav")["reason"] == "short"
    beat = skipped(manifest, "beat.wav")
    assert beat["reason"] == "loop" and beat["loop_period_s"] == pytest.approx(3.0, abs=0.1)
    dup = skipped(manifest, "copy/song.wav")
    assert dup["reason"] == "duplicate" and dup["duplicate_of"].endswith("fake/music/song.wav")
    broken = skipped(manifest, "broken.ogg")
    assert broken["reason"] == "undecodable" and "cannot decode" in broken["detail"]
    assert ".scratch" not in broken["detail"]
    assert manifest["totals"]["skipped"] == {"short": 1, "loop": 1, "duplicate": 3, "undecodable": 1}  # + Stairwell


def test_a_loop_keeps_its_start_and_one_period(corpus):
    out, manifest, _ = corpus
    looped = by_source(manifest, "looped.wav")
    assert looped["loop_period_s"] == pytest.approx(12.0, abs=0.1)
    assert looped["original_duration_s"] == pytest.approx(70.0)
    assert looped["duration_s"] == pytest.approx(looped["loop_start_s"] + looped["loop_period_s"], abs=0.01)
    assert 10.0 - 1.0 <= looped["loop_start_s"] + 1e-9 and looped["duration_s"] <= 23.0
    assert looped["path"].endswith(".flac") and looped["converted"]


def test_detect_loop_finds_repetition_and_nothing_else():
    rng = np.random.default_rng(0)
    segment = notes(4.5, 20)[:, 0]
    found = fetch.detect_loop(np.tile(segment, 8), RATE)
    assert found is not None and found["period_s"] == pytest.approx(4.5, abs=0.05) and found["start_s"] < 0.1
    assert fetch.detect_loop(notes(60.0, 21)[:, 0], RATE) is None
    t = np.arange(40 * RATE) / RATE
    assert fetch.detect_loop(0.3 * np.sin(2 * np.pi * 220 * t) + 1e-3 * rng.standard_normal(len(t)), RATE) is None
    assert fetch.detect_loop(notes(3.0, 22)[:, 0], RATE) is None  # too short to hold two periods


def test_stems_are_mixed_into_one_stereo_song_without_clipping(corpus):
    out, manifest, _ = corpus
    tune = by_source(manifest, "sectoid/Tune")
    assert tune["song"] == f"{VAL}/sectoid/Tune" and tune["stems"] == ["guitar.ogg", "song.ogg"]
    x, rate = sf.read(str(out / tune["path"]))
    assert x.shape[1] == 2 and rate == RATE and len(x) / rate == pytest.approx(24.0, abs=0.05)
    assert np.abs(x).max() <= 0.99 + 1e-3 and tune["mix_gain_db"] < 0


def test_splits_follow_packages_and_no_song_is_in_two(corpus):
    _, manifest, _ = corpus
    music = [e for e in manifest["entries"] if e["kind"] == "music"]
    assert {e["split"] for e in music if e["package"] == TRAIN} == {"train"}
    assert {e["split"] for e in music if e["package"] == VAL} == {"val"}
    val_dup = skipped(manifest, "val/music/song.wav")  # the training song, met again in a validation package
    assert val_dup["reason"] == "duplicate" and val_dup["duplicate_of"].startswith(TRAIN)
    assert len({e["song"] for e in music}) == len(music)
    assert len({e["sha256"] for e in manifest["entries"]}) == len(manifest["entries"])
    assert all(e["split"] is None for e in manifest["entries"] if e["kind"] != "music")
    t = manifest["totals"]
    assert t["music"]["train"]["files"] == 3 and t["music"]["val"]["files"] == 1
    assert t["music"]["val"]["seconds"] == pytest.approx(24.0) and t["music"]["val"]["hours"] == 0.007


def test_irs_and_crowd(corpus):
    out, manifest, _ = corpus
    street = by_source(manifest, "street2-L.wav")
    assert street["kind"] == "ir" and street["role"] == "room" and street["channels"] == 2
    assert street["path"] == f"irs/{IR}/street2.flac" and street["duration_s"] == pytest.approx(900 / RATE)
    assert not any("oct-44" in e["source"] for e in manifest["entries"])
    csound = {e["path"]: e for e in manifest["entries"] if e["package"] == IR2}
    assert sorted(csound) == [f"irs/{IR2}/Stairwell.flac", f"irs/{IR2}/impulse_big_hall.wav"]
    stair, _ = sf.read(str(out / f"irs/{IR2}/Stairwell.flac"))
    assert stair.shape == (1000, 2) and np.allclose(stair[:, 1], 0.5 * stair[:, 0], atol=1e-4)
    assert csound[f"irs/{IR2}/impulse_big_hall.wav"]["channels"] == 2
    assert skipped(manifest, "SourceMaterials/Stairwell.wav")["reason"] == "duplicate"
    hall = by_source(manifest, "IRMediumHallStereo.wav")
    assert hall["kind"] == "ir" and hall["path"] == f"irs/{WHEEL}/IRMediumHallStereo.wav"
    crowd = [e for e in manifest["entries"] if e["kind"] == "crowd"]
    assert [e["source"].rsplit("/", 1)[-1] for e in crowd] == ["crowd01.wav"]
    assert manifest["totals"]["crowd"]["files"] == 1
    assert manifest["totals"]["crowd"]["minutes"] == pytest.approx(3.0 / 60, abs=1e-3)


def test_second_run_downloads_and_processes_nothing(corpus, fakes, monkeypatch):
    out, manifest, apt = corpus
    assert sorted(apt.calls) == sorted(ALL)
    monkeypatch.setattr(fetch, "process_package", lambda *a, **k: pytest.fail("processed a done package"))
    again = FakeApt(fakes)
    assert fetch.fetch_corpus(str(out), ALL, download=again) == manifest
    assert again.calls == []


def test_an_unfinished_package_is_processed_again_from_its_downloaded_deb(fakes, tmp_path, monkeypatch):
    apt = FakeApt(fakes)
    first = fetch.fetch_corpus(str(tmp_path), (TRAIN, CROWD), download=apt)
    (tmp_path / ".done" / f"{CROWD}.json").unlink()  # as if interrupted while processing it
    processed = []
    real = fetch.process_package
    monkeypatch.setattr(fetch, "process_package", lambda p, *a, **k: processed.append(p.name) or real(p, *a, **k))
    assert fetch.fetch_corpus(str(tmp_path), (TRAIN, CROWD), download=apt) == first
    assert processed == [CROWD] and sorted(apt.calls) == sorted([TRAIN, CROWD])


def test_manifest_write_is_atomic(corpus, monkeypatch):
    out, manifest, _ = corpus
    before = (out / "manifest.json").read_bytes()

    def broken_dump(obj, fh, **kwargs):
        fh.write('{"format": "aebox-edge-corpus", "entr')
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        fetch.write_manifest(str(out))
    assert (out / "manifest.json").read_bytes() == before
    assert not [p for p in out.iterdir() if "tmp" in p.name]


def test_list_prints_sizes_without_downloading(monkeypatch, tmp_path):
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        assert cmd[:3] == ["apt-get", "download", "--print-uris"]
        lines = [f"'http://deb.example/{n}_1_all.deb' {n}_1_all.deb {1000000 * (i + 1)} SHA256:00"
                 for i, n in enumerate(cmd[3:])]
        return subprocess.CompletedProcess(cmd, 0, stdout="\n".join(lines) + "\n", stderr="")

    monkeypatch.setattr(fetch, "_run", fake_run)
    result = CliRunner().invoke(main, ["data", "fetch", "--out", str(tmp_path), "--list", "--only", TRAIN,
                                       "--only", VAL])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [TRAIN, "music", "train", "1.0", "MB"]
    assert lines[1].split() == [VAL, "music", "val", "2.0", "MB"]
    assert lines[-1].split() == ["total", "3.0", "MB"]
    assert len(calls) == 1 and not (tmp_path / "debs").exists()


def test_unknown_package_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="unknown package"):
        fetch.fetch_corpus(str(tmp_path), ["not-a-package"])
    result = CliRunner().invoke(main, ["data", "fetch", "--out", str(tmp_path), "--only", "nope"])
    assert result.exit_code == 2 and "unknown package" in result.output


def smf(tracks: list[bytes], division: int = 96) -> bytes:
    """A format-1 Standard MIDI File from raw track bodies (each without End-of-Track; this adds it)."""
    out = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(tracks).to_bytes(2, "big") \
        + division.to_bytes(2, "big")
    for body in tracks:
        body += b"\x00\xff\x2f\x00"
        out += b"MTrk" + len(body).to_bytes(4, "big") + body
    return out


def sounding_at_end(data: bytes) -> list[tuple[int, int]]:
    """Notes (channel, key) still on at the end of a MIDI file, by the file's own events."""
    _, _, tracks = fetch._midi_tracks(data)
    on = {}
    for events in tracks:
        for _, e in events:
            if e[0] & 0xF0 == 0x90 and e[2] > 0:
                on[(e[0] & 15, e[1])] = on.get((e[0] & 15, e[1]), 0) + 1
            elif e[0] & 0xF0 == 0x80 or (e[0] & 0xF0 == 0x90 and e[2] == 0):
                on[(e[0] & 15, e[1])] = on.get((e[0] & 15, e[1]), 0) - 1
    return sorted(k for k, v in on.items() if v > 0)


# tempo 1 s per quarter (96 ticks); track 2: C4 on/off (running status), E4 left on, G4 on at 20 s and off at 40 s
TEMPO = b"\x00\xff\x51\x03\x0f\x42\x40"
NOTES = (b"\x00\x90\x3c\x64" + b"\x60\x3c\x00"  # note-on, then (running status) velocity-0 note-off
         + b"\x00\x40\x50"  # E4 on, never closed
         + b"\x8f\x00\x43\x50"  # 1920 ticks later (20 s): G4 on
         + b"\x8f\x00\x80\x43\x00")  # 20 s later: G4 off


def test_close_midi_notes_closes_what_is_left_open():
    data = smf([TEMPO, NOTES])
    assert sounding_at_end(data) == [(0, 0x40)]
    closed, cut = fetch.close_midi_notes(data)
    assert not cut and sounding_at_end(closed) == []
    _, _, before = fetch._midi_tracks(data)
    _, _, after = fetch._midi_tracks(closed)
    assert after[1][: len(before[1])] == before[1]  # the original events are kept, closing ones appended
    assert max(t for t, _ in after[1]) == max(t for t, _ in before[1])


def test_close_midi_notes_cuts_at_a_time_and_closes_the_notes_sounding_there():
    closed, cut = fetch.close_midi_notes(smf([TEMPO, NOTES]), max_s=30.0)
    assert cut and sounding_at_end(closed) == []
    _, _, tracks = fetch._midi_tracks(closed)
    assert max(t for tr in tracks for t, _ in tr) == 30 * 96  # nothing after the cut
    offs = [e for t, e in tracks[1] if t == 30 * 96 and e[0] & 0xF0 == 0x80]
    assert sorted(e[1] for e in offs) == [0x40, 0x43]
    with pytest.raises(ValueError):
        fetch.close_midi_notes(b"RIFF not midi")


def test_midi_package_is_rendered_and_kept_as_music(fakes, tmp_path, monkeypatch):
    """The fetch side of MIDI (render tools and fluidsynth replaced): rendered songs are music entries."""
    tmp = tmp_path / "build"
    name = "simutrans-data"
    deb = build_deb(tmp, name, {"usr/share/games/simutrans/music/01-Theme.mid": smf([TEMPO, NOTES]),
                                "usr/share/games/simutrans/sound/horn.mid": smf([TEMPO, NOTES])}, DEP5)
    rendered = []

    def fake_render(path, tools, scratch):
        midi, cut = fetch.close_midi_notes(open(path, "rb").read(), fetch.MIDI_MAX_S)
        rendered.append(sounding_at_end(midi))
        return notes(41.0, 30), RATE, cut

    monkeypatch.setattr(fetch, "render_tools", lambda *a, **k: {"version": "FakeSynth 1", "soundfont": "/x/GM.sf2"})
    monkeypatch.setattr(fetch, "render_midi", fake_render)
    manifest = fetch.fetch_corpus(str(tmp_path / "out"), [name], download=FakeApt({name: deb}))
    (entry,) = manifest["entries"]
    assert entry["song"] == f"{name}/01-Theme" and entry["split"] == "train" and entry["kind"] == "music"
    assert entry["path"] == f"music/train/{name}/01-Theme.flac" and entry["duration_s"] == pytest.approx(41.0)
    assert entry["rendered"] == {"synth": "FakeSynth 1", "soundfont": "GM.sf2", "cut_at_s": None}
    assert rendered == [[]]  # one file (the sound effect is not under a music folder), nothing left sounding


def test_midi_files_are_skipped_with_a_reason_without_render_tools(fakes, tmp_path, monkeypatch):
    name = "simutrans-data"
    deb = build_deb(tmp_path / "build", name, {"usr/share/games/simutrans/music/01-Theme.mid": smf([TEMPO])}, DEP5)

    def no_tools(*a, **k):
        raise fetch.RuntimeFailure("fluidsynth is not installed")

    monkeypatch.setattr(fetch, "render_tools", no_tools)
    manifest = fetch.fetch_corpus(str(tmp_path / "out"), [name], download=FakeApt({name: deb}))
    assert manifest["entries"] == [] and [s["reason"] for s in manifest["skipped"]] == ["unrenderable"]


def test_mma_grooves_become_songs(tmp_path, monkeypatch):
    """mma's side (its program replaced by a script that writes a fixed MIDI file): one song per jazz / latin /
    swing groove, named after it, with the drawn tempo/key recorded; other grooves are left out."""
    fake_mma = ("import sys\nout = sys.argv[sys.argv.index('-f') + 1]\n"
                f"open(out, 'wb').write({smf([TEMPO, NOTES])!r})\n").encode()
    deb = build_deb(tmp_path / "build", "mma", {"usr/bin/mma": fake_mma,
                                                "usr/share/mma/lib/stdlib/bossanova.mma": b"// groove",
                                                "usr/share/mma/lib/stdlib/polka.mma": b"// groove"}, DEP5)
    monkeypatch.setattr(fetch, "render_tools", lambda *a, **k: {"version": "FakeSynth 1", "soundfont": "GM.sf2"})
    monkeypatch.setattr(fetch, "render_midi", lambda path, tools, scratch: (notes(41.0, 31), RATE, False))
    manifest = fetch.fetch_corpus(str(tmp_path / "out"), ["mma"], download=FakeApt({"mma": deb}))
    (entry,) = manifest["entries"]
    text, params = fetch.mma_song("bossanova", "/lib")
    assert entry["song"] == "mma/bossanova" and entry["rendered"]["groove"] == "bossanova"
    assert entry["rendered"]["tempo_bpm"] == params["tempo_bpm"] and entry["licence"] == "GPL-2+"
    assert text.splitlines()[:2] == ["SetLibPath /lib", "Use stdlib/bossanova"]
    assert len(text.splitlines()) == 5 + fetch.MMA_BARS and fetch.mma_song("bossanova", "/lib") == (text, params)
