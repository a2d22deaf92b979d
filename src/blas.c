/* SPDX-License-Identifier: MIT
 *
 * blas.c - the thin layer between librnn and CBLAS: the one place that names
 * cblas_* (to count flops, add checks or a fallback later).
 */
#include "internal.h"

#include <cblas.h>

void rnn__gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
                ldb, beta, c, ldc);
}

void rnn__gemv(bool trans_a, int m, int n, float alpha, const float *a,
               int lda, const float *x, float beta, float *y)
{
    cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, m, n,
                alpha, a, lda, x, 1, beta, y, 1);
}
