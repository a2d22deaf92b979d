/* SPDX-License-Identifier: MIT
 *
 * blas.c - the thin layer between librnn and CBLAS: the one place that names
 * cblas_*, and that knows which BLAS serves them (rnn_blas_info, and the
 * OpenBLAS small-matrix blocks below).
 */
#define _GNU_SOURCE /* dladdr, strcasestr */
#include "internal.h"
#include "pool.h"

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
 * a profile of configs c and d). Cut into blocks under that size, the NN
 * products of the recurrence run faster on one core, but the small kernel
 * is single-threaded and its NT variant is slow (measurements in
 * docs/benchmarks.md). So: NN only; with more than one OpenBLAS thread
 * only for thin rows, n * k < 4096, where OpenBLAS's threads lose (from
 * 64 x 64 on they win). Blocks of whole rows (a multiple of 8 rows, faster
 * than 10 or 15) while 8 rows fit; else tiles of 8 rows by 64 columns,
 * which keep the small kernel's full-width register blocks and read B's
 * rows 256 bytes at a time (wider tiles lose when B's row stride is a
 * multiple of 4 KiB), while k <= 1953 and for fewer than 256 rows (the
 * per-step products). cols == 0: one call. */
typedef struct small_blocks {
    int rows, cols;
} small_blocks;

static small_blocks small_block_shape(bool trans_a, bool trans_b, int m,
                                      int n, int k)
{
    const small_blocks one_call = {0, 0};
    const int policy = atomic_load(&small_gemm_policy);
    if (trans_a || trans_b || policy == RNN_SMALL_NEVER)
        return one_call;
    const double limit = 1e6;
    if ((double)m * n * k <= limit)
        return one_call; /* the BLAS takes the small path by itself */
    if (policy == RNN_SMALL_AUTO) {
        /* With threads, only thin products (a few multiply-adds per row),
         * which OpenBLAS's threads slow down instead. */
        const rnn_blas_threads_fn threads = rnn__openblas_small_kernels();
        if (threads == NULL || (threads() != 1 && (double)n * k >= 4096))
            return one_call;
    }
    const double rows = limit / ((double)n * k);
    if (rows >= 8) {
        const small_blocks by_rows = {((int)rows / 8) * 8, n};
        return rows >= m ? one_call : by_rows;
    }
    /* From 256 rows on, one call's packing of B is spread over enough rows
     * that its kernel, faster than the small one, wins. */
    const small_blocks tiles = {8, 64};
    return m < 256 && (double)tiles.rows * tiles.cols * k <= limit ? tiles
                                                                   : one_call;
}

/* One product as the BLAS is asked for it (in blocks for OpenBLAS's small
 * kernels: block (i, j) of C is row block i of A times column block j of
 * B, neither transposed; column by column, so that B's block is read from
 * memory once and from the cache by every row block). */
static void gemm_blocks(bool trans_a, bool trans_b, int m, int n, int k,
                        float alpha, const float *a, int lda, const float *b,
                        int ldb, float beta, float *c, int ldc)
{
    const CBLAS_TRANSPOSE op_a = trans_a ? CblasTrans : CblasNoTrans;
    const CBLAS_TRANSPOSE op_b = trans_b ? CblasTrans : CblasNoTrans;
    const small_blocks block = small_block_shape(trans_a, trans_b, m, n, k);
    if (block.cols == 0) {
        cblas_sgemm(CblasRowMajor, op_a, op_b, m, n, k, alpha, a, lda, b, ldb,
                    beta, c, ldc);
        return;
    }
    for (int col = 0; col < n; col += block.cols) {
        const int cols = n - col < block.cols ? n - col : block.cols;
        for (int first = 0; first < m; first += block.rows) {
            const int rows = m - first < block.rows ? m - first : block.rows;
            cblas_sgemm(CblasRowMajor, op_a, op_b, rows, cols, k, alpha,
                        a + (size_t)first * lda, lda, b + col, ldb, beta,
                        c + (size_t)first * ldc + col, ldc);
        }
    }
}

/* A product cut into row blocks of C for librnn's threads: row block i of
 * C is row block i of op(A) (rows of A, or its columns when transposed)
 * times op(B). */
typedef struct gemm_job {
    bool trans_a, trans_b;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_job;

static void gemm_rows(void *ctx, int32_t first, int32_t rows)
{
    const gemm_job *g = ctx;
    const size_t a_offset = g->trans_a ? (size_t)first : (size_t)first * g->lda;
    gemm_blocks(g->trans_a, g->trans_b, rows, g->n, g->k, g->alpha,
                g->a + a_offset, g->lda, g->b, g->ldb, g->beta,
                g->c + (size_t)first * g->ldc, g->ldc);
}

/* Row blocks of 16 rows at least, so that each is a whole number of the
 * BLAS's register blocks. */
static void gemm_slice(void *ctx, int index, int count)
{
    const gemm_job *g = ctx;
    const int32_t first = rnn__slice_start(g->m, index, count, 16);
    const int32_t end = rnn__slice_start(g->m, index + 1, count, 16);
    if (end > first)
        gemm_rows(ctx, first, end - first);
}

/* OpenBLAS runs a gemm of at most 4 * 65536 multiply-adds, and a gemv of
 * fewer than 4 * 2304 elements, on the calling thread by itself (its
 * GEMM_MULTITHREAD_THRESHOLD): such a product needs no thread scope, whose
 * two thread-count calls would cost more than the product at config a. */
static bool may_thread(int m, int n, int k)
{
    return m == 1 ? (double)n * k >= 9216.0 : (double)m * n * k > 262144.0;
}

static void scope_begin(bool scoped)
{
    if (scoped)
        rnn__blas_single_begin();
}

static void scope_end(bool scoped)
{
    if (scoped)
        rnn__blas_single_end();
}

void rnn__gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc)
{
    const int slices = rnn__row_slices(m / 16, 32.0 * n * k);
    const bool scoped = slices > 1 || may_thread(m, n, k);
    scope_begin(scoped);
    if (slices > 1) {
        gemm_job job = {trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha,
                        beta, a, b, c};
        rnn__pool_run(slices, gemm_slice, &job);
    } else {
        gemm_blocks(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
                    ldc);
    }
    scope_end(scoped);
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
    const bool scoped = may_thread(rows, n, k);
    scope_begin(scoped);
    if (rows == 1 && w_is_n_by_k)
        gemv(false, n, k, 1.0f, w, ldw, in, beta, out);
    else if (rows == 1)
        gemv(true, k, n, 1.0f, w, ldw, in, beta, out);
    else
        rnn__gemm(false, w_is_n_by_k, rows, n, k, 1.0f, in, k, w, ldw, beta,
                  out, n);
    scope_end(scoped);
}


/* Column blocks of one product (rnn__columns_product): block i is
 * out[:, c0:c1] = in W[:, c0:c1], W's columns c0 .. being rows of W when it
 * is given as [n, k]. */
typedef struct columns_job {
    int rows, n, k, ldw;
    bool w_is_n_by_k;
    float beta;
    const float *in, *w;
    float *out;
} columns_job;

static void columns_task(void *ctx, int index, int count)
{
    const columns_job *j = ctx;
    const int first = rnn__slice_start(j->n, index, count, 16);
    const int end = rnn__slice_start(j->n, index + 1, count, 16);
    if (end <= first)
        return;
    const float *w = j->w + (j->w_is_n_by_k ? (size_t)first * j->ldw : (size_t)first);
    if (j->rows == 1)
        gemv(!j->w_is_n_by_k, j->w_is_n_by_k ? end - first : j->k,
             j->w_is_n_by_k ? j->k : end - first, 1.0f, w, j->ldw, j->in,
             j->beta, j->out + first);
    else
        gemm_blocks(false, j->w_is_n_by_k, j->rows, end - first, j->k, 1.0f,
                    j->in, j->k, w, j->ldw, j->beta, j->out + first, j->n);
}

void rnn__columns_product(int count, int rows, int n, int k, const float *in,
                          const float *w, int ldw, bool w_is_n_by_k,
                          float beta, float *out)
{
    if (count <= 1) {
        rnn__rows_product(rows, n, k, in, w, ldw, w_is_n_by_k, beta, out);
        return;
    }
    columns_job job = {rows, n, k, ldw, w_is_n_by_k, beta, in, w, out};
    rnn__blas_single_begin();
    rnn__pool_run(count, columns_task, &job);
    rnn__blas_single_end();
}


/* ---- which BLAS ---------------------------------------------------------- */

/* All filled once, by identify_blas. */
static char blas_info[PATH_MAX + 256];
static rnn_blas_threads_fn openblas_threads;
/* The backend's thread count getter and setter: OpenBLAS's take and
 * return int, BLIS's its dim_t (int64_t on every build Debian ships). */
static int (*openblas_get)(void);
static void (*openblas_set)(int);
static int64_t (*blis_get)(void);
static void (*blis_set)(int64_t);
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

static void find_thread_setters(void *handle)
{
    openblas_get = (int (*)(void))(uintptr_t)dlsym(handle, "openblas_get_num_threads");
    openblas_set = (void (*)(int))(uintptr_t)dlsym(handle, "openblas_set_num_threads");
    if (openblas_get == NULL || openblas_set == NULL)
        openblas_get = NULL, openblas_set = NULL;
    blis_get = (int64_t (*)(void))(uintptr_t)dlsym(handle, "bli_thread_get_num_threads");
    blis_set = (void (*)(int64_t))(uintptr_t)dlsym(handle, "bli_thread_set_num_threads");
    if (blis_get == NULL || blis_set == NULL)
        blis_get = NULL, blis_set = NULL;
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
            find_thread_setters(handle);
            if (config != NULL && has_small_kernels(config))
                openblas_threads = openblas_get;
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

bool rnn__blas_get_threads(int *threads)
{
    pthread_once(&identify_once, identify_blas);
    const int64_t n = openblas_get != NULL ? openblas_get()
                      : blis_get != NULL   ? blis_get()
                                           : 0;
    /* BLIS says -1 when nobody set a count: it then runs one thread. */
    if (n < 1 || n > INT_MAX)
        return false;
    *threads = (int)n;
    return true;
}

void rnn__blas_set_threads(int threads)
{
    pthread_once(&identify_once, identify_blas);
    if (openblas_set != NULL)
        openblas_set(threads);
    else if (blis_set != NULL)
        blis_set(threads);
}

/* ---- librnn's threads and the BLAS's (pool.h) ---------------------------- */

typedef struct rows_job {
    rnn__rows_fn fn;
    void *ctx;
    int32_t rows;
} rows_job;

static void rows_task(void *ctx, int index, int count)
{
    const rows_job *job = ctx;
    const int32_t first = rnn__slice_start(job->rows, index, count, 1);
    const int32_t end = rnn__slice_start(job->rows, index + 1, count, 1);
    if (end > first)
        job->fn(job->ctx, first, end - first);
}

void rnn__parallel_rows(int32_t rows, int count, bool blas_scope,
                        rnn__rows_fn fn, void *ctx)
{
    if (count == 1 && !blas_scope) {
        fn(ctx, 0, rows);
        return;
    }
    rows_job job = {fn, ctx, rows};
    rnn__blas_single_begin();
    rnn__pool_run(count, rows_task, &job);
    rnn__blas_single_end();
}

void rnn__recurrence_rows(const rnn_config *cfg, int32_t gates, int32_t batch,
                          int32_t seq_len, int columns, rnn__rows_fn fn,
                          void *ctx)
{
    const int32_t hidden = cfg->hidden_size, state = rnn__state_size(cfg);
    const int32_t width = gates * hidden, proj = cfg->proj_size;
    const double step_flops =
        2.0 * ((double)width * state + (double)proj * hidden);
    const int count = columns > 1
                          ? 1
                          : rnn__row_slices(batch, seq_len * step_flops);
    const bool blas_scope = columns > 1 || may_thread(batch, width, state) ||
                            (proj > 0 && may_thread(batch, proj, hidden));
    rnn__parallel_rows(batch, count, blas_scope, fn, ctx);
}

/* ---- the BLAS's threads -------------------------------------------------- */

static pthread_mutex_t scope_lock = PTHREAD_MUTEX_INITIALIZER;
static int scope_users;   /* threads inside a librnn computation */
static int saved_threads; /* the BLAS's count when the first one entered */
static bool saved;
static _Thread_local int scope_depth;

void rnn__blas_single_begin(void)
{
    if (scope_depth++ > 0 || rnn__pool_in_region())
        return; /* the region's owner holds the scope for its workers */
    pthread_mutex_lock(&scope_lock);
    if (scope_users++ == 0) {
        saved = rnn__blas_get_threads(&saved_threads);
        if (saved && saved_threads != 1)
            rnn__blas_set_threads(1);
    }
    pthread_mutex_unlock(&scope_lock);
}

void rnn__blas_single_end(void)
{
    if (--scope_depth > 0 || rnn__pool_in_region())
        return;
    pthread_mutex_lock(&scope_lock);
    if (--scope_users == 0 && saved) {
        if (saved_threads != 1)
            rnn__blas_set_threads(saved_threads);
        saved = false;
    }
    pthread_mutex_unlock(&scope_lock);
}
