"""The training set (docs/architecture.md, section 5): making examples, storing them as shards + manifest, reading them
back.

A clip (5 s at 24 kHz) is split into halves A and B; its examples are input = dirty(A), reference = clean(B),
target = clean(A), and the swapped triple (dirty(B), clean(A), clean(B)). As in the paper, clean = venue IR
applied to the source and dirty = the same venue IR applied to the source rendered in a production style, plus
crowd noise. Each source carries 0.5 s of pre-roll that is processed and then dropped (as DeepAFx-ST drops its
lookahead), so no clip starts with a compressor at rest or a room without reverb; the clip is processed whole
before splitting, so B carries A's reverb tail and compressor state.

Levels: the source is peak-normalized to -1..-9 dBFS (lowered further if the clean clip would exceed 0.99); the
dirty clip keeps the level its style gives it, except that a clip that would exceed 0.99 is turned down by
lowering the style's makeup gain, so the stored parameters always describe the stored audio. A style draw that
needs more than that, produces a non-finite signal or a window below -50 dBFS is redrawn.

Every random choice derives from the seed: clip ``i`` of ``data synth`` uses ``SeedSequence(seed,
spawn_key=(i,))``, patch ``j`` of file ``k`` of ``data build`` uses ``SeedSequence(seed, spawn_key=(k,))``'s
children, so the data do not depend on the number of worker processes. Shards are ``.npz`` files written with
fixed zip timestamps and ``manifest.json`` holds no times, so the same seed and options give identical bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import multiprocessing
import os
import shutil
from collections import Counter, deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ddsp_kernels import PARAM_SPEC, apply_chain

from ..io.atomic import write_json, write_npz
from ..io.audio import read
from ..errors import AudioError, InputError, RuntimeFailure
from .crowd import crowd_noise, scale_to_snr
from .irs import club_ir, convolve, load_ir_folder, phone_ir, venue_ir
from .music import synthesize
from .sources import AUDIO_EXTENSIONS, find_audio_files, nonsilent_starts, random_patches
from .styles import STYLES, draw_style

FORMAT = "aebox-edge-dataset"
VERSION = 1
MANIFEST = "manifest.json"
SHARD_PATTERN = "shard-{:05d}.npz"
PEAK_LIMIT = 0.99
MIN_WINDOW_RMS_DB = -50.0
MAX_DRAWS = 20
AUDIO_ARRAYS = ("input", "reference", "target")


@dataclass(frozen=True)
class DataConfig:
    """Everything that decides the data besides the sources (stored in the manifest)."""

    seed: int = 0
    sample_rate: int = 24000
    clip_seconds: float = 5.0
    styles: tuple[str, ...] = STYLES
    swap: bool = True
    crowd_snr_db: tuple[float, float] | None = (10.0, 30.0)
    rt60_s: tuple[float, float] = (0.3, 1.5)
    headroom_db: tuple[float, float] = (1.0, 9.0)
    irs: str | None = None
    shard_size: int = 256
    pre_roll_s: float = 0.5

    def __post_init__(self):
        unknown = [s for s in self.styles if s not in STYLES]
        if not self.styles or unknown:
            raise InputError(f"unknown style(s) {', '.join(unknown) or '(none given)'}; "
                             f"choose from {', '.join(STYLES)}")
        for name in ("crowd_snr_db", "rt60_s", "headroom_db"):
            value = getattr(self, name)
            if value is not None and not (len(value) == 2 and value[0] <= value[1]):
                raise InputError(f"{name} must be a range LO HI with LO <= HI, got {value}")
        if self.rt60_s[0] <= 0:
            raise InputError(f"RT60 must be positive, got {self.rt60_s}")
        if self.headroom_db[0] < 0:
            raise InputError(f"headroom must be >= 0 dB, got {self.headroom_db}")
        if self.sample_rate < 8000 or self.clip_seconds <= 0 or self.shard_size < 1 or self.pre_roll_s < 0:
            raise InputError("sample rate must be >= 8000 Hz, clip length and shard size positive, pre-roll >= 0")

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def pre_roll_samples(self) -> int:
        return int(round(self.pre_roll_s * self.sample_rate))

    @property
    def source_seconds(self) -> float:
        """Length of a source clip: pre-roll + clip."""
        return (self.pre_roll_samples + self.clip_samples) / self.sample_rate

    @property
    def window_samples(self) -> int:
        return self.clip_samples // 2

    @property
    def examples_per_clip(self) -> int:
        return 2 if self.swap else 1

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


class UnusableClip(ValueError):
    """A source that cannot make an example: silent, not finite, or a window below -50 dBFS after the venue."""


@dataclass
class Clip:
    """One rendered clip with everything used to make it. ``source`` includes the pre-roll; ``dirty`` (which
    includes ``noise``) and ``clean`` do not."""

    source: np.ndarray
    venue_ir: np.ndarray
    phone_ir: np.ndarray
    style: str
    params: dict
    noise: np.ndarray | None
    snr_db: float
    rt60_s: float
    dirty: np.ndarray
    clean: np.ndarray
    record: dict | None = None  # JSON-able description of the draws (corpus builds)
    extra: dict = field(default_factory=dict)  # per-example scalars stored as extra shard arrays

    def examples(self, config: DataConfig) -> list[dict]:
        """The triple (dirty A, clean B, clean A), then, with ``config.swap``, (dirty B, clean A, clean B)."""
        w = config.window_samples
        halves = [slice(0, w), slice(w, 2 * w)]
        params = PARAM_SPEC.as_array(self.params)
        out = []
        for swapped in (False, True)[: config.examples_per_clip]:
            a, b = halves[::-1] if swapped else halves
            out.append({"input": self.dirty[a].astype(np.float32), "reference": self.clean[b].astype(np.float32),
                        "target": self.clean[a].astype(np.float32), "style": self.style, "style_params": params,
                        "swapped": swapped, "snr_db": self.snr_db, "rt60_s": self.rt60_s, **self.extra})
        return out


def _rms_db(x: np.ndarray) -> float:
    return float(10.0 * np.log10(max(float(np.mean(np.square(x))), 1e-30)))


def _quietest_window_db(x: np.ndarray, w: int) -> float:
    return min(_rms_db(x[:w]), _rms_db(x[w:2 * w]))


def render_clip(source: np.ndarray, seed: np.random.SeedSequence, config: DataConfig, bank=None) -> Clip:
    """Level, venue IRs, style and crowd noise for one clean source clip (mono, ``config.sample_rate``,
    pre-roll + clip samples long)."""
    sr = config.sample_rate
    pre = config.pre_roll_samples
    if len(source) != pre + config.clip_samples:
        raise ValueError(f"source has {len(source)} samples, expected {pre + config.clip_samples}")
    level_rng, venue_rng, style_rng, crowd_rng = (np.random.default_rng(s) for s in seed.spawn(4))
    peak = float(np.max(np.abs(source)))
    if not np.isfinite(peak) or peak <= 0.0:
        raise UnusableClip("source clip is silent or not finite")
    src = np.asarray(source, dtype=np.float64) / peak * 10.0 ** (-level_rng.uniform(*config.headroom_db) / 20.0)

    if bank is not None and bank.club:
        club, rt60 = bank.club[int(venue_rng.integers(len(bank.club)))], float("nan")
    else:
        club, info = club_ir(venue_rng, sr, rt60_range=config.rt60_s)
        rt60 = info["rt60_s"]
    if bank is not None and bank.phone:
        phone = bank.phone[int(venue_rng.integers(len(bank.phone)))]
    else:
        phone, _ = phone_ir(venue_rng, sr)
    venue = venue_ir(club, phone)
    clean = convolve(src, venue)[pre:]
    gain = min(1.0, PEAK_LIMIT / float(np.max(np.abs(clean))))
    src *= gain
    clean *= gain
    w = config.window_samples
    if _quietest_window_db(clean, w) < MIN_WINDOW_RMS_DB:
        raise UnusableClip(f"a clean window is below {MIN_WINDOW_RMS_DB:g} dBFS after the venue IR")

    crowd, snr = None, float("nan")
    if config.crowd_snr_db is not None:
        crowd = convolve(crowd_noise(crowd_rng, len(src), sr), phone)[pre:]
        snr = float(crowd_rng.uniform(*config.crowd_snr_db))

    style = config.styles[int(style_rng.integers(len(config.styles)))]
    level_db = _rms_db(src)
    makeup_floor = PARAM_SPEC["comp_makeup_db"].minimum
    for _ in range(MAX_DRAWS):
        params = draw_style(style, style_rng, level_db)
        dirty = convolve(apply_chain(src, sr, params), venue)[pre:]
        noise = None if crowd is None else scale_to_snr(crowd, dirty, snr)
        if noise is not None:
            dirty = dirty + noise
        peak = float(np.max(np.abs(dirty)))
        if not np.isfinite(peak):
            continue
        if peak > PEAK_LIMIT:
            cut_db = 20.0 * np.log10(peak / PEAK_LIMIT)
            if params["comp_makeup_db"] - cut_db < makeup_floor:
                continue
            params["comp_makeup_db"] -= cut_db
            dirty *= PEAK_LIMIT / peak
            if noise is not None:
                noise *= PEAK_LIMIT / peak
        if _quietest_window_db(dirty, w) < MIN_WINDOW_RMS_DB:
            continue
        return Clip(src, venue, phone, style, params, noise, snr, rt60, dirty, clean)
    raise RuntimeFailure(f"no usable '{style}' style draw in {MAX_DRAWS} tries (silent or unbounded output)")


def synth_clip(config: DataConfig, index: int, bank=None) -> Clip:
    """Clip ``index`` of ``data synth`` (same config and index -> same clip): procedural music (pre-roll + clip),
    redrawn while it has a silent 1 s frame or makes an unusable clip."""
    music_seed, render_seed = np.random.SeedSequence(config.seed, spawn_key=(index,)).spawn(2)
    rng = np.random.default_rng(music_seed)
    for _ in range(MAX_DRAWS):
        audio, _ = synthesize(rng, config.source_seconds, config.sample_rate)
        if not len(nonsilent_starts(audio, config.sample_rate, len(audio))):
            continue
        try:
            return render_clip(audio, render_seed, config, bank)
        except UnusableClip:
            continue
    raise RuntimeFailure(f"clip {index}: the music generator gave {MAX_DRAWS} unusable clips")


# ---- worker processes ---------------------------------------------------------------------------------------

_WORKER: dict = {}


def _init_worker(config: DataConfig, bank, music_root: str | None = None, patches_per_file: int = 0) -> None:
    _WORKER.update(config=config, bank=bank, music_root=music_root, patches=patches_per_file)


def _synth_task(task: tuple[int, int]) -> dict:
    index, keep = task
    config = _WORKER["config"]
    return {"examples": synth_clip(config, index, _WORKER["bank"]).examples(config)[:keep]}


def _build_task(task: tuple[int, str]) -> dict:
    file_index, rel = task
    config = _WORKER["config"]
    try:
        x, sr = read(os.path.join(_WORKER["music_root"], rel))
    except AudioError as exc:
        return {"path": rel, "skipped": exc.reason}
    pick_seed, *clip_seeds = np.random.SeedSequence(config.seed, spawn_key=(file_index,)).spawn(
        1 + _WORKER["patches"])
    mono = np.mean(x, axis=1, dtype=np.float64)
    patches = random_patches(mono, sr, config.sample_rate, config.source_seconds, _WORKER["patches"],
                             np.random.default_rng(pick_seed))
    if not patches:
        reason = f"shorter than {config.source_seconds:g} s" if len(mono) < config.source_seconds * sr else \
            f"no non-silent {config.source_seconds:g} s patch"
        return {"path": rel, "skipped": reason}
    clips, offsets = [], []
    for (start, patch), seed in zip(patches, clip_seeds):
        try:
            clips.append(render_clip(patch, seed, config, _WORKER["bank"]).examples(config))
            offsets.append(round(start, 4))
        except UnusableClip:
            continue
    if not clips:
        return {"path": rel, "skipped": "no patch loud enough after the venue IR"}
    return {"path": rel, "sample_rate": int(sr), "channels": int(x.shape[1]), "patch_offsets_s": offsets,
            "clips": clips}


def _ordered_map(fn, tasks, workers: int, initargs: tuple, initializer=_init_worker):
    """``map(fn, tasks)`` in order, over ``workers`` spawned processes (inline when 1), with a bounded queue."""
    workers = min(workers, len(tasks))
    if workers <= 1:
        initializer(*initargs)
        for task in tasks:
            yield fn(task)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=initializer, initargs=initargs) as pool:
        pending = deque()
        for task in tasks:
            pending.append(pool.submit(fn, task))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# ---- storage -------------------------------------------------------------------------------------------------

class ShardWriter:
    """Collects examples in order and writes them ``shard_size`` at a time."""

    def __init__(self, out_dir: str, config: DataConfig, extra_arrays: dict | None = None):
        self.out_dir = out_dir
        self.config = config
        self.extra_arrays = dict(extra_arrays or {})  # name -> numpy dtype of per-example scalars in Clip.extra
        self.buffer: list[dict] = []
        self.shards: list[dict] = []
        self.styles: Counter = Counter()
        self.examples = 0
        self.clips = 0

    def add_clip(self, examples: list[dict]) -> None:
        for example in examples:
            self.buffer.append(dict(example, clip=self.clips))
            self.styles[example["style"]] += 1
            self.examples += 1
            if len(self.buffer) == self.config.shard_size:
                self.flush()
        self.clips += 1

    def flush(self) -> None:
        if not self.buffer:
            return
        name = SHARD_PATTERN.format(len(self.shards))
        batch = self.buffer
        arrays = {key: np.stack([e[key] for e in batch]).astype(np.float32) for key in AUDIO_ARRAYS}
        arrays.update(
            style_params=np.stack([e["style_params"] for e in batch]).astype(np.float64),
            style=np.array([e["style"] for e in batch], dtype=f"<U{max(len(s) for s in STYLES)}"),
            clip=np.array([e["clip"] for e in batch], dtype=np.int64),
            swapped=np.array([e["swapped"] for e in batch], dtype=bool),
            snr_db=np.array([e["snr_db"] for e in batch], dtype=np.float32),
            rt60_s=np.array([e["rt60_s"] for e in batch], dtype=np.float32),
            **{k: np.array([e[k] for e in batch], dtype=dtype) for k, dtype in self.extra_arrays.items()},
        )
        sha = write_npz(os.path.join(self.out_dir, name), arrays)
        self.shards.append({"file": name, "examples": len(batch), "sha256": sha})
        self.buffer = []


def _dataset_files(out_dir: str) -> list[str]:
    """The names of a dataset's files in ``out_dir`` (manifest first, then the shards)."""
    return sorted(n for n in os.listdir(out_dir) if n == MANIFEST or (n.startswith("shard-") and n.endswith(".npz")))


def _prepare_output(out_dir: str, force: bool) -> None:
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f"{out_dir} exists and is not a directory")
    os.makedirs(out_dir, exist_ok=True)
    old = _dataset_files(out_dir)
    if old and not force:
        raise InputError(f"{out_dir} already holds a dataset; choose another --out or pass --force to replace it")
    for name in old:  # manifest.json sorts first: a half-deleted dataset never looks complete
        os.remove(os.path.join(out_dir, name))


def _first_missing(path: str) -> str | None:
    """The topmost folder of ``path`` that does not exist yet (``None`` when ``path`` exists)."""
    top, path = None, os.path.abspath(path)
    while not os.path.exists(path):
        top, path = path, os.path.dirname(path)
    return top


@contextlib.contextmanager
def removed_on_failure(out_dir: str):
    """Run the block that creates ``out_dir`` and writes into it; when it raises (every file skipped, an error,
    Ctrl-C), remove the folders this run created (the topmost new one, with everything in it)."""
    top = _first_missing(out_dir)
    try:
        yield
    except BaseException:
        if top is not None:
            shutil.rmtree(top, ignore_errors=True)
        raise


@contextlib.contextmanager
def dataset_output(out_dir: str, force: bool):
    """Prepare ``out_dir`` for a dataset (refused without ``force`` when it holds one, else the old one removed) and
    run the block that writes it; when the block raises, remove what this run wrote: the folders it created, or,
    in a folder that existed, the dataset files (all of them are this run's)."""
    top = _first_missing(out_dir)
    _prepare_output(out_dir, force)
    try:
        yield
    except BaseException:
        if top is not None:
            shutil.rmtree(top, ignore_errors=True)
        else:
            for name in _dataset_files(out_dir):
                os.remove(os.path.join(out_dir, name))
        raise


def _manifest(config: DataConfig, writer: ShardWriter, extra: dict) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "seed": config.seed,
        "config": config.to_dict(),
        "sample_rate": config.sample_rate,
        "window_samples": config.window_samples,
        "param_names": list(PARAM_SPEC.names),
        "param_units": list(PARAM_SPEC.units),
        "arrays": {
            **{k: f"float32 (n, {config.window_samples})" for k in AUDIO_ARRAYS},
            "style_params": f"float64 (n, {len(PARAM_SPEC)}), physical units", "style": "str (n,)",
            "clip": "int64 (n,)", "swapped": "bool (n,)", "snr_db": "float32 (n,), NaN without crowd noise",
            "rt60_s": "float32 (n,), requested club RT60, NaN for loaded IRs",
        },
        "counts": {"examples": writer.examples, "clips": writer.clips, "shards": len(writer.shards)},
        "style_histogram": {s: writer.styles.get(s, 0) for s in config.styles},
        "shards": writer.shards,
        **extra,
    }


def _write_manifest(out_dir: str, manifest: dict) -> None:
    write_json(os.path.join(out_dir, MANIFEST), manifest, sort_keys=True)


def _load_bank(config: DataConfig, warn):
    if config.irs is None:
        return None
    if not os.path.isdir(config.irs):
        raise InputError(f"impulse response folder {config.irs} does not exist")
    return load_ir_folder(config.irs, config.sample_rate, warn=warn)


def _irs_entry(bank) -> dict:
    return {"kind": "synthetic"} if bank is None else {"kind": "folder", **bank.describe()}


def synth_dataset(out_dir: str, count: int, config: DataConfig, workers: int | None = None, progress=None,
                  warn=None, force: bool = False) -> dict:
    """``count`` examples from the procedural music generator; returns the manifest."""
    if count < 1:
        raise InputError(f"--count must be >= 1, got {count}")
    bank = _load_bank(config, warn)
    with dataset_output(out_dir, force):
        per_clip = config.examples_per_clip
        tasks = [(i, min(per_clip, count - i * per_clip)) for i in range(-(-count // per_clip))]
        writer = ShardWriter(out_dir, config)
        for result in _ordered_map(_synth_task, tasks, workers or os.cpu_count() or 1, (config, bank)):
            writer.add_clip(result["examples"])
            if progress is not None:
                progress(len(result["examples"]))
        writer.flush()
        manifest = _manifest(config, writer, {"command": "synth", "count": count, "sources": {"kind": "synth"},
                                              "irs": _irs_entry(bank), "skipped": []})
        _write_manifest(out_dir, manifest)
    return manifest


def build_dataset(out_dir: str, music_dir: str, config: DataConfig, patches_per_file: int = 4,
                  workers: int | None = None, progress=None, warn=None, force: bool = False) -> dict:
    """Examples from random non-silent patches of the audio files under ``music_dir``; unreadable files are
    skipped with a warning and listed in the manifest. ``progress(1)`` is called per file."""
    if not os.path.isdir(music_dir):
        raise InputError(f"music folder {music_dir} does not exist or is not a directory")
    if patches_per_file < 1:
        raise InputError(f"--patches-per-file must be >= 1, got {patches_per_file}")
    files = find_audio_files(music_dir)
    if not files:
        raise InputError(f"no audio files under {music_dir} (looked for {', '.join(AUDIO_EXTENSIONS)})")
    bank = _load_bank(config, warn)
    with dataset_output(out_dir, force):
        writer = ShardWriter(out_dir, config)
        used, skipped = [], []
        initargs = (config, bank, music_dir, patches_per_file)
        for result in _ordered_map(_build_task, list(enumerate(files)), workers or os.cpu_count() or 1, initargs):
            if "skipped" in result:
                skipped.append({"path": result["path"], "reason": result["skipped"]})
                if warn is not None:
                    warn(f"skipping {result['path']}: {result['skipped']}")
            else:
                for examples in result.pop("clips"):
                    writer.add_clip(examples)
                used.append(result)
            if progress is not None:
                progress(1)
        writer.flush()
        if not used:
            raise InputError(f"no usable audio under {music_dir}: all {len(files)} file(s) were skipped")
        sources = {"kind": "folder", "root": music_dir, "files_found": len(files), "files_used": len(used),
                   "files_skipped": len(skipped), "files": used}
        manifest = _manifest(config, writer, {"command": "build", "patches_per_file": patches_per_file,
                                              "sources": sources, "irs": _irs_entry(bank), "skipped": skipped})
        manifest["counts"].update(files_found=len(files), files_used=len(used), files_skipped=len(skipped))
        _write_manifest(out_dir, manifest)
    return manifest


# ---- readers -------------------------------------------------------------------------------------------------

@dataclass
class DatasetReader:
    """Random access to a dataset directory: ``len(reader)``, ``reader[i]`` (a dict of one example's arrays),
    ``reader.shard(k)`` and ``reader.batches(...)``. Keeps one shard in memory."""

    root: str
    manifest: dict = field(init=False)
    _cache: tuple = field(init=False, default=(None, None))

    def __post_init__(self):
        path = os.path.join(self.root, MANIFEST)
        try:
            with open(path, encoding="utf-8") as f:
                self.manifest = json.load(f)
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.root} is not an aebox-edge dataset (cannot read {MANIFEST}: {exc})") from None
        if self.manifest.get("format") != FORMAT or self.manifest.get("version") != VERSION:
            raise InputError(f"{path}: not an {FORMAT} version {VERSION} manifest")
        self._offsets = np.cumsum([0] + [s["examples"] for s in self.manifest["shards"]])

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def shard(self, k: int) -> dict[str, np.ndarray]:
        if self._cache[0] != k:
            with np.load(os.path.join(self.root, self.manifest["shards"][k]["file"]), allow_pickle=False) as z:
                self._cache = (k, {name: z[name] for name in z.files})
        return self._cache[1]

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"example {index} out of range: the dataset has {len(self)}")
        index %= len(self)
        k = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return {name: array[index - self._offsets[k]] for name, array in self.shard(k).items()}

    def batches(self, batch_size: int, shuffle: bool = False, seed: int = 0, drop_remainder: bool = False):
        """Dicts of arrays with a leading batch axis; with ``shuffle``, shard order and the examples inside each
        shard are permuted (seeded), one shard in memory at a time."""
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.manifest["shards"])) if shuffle else range(len(self.manifest["shards"]))
        carry = None
        for k in order:
            data = self.shard(int(k))
            n = len(data["clip"])
            idx = rng.permutation(n) if shuffle else np.arange(n)
            data = {name: array[idx] for name, array in data.items()}
            if carry is not None:
                data = {name: np.concatenate([carry[name], data[name]]) for name in data}
            n = len(data["clip"])
            stop = n - n % batch_size
            for i in range(0, stop, batch_size):
                yield {name: array[i:i + batch_size] for name, array in data.items()}
            carry = {name: array[stop:] for name, array in data.items()} if stop < n else None
        if carry is not None and not drop_remainder:
            yield carry


def open_dataset(root: str) -> DatasetReader:
    return DatasetReader(os.fspath(root))


def tf_dataset(root: str, batch_size: int | None = None, shuffle: bool = False, seed: int = 0):
    """A ``tf.data.Dataset`` of dicts ``input``, ``reference``, ``target`` (float32, window samples) and
    ``style_params`` (float32, 24 physical values). TensorFlow is imported here, never at module level."""
    import tensorflow as tf

    reader = open_dataset(root)
    window = reader.manifest["window_samples"]
    keys = AUDIO_ARRAYS + ("style_params",)

    def examples():
        for batch in reader.batches(1, shuffle=shuffle, seed=seed):
            yield {k: batch[k][0].astype(np.float32) for k in keys}

    signature = {k: tf.TensorSpec((window,), tf.float32) for k in AUDIO_ARRAYS}
    signature["style_params"] = tf.TensorSpec((len(PARAM_SPEC),), tf.float32)
    ds = tf.data.Dataset.from_generator(examples, output_signature=signature)
    return ds.batch(batch_size) if batch_size else ds
