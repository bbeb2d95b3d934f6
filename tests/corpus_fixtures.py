"""A tiny fake real-music corpus (``aebox-edge-corpus`` manifest) made of synthesized audio, for offline tests."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import soundfile as sf

from aebox_edge.data.crowd import crowd_noise
from aebox_edge.data.irs import club_ir
from aebox_edge.data.music import synthesize


def _entry(root, rel, kind, split, package, song=None, **extra):
    info = sf.info(os.path.join(root, rel))
    sha = hashlib.sha256(open(os.path.join(root, rel), "rb").read()).hexdigest()
    return {"kind": kind, "split": split, "package": package, "version": "1.0", "source": f"/usr/share/{rel}",
            "path": rel, "song": song, "licence": "CC-BY-SA-3.0", "duration_s": info.frames / info.samplerate,
            "sample_rate": info.samplerate, "channels": info.channels, "sha256": sha, **extra}


def make_corpus(root, seconds=8.0, train=(("pkg-a", 2), ("pkg-b", 1)), val=(("pkg-v", 2),), with_assets=True,
                seed=0) -> dict:
    """Songs (stereo, alternately 44.1 and 48 kHz, ``seconds`` long) in packages per split, plus one room IR, one
    cabinet IR and one crowd file; writes ``root/manifest.json`` and returns it."""
    rng = np.random.default_rng(seed)
    entries = []
    n = 0
    for split, packages in (("train", train), ("val", val)):
        for package, songs in packages:
            for k in range(songs):
                sr = (44100, 48000)[n % 2]
                left, _ = synthesize(rng, seconds, sr)
                right, _ = synthesize(rng, seconds, sr)
                rel = f"music/{package}/song{k}.ogg" if n % 3 == 2 else f"music/{package}/song{k}.wav"
                os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
                sf.write(os.path.join(root, rel), 0.7 * np.stack([left, 0.6 * left + 0.4 * right], 1), sr)
                entries.append(_entry(root, rel, "music", split, package, f"{package}/song{k}"))
                n += 1
    if with_assets:
        os.makedirs(os.path.join(root, "ir"), exist_ok=True)
        os.makedirs(os.path.join(root, "crowd"), exist_ok=True)
        room, _ = club_ir(rng, 48000, rt60_s=0.6)
        sf.write(os.path.join(root, "ir/room.wav"), np.concatenate([np.zeros(100), room]) * 0.5, 48000)
        entries.append(_entry(root, "ir/room.wav", "ir", None, "pkg-ir", role="room"))
        cab = np.zeros(2048)
        cab[10] = 1.0
        cab[11:] = 0.3 * rng.standard_normal(2037) * np.exp(-np.arange(2037) / 100.0)
        sf.write(os.path.join(root, "ir/cab.wav"), cab, 44100)
        entries.append(_entry(root, "ir/cab.wav", "ir", None, "pkg-ir", role="cabinet"))
        sf.write(os.path.join(root, "crowd/cheer.wav"), 0.3 * crowd_noise(rng, 3 * 22050, 22050), 22050)
        entries.append(_entry(root, "crowd/cheer.wav", "crowd", None, "pkg-crowd"))
    manifest = {"format": "aebox-edge-corpus", "version": 1, "entries": entries, "totals": {}}
    with open(os.path.join(root, "manifest.json"), "w") as f:
        json.dump(manifest, f)
    return manifest
