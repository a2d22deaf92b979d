/* SPDX-License-Identifier: MIT
 *
 * test_internal_cell.c - the drivers (forward.c, backward.c, step.c,
 * pack.c) on the paths of cell.h that the Elman cell does not take: a
 * test cell with its own projection rows, rec kept apart, a c state, saved
 * values and a gradient that reaches h_{t-1} around rec:
 *     a   = tanh(in + rec)            (saved)
 *     c_t = c_{t-1} / 2 + a
 *     h_t = h_{t-1} / 2 + c_t / 4
 * Gradients are checked against central differences of a weighted sum of
 * y and h_n (two layers, both directions, lengths, h0), and rnn_step
 * against rnn_forward, with and without packed weights.
 */
#include "testutil.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool serves_nothing(const rnn_config *cfg)
{
    (void)cfg;
    return false;
}

static void leaky_forward(const rnn_cell_forward_args *step)
{
    const size_t n = (size_t)step->rows * (size_t)step->hidden;
    for (size_t i = 0; i < n; ++i) {
        const float a = tanhf(step->proj[i] + step->rec[i]);
        step->saved[i] = a;
        step->c[i] = 0.5f * step->c_prev[i] + a;
        step->h[i] = 0.5f * step->h_prev[i] + 0.25f * step->c[i];
    }
}

static void leaky_backward(const rnn_cell_backward_args *step)
{
    const rnn_cell_forward_args *fwd = &step->fwd;
    const size_t n = (size_t)fwd->rows * (size_t)fwd->hidden;
    for (size_t i = 0; i < n; ++i) {
        const float dc = step->dc[i] + 0.25f * step->dh[i];
        const float a = fwd->saved[i];
        const float d_pre = dc * (1.0f - a * a);
        step->d_proj[i] = d_pre;
        step->d_rec[i] = d_pre;
        step->dc[i] = 0.5f * dc;
        step->dh_prev[i] = 0.5f * step->dh[i];
    }
}

static const rnn_cell_ops leaky_cell = {
    .name = "leaky test cell",
    .gates = 1,
    .has_cell_state = true,
    .separate_projections = true,
    .direct_state_grad = true,
    .saved_units = 1,
    .serves = serves_nothing,
    .forward = leaky_forward,
    .backward = leaky_backward,
};

enum { I = 3, H = 4, T = 5, B = 3 };

static rnn_t *leaky_model(int32_t layers, int32_t bidirectional)
{
    rnn_config cfg;
    assert_int_equal(rnn_config_init(&cfg, sizeof cfg, I, H), RNN_OK);
    cfg.num_layers = layers;
    cfg.bidirectional = bidirectional;
    cfg.seed = 7;
    rnn_t *model = NULL;
    assert_int_equal(rnn_create(&model, &cfg), RNN_OK);
    model->cell_ops = &leaky_cell; /* same layout: G = 1 */
    return model;
}

typedef struct problem {
    rnn_t *model;
    int32_t lengths[B];
    float *x, *h0, *y, *h_n, *w_y, *w_n; /* w_*: the loss's weights */
    size_t x_n, h_n_n, y_n;
} problem;

/* loss = sum(y * w_y) + sum(h_n * w_n), in double. */
static double loss(void *ctx)
{
    problem *p = ctx;
    assert_int_equal(rnn_forward(p->model, T, B, p->x, p->lengths, p->h0, p->y,
                                 p->h_n),
                     RNN_OK);
    double sum = 0.0;
    for (size_t i = 0; i < p->y_n; ++i)
        sum += (double)p->y[i] * p->w_y[i];
    for (size_t i = 0; i < p->h_n_n; ++i)
        sum += (double)p->h_n[i] * p->w_n[i];
    return sum;
}

static void gradients_match_differences(void **state)
{
    (void)state;
    problem p = {.model = leaky_model(2, 1), .lengths = {T, 3, 1}};
    tu_rng rng = tu_rng_make(3);
    p.x_n = (size_t)T * B * I;
    p.y_n = (size_t)T * B * 2 * H;
    p.h_n_n = (size_t)2 * 2 * B * H;
    p.x = tu_floats(p.x_n);
    p.h0 = tu_floats(p.h_n_n);
    p.y = tu_floats(p.y_n);
    p.h_n = tu_floats(p.h_n_n);
    p.w_y = tu_floats(p.y_n);
    p.w_n = tu_floats(p.h_n_n);
    tu_fill(&rng, p.x, p.x_n, -1.0, 1.0);
    tu_fill(&rng, p.h0, p.h_n_n, -0.5, 0.5);
    tu_fill(&rng, p.w_y, p.y_n, -1.0, 1.0);
    tu_fill(&rng, p.w_n, p.h_n_n, -1.0, 1.0);

    float *dx = tu_floats(p.x_n), *dh0 = tu_floats(p.h_n_n);
    float *params, *grads;
    size_t count;
    assert_int_equal(rnn_params(p.model, &params, &count), RNN_OK);
    assert_int_equal(rnn_grads(p.model, &grads, NULL), RNN_OK);
    assert_int_equal(rnn_zero_grad(p.model), RNN_OK);
    loss(&p);
    assert_int_equal(rnn_backward(p.model, p.w_y, p.w_n, dx, dh0), RNN_OK);
    float *dparams = tu_copy(grads, count);

    assert_true(tu_differences_match(loss, &p, params,
                                     dparams, count, "dparams"));
    assert_true(tu_differences_match(loss, &p, p.x, dx, p.x_n, "dx"));
    assert_true(tu_differences_match(loss, &p, p.h0, dh0, p.h_n_n, "dh0"));

    free(dparams);
    free(dx);
    free(dh0);
    free(p.x);
    free(p.h0);
    free(p.y);
    free(p.h_n);
    free(p.w_y);
    free(p.w_n);
    rnn_destroy(p.model);
}

/* The steps of a sequence, one call each, give rnn_forward's outputs. */
static void steps_match_forward(rnn_t *model, const float *x, const float *y)
{
    rnn_state_t *stream = NULL;
    float y_t[B * H];
    assert_int_equal(rnn_state_create(&stream, model, B), RNN_OK);
    for (int32_t t = 0; t < T; ++t) {
        assert_int_equal(rnn_step(model, stream, x + (size_t)t * B * I, y_t),
                         RNN_OK);
        for (size_t i = 0; i < (size_t)B * H; ++i)
            assert_true(fabsf(y_t[i] - y[(size_t)t * B * H + i]) <= 1e-5f);
    }
    rnn_state_destroy(stream);
}

static void steps_carry_c_and_rec(void **state)
{
    (void)state;
    rnn_t *model = leaky_model(2, 0);
    tu_rng rng = tu_rng_make(5);
    float x[T * B * I], y[T * B * H];
    tu_fill(&rng, x, sizeof x / sizeof x[0], -1.0, 1.0);
    assert_int_equal(rnn_forward(model, T, B, x, NULL, NULL, y, NULL), RNN_OK);
    steps_match_forward(model, x, y);
    assert_int_equal(rnn_pack_weights(model), RNN_OK);
    steps_match_forward(model, x, y);
    rnn_destroy(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_differences),
        cmocka_unit_test(steps_carry_c_and_rec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
