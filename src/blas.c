/* SPDX-License-Identifier: MIT
 *
 * blas.c - the thin layer between librnn and CBLAS: the one place that names
 * cblas_*, and that knows which BLAS serves them (rnn_blas_info, and the
 * OpenBLAS small-matrix blocks below).
 */
#define _GNU_SOURCE /* dladdr, strcasestr */
#include "internal.h"

#include <cblas.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int small_gemm_policy = RNN_SMALL_AUTO;

void rnn__set_small_gemm_policy(int policy)
{
    atomic_store(&small_gemm_policy, policy);
}

/* OpenBLAS (0.3.16+, AVX-512 cores) multiplies a product with
 * m * n * k <= 10^6 by a kernel that reads A and B in place, where larger
 * ones pay for packing both, W_hh included, at every call (sgemm_itcopy in
 * a profile of configs c and d). Cut into row blocks under that size, the
 * NN products of the recurrence run faster on one core, but the small
 * kernel is single-threaded and its NT variant is slow (measurements in
 * docs/benchmarks.md). So: NN only; with more than one OpenBLAS thread
 * only for thin rows, n * k < 4096, where OpenBLAS's threads lose (from
 * 64 x 64 on they win); blocks of a multiple of 8 rows (faster than 10 or
 * 15) or of 4. Returns the rows per block, or 0 for one call. */
static int small_block_rows(bool trans_a, bool trans_b, int m, int n, int k)
{
    const int policy = atomic_load(&small_gemm_policy);
    if (trans_a || trans_b || policy == RNN_SMALL_NEVER)
        return 0;
    const double limit = 1e6;
    if ((double)m * n * k <= limit)
        return 0; /* the BLAS takes the small path by itself */
    if (policy == RNN_SMALL_AUTO) {
        /* With threads, only thin products (a few multiply-adds per row),
         * which OpenBLAS's threads slow down instead. */
        const rnn_blas_threads_fn threads = rnn__openblas_small_kernels();
        if (threads == NULL || (threads() != 1 && (double)n * k >= 4096))
            return 0;
    }
    const double rows = limit / ((double)n * k);
    if (rows >= 8)
        return rows >= m ? 0 : ((int)rows / 8) * 8;
    return rows >= 4 ? 4 : 0;
}

void rnn__gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc)
{
    const CBLAS_TRANSPOSE op_a = trans_a ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE op_b = trans_b ? CblasTrans : CblasNoTrans;
    const int rows = small_block_rows(trans_a, trans_b, m, n, k);
    if (rows == 0) {
        cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, a, lda, b, ldb,
                    beta, c, ldc);
        return;
    }
    /* Row block i of C depends on row block i of A alone (A not transposed). */
    for (int first = 0; first < m; first += rows) {
        const int count = m - first < rows ? m - first : rows;
        cblas_sgemm(CblasRowMajor, op_a, op_b, count, n, k, alpha,
                    a + (size_t)first * lda, lda, b, ldb, beta,
                    c + (size_t)first * ldc, ldc);
    }
}

/* y[m or n] = alpha * op(A) x + beta * y for a row-major A[m, n]. */
static void gemv(bool trans_a, int m, int n, float alpha, const float *a,
                 int lda, const float *x, float beta, float *y)
{
    cblas_sgemv(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, m, n,
                alpha, a, lda, x, 1, beta, y, 1);
}

void rnn__rows_product(int rows, int n, int k, const float *in,
                       const float *w, int ldw, bool w_is_n_by_k, float beta,
                       float *out)
{
    if (rows == 1 && w_is_n_by_k)
        gemv(false, n, k, 1.0f, w, ldw, in, beta, out);
    else if (rows == 1)
        gemv(true, k, n, 1.0f, w, ldw, in, beta, out);
    else
        rnn__gemm(false, w_is_n_by_k, rows, n, k, 1.0f, in, k, w, ldw, beta,
                  out, n);
}


/* ---- which BLAS ---------------------------------------------------------- */

/* Both filled once, by identify_blas. */
static char blas_info[PATH_MAX + 256];
static rnn_blas_threads_fn openblas_threads;
static pthread_once_t identify_once = PTHREAD_ONCE_INIT;

/* The backend's own description, found by symbol so that librnn links only
 * the generic CBLAS interface. `handle` is the library serving cblas_sgemm
 * (with its dependencies): LAPACK may have pulled another BLAS (say
 * OpenBLAS under BLIS) into the process. */
static const char *backend_config(void *handle)
{
    typedef char *(*config_fn)(void);
    static const char *const getters[] = {"openblas_get_config",
                                          "bli_info_get_version_str"};
    const char *config = NULL;
    for (size_t i = 0; i < sizeof getters / sizeof getters[0] && !config; ++i) {
        config_fn getter = (config_fn)(uintptr_t)dlsym(handle, getters[i]);
        if (getter != NULL)
            config = getter();
    }
    return config;
}

/* Debian installs each backend in a directory named after it. */
static const char *family_from_path(const char *path)
{
    static const struct {
        const char *part, *family;
    } known[] = {{"openblas", "OpenBLAS"}, {"blis", "BLIS"},
                 {"atlas", "ATLAS"},       {"mkl", "Intel MKL"},
                 {"/blas/", "reference BLAS (Netlib)"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i)
        if (strstr(path, known[i].part) != NULL)
            return known[i].family;
    return NULL;
}

/* OpenBLAS says "OpenBLAS 0.3.21 ... Cooperlake ..." of itself: its small
 * matrix kernels (0.3.16 on) exist for these AVX-512 cores on x86-64. */
static bool has_small_kernels(const char *config)
{
    static const char *const cores[] = {"SkylakeX", "Cooperlake",
                                        "SapphireRapids"};
    int major = 0, minor = 0, patch = 0;
    if (sscanf(config, "OpenBLAS %d.%d.%d", &major, &minor, &patch) != 3)
        return false;
    if (major == 0 && (minor < 3 || (minor == 3 && patch < 16)))
        return false;
    for (size_t i = 0; i < sizeof cores / sizeof cores[0]; ++i)
        if (strcasestr(config, cores[i]) != NULL)
            return true;
    return false;
}

static void identify_blas(void)
{
    Dl_info info;
    char resolved[PATH_MAX];
    const char *path = "unknown library", *config = NULL;
    /* The address of cblas_sgemm is the one the dynamic linker bound for
     * this process, so dladdr names the library that really serves it. */
    if (dladdr((void *)(uintptr_t)cblas_sgemm, &info) != 0 &&
        info.dli_fname != NULL) {
        path = info.dli_fname;
        if (realpath(info.dli_fname, resolved) != NULL)
            path = resolved;
        void *handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (handle != NULL) {
            config = backend_config(handle);
            /* The library stays loaded (cblas_sgemm is bound to it): the
             * pointer outlives the handle. */
            if (config != NULL && has_small_kernels(config))
                openblas_threads = (rnn_blas_threads_fn)(uintptr_t)dlsym(
                    handle, "openblas_get_num_threads");
            dlclose(handle);
        }
        if (config == NULL)
            config = family_from_path(path);
    }
    if (config != NULL)
        snprintf(blas_info, sizeof blas_info, "%s (%s)", path, config);
    else
        snprintf(blas_info, sizeof blas_info, "%s", path);
}

rnn_blas_threads_fn rnn__openblas_small_kernels(void)
{
    pthread_once(&identify_once, identify_blas);
    return openblas_threads;
}

const char *rnn_blas_info(void)
{
    pthread_once(&identify_once, identify_blas);
    return blas_info;
}
