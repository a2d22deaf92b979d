/* SPDX-License-Identifier: MIT
 *
 * testutil.c - helpers shared by the test programs (see testutil.h).
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * PRNG
 * ---------------------------------------------------------------------- */

tu_rng tu_rng_make(uint64_t seed)
{
    tu_rng r = { seed };
    return r;
}

static uint64_t splitmix64(tu_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tu_uniform(tu_rng *rng, double lo, double hi)
{
    double u = (double)(splitmix64(rng) >> 11) * 0x1.0p-53;
    return lo + (hi - lo) * u;
}

void tu_fill(tu_rng *rng, float *a, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)tu_uniform(rng, lo, hi);
}

/* ------------------------------------------------------------------------
 * The shape table: every correctness test (forward, backward, step, model,
 * head) runs on these rows or the subset it accepts. Sizes stay small so the
 * finite differences of the reference over every parameter remain cheap;
 * I != H everywhere so a transposed weight cannot pass.
 * ---------------------------------------------------------------------- */

#define TANH RNN_TANH
#define RELU RNN_RELU
#define LAST RNN_HEAD_LAST
#define ALL RNN_HEAD_ALL

const tu_shape tu_shapes[] = {
    /* name                               I   H  L  bi act  bias bf O  head  T   B  h0 lengths */
    { "batch_of_one",                     3,  4, 1, 0, TANH, 1,  0, 0, LAST, 5,  1, 0, { 0 } },
    { "batch_of_three_with_h0",           3,  4, 1, 0, TANH, 1,  0, 0, LAST, 5,  3, 1, { 0 } },
    { "one_step",                         2,  3, 1, 0, TANH, 1,  0, 0, LAST, 1,  2, 1, { 0 } },
    { "relu_with_h0",                     4,  3, 1, 0, RELU, 1,  0, 0, LAST, 6,  2, 1, { 0 } },
    { "relu_without_h0",                  4,  3, 1, 0, RELU, 1,  0, 0, LAST, 4,  3, 0, { 0 } },
    { "two_layers_batch_of_one",          3,  4, 2, 0, TANH, 1,  0, 0, LAST, 4,  1, 1, { 0 } },
    { "two_layers",                       3,  4, 2, 0, TANH, 1,  0, 0, LAST, 4,  3, 1, { 0 } },
    { "three_layers_relu",                2,  3, 3, 0, RELU, 1,  0, 0, LAST, 4,  2, 1, { 0 } },
    { "three_layers_batch_of_one",        2,  5, 3, 0, TANH, 1,  0, 0, LAST, 3,  1, 0, { 0 } },
    { "no_bias",                          3,  4, 2, 0, TANH, 0,  0, 0, LAST, 4,  2, 1, { 0 } },
    { "batch_first",                      3,  4, 2, 0, TANH, 1,  1, 0, LAST, 4,  3, 1, { 0 } },
    { "bidirectional",                    3,  4, 1, 1, TANH, 1,  0, 0, LAST, 5,  2, 1, { 0 } },
    { "bidirectional_batch_of_one",       2,  3, 1, 1, TANH, 1,  0, 0, LAST, 3,  1, 0, { 0 } },
    { "bidirectional_three_layers_relu",  2,  3, 3, 1, RELU, 1,  0, 0, LAST, 4,  2, 1, { 0 } },
    { "bidirectional_batch_first_no_bias",3,  4, 2, 1, TANH, 0,  1, 0, LAST, 4,  3, 1, { 0 } },
    { "lengths_all_differ",               3,  4, 1, 0, TANH, 1,  0, 0, LAST, 5,  4, 1, { 5, 2, 1, 4 } },
    { "lengths_with_a_one",               2,  3, 2, 0, RELU, 1,  0, 0, LAST, 3,  2, 0, { 1, 3 } },
    { "lengths_bidirectional",            3,  4, 2, 1, TANH, 1,  0, 0, LAST, 4,  3, 1, { 4, 1, 3 } },
    { "lengths_bidirectional_batch_first",3,  4, 1, 1, TANH, 1,  1, 0, LAST, 5,  3, 1, { 2, 5, 3 } },
    { "head_last",                        3,  4, 1, 0, TANH, 1,  0, 2, LAST, 5,  3, 1, { 0 } },
    { "head_last_lengths",                3,  4, 2, 0, TANH, 1,  0, 2, LAST, 5,  4, 1, { 5, 2, 1, 4 } },
    { "head_all",                         3,  4, 1, 0, TANH, 1,  0, 3, ALL,  4,  2, 1, { 0 } },
    { "head_all_lengths_batch_first",     3,  4, 2, 0, RELU, 1,  1, 3, ALL,  4,  3, 1, { 4, 1, 3 } },
    { "head_last_bidirectional_lengths",  2,  3, 1, 1, TANH, 1,  0, 1, LAST, 5,  4, 1, { 5, 2, 1, 4 } },
    { "head_all_bidirectional_3_layers",  2,  3, 3, 1, RELU, 0,  1, 2, ALL,  4,  3, 1, { 3, 4, 1 } },
    { "seed_task",                        1, 32, 1, 0, TANH, 1,  0, 1, LAST, 10, 1, 0, { 0 } },
    { "wider_batch",                      5, 16, 2, 0, TANH, 1,  0, 0, LAST, 7,  8, 1, { 0 } },
};
const size_t tu_shape_count = sizeof tu_shapes / sizeof tu_shapes[0];

#undef TANH
#undef RELU
#undef LAST
#undef ALL

int tu_has_lengths(const tu_shape *s)
{
    return s->lengths[0] != 0;
}

int tu_no_lengths(const tu_shape *s)
{
    return !tu_has_lengths(s);
}

int tu_has_head(const tu_shape *s)
{
    return s->O > 0;
}

int tu_no_head(const tu_shape *s)
{
    return s->O == 0;
}

int tu_is_tanh(const tu_shape *s)
{
    return s->nonlinearity == RNN_TANH;
}

int tu_unidirectional(const tu_shape *s)
{
    return !s->bidirectional;
}

ref_model tu_ref_model(const tu_shape *s)
{
    ref_model m = { s->I, s->H, s->L, s->bidirectional ? 2 : 1, s->nonlinearity,
                    s->bias, s->batch_first, s->O, s->head_mode };
    return m;
}

rnn_config tu_config(const tu_shape *s)
{
    rnn_config cfg = rnn_config_default(s->I, s->H);
    cfg.num_layers = s->L;
    cfg.bidirectional = s->bidirectional;
    cfg.nonlinearity = s->nonlinearity;
    cfg.bias = s->bias;
    cfg.batch_first = s->batch_first;
    cfg.output_size = s->O;
    cfg.head_mode = s->head_mode;
    return cfg;
}

/* ------------------------------------------------------------------------
 * Arrays
 * ---------------------------------------------------------------------- */

static void *checked_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        fail_msg("test harness out of memory (%zu x %zu bytes)", n, size);
    return p;
}

float *tu_floats(size_t n)
{
    return checked_calloc(n, sizeof(float));
}

float *tu_copy(const float *a, size_t n)
{
    float *c = tu_floats(n);
    memcpy(c, a, n * sizeof *a);
    return c;
}

double *tu_to_double(const float *a, size_t n)
{
    if (!a)
        return NULL;
    double *d = checked_calloc(n, sizeof(double));
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

size_t tu_count_equal(const float *a, size_t n, float value)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += a[i] == value;
    return count;
}

/* ------------------------------------------------------------------------
 * Comparisons
 * ---------------------------------------------------------------------- */

enum { TU_MAX_REPORTED = 6 };

static int close_report(const char *what, size_t i, double got, double want,
                        double tol, size_t *bad)
{
    double diff = fabs(got - want);
    double limit = tol * fmax(1.0, fabs(want));
    if (diff <= limit) /* false for NaN */
        return 1;
    if (*bad < TU_MAX_REPORTED)
        print_error("%s[%zu]: got %.9g, want %.9g (|diff| %.3g > %.3g)\n", what, i,
                    got, want, diff, limit);
    (*bad)++;
    return 0;
}

static int close_summary(const char *what, size_t bad, size_t n)
{
    if (bad > TU_MAX_REPORTED)
        print_error("%s: %zu of %zu values differ\n", what, bad, n);
    return bad == 0;
}

int tu_close(const char *what, const float *got, const double *want, size_t n,
             double tol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        close_report(what, i, got[i], want[i], tol, &bad);
    return close_summary(what, bad, n);
}

int tu_close_f(const char *what, const float *got, const float *want, size_t n,
               double tol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        close_report(what, i, got[i], want[i], tol, &bad);
    return close_summary(what, bad, n);
}

int tu_close_d(const char *what, const double *got, const double *want, size_t n,
               double tol)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        close_report(what, i, got[i], want[i], tol, &bad);
    return close_summary(what, bad, n);
}

/* "<row>/<tensor>" into buf. */
static const char *label(char *buf, size_t size, const tu_case *c, const char *what)
{
    snprintf(buf, size, "%s/%s", c->s.name, what);
    return buf;
}

/* ------------------------------------------------------------------------
 * Sentinels
 * ---------------------------------------------------------------------- */

void tu_sentinel_fill(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = TU_SENTINEL;
}

int tu_sentinel_intact(const char *what, const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != TU_SENTINEL) {
            print_error("%s[%zu] was written (%.9g) by a failing call\n", what, i, a[i]);
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------
 * Status expectations
 * ---------------------------------------------------------------------- */

void tu_expect_ok(rnn_status st, const char *call, const char *file, int line)
{
    if (st != RNN_OK)
        fail_msg("%s:%d: %s returned %d (%s): \"%s\"", file, line, call, (int)st,
                 rnn_strerror(st), rnn_last_error());
}

void tu_expect_error(rnn_status got, rnn_status want, const char *func,
                     const char *call, const char *file, int line)
{
    const char *msg = rnn_last_error();
    if (got != want)
        fail_msg("%s:%d: %s returned %d (%s), want %d (%s); last error \"%s\"", file,
                 line, call, (int)got, rnn_strerror(got), (int)want,
                 rnn_strerror(want), msg ? msg : "(NULL)");
    if (!msg || !msg[0])
        fail_msg("%s:%d: %s failed with an empty rnn_last_error()", file, line, call);
    if (!strstr(msg, func))
        fail_msg("%s:%d: %s: rnn_last_error() \"%s\" does not name %s", file, line,
                 call, msg, func);
}

/* ------------------------------------------------------------------------
 * Cases
 * ---------------------------------------------------------------------- */

void tu_case_init(tu_case *c, const tu_shape *s, uint64_t seed)
{
    tu_case_init_scaled(c, s, seed, 0.6);
}

void tu_case_init_scaled(tu_case *c, const tu_shape *s, uint64_t seed,
                         double param_range)
{
    memset(c, 0, sizeof *c);
    c->s = *s;
    c->m = tu_ref_model(s);
    const int32_t T = s->T, B = s->B;
    c->n_x = ref_x_count(&c->m, T, B);
    c->n_y = ref_y_count(&c->m, T, B);
    c->n_h = ref_h_count(&c->m, B);
    c->n_logits = ref_logits_count(&c->m, T, B);
    c->lengths = tu_has_lengths(s) ? c->s.lengths : NULL;

    rnn_config cfg = tu_config(s);
    cfg.seed = seed;
    TU_OK(rnn_create(&c->model, &cfg));
    TU_OK(rnn_params(c->model, &c->params, &c->n_params));
    if (c->n_params != ref_param_count(&c->m))
        fail_msg("%s: rnn_params count %zu, want %zu", s->name, c->n_params,
                 ref_param_count(&c->m));

    /* Own random parameters, so that these tests do not depend on init. */
    tu_rng rng = tu_rng_make(seed * 7919u + 17u);
    tu_fill(&rng, c->params, c->n_params, -param_range, param_range);
    c->x = tu_floats(c->n_x);
    tu_fill(&rng, c->x, c->n_x, -1.0, 1.0);
    if (s->use_h0) {
        c->h0 = tu_floats(c->n_h);
        tu_fill(&rng, c->h0, c->n_h, -0.8, 0.8);
    }
    c->dy = tu_floats(c->n_y);
    tu_fill(&rng, c->dy, c->n_y, -1.0, 1.0);
    c->dh_n = tu_floats(c->n_h);
    tu_fill(&rng, c->dh_n, c->n_h, -1.0, 1.0);
    if (c->n_logits) {
        c->dlogits = tu_floats(c->n_logits);
        tu_fill(&rng, c->dlogits, c->n_logits, -1.0, 1.0);
    }

    double *p = tu_to_double(c->params, c->n_params);
    double *x = tu_to_double(c->x, c->n_x);
    double *h0 = tu_to_double(c->h0, c->n_h);
    double *dy = tu_to_double(c->dy, c->n_y);
    double *dh_n = tu_to_double(c->dh_n, c->n_h);
    double *dlogits = tu_to_double(c->dlogits, c->n_logits);
    ref_batch in = { T, B, x, c->lengths, h0 };
    ref_cotangents cot = { dy, dh_n, dlogits };
    int rc = ref_run(&c->m, p, &in, &cot, &c->ref);
    free(p);
    free(x);
    free(h0);
    free(dy);
    free(dh_n);
    free(dlogits);
    if (rc != 0)
        fail_msg("%s: reference out of memory", s->name);
}

void tu_case_free(tu_case *c)
{
    rnn_destroy(c->model);
    free(c->x);
    free(c->h0);
    free(c->dy);
    free(c->dh_n);
    free(c->dlogits);
    ref_result_free(&c->ref);
    memset(c, 0, sizeof *c);
}

static float *sentinel_floats(size_t n)
{
    float *a = tu_floats(n);
    tu_sentinel_fill(a, n);
    return a;
}

void tu_out_alloc(const tu_case *c, tu_out *o)
{
    o->y = sentinel_floats(c->n_y);
    o->h_n = sentinel_floats(c->n_h);
    o->logits = c->n_logits ? sentinel_floats(c->n_logits) : NULL;
    o->grads = sentinel_floats(c->n_params);
    o->dx = sentinel_floats(c->n_x);
    o->dh0 = sentinel_floats(c->n_h);
}

void tu_out_free(tu_out *o)
{
    free(o->y);
    free(o->h_n);
    free(o->logits);
    free(o->grads);
    free(o->dx);
    free(o->dh0);
    memset(o, 0, sizeof *o);
}

void tu_case_forward(tu_case *c, tu_out *o)
{
    TU_OK(rnn_forward(c->model, c->s.T, c->s.B, c->x, c->lengths, c->h0, o->y, o->h_n));
    if (c->s.O > 0)
        TU_OK(rnn_head_forward(c->model, o->logits));
}

void tu_case_backward(tu_case *c, tu_out *o)
{
    float *grads = NULL;
    size_t n = 0;
    if (c->s.O > 0)
        TU_OK(rnn_head_backward(c->model, c->dlogits));
    TU_OK(rnn_backward(c->model, c->dy, c->dh_n, o->dx, o->dh0));
    TU_OK(rnn_grads(c->model, &grads, &n));
    assert_int_equal(n, c->n_params);
    memcpy(o->grads, grads, n * sizeof *grads);
}

int tu_for_sizes(const tu_shape *row, const int32_t (*sizes)[2], size_t n,
                 uint64_t seed, int (*check)(tu_case *c))
{
    tu_shape s = *row;
    memset(s.lengths, 0, sizeof s.lengths);
    rnn_t *shared = NULL;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        tu_case c;
        s.T = sizes[i][0];
        s.B = sizes[i][1];
        /* Same seed, same parameter count: the same parameters every time. */
        tu_case_init(&c, &s, seed);
        if (!shared) {
            shared = c.model;
        } else {
            rnn_destroy(c.model);
            c.model = shared;
        }
        ok &= check(&c);
        c.model = NULL;
        tu_case_free(&c);
    }
    rnn_destroy(shared);
    return ok;
}

int tu_forward_matches(const tu_case *c, const tu_out *o, double tol)
{
    char buf[128];
    int ok = tu_close(label(buf, sizeof buf, c, "y"), o->y, c->ref.y, c->n_y, tol);
    ok &= tu_close(label(buf, sizeof buf, c, "h_n"), o->h_n, c->ref.h_n, c->n_h, tol);
    if (c->n_logits)
        ok &= tu_close(label(buf, sizeof buf, c, "logits"), o->logits, c->ref.logits,
                       c->n_logits, tol);
    return ok;
}

int tu_params_close(const tu_case *c, const char *what, const float *got,
                    const double *want, double tol)
{
    int ok = 1;
    char buf[128];
    for (int32_t i = 0; i < ref_tensor_count(&c->m); i++) {
        ref_tensor t = ref_tensor_at(&c->m, i);
        snprintf(buf, sizeof buf, "%s/%s %s", c->s.name, what, t.name);
        ok &= tu_close(buf, got + t.offset, want + t.offset, t.count, tol);
    }
    return ok;
}

int tu_backward_matches(const tu_case *c, const tu_out *o, double tol)
{
    char buf[128];
    int ok = tu_params_close(c, "grad", o->grads, c->ref.dparams, tol);
    ok &= tu_close(label(buf, sizeof buf, c, "dx"), o->dx, c->ref.dx, c->n_x, tol);
    ok &= tu_close(label(buf, sizeof buf, c, "dh0"), o->dh0, c->ref.dh0, c->n_h, tol);
    return ok;
}

/* ------------------------------------------------------------------------
 * Runner
 * ---------------------------------------------------------------------- */

const tu_shape *tu_row(void **state)
{
    return (const tu_shape *)*state;
}

int tu_run(const char *group, const struct CMUnitTest *plain, size_t n_plain,
           const tu_table_test *table, size_t n_table)
{
    size_t max = n_plain + n_table * tu_shape_count;
    struct CMUnitTest *tests = checked_calloc(max, sizeof *tests);
    char **names = checked_calloc(max, sizeof *names);
    size_t n = 0;
    for (size_t i = 0; i < n_plain; i++)
        tests[n++] = plain[i];
    for (size_t i = 0; i < n_table; i++) {
        for (size_t r = 0; r < tu_shape_count; r++) {
            const tu_shape *s = &tu_shapes[r];
            if (table[i].accepts && !table[i].accepts(s))
                continue;
            size_t len = strlen(table[i].name) + strlen(s->name) + 2;
            names[n] = checked_calloc(len, 1);
            snprintf(names[n], len, "%s/%s", table[i].name, s->name);
            tests[n].name = names[n];
            tests[n].test_func = table[i].fn;
            /* cmocka hands initial_state to the test as *state. */
            tests[n].initial_state = (void *)s;
            n++;
        }
    }
    int failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(tests);
    return failed;
}

/* ------------------------------------------------------------------------
 * Counting allocations
 * ---------------------------------------------------------------------- */

size_t tu_alloc_calls, tu_alloc_bytes;

static void *counting_malloc(void *user, size_t size)
{
    (void)user;
    ++tu_alloc_calls;
    tu_alloc_bytes += size;
    return malloc(size);
}

static void counting_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

rnn_allocator tu_counting_allocator(void)
{
    rnn_allocator a = {sizeof a, counting_malloc, counting_free, NULL};
    return a;
}

void tu_count_allocations(bool on)
{
    tu_alloc_calls = tu_alloc_bytes = 0;
    rnn_allocator a = tu_counting_allocator();
    TU_OK(rnn_set_allocator(on ? &a : NULL));
}

/* ------------------------------------------------------------------------
 * Central differences of librnn's float forward
 * ---------------------------------------------------------------------- */

double tu_case_loss(tu_case *c, tu_out *o, tu_forward_fn forward)
{
    (forward != NULL ? forward : tu_case_forward)(c, o);
    double loss = 0.0;
    for (size_t i = 0; i < c->n_y; i++)
        loss += (double)o->y[i] * c->dy[i];
    for (size_t i = 0; i < c->n_h; i++)
        loss += (double)o->h_n[i] * c->dh_n[i];
    for (size_t i = 0; i < c->n_logits; i++)
        loss += (double)o->logits[i] * c->dlogits[i];
    return loss;
}

int tu_fd_matches(tu_case *c, tu_out *o, tu_forward_fn forward,
                  const char *what, float *v, const float *analytic, size_t n)
{
    const float eps = 4e-3f;
    const size_t stride = n > 16 ? n / 16 : 1;
    size_t bad = 0;
    for (size_t i = 0; i < n; i += stride) {
        const float saved = v[i];
        v[i] = saved + eps;
        const double plus = tu_case_loss(c, o, forward);
        v[i] = saved - eps;
        const double minus = tu_case_loss(c, o, forward);
        v[i] = saved;
        const double fd = (plus - minus) / (2.0 * (double)eps);
        char name[96];
        snprintf(name, sizeof name, "%s/%s element %zu (float finite differences)",
                 c->s.name, what, i);
        bad += !tu_close(name, analytic + i, &fd, 1, 1e-2);
    }
    return bad == 0;
}

int tu_differences_match(tu_loss_fn loss, void *ctx, float *values,
                         const float *grad, size_t n, const char *what)
{
    const float eps = 4e-3f;
    int bad = 0;
    for (size_t i = 0; i < n; ++i) {
        const float keep = values[i];
        values[i] = keep + eps;
        const double up = loss(ctx);
        values[i] = keep - eps;
        const double down = loss(ctx);
        values[i] = keep;
        const double want = (up - down) / (2.0 * (double)eps);
        if (fabs(grad[i] - want) > 2e-3 + 1e-2 * fabs(want) && bad++ < 5)
            print_error("%s[%zu]: backward %.6f, differences %.6f\n", what, i,
                        (double)grad[i], want);
    }
    return bad == 0;
}
