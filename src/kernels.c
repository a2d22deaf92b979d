/* SPDX-License-Identifier: MIT
 *
 * kernels.c - the fused element-wise passes around the BLAS calls. Each one
 * reads and writes its buffer once.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

void rnn__bias_act(float *h, size_t rows, int32_t hidden, const float *b_ih,
                   const float *b_hh, int32_t nonlinearity)
{
    for (size_t r = 0; r < rows; ++r) {
        float *row = h + r * (size_t)hidden;
        if (b_ih != NULL)
            for (int32_t j = 0; j < hidden; ++j)
                row[j] += b_ih[j] + b_hh[j];
        if (nonlinearity == RNN_TANH)
            for (int32_t j = 0; j < hidden; ++j)
                row[j] = tanhf(row[j]);
        else
            for (int32_t j = 0; j < hidden; ++j)
                row[j] = row[j] > 0.0f ? row[j] : 0.0f;
    }
}

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

void rnn__add_col_sums(float *sums, const float *m, size_t rows, int32_t cols)
{
    for (size_t r = 0; r < rows; ++r) {
        const float *row = m + r * (size_t)cols;
        for (int32_t j = 0; j < cols; ++j)
            sums[j] += row[j];
    }
}

void rnn__add(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        dst[i] += src[i];
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
