/* SPDX-License-Identifier: MIT
 *
 * rnn_bench.c - times librnn's forward pass, inference forward, training
 * step (forward + backward) and streaming step, splits their time into the
 * library's hot loops and its overhead, and sets them against the speed of
 * the BLAS library loaded into the same process.
 *
 *   rnn_bench --config all             the standard configs of DESIGN.md
 *   rnn_bench --shape 64,256,100,32,2,2 --ops forward,train
 *   rnn_bench --quick --csv -          CI smoke: CSV on stdout, table on stderr
 *   rnn_bench --cell lstm --config c   the LSTM (or GRU) cell, same rows
 *
 * For each configuration it prints, and writes as CSV rows:
 *   librnn   the public calls of librnn.so: forward = rnn_forward, train =
 *            rnn_forward + rnn_backward (dx), step = rnn_step on a model
 *            whose weights were packed once by rnn_pack_weights before
 *            timing (like oneDNN's weight reorder, outside the timed loop),
 *            step_direct = rnn_step on an unpacked copy of the same model
 *            (what a caller gets without rnn_pack_weights), infer =
 *            rnn_forward_inference (nothing kept for backward; config e
 *            too, as a one-step sequence), on the same model as forward;
 *   floor    the same calls made in the profiling build of the library
 *            (not infer: its chunks' copies are not phases, so a floor
 *            would leave them out and pass them off as overhead)
 *            (bench_profile.h: the same sources, each BLAS call,
 *            element-wise pass and copy of the drivers timed as a phase),
 *            the sum of their phases: what librnn would cost with zero
 *            overhead on this BLAS. librnn - floor = overhead;
 *   parts    each phase alone (src/profile.h), and their sum:
 *              fwd.transpose  the W_hh^T copies rnn_forward makes per call
 *                             (only when T*B repays them, src/forward.c);
 *              fwd.proj       the bias pre-fill of the T*B output rows AND
 *                             the projection sgemm (beta = 1 onto it);
 *              fwd.rec        the T per-step products;
 *              fwd.act        the cell's T element-wise passes (Elman: the
 *                             activation, bias already in);
 *              fwd.copy       x into the cache, h0, y out;
 *              bwd.*          backward's products, passes and copies;
 *              step.copy      the packed step's copies: per layer the rows
 *                             [x_t | h], the bias, h back; y_t out;
 *              step.rec       the packed step's ONE product per layer;
 *              step.act       the cell's element-wise pass;
 *            the parts split the packed step; step_direct has a floor only;
 *   call     single BLAS calls alone on random operands (bench_calls.h):
 *            one recurrence product as the library makes it at that shape
 *            (the BLAS's speed there), and what-ifs on layouts the library
 *            does not use: the other orientation (on W_hh itself when the
 *            library reads the W_hh^T copy, on a copy when it reads W_hh)
 *            and the copy with the other row stride (H <-> H + 16);
 *   peak     a square sgemm (1000^3) in the same run, the 100% of "% peak".
 * Everything of one configuration is sampled interleaved, round by round,
 * and reported as medians (min and max too); see bench_common.c.
 * FLOPs: forward 2*T*B*G*H*(I_l + H) per layer and direction, G the cell's
 * gate count (1 Elman, 4 LSTM, 3 GRU; element-wise work not counted),
 * training step 3x forward, one step = forward at T = 1. The single BLAS
 * calls are the Elman cell's (B, H, H) product: not timed for the others.
 */
#define _GNU_SOURCE /* dladdr, RTLD_NOLOAD */

#include "bench_calls.h"
#include "bench_common.h"
#include "bench_profile.h"
#include "internal.h" /* rnn__copy_ld: the row stride of librnn's weight copies */
#include "rnn.h"

#include <cblas.h>
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(BENCH_CELL_RNN == (int)RNN_CELL_RNN &&
                   BENCH_CELL_LSTM == (int)RNN_CELL_LSTM &&
                   BENCH_CELL_GRU == (int)RNN_CELL_GRU,
               "--cell values are passed to rnn_config.cell as they are");

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

static void lib_infer(void *p)
{
    lib_ctx *c = p;
    c->status = rnn_forward_inference(c->model, c->s->seq_len, c->s->batch, c->x, NULL,
                                      NULL, c->y, NULL, NULL);
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
    bench_item item;
    double flops, samples;
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
    int parts;         /* report the phases and calls (not --no-parts)       */
    int floor_too;     /* time the profiling build (not --no-floor)          */
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
 * with a NULL impl is measured but not reported as it is (the profiling
 * build's calls: their phases are). */
static int add_spec(run *r, const char *impl, const char *op, const char *kind,
                    const char *what, const char *detail, bench_item item,
                    double flops, double samples)
{
    if (r->nspecs == MAX_RESULTS)
        return -1;
    spec *x = &r->specs[r->nspecs];
    x->impl = impl;
    x->op = op;
    x->kind = kind;
    snprintf(x->what, sizeof x->what, "%s", what);
    snprintf(x->detail, sizeof x->detail, "%s", detail);
    x->item = item;
    x->flops = flops;
    x->samples = samples;
    return r->nspecs++;
}

static bench_item item_of(void (*fn)(void *), void *ctx)
{
    return (bench_item){.fn = fn, .ctx = ctx};
}

/* OpenBLAS's idle workers spin for 2^28 cycles (0.1 s on this machine)
 * after each multi-threaded call, on the cores that librnn's own threads
 * then need, and a librnn call in that window runs at about one thread's
 * speed. So with more than one BLAS thread the peak sgemm (specs[0]) is
 * timed alone, before the others, and they start once its workers sleep. */
static void measure_specs(run *r, int peak_spec)
{
    bench_item items[MAX_RESULTS];
    for (int k = 0; k < r->nspecs; ++k)
        items[k] = r->specs[k].item;
    int first = 0;
    if (peak_spec == 0 && r->blas.threads > 1) {
        bench_measure_many(items, 1, &r->cli.plan);
        const struct timespec workers_asleep = {0, 300000000};
        nanosleep(&workers_asleep, NULL);
        first = 1;
    }
    bench_measure_many(items + first, r->nspecs - first, &r->cli.plan);
    for (int k = 0; k < r->nspecs; ++k) {
        const spec *x = &r->specs[k];
        if (x->impl != NULL)
            add_result(r, x->impl, x->op, x->kind, x->what, x->detail, items[k].t,
                       x->flops, x->samples);
    }
}

/* ---- one configuration -------------------------------------------------- */

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

/* FLOPs of the parts that multiply (the others count none). */
typedef struct part_flops {
    double fwd_proj, fwd_rec, bwd_rec, bwd_dw_hh, bwd_dw_ih, bwd_dx;
    double step_rec, call_rec;
} part_flops;

static part_flops flops_of(const bench_shape *s)
{
    part_flops fl;
    memset(&fl, 0, sizeof fl);
    const double tb = (double)s->seq_len * s->batch, h = s->hidden;
    const double gh = bench_cell_gates(s->cell) * h; /* output columns */
    for (int layer = 0; layer < s->layers; ++layer) {
        const double in = layer == 0 ? s->input : (double)s->dirs * h;
        fl.fwd_proj += s->dirs * 2.0 * tb * gh * in;
        fl.fwd_rec += s->dirs * 2.0 * tb * gh * h;
        fl.bwd_rec += s->dirs * 2.0 * (s->seq_len - 1) * s->batch * gh * h;
        fl.bwd_dw_hh += s->dirs * 2.0 * tb * gh * h;
        fl.bwd_dw_ih += s->dirs * 2.0 * tb * gh * in;
        fl.bwd_dx += s->dirs * 2.0 * tb * gh * in;
        fl.step_rec += 2.0 * s->batch * gh * (in + h);
    }
    fl.call_rec = 2.0 * s->batch * h * h;
    return fl;
}

static double flops_of_part(const part_flops *fl, const char *part)
{
    static const struct {
        const char *name;
        size_t offset;
    } multiply[] = {{"fwd.proj", offsetof(part_flops, fwd_proj)},
                    {"fwd.rec", offsetof(part_flops, fwd_rec)},
                    {"bwd.rec", offsetof(part_flops, bwd_rec)},
                    {"bwd.dw_hh", offsetof(part_flops, bwd_dw_hh)},
                    {"bwd.dw_ih", offsetof(part_flops, bwd_dw_ih)},
                    {"bwd.dx", offsetof(part_flops, bwd_dx)},
                    {"step.rec", offsetof(part_flops, step_rec)}};
    for (size_t k = 0; k < sizeof multiply / sizeof multiply[0]; ++k)
        if (strcmp(part, multiply[k].name) == 0)
            return *(const double *)(const void *)((const char *)fl + multiply[k].offset);
    return 0;
}

/* What one configuration times, shared by the functions below. */
typedef struct config_ctx {
    run *r;
    const bench_shape *s;
    lib_ctx *c;
    bench_profiled *prof; /* NULL with --no-floor */
    bench_calls *calls;   /* NULL with --no-parts */
    part_flops fl;
    int transposed;       /* forward's products read its W_hh^T copy */
    int do_fwd, do_train, do_step, do_infer;
    int prof_spec[BENCH_PROF_OPS]; /* the profiled calls' specs, or -1 */
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

/* Runs one of librnn.so's calls once; -1 when it fails. */
static int lib_check(lib_ctx *c, void (*fn)(void *))
{
    fn(c);
    if (c->status == RNN_OK)
        return 0;
    fprintf(stderr, "librnn: %s\n", rnn_last_error());
    return -1;
}

/* Runs each call once, in librnn.so and in the profiling build, before
 * timing them. Returns -1 when one fails. */
static int check_calls(config_ctx *x)
{
    lib_ctx *c = x->c;
    void (*const lib_fn[BENCH_PROF_OPS])(void *) = {lib_forward, lib_train, lib_step,
                                                    lib_step_direct};
    const int timed[BENCH_PROF_OPS] = {1, x->do_train, x->do_step, x->do_step};
    if (x->do_infer && lib_check(c, lib_infer) != 0)
        return -1;
    for (int op = 0; op < BENCH_PROF_OPS; ++op) {
        if (!timed[op])
            continue;
        if (lib_check(c, lib_fn[op]) != 0)
            return -1;
        if (x->prof != NULL && bench_profiled_check(x->prof, op) != 0)
            return -1;
    }
    /* Whether the forward just run made the W_hh^T copy. */
    if (x->prof != NULL)
        x->transposed = bench_profiled_calls(x->prof, BENCH_PROF_FORWARD,
                                             bench_profiled_find("fwd.transpose")) > 0;
    return 0;
}

static void add_whole_specs(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    const double B = s->batch, fwd_flops = bench_forward_flops(s);
    const double step_flops = bench_step_flops(s);
    static const char *const names[BENCH_PROF_OPS] = {"forward", "train", "step",
                                                      "step_direct"};
    static const char *const lib_what[BENCH_PROF_OPS] = {
        "forward   librnn", "train     librnn", "step      librnn",
        "step_direct librnn"};
    static const char *const lib_detail[BENCH_PROF_OPS] = {
        "rnn_forward", "rnn_forward + rnn_backward (dx)",
        "rnn_step, weights packed once (rnn_pack_weights)", "rnn_step, unpacked model"};
    void (*const lib_fn[BENCH_PROF_OPS])(void *) = {lib_forward, lib_train, lib_step,
                                                    lib_step_direct};
    const double flops[BENCH_PROF_OPS] = {fwd_flops, BENCH_TRAIN_FACTOR * fwd_flops,
                                          step_flops, step_flops};
    const int timed[BENCH_PROF_OPS] = {x->do_fwd, x->do_train, x->do_step, x->do_step};
    for (int op = 0; op < BENCH_PROF_OPS; ++op) {
        x->prof_spec[op] = -1;
        if (!timed[op])
            continue;
        add_spec(r, "librnn", names[op], "whole", lib_what[op], lib_detail[op],
                 item_of(lib_fn[op], x->c), flops[op], B);
        if (x->prof != NULL)
            x->prof_spec[op] = add_spec(r, NULL, names[op], "whole", "", "",
                                        bench_profiled_item(x->prof, op), flops[op], B);
    }
    /* Not a profiled op (no floor, see the top of this file). */
    if (x->do_infer)
        add_spec(r, "librnn", "infer", "whole", "infer     librnn",
                 "rnn_forward_inference, nothing kept for backward",
                 item_of(lib_infer, x->c), fwd_flops, B);
}

/* One forward per-step product alone, and its what-ifs, on random operands. */
static void add_rec_calls(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    const int t = x->transposed;
    const int ld = rnn__copy_ld(s->hidden);
    const int other = ld == s->hidden ? s->hidden + 16 : s->hidden;
    x->calls = bench_calls_create(s->batch, s->hidden, ld, other);
    if (x->calls == NULL)
        return;
    char d[128];
    snprintf(d, sizeof d, "one %s (%d, %d, %d) on %s, hot inputs",
             rec_call_name(s->batch, t), s->batch, s->hidden, s->hidden,
             t ? "a W_hh^T copy" : "W_hh");
    add_spec(r, "blas", "rec.call", "call", "  rec: one call alone", d,
             item_of(t ? bench_call_on_copy : bench_call_on_w, x->calls),
             x->fl.call_rec, 0);
    if (t)
        snprintf(d, sizeof d, "what the library did before: %s on W_hh itself",
                 rec_call_name(s->batch, 0));
    else
        snprintf(d, sizeof d, "what if W_hh^T were copied (ld %d): %s", ld,
                 rec_call_name(s->batch, 1));
    add_spec(r, "blas", t ? "rec.call.nt" : "rec.call.nn", "whatif",
             t ? "  rec: one call, on W_hh" : "  rec: one call, on W_hh^T", d,
             item_of(t ? bench_call_on_w : bench_call_on_copy, x->calls),
             x->fl.call_rec, 0);
    snprintf(d, sizeof d, "what if the W_hh^T copy had ld %d, not %d: %s", other, ld,
             rec_call_name(s->batch, 1));
    char what[40];
    snprintf(what, sizeof what, "  rec: one call, ld %d", other);
    add_spec(r, "blas", "rec.call.ld", "whatif", what, d,
             item_of(bench_call_on_other_ld, x->calls), x->fl.call_rec, 0);
    if (!x->do_train)
        return;
    const char *bwd_call = s->batch == 1 ? "sgemv T" : "sgemm NN";
    snprintf(d, sizeof d, "one %s (%d, %d, %d) on W_hh, hot inputs", bwd_call,
             s->batch, s->hidden, s->hidden);
    add_spec(r, "blas", "bwd.rec.call", "call", "  bwd.rec: one call alone", d,
             item_of(bench_call_backward, x->calls), x->fl.call_rec, 0);
}

/* The parts an op reports: its phases with this name prefix. fwd.* come
 * from the forward when it is timed, else from the training step. */
static const char *part_prefix(const config_ctx *x, int op)
{
    switch (op) {
    case BENCH_PROF_FORWARD:
        return "fwd.";
    case BENCH_PROF_TRAIN:
        return x->do_fwd ? "bwd." : "";
    case BENCH_PROF_STEP:
        return "step.";
    default:
        return NULL;
    }
}

/* The floor of each profiled call and, unless --no-parts, its phases. */
static void add_profile_results(config_ctx *x)
{
    run *r = x->r;
    const bench_shape *s = x->s;
    static const char *const floor_what[BENCH_PROF_OPS] = {
        "forward   floor", "train     floor", "step      floor", "step_direct floor"};
    for (int op = 0; op < BENCH_PROF_OPS; ++op) {
        const int k = x->prof_spec[op];
        if (k < 0)
            continue;
        const spec *sp = &r->specs[k];
        add_result(r, "blas", sp->op, "whole", floor_what[op],
                   "its BLAS calls, passes and copies (profiling build)",
                   bench_profiled_floor(x->prof, op), sp->flops, sp->samples);
        const char *prefix = part_prefix(x, op);
        if (!r->parts || prefix == NULL)
            continue;
        for (int phase = 0; phase < bench_profiled_phases(); ++phase) {
            const char *name = bench_profiled_phase_name(phase);
            const double calls = bench_profiled_calls(x->prof, op, phase);
            if (name == NULL || strncmp(name, prefix, strlen(prefix)) != 0 || calls == 0)
                continue;
            char what[40], d[128];
            snprintf(what, sizeof what, "  %s", name);
            snprintf(d, sizeof d, "%.0f call%s per %s", calls, calls == 1 ? "" : "s",
                     sp->op);
            if (strcmp(name, "fwd.rec") == 0)
                snprintf(d + strlen(d), sizeof d - strlen(d), ": %s (%d, %d, %d) on %s",
                         rec_call_name(s->batch, x->transposed), s->batch,
                         bench_cell_gates(s->cell) * s->hidden, s->hidden,
                         x->transposed ? "W_hh^T" : "W_hh");
            add_result(r, "blas", name, "part", what, d,
                       bench_profiled_phase(x->prof, op, phase),
                       flops_of_part(&x->fl, name), 0);
        }
    }
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
        "fwd.transpose", "fwd.proj", "fwd.rec", "fwd.act", "fwd.copy", "bwd.copy",
        "bwd.rec", "bwd.act", "bwd.dw_hh", "bwd.dw_ih", "bwd.db", "bwd.dx", NULL};
    static const char *const step_parts[] = {"step.copy", "step.rec", "step.act",
                                             NULL};
    if (!r->parts || x->prof == NULL)
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
    fprintf(out, "\nconfig %s: I=%d H=%d T=%d B=%d layers=%d dirs=%d %s %s   "
                 "forward %.3g flop, step %.3g flop\n",
            s->name, s->input, s->hidden, s->seq_len, s->batch, s->layers, s->dirs,
            bench_cell_name(s->cell), r->act, bench_forward_flops(s),
            bench_step_flops(s));
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
    const double infer = med(r, "librnn", "infer"), fwd = med(r, "librnn", "forward");
    if (infer > 0 && fwd > 0)
        fprintf(out, "  inference: infer / forward = %.2fx (librnn)\n", infer / fwd);
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
    if (call && loop && loop->t.median > 0) {
        fprintf(out, "  recurrence GFLOP/s: one BLAS call alone %.2f | the T-step "
                     "loop's products in rnn_forward (fwd.rec) %.2f",
                call->flops / call->t.median * 1e-9,
                loop->flops / loop->t.median * 1e-9);
        if (impl)
            fprintf(out, " | rnn_forward minus the other parts %.2f",
                    impl->flops / impl->t.median * 1e-9);
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
static int setup_lib(config_ctx *x, lib_ctx *c, rnn_config *cfg)
{
    const bench_shape *s = x->s;
    *cfg = rnn_config_default(s->input, s->hidden);
    cfg->num_layers = s->layers;
    cfg->bidirectional = s->dirs == 2;
    cfg->nonlinearity = x->r->cli.relu ? RNN_RELU : RNN_TANH;
    cfg->cell = s->cell; /* BENCH_CELL_* are rnn_cell_kind's values */
    cfg->seed = 42;
    c->s = s;
    if (rnn_create(&c->model, cfg) != RNN_OK) {
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
    return x->do_step ? setup_steps(c, cfg) : 0;
}

/* The same model in the profiling build (with --no-floor: none). */
static int setup_profiled(config_ctx *x, const rnn_config *cfg)
{
    const run *r = x->r;
    float *params = NULL;
    size_t count = 0;
    if (!r->floor_too)
        return 0;
    const int rounds = r->cli.plan.max_reps > r->cli.plan.min_reps ? r->cli.plan.max_reps
                                                                    : r->cli.plan.min_reps;
    if (rnn_params(x->c->model, &params, &count) != RNN_OK)
        return -1;
    x->prof = bench_profiled_create(cfg, params, count, x->s, x->c->x, x->c->dy,
                                    x->do_step, rounds);
    return x->prof != NULL ? 0 : -1;
}

static int time_config(run *r, const bench_shape *s)
{
    const int ops = r->cli.ops;
    config_ctx x;
    memset(&x, 0, sizeof x);
    x.r = r;
    x.s = s;
    x.fl = flops_of(s);
    x.do_fwd = !s->step_only && (ops & BENCH_OP_FORWARD);
    x.do_train = !s->step_only && (ops & BENCH_OP_TRAIN);
    x.do_step = s->dirs == 1 && (s->step_only || (ops & BENCH_OP_STEP));
    x.do_infer = (ops & BENCH_OP_INFER) != 0;
    lib_ctx c;
    memset(&c, 0, sizeof c);
    x.c = &c;
    rnn_config cfg;
    int rc = 1;
    if (setup_lib(&x, &c, &cfg) != 0 || setup_profiled(&x, &cfg) != 0 ||
        check_calls(&x) != 0)
        goto done;

    /* Everything of this configuration is measured together, interleaved
     * (bench_measure_many), so that librnn, the profiling build and the
     * single calls see the same machine. */
    r->nres = 0;
    r->nspecs = 0;
    int peak_spec = -1;
    if (r->peak_k.n > 0) {
        char d[128];
        snprintf(d, sizeof d, "sgemm NN (%d, %d, %d): the 100%% of %%peak",
                 r->peak_k.n, r->peak_k.n, r->peak_k.n);
        peak_spec = add_spec(r, "blas", "sgemm.peak", "peak", "sgemm peak", d,
                             item_of(peak_call, &r->peak_k), peak_flops(&r->peak_k), 0);
    }
    add_whole_specs(&x);
    if (r->parts && x.prof != NULL && s->cell == BENCH_CELL_RNN)
        add_rec_calls(&x);
    measure_specs(r, peak_spec);
    if (peak_spec >= 0)
        r->peak = peak_flops(&r->peak_k) / find(r, "blas", "sgemm.peak")->t.median * 1e-9;
    if (x.prof != NULL)
        add_profile_results(&x);
    add_derived(&x);
    print_table(&x);
    csv_rows(r, s);
    rc = 0;
done:
    bench_calls_destroy(x.calls);
    bench_profiled_destroy(x.prof);
    free_lib(&c);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *out)
{
    fputs("usage: rnn_bench [options]\n"
          "Times librnn (forward, inference, training step, streaming step), splits\n"
          "its time into hot loops and overhead, and times the sgemm peak, in one\n"
          "run.\n"
          "Rows: forward, train (forward + backward with dx), step (rnn_step on\n"
          "weights packed once by rnn_pack_weights, before timing) and\n"
          "step_direct (rnn_step on an unpacked copy of the model), each as\n"
          "librnn and floor (the sum of the phases of the same call in the\n"
          "library's profiling build: its BLAS calls, passes and copies), and\n"
          "infer (rnn_forward_inference, librnn only); then\n"
          "the parts, each phase alone:\n"
          "  fwd.transpose  W_hh^T copies made per rnn_forward (when T*B repays)\n"
          "  fwd.proj       bias pre-fill of the outputs + projection, beta 1\n"
          "  fwd.rec        the per-step products (on the copy, or on W_hh)\n"
          "  fwd.act        the cell's passes (bias already in); fwd.copy: copies\n"
          "  bwd.*          backward's products, passes and copies\n"
          "  step.copy      packed step: [x_t | h] rows, bias fill, h back, y_t\n"
          "  step.rec       packed step: its ONE product per layer (input and\n"
          "                 recurrent weights together); step.act: the cell\n"
          "and single BLAS calls alone: one recurrence product, and what-ifs\n"
          "(other orientation, other row stride of the W_hh^T copy).\nOptions:\n",
          out);
    bench_cli_usage(out);
    fputs("  --no-parts        only the whole calls (librnn and floor)\n"
          "  --no-floor        only librnn's calls (no profiling build: no floor,\n"
          "                    no parts)\n"
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
    /* librnn's own threads follow --threads too (else RNN_NUM_THREADS or
     * its default); inside its calls the BLAS runs one thread. */
    if (r.cli.threads > 0 && rnn_set_num_threads(r.cli.threads) != RNN_OK)
        fprintf(stderr, "rnn_bench: %s\n", rnn_last_error());
    blas_identify(&r.blas);
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
        fprintf(out, "# threads: %d (%s); librnn: %d\n", r.blas.threads,
                r.blas.threads_how, rnn_get_num_threads());
        if (r.floor_too)
            fprintf(out, "# floor: the phases of librnn's own calls in its profiling "
                         "build (src/profile.h), timed as they run, less the clock's "
                         "own %.1f ns per phase\n",
                    bench_profiled_clock_cost() * 1e9);
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
                     "budget per operation; flops: forward 2*T*B*G*H*(I_l+H) per "
                     "layer and direction (G = %d gates: %s), train = %.0fx forward\n",
                r.cli.plan.min_reps, r.cli.plan.sample_s * 1e3, r.cli.plan.budget_s,
                bench_cell_gates(r.cli.cell), bench_cell_name(r.cli.cell),
                BENCH_TRAIN_FACTOR);
    }
    if (r.csv) {
        bench_csv_header(r.csv);
        if (peak_n > 0) {
            bench_shape ps = {"peak", peak_n, peak_n, 1, peak_n, 1, 1, 0, r.cli.cell};
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
