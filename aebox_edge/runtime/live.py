"""Live enhancement: ``aebox-edge run --live`` (sounddevice) and ``--simulate`` (the same engine fed from a file).

``LiveEngine.process`` is the audio callback's whole work: apply newly published parameters, run the DSP chain
(``ddsp_kernels.StreamingChain``, state allocated up front) and the level stage (``level.RunningLevel``: loudness
to the reference's, then the true-peak limiter, whose look-ahead delays the output by ``limiter_latency_ms``, about
5 ms, on top of the stream's buffering) and copy a mono mix of the block into a preallocated ring of the last
2.5 s. An analysis thread wakes every ``hop_s``, runs the model on the ring and the reference features, smooths the
normalized parameters with an exponential moving average (time constant ``smoothing_s``) and publishes them; the
callback picks them up at its next block (click-free cross-fade). Until the ring is full the
chain holds neutral parameters (about the identity).

LiteRT's ``invoke`` holds the GIL, so the callback can wait for one invoke: the stream asks for ``latency_s`` of
output buffering to absorb it, and the GIL switch interval is lowered to 1 ms while live or simulating. The simulation
models the same budget: block ``k`` arrives when it has been "recorded" and misses its deadline when its output is not
ready ``latency_s`` later. Without ``realtime`` the simulation runs as fast as possible with the analysis run in step
on simulated time (deterministic).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import numpy as np

from ddsp_kernels import PARAM_SPEC, StreamingChain
from ddsp_kernels.match import BandLevels
from ddsp_kernels.signal import mono

from ..io import audio
from ..io.atomic import check_outputs
from ..errors import InputError, RuntimeFailure, check_positive_int
from ..defaults import BLOCKSIZE, LATENCY_S, LIVE_HOP_S, SMOOTHING_S
from ..frontend import fit_window, log_mel
from .enhancer import Enhancer, Reference
from .level import RunningLevel
from .matching import analytic_fit, match_features
from .track import check_hop


class MonoRing:
    """A preallocated ring of the last ``length`` samples of a mono signal; sample ``i`` lives at ``ring[i % length]``.
    Written by the audio callback, read by the analysis thread (under one lock)."""

    def __init__(self, length: int):
        self._ring = np.zeros(length, np.float32)
        self.written = 0  # samples ever written
        self._lock = threading.Lock()

    @property
    def full(self) -> bool:
        return self.written >= len(self._ring)

    def write(self, samples: np.ndarray) -> None:
        ring, n = self._ring, len(samples)
        with self._lock:
            if n >= len(ring):
                ring[:] = np.roll(samples[n - len(ring):], (self.written + n) % len(ring))
            else:
                pos = self.written % len(ring)
                first = min(n, len(ring) - pos)
                ring[pos:pos + first] = samples[:first]
                ring[:n - first] = samples[first:]
            self.written += n

    def last(self) -> np.ndarray:
        """A copy in time order (zeros before the start)."""
        with self._lock:
            pos = self.written % len(self._ring)
            return np.concatenate([self._ring[pos:], self._ring[:pos]])


class Timings:
    """Running totals of repeated timings (no per-call allocation): count, seconds spent, worst."""

    def __init__(self):
        self.count = 0
        self.total_s = 0.0
        self.max_s = 0.0

    def add(self, elapsed_s: float) -> None:
        self.count += 1
        self.total_s += elapsed_s
        self.max_s = max(self.max_s, elapsed_s)

    def mean_ms(self, digits: int) -> float:
        return round(1e3 * self.total_s / max(1, self.count), digits)

    def max_ms(self, digits: int) -> float:
        return round(1e3 * self.max_s, digits)


class LiveEngine:
    """DSP in the audio callback (``process``), model in an analysis thread (``start``/``stop``) or in step
    (``analyse``). ``stats()`` summarizes the run. A hop outside (0, window] raises ``InputError``."""

    def __init__(self, enhancer: Enhancer, reference: Reference, sample_rate: int, channels: int, *,
                 hop_s: float = LIVE_HOP_S, smoothing_s: float = SMOOTHING_S):
        check_hop(hop_s, enhancer.front_end.window_samples / enhancer.analysis_rate)
        self.enhancer = enhancer
        self.reference = reference
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.hop_s = hop_s
        self.smoothing_s = smoothing_s
        self._chain = StreamingChain(self.sample_rate, PARAM_SPEC.neutral(), channels=self.channels)
        self._level = RunningLevel(self.sample_rate, self.channels, reference.match.loudness_lufs)
        self._input_levels = BandLevels(self.sample_rate)
        silence = np.zeros((1, self.channels), np.float32)
        self._level.process(self._chain.process(silence), silence)  # lazy imports happen here, not in a callback
        self._ring = MonoRing(enhancer.window_frames(self.sample_rate))
        self._published: tuple[int, dict] | None = None  # (sequence number, physical parameters)
        self._applied = 0
        self._smoothed: np.ndarray | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.xruns = 0
        self.analysis_error: BaseException | None = None
        self._callbacks, self._analyses = Timings(), Timings()
        self._late = 0  # callbacks slower than their block lasts

    @property
    def frames_in(self) -> int:
        """Frames processed so far."""
        return self._ring.written

    @property
    def ready(self) -> bool:
        """Whether the ring holds a full analysis window."""
        return self._ring.full

    def process(self, indata: np.ndarray, outdata: np.ndarray) -> None:
        """The audio callback's work: ``indata`` (frames, channels) -> ``outdata`` (same shape)."""
        start = time.perf_counter()
        published = self._published
        if published is not None and published[0] != self._applied:
            self._applied = published[0]
            self._chain.set_params(published[1])
        outdata[:] = self._level.process(self._chain.process(indata), indata)
        self._ring.write(mono(indata))
        elapsed = time.perf_counter() - start
        self._callbacks.add(elapsed)
        self._late += elapsed > len(indata) / self.sample_rate

    def last_window(self) -> np.ndarray:
        """A copy of the ring in time order: the mono mix of the last analysis window (zeros before the start)."""
        return self._ring.last()

    def analyse(self) -> None:
        """Run the model on the last window and publish the smoothed parameters."""
        start = time.perf_counter()
        window = self.last_window()
        enhancer, reference = self.enhancer, self.reference
        analysis = enhancer.analysis_audio(window, self.sample_rate)
        features = log_mel(fit_window(analysis, enhancer.front_end), enhancer.front_end)[..., None]
        if enhancer.output_kind == "correction":
            self._input_levels.add(window)  # the input's long-term spectrum so far
            match = match_features(analysis, enhancer.analysis_rate, reference.match)
            p = enhancer.predict(features, reference.features, match, analytic_fit(self._input_levels, reference.match))
        else:
            p = enhancer.predict(features, reference.features)
        if self._smoothed is None or self.smoothing_s <= 0:
            self._smoothed = p
        else:
            self._smoothed = self._smoothed + (1.0 - np.exp(-self.hop_s / self.smoothing_s)) * (p - self._smoothed)
        sequence = 1 + (self._published[0] if self._published else 0)
        self._published = (sequence, PARAM_SPEC.to_physical(self._smoothed))
        self._analyses.add(time.perf_counter() - start)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.hop_s):
                if self.ready:
                    self.analyse()
        except BaseException as exc:  # reported by stop(); the audio keeps running with the last parameters
            self.analysis_error = exc

    def start(self) -> None:
        """Start the analysis thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="aebox-analysis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the analysis thread (if running); re-raise what ended it early as ``RuntimeFailure``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.analysis_error is not None:
            raise RuntimeFailure(f"analysis thread failed: {self.analysis_error}") from self.analysis_error

    def stats(self) -> dict:
        """Blocks, the limiter's delay (ms), xruns, late callbacks (DSP slower than the block lasts), callback and
        analysis times (ms) and the real-time factors of the callback alone and of callback + analysis."""
        duration = self.frames_in / self.sample_rate
        callbacks, analyses = self._callbacks, self._analyses
        return {
            "sample_rate": self.sample_rate, "channels": self.channels, "blocks": callbacks.count,
            "limiter_latency_ms": round(1e3 * self._level.latency / self.sample_rate, 2),
            "duration_s": round(duration, 3), "xruns": self.xruns, "late_callbacks": self._late,
            "callback_ms_mean": callbacks.mean_ms(4), "callback_ms_max": callbacks.max_ms(4),
            "analyses": analyses.count,
            "analysis_ms_mean": analyses.mean_ms(3), "analysis_ms_max": analyses.max_ms(3),
            "callback_rtf": round(callbacks.total_s / duration, 4) if duration else 0.0,
            "engine_rtf": round((callbacks.total_s + analyses.total_s) / duration, 4) if duration else 0.0,
        }


@contextlib.contextmanager
def _quick_gil_handoff():
    """Lower the GIL switch interval to 1 ms (from 5) so the audio thread waits less for the analysis thread."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def simulate(enhancer: Enhancer, reference_path: str, input_path: str, output_path: str, *,
             blocksize: int = BLOCKSIZE, realtime: bool = False, latency_s: float = LATENCY_S,
             hop_s: float = LIVE_HOP_S, smoothing_s: float = SMOOTHING_S, force: bool = False) -> dict:
    """Drive ``LiveEngine`` from ``input_path`` in ``blocksize`` blocks and write what it plays to ``output_path``
    (atomically; as played live, delayed by the limiter's look-ahead, with as many frames as the input).
    ``realtime`` paces the blocks as a sound card would, with the analysis thread running, and counts missed
    deadlines; otherwise blocks run back to back and the analysis runs every ``hop_s`` of simulated time.
    Raises ``PathError`` / ``AudioError`` before any work for an output ``atomic.check_outputs`` or the writer
    refuses (the input, the reference, an existing file without ``force``, a format that cannot hold the audio)."""
    check_positive_int("blocksize", blocksize)
    info = audio.info(input_path)
    check_outputs({"-o": output_path}, inputs={"input": input_path, "reference": reference_path}, force=force)
    writer = audio.AtomicAudioWriter(output_path, info.sample_rate, info.channels, like=info, overwrite=force)
    reference = enhancer.reference_file(reference_path)
    engine = LiveEngine(enhancer, reference, info.sample_rate, info.channels, hop_s=hop_s, smoothing_s=smoothing_s)
    block_s = blocksize / info.sample_rate
    hop_frames = max(1, round(hop_s * info.sample_rate))
    next_analysis = 0
    missed = 0
    with writer, _quick_gil_handoff():
        if realtime:
            engine.start()
        try:
            t0 = time.perf_counter()
            for k, block in enumerate(audio.iter_blocks(input_path, blocksize)):
                arrival = t0 + (k + 1) * block_s
                if realtime:
                    time.sleep(max(0.0, arrival - time.perf_counter()))
                out = np.empty_like(block)
                engine.process(block, out)
                if realtime:
                    missed += time.perf_counter() > arrival + latency_s
                elif engine.ready and engine.frames_in >= next_analysis:
                    engine.analyse()
                    next_analysis = engine.frames_in + hop_frames
                writer.write(out)
        finally:
            engine.stop()
    return {**engine.stats(), "mode": "realtime" if realtime else "as fast as possible", "blocksize": blocksize,
            "latency_s": latency_s, "missed_deadlines": missed if realtime else None, "reference": reference.info,
            "output": output_path}


def run_live(enhancer: Enhancer, reference_path: str, *, input_device=None, output_device=None,
             blocksize: int = BLOCKSIZE, samplerate: int | None = None, latency_s: float = LATENCY_S,
             hop_s: float = LIVE_HOP_S, smoothing_s: float = SMOOTHING_S, echo=print) -> dict:
    """Enhance the input device's audio to the output device until Ctrl-C; returns the engine's statistics."""
    try:
        import sounddevice as sd
    except (ImportError, OSError) as exc:  # OSError: the PortAudio library is missing
        raise InputError(f"live mode needs sounddevice and PortAudio: pip install 'aebox-edge[live]' "
                         f"(and apt install libportaudio2) ({exc})") from None
    try:
        in_dev = sd.query_devices(input_device, "input")
        out_dev = sd.query_devices(output_device, "output")
    except ValueError as exc:
        raise InputError(f"audio device: {exc}") from None
    rate = int(samplerate or in_dev["default_samplerate"])
    channels = max(1, min(2, int(in_dev["max_input_channels"]), int(out_dev["max_output_channels"])))
    reference = enhancer.reference_file(reference_path)
    engine = LiveEngine(enhancer, reference, rate, channels, hop_s=hop_s, smoothing_s=smoothing_s)

    def callback(indata, outdata, frames, time_info, status):
        if status:
            engine.xruns += 1
        engine.process(indata, outdata)

    try:
        with _quick_gil_handoff(), sd.Stream(device=(input_device, output_device), samplerate=rate,
                                             blocksize=blocksize, channels=channels, dtype="float32",
                                             latency=latency_s, callback=callback):
            engine.start()
            echo(f"live: {in_dev['name']} -> {out_dev['name']}, {rate} Hz, {channels} channel(s), blocks of "
                 f"{blocksize}; reference window at {reference.info['start_s']:.1f} s; Ctrl-C to stop")
            try:
                while engine.analysis_error is None:
                    time.sleep(0.2)
            except KeyboardInterrupt:
                pass
    except sd.PortAudioError as exc:
        raise RuntimeFailure(f"audio device error: {exc}") from None
    finally:
        engine.stop()
    return {**engine.stats(), "blocksize": blocksize, "latency_s": latency_s}
