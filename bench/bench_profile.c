/* SPDX-License-Identifier: MIT
 *
 * bench_profile.c - the profiling build of librnn, loaded beside librnn.so
 * (see bench_profile.h).
 */
#define _GNU_SOURCE /* dlopen flags */

#include "bench_profile.h"

/* The profiling build's declarations: the phases and the table's type. */
#define RNN_PROFILE 1
#include "profile.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RNN_PROFILE_LIBRARY
#error "bench/CMakeLists.txt defines RNN_PROFILE_LIBRARY, the profiling build's path"
#endif

/* The profiling build's functions, found by name: its public ones are
 * rnn.h's (the types follow the header), its phase table profile.h's. */
typedef struct profile_api {
    __typeof__(rnn_create) *create;
    __typeof__(rnn_destroy) *destroy;
    __typeof__(rnn_params) *params;
    __typeof__(rnn_pack_weights) *pack_weights;
    __typeof__(rnn_forward) *forward;
    __typeof__(rnn_backward) *backward;
    __typeof__(rnn_state_create) *state_create;
    __typeof__(rnn_state_destroy) *state_destroy;
    __typeof__(rnn_step) *step;
    __typeof__(rnn_last_error) *last_error;
    __typeof__(rnn__profile_reset) *reset;
    __typeof__(rnn__profile_read) *read;
    __typeof__(rnn__profile_phase_name) *phase_name;
    __typeof__(rnn__profile_seconds_per_tick) *seconds_per_tick;
    __typeof__(rnn__profile_empty_ticks) *empty_ticks;
} profile_api;

static profile_api api;
static double seconds_per_tick, empty_ticks;

/* Loads the library once; 0 when every function was found. Its own symbols
 * (RTLD_LOCAL, linked -Bsymbolic) stay apart from librnn.so's. */
static int load_api(void)
{
    static int loaded; /* 1 done, -1 failed */
    if (loaded != 0)
        return loaded > 0 ? 0 : -1;
    loaded = -1;
    void *h = dlopen(RNN_PROFILE_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "rnn_bench: cannot load the profiling build: %s\n", dlerror());
        return -1;
    }
#define LOAD(field, name)                                                     \
    (api.field = (__typeof__(api.field))(uintptr_t)dlsym(h, name)) != NULL
    if (!(LOAD(create, "rnn_create") && LOAD(destroy, "rnn_destroy") &&
          LOAD(params, "rnn_params") && LOAD(pack_weights, "rnn_pack_weights") &&
          LOAD(forward, "rnn_forward") && LOAD(backward, "rnn_backward") &&
          LOAD(state_create, "rnn_state_create") &&
          LOAD(state_destroy, "rnn_state_destroy") && LOAD(step, "rnn_step") &&
          LOAD(last_error, "rnn_last_error") && LOAD(reset, "rnn__profile_reset") &&
          LOAD(read, "rnn__profile_read") &&
          LOAD(phase_name, "rnn__profile_phase_name") &&
          LOAD(seconds_per_tick, "rnn__profile_seconds_per_tick") &&
          LOAD(empty_ticks, "rnn__profile_empty_ticks"))) {
        fprintf(stderr, "rnn_bench: %s lacks a function: %s\n", RNN_PROFILE_LIBRARY,
                dlerror());
        return -1;
    }
#undef LOAD
    seconds_per_tick = api.seconds_per_tick();
    empty_ticks = api.empty_ticks();
    loaded = 1;
    return 0;
}

/* One operation's samples: per round, each phase's seconds per call. */
typedef struct op_samples {
    bench_profiled *p;
    int op, rounds;
    double *phase; /* [RNN__PHASES][cap] */
    double *floor; /* [cap] */
    double calls[RNN__PHASES]; /* per call of op, in the last sample */
} op_samples;

struct bench_profiled {
    const bench_shape *s;
    rnn_t *model;  /* packed when steps are timed */
    rnn_t *direct; /* unpacked, for step_direct   */
    rnn_state_t *state, *direct_state;
    const float *x, *dy;
    float *y, *dx, *yt;
    int cap;
    rnn_status status; /* of the last call */
    op_samples ops[BENCH_PROF_OPS];
};

static void run_forward(void *ctx)
{
    bench_profiled *p = ctx;
    p->status = api.forward(p->model, p->s->seq_len, p->s->batch, p->x, NULL, NULL,
                            p->y, NULL);
}

static void run_train(void *ctx)
{
    bench_profiled *p = ctx;
    run_forward(p);
    if (p->status == RNN_OK)
        p->status = api.backward(p->model, p->dy, NULL, p->dx, NULL);
}

static void run_step(void *ctx)
{
    bench_profiled *p = ctx;
    p->status = api.step(p->model, p->state, p->x, p->yt);
}

static void run_step_direct(void *ctx)
{
    bench_profiled *p = ctx;
    p->status = api.step(p->direct, p->direct_state, p->x, p->yt);
}

static void (*const runs[BENCH_PROF_OPS])(void *) = {run_forward, run_train, run_step,
                                                     run_step_direct};

/* A copy of the parameters in a model of the profiling build. */
static rnn_t *make_model(const rnn_config *cfg, const float *params, size_t n)
{
    rnn_t *m = NULL;
    float *dst = NULL;
    size_t count = 0;
    if (api.create(&m, cfg) != RNN_OK || api.params(m, &dst, &count) != RNN_OK ||
        count != n) {
        fprintf(stderr, "rnn_bench: profiling build: %s\n", api.last_error());
        api.destroy(m);
        return NULL;
    }
    memcpy(dst, params, n * sizeof(float));
    return m;
}

bench_profiled *bench_profiled_create(const rnn_config *cfg, const float *params,
                                      size_t num_params, const bench_shape *s,
                                      const float *x, const float *dy, int steps,
                                      int rounds)
{
    if (load_api() != 0)
        return NULL;
    bench_profiled *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->s = s;
    p->x = x;
    p->dy = dy;
    p->cap = rounds > 0 ? rounds : 1;
    const size_t xs = (size_t)s->seq_len * s->batch * s->input;
    const size_t ys = (size_t)s->seq_len * s->batch * s->dirs * s->hidden;
    p->y = malloc(ys * sizeof(float));
    p->dx = malloc(xs * sizeof(float));
    p->yt = malloc((size_t)s->batch * s->hidden * sizeof(float));
    int ok = p->y && p->dx && p->yt;
    for (int op = 0; ok && op < BENCH_PROF_OPS; ++op) {
        op_samples *o = &p->ops[op];
        o->p = p;
        o->op = op;
        o->phase = calloc((size_t)RNN__PHASES * p->cap, sizeof(double));
        o->floor = calloc((size_t)p->cap, sizeof(double));
        ok = o->phase && o->floor;
    }
    ok = ok && (p->model = make_model(cfg, params, num_params)) != NULL;
    if (ok && steps) {
        ok = (p->direct = make_model(cfg, params, num_params)) != NULL &&
             api.pack_weights(p->model) == RNN_OK &&
             api.state_create(&p->state, p->model, s->batch) == RNN_OK &&
             api.state_create(&p->direct_state, p->direct, s->batch) == RNN_OK;
        if (!ok)
            fprintf(stderr, "rnn_bench: profiling build, steps: %s\n", api.last_error());
    }
    if (!ok) {
        bench_profiled_destroy(p);
        return NULL;
    }
    return p;
}

void bench_profiled_destroy(bench_profiled *p)
{
    if (p == NULL)
        return;
    if (api.destroy != NULL) {
        api.state_destroy(p->state);
        api.state_destroy(p->direct_state);
        api.destroy(p->model);
        api.destroy(p->direct);
    }
    for (int op = 0; op < BENCH_PROF_OPS; ++op) {
        free(p->ops[op].phase);
        free(p->ops[op].floor);
    }
    free(p->y);
    free(p->dx);
    free(p->yt);
    free(p);
}

static void before_sample(void *ctx)
{
    (void)ctx;
    api.reset();
}

/* Seconds per call of op for each phase, the clock's own cost taken out,
 * as the next round's sample. */
static void after_sample(void *ctx, long calls)
{
    op_samples *o = ctx;
    const rnn__profile_counter *table = api.read();
    double sum = 0;
    for (int k = 0; k < RNN__PHASES; ++k) {
        double ticks = (double)table[k].ticks - empty_ticks * (double)table[k].calls;
        double t = ticks > 0 ? ticks * seconds_per_tick / (double)calls : 0.0;
        o->calls[k] = (double)table[k].calls / (double)calls;
        if (o->rounds < o->p->cap)
            o->phase[(size_t)k * o->p->cap + o->rounds] = t;
        sum += t;
    }
    if (o->rounds < o->p->cap)
        o->floor[o->rounds++] = sum;
}

int bench_profiled_check(bench_profiled *p, int op)
{
    op_samples *o = &p->ops[op];
    before_sample(o);
    runs[op](p);
    if (p->status != RNN_OK) {
        fprintf(stderr, "rnn_bench: profiling build: %s\n", api.last_error());
        return -1;
    }
    after_sample(o, 1);
    o->rounds = 0; /* a check, not a sample */
    return 0;
}

bench_item bench_profiled_item(bench_profiled *p, int op)
{
    op_samples *o = &p->ops[op];
    o->rounds = 0;
    return (bench_item){.fn = runs[op], .ctx = p, .before_sample = before_sample,
                        .after_sample = after_sample, .sample_ctx = o};
}

double bench_profiled_clock_cost(void)
{
    return load_api() == 0 ? empty_ticks * seconds_per_tick : 0.0;
}

int bench_profiled_phases(void)
{
    return RNN__PHASES;
}

const char *bench_profiled_phase_name(int phase)
{
    return load_api() == 0 ? api.phase_name(phase) : NULL;
}

int bench_profiled_find(const char *name)
{
    for (int k = 0; k < RNN__PHASES; ++k) {
        const char *own = bench_profiled_phase_name(k);
        if (own != NULL && strcmp(own, name) == 0)
            return k;
    }
    return -1;
}

bench_timing bench_profiled_floor(const bench_profiled *p, int op)
{
    const op_samples *o = &p->ops[op];
    return bench_summary(o->floor, o->rounds);
}

bench_timing bench_profiled_phase(const bench_profiled *p, int op, int phase)
{
    const op_samples *o = &p->ops[op];
    return bench_summary(o->phase + (size_t)phase * p->cap, o->rounds);
}

double bench_profiled_calls(const bench_profiled *p, int op, int phase)
{
    return phase >= 0 && phase < RNN__PHASES ? p->ops[op].calls[phase] : 0.0;
}
