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
 *   librnn   the public calls (rnn_forward, rnn_forward + rnn_backward,
 *            rnn_step);
 *   floor    the same sequence of CBLAS calls and element-wise passes made
 *            directly (bench_floor.c mirrors src/): what librnn would cost
 *            with zero overhead on this BLAS. librnn - floor = overhead;
 *   parts    each hot loop alone (input projection, recurrence, weight
 *            gradients, dX, element-wise passes, copies), and their sum;
 *   call     one recurrence product alone: the BLAS's speed at that shape,
 *            and what-ifs (W_hh stored transposed, padded leading dims);
 *   peak     a square sgemm (1000^3) in the same run, the 100% of "% peak".
 * Everything of one configuration is sampled interleaved, round by round,
 * and reported as medians (min and max too); see bench_common.c. Before
 * timing, the re-enacted forward's y and backward's dx are compared with the
 * library's (a WARNING on stderr when they differ: bench_floor.c is stale).
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

/* ---- the library's calls ------------------------------------------------ */

typedef struct lib_ctx {
    rnn_t *model;
    rnn_state_t *state;
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

static int time_config(run *r, const bench_shape *s)
{
    const int ops = r->cli.ops;
    const int step_ok = s->dirs == 1;
    const int do_fwd = !s->step_only && (ops & BENCH_OP_FORWARD);
    const int do_train = !s->step_only && (ops & BENCH_OP_TRAIN);
    const int do_step = step_ok && (s->step_only || (ops & BENCH_OP_STEP));
    const int parts = r->parts;
    const double fwd_flops = bench_forward_flops(s);
    const double step_flops = bench_step_flops(s);
    const bench_part_flops fl = bench_floor_flops(s);
    const int cells = s->layers * s->dirs;
    char d[96];

    rnn_config cfg = rnn_config_default(s->input, s->hidden);
    cfg.num_layers = s->layers;
    cfg.bidirectional = s->dirs == 2;
    cfg.nonlinearity = r->cli.relu ? RNN_RELU : RNN_TANH;
    cfg.seed = 42;
    lib_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    bench_floor *f = NULL;
    int rc = 1;
    if (rnn_create(&c.model, &cfg) != RNN_OK) {
        fprintf(stderr, "rnn_create: %s\n", rnn_last_error());
        return 1;
    }
    const size_t xs = (size_t)s->seq_len * s->batch * s->input;
    const size_t ys = (size_t)s->seq_len * s->batch * s->dirs * s->hidden;
    c.x = malloc(xs * sizeof(float));
    c.dx = malloc(xs * sizeof(float));
    c.y = malloc(ys * sizeof(float));
    c.dy = malloc(ys * sizeof(float));
    c.xt = malloc((size_t)s->batch * s->input * sizeof(float));
    c.yt = malloc((size_t)s->batch * s->hidden * sizeof(float));
    if (!c.x || !c.dx || !c.y || !c.dy || !c.xt || !c.yt) {
        fprintf(stderr, "out of memory for config %s\n", s->name);
        goto done;
    }
    bench_fill_uniform(c.x, xs, -1, 1, 3);
    bench_fill_uniform(c.dy, ys, -0.1f, 0.1f, 4);
    memcpy(c.xt, c.x, (size_t)s->batch * s->input * sizeof(float));
    if (step_ok && rnn_state_create(&c.state, c.model, s->batch) != RNN_OK) {
        fprintf(stderr, "rnn_state_create: %s\n", rnn_last_error());
        goto done;
    }
    f = bench_floor_create(c.model, s, r->cli.relu, c.x, c.dy);
    if (f == NULL) {
        fprintf(stderr, "bench_floor_create failed for config %s\n", s->name);
        goto done;
    }

    /* The re-enactment must compute what the library computes. */
    lib_forward(&c);
    if (c.status != RNN_OK) {
        fprintf(stderr, "rnn_forward: %s\n", rnn_last_error());
        goto done;
    }
    double diff = 0;
    const float *fy = bench_floor_output(f);
    for (size_t i = 0; i < ys; ++i)
        diff = fmax(diff, fabs((double)fy[i] - c.y[i]));
    if (diff > 1e-4)
        fprintf(stderr, "WARNING: config %s: the bench's re-enactment of the "
                        "forward differs from librnn by %g: src/ changed, update "
                        "bench/bench_floor.c\n", s->name, diff);
    lib_train(&c);
    if (c.status != RNN_OK) {
        fprintf(stderr, "rnn_backward: %s\n", rnn_last_error());
        goto done;
    }
    bench_floor_train(f);
    const float *fdx = bench_floor_dx(f);
    double dx_diff = 0;
    for (size_t i = 0; i < xs; ++i)
        dx_diff = fmax(dx_diff, fabs((double)fdx[i] - c.dx[i]));
    if (dx_diff > 1e-4)
        fprintf(stderr, "WARNING: config %s: the bench's re-enactment of the "
                        "backward differs from librnn (dx) by %g: src/ changed, "
                        "update bench/bench_floor.c\n", s->name, dx_diff);
    if (c.state) {
        lib_step(&c);
        if (c.status != RNN_OK) {
            fprintf(stderr, "rnn_step: %s\n", rnn_last_error());
            goto done;
        }
    }

    /* Everything of this configuration is measured together, interleaved
     * (bench_measure_many), so that librnn, the floor and the parts see the
     * same machine. */
    r->nres = 0;
    r->nspecs = 0;
    const double B = s->batch;
    int peak_spec = -1;
    if (r->peak_k.n > 0) {
        snprintf(d, sizeof d, "sgemm NN (%d, %d, %d): the 100%% of %%peak",
                 r->peak_k.n, r->peak_k.n, r->peak_k.n);
        peak_spec = add_spec(r, "blas", "sgemm.peak", "peak", "sgemm peak", d,
                             peak_call, &r->peak_k, peak_flops(&r->peak_k), 0, -1);
    }
    if (do_fwd) {
        add_spec(r, "librnn", "forward", "whole", "forward   librnn", "rnn_forward",
                 lib_forward, &c, fwd_flops, B, -1);
        if (r->floor_too)
            add_spec(r, "blas", "forward", "whole", "forward   floor",
                 "same BLAS calls + passes, no library", bench_floor_forward, f,
                 fwd_flops, B, -1);
    }
    if (do_train) {
        add_spec(r, "librnn", "train", "whole", "train     librnn",
                 "rnn_forward + rnn_backward (dx)", lib_train, &c,
                 BENCH_TRAIN_FACTOR * fwd_flops, B, -1);
        if (r->floor_too)
            add_spec(r, "blas", "train", "whole", "train     floor",
                 "same BLAS calls + passes, no library", bench_floor_train, f,
                 BENCH_TRAIN_FACTOR * fwd_flops, B, -1);
    }
    if (do_step) {
        add_spec(r, "librnn", "step", "whole", "step      librnn", "rnn_step",
                 lib_step, &c, step_flops, B, -1);
        if (r->floor_too)
            add_spec(r, "blas", "step", "whole", "step      floor",
                 "same BLAS calls + passes, no library", bench_floor_step, f,
                 step_flops, B, -1);
    }
    if (parts && (do_fwd || do_train)) {
        const char *rec_call = s->batch == 1 ? "sgemv" : "sgemm NT";
        snprintf(d, sizeof d, "%d x sgemm NT (%d, %d, %d)", cells,
                 s->seq_len * s->batch, s->hidden, s->input);
        add_spec(r, "blas", "fwd.proj", "part", "  fwd.proj", d, bench_part_fwd_proj,
                 f, fl.fwd_proj, 0, -1);
        snprintf(d, sizeof d, "%d x %s (%d, %d, %d) beta 1", cells * s->seq_len,
                 rec_call, s->batch, s->hidden, s->hidden);
        add_spec(r, "blas", "fwd.rec", "part", "  fwd.rec", d, bench_part_fwd_rec, f,
                 fl.fwd_rec, 0, -1);
        int restore = add_spec(r, NULL, "fwd.act.restore", "", "", "",
                               bench_part_fwd_act_restore, f, 0, 0, -1);
        snprintf(d, sizeof d, "%d x bias + %s on [%d, %d]", cells * s->seq_len,
                 r->act, s->batch, s->hidden);
        add_spec(r, "blas", "fwd.act", "part", "  fwd.act", d, bench_part_fwd_act, f,
                 0, 0, restore);
        add_spec(r, "blas", "fwd.copy", "part", "  fwd.copy",
                 "x into the cache, h0 = 0, y out", bench_part_fwd_copy, f, 0, 0, -1);
        snprintf(d, sizeof d, "one %s (%d, %d, %d), hot inputs", rec_call,
                 s->batch, s->hidden, s->hidden);
        add_spec(r, "blas", "rec.call", "call", "  rec: one call alone", d,
                 bench_call_fwd_rec, f, fl.call_rec, 0, -1);
        snprintf(d, sizeof d, "what if W_hh were stored transposed: %s",
                 s->batch > 1 ? "sgemm NN" : "sgemv T");
        add_spec(r, "blas", "rec.call.nn", "whatif",
                 s->batch > 1 ? "  rec: one call, NN" : "  rec: one call, sgemv T", d,
                 bench_call_fwd_rec_nn, f, fl.call_rec, 0, -1);
        if (s->batch > 1) {
            snprintf(d, sizeof d, "what if leading dims were H + %d: sgemm NT",
                     BENCH_PAD);
            add_spec(r, "blas", "rec.call.padded", "whatif", "  rec: one call, ld+16",
                     d, bench_call_fwd_rec_padded, f, fl.call_rec, 0, -1);
        }
    }
    if (parts && do_train) {
        const char *rec_call = s->batch == 1 ? "sgemv T" : "sgemm NN";
        snprintf(d, sizeof d, "%d x %s (%d, %d, %d) beta 1",
                 cells * (s->seq_len - 1), rec_call, s->batch, s->hidden, s->hidden);
        add_spec(r, "blas", "bwd.rec", "part", "  bwd.rec", d, bench_part_bwd_rec, f,
                 fl.bwd_rec, 0, -1);
        int restore = add_spec(r, NULL, "bwd.act.restore", "", "", "",
                               bench_part_bwd_act_restore, f, 0, 0, -1);
        snprintf(d, sizeof d, "%d x dA *= %s'(h) on [%d, %d]", cells * s->seq_len,
                 r->act, s->batch, s->hidden);
        add_spec(r, "blas", "bwd.act", "part", "  bwd.act", d, bench_part_bwd_act, f,
                 0, 0, restore);
        snprintf(d, sizeof d, "%d x sgemm TN (%d, %d, %d)", cells, s->hidden,
                 s->hidden, s->seq_len * s->batch);
        add_spec(r, "blas", "bwd.dw_hh", "part", "  bwd.dw_hh", d,
                 bench_part_bwd_dw_hh, f, fl.bwd_dw_hh, 0, -1);
        snprintf(d, sizeof d, "%d x sgemm TN (%d, %d, %d)", cells, s->hidden,
                 s->input, s->seq_len * s->batch);
        add_spec(r, "blas", "bwd.dw_ih", "part", "  bwd.dw_ih", d,
                 bench_part_bwd_dw_ih, f, fl.bwd_dw_ih, 0, -1);
        add_spec(r, "blas", "bwd.db", "part", "  bwd.db",
                 "column sums of dA into db_ih, db_hh", bench_part_bwd_db, f, 0, 0, -1);
        snprintf(d, sizeof d, "%d x sgemm NN (%d, %d, %d)", cells,
                 s->seq_len * s->batch, s->input, s->hidden);
        add_spec(r, "blas", "bwd.dx", "part", "  bwd.dx", d, bench_part_bwd_dx, f,
                 fl.bwd_dx, 0, -1);
        add_spec(r, "blas", "bwd.copy", "part", "  bwd.copy", "dy into dA",
                 bench_part_bwd_copy, f, 0, 0, -1);
        snprintf(d, sizeof d, "one %s (%d, %d, %d), hot inputs", rec_call,
                 s->batch, s->hidden, s->hidden);
        add_spec(r, "blas", "bwd.rec.call", "call", "  bwd.rec: one call alone", d,
                 bench_call_bwd_rec, f, fl.call_rec, 0, -1);
    }
    if (parts && do_step) {
        const char *call = s->batch == 1 ? "sgemv" : "sgemm NT";
        snprintf(d, sizeof d, "%d x %s (%d, %d, %d)", s->layers, call, s->batch,
                 s->hidden, s->input);
        add_spec(r, "blas", "step.proj", "part", "  step.proj", d,
                 bench_part_step_proj, f, fl.step_proj, 0, -1);
        snprintf(d, sizeof d, "%d x %s (%d, %d, %d) beta 1", s->layers, call,
                 s->batch, s->hidden, s->hidden);
        add_spec(r, "blas", "step.rec", "part", "  step.rec", d, bench_part_step_rec,
                 f, fl.step_rec, 0, -1);
        snprintf(d, sizeof d, "%d x bias + %s on [%d, %d] (+ restore)", s->layers,
                 r->act, s->batch, s->hidden);
        add_spec(r, "blas", "step.act", "part", "  step.act", d, bench_part_step_act,
                 f, 0, 0, -1);
        if (!do_fwd && !do_train) {
            /* the recurrence product alone and its what-if, as above */
            snprintf(d, sizeof d, "one %s (%d, %d, %d), hot inputs", call, s->batch,
                     s->hidden, s->hidden);
            add_spec(r, "blas", "rec.call", "call", "  rec: one call alone", d,
                     bench_call_fwd_rec, f, fl.call_rec, 0, -1);
            snprintf(d, sizeof d, "what if W_hh were stored transposed: %s",
                     s->batch > 1 ? "sgemm NN" : "sgemv T");
            add_spec(r, "blas", "rec.call.nn", "whatif",
                     s->batch > 1 ? "  rec: one call, NN" : "  rec: one call, sgemv T",
                     d, bench_call_fwd_rec_nn, f, fl.call_rec, 0, -1);
        }
    }
    measure_specs(r);
    if (peak_spec >= 0)
        r->peak = peak_flops(&r->peak_k) / find(r, "blas", "sgemm.peak")->t.median * 1e-9;

    /* Sums of parts, as rows of their own. */
    static const char *const fwd_parts[] = {"fwd.proj", "fwd.rec", "fwd.act",
                                            "fwd.copy", NULL};
    static const char *const train_parts[] = {
        "fwd.proj", "fwd.rec", "fwd.act", "fwd.copy", "bwd.rec", "bwd.act",
        "bwd.dw_hh", "bwd.dw_ih", "bwd.db", "bwd.dx", "bwd.copy", NULL};
    static const char *const step_parts[] = {"step.proj", "step.rec", "step.act",
                                             NULL};
    if (parts && do_fwd)
        add_result(r, "blas", "forward.parts", "sum", "forward   sum of parts", "",
                   sum_of(r, fwd_parts), fwd_flops, B);
    if (parts && do_train)
        add_result(r, "blas", "train.parts", "sum", "train     sum of parts", "",
                   sum_of(r, train_parts), BENCH_TRAIN_FACTOR * fwd_flops, B);
    if (parts && do_step)
        add_result(r, "blas", "step.parts", "sum", "step      sum of parts", "",
                   sum_of(r, step_parts), step_flops, B);
    /* The recurrence inside librnn's forward: what is left of rnn_forward
     * once the other parts are taken out. */
    const double lib_fwd = med(r, "librnn", "forward");
    if (parts && do_fwd && lib_fwd > 0) {
        double rest = med(r, "blas", "fwd.proj") + med(r, "blas", "fwd.act") +
                      med(r, "blas", "fwd.copy");
        double t_rec = lib_fwd - rest;
        if (t_rec > 0) {
            bench_timing t = {t_rec, t_rec, t_rec, 0, 0};
            add_result(r, "librnn", "rec.implied", "derived",
                       "  rec: inside rnn_forward",
                       "rnn_forward - (proj + act + copy)", t, fl.fwd_rec, 0);
        }
    }

    /* The table. */
    FILE *out = r->table;
    fprintf(out, "\nconfig %s: I=%d H=%d T=%d B=%d layers=%d dirs=%d %s   "
                 "forward %.3g flop, step %.3g flop\n",
            s->name, s->input, s->hidden, s->seq_len, s->batch, s->layers, s->dirs,
            r->act, fwd_flops, step_flops);
    fprintf(out, "  %-26s %10s %10s %10s %8s %7s %11s\n", "", "median", "min", "max",
            "GFLOP/s", "%peak", "samples/s");
    for (int k = 0; k < r->nres; ++k)
        print_result(out, r, &r->res[k]);
    print_gap(out, "forward", lib_fwd, med(r, "blas", "forward"),
              med(r, "blas", "forward.parts"));
    print_gap(out, "train", med(r, "librnn", "train"), med(r, "blas", "train"),
              med(r, "blas", "train.parts"));
    print_gap(out, "step", med(r, "librnn", "step"), med(r, "blas", "step"),
              med(r, "blas", "step.parts"));
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
    csv_rows(r, s);
    rc = 0;
done:
    bench_floor_destroy(f);
    rnn_state_destroy(c.state);
    rnn_destroy(c.model);
    free(c.x);
    free(c.dx);
    free(c.y);
    free(c.dy);
    free(c.xt);
    free(c.yt);
    return rc;
}

/* ---- main --------------------------------------------------------------- */

static void usage(FILE *out)
{
    fputs("usage: rnn_bench [options]\n"
          "Times librnn (forward, training step, streaming step), each hot loop\n"
          "through direct CBLAS calls, and the sgemm peak, in one run.\n",
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
