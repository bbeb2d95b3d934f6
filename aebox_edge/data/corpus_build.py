"""``data build --corpus``: training, validation and whole-excerpt evaluation data from a real-music corpus
(``aebox-edge-corpus`` manifest: music split by package into train/val, real room and PA-cabinet IRs, crowd).

Examples are made as by ``data build`` (a 5 s clip at 24 kHz mono split into halves A and B; input = dirty A,
reference = clean B, target = clean A, plus the swap), except:

- **clean is the original song audio** (peak-normalized to -1..-9 dBFS per clip, no venue IR): for produced
  music we want the studio sound back, not the studio sound as heard in the room. The dataset manifest records
  this as ``"clean": "original"``.
- **dirty** = production style (``styles``) -> PA loudspeaker (a real cabinet IR with ``cabinet_probability``)
  -> room (a real room IR with ``real_room_probability``, else a synthetic club, whose own PA response stays) ->
  phone IR (synthetic: no package has phone IRs) + crowd (synthetic, layered with real crowd with
  ``real_crowd_probability``, through the phone IR, at a random SNR) -> ``phone.phone_chain`` (band-limit,
  level normalized then the recording gain -30..0 dB drawn on its own, AGC, limiter, codec). The dirty level is
  therefore independent of the style: only the reference tells the level.
- Songs never straddle splits: train songs make ``OUT/train``, val songs ``OUT/val`` (each an ordinary dataset
  that ``DatasetReader`` and training read), and ``OUT/excerpts`` holds whole-excerpt items of val songs (of train
  songs with ``excerpt_split="train"``: a tuning set) at the native rate and channel count (input = dirty A,
  reference = clean B from a non-overlapping part of the same song, target = clean A; float32 WAV; the songs' own
  level, not normalized) described by ``excerpts.json``.

Seeds: song ``s`` of split ``k`` (0 train, 1 val, 2 excerpts) uses ``SeedSequence(seed, spawn_key=(k, h(s)))``
with ``h`` a stable hash of the song's file path, so the data of a song depend neither on the worker count nor on
which other songs the corpus holds; which val songs give excerpts is a permutation drawn from
``SeedSequence(seed, spawn_key=(3,))``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
from scipy import signal

from ddsp_kernels import apply_chain

from ..defaults import EXCERPTS_FORMAT
from ..io.atomic import atomic_write, write_json
from ..io.audio import read, resample, write
from ..errors import AudioError, InputError, RuntimeFailure
from .crowd import crowd_noise, scale_to_snr
from .dataset import (MANIFEST, MAX_DRAWS, Clip, DataConfig, ShardWriter, UnusableClip, _manifest, removed_on_failure,
                      _ordered_map, _prepare_output, _quietest_window_db, _rms_db, _write_manifest)
from .irs import club_ir, phone_ir, trim_ir, unit_energy, venue_ir
from .phone import PhoneConfig, phone_chain
from .sources import nonsilent_starts, random_patches
from .styles import draw_style

CORPUS_FORMAT = "aebox-edge-corpus"
EXCERPTS_DIR = "excerpts"
EXCERPTS_JSON = "excerpts.json"
CLIPS_LOG = "clips.jsonl"
SPLITS = ("train", "val")
MIN_DIRTY_WINDOW_DB = -80.0  # the dirty level is free (recording gain); only a dead-silent window is refused
SONG_WEIGHT_CAP_S = 120.0  # clip budget per song grows with its length up to this
CLEAN_NOTE = ("original: clean = the song file's own audio (no venue IR), dirty = style + PA/venue IR + crowd "
              "+ phone chain")


@dataclass(frozen=True)
class CorpusOptions:
    """What ``build_corpus_dataset`` draws besides ``DataConfig`` (stored in the manifests)."""

    patches_per_song: int = 4
    train_examples: int | None = None
    val_examples: int | None = None
    excerpts: int = 30
    excerpt_seconds: float = 15.0
    excerpt_split: str = "val"  # "train": a tuning set of excerpts from training songs (the val ones stay unseen)
    real_room_probability: float = 0.5
    cabinet_probability: float = 0.5
    real_crowd_probability: float = 0.7
    real_crowd_db: tuple[float, float] = (-6.0, 12.0)  # real crowd relative to the synthesized one
    phone: PhoneConfig = PhoneConfig()

    def __post_init__(self):
        if self.patches_per_song < 1:
            raise InputError(f"--patches-per-file must be >= 1, got {self.patches_per_song}")
        for name in ("train_examples", "val_examples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.excerpts < 0 or self.excerpt_seconds <= 0:
            raise InputError("--excerpts must be >= 0 and --excerpt-seconds positive")
        if self.excerpt_split not in SPLITS:
            raise InputError(f"--excerpt-split must be one of {', '.join(SPLITS)}, got {self.excerpt_split!r}")

    def to_dict(self) -> dict:
        d = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}
        d["phone"] = self.phone.to_dict()
        return d


def read_corpus(root: str) -> dict:
    """The corpus manifest ``root/manifest.json``, checked; raises ``InputError``."""
    path = os.path.join(root, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as exc:
        raise InputError(f"{root} is not an aebox-edge corpus (cannot read {MANIFEST}: {exc})") from None
    if manifest.get("format") != CORPUS_FORMAT or manifest.get("version") != 1 or \
            not isinstance(manifest.get("entries"), list):
        raise InputError(f"{path}: not an {CORPUS_FORMAT} version 1 manifest")
    return manifest


def _song_key(entry: dict) -> int:
    return int(hashlib.sha256(entry["path"].encode("utf-8")).hexdigest()[:12], 16)


def split_songs(entries: list[dict]) -> tuple[dict[str, list[dict]], list[dict]]:
    """Music entries by split (each sorted by song, then path) and the music entries left out (no split). Raises
    ``InputError`` when a song id appears in both splits."""
    splits: dict[str, list[dict]] = {s: [] for s in SPLITS}
    left_out = []
    for e in entries:
        if e.get("kind") != "music":
            continue
        if e.get("split") in splits:
            splits[e["split"]].append(e)
        else:
            left_out.append({"path": e.get("path"), "reason": f"split {e.get('split')!r}"})
    both = {e["song"] for e in splits["train"]} & {e["song"] for e in splits["val"]}
    if both:
        raise InputError(f"song(s) in both splits: {', '.join(sorted(both)[:5])}")
    for s in SPLITS:
        splits[s].sort(key=lambda e: (e["song"], e["path"]))
    return splits, left_out


def allocate_patches(durations_s, total: int | None, per_song: int, source_seconds: float) -> list[int]:
    """Clips per song: ``per_song`` each, or with ``total`` that many clips split over the songs in proportion to
    their length (capped at 120 s, largest remainders first), at most one per ``source_seconds`` of the song."""
    d = np.asarray(durations_s, dtype=np.float64)
    room = np.maximum(1, np.floor(d / source_seconds)).astype(int)
    if total is None:
        return [int(min(per_song, r)) for r in room]
    weights = np.minimum(d, SONG_WEIGHT_CAP_S)
    counts = np.zeros(len(d), dtype=int)
    remaining = int(total)
    for _ in range(100):
        open_ = counts < room
        if remaining <= 0 or not open_.any():
            break
        share = np.where(open_, weights, 0.0)
        want = remaining * share / share.sum()
        add = np.minimum(np.floor(want).astype(int), room - counts)
        if add.sum() == 0:  # hand out the remainder by largest fractional part
            order = np.argsort(-(want - np.floor(want)), kind="stable")
            for i in order[:remaining]:
                if counts[i] < room[i]:
                    add[i] += 1
        counts += add
        remaining = int(total) - int(counts.sum())
    return [int(c) for c in counts]


# ---- real IRs and crowd -------------------------------------------------------------------------------------

class Assets:
    """Real IRs (``role`` "room" or "cabinet") and crowd recordings of a corpus, loaded lazily per sample rate:
    mono, resampled, IRs with their onset at sample 0 (so they delay nothing) and unit energy, crowd at unit RMS."""

    def __init__(self, root: str, entries: list[dict]):
        self.root = root
        irs = [e for e in entries if e.get("kind") == "ir"]
        self.entries = {"room": [e for e in irs if e.get("role", "room") != "cabinet"],
                        "cabinet": [e for e in irs if e.get("role") == "cabinet"],
                        "crowd": [e for e in entries if e.get("kind") == "crowd"]}
        self._cache: dict = {}
        self.skipped: list[dict] = []

    def get(self, kind: str, sample_rate: int) -> list[tuple[str, np.ndarray]]:
        key = (kind, int(sample_rate))
        if key not in self._cache:
            loaded = []
            for e in self.entries[kind]:
                try:
                    x, sr = read(os.path.join(self.root, e["path"]))
                    mono = np.asarray(resample(np.mean(x, axis=1, dtype=np.float64), sr, sample_rate),
                                      dtype=np.float64)
                    if kind == "crowd":
                        rms = float(np.sqrt(np.mean(np.square(mono))))
                        if not rms > 1e-6:
                            raise ValueError("silent")
                        loaded.append((e["path"], (mono / rms).astype(np.float32)))
                    else:
                        loaded.append((e["path"], unit_energy(trim_ir(mono, sample_rate=sample_rate, lead_ms=0.0))))
                except (AudioError, ValueError) as exc:
                    self.skipped.append({"path": e["path"], "reason": getattr(exc, "reason", str(exc))})
            self._cache[key] = loaded
        return self._cache[key]

    def describe(self) -> dict:
        return {k: [e["path"] for e in v] for k, v in self.entries.items()}


def _pick(rng, items):
    return items[int(rng.integers(len(items)))]


def draw_venue(rng: np.random.Generator, sample_rate: int, assets: Assets | None, options: CorpusOptions,
               rt60_range) -> tuple[np.ndarray, np.ndarray, dict]:
    """The dirty path's IR (PA cabinet -> room -> phone, unit energy) and the phone IR alone, with a record."""
    rooms = assets.get("room", sample_rate) if assets else []
    cabinets = assets.get("cabinet", sample_rate) if assets else []
    record: dict = {}
    if rooms and rng.random() < options.real_room_probability:
        name, room = _pick(rng, rooms)
        record["room"] = {"kind": "real", "path": name}
    else:
        room, info = club_ir(rng, sample_rate, rt60_range=rt60_range)
        record["room"] = {k: v for k, v in info.items()}
    if cabinets and rng.random() < options.cabinet_probability:
        name, cab = _pick(rng, cabinets)
        room = signal.fftconvolve(cab, room)
        record["cabinet"] = name
    phone, pinfo = phone_ir(rng, sample_rate)
    record["phone_ir"] = pinfo
    return venue_ir(room, phone), phone, record


def _real_crowd(rng, length: int, clips: list[tuple[str, np.ndarray]]) -> tuple[np.ndarray, list[str]]:
    parts, names, have = [], [], 0
    while have < length:
        name, x = _pick(rng, clips)
        start = int(rng.integers(len(x))) if not parts else 0
        parts.append(x[start:])
        names.append(name)
        have += len(x) - start
    return np.concatenate(parts)[:length].astype(np.float64), names


def draw_crowd(rng: np.random.Generator, length: int, sample_rate: int, phone: np.ndarray,
               assets: Assets | None, options: CorpusOptions) -> tuple[np.ndarray, dict]:
    """Unit-RMS crowd at the phone: synthesized (``crowd.crowd_noise``), layered with real crowd recordings (with
    ``real_crowd_probability`` when the corpus has some, ``real_crowd_db`` relative), through the phone IR."""
    noise = crowd_noise(rng, length, sample_rate)
    record: dict = {"synthetic": True}
    real = assets.get("crowd", sample_rate) if assets else []
    if real and rng.random() < options.real_crowd_probability:
        x, names = _real_crowd(rng, length, real)
        rel = float(rng.uniform(*options.real_crowd_db))
        noise = noise + x / max(float(np.sqrt(np.mean(np.square(x)))), 1e-12) * 10.0 ** (rel / 20.0)
        record.update(real=names, real_db=rel)
    noise = signal.fftconvolve(noise, phone)[:length]
    return noise / max(float(np.sqrt(np.mean(np.square(noise)))), 1e-12), record


def _convolve(x: np.ndarray, ir: np.ndarray) -> np.ndarray:
    """Causal convolution trimmed to the input's length, along axis 0 of mono or (samples, channels) audio."""
    return signal.fftconvolve(x, ir if x.ndim == 1 else ir[:, None], axes=0)[: len(x)]


def degrade(src: np.ndarray, sample_rate: int, seeds, config: DataConfig, assets: Assets | None,
            options: CorpusOptions, pre: int, window: int | None = None) -> tuple[np.ndarray, str, dict, dict]:
    """The dirty version of ``src`` ((samples,) or (samples, channels), ``pre`` samples of pre-roll that are
    processed and dropped): style -> venue -> + crowd -> phone chain. ``seeds`` are four SeedSequences (venue,
    crowd, style, phone). Returns the dirty audio (without pre-roll), the style, its parameters and the record."""
    venue_rng, crowd_rng, style_rng, phone_rng = (np.random.default_rng(s) for s in seeds)
    venue, phone, venue_record = draw_venue(venue_rng, sample_rate, assets, options, config.rt60_s)
    crowd, crowd_record, snr = None, None, float("nan")
    if config.crowd_snr_db is not None:
        crowd, crowd_record = draw_crowd(crowd_rng, len(src), sample_rate, phone, assets, options)
        snr = float(crowd_rng.uniform(*config.crowd_snr_db))
        crowd_record["snr_db"] = snr
        if src.ndim == 2:
            crowd = crowd[:, None]
    style = config.styles[int(style_rng.integers(len(config.styles)))]
    level_db = _rms_db(src)
    for _ in range(MAX_DRAWS):
        params = draw_style(style, style_rng, level_db)
        wet = _convolve(apply_chain(src, sample_rate, params), venue)
        if not np.all(np.isfinite(wet)) or _rms_db(wet[pre:]) < -250.0:
            continue
        if crowd is not None:
            wet = wet + scale_to_snr(crowd, wet[pre:], snr)
        dirty, phone_record = phone_chain(wet, sample_rate, phone_rng, options.phone)
        dirty = dirty[pre:]
        if window and _quietest_window_db(dirty, window) < MIN_DIRTY_WINDOW_DB:
            continue
        return dirty, style, params, {"style": style, "venue": venue_record, "crowd": crowd_record,
                                      "phone": phone_record}
    raise RuntimeFailure(f"no usable '{style}' style draw in {MAX_DRAWS} tries (silent or unbounded output)")


def render_corpus_clip(source: np.ndarray, seed: np.random.SeedSequence, config: DataConfig,
                       assets: Assets | None, options: CorpusOptions) -> Clip:
    """One training clip from a mono patch of a song (``config.sample_rate``, pre-roll + clip samples): clean =
    the patch peak-normalized to -``headroom_db``; dirty = ``degrade`` of it."""
    pre = config.pre_roll_samples
    if len(source) != pre + config.clip_samples:
        raise ValueError(f"source has {len(source)} samples, expected {pre + config.clip_samples}")
    level_seed, *seeds = seed.spawn(5)
    peak = float(np.max(np.abs(source)))
    if not np.isfinite(peak) or peak <= 0.0:
        raise UnusableClip("source clip is silent or not finite")
    headroom = np.random.default_rng(level_seed).uniform(*config.headroom_db)
    src = np.asarray(source, dtype=np.float64) / peak * 10.0 ** (-headroom / 20.0)
    clean = src[pre:]
    w = config.window_samples
    if _quietest_window_db(clean, w) < -50.0:
        raise UnusableClip("a clean window is below -50 dBFS")
    dirty, style, params, record = degrade(src, config.sample_rate, seeds, config, assets, options, pre, w)
    rt60 = record["venue"]["room"].get("rt60_s", float("nan"))
    snr = record["crowd"]["snr_db"] if record["crowd"] else float("nan")
    return Clip(src, np.zeros(1), np.zeros(1), style, params, None, snr, rt60, dirty, clean, record=record,
                extra={"rec_gain_db": record["phone"]["gain"]["gain_db"]})


# ---- excerpts -----------------------------------------------------------------------------------------------

def disjoint_segments(mono: np.ndarray, sample_rate: int, length: int, count: int,
                      rng: np.random.Generator) -> list[int]:
    """Up to ``count`` starts of non-overlapping non-silent ``length``-sample segments, in random order: the song is
    cut into ``count`` equal regions and one segment drawn inside each (so they cannot overlap); a region without
    a non-silent segment gives none."""
    starts = nonsilent_starts(mono, sample_rate, length)
    region = len(mono) // max(count, 1)
    chosen: list[int] = []
    for k in range(count):
        inside = starts[(starts >= k * region) & (starts + length <= (k + 1) * region)]
        if len(inside):
            chosen.append(int(inside[int(rng.integers(len(inside)))]))
    return [chosen[i] for i in rng.permutation(len(chosen))]


def render_excerpt(x: np.ndarray, sample_rate: int, seed: np.random.SeedSequence, count: int, config: DataConfig,
                   assets: Assets | None, options: CorpusOptions) -> list[dict]:
    """Up to ``count`` excerpt items of one song (``x`` shaped (frames, channels), native rate)."""
    pick_seed, *item_seeds = seed.spawn(1 + count)
    pre = int(round(config.pre_roll_s * sample_rate))
    n = int(round(options.excerpt_seconds * sample_rate))
    mono = np.mean(x, axis=1, dtype=np.float64)
    starts = disjoint_segments(mono, sample_rate, pre + n, 2 * count, np.random.default_rng(pick_seed))
    items = []
    for k in range(len(starts) // 2):
        a, b = starts[2 * k], starts[2 * k + 1]
        src = np.asarray(x[a:a + pre + n], dtype=np.float64)
        dirty, style, params, record = degrade(src, sample_rate, item_seeds[k].spawn(4), config, assets, options,
                                               pre)
        items.append({"input": dirty.astype(np.float32), "target": src[pre:].astype(np.float32),
                      "reference": np.asarray(x[b + pre:b + pre + n], dtype=np.float32),
                      "offsets_s": {"target": (a + pre) / sample_rate, "reference": (b + pre) / sample_rate},
                      "style_params": params, "degradation": record})
    return items


# ---- workers ------------------------------------------------------------------------------------------------

_CORPUS: dict = {}


def _init_corpus_worker(config: DataConfig, options: CorpusOptions, root: str, asset_entries: list[dict]) -> None:
    _CORPUS.update(config=config, options=options, root=root, assets=Assets(root, asset_entries))


def _corpus_task(task: tuple) -> dict:
    kind, entry, count = task
    config, options, assets = _CORPUS["config"], _CORPUS["options"], _CORPUS["assets"]
    rel = entry["path"]
    try:
        x, sr = read(os.path.join(_CORPUS["root"], rel))
    except AudioError as exc:
        return {"path": rel, "skipped": exc.reason}
    split_index = {"train": 0, "val": 1, "excerpts": 2}[kind]
    seed = np.random.SeedSequence(config.seed, spawn_key=(split_index, _song_key(entry)))
    if kind == "excerpts":
        try:
            items = render_excerpt(x, sr, seed, count, config, assets, options)
        except RuntimeFailure as exc:
            return {"path": rel, "skipped": str(exc)}
        if not items:
            return {"path": rel, "skipped": f"no two non-overlapping non-silent {options.excerpt_seconds:g} s parts"}
        return {"path": rel, "sample_rate": int(sr), "channels": int(x.shape[1]), "items": items}
    pick_seed, *clip_seeds = seed.spawn(1 + count)
    mono = np.mean(x, axis=1, dtype=np.float64)
    patches = random_patches(mono, sr, config.sample_rate, config.source_seconds, count,
                             np.random.default_rng(pick_seed))
    if not patches:
        return {"path": rel, "skipped": f"no non-silent {config.source_seconds:g} s patch"}
    clips = []
    for (start, patch), clip_seed in zip(patches, clip_seeds):
        try:
            clip = render_corpus_clip(patch, clip_seed, config, assets, options)
        except (UnusableClip, RuntimeFailure):
            continue
        clips.append({"offset_s": round(start, 4), "examples": clip.examples(config), "record": clip.record})
    if not clips:
        return {"path": rel, "skipped": "no usable patch"}
    return {"path": rel, "sample_rate": int(sr), "channels": int(x.shape[1]), "clips": clips}


# ---- the build ----------------------------------------------------------------------------------------------

def _write_lines(path: str, rows: list[dict]) -> None:
    atomic_write(path, "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows).encode("utf-8"))


def _prepare_excerpts(folder: str, force: bool, check_only: bool) -> None:
    index = os.path.join(folder, EXCERPTS_JSON)
    if not os.path.exists(index):
        return
    if not force:
        raise InputError(f"{folder} already holds excerpts; choose another --out or pass --force to replace them")
    if check_only:
        return
    os.remove(index)  # first: a half-deleted folder never looks complete
    for name in os.listdir(folder):
        if name.endswith(".wav") and name[:4].isdigit():
            os.remove(os.path.join(folder, name))


def _pick_excerpt_songs(songs: list[dict], count: int, config: DataConfig, options: CorpusOptions):
    """(entry, items) pairs: one item per eligible song (of ``options.excerpt_split``) in a seeded order, a second
    for long songs when ``count`` exceeds the songs."""
    need = 2 * (options.excerpt_seconds + config.pre_roll_s)
    eligible = [e for e in songs if float(e.get("duration_s", 0.0)) >= need]
    order = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(3,))).permutation(len(eligible))
    counts = [0] * len(eligible)
    left = count
    for rnd in (1, 2):
        for i in order:
            if left and counts[i] < rnd and float(eligible[i].get("duration_s", 0.0)) >= rnd * need:
                counts[i] += 1
                left -= 1
    return [(eligible[i], counts[i]) for i in sorted(range(len(eligible)), key=lambda i: eligible[i]["path"])
            if counts[i]]


def build_corpus_dataset(out_dir: str, corpus_dir: str, config: DataConfig, options: CorpusOptions = CorpusOptions(),
                         workers: int | None = None, progress=None, warn=None, force: bool = False) -> dict:
    """``OUT/train``, ``OUT/val`` (datasets) and ``OUT/excerpts`` from the corpus at ``corpus_dir``; returns a
    summary (also written to ``OUT/build.json``). ``progress(1)`` is called per song task."""
    if config.irs is not None:
        raise InputError("--irs does not combine with --corpus: the corpus carries its own IRs")
    corpus = read_corpus(corpus_dir)
    entries = corpus["entries"]
    splits, left_out = split_songs(entries)
    if not splits["train"] and not splits["val"]:
        raise InputError(f"{corpus_dir}: the manifest lists no train or val music")
    asset_entries = [e for e in entries if e.get("kind") in ("ir", "crowd")]
    folders = {s: os.path.join(out_dir, s) for s in SPLITS}
    excerpt_dir = os.path.join(out_dir, EXCERPTS_DIR)
    for s in SPLITS:  # refuse before deleting anything
        if os.path.exists(os.path.join(folders[s], MANIFEST)) and not force:
            raise InputError(f"{folders[s]} already holds a dataset; choose another --out or pass --force")
    _prepare_excerpts(excerpt_dir, force, check_only=True)
    with removed_on_failure(out_dir):  # a failed build leaves no folder it created
        for s in SPLITS:
            _prepare_output(folders[s], force)
        os.makedirs(excerpt_dir, exist_ok=True)
        _prepare_excerpts(excerpt_dir, force, check_only=False)

        tasks = []
        for s, total in (("train", options.train_examples), ("val", options.val_examples)):
            songs = splits[s]
            clips_total = None if total is None else -(-total // config.examples_per_clip)
            counts = allocate_patches([float(e.get("duration_s", 0.0)) for e in songs], clips_total,
                                      options.patches_per_song, config.source_seconds)
            tasks += [(s, e, c) for e, c in zip(songs, counts) if c > 0]
        excerpt_songs = _pick_excerpt_songs(splits[options.excerpt_split], options.excerpts, config, options)
        tasks += [("excerpts", e, c) for e, c in excerpt_songs]

        writers = {s: ShardWriter(folders[s], config, extra_arrays={"song": np.int64, "rec_gain_db": np.float32})
                   for s in SPLITS}
        songs_used = {s: [] for s in SPLITS}
        clip_rows = {s: [] for s in SPLITS}
        skipped = list(left_out)
        excerpt_items = []
        initargs = (config, options, corpus_dir, asset_entries)
        for (kind, entry, _), result in zip(tasks, _ordered_map(_corpus_task, tasks, workers or 1, initargs,
                                                                 initializer=_init_corpus_worker)):
            if "skipped" in result:
                skipped.append({"path": result["path"], "split": kind, "reason": result["skipped"]})
                if warn is not None:
                    warn(f"skipping {result['path']} ({kind}): {result['skipped']}")
            elif kind == "excerpts":
                for item in result["items"]:
                    excerpt_items.append(_write_excerpt(excerpt_dir, len(excerpt_items), entry, result, item,
                                                        options))
            else:
                song_index = len(songs_used[kind])
                songs_used[kind].append({"song": entry["song"], "path": entry["path"], "package": entry.get("package"),
                                         "licence": entry.get("licence"), "sample_rate": result["sample_rate"],
                                         "channels": result["channels"], "clips": len(result["clips"]),
                                         "patch_offsets_s": [c["offset_s"] for c in result["clips"]]})
                for c in result["clips"]:
                    clip_rows[kind].append({"clip": writers[kind].clips, "song": entry["song"], "path": entry["path"],
                                            "offset_s": c["offset_s"], **c["record"]})
                    writers[kind].add_clip([dict(e, song=song_index) for e in c["examples"]])
            if progress is not None:
                progress(1)

        if not any(w.examples for w in writers.values()):
            raise InputError(f"no usable music in {corpus_dir}: every song was skipped")
        summary = {"format": "aebox-edge-corpus-build", "version": 1, "corpus": os.path.abspath(corpus_dir),
                   "seed": config.seed, "options": options.to_dict(), "clean": CLEAN_NOTE, "splits": {},
                   "excerpts": len(excerpt_items), "skipped": skipped}
        for s in SPLITS:
            w = writers[s]
            w.flush()
            extra = {"command": "build-corpus", "split": s, "clean": CLEAN_NOTE, "corpus": summary["corpus"],
                     "corpus_options": options.to_dict(), "irs": {"kind": "corpus", **Assets(corpus_dir,
                                                                                              entries).describe()},
                     "sources": {"kind": "corpus", "root": summary["corpus"], "songs": songs_used[s]},
                     "skipped": [k for k in skipped if k.get("split") == s]}
            manifest = _manifest(config, w, extra)
            manifest["arrays"].update(song="int64 (n,), index into sources.songs",
                                      rec_gain_db="float32 (n,), the phone's recording gain (dB)")
            manifest["arrays"]["rt60_s"] = "float32 (n,), synthetic club RT60, NaN for real room IRs"
            manifest["counts"].update(songs=len(songs_used[s]))
            _write_lines(os.path.join(folders[s], CLIPS_LOG), clip_rows[s])
            _write_manifest(folders[s], manifest)
            summary["splits"][s] = {"examples": w.examples, "clips": w.clips, "songs": len(songs_used[s])}
        write_json(os.path.join(excerpt_dir, EXCERPTS_JSON), {"format": EXCERPTS_FORMAT, "version": 1,
                                                              "items": excerpt_items})
        write_json(os.path.join(out_dir, "build.json"), summary, sort_keys=True)
    return summary


def _write_excerpt(folder: str, index: int, entry: dict, result: dict, item: dict, options: CorpusOptions) -> dict:
    ident = f"{index:04d}"
    names = {k: f"{ident}_{k}.wav" for k in ("input", "reference", "target")}
    for k, name in names.items():
        write(os.path.join(folder, name), item[k], result["sample_rate"], format="WAV", subtype="FLOAT",
              overwrite=True)
    return {"id": ident, "song": entry["song"], "package": entry.get("package"), "licence": entry.get("licence"),
            "source": entry["path"], "sample_rate": result["sample_rate"], "channels": result["channels"],
            "seconds": options.excerpt_seconds, **names, "offsets_s": item["offsets_s"],
            "style_params": item["style_params"], "degradation": item["degradation"]}
