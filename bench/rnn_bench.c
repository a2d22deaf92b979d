/* SPDX-License-Identifier: MIT
 *
 * rnn_bench.c - times librnn's forward pass, training step (forward +
 * backward) and streaming step, and each of their hot loops alone, against
 * the speed of the BLAS library loaded into the same process.
 *
 *   rnn_bench --config all             the standard configs of DESIGN.md
 *   rnn_bench --shape 64,256,100,32,2,2 --ops forward,train
 *   rnn_bench --quick --csv -          CI smoke: CSV on stdout, table on stderr
 *
 * For each configuration it prints, and writes as CSV rows:
 *   librnn   the public calls: forward = rnn_forward, train = rnn_forward +
 *            rnn_backward (dx), step = rnn_step on a model whose weights
 *            were packed once by rnn_pack_weights before timing (like
 *            oneDNN's weight reorder, outside the timed loop), step_direct =
 *            rnn_step on an unpacked copy of the same model (what a caller
 *            gets without rnn_pack_weights), so the gain shows in one run;
 *   floor    the same sequence of CBLAS calls, element-wise passes and
 *            copies made directly (bench_floor.c mirrors src/): what librnn
 *            would cost with zero overhead on this BLAS. librnn - floor =
 *            overhead;
 *   parts    each hot loop alone, and their sum:
 *              fwd.transpose  the W_hh^T copies rnn_forward makes per call
 *                             (only when T*B repays them: transposed_ld in
 *                             src/forward.c);
 *              fwd.proj       the b_ih + b_hh pre-fill of the T*B output
 *                             rows AND the projection sgemm (beta = 1 onto
 *                             it): the fill is counted here, not apart;
 *              fwd.rec        the T per-step products (on the W_hh^T copy:
 *                             sgemm NN / sgemv T, else on W_hh: NT / sgemv);
 *              fwd.act        the T activation passes (no bias: pre-filled);
 *              fwd.copy       x into the cache, h0 = 0, y out;
 *              bwd.*          backward's products, passes and copies;
 *              step.copy      the packed step's copies: per layer the rows
 *                             [x_t | h], the bias pre-fill, h back; y_t out;
 *              step.rec       the packed step's ONE product per layer,
 *                             [x_t | h] times the packed [I_l + H, H] block
 *                             (the old step.proj is inside it);
 *              step.act       the activation (+ its restore copy);
 *            the parts split the packed step; step_direct has none;
 *   call     one recurrence product alone, as the library makes it at that
 *            shape: the BLAS's speed there; and what-ifs: the other
 *            orientation (on W_hh itself when the library reads the copy:
 *            what it did before; on a copy when it reads W_hh) and the copy
 *            with the other row stride (H <-> H + 16);
 *   peak     a square sgemm (1000^3) in the same run, the 100% of "% peak".
 * Everything of one configuration is sampled interleaved, round by round,
 * and reported as medians (min and max too); see bench_common.c. Before
 * timing, the re-enacted forward's y, backward's dx and both steps' y_t are
 * compared with the library's (a WARNING on stderr when they differ:
 * bench_floor.c is stale).
 * FLOPs: forward 2*T*B*H*(I_l + H) per layer and direction (element-wise
 * work not counted), training step 3x forward, one step = forward at T = 1.
 */
#define _GNU_SOURCE /* dladdr, RTLD_NOLOAD */

#include "bench_common.h"
#include "bench_floor.h"
#include "rnn.h"

#include <cblas.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the BLAS library serving this process ------------------------------ */

typedef struct blas_id {
    char path[PATH_MAX];  /* resolved path of the library serving cblas_sgemm */
    char backend[PATH_MAX]; /* its Debian directory, e.g. "openblas-pthread"    */
    char threads_how[64]; /* which call reported the thread count            */
    int threads;
} blas_id;

/* A handle on the library that serves cblas_sgemm: its symbols and its
 * dependencies' (libgomp for OpenMP builds), not a second BLAS that LAPACK
 * may have pulled into the process. */
static void *blas_handle(void)
{
    Dl_info info;
    if (dladdr((void *)(uintptr_t)cblas_sgemm, &info) == 0 || info.dli_fname == NULL)
        return NULL;
    return dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
}

static void *blas_sym(void *handle, const char *name)
{
    return handle != NULL ? dlsym(handle, name) : NULL;
}

/* Sets the thread count through whatever the backend offers; returns 1 if
 * some call took it. */
static int blas_set_threads(int n)
{
    void *h = blas_handle();
    int done = 0;
    void (*openblas_set)(int) =
        (void (*)(int))(uintptr_t)blas_sym(h, "openblas_set_num_threads");
    void (*blis_set)(int64_t) =
        (void (*)(int64_t))(uintptr_t)blas_sym(h, "bli_thread_set_num_threads");
    void (*omp_set)(int) = (void (*)(int))(uintptr_t)blas_sym(h, "omp_set_num_threads");
    if (openblas_set) {
        openblas_set(n);
        done = 1;
    }
    if (blis_set) {
        blis_set(n);
        done = 1;
    }
    if (omp_set) {
        omp_set(n);
        done = 1;
    }
    if (h)
        dlclose(h);
    return done;
}

static void blas_identify(blas_id *id)
{
    Dl_info info;
    snprintf(id->path, sizeof id->path, "unknown");
    snprintf(id->backend, sizeof id->backend, "unknown");
    if (dladdr((void *)(uintptr_t)cblas_sgemm, &info) != 0 && info.dli_fname) {
        if (realpath(info.dli_fname, id->path) == NULL)
            snprintf(id->path, sizeof id->path, "%s", info.dli_fname);
    }
    /* Debian keeps each backend in a directory named after it. */
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", id->path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        const char *last = strrchr(dir, '/');
        last = last ? last + 1 : dir;
        if (strstr(last, "linux-gnu") == NULL)
            snprintf(id->backend, sizeof id->backend, "%s", last);
        else
            snprintf(id->backend, sizeof id->backend, "%s", slash + 1);
    }
    void *h = blas_handle();
    int (*openblas_get)(void) =
        (int (*)(void))(uintptr_t)blas_sym(h, "openblas_get_num_threads");
    int64_t (*blis_get)(void) =
        (int64_t(*)(void))(uintptr_t)blas_sym(h, "bli_thread_get_num_threads");
    int (*omp_get)(void) = (int (*)(void))(uintptr_t)blas_sym(h, "omp_get_max_threads");
    id->threads = 1;
    snprintf(id->threads_how, sizeof id->threads_how, "serial library");
    if (openblas_get) {
        id->threads = openblas_get();
        snprintf(id->threads_how, sizeof id->threads_how, "openblas_get_num_threads");
    } else if (blis_get && blis_get() > 0) {
        id->threads = (int)blis_get();
        snprintf(id->threads_how, sizeof id->threads_how, "bli_thread_get_num_threads");
    } else if (omp_get) {
        id->threads = omp_get();
        snprintf(id->threads_how, sizeof id->threads_how, "omp_get_max_threads");
    } else if (strstr(id->path, "serial") == NULL && strstr(id->path, "blis") != NULL) {
        /* Debian's BLIS libblas.so.3 exports no bli_* symbol: its threads
         * come from BLIS_NUM_THREADS (else OMP_NUM_THREADS), read at load. */
        const char *env = getenv("BLIS_NUM_THREADS");
        if (env == NULL)
            env = getenv("OMP_NUM_THREADS");
        id->threads = env != NULL && atoi(env) > 0 ? atoi(env) : 1;
        snprintf(id->threads_how, sizeof id->threads_how,
                 "BLIS_NUM_THREADS in the environment");
    }
    if (h)
        dlclose(h);
}

/* ---- sgemm peak --------------------------------------------------------- */

typedef struct peak_ctx {
    int n;
    float *a, *b, *c;
} peak_ctx;

static void peak_call(void *p)
{
    peak_ctx *k = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k->n, k->n, k->n, 1.0f,
                k->a, k->n, k->b, k->n, 0.0f, k->c, k->n);
}

static int peak_alloc(peak_ctx *k, int n)
{
    const size_t nn = (size_t)n * n;
    k->n = n;
    k->a = malloc(nn * sizeof(float));
    k->b = malloc(nn * sizeof(float));
    k->c = malloc(nn * sizeof(float));
    if (!k->a || !k->b || !k->c)
        return -1;
    bench_fill_uniform(k->a, nn, -1, 1, 1);
    bench_fill_uniform(k->b, nn, -1, 1, 2);
    return 0;
}

static void peak_free(peak_ctx *k)
{
    free(k->a);
    free(k->b);
    free(k->c);
}

static double peak_flops(const peak_ctx *k)
{
    return 2.0 * k->n * (double)k->n * k->n;
}

static bench_timing measure_peak(peak_ctx *k, const bench_plan *plan)
{
    bench_plan p = *plan;
    p.sample_s = 0; /* one call is long enough */
    if (p.min_reps < 3 && p.max_reps >= 3)
        p.min_reps = 3;
    return bench_measure(peak_call, k, &p);
}

/* ---- does the BLAS round alike wherever its operands sit? -------------- */

enum { PROBE_M = 7, PROBE_N = 64, PROBE_K = 96, PROBE_SHIFT = 16 };

/* sgemm NN and NT (M, N, K) and sgemv N and T on B [N, K], beta = 1 onto
 * nonzero outputs as in the library, with the operands shifted from buf's
 * start by (k, 3k, 7k) mod 16 floats (ATLAS's sgemv T, for one, rounds
 * with the address of y, and only shows it when beta * y is not 0).
 * Results into out. */
static void probe_calls(const float *src, float *buf, int k, float *out)
{
    const size_t a_n = (size_t)PROBE_M * PROBE_K, b_n = (size_t)PROBE_K * PROBE_N;
    const size_t c_n = (size_t)PROBE_M * PROBE_N;
    float *a = buf + k % PROBE_SHIFT;
    float *b = buf + a_n + PROBE_SHIFT + (3 * k) % PROBE_SHIFT;
    float *c = buf + a_n + b_n + 2 * PROBE_SHIFT + (7 * k) % PROBE_SHIFT;
    memcpy(a, src, a_n * sizeof(float));
    memcpy(b, src + a_n, b_n * sizeof(float));
    for (int call = 0; call < 4; ++call) {
        memcpy(c, src, c_n * sizeof(float)); /* beta = 1 onto nonzero values */
        if (call < 2)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, call ? CblasTrans : CblasNoTrans,
                        PROBE_M, PROBE_N, PROBE_K, 1.0f, a, PROBE_K, b,
                        call ? PROBE_K : PROBE_N, 1.0f, c, PROBE_N);
        else /* x: the first K floats of a */
            cblas_sgemv(CblasRowMajor, call == 2 ? CblasNoTrans : CblasTrans, PROBE_N,
                        PROBE_K, 1.0f, b, PROBE_K, a, 1, 1.0f, c, 1);
        memcpy(out + (size_t)call * c_n, c, c_n * sizeof(float));
    }
}

/* 1 when this BLAS's results change with the operands' alignment (ATLAS's
 * kernels peel for it; OpenBLAS, BLIS and the reference BLAS round alike
 * at any address), 0 when not, -1 when the probe had no memory. The
 * library's buffers sit wherever malloc puts them and the re-enactment's
 * cannot be made to sit alike: only on a BLAS of the first kind may their
 * results differ by rounding without the re-enactment being stale. */
static int blas_rounding_moves(void)
{
    const size_t a_n = (size_t)PROBE_M * PROBE_K, b_n = (size_t)PROBE_K * PROBE_N;
    const size_t c_n = (size_t)PROBE_M * PROBE_N;
    float *src = malloc((a_n + b_n) * sizeof(float));
    float *buf = malloc((a_n + b_n + c_n + 3 * PROBE_SHIFT) * sizeof(float));
    float *first = malloc(4 * c_n * sizeof(float));
    float *again = malloc(4 * c_n * sizeof(float));
    int moves = src && buf && first && again ? 0 : -1;
    if (moves == 0) {
        bench_fill_uniform(src, a_n + b_n, -1, 1, 5);
        probe_calls(src, buf, 0, first);
    }
    for (int k = 1; moves == 0 && k < PROBE_SHIFT; ++k) {
        probe_calls(src, buf, k, again);
        moves = memcmp(first, again, 4 * c_n * sizeof(float)) != 0;
    }
    free(src);
    free(buf);
    free(first);
    free(again);
    return moves;
}

/* ---- the library's calls ------------------------------------------------ */

typedef struct lib_ctx {
    rnn_t *model;        /* packed (rnn_pack_weights) when steps are timed */
    rnn_t *direct;       /* the same parameters, unpacked: step_direct      */
    rnn_state_t *state, *direct_state;
    const bench_shape *s;
    float *x, *y, *dy, *dx, *xt, *yt;
    rnn_status status; /* of the last call, checked before timing */
} lib_ctx;

static void lib_forward(void *p)
{
    lib_ctx *c = p;
    c->status = rnn_forward(c->model, c->s->seq_len, c->s->batch, c->x, NULL, NULL,
                            c->y, NULL);
}

static void lib_train(void *p)
{
    lib_ctx *c = p;
    c->status = rnn_forward(c->model, c->s->seq_len, c->s->batch, c->x, NULL, NULL,
                            c->y, NULL);
    if (c->status == RNN_OK)
        c->status = rnn_backward(c->model, c->dy, NULL, c->dx, NULL);
}

static void lib_step(void *p)
{
    lib_ctx *c = p;
    c->status = rnn_step(c->model, c->state, c->xt, c->yt);
}

static void lib_step_direct(void *p)
{
    lib_ctx *c = p;
    c->status = rnn_step(c->direct, c->direct_state, c->xt, c->yt);
}

/* ---- results, table and CSV -------------------------------------------- */

typedef struct result {
    const char *impl, *op, *kind;
    char what[40], detail[128];
    bench_timing t;
    double flops, samples;
} result;

enum { MAX_RESULTS = 64 };

typedef struct spec {
    const char *impl, *op, *kind;
    char what[40], detail[128];
    void (*fn)(void *);
    void *ctx;
    double flops, samples;
    int subtract; /* index of a spec whose median is subtracted, or -1 */
} spec;

typedef struct run {
    bench_cli cli;
    blas_id blas;
    const char *act;
    double peak;       /* GFLOP/s of the square sgemm, measured with each config */
    peak_ctx peak_k;   /* its operands (n = 0: no peak)                         */
    FILE *table;       /* stdout, or stderr when the CSV goes to stdout       */
    FILE *csv;         /* NULL when no CSV is written                         */
    result res[MAX_RESULTS];
    int nres;
    spec specs[MAX_RESULTS];
    int nspecs;
    int parts;         /* time the hot loops one by one (not --no-parts)     */
    int floor_too;     /* time the floor's whole passes (not --no-floor)     */
    double check_tol;  /* floor vs librnn results: 0, or see check_same      */
} run;

static result *add_result(run *r, const char *impl, const char *op,
                          const char *kind, const char *what, const char *detail,
                          bench_timing t, double flops, double samples)
{
    if (r->nres == MAX_RESULTS)
        return NULL;
    result *x = &r->res[r->nres++];
    x->impl = impl;
    x->op = op;
    x->kind = kind;
    snprintf(x->what, sizeof x->what, "%s", what);
    snprintf(x->detail, sizeof x->detail, "%s", detail ? detail : "");
    x->t = t;
    x->flops = flops;
    x->samples = samples;
    return x;
}

static const result *find(const run *r, const char *impl, const char *op)
{
    for (int k = 0; k < r->nres; ++k)
        if (strcmp(r->res[k].impl, impl) == 0 && strcmp(r->res[k].op, op) == 0)
            return &r->res[k];
    return NULL;
}

static double med(const run *r, const char *impl, const char *op)
{
    const result *x = find(r, impl, op);
    return x ? x->t.median : 0.0;
}

static void csv_rows(run *r, const bench_shape *s)
{
    if (r->csv == NULL)
        return;
    for (int k = 0; k < r->nres; ++k) {
        const result *x = &r->res[k];
        bench_row row = {x->impl, r->cli.label, r->blas.backend, r->blas.path,
                         r->blas.threads, s, r->act, x->op, x->kind, x->t,
                         x->flops, r->peak, x->samples};
        bench_csv_row(r->csv, &row);
    }
}

static void print_result(FILE *out, const run *r, const result *x)
{
    char med_s[32], min_s[32], max_s[32];
    fprintf(out, "  %-26s %10s %10s %10s", x->what,
            bench_fmt_time(x->t.median, med_s, sizeof med_s),
            bench_fmt_time(x->t.min, min_s, sizeof min_s),
            bench_fmt_time(x->t.max, max_s, sizeof max_s));
    if (x->flops > 0 && x->t.median > 0) {
        double g = x->flops / x->t.median * 1e-9;
        fprintf(out, " %8.2f", g);
        if (r->peak > 0)
            fprintf(out, " %6.1f%%", 100.0 * g / r->peak);
        else
            fprintf(out, " %7s", "");
    } else {
        fprintf(out, " %8s %7s", "-", "");
    }
    if (x->samples > 0 && x->t.median > 0)
        fprintf(out, " %11.0f", x->samples / x->t.median);
    else
        fprintf(out, " %11s", "");
    fprintf(out, "  %s\n", x->detail);
}

static void print_gap(FILE *out, const char *what, double lib, double floor_t,
                      double parts)
{
    char a[32], b[32];
    if (lib <= 0 || floor_t <= 0)
        return;
    fprintf(out, "  %-8s librnn - floor = %s (%+.1f%%)", what,
            bench_fmt_time(fabs(lib - floor_t), a, sizeof a),
            100.0 * (lib - floor_t) / floor_t);
    if (lib < floor_t)
        fprintf(out, " [librnn faster: noise]");
    if (parts > 0)
        fprintf(out, "; librnn - sum of parts = %s (%+.1f%%)",
                bench_fmt_time(fabs(lib - parts), b, sizeof b),
                100.0 * (lib - parts) / parts);
    fputc('\n', out);
}

/* What to measure: specs become results once measured together. A spec
 * with a NULL impl is measured but not reported (the restore copies). */
static int add_spec(run *r, const char *impl, const char *op, const char *kind,
                    const char *what, const char *detail, void (*fn)(void *),
                    void *ctx, double flops, double samples, int subtract)
{
    if (r->nspecs == MAX_RESULTS)
        return -1;
    spec *x = &r->specs[r->nspecs];
    x->impl = impl;
    x->op = op;
    x->kind = kind;
    snprintf(x->what, sizeof x->what, "%s", what);
    snprintf(x->detail, sizeof x->detail, "%s", detail);
    x->fn = fn;
    x->ctx = ctx;
    x->flops = flops;
    x->samples = samples;
    x->subtract = subtract;
    return r->nspecs++;
}

static bench_timing net_of(bench_timing t, bench_timing restore);

static void measure_specs(run *r)
{
    bench_item items[MAX_RESULTS];
    for (int k = 0; k < r->nspecs; ++k)
        items[k] = (bench_item){r->specs[k].fn, r->specs[k].ctx, {0, 0, 0, 0, 1}};
    bench_measure_many(items, r->nspecs, &r->cli.plan);
    for (int k = 0; k < r->nspecs; ++k) {
        const spec *x = &r->specs[k];
        if (x->impl == NULL)
            continue;
        bench_timing t = items[k].t;
        if (x->subtract >= 0)
            t = net_of(t, items[x->subtract].t);
        add_result(r, x->impl, x->op, x->kind, x->what, x->detail, t, x->flops,
                   x->samples);
    }
}

/* ---- one configuration -------------------------------------------------- */

static bench_timing net_of(bench_timing t, bench_timing restore)
{
    t.median = fmax(t.median - restore.median, 0.0);
    t.min = fmax(t.min - restore.median, 0.0);
    t.max = fmax(t.max - restore.median, 0.0);
    return t;
}

static bench_timing sum_of(const run *r, const char *const *ops)
{
    bench_timing s = {0, 0, 0, 0, 0};
    for (; *ops; ++ops) {
        const result *x = find(r, "blas", *ops);
        if (x == NULL)
            continue;
        s.median += x->t.median;
        s.min += x->t.min;
        s.max += x->t.max;
    }
    return s;
}

/* What one configuration times, shared by the functions below. */
typedef struct config_ctx {
    run *r;
    const bench_shape *s;
    lib_ctx *c;
    bench_floor *f;
    bench_part_flops fl;
    int cells;
    int ld_t;          /* forward's W_hh^T copy stride, 0: it reads W_hh */
    int do_fwd, do_train, do_step;
} config_ctx;

/* The forward per-step product as the library makes it at this shape. */
static const char *rec_call_name(int batch, int transposed)
{
    if (batch == 1)
        return transposed ? "sgemv T" : "sgemv";
    return transposed ? "sgemm NN" : "sgemm NT";
}

/* A second model with the same parameters stays unpacked (step_direct);
 * the timed one gets its packed weights here, once, outside the timing. */
static int setup_steps(lib_ctx *c, const rnn_config *cfg)
{
    float *src = NULL, *dst = NULL;
    size_t n_src = 0, n_dst = 0;
    if (rnn_create(&c->direct, cfg) != RNN_OK ||
        rnn_params(c->model, &src, &n_src) != RNN_OK ||
        rnn_params(c->direct, &dst, &n_dst) != RNN_OK || n_src != n_dst) {
        fprintf(stderr, "the unpacked model: %s\n", rnn_last_error());
        return -1;
    }
    memcpy(dst, src, n_src * sizeof(float));
    if (rnn_pack_weights(c->model) != RNN_OK ||
        rnn_state_create(&c->state, c->model, c->s->batch) != RNN_OK ||
        rnn_state_create(&c->direct_state, c->direct, c->s->batch) != RNN_OK) {
        fprintf(stderr, "step setup: %s\n", rnn_last_error());
        return -1;
    }
    return 0;
}

/* The re-enactment makes the library's calls on the same operands, so on
 * most BLAS its results equal the library's bit for bit, and they must:
 * a stale re-enactment differs by float rounding only (1e-8 to 5e-7 when
 * the bias order, the orientation of W_hh or the step's products change),
 * which no tolerance can tell from noise. On a BLAS whose rounding depends
 * on where its operands sit (blas_rounding_moves), r->check_tol is larger. */
static void check_same(const run *r, const bench_shape *s, const char *what,
                       const float *floor_v, const float *lib, size_t n)
{
    double diff = 0;
    for (size_t i = 0; i < n; ++i)
        diff = fmax(diff, fabs((double)floor_v[i] - lib[i]));
    if (!(diff <= r->check_tol))
        fprintf(stderr, "WARNING: config %s: the bench's re-enactment of %s "
                        "differs from librnn by %g (allowed: %g): src/ changed, "
                        "update bench/bench_floor.c\n", s->name, what, diff,
                r->check_tol);
}

/* Runs each library call once, checks it, and compares the re-enactment's
 * results with the library's. Returns -1 when a library call fails. */
static int check_floor(config_ctx *x)
{
    lib_ctx *c = x->c;
    const bench_shape *s = x->s;
    const size_t xs = (size_t)s->seq_len * s->batch * s->input;
    const size_t ys = (size_t)s->seq_len * s->batch * s->dirs * s->hidden;
    const size_t bh = (size_t)s->batch * s->hidden;
    lib_forward(c);
    if (c->status != RNN_OK) {
        fprintf(stderr, "rnn_forward: %s\n", rnn_last_error());
        return -1;
    }
    check_same(x->r, s, "the forward (y)", bench_floor_output(x->f), c->y, ys);
    lib_train(c);
    if (c->status != RNN_OK) {
        fprintf(stderr, "rnn_backward: %s\n", rnn_last_error());
        return -1;
    }
    bench_floor_train(x->f);
    check_same(x->r, s, "the backward (dx)", bench_floor_dx(x->f), c->dx, xs);
    if (!x->do_step)
        return 0;
    /* Two steps from h = 0 each, so that the second reads a nonzero h. */
    static const char *const what[2] = {"the packed step (y_t)",
                                        "the unpacked step (y_t)"};
    void (*const lib_fn[2])(void *) = {lib_step, lib_step_direct};
    void (*const floor_fn[2])(void *) = {bench_floor_step, bench_floor_step_direct};
    for (int k = 0; k < 2; ++k) {
        for (int n = 0; n < 2; ++n) {
            lib_fn[k](c);
            floor_fn[k](x->f);
        }
        if (c->status != RNN_OK) {
            fprintf(stderr, "rnn_step: %s\n", rnn_last_error());
            return -1;
        }
        check_same(x->r, s, what[k], bench_floor_step_output(x->f), c->yt, bh);
    }
    return 0;
}

static void add_whole_specs(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    const double B = s->batch, fwd_flops = bench_forward_flops(s);
    const double step_flops = bench_step_flops(s);
    static const char *const floor_detail = "same BLAS calls + passes, no library";
    if (x->do_fwd) {
        add_spec(r, "librnn", "forward", "whole", "forward   librnn", "rnn_forward",
                 lib_forward, x->c, fwd_flops, B, -1);
        if (r->floor_too)
            add_spec(r, "blas", "forward", "whole", "forward   floor", floor_detail,
                     bench_floor_forward, x->f, fwd_flops, B, -1);
    }
    if (x->do_train) {
        add_spec(r, "librnn", "train", "whole", "train     librnn",
                 "rnn_forward + rnn_backward (dx)", lib_train, x->c,
                 BENCH_TRAIN_FACTOR * fwd_flops, B, -1);
        if (r->floor_too)
            add_spec(r, "blas", "train", "whole", "train     floor", floor_detail,
                     bench_floor_train, x->f, BENCH_TRAIN_FACTOR * fwd_flops, B, -1);
    }
    if (x->do_step) {
        add_spec(r, "librnn", "step", "whole", "step      librnn",
                 "rnn_step, weights packed once (rnn_pack_weights)", lib_step, x->c,
                 step_flops, B, -1);
        if (r->floor_too)
            add_spec(r, "blas", "step", "whole", "step      floor", floor_detail,
                     bench_floor_step, x->f, step_flops, B, -1);
        add_spec(r, "librnn", "step_direct", "whole", "step_direct librnn",
                 "rnn_step, unpacked model", lib_step_direct, x->c, step_flops, B, -1);
        if (r->floor_too)
            add_spec(r, "blas", "step_direct", "whole", "step_direct floor",
                     floor_detail, bench_floor_step_direct, x->f, step_flops, B, -1);
    }
}

/* One forward per-step product alone, and its what-ifs. */
static void add_rec_calls(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    const int t = x->ld_t != 0;
    const int ld = bench_floor_copy_ld(s->hidden), other = bench_floor_other_ld(s->hidden);
    char d[128];
    snprintf(d, sizeof d, "one %s (%d, %d, %d) on %s, hot inputs",
             rec_call_name(s->batch, t), s->batch, s->hidden, s->hidden,
             t ? "the W_hh^T copy" : "W_hh");
    add_spec(r, "blas", "rec.call", "call", "  rec: one call alone", d,
             bench_call_fwd_rec, x->f, x->fl.call_rec, 0, -1);
    if (t)
        snprintf(d, sizeof d, "what the library did before: %s on W_hh itself",
                 rec_call_name(s->batch, 0));
    else
        snprintf(d, sizeof d, "what if W_hh^T were copied (ld %d): %s", ld,
                 rec_call_name(s->batch, 1));
    add_spec(r, "blas", t ? "rec.call.nt" : "rec.call.nn", "whatif",
             t ? "  rec: one call, on W_hh" : "  rec: one call, on W_hh^T", d,
             bench_call_fwd_rec_other, x->f, x->fl.call_rec, 0, -1);
    snprintf(d, sizeof d, "what if the W_hh^T copy had ld %d, not %d: %s", other, ld,
             rec_call_name(s->batch, 1));
    char what[40];
    snprintf(what, sizeof what, "  rec: one call, ld %d", other);
    add_spec(r, "blas", "rec.call.ld", "whatif", what, d, bench_call_fwd_rec_other_ld,
             x->f, x->fl.call_rec, 0, -1);
}

static void add_fwd_parts(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    const int t = x->ld_t != 0;
    char d[128];
    if (t) {
        snprintf(d, sizeof d, "%d x W_hh [%d, %d] -> W_hh^T, ld %d", x->cells,
                 s->hidden, s->hidden, x->ld_t);
        add_spec(r, "blas", "fwd.transpose", "part", "  fwd.transpose", d,
                 bench_part_fwd_transpose, x->f, 0, 0, -1);
    }
    const int gemms = s->dirs + (s->layers - 1) * s->dirs * s->dirs;
    if (s->layers == 1)
        snprintf(d, sizeof d, "bias fill + %d x sgemm NT (%d, %d, %d) beta 1", gemms,
                 s->seq_len * s->batch, s->hidden, s->input);
    else
        snprintf(d, sizeof d, "bias fill + %d x sgemm NT (%d, %d, %d or %d) beta 1",
                 gemms, s->seq_len * s->batch, s->hidden, s->input, s->hidden);
    add_spec(r, "blas", "fwd.proj", "part", "  fwd.proj", d, bench_part_fwd_proj, x->f,
             x->fl.fwd_proj, 0, -1);
    snprintf(d, sizeof d, "%d x %s (%d, %d, %d) on %s, beta 1", x->cells * s->seq_len,
             rec_call_name(s->batch, t), s->batch, s->hidden, s->hidden,
             t ? "W_hh^T" : "W_hh");
    add_spec(r, "blas", "fwd.rec", "part", "  fwd.rec", d, bench_part_fwd_rec, x->f,
             x->fl.fwd_rec, 0, -1);
    int restore = add_spec(r, NULL, "fwd.act.restore", "", "", "",
                           bench_part_fwd_act_restore, x->f, 0, 0, -1);
    snprintf(d, sizeof d, "%d x %s on [%d, %d] (bias pre-filled)",
             x->cells * s->seq_len, r->act, s->batch, s->hidden);
    add_spec(r, "blas", "fwd.act", "part", "  fwd.act", d, bench_part_fwd_act, x->f, 0,
             0, restore);
    add_spec(r, "blas", "fwd.copy", "part", "  fwd.copy",
             "x into the cache, h0 = 0, y out", bench_part_fwd_copy, x->f, 0, 0, -1);
    add_rec_calls(x);
}

static void add_bwd_parts(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    const char *rec_call = s->batch == 1 ? "sgemv T" : "sgemm NN";
    const int cells = x->cells;
    char d[128];
    snprintf(d, sizeof d, "%d x %s (%d, %d, %d) on W_hh, beta 1",
             cells * (s->seq_len - 1), rec_call, s->batch, s->hidden, s->hidden);
    add_spec(r, "blas", "bwd.rec", "part", "  bwd.rec", d, bench_part_bwd_rec, x->f,
             x->fl.bwd_rec, 0, -1);
    int restore = add_spec(r, NULL, "bwd.act.restore", "", "", "",
                           bench_part_bwd_act_restore, x->f, 0, 0, -1);
    snprintf(d, sizeof d, "%d x dA *= %s'(h) on [%d, %d]", cells * s->seq_len, r->act,
             s->batch, s->hidden);
    add_spec(r, "blas", "bwd.act", "part", "  bwd.act", d, bench_part_bwd_act, x->f, 0,
             0, restore);
    snprintf(d, sizeof d, "%d x sgemm TN (%d, %d, %d)", cells, s->hidden, s->hidden,
             s->seq_len * s->batch);
    add_spec(r, "blas", "bwd.dw_hh", "part", "  bwd.dw_hh", d, bench_part_bwd_dw_hh,
             x->f, x->fl.bwd_dw_hh, 0, -1);
    snprintf(d, sizeof d, "%d x sgemm TN (%d, %d, %d)", cells, s->hidden, s->input,
             s->seq_len * s->batch);
    add_spec(r, "blas", "bwd.dw_ih", "part", "  bwd.dw_ih", d, bench_part_bwd_dw_ih,
             x->f, x->fl.bwd_dw_ih, 0, -1);
    add_spec(r, "blas", "bwd.db", "part", "  bwd.db",
             "column sums of dA into db_ih, db_hh", bench_part_bwd_db, x->f, 0, 0, -1);
    snprintf(d, sizeof d, "%d x sgemm NN (%d, %d, %d)", cells, s->seq_len * s->batch,
             s->input, s->hidden);
    add_spec(r, "blas", "bwd.dx", "part", "  bwd.dx", d, bench_part_bwd_dx, x->f,
             x->fl.bwd_dx, 0, -1);
    add_spec(r, "blas", "bwd.copy", "part", "  bwd.copy", "dy into dA",
             bench_part_bwd_copy, x->f, 0, 0, -1);
    snprintf(d, sizeof d, "one %s (%d, %d, %d), hot inputs", rec_call, s->batch,
             s->hidden, s->hidden);
    add_spec(r, "blas", "bwd.rec.call", "call", "  bwd.rec: one call alone", d,
             bench_call_bwd_rec, x->f, x->fl.call_rec, 0, -1);
}

/* The packed step's parts (step_direct is timed whole only). */
static void add_step_parts(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    char d[128];
    snprintf(d, sizeof d, "%d x ([x_t | h] rows, bias fill, h back) [%d, %d], y_t out",
             s->layers, s->batch, s->hidden);
    add_spec(r, "blas", "step.copy", "part", "  step.copy", d, bench_part_step_copy,
             x->f, 0, 0, -1);
    const char *call = s->batch == 1 ? "sgemv T" : "sgemm NN";
    if (s->layers == 1)
        snprintf(d, sizeof d, "%d x %s (%d, %d, %d) on the packed block, beta 1",
                 s->layers, call, s->batch, s->hidden, s->input + s->hidden);
    else
        snprintf(d, sizeof d, "%d x %s (%d, %d, %d or %d) on the packed blocks, beta 1",
                 s->layers, call, s->batch, s->hidden, s->input + s->hidden,
                 2 * s->hidden);
    add_spec(r, "blas", "step.rec", "part", "  step.rec", d, bench_part_step_rec, x->f,
             x->fl.step_rec, 0, -1);
    snprintf(d, sizeof d, "%d x %s on [%d, %d] (+ restore)", s->layers, r->act,
             s->batch, s->hidden);
    add_spec(r, "blas", "step.act", "part", "  step.act", d, bench_part_step_act, x->f,
             0, 0, -1);
    if (!x->do_fwd && !x->do_train)
        add_rec_calls(x); /* the recurrence product alone, as above */
}

/* Sums of parts, as rows of their own, and the recurrence inside librnn's
 * forward: what is left of rnn_forward once the other parts are taken
 * out. */
static void add_derived(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    const double B = s->batch, fwd_flops = bench_forward_flops(s);
    static const char *const fwd_parts[] = {"fwd.transpose", "fwd.proj", "fwd.rec",
                                            "fwd.act", "fwd.copy", NULL};
    static const char *const train_parts[] = {
        "fwd.transpose", "fwd.proj", "fwd.rec", "fwd.act", "fwd.copy", "bwd.rec",
        "bwd.act", "bwd.dw_hh", "bwd.dw_ih", "bwd.db", "bwd.dx", "bwd.copy", NULL};
    static const char *const step_parts[] = {"step.copy", "step.rec", "step.act",
                                             NULL};
    if (!r->parts)
        return;
    if (x->do_fwd)
        add_result(r, "blas", "forward.parts", "sum", "forward   sum of parts", "",
                   sum_of(r, fwd_parts), fwd_flops, B);
    if (x->do_train)
        add_result(r, "blas", "train.parts", "sum", "train     sum of parts", "",
                   sum_of(r, train_parts), BENCH_TRAIN_FACTOR * fwd_flops, B);
    if (x->do_step)
        add_result(r, "blas", "step.parts", "sum", "step      sum of parts", "",
                   sum_of(r, step_parts), bench_step_flops(s), B);
    const double lib_fwd = med(r, "librnn", "forward");
    if (!x->do_fwd || lib_fwd <= 0)
        return;
    double rest = med(r, "blas", "fwd.transpose") + med(r, "blas", "fwd.proj") +
                  med(r, "blas", "fwd.act") + med(r, "blas", "fwd.copy");
    double t_rec = lib_fwd - rest;
    if (t_rec > 0) {
        bench_timing t = {t_rec, t_rec, t_rec, 0, 0};
        add_result(r, "librnn", "rec.implied", "derived", "  rec: inside rnn_forward",
                   "rnn_forward - (transpose + proj + act + copy)", t, x->fl.fwd_rec, 0);
    }
}

static void print_table(const config_ctx *x)
{
    const run *r = x->r;
    const bench_shape *s = x->s;
    FILE *out = r->table;
    fprintf(out, "\nconfig %s: I=%d H=%d T=%d B=%d layers=%d dirs=%d %s   "
                 "forward %.3g flop, step %.3g flop\n",
            s->name, s->input, s->hidden, s->seq_len, s->batch, s->layers, s->dirs,
            r->act, bench_forward_flops(s), bench_step_flops(s));
    fprintf(out, "  %-26s %10s %10s %10s %8s %7s %11s\n", "", "median", "min", "max",
            "GFLOP/s", "%peak", "samples/s");
    for (int k = 0; k < r->nres; ++k)
        print_result(out, r, &r->res[k]);
    print_gap(out, "forward", med(r, "librnn", "forward"), med(r, "blas", "forward"),
              med(r, "blas", "forward.parts"));
    print_gap(out, "train", med(r, "librnn", "train"), med(r, "blas", "train"),
              med(r, "blas", "train.parts"));
    print_gap(out, "step", med(r, "librnn", "step"), med(r, "blas", "step"),
              med(r, "blas", "step.parts"));
    print_gap(out, "step_dir", med(r, "librnn", "step_direct"),
              med(r, "blas", "step_direct"), 0);
    const double packed = med(r, "librnn", "step"), direct = med(r, "librnn", "step_direct");
    if (packed > 0 && direct > 0) {
        fprintf(out, "  packed weights: step_direct / step = %.2fx (librnn)", direct / packed);
        if (med(r, "blas", "step") > 0 && med(r, "blas", "step_direct") > 0)
            fprintf(out, ", %.2fx (floor)",
                    med(r, "blas", "step_direct") / med(r, "blas", "step"));
        fputc('\n', out);
    }
    const result *call = find(r, "blas", "rec.call");
    const result *loop = find(r, "blas", "fwd.rec");
    const result *impl = find(r, "librnn", "rec.implied");
    if (call && loop) {
        fprintf(out, "  recurrence GFLOP/s: one BLAS call alone %.2f | T-step "
                     "BLAS loop %.2f",
                call->flops / call->t.median * 1e-9,
                loop->flops / loop->t.median * 1e-9);
        if (impl)
            fprintf(out, " | inside rnn_forward %.2f", impl->flops / impl->t.median * 1e-9);
        fputc('\n', out);
    }
    fflush(out);
}

static void free_lib(lib_ctx *c)
{
    rnn_state_destroy(c->state);
    rnn_state_destroy(c->direct_state);
    rnn_destroy(c->model);
    rnn_destroy(c->direct);
    free(c->x);
    free(c->dx);
    free(c->y);
    free(c->dy);
    free(c->xt);
    free(c->yt);
}

/* The model, its inputs and, when steps are timed, the packed and the
 * unpacked model with their states. */
static int setup_lib(config_ctx *x, lib_ctx *c)
{
    const bench_shape *s = x->s;
    rnn_config cfg = rnn_config_default(s->input, s->hidden);
    cfg.num_layers = s->layers;
    cfg.bidirectional = s->dirs == 2;
    cfg.nonlinearity = x->r->cli.relu ? RNN_RELU : RNN_TANH;
    cfg.seed = 42;
    c->s = s;
    if (rnn_create(&c->model, &cfg) != RNN_OK) {
        fprintf(stderr, "rnn_create: %s\n", rnn_last_error());
        return -1;
    }
    const size_t xs = (size_t)s->seq_len * s->batch * s->input;
    const size_t ys = (size_t)s->seq_len * s->batch * s->dirs * s->hidden;
    c->x = malloc(xs * sizeof(float));
    c->dx = malloc(xs * sizeof(float));
    c->y = malloc(ys * sizeof(float));
    c->dy = malloc(ys * sizeof(float));
    c->xt = malloc((size_t)s->batch * s->input * sizeof(float));
    c->yt = malloc((size_t)s->batch * s->hidden * sizeof(float));
    if (!c->x || !c->dx || !c->y || !c->dy || !c->xt || !c->yt) {
        fprintf(stderr, "out of memory for config %s\n", s->name);
        return -1;
    }
    bench_fill_uniform(c->x, xs, -1, 1, 3);
    bench_fill_uniform(c->dy, ys, -0.1f, 0.1f, 4);
    memcpy(c->xt, c->x, (size_t)s->batch * s->input * sizeof(float));
    return x->do_step ? setup_steps(c, &cfg) : 0;
}

static int time_config(run *r, const bench_shape *s)
{
    const int ops = r->cli.ops;
    config_ctx x = {r, s, NULL, NULL, bench_floor_flops(s), s->layers * s->dirs,
                    bench_floor_transposed_ld(s), 0, 0, 0};
    x.do_fwd = !s->step_only && (ops & BENCH_OP_FORWARD);
    x.do_train = !s->step_only && (ops & BENCH_OP_TRAIN);
    x.do_step = s->dirs == 1 && (s->step_only || (ops & BENCH_OP_STEP));
    lib_ctx c;
    memset(&c, 0, sizeof c);
    x.c = &c;
    int rc = 1;
    if (setup_lib(&x, &c) != 0)
        goto done;
    x.f = bench_floor_create(c.model, s, r->cli.relu, c.x, c.dy);
    if (x.f == NULL) {
        fprintf(stderr, "bench_floor_create failed for config %s\n", s->name);
        goto done;
    }
    if (check_floor(&x) != 0)
        goto done;

    /* Everything of this configuration is measured together, interleaved
     * (bench_measure_many), so that librnn, the floor and the parts see the
     * same machine. */
    r->nres = 0;
    r->nspecs = 0;
    int peak_spec = -1;
    if (r->peak_k.n > 0) {
        char d[128];
        snprintf(d, sizeof d, "sgemm NN (%d, %d, %d): the 100%% of %%peak",
                 r->peak_k.n, r->peak_k.n, r->peak_k.n);
        peak_spec = add_spec(r, "blas", "sgemm.peak", "peak", "sgemm peak", d,
                             peak_call, &r->peak_k, peak_flops(&r->peak_k), 0, -1);
    }
    add_whole_specs(&x);
    if (r->parts && (x.do_fwd || x.do_train))
        add_fwd_parts(&x);
    if (r->parts && x.do_train)
        add_bwd_parts(&x);
    if (r->parts && x.do_step)
        add_step_parts(&x);
    measure_specs(r);
    if (peak_spec >= 0)
        r->peak = peak_flops(&r->peak_k) / find(r, "blas", "sgemm.peak")->t.median * 1e-9;
    add_derived(&x);
    print_table(&x);
    csv_rows(r, s);
    rc = 0;
done:
    bench_floor_destroy(x.f);
    free_lib(&c);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *out)
{
    fputs("usage: rnn_bench [options]\n"
          "Times librnn (forward, training step, streaming step), each hot loop\n"
          "through direct CBLAS calls, and the sgemm peak, in one run.\n"
          "Rows: forward, train (forward + backward with dx), step (rnn_step on\n"
          "weights packed once by rnn_pack_weights, before timing) and\n"
          "step_direct (rnn_step on an unpacked copy of the model), each as\n"
          "librnn and floor (the same calls made directly); then the parts:\n"
          "  fwd.transpose  W_hh^T copies made per rnn_forward (when T*B repays)\n"
          "  fwd.proj       bias pre-fill of the outputs + projection, beta 1\n"
          "  fwd.rec        the per-step products (on the copy, or on W_hh)\n"
          "  fwd.act        the activations (bias already in); fwd.copy: copies\n"
          "  bwd.*          backward's products, passes and copies\n"
          "  step.copy      packed step: [x_t | h] rows, bias fill, h back, y_t\n"
          "  step.rec       packed step: its ONE product per layer (input and\n"
          "                 recurrent weights together); step.act: activation\n"
          "and one recurrence product alone with what-ifs (other orientation,\n"
          "other row stride of the W_hh^T copy).\nOptions:\n",
          out);
    bench_cli_usage(out);
    fputs("  --no-parts        only the whole calls (librnn and floor)\n"
          "  --no-floor        only librnn's calls (no floor, no parts)\n"
          "  --peak-n N        size of the square sgemm of the peak (default\n"
          "                    1000, not 1024: a power-of-two leading dimension\n"
          "                    hits cache-set aliasing; quick 256; 0 = skip)\n"
          "  --help\n"
          "Thread count: --threads N, or OPENBLAS_NUM_THREADS / OMP_NUM_THREADS /\n"
          "BLIS_NUM_THREADS in the environment. The BLAS is whatever libblas.so.3\n"
          "the dynamic linker finds (LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/\n"
          "blis-openmp ... switches it); the report names it.\n",
          out);
}

int main(int argc, char **argv)
{
    static run r; /* large: keep it off the stack */
    int peak_n = -1;
    bench_cli_init(&r.cli);
    r.parts = 1;
    r.floor_too = 1;
    for (int i = 1; i < argc; ++i) {
        int used = bench_cli_parse(&r.cli, argc, argv, &i);
        if (used < 0)
            return 2;
        if (used)
            continue;
        if (strcmp(argv[i], "--no-parts") == 0)
            r.parts = 0;
        else if (strcmp(argv[i], "--no-floor") == 0)
            r.floor_too = r.parts = 0;
        else if (strcmp(argv[i], "--peak-n") == 0 && i + 1 < argc)
            peak_n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "rnn_bench: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    bench_cli_finish(&r.cli);
    if (peak_n < 0)
        peak_n = r.cli.quick ? 256 : 1000;
    r.act = r.cli.relu ? "relu" : "tanh";

    int csv_stdout = r.cli.csv != NULL && strcmp(r.cli.csv, "-") == 0;
    r.table = csv_stdout ? stderr : stdout;
    if (csv_stdout)
        r.csv = stdout;
    else if (r.cli.csv != NULL) {
        r.csv = fopen(r.cli.csv, "w");
        if (r.csv == NULL) {
            perror(r.cli.csv);
            return 2;
        }
    }

    const int threads_set = r.cli.threads > 0 && blas_set_threads(r.cli.threads);
    blas_identify(&r.blas);
    const int rounding_moves = blas_rounding_moves();
    r.check_tol = rounding_moves == 0 ? 0.0 : 1e-4;
    if (r.cli.threads > 0 && !threads_set && r.blas.threads != r.cli.threads &&
        strstr(r.blas.threads_how, "serial") == NULL)
        fprintf(stderr, "rnn_bench: this BLAS cannot be told its thread count at "
                        "run time: set OPENBLAS_NUM_THREADS / BLIS_NUM_THREADS / "
                        "OMP_NUM_THREADS in the environment\n");

    /* The peak at this run's thread count (measured again with each config,
     * interleaved with it: that one is the 100% of its "% peak"), and
     * single-threaded as well. */
    bench_timing peak_t = {0, 0, 0, 0, 1}, peak1_t = peak_t;
    if (peak_n > 0 && peak_alloc(&r.peak_k, peak_n) != 0) {
        fprintf(stderr, "rnn_bench: no memory for the %d^3 sgemm peak\n", peak_n);
        peak_n = 0;
    }
    r.peak_k.n = peak_n;
    if (peak_n > 0) {
        peak_t = measure_peak(&r.peak_k, &r.cli.plan);
        r.peak = peak_flops(&r.peak_k) / peak_t.median * 1e-9;
        if (r.blas.threads > 1 && blas_set_threads(1)) {
            peak1_t = measure_peak(&r.peak_k, &r.cli.plan);
            blas_set_threads(r.blas.threads);
        }
    }

    FILE *meta[2] = {r.table, r.csv};
    for (int k = 0; k < 2; ++k) {
        FILE *out = meta[k];
        if (out == NULL || (k == 1 && out == r.table))
            continue;
        fprintf(out, "# rnn_bench: librnn %s, %s mode\n", rnn_version(),
                r.cli.quick ? "quick" : "full");
        fprintf(out, "# blas: %s\n", rnn_blas_info());
        fprintf(out, "# blas path: %s\n", r.blas.path);
        fprintf(out, "# backend: %s\n", r.blas.backend);
        fprintf(out, "# threads: %d (%s)\n", r.blas.threads, r.blas.threads_how);
        fprintf(out, "# floor check: %s\n",
                rounding_moves == 0
                    ? "bit for bit (this BLAS rounds alike at any operand address)"
                    : "to 1e-4 (this BLAS's rounding moves with operand addresses)");
        bench_print_machine(out);
        if (peak_n > 0) {
            fprintf(out, "# sgemm peak at start (%d^3, %d thread%s): %.1f GFLOP/s "
                         "(median; best %.1f); measured again with each config\n",
                    peak_n, r.blas.threads, r.blas.threads > 1 ? "s" : "", r.peak,
                    peak_flops(&r.peak_k) / peak_t.min * 1e-9);
            if (peak1_t.median > 0)
                fprintf(out, "# sgemm peak at start (%d^3, 1 thread): %.1f GFLOP/s\n",
                        peak_n, peak_flops(&r.peak_k) / peak1_t.median * 1e-9);
        }
        fprintf(out, "# timing: median of >= %d samples of >= %.1f ms, %.2f s "
                     "budget per operation; flops: forward 2*T*B*H*(I_l+H) per "
                     "layer and direction, train = %.0fx forward\n",
                r.cli.plan.min_reps, r.cli.plan.sample_s * 1e3, r.cli.plan.budget_s,
                BENCH_TRAIN_FACTOR);
    }
    if (r.csv) {
        bench_csv_header(r.csv);
        if (peak_n > 0) {
            bench_shape ps = {"peak", peak_n, peak_n, 1, peak_n, 1, 1, 0};
            bench_row row = {"blas", r.cli.label, r.blas.backend, r.blas.path,
                             r.blas.threads, &ps, r.act, "sgemm", "peak", peak_t,
                             peak_flops(&r.peak_k), r.peak, 0};
            bench_csv_row(r.csv, &row);
            if (peak1_t.median > 0) {
                row.op = "sgemm.1t";
                row.threads = 1;
                row.t = peak1_t;
                bench_csv_row(r.csv, &row);
            }
        }
    }

    int status = 0;
    for (int k = 0; k < r.cli.num_shapes; ++k)
        status |= time_config(&r, &r.cli.shapes[k]);
    bench_print_load(r.table, "load at end");
    if (r.csv && r.csv != r.table)
        bench_print_load(r.csv, "load at end");
    if (r.csv && r.csv != stdout)
        fclose(r.csv);
    peak_free(&r.peak_k);
    return status;
}
