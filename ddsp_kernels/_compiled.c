/* The optional compiled kernels of ddsp_kernels: where pip could build this module (setup.py: optional), it is the
 * fast path of two numpy/scipy computations, which hold their definitions and are tested against it. Without it
 * those paths run.
 *
 * detect(peak, out, floor, threshold_db, ratio, knee_db, makeup_db, alpha_r, alpha_a, y1, y_l) -> (y1, y_l)
 *   The compressor's detector (ddsp_kernels/compressor.py; Giannoulis, Massberg & Reiss, JAES 60(6), 2012: the
 *   soft-knee gain computer of their eq. 4 and the smooth decoupled peak detector of eq. 17 followed by an attack
 *   one-pole).
 *   peak      float32 buffer: the linked sample peak |x| per sample (floored at `floor`)
 *   out       writable float32 buffer of the same length: the gain per sample, makeup included (linear)
 *   y1, y_l   the release stage's and the smoothed reduction's state (dB) before the block; returned after it
 *   Raises ValueError if they are not C-contiguous float32 arrays of the same length (BufferError / TypeError for
 *   an object without a (writable) buffer).
 *
 *   Three loops: the level and the gain computer per sample (independent: the compiler vectorizes them), the two
 *   recursions in float64 (sequential), and the gain's exponential (vectorized). The level's log2 and the gain's
 *   exp2 are polynomials on the float's exponent and mantissa (Chebyshev fits made with numpy: log2 of the mantissa
 *   on [sqrt(1/2), sqrt(2)) to 1.1e-7, 2^f on [-1/2, 1/2] to 2.6e-9 relative), because libm's scalar calls are 3-4
 *   times slower than these vectorized loops and are what kept the chain above 0.8 x pedalboard's time; in dB they
 *   are exact to 1e-6, far below what float32 audio resolves.
 *
 * cascade(sos, x, y, zi)
 *   A cascade of second-order sections (ddsp_kernels/iir.py), what scipy.signal.sosfilt computes along axis 0 in
 *   transposed direct form II, in float64 with the same operations in the same order (so the same result wherever
 *   the compiler does not fuse multiply-adds).
 *   sos   float64 (sections, 6), [b0, b1, b2, 1, a1, a2], 1 to MAX_SECTIONS sections
 *   x     float32 (frames, channels) audio;  y: writable float32 of the same shape, the output
 *   zi    writable float64 (sections, 2, channels): the state before the block, replaced by the state after it
 *   Raises ValueError for other dtypes, shapes or layouts.
 *
 *   Pipelined over the sections (a wavefront): at step t, section s of channel c filters sample t - s, so the
 *   sections x channels "lanes" of one step are independent and run as one vectorized loop, instead of a chain of
 *   dependent multiply-adds per sample (scipy's loop): for six sections of stereo about 3 times faster than scipy's
 *   compiled cascade on 60 s at 44.1 kHz, for the two of the K-weighting 4 times. Channels are taken two at a time
 *   (lanes of one step: 2 x sections), an odd one alone. On x86 the call flushes subnormal numbers to zero (a
 *   filter's state decaying through silence reaches them, and computing on them is some 100 times slower), which
 *   changes nothing above 1e-308.
 *
 * true_peak(x, phases, peak)
 *   The limiter's interpolated phases (ddsp_kernels/limiter.py: BS.1770-4 Annex 2 true peak, a Kaiser-windowed sinc
 *   interpolator): for every output j, peak[j] = max(peak[j], |sum_k phases[p, k] x[j + k, c]| over the phases p and
 *   channels c), in float32.
 *   x       float32 (n + taps - 1, channels) audio;  phases: float32 (phase count, taps)
 *   peak    writable float32 (n,): the sample peaks in, the true peaks out
 *   Raises ValueError for other dtypes, shapes or layouts.
 *
 *   Each channel is copied out contiguous, then GROUP phases are accumulated tap by tap for LANES outputs at a time
 *   (GCC / Clang vector types, SSE or NEON: GROUP x LANES sums in registers, independent chains of additions), the
 *   taps' sums in order: numpy's float32 product up to its summation order (a few ulp). 0.9 ms for a second of
 *   stereo at 44.1 kHz, against 24 ms for the numpy path's product of the sliding windows (a copy of 24 floats per
 *   sample and channel).
 *
 * limiter_gain(peak, history, averaged, gain, ceiling, release, min_reduction_db, scale, v) -> (v, reduced)
 *   The limiter's gain computer and ballistics (ddsp_kernels/limiter.py, TruePeakLimiter._gain_db) one sample at a
 *   time: the true peaks held over the last len(history) + 1 samples (van Herk / Gil-Werman running maxima), the
 *   reduction u = 20 log10(held / ceiling) dB above the ceiling, the release v = max(u, release v) (Giannoulis et
 *   al. eq. 17 with instant attack; a v below min_reduction_db is 0, state included), and the attack as the moving
 *   average of v over len(averaged) + 1 samples, summed in fixed point (ceil(v * scale) as int64: exact and
 *   block-independent).
 *   peak      float64 (n,): the true peaks of the arriving samples
 *   history   writable float64 (hold,): the hold's last peaks before the block, replaced by those after it
 *   averaged  writable int64 (lookahead,): the last fixed-point reductions, likewise
 *   gain      writable float64 (n,): the gain in dB (<= 0) of the samples leaving
 *   v         the release state (dB) before the block; returned after it, with whether any reduction (this
 *             block's or the averaged one) is non-zero
 *   Raises ValueError for other dtypes, shapes or layouts.
 *   The numpy path evaluates the release in the log domain on a grid of absolute positions (so that numpy can
 *   vectorize it); given the same peaks the two gains agree to 1e-12 dB. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

/* max(a, 0) without a branch (exact: a + |a| is 2a or 0) */
static inline float positive(float a) { return 0.5f * (a + fabsf(a)); }

/* log2(p) for a finite p > 0: p = 2^k m with m in [sqrt(1/2), sqrt(2)), log2(m) a degree-8 polynomial of m - 1 */
static inline float log2_positive(float p) {
    int32_t bits, mantissa;
    float m;
    memcpy(&bits, &p, sizeof bits);
    const int32_t shifted = bits - 0x3f3504f3;  /* the bits of sqrt(1/2) */
    const int32_t k = shifted >> 23;
    mantissa = bits - (int32_t)((uint32_t)shifted & 0xff800000u);
    memcpy(&m, &mantissa, sizeof m);
    const float f = m - 1.0f;
    float r = -0.1419968572480701f;
    r = r * f + 0.23611252669922286f;
    r = r * f - 0.25111486023409807f;
    r = r * f + 0.28684787637225095f;
    r = r * f - 0.3599830302649901f;
    r = r * f + 0.4809326422563816f;
    r = r * f - 0.7213611606757773f;
    r = r * f + 1.4426948347194788f;
    r = r * f + 4.128745141607215e-08f;
    return (float)k + r;
}

/* 2^g for |g| <= 126 (clamped there): g = n + f with n an integer (rounded by adding and subtracting 1.5 * 2^23),
 * 2^f a degree-6 polynomial, 2^n added to the float's exponent */
static inline float exp2_clamped(float g) {
    g = g < -126.0f ? -126.0f : (g > 126.0f ? 126.0f : g);
    const float n = (g + 12582912.0f) - 12582912.0f;
    const float f = g - n;
    float r = 0.00015469736132049615f;
    r = r * f + 0.001340043694612824f;
    r = r * f + 0.009618025589973477f;
    r = r * f + 0.055503272022570355f;
    r = r * f + 0.2402265121369266f;
    r = r * f + 0.6931472067162233f;
    r = r * f + 0.9999999999595381f;
    int32_t bits;
    memcpy(&bits, &r, sizeof bits);
    bits += (int32_t)n * (1 << 23);
    memcpy(&r, &bits, sizeof r);
    return r;
}

/* a C-contiguous buffer of obj of `ndim` dimensions whose items are `dtype` ("float32", "float64" or "int64";
 * writable if asked); 0 on success, -1 with an exception set */
static int typed_buffer(PyObject *obj, Py_buffer *view, const char *dtype, int ndim, int writable, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    const char *formats = dtype[0] == 'i' ? "qlL" : (strcmp(dtype, "float32") == 0 ? "f" : "d");
    const Py_ssize_t itemsize = dtype[0] == 'i' ? 8 : (strcmp(dtype, "float32") == 0 ? 4 : 8);
    const char *format = view->format;
    if (format != NULL && (format[0] == '<' || format[0] == '=' || format[0] == '@'))
        format++;
    if (format == NULL || strlen(format) != 1 || strchr(formats, format[0]) == NULL || format[0] == 'L' ||
        view->itemsize != itemsize || view->ndim != ndim) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%s must be a C-contiguous %s array of %d dimension(s)", name, dtype, ndim);
        return -1;
    }
    return 0;
}

static PyObject *detect(PyObject *self, PyObject *args) {
    PyObject *peak_obj, *out_obj;
    Py_buffer peak, out;
    double floor_level, threshold, ratio, knee, makeup, alpha_r, alpha_a, y1, y_l;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOddddddddd", &peak_obj, &out_obj, &floor_level, &threshold, &ratio, &knee,
                          &makeup, &alpha_r, &alpha_a, &y1, &y_l))
        return NULL;
    if (typed_buffer(peak_obj, &peak, "float32", 1, 0, "peak") < 0)
        return NULL;
    if (typed_buffer(out_obj, &out, "float32", 1, 1, "out") < 0) {
        PyBuffer_Release(&peak);
        return NULL;
    }
    if (peak.len != out.len) {
        PyBuffer_Release(&peak);
        PyBuffer_Release(&out);
        PyErr_SetString(PyExc_ValueError, "peak and out must have the same length");
        return NULL;
    }
    const float *x = (const float *)peak.buf;
    float *g = (float *)out.buf;
    const Py_ssize_t n = peak.len / (Py_ssize_t)sizeof(float);
    /* the gain computer in float32, as static_gain_db computes it for float32 levels (a hard knee is a 1e-9 dB
     * soft one): reduction = (1 - 1/R) (w^2 / (2k) + max(u - k, 0)), u = level - T + k/2, w = clip(u, 0, k) */
    const float k = knee > 1e-9 ? (float)knee : 1e-9f;
    const float bottom = (float)(threshold - (double)k / 2), slope = (float)(1.0 - 1.0 / ratio);
    const float curve = slope / (2.0f * k), floor_f = (float)floor_level;
    const float db_per_octave = (float)(20.0 * log10(2.0));
    const double release_in = 1.0 - alpha_r, attack_in = 1.0 - alpha_a;
    const float makeup_f = (float)makeup, octaves_per_db = (float)(log2(10.0) / 20.0);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const float level = db_per_octave * log2_positive(x[i] > floor_f ? x[i] : floor_f);
        const float u = level - bottom;
        const float w = k - positive(k - positive(u));
        g[i] = curve * w * w + slope * positive(u - k);
    }
    for (Py_ssize_t i = 0; i < n; i++) {  /* the recursions in float64, as the numpy path's scans */
        const double reduction = g[i];
        const double held = alpha_r * y1 + release_in * reduction;
        y1 = reduction > held ? reduction : held;
        y_l = alpha_a * y_l + attack_in * y1;
        g[i] = (makeup_f - (float)y_l) * octaves_per_db;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        g[i] = exp2_clamped(g[i]);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&peak);
    PyBuffer_Release(&out);
    return Py_BuildValue("dd", y1, y_l);
}

/* A cascade of S sections over C channels (C = 1 or 2: one step's lanes, S * C of them, lane s * C + c being
 * section s of channel c) of the channels at x, y (frame stride `stride` floats) and zi (channel stride `stride`
 * doubles: zi[(2 s + k) * stride]). Step t runs the lanes whose sample t - s exists; in the steady state all of them,
 * reading the previous step's outputs of the section before (v). */
#define DEFINE_CASCADE(NAME, S, C)                                                                                 \
    static void NAME(const double *sos, const float *x, float *y, Py_ssize_t n, Py_ssize_t stride, double *zi) {   \
        enum { L = S * C };                                                                                        \
        double b0[L], b1[L], b2[L], a1[L], a2[L], z1[L], z2[L], v[L];                                              \
        for (int s = 0; s < S; s++)                                                                                \
            for (int c = 0; c < C; c++) {                                                                          \
                const int l = s * C + c;                                                                           \
                b0[l] = sos[6 * s];                                                                                \
                b1[l] = sos[6 * s + 1];                                                                            \
                b2[l] = sos[6 * s + 2];                                                                            \
                a1[l] = sos[6 * s + 4];                                                                            \
                a2[l] = sos[6 * s + 5];                                                                            \
                z1[l] = zi[2 * s * stride + c];                                                                    \
                z2[l] = zi[(2 * s + 1) * stride + c];                                                              \
                v[l] = 0.0;                                                                                        \
            }                                                                                                      \
        for (Py_ssize_t t = 0; t < n + S - 1; t++) {                                                               \
            if (t >= S - 1 && t < n) { /* every lane: one vectorized loop */                                       \
                double u[L];                                                                                       \
                for (int c = 0; c < C; c++)                                                                        \
                    u[c] = x[t * stride + c];                                                                      \
                for (int l = C; l < L; l++)                                                                        \
                    u[l] = v[l - C];                                                                               \
                for (int l = 0; l < L; l++) {                                                                      \
                    const double out = b0[l] * u[l] + z1[l];                                                       \
                    z1[l] = b1[l] * u[l] - a1[l] * out + z2[l];                                                    \
                    z2[l] = b2[l] * u[l] - a2[l] * out;                                                            \
                    v[l] = out;                                                                                    \
                }                                                                                                  \
            } else { /* filling or draining the pipeline: the lanes that have a sample, last section first */     \
                for (int l = L - 1; l >= 0; l--) {                                                                 \
                    const int s = l / C;                                                                           \
                    const Py_ssize_t i = t - s;                                                                    \
                    if (i < 0 || i >= n)                                                                           \
                        continue;                                                                                  \
                    const double u = s == 0 ? (double)x[i * stride + l] : v[l - C];                                \
                    const double out = b0[l] * u + z1[l];                                                          \
                    z1[l] = b1[l] * u - a1[l] * out + z2[l];                                                       \
                    z2[l] = b2[l] * u - a2[l] * out;                                                               \
                    v[l] = out;                                                                                    \
                }                                                                                                  \
            }                                                                                                      \
            if (t >= S - 1)                                                                                        \
                for (int c = 0; c < C; c++)                                                                        \
                    y[(t - S + 1) * stride + c] = (float)v[(S - 1) * C + c];                                       \
        }                                                                                                          \
        for (int s = 0; s < S; s++)                                                                                \
            for (int c = 0; c < C; c++) {                                                                          \
                zi[2 * s * stride + c] = z1[s * C + c];                                                            \
                zi[(2 * s + 1) * stride + c] = z2[s * C + c];                                                      \
            }                                                                                                      \
    }

#define MAX_SECTIONS 6
DEFINE_CASCADE(cascade_1x1, 1, 1)
DEFINE_CASCADE(cascade_2x1, 2, 1)
DEFINE_CASCADE(cascade_3x1, 3, 1)
DEFINE_CASCADE(cascade_4x1, 4, 1)
DEFINE_CASCADE(cascade_5x1, 5, 1)
DEFINE_CASCADE(cascade_6x1, 6, 1)
DEFINE_CASCADE(cascade_1x2, 1, 2)
DEFINE_CASCADE(cascade_2x2, 2, 2)
DEFINE_CASCADE(cascade_3x2, 3, 2)
DEFINE_CASCADE(cascade_4x2, 4, 2)
DEFINE_CASCADE(cascade_5x2, 5, 2)
DEFINE_CASCADE(cascade_6x2, 6, 2)

typedef void (*cascade_fn)(const double *, const float *, float *, Py_ssize_t, Py_ssize_t, double *);
static const cascade_fn cascades[2][MAX_SECTIONS] = {
    {cascade_1x1, cascade_2x1, cascade_3x1, cascade_4x1, cascade_5x1, cascade_6x1},
    {cascade_1x2, cascade_2x2, cascade_3x2, cascade_4x2, cascade_5x2, cascade_6x2},
};

static PyObject *cascade(PyObject *self, PyObject *args) {
    PyObject *sos_obj, *x_obj, *y_obj, *zi_obj;
    Py_buffer sos, x, y, zi;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO", &sos_obj, &x_obj, &y_obj, &zi_obj))
        return NULL;
    if (typed_buffer(sos_obj, &sos, "float64", 2, 0, "sos") < 0)
        return NULL;
    if (typed_buffer(x_obj, &x, "float32", 2, 0, "x") < 0)
        goto release_sos;
    if (typed_buffer(y_obj, &y, "float32", 2, 1, "y") < 0)
        goto release_x;
    if (typed_buffer(zi_obj, &zi, "float64", 3, 1, "zi") < 0)
        goto release_y;
    const Py_ssize_t sections = sos.shape[0], frames = x.shape[0], channels = x.shape[1];
    if (sos.shape[1] != 6 || sections < 1 || sections > MAX_SECTIONS || y.shape[0] != frames ||
        y.shape[1] != channels || zi.shape[0] != sections || zi.shape[1] != 2 || zi.shape[2] != channels) {
        PyErr_Format(PyExc_ValueError, "cascade: sos must be (sections, 6) with 1 to %d sections, y shaped as x "
                     "(frames, channels) and zi (sections, 2, channels)", MAX_SECTIONS);
        PyBuffer_Release(&zi);
        goto release_y;
    }
    {
        const double *coefficients = (const double *)sos.buf;
        const float *in = (const float *)x.buf;
        float *out = (float *)y.buf;
        double *state = (double *)zi.buf;
        Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_MXCSR
        const unsigned int mxcsr = _mm_getcsr();
        _mm_setcsr(mxcsr | 0x8040); /* flush to zero, denormals are zero */
#endif
        for (Py_ssize_t c = 0; c < channels; c += 2) {
            const int pair = c + 1 < channels;
            cascades[pair][sections - 1](coefficients, in + c, out + c, frames, channels, state + c);
        }
#ifdef HAVE_MXCSR
        _mm_setcsr(mxcsr);
#endif
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&zi);
    PyBuffer_Release(&y);
    PyBuffer_Release(&x);
    PyBuffer_Release(&sos);
    Py_RETURN_NONE;
release_y:
    PyBuffer_Release(&y);
release_x:
    PyBuffer_Release(&x);
release_sos:
    PyBuffer_Release(&sos);
    return NULL;
}

#define LANES 8
#define GROUP 3
#define VEC 4
typedef float vec __attribute__((vector_size(VEC * sizeof(float)))); /* GCC / Clang vectors: SSE, NEON */

static PyObject *true_peak(PyObject *self, PyObject *args) {
    PyObject *x_obj, *phases_obj, *peak_obj;
    Py_buffer x, phases, peak;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO", &x_obj, &phases_obj, &peak_obj))
        return NULL;
    if (typed_buffer(x_obj, &x, "float32", 2, 0, "x") < 0)
        return NULL;
    if (typed_buffer(phases_obj, &phases, "float32", 2, 0, "phases") < 0)
        goto release_x;
    if (typed_buffer(peak_obj, &peak, "float32", 1, 1, "peak") < 0)
        goto release_phases;
    const Py_ssize_t count = phases.shape[0], taps = phases.shape[1], n = peak.shape[0], channels = x.shape[1];
    if (taps < 1 || x.shape[0] != n + taps - 1) {
        PyErr_SetString(PyExc_ValueError, "true_peak: x must have len(peak) + taps - 1 frames");
        PyBuffer_Release(&peak);
        goto release_phases;
    }
    float *channel = PyMem_RawMalloc((size_t)(x.shape[0] > 0 ? x.shape[0] : 1) * sizeof(float));
    float *zeros = PyMem_RawCalloc((size_t)taps, sizeof(float));
    if (channel == NULL || zeros == NULL) {
        PyMem_RawFree(channel);
        PyMem_RawFree(zeros);
        PyErr_NoMemory();
        PyBuffer_Release(&peak);
        goto release_phases;
    }
    {
        const float *in = (const float *)x.buf, *h = (const float *)phases.buf;
        float *out = (float *)peak.buf;
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t c = 0; c < channels; c++) {
            for (Py_ssize_t i = 0; i < x.shape[0]; i++)
                channel[i] = in[i * channels + c];
            for (Py_ssize_t p0 = 0; p0 < count; p0 += GROUP) {
                const float *tap[GROUP]; /* GROUP phases at a time (missing ones: zero taps) */
                for (int g = 0; g < GROUP; g++)
                    tap[g] = p0 + g < count ? h + (p0 + g) * taps : zeros;
                Py_ssize_t j = 0;
                for (; j + LANES <= n; j += LANES) { /* GROUP x LANES outputs in registers, the taps in order */
                    vec acc[GROUP][LANES / VEC] = {{{0.0f}}};
                    for (Py_ssize_t k = 0; k < taps; k++) {
                        vec window[LANES / VEC];
                        memcpy(window, channel + j + k, sizeof window);
                        for (int g = 0; g < GROUP; g++) {
                            const float t = tap[g][k];
                            for (int q = 0; q < LANES / VEC; q++)
                                acc[g][q] += t * window[q];
                        }
                    }
                    float sums[GROUP][LANES];
                    memcpy(sums, acc, sizeof sums);
                    for (int g = 0; g < GROUP; g++)
                        for (int q = 0; q < LANES; q++) {
                            const float a = fabsf(sums[g][q]);
                            out[j + q] = a > out[j + q] ? a : out[j + q];
                        }
                }
                for (; j < n; j++)
                    for (int g = 0; g < GROUP; g++) {
                        float acc = 0.0f;
                        for (Py_ssize_t k = 0; k < taps; k++)
                            acc += tap[g][k] * channel[j + k];
                        const float a = fabsf(acc);
                        out[j] = a > out[j] ? a : out[j];
                    }
            }
        }
        Py_END_ALLOW_THREADS
    }
    PyMem_RawFree(channel);
    PyMem_RawFree(zeros);
    PyBuffer_Release(&peak);
    PyBuffer_Release(&phases);
    PyBuffer_Release(&x);
    Py_RETURN_NONE;
release_phases:
    PyBuffer_Release(&phases);
release_x:
    PyBuffer_Release(&x);
    return NULL;
}

static PyObject *limiter_gain(PyObject *self, PyObject *args) {
    PyObject *peak_obj, *history_obj, *averaged_obj, *gain_obj;
    Py_buffer peak, history, averaged, gain;
    double ceiling, release, min_reduction, scale, v;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOddddd", &peak_obj, &history_obj, &averaged_obj, &gain_obj, &ceiling, &release,
                          &min_reduction, &scale, &v))
        return NULL;
    if (typed_buffer(peak_obj, &peak, "float64", 1, 0, "peak") < 0)
        return NULL;
    if (typed_buffer(history_obj, &history, "float64", 1, 1, "history") < 0)
        goto release_peak;
    if (typed_buffer(averaged_obj, &averaged, "int64", 1, 1, "averaged") < 0)
        goto release_history;
    if (typed_buffer(gain_obj, &gain, "float64", 1, 1, "gain") < 0)
        goto release_averaged;
    const Py_ssize_t n = peak.shape[0], hold = history.shape[0], lookahead = averaged.shape[0];
    if (gain.shape[0] != n || hold < 1 || lookahead < 1) {
        PyErr_SetString(PyExc_ValueError, "limiter_gain: gain must be as long as peak; history and averaged not empty");
        goto release_gain;
    }
    /* s = history then peak, and its running maxima within blocks of the window's length, forward and backward (van
     * Herk 1992; Gil & Werman 1993): the maximum over any window is that of two of them, without branches */
    const Py_ssize_t total = hold + n, window = hold + 1;
    double *s = PyMem_RawMalloc((size_t)total * 3 * sizeof(double));
    int64_t *r = PyMem_RawMalloc((size_t)(lookahead + n) * sizeof(int64_t));
    if (s == NULL || r == NULL) {
        PyMem_RawFree(s);
        PyMem_RawFree(r);
        PyErr_NoMemory();
        goto release_gain;
    }
    int reduced = 0;
    {
        double *hist = (double *)history.buf, *out = (double *)gain.buf;
        int64_t *avg = (int64_t *)averaged.buf;
        Py_BEGIN_ALLOW_THREADS
        memcpy(s, hist, (size_t)hold * sizeof(double));
        memcpy(s + hold, peak.buf, (size_t)n * sizeof(double));
        memcpy(r, avg, (size_t)lookahead * sizeof(int64_t));
        double *forward = s + total, *backward = s + 2 * total;
        for (Py_ssize_t start = 0; start < total; start += window) {
            const Py_ssize_t end = start + window < total ? start + window : total;
            forward[start] = s[start];
            for (Py_ssize_t i = start + 1; i < end; i++)
                forward[i] = s[i] > forward[i - 1] ? s[i] : forward[i - 1];
            backward[end - 1] = s[end - 1];
            for (Py_ssize_t i = end - 2; i >= start; i--)
                backward[i] = s[i] > backward[i + 1] ? s[i] : backward[i + 1];
        }
        double last_held = -1.0, u = 0.0;
        for (Py_ssize_t i = hold; i < total; i++) {
            const double held = backward[i - hold] > forward[i] ? backward[i - hold] : forward[i]; /* s[i-hold..i] */
            if (held != last_held) { /* held is piecewise constant: its logarithm once per value */
                last_held = held;
                u = held > ceiling ? 20.0 * log10(held / ceiling) : 0.0;
            }
            const double decayed = release * v;
            v = u > decayed ? u : decayed;
            if (v < min_reduction) /* no reduction, and a state that cannot rise above it again: dropped */
                v = 0.0;
            r[lookahead + i - hold] = (int64_t)ceil(v * scale);
        }
        int64_t sum = 0;
        for (Py_ssize_t k = 0; k < lookahead + n; k++)
            reduced |= r[k] != 0;
        for (Py_ssize_t k = 0; k < lookahead; k++)
            sum += r[k];
        const double to_db = -1.0 / ((double)(lookahead + 1) * scale);
        for (Py_ssize_t i = 0; i < n; i++) {
            sum += r[lookahead + i];
            out[i] = (double)sum * to_db;
            sum -= r[i];
        }
        memcpy(hist, s + n, (size_t)hold * sizeof(double));
        memcpy(avg, r + n, (size_t)lookahead * sizeof(int64_t));
        Py_END_ALLOW_THREADS
    }
    PyMem_RawFree(s);
    PyMem_RawFree(r);
    PyBuffer_Release(&gain);
    PyBuffer_Release(&averaged);
    PyBuffer_Release(&history);
    PyBuffer_Release(&peak);
    return Py_BuildValue("dO", v, reduced ? Py_True : Py_False);
release_gain:
    PyBuffer_Release(&gain);
release_averaged:
    PyBuffer_Release(&averaged);
release_history:
    PyBuffer_Release(&history);
release_peak:
    PyBuffer_Release(&peak);
    return NULL;
}

static PyMethodDef methods[] = {
    {"detect", detect, METH_VARARGS, "The compressor's gain per sample from the linked peak (see the source)."},
    {"cascade", cascade, METH_VARARGS, "A cascade of second-order sections on float32 audio (see the source)."},
    {"true_peak", true_peak, METH_VARARGS, "The limiter's true peaks of float32 audio (see the source)."},
    {"limiter_gain", limiter_gain, METH_VARARGS, "The limiter's gain from the true peaks (see the source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_compiled", NULL, -1, methods};

PyMODINIT_FUNC PyInit__compiled(void) { return PyModule_Create(&module); }
