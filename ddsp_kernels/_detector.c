/* The compressor's detector compiled: the optional fast path of ddsp_kernels/compressor.py, which holds the
 * definition (Giannoulis, Massberg & Reiss, JAES 60(6), 2012: the soft-knee gain computer of their eq. 4 and the
 * smooth decoupled peak detector of eq. 17 followed by an attack one-pole) and the numpy path this must equal
 * (tests/kernels/test_compressor.py). Built by pip where a C compiler is present (setup.py: optional); without it
 * the numpy path runs.
 *
 * detect(peak, out, floor, threshold_db, ratio, knee_db, makeup_db, alpha_r, alpha_a, y1, y_l) -> (y1, y_l)
 *   peak      float32 buffer: the linked sample peak |x| per sample (floored at `floor`)
 *   out       writable float32 buffer of the same length: the gain per sample, makeup included (linear)
 *   y1, y_l   the release stage's and the smoothed reduction's state (dB) before the block; returned after it
 * Raises ValueError if they are not C-contiguous float32 arrays of the same length (BufferError / TypeError for
 * an object without a (writable) buffer).
 *
 * Three loops: the level and the gain computer per sample (independent: the compiler vectorizes them), the two
 * recursions in float64 (sequential), and the gain's exponential (vectorized). The level's log2 and the gain's exp2
 * are polynomials on the float's exponent and mantissa (Chebyshev fits made with numpy: log2 of the mantissa on
 * [sqrt(1/2), sqrt(2)) to 1.1e-7, 2^f on [-1/2, 1/2] to 2.6e-9 relative), because libm's scalar calls are 3-4 times
 * slower than these vectorized loops and are what kept the chain above 0.8 x pedalboard's time; in dB they are exact
 * to 1e-6, far below what float32 audio resolves. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

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

/* a C-contiguous float32 buffer of obj (writable if asked); 0 on success, -1 with ValueError set */
static int float32_buffer(PyObject *obj, Py_buffer *view, int writable) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->itemsize != (Py_ssize_t)sizeof(float) || view->format == NULL || strcmp(view->format, "f") != 0) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_ValueError, "peak and out must be float32 arrays");
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
    if (float32_buffer(peak_obj, &peak, 0) < 0)
        return NULL;
    if (float32_buffer(out_obj, &out, 1) < 0) {
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

static PyMethodDef methods[] = {
    {"detect", detect, METH_VARARGS, "The compressor's gain per sample from the linked peak (see the source)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_detector", NULL, -1, methods};

PyMODINIT_FUNC PyInit__detector(void) { return PyModule_Create(&module); }
