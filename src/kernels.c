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

/* tanh for |v| <= 10 (clamped: tanh(10) rounds to 1), 1.2 ulp at worst
 * over all floats, the same as glibc's tanhf at its worst point, but
 * branch-free so that it vectorises (glibc's is several times slower):
 *  - |v| < 0.7: v + v^3 P(v^2), P a degree-6 least-squares fit of
 *    (tanh(v) - v) / v^3 on Chebyshev nodes (0.78 ulp);
 *  - else 1 - 2 / (e^{2|v|} + 1), e^r by range reduction to
 *    |r| <= ln(2)/2 and its degree-7 Taylor polynomial (5e-9 relative).
 * NaN stays NaN, so the check mode can still see it. */
static inline float tanh_approx(float v)
{
    float a = fabsf(v);
    a = a <= 10.0f ? a : 10.0f;
    const float u = a * a;
    float p = -0.0007019909504133824f;
    p = p * u + 0.00308684083916415f;
    p = p * u - 0.008673937286886695f;
    p = p * u + 0.02182933983961136f;
    p = p * u - 0.053963643016847765f;
    p = p * u + 0.1333330816090489f;
    p = p * u - 0.3333333287218127f;
    const float small = a + a * u * p;

    const float two_a = a + a;
    /* n = round(2a / ln 2) by the 1.5 * 2^23 trick; r = 2a - n ln 2 in two
     * parts (ln 2 = 0.693145751953125 + 1.4286068203094172e-6). */
    const float n = (two_a * 1.44269504088896341f + 0x1.8p23f) - 0x1.8p23f;
    float r = two_a - n * 0.693145751953125f;
    r = r - n * 1.42860682030941723e-6f;
    float e = 1.0f / 5040.0f;
    e = e * r + 1.0f / 720.0f;
    e = e * r + 1.0f / 120.0f;
    e = e * r + 1.0f / 24.0f;
    e = e * r + 1.0f / 6.0f;
    e = e * r + 0.5f;
    e = e * r + 1.0f;
    e = e * r + 1.0f;
    union {
        int32_t bits;
        float value;
    } scale = {((int32_t)n + 127) << 23}; /* 2^n, 0 <= n <= 29 */
    const float big = 1.0f - 2.0f / (e * scale.value + 1.0f);

    const float t = a < 0.7f ? small : big;
    return v != v ? v : copysignf(t, v);
}

RNN_VECTOR_CLONES
void rnn__bias_act(float *h, size_t rows, int32_t hidden, const float *b_ih,
                   const float *b_hh, int32_t nonlinearity)
{
    if (b_ih != NULL) {
        for (size_t r = 0; r < rows; ++r) {
            float *row = h + r * (size_t)hidden;
            for (int32_t j = 0; j < hidden; ++j)
                row[j] += b_ih[j] + b_hh[j];
        }
    }
    /* One flat loop over all rows: at small H a loop per row spends more on
     * its prologue and remainder than on the rows themselves. */
    const size_t n = rows * (size_t)hidden;
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
     * and runs 5x slower at H = 256 (1.65 against 0.30 ns per float). */
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
