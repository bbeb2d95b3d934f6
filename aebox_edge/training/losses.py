"""The training loss (docs/architecture.md, section 6): multi-resolution log-mel L1 plus a weighted time-domain L1, and
optionally a weighted clip-level RMS term.

For each FFT size the magnitude STFT of output and target is mapped to mel bands with the project's one filterbank
(``aebox_edge.frontend.mel_filterbank``, passed in as a constant) and compared as ``mean |log(M_x + eps) - log(M_y +
eps)|``; the resolutions are summed (a multi-resolution spectral distance as in Wang et al. 2019 and Steinmetz et al.
2022, on mel bands as the paper does), and ``l1_weight * mean |x - y|`` is added (the paper's weight: 2.79).
``loudness_weight * |20 ln rms(x) - 20 ln rms(y)|`` (the RMS metric of ``aebox_edge.evaluation.metrics.rms_error``) is
our addition: the log-mel term weighs every band alike, so it hardly sees the overall level that RMS and LUFS measure.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from aebox_edge.frontend import cached_mel_filterbank

FFT_SIZES = (512, 1024, 2048)
PAPER_L1_WEIGHT = 2.79


def log_mel_tf(audio, sample_rate: int, n_fft: int, n_mels: int, eps: float = 1e-5):
    """``log(mel magnitude + eps)`` of ``audio`` (batch, samples): Hann frames of ``n_fft`` every ``n_fft // 4``."""
    spec = tf.signal.stft(audio, frame_length=n_fft, frame_step=n_fft // 4, fft_length=n_fft,
                          window_fn=tf.signal.hann_window)
    magnitude = tf.sqrt(tf.math.real(spec) ** 2 + tf.math.imag(spec) ** 2 + 1e-12)  # finite gradient at 0
    fb = tf.constant(cached_mel_filterbank(sample_rate, n_fft, n_mels).T)
    return tf.math.log(tf.tensordot(magnitude, fb, axes=1) + eps)


@keras.saving.register_keras_serializable(package="aebox_edge")
class MultiResolutionMelLoss(keras.losses.Loss):
    """Per-example ``sum_r mean|log-mel_r(pred) - log-mel_r(true)| + l1_weight * mean|pred - true|
    + loudness_weight * |20 ln rms(pred) - 20 ln rms(true)|``; mel bands per resolution: ``n_fft // 8``."""

    def __init__(self, sample_rate: int, fft_sizes=FFT_SIZES, l1_weight: float = PAPER_L1_WEIGHT,
                 loudness_weight: float = 0.0, name: str = "mr_mel_l1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.sample_rate = int(sample_rate)
        self.fft_sizes = tuple(int(n) for n in fft_sizes)
        self.l1_weight = float(l1_weight)
        self.loudness_weight = float(loudness_weight)

    def call(self, y_true, y_pred):
        y_true = tf.cast(y_true, tf.float32)
        y_pred = tf.cast(y_pred, tf.float32)
        loss = self.l1_weight * tf.reduce_mean(tf.abs(y_pred - y_true), axis=-1)
        if self.loudness_weight:
            log_rms = [0.5 * tf.math.log(tf.reduce_mean(tf.square(y), axis=-1) + 1e-16) for y in (y_pred, y_true)]
            loss += self.loudness_weight * 20.0 * tf.abs(log_rms[0] - log_rms[1])
        for n_fft in self.fft_sizes:
            mel_true = log_mel_tf(y_true, self.sample_rate, n_fft, n_fft // 8)
            mel_pred = log_mel_tf(y_pred, self.sample_rate, n_fft, n_fft // 8)
            loss += tf.reduce_mean(tf.abs(mel_pred - mel_true), axis=[-2, -1])
        return loss

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate, "fft_sizes": list(self.fft_sizes),
                "l1_weight": self.l1_weight, "loudness_weight": self.loudness_weight}
