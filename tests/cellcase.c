/* SPDX-License-Identifier: MIT
 *
 * cellcase.c - the gated cells' test harness (see cellcase.h).
 */
#include "cellcase.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * The table: the Elman table's kinds of rows (no relu: the gated cells are
 * tanh only) plus c0 with and without h0 and, for the LSTM, proj_size.
 * I != H != P so that a transposed weight cannot pass.
 * ---------------------------------------------------------------------- */

#define LAST RNN_HEAD_LAST
#define ALL RNN_HEAD_ALL

const tc_shape tc_shapes[] = {
    /* name                               I   H  P  L  bi bias bf O  head  T  B  h0 c0 lengths */
    { "batch_of_one",                     3,  4, 0, 1, 0, 1,   0, 0, LAST, 5, 1, 0, 0, { 0 } },
    { "batch_of_three_with_h0_c0",        3,  4, 0, 1, 0, 1,   0, 0, LAST, 5, 3, 1, 1, { 0 } },
    { "one_step",                         2,  3, 0, 1, 0, 1,   0, 0, LAST, 1, 2, 1, 1, { 0 } },
    { "h0_without_c0",                    4,  3, 0, 1, 0, 1,   0, 0, LAST, 6, 2, 1, 0, { 0 } },
    { "c0_without_h0",                    4,  3, 0, 1, 0, 1,   0, 0, LAST, 4, 3, 0, 1, { 0 } },
    { "two_layers",                       3,  4, 0, 2, 0, 1,   0, 0, LAST, 4, 3, 1, 1, { 0 } },
    { "three_layers",                     2,  3, 0, 3, 0, 1,   0, 0, LAST, 4, 2, 1, 1, { 0 } },
    { "three_layers_batch_of_one",        2,  5, 0, 3, 0, 1,   0, 0, LAST, 3, 1, 0, 0, { 0 } },
    { "no_bias",                          3,  4, 0, 2, 0, 0,   0, 0, LAST, 4, 2, 1, 1, { 0 } },
    { "batch_first",                      3,  4, 0, 2, 0, 1,   1, 0, LAST, 4, 3, 1, 1, { 0 } },
    { "bidirectional",                    3,  4, 0, 1, 1, 1,   0, 0, LAST, 5, 2, 1, 1, { 0 } },
    { "bidirectional_three_layers",       2,  3, 0, 3, 1, 1,   0, 0, LAST, 4, 2, 1, 0, { 0 } },
    { "bidirectional_batch_first_no_bias",3,  4, 0, 2, 1, 0,   1, 0, LAST, 4, 3, 1, 1, { 0 } },
    { "lengths_all_differ",               3,  4, 0, 1, 0, 1,   0, 0, LAST, 5, 4, 1, 1, { 5, 2, 1, 4 } },
    { "lengths_with_a_one",               2,  3, 0, 2, 0, 1,   0, 0, LAST, 3, 2, 0, 0, { 1, 3 } },
    { "lengths_bidirectional",            3,  4, 0, 2, 1, 1,   0, 0, LAST, 4, 3, 1, 1, { 4, 1, 3 } },
    { "lengths_bidirectional_batch_first",3,  4, 0, 1, 1, 1,   1, 0, LAST, 5, 3, 1, 1, { 2, 5, 3 } },
    { "head_last",                        3,  4, 0, 1, 0, 1,   0, 2, LAST, 5, 3, 1, 1, { 0 } },
    { "head_last_lengths",                3,  4, 0, 2, 0, 1,   0, 2, LAST, 5, 4, 1, 0, { 5, 2, 1, 4 } },
    { "head_all_lengths_batch_first",     3,  4, 0, 2, 0, 1,   1, 3, ALL,  4, 3, 1, 1, { 4, 1, 3 } },
    { "head_all_bidirectional_3_layers",  2,  3, 0, 3, 1, 0,   1, 2, ALL,  4, 3, 1, 1, { 3, 4, 1 } },
    { "wider_batch",                      5, 16, 0, 2, 0, 1,   0, 0, LAST, 7, 8, 1, 1, { 0 } },
    { "long_sequences",                   4, 12, 0, 2, 1, 1,   0, 0, LAST, 40, 3, 1, 1, { 40, 17, 33 } },
    { "long_sequences_proj",              4, 12, 5, 2, 0, 1,   1, 0, LAST, 40, 3, 1, 1, { 0 } },
    { "proj",                             3,  5, 2, 1, 0, 1,   0, 0, LAST, 5, 3, 1, 1, { 0 } },
    { "proj_of_one",                      2,  4, 1, 1, 0, 1,   0, 0, LAST, 4, 2, 1, 1, { 0 } },
    { "proj_two_layers_no_bias",          3,  5, 3, 2, 0, 0,   0, 0, LAST, 4, 2, 1, 1, { 0 } },
    { "proj_three_layers_without_h0",     2,  4, 3, 3, 0, 1,   0, 0, LAST, 3, 2, 0, 1, { 0 } },
    { "proj_bidirectional_lengths",       3,  4, 2, 2, 1, 1,   0, 0, LAST, 4, 3, 1, 1, { 4, 1, 3 } },
    { "proj_head_all_bidirectional_bf",   2,  5, 3, 1, 1, 1,   1, 2, ALL,  4, 3, 1, 0, { 3, 4, 2 } },
    { "proj_head_last_lengths",           3,  6, 4, 2, 0, 1,   0, 3, LAST, 5, 4, 0, 1, { 5, 2, 1, 4 } },
};
const size_t tc_shape_count = sizeof tc_shapes / sizeof tc_shapes[0];

#undef LAST
#undef ALL

/* ------------------------------------------------------------------------
 * Cases
 * ---------------------------------------------------------------------- */

static float *random_floats(tu_rng *rng, size_t n, double range)
{
    float *a = tu_floats(n);
    tu_fill(rng, a, n, -range, range);
    return a;
}

static rnn_config case_config(const tc_case *c, uint64_t seed)
{
    rnn_config cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, c->s.I, c->s.H));
    cfg.cell = c->cell;
    cfg.proj_size = c->s.P;
    cfg.num_layers = c->s.L;
    cfg.bidirectional = c->s.bidirectional;
    cfg.bias = c->s.bias;
    cfg.batch_first = c->s.batch_first;
    cfg.output_size = c->s.O;
    cfg.head_mode = c->s.head_mode;
    cfg.seed = seed;
    return cfg;
}

void tc_reference_for(const tc_case *c, int use, refc_result *want)
{
    double *p = tu_to_double(c->params, c->n_params), *x = tu_to_double(c->x, c->n_x);
    double *h0 = tu_to_double(c->h0, c->n_h), *c0 = tu_to_double(c->c0, c->n_c);
    double *dy = use & TC_DY ? tu_to_double(c->dy, c->n_y) : NULL;
    double *dh_n = use & TC_DH_N ? tu_to_double(c->dh_n, c->n_h) : NULL;
    double *dc_n = use & TC_DC_N ? tu_to_double(c->dc_n, c->n_c) : NULL;
    double *dl = use & TC_DLOGITS ? tu_to_double(c->dlogits, c->n_logits) : NULL;
    refc_batch in = { c->s.T, c->s.B, x, c->lengths, h0, c0 };
    refc_cotangents cot = { dy, dh_n, dc_n, dl };
    if (refc_run(&c->m, p, &in, &cot, want) != 0)
        fail_msg("%s: reference out of memory", c->s.name);
    double *all[] = { p, x, h0, c0, dy, dh_n, dc_n, dl };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
}

void tc_case_init(tc_case *c, int32_t cell, const tc_shape *s, uint64_t seed,
                  int with_library)
{
    memset(c, 0, sizeof *c);
    c->s = *s;
    c->cell = cell;
    refc_model m = { cell, s->I, s->H, s->L, s->bidirectional ? 2 : 1, s->P, s->bias,
                     s->batch_first, s->O, s->head_mode };
    c->m = m;
    const int32_t T = s->T, B = s->B;
    const int lstm = cell == RNN_CELL_LSTM;
    c->n_params = refc_param_count(&c->m);
    c->n_x = refc_x_count(&c->m, T, B);
    c->n_y = refc_y_count(&c->m, T, B);
    c->n_h = refc_h_count(&c->m, B);
    c->n_c = refc_c_count(&c->m, B);
    c->n_logits = refc_logits_count(&c->m, T, B);
    c->lengths = s->lengths[0] != 0 ? c->s.lengths : NULL;

    if (with_library) {
        rnn_config cfg = case_config(c, seed);
        size_t n = 0;
        TU_OK(rnn_create(&c->model, &cfg));
        TU_OK(rnn_params(c->model, &c->params, &n));
        if (n != c->n_params)
            fail_msg("%s: rnn_params count %zu, want %zu", s->name, n, c->n_params);
    } else {
        c->params = tu_floats(c->n_params);
    }
    /* Own random parameters, independent of rnn_init. */
    tu_rng rng = tu_rng_make(seed * 7919u + 29u);
    tu_fill(&rng, c->params, c->n_params, -0.6, 0.6);
    c->x = random_floats(&rng, c->n_x, 1.0);
    if (s->use_h0)
        c->h0 = random_floats(&rng, c->n_h, 0.8);
    if (s->use_c0 && lstm)
        c->c0 = random_floats(&rng, c->n_c, 1.0);
    c->dy = random_floats(&rng, c->n_y, 1.0);
    c->dh_n = random_floats(&rng, c->n_h, 1.0);
    if (lstm)
        c->dc_n = random_floats(&rng, c->n_c, 1.0);
    if (c->n_logits)
        c->dlogits = random_floats(&rng, c->n_logits, 1.0);

    tc_reference_for(c, TC_ALL, &c->ref);
}

void tc_case_free(tc_case *c)
{
    if (c->model)
        rnn_destroy(c->model);
    else
        free(c->params);
    float *all[] = { c->x, c->h0, c->c0, c->dy, c->dh_n, c->dc_n, c->dlogits };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    refc_result_free(&c->ref);
    memset(c, 0, sizeof *c);
}

static float *sentinels(size_t n)
{
    if (n == 0)
        return NULL;
    float *a = tu_floats(n);
    tu_sentinel_fill(a, n);
    return a;
}

void tc_out_alloc(const tc_case *c, tc_out *o)
{
    o->y = sentinels(c->n_y);
    o->h_n = sentinels(c->n_h);
    o->c_n = sentinels(c->n_c);
    o->logits = sentinels(c->n_logits);
    o->grads = sentinels(c->n_params);
    o->dx = sentinels(c->n_x);
    o->dh0 = sentinels(c->n_h);
    o->dc0 = sentinels(c->n_c);
}

void tc_out_free(tc_out *o)
{
    float *all[] = { o->y, o->h_n, o->c_n, o->logits, o->grads, o->dx, o->dh0, o->dc0 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    memset(o, 0, sizeof *o);
}

/* The case's inputs and o's outputs in *a. */
static void forward_args(const tc_case *c, tc_out *o, rnn_forward_args *a)
{
    TU_OK(rnn_forward_args_init(a, sizeof *a));
    a->seq_len = c->s.T;
    a->batch = c->s.B;
    a->x = c->x;
    a->lengths = c->lengths;
    a->h0 = c->h0;
    a->c0 = c->c0;
    a->y = o->y;
    a->h_n = o->h_n;
    a->c_n = o->c_n;
}

void tc_forward(tc_case *c, tc_out *o)
{
    rnn_forward_args a;
    forward_args(c, o, &a);
    TU_OK(rnn_forward_ex(c->model, &a));
    if (c->s.O > 0)
        TU_OK(rnn_head_forward(c->model, o->logits));
}

void tc_backward(tc_case *c, tc_out *o, int use)
{
    if (c->s.O > 0 && (use & TC_DLOGITS))
        TU_OK(rnn_head_backward(c->model, c->dlogits));
    rnn_backward_args a;
    TU_OK(rnn_backward_args_init(&a, sizeof a));
    a.dy = use & TC_DY ? c->dy : NULL;
    a.dh_n = use & TC_DH_N ? c->dh_n : NULL;
    a.dc_n = use & TC_DC_N ? c->dc_n : NULL;
    a.dx = o->dx;
    a.dh0 = o->dh0;
    a.dc0 = o->dc0;
    TU_OK(rnn_backward_ex(c->model, &a));
    float *grads = NULL;
    size_t n = 0;
    TU_OK(rnn_grads(c->model, &grads, &n));
    assert_int_equal(n, c->n_params);
    memcpy(o->grads, grads, n * sizeof *grads);
}

/* "<cell> <row>/<what>" into buf. */
static const char *label(char *buf, size_t size, const tc_case *c, const char *what)
{
    snprintf(buf, size, "%s %s/%s", c->cell == RNN_CELL_LSTM ? "LSTM" : "GRU",
             c->s.name, what);
    return buf;
}

int tc_forward_matches(const tc_case *c, const tc_out *o, double tol)
{
    char buf[160];
    int ok = tu_close(label(buf, sizeof buf, c, "y"), o->y, c->ref.y, c->n_y, tol);
    ok &= tu_close(label(buf, sizeof buf, c, "h_n"), o->h_n, c->ref.h_n, c->n_h, tol);
    ok &= tu_close(label(buf, sizeof buf, c, "c_n"), o->c_n, c->ref.c_n, c->n_c, tol);
    ok &= tu_close(label(buf, sizeof buf, c, "logits"), o->logits, c->ref.logits,
                   c->n_logits, tol);
    return ok;
}

int tc_backward_matches(const tc_case *c, const tc_out *o, const refc_result *want,
                        double tol)
{
    char buf[160];
    int ok = 1;
    for (int32_t i = 0; i < refc_tensor_count(&c->m); i++) {
        ref_tensor t = refc_tensor_at(&c->m, i);
        ok &= tu_close(label(buf, sizeof buf, c, t.name), o->grads + t.offset,
                       want->dparams + t.offset, t.count, tol);
    }
    ok &= tu_close(label(buf, sizeof buf, c, "dx"), o->dx, want->dx, c->n_x, tol);
    ok &= tu_close(label(buf, sizeof buf, c, "dh0"), o->dh0, want->dh0, c->n_h, tol);
    ok &= tu_close(label(buf, sizeof buf, c, "dc0"), o->dc0, want->dc0, c->n_c, tol);
    return ok;
}

/* ------------------------------------------------------------------------
 * The reference against its own central differences
 * ---------------------------------------------------------------------- */

typedef struct fd_problem {
    const refc_model *m;
    refc_batch in;
    refc_cotangents w;
    double *params;
} fd_problem;

/* Central differences of refc_loss along every v[i] (perturbed in place
 * and restored) against analytic[i]. */
static int fd_matches(fd_problem *p, const char *what, double *v, const double *analytic,
                      size_t n, double tol)
{
    const double eps = 1e-6;
    double *fd = calloc(n ? n : 1, sizeof *fd);
    assert_non_null(fd);
    for (size_t i = 0; i < n; i++) {
        double saved = v[i];
        v[i] = saved + eps;
        double plus = refc_loss(p->m, p->params, &p->in, &p->w);
        v[i] = saved - eps;
        double minus = refc_loss(p->m, p->params, &p->in, &p->w);
        v[i] = saved;
        fd[i] = (plus - minus) / (2.0 * eps);
    }
    int ok = tu_close_d(what, analytic, fd, n, tol);
    free(fd);
    return ok;
}

int tc_reference_matches_differences(const tc_case *c, double tol)
{
    /* NULL h0 / c0 mean zeros: differentiate at explicit zeros. */
    float *h0 = c->h0 ? tu_copy(c->h0, c->n_h) : tu_floats(c->n_h);
    float *c0 = c->c0 ? tu_copy(c->c0, c->n_c) : tu_floats(c->n_c);
    double *x = tu_to_double(c->x, c->n_x), *h0d = tu_to_double(h0, c->n_h);
    double *c0d = c->n_c ? tu_to_double(c0, c->n_c) : NULL;
    double *dy = tu_to_double(c->dy, c->n_y), *dh_n = tu_to_double(c->dh_n, c->n_h);
    double *dc_n = tu_to_double(c->dc_n, c->n_c);
    double *dlogits = tu_to_double(c->dlogits, c->n_logits);
    fd_problem p = { &c->m, { c->s.T, c->s.B, x, c->lengths, h0d, c0d },
                     { dy, dh_n, dc_n, dlogits }, tu_to_double(c->params, c->n_params) };
    char buf[160];
    int ok = 1;
    for (int32_t i = 0; i < refc_tensor_count(&c->m); i++) {
        ref_tensor t = refc_tensor_at(&c->m, i);
        ok &= fd_matches(&p, label(buf, sizeof buf, c, t.name), p.params + t.offset,
                         c->ref.dparams + t.offset, t.count, tol);
    }
    ok &= fd_matches(&p, label(buf, sizeof buf, c, "dx"), x, c->ref.dx, c->n_x, tol);
    ok &= fd_matches(&p, label(buf, sizeof buf, c, "dh0"), h0d, c->ref.dh0, c->n_h, tol);
    if (c->n_c)
        ok &= fd_matches(&p, label(buf, sizeof buf, c, "dc0"), c0d, c->ref.dc0, c->n_c, tol);
    double *all[] = { p.params, x, h0d, c0d, dy, dh_n, dc_n, dlogits };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    free(h0);
    free(c0);
    return ok;
}

/* ------------------------------------------------------------------------
 * Runner
 * ---------------------------------------------------------------------- */

typedef struct tc_slot {
    const tc_shape *s;
    int32_t cell;
} tc_slot;

const tc_shape *tc_row(void **state)
{
    return ((const tc_slot *)*state)->s;
}

int32_t tc_cell(void **state)
{
    return ((const tc_slot *)*state)->cell;
}

int tc_run(const char *group, int32_t cell, const struct CMUnitTest *plain, size_t n_plain,
           const tc_table_test *table, size_t n_table)
{
    size_t max = n_plain + n_table * tc_shape_count;
    struct CMUnitTest *tests = calloc(max, sizeof *tests);
    char **names = calloc(max, sizeof *names);
    tc_slot *slots = calloc(tc_shape_count, sizeof *slots);
    if (!tests || !names || !slots)
        return 1;
    for (size_t r = 0; r < tc_shape_count; r++) {
        slots[r].s = &tc_shapes[r];
        slots[r].cell = cell;
    }
    size_t n = 0;
    for (size_t i = 0; i < n_plain; i++)
        tests[n++] = plain[i];
    for (size_t i = 0; i < n_table; i++) {
        for (size_t r = 0; r < tc_shape_count; r++) {
            const tc_shape *s = &tc_shapes[r];
            if ((s->P > 0 && cell != RNN_CELL_LSTM) ||
                (table[i].accepts && !table[i].accepts(s)))
                continue;
            size_t len = strlen(table[i].name) + strlen(s->name) + 2;
            names[n] = calloc(len, 1);
            if (!names[n])
                return 1;
            snprintf(names[n], len, "%s/%s", table[i].name, s->name);
            tests[n].name = names[n];
            tests[n].test_func = table[i].fn;
            tests[n].initial_state = &slots[r];
            n++;
        }
    }
    int failed = _cmocka_run_group_tests(group, tests, n, NULL, NULL);
    for (size_t i = 0; i < max; i++)
        free(names[i]);
    free(names);
    free(tests);
    free(slots);
    return failed;
}

/* ------------------------------------------------------------------------
 * The tests of both programs
 * ---------------------------------------------------------------------- */

static const double FORWARD_TOL = 1e-5, GRAD_TOL = 1e-4, REF_FD_TOL = 1e-6;

void tc_reference_gradients_match_central_differences(void **state)
{
    tc_case c;
    tc_case_init(&c, tc_cell(state), tc_row(state), 1, 0);
    int ok = tc_reference_matches_differences(&c, REF_FD_TOL);
    tc_case_free(&c);
    assert_true(ok);
}

void tc_forward_matches_reference(void **state)
{
    tc_case c;
    tc_case_init(&c, tc_cell(state), tc_row(state), 2, 1);
    tc_out o;
    tc_out_alloc(&c, &o);
    tc_forward(&c, &o);
    int ok = tc_forward_matches(&c, &o, FORWARD_TOL);
    tc_out_free(&o);
    tc_case_free(&c);
    assert_true(ok);
}

void tc_gradients_match_reference(void **state)
{
    tc_case c;
    tc_case_init(&c, tc_cell(state), tc_row(state), 3, 1);
    tc_out o;
    tc_out_alloc(&c, &o);
    TU_OK(rnn_zero_grad(c.model));
    tc_forward(&c, &o);
    tc_backward(&c, &o, TC_ALL);
    int ok = tc_backward_matches(&c, &o, &c.ref, GRAD_TOL);
    tc_out_free(&o);
    tc_case_free(&c);
    assert_true(ok);
}

/* Each cotangent alone drives the right gradients: a cell-state path that
 * only dc_n reaches, or one that only dh_n reaches, cannot hide behind
 * the others. */
void tc_gradients_match_reference_for_each_cotangent_alone(void **state)
{
    tc_case c;
    tc_case_init(&c, tc_cell(state), tc_row(state), 4, 1);
    /* the head reads y: dlogits goes with dy */
    const int uses[] = { TC_DY | TC_DLOGITS, TC_DH_N, TC_DC_N };
    const size_t n_uses = c.cell == RNN_CELL_LSTM ? 3 : 2;
    int ok = 1;
    for (size_t u = 0; u < n_uses; u++) {
        refc_result want;
        tc_reference_for(&c, uses[u], &want);
        tc_out o;
        tc_out_alloc(&c, &o);
        TU_OK(rnn_zero_grad(c.model));
        tc_forward(&c, &o);
        tc_backward(&c, &o, uses[u]);
        if (!tc_backward_matches(&c, &o, &want, GRAD_TOL)) {
            print_error("with cotangents %d only\n", uses[u]);
            ok = 0;
        }
        tc_out_free(&o);
        refc_result_free(&want);
    }
    tc_case_free(&c);
    assert_true(ok);
}

/* The inference forward (rnn_forward_ex with inference = 1: no cache for
 * backward, chunked) gives the reference's y, h_n, c_n and logits. */
void tc_inference_forward_matches_reference(void **state)
{
    tc_case c;
    tc_case_init(&c, tc_cell(state), tc_row(state), 5, 1);
    tc_out o;
    tc_out_alloc(&c, &o);
    rnn_forward_args a;
    forward_args(&c, &o, &a);
    a.logits = o.logits;
    a.inference = 1;
    TU_OK(rnn_forward_ex(c.model, &a));
    int ok = tc_forward_matches(&c, &o, FORWARD_TOL);
    tc_out_free(&o);
    tc_case_free(&c);
    assert_true(ok);
}

/* rnn_forward_ex keeps what backward needs: the caller may overwrite x, h0
 * and c0 as soon as it returns. */
void tc_backward_does_not_read_inputs_after_forward_returns(void **state)
{
    tc_case c;
    tc_case_init(&c, tc_cell(state), tc_row(state), 6, 1);
    tc_out o;
    tc_out_alloc(&c, &o);
    TU_OK(rnn_zero_grad(c.model));
    tc_forward(&c, &o);
    tu_sentinel_fill(c.x, c.n_x);
    if (c.h0)
        tu_sentinel_fill(c.h0, c.n_h);
    if (c.c0)
        tu_sentinel_fill(c.c0, c.n_c);
    tc_backward(&c, &o, TC_ALL);
    int ok = tc_backward_matches(&c, &o, &c.ref, GRAD_TOL);
    tc_out_free(&o);
    tc_case_free(&c);
    assert_true(ok);
}

/* One model run on several (T, B) in a row, its workspaces growing and
 * shrinking, matches the reference every time (the row's lengths dropped;
 * the same seed gives the same parameters). */
void tc_gradients_match_reference_after_batch_and_length_change(void **state)
{
    static const int32_t sizes[][2] = { { 7, 5 }, { 2, 1 }, { 3, 2 }, { 9, 6 } };
    tc_shape s = *tc_row(state);
    memset(s.lengths, 0, sizeof s.lengths);
    rnn_t *shared = NULL;
    int ok = 1;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        s.T = sizes[i][0];
        s.B = sizes[i][1];
        tc_case c;
        tc_case_init(&c, tc_cell(state), &s, 7, 1);
        if (!shared) {
            shared = c.model;
        } else {
            float *params = NULL;
            TU_OK(rnn_params(shared, &params, NULL));
            memcpy(params, c.params, c.n_params * sizeof *params);
            rnn_destroy(c.model);
            c.model = shared;
            c.params = params;
        }
        tc_out o;
        tc_out_alloc(&c, &o);
        TU_OK(rnn_zero_grad(c.model));
        tc_forward(&c, &o);
        tc_backward(&c, &o, TC_ALL);
        ok &= tc_forward_matches(&c, &o, FORWARD_TOL);
        ok &= tc_backward_matches(&c, &o, &c.ref, GRAD_TOL);
        tc_out_free(&o);
        c.model = NULL;
        c.params = NULL;
        tc_case_free(&c);
    }
    rnn_destroy(shared);
    assert_true(ok);
}

/* Two training passes without rnn_zero_grad add up to twice the
 * gradients; dx, dh0 and dc0 are written, not accumulated. */
void tc_two_passes_without_zero_grad_give_twice_the_gradients(void **state)
{
    tc_case c;
    tc_case_init(&c, tc_cell(state), tc_row(state), 8, 1);
    tc_out o;
    tc_out_alloc(&c, &o);
    TU_OK(rnn_zero_grad(c.model));
    for (int pass = 0; pass < 2; pass++) {
        tc_forward(&c, &o);
        tc_backward(&c, &o, TC_ALL);
    }
    refc_result twice = c.ref;
    twice.dparams = calloc(c.n_params ? c.n_params : 1, sizeof *twice.dparams);
    assert_non_null(twice.dparams);
    for (size_t i = 0; i < c.n_params; i++)
        twice.dparams[i] = 2.0 * c.ref.dparams[i];
    int ok = tc_backward_matches(&c, &o, &twice, GRAD_TOL);
    free(twice.dparams);
    tc_out_free(&o);
    tc_case_free(&c);
    assert_true(ok);
}

/* rnn_step from (h0, c0), one call per step, gives the reference's y at
 * every step and its h_n and c_n (unidirectional rows without lengths). */
void tc_steps_match_reference(void **state)
{
    tc_case c;
    tc_case_init(&c, tc_cell(state), tc_row(state), 9, 1);
    const int32_t T = c.s.T, B = c.s.B, I = c.s.I, Ho = refc_hout(&c.m);
    const size_t bo = (size_t)B * (size_t)Ho;
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, c.model, B));
    if (c.h0)
        TU_OK(rnn_state_set(st, c.h0));
    if (c.c0)
        TU_OK(rnn_state_set_cell(st, c.c0));
    float *x_t = tu_floats((size_t)B * I), *y_t = tu_floats(bo);
    float *h = tu_floats(c.n_h), *cell = tu_floats(c.n_c);
    double *want = calloc(bo, sizeof *want);
    assert_non_null(want);
    ref_model sm = { c.s.I, Ho, c.s.L, 1, RNN_TANH, c.s.bias, c.s.batch_first, 0, 0 };
    int ok = 1;
    char what[64];
    for (int32_t t = 0; t < T; t++) {
        for (int32_t b = 0; b < B; b++) {
            memcpy(x_t + (size_t)b * I, c.x + ref_seq_index(&sm, T, B, t, b, I, 0),
                   (size_t)I * sizeof *x_t);
            for (int32_t k = 0; k < Ho; k++)
                want[(size_t)b * Ho + k] = c.ref.y[ref_seq_index(&sm, T, B, t, b, Ho, k)];
        }
        TU_OK(rnn_step(c.model, st, x_t, y_t));
        snprintf(what, sizeof what, "%s/y_%d", c.s.name, (int)t);
        ok &= tu_close(what, y_t, want, bo, FORWARD_TOL);
    }
    TU_OK(rnn_state_get(st, h));
    ok &= tu_close("h", h, c.ref.h_n, c.n_h, FORWARD_TOL);
    if (c.n_c) {
        TU_OK(rnn_state_get_cell(st, cell));
        ok &= tu_close("c", cell, c.ref.c_n, c.n_c, FORWARD_TOL);
    }
    free(x_t);
    free(y_t);
    free(h);
    free(cell);
    free(want);
    rnn_state_destroy(st);
    tc_case_free(&c);
    assert_true(ok);
}

int tc_unidirectional_without_lengths(const tc_shape *s)
{
    return !s->bidirectional && s->lengths[0] == 0;
}

int tc_without_lengths(const tc_shape *s)
{
    return s->lengths[0] == 0;
}

int tc_small(const tc_shape *s)
{
    return s->H <= 8;
}
