/* SPDX-License-Identifier: MIT
 *
 * kernels.c - the fused element-wise passes around the BLAS calls. Each one
 * reads and writes its buffer once.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

/* The loops below are written so that GCC vectorises them (built with -O3
 * -fno-trapping-math, see CMakeLists.txt), and cloned for AVX-512 and AVX2
 * with a run-time choice (ifunc). The build keeps -ffp-contract=off (ISO C
 * mode), so every clone rounds exactly alike: results do not depend on the
 * CPU's vector width. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__)
#define RNN_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RNN_VECTOR_CLONES
#endif

/* tanh, branch-free so that it vectorises (glibc's tanhf is several times
 * slower). 1.16 ulp at worst: 1.157 ulp at 0x1.e1d524p-1, checked against
 * double tanh on every float (glibc's tanhf: 1.2). Both ranges end in one
 * shared division, A - N / D:
 *  - |v| < 0.98: |v| - |v|^3 / D(v^2), D a degree-3 minimax fit of
 *    v^3 / (v - tanh v) (relative error, weighted by the share of the
 *    correction in tanh v: 0.03 ulp);
 *  - else 1 - 2 / (e^{2|v|} + 1) with |v| clamped to 10 (tanh(10) rounds
 *    to 1): 2|v| = n ln 2 + 2r, |r| <= ln(2)/4, and e^{2r} = (E + O) /
 *    (E - O), E = 1 + e r^2, O = r + o r^3 (minimax, 2e-10 relative), so
 *    2 / (e^{2|v|} + 1) = (E - O) / (2^{n-1} (E + O) + (E - O) / 2).
 * NaN stays NaN, so the check mode can still see it. */
static inline float tanh_approx(float v)
{
    const float a = fabsf(v);

    const float u = a * a;
    float q = 0.00022794273232854441f;
    q = q * u - 0.0056943221113511239f;
    q = q * u + 1.1999939440430683f;
    q = q * u + 3.0000005655352178f;
    const float cube = a * u;

    const float b = a > 10.0f ? 10.0f : a; /* keeps NaN */
    /* n = round(2b / ln 2) by the 1.5 * 2^23 trick, which leaves n in the
     * low bits of m; r = b - n ln(2)/2 in two parts (ln(2)/2 =
     * 0.3465728759765625 + 7.143034101547086e-7: n times the first part is
     * exact). */
    const float m = b * 2.88539008177792681f + 0x1.8p23f;
    const float n = m - 0x1.8p23f;
    float r = b - n * 0.3465728759765625f;
    r = r - n * 7.1430341015470860e-7f;
    const float s = r * r;
    const float e = s * 0.39991428458408940f + 1.0f;
    const float o = r + r * s * 0.066581247839239166f;
    const float sum = e + o, dif = e - o;
    uint32_t bits;
    memcpy(&bits, &m, sizeof bits);
    bits = (bits << 23) + (126u << 23); /* 2^{n-1}, 0 <= n <= 29 */
    float half_scale;
    memcpy(&half_scale, &bits, sizeof half_scale);
    const float den = half_scale * sum + 0.5f * dif;

    const bool small = a < 0.98f;
    const float A = small ? a : 1.0f;
    const float N = small ? cube : dif;
    const float D = small ? q : den;
    return copysignf(A - N / D, v);
}

RNN_VECTOR_CLONES
void rnn__add_bias(float *rows, size_t count, int32_t width, const float *b_ih,
                   const float *b_hh)
{
    for (size_t r = 0; r < count; ++r) {
        float *row = rows + r * (size_t)width;
        if (b_hh != NULL)
            for (int32_t j = 0; j < width; ++j)
                row[j] += b_ih[j] + b_hh[j];
        else
            for (int32_t j = 0; j < width; ++j)
                row[j] += b_ih[j];
    }
}

RNN_VECTOR_CLONES
void rnn__act(float *h, size_t n, int32_t nonlinearity)
{
    /* One flat loop over all rows: at small H a loop per row spends more on
     * its prologue and remainder than on the rows themselves. */
    if (nonlinearity == RNN_TANH)
        for (size_t i = 0; i < n; ++i)
            h[i] = tanh_approx(h[i]);
    else
        for (size_t i = 0; i < n; ++i)
            h[i] = h[i] < 0.0f ? 0.0f : h[i]; /* keeps NaN */
}

RNN_VECTOR_CLONES
void rnn__mul_act_grad(float *grad, const float *h, size_t n,
                       int32_t nonlinearity)
{
    /* The derivative comes from the saved output alone: tanh' = 1 - h^2 and
     * relu' = [h > 0], so forward keeps no pre-activations. */
    if (nonlinearity == RNN_TANH)
        for (size_t i = 0; i < n; ++i)
            grad[i] *= 1.0f - h[i] * h[i];
    else
        for (size_t i = 0; i < n; ++i)
            grad[i] = h[i] > 0.0f ? grad[i] : 0.0f;
}

/* The logistic function through tanh_approx, sigmoid(v) = (1 + tanh(v/2))
 * / 2: the halvings are exact, so it keeps tanh's accuracy (absolute error
 * within an ulp of 1/2 where sigmoid is tiny). */
static inline float sigmoid_approx(float v)
{
    return 0.5f * tanh_approx(0.5f * v) + 0.5f;
}

/* GCC: the rows a loop writes never overlap the rows it reads, except h and
 * h_prev, which may be the same array (rnn_step), read before written at
 * the same index: no dependence between iterations, so the vectoriser need
 * not version the loop on address checks. */
#if defined(__GNUC__) && !defined(__clang__)
#define RNN_NO_LOOP_DEPENDENCE _Pragma("GCC ivdep")
#else
#define RNN_NO_LOOP_DEPENDENCE
#endif

RNN_VECTOR_CLONES
void rnn__gru_forward(float *gates, const float *rec, const float *h_prev,
                      float *h, float *rec_n, size_t rows, int32_t hidden)
{
    const size_t H = (size_t)hidden;
    for (size_t b = 0; b < rows; ++b) {
        float *g = gates + b * 3 * H;
        const float *q = rec + b * 3 * H;
        const float *hp = h_prev + b * H;
        float *ho = h + b * H, *qn = rec_n + b * H;
        RNN_NO_LOOP_DEPENDENCE
        for (size_t j = 0; j < H; ++j) {
            const float r = sigmoid_approx(g[j] + q[j]);
            const float z = sigmoid_approx(g[H + j] + q[H + j]);
            const float n = tanh_approx(g[2 * H + j] + r * q[2 * H + j]);
            const float prev = hp[j];
            qn[j] = q[2 * H + j];
            g[j] = r;
            g[H + j] = z;
            g[2 * H + j] = n;
            /* torch's order of operations: n + z * (h_prev - n) */
            ho[j] = n + z * (prev - n);
        }
    }
}

RNN_VECTOR_CLONES
void rnn__gru_backward(float *d_in, float *d_rec, float *dh_prev,
                       const float *dh, const float *gates, const float *rec_n,
                       const float *h_prev, size_t rows, int32_t hidden)
{
    const size_t H = (size_t)hidden;
    for (size_t b = 0; b < rows; ++b) {
        const float *g = gates + b * 3 * H, *qn = rec_n + b * H;
        const float *hp = h_prev + b * H, *d = dh + b * H;
        float *da = d_in + b * 3 * H, *dr = d_rec + b * 3 * H;
        float *dp = dh_prev + b * H;
        RNN_NO_LOOP_DEPENDENCE
        for (size_t j = 0; j < H; ++j) {
            const float r = g[j], z = g[H + j], n = g[2 * H + j];
            const float dh_j = d[j];
            const float dn = dh_j * (1.0f - z) * (1.0f - n * n);
            const float dz = dh_j * (hp[j] - n) * (z * (1.0f - z));
            const float d_r = dn * qn[j] * (r * (1.0f - r));
            da[j] = d_r;
            da[H + j] = dz;
            da[2 * H + j] = dn;
            dr[j] = d_r;
            dr[H + j] = dz;
            dr[2 * H + j] = dn * r;
            dp[j] = dh_j * z;
        }
    }
}

RNN_VECTOR_CLONES
void rnn__add_col_sums(float *sums, const float *m, size_t rows, int32_t cols)
{
    for (size_t r = 0; r < rows; ++r) {
        const float *row = m + r * (size_t)cols;
        for (int32_t j = 0; j < cols; ++j)
            sums[j] += row[j];
    }
}

RNN_VECTOR_CLONES
void rnn__add(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        dst[i] += src[i];
}

void rnn__transpose(float *dst, int32_t ld, const float *src, int32_t rows,
                    int32_t cols)
{
    /* 16 x 16 tiles: a row-by-row transpose writes one float per cache line
     * and runs several times slower (docs/benchmarks.md). */
    enum { TILE = 16 };
    for (int32_t i0 = 0; i0 < rows; i0 += TILE) {
        const int32_t i1 = i0 + TILE < rows ? i0 + TILE : rows;
        for (int32_t j0 = 0; j0 < cols; j0 += TILE) {
            const int32_t j1 = j0 + TILE < cols ? j0 + TILE : cols;
            for (int32_t j = j0; j < j1; ++j)
                for (int32_t i = i0; i < i1; ++i)
                    dst[(size_t)j * ld + i] = src[(size_t)i * cols + j];
        }
    }
}

void rnn__swap_tb(float *dst, const float *src, int32_t seq_len,
                  int32_t batch, int32_t cols, bool to_time_major)
{
    const size_t row_bytes = (size_t)cols * sizeof(float);
    for (int32_t t = 0; t < seq_len; ++t) {
        for (int32_t b = 0; b < batch; ++b) {
            size_t time_major = ((size_t)t * batch + b) * (size_t)cols;
            size_t batch_major = ((size_t)b * seq_len + t) * (size_t)cols;
            if (to_time_major)
                memcpy(dst + time_major, src + batch_major, row_bytes);
            else
                memcpy(dst + batch_major, src + time_major, row_bytes);
        }
    }
}

RNN_VECTOR_CLONES
void rnn__lstm_forward(float *gates, const float *c_prev, float *c, float *h,
                       size_t rows, int32_t hidden)
{
    const size_t H = (size_t)hidden;
    for (size_t b = 0; b < rows; ++b) {
        float *g = gates + b * 4 * H;
        const float *cp = c_prev + b * H;
        float *co = c + b * H, *ho = h + b * H;
        RNN_NO_LOOP_DEPENDENCE
        for (size_t j = 0; j < H; ++j) {
            const float i = sigmoid_approx(g[j]);
            const float f = sigmoid_approx(g[H + j]);
            const float n = tanh_approx(g[2 * H + j]);
            const float o = sigmoid_approx(g[3 * H + j]);
            /* torch's order of operations: (f * c_prev) + (i * g) */
            const float cell = f * cp[j] + i * n;
            g[j] = i;
            g[H + j] = f;
            g[2 * H + j] = n;
            g[3 * H + j] = o;
            co[j] = cell;
            ho[j] = o * tanh_approx(cell);
        }
    }
}

RNN_VECTOR_CLONES
void rnn__lstm_backward(float *d_gates, float *dc, const float *dh,
                        const float *gates, const float *c_prev,
                        const float *c, size_t rows, int32_t hidden)
{
    const size_t H = (size_t)hidden;
    for (size_t b = 0; b < rows; ++b) {
        const float *g = gates + b * 4 * H;
        const float *cp = c_prev + b * H, *cn = c + b * H, *d = dh + b * H;
        float *da = d_gates + b * 4 * H, *dcb = dc + b * H;
        RNN_NO_LOOP_DEPENDENCE
        for (size_t j = 0; j < H; ++j) {
            const float i = g[j], f = g[H + j], n = g[2 * H + j];
            const float o = g[3 * H + j];
            /* tanh(c_t) again rather than kept: one more pass over [B, H]
             * per step costs less than a [T, B, H] block in the cache */
            const float tc = tanh_approx(cn[j]);
            const float dc_t = dcb[j] + d[j] * o * (1.0f - tc * tc);
            da[j] = dc_t * n * (i * (1.0f - i));
            da[H + j] = dc_t * cp[j] * (f * (1.0f - f));
            da[2 * H + j] = dc_t * i * (1.0f - n * n);
            da[3 * H + j] = d[j] * tc * (o * (1.0f - o));
            dcb[j] = dc_t * f;
        }
    }
}
