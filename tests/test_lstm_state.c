/* SPDX-License-Identifier: MIT
 *
 * test_lstm_state.c - the LSTM's cell state through the API: every
 * gradient of a small LSTM (parameters, dx, dh0, dc0, with dy, dh_n and
 * dc_n all flowing) against central differences of librnn's own float
 * forward; c0 / c_n (split sequences, the inference forward, one array for
 * both); rnn_step against rnn_forward, packed and not; steady state
 * without allocation; and the refusals (c0 or a cell-state gradient for an
 * Elman model, a state of another cell, proj_size where it does not apply,
 * NaN in c0 or dc_n in the check mode). Each with proj_size too (h of P
 * units, weight_hr [P, H]): its gradients (weight_hr included), steps,
 * files, initial weights and refusals.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One LSTM and the arrays of a forward and backward over it. */
typedef struct spec {
    int32_t I, H, P, L, D, bias, batch_first, T, B;
    int32_t lengths[4]; /* all 0: NULL */
    float dropout;      /* > 0: the same masks in every forward (reseeded) */
} spec;

typedef struct lstm_case {
    spec s;
    rnn_t *model;
    int32_t hout;              /* P, or H without projection */
    size_t n_x, n_y, n_h, n_c; /* floats of x, y, h0/h_n, c0/c_n */
    const int32_t *lengths;
    float *x, *h0, *c0, *y, *h_n, *c_n;
    float *w_y, *w_h, *w_c;    /* the loss's weights: dy, dh_n, dc_n */
} lstm_case;

static rnn_config lstm_config(const spec *s)
{
    rnn_config cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, s->I, s->H));
    cfg.cell = RNN_CELL_LSTM;
    cfg.proj_size = s->P;
    cfg.num_layers = s->L;
    cfg.bidirectional = s->D - 1;
    cfg.bias = s->bias;
    cfg.batch_first = s->batch_first;
    cfg.dropout = s->dropout;
    cfg.seed = 11;
    return cfg;
}

static void case_init(lstm_case *c, const spec *s, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->s = *s;
    rnn_config cfg = lstm_config(s);
    TU_OK(rnn_create(&c->model, &cfg));
    c->hout = s->P > 0 ? s->P : s->H;
    c->n_x = (size_t)s->T * s->B * s->I;
    c->n_y = (size_t)s->T * s->B * s->D * c->hout;
    c->n_h = (size_t)s->L * s->D * s->B * c->hout;
    c->n_c = (size_t)s->L * s->D * s->B * s->H;
    c->lengths = s->lengths[0] != 0 ? s->lengths : NULL;
    tu_rng rng = tu_rng_make(seed);
    c->x = tu_floats(c->n_x);
    c->h0 = tu_floats(c->n_h);
    c->c0 = tu_floats(c->n_c);
    c->y = tu_floats(c->n_y);
    c->h_n = tu_floats(c->n_h);
    c->c_n = tu_floats(c->n_c);
    c->w_y = tu_floats(c->n_y);
    c->w_h = tu_floats(c->n_h);
    c->w_c = tu_floats(c->n_c);
    tu_fill(&rng, c->x, c->n_x, -1.0, 1.0);
    tu_fill(&rng, c->h0, c->n_h, -0.5, 0.5);
    tu_fill(&rng, c->c0, c->n_c, -1.0, 1.0);
    tu_fill(&rng, c->w_y, c->n_y, -1.0, 1.0);
    tu_fill(&rng, c->w_h, c->n_h, -1.0, 1.0);
    tu_fill(&rng, c->w_c, c->n_c, -1.0, 1.0);
}

static void case_free(lstm_case *c)
{
    rnn_destroy(c->model);
    float *arrays[] = {c->x, c->h0, c->c0, c->y, c->h_n, c->c_n,
                       c->w_y, c->w_h, c->w_c};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; ++i)
        free(arrays[i]);
}

/* rnn_forward_ex with the case's inputs into y, h_n, c_n. */
static rnn_status case_forward(lstm_case *c, int32_t inference)
{
    rnn_forward_args args;
    TU_OK(rnn_forward_args_init(&args, sizeof args));
    args.seq_len = c->s.T;
    args.batch = c->s.B;
    args.x = c->x;
    args.lengths = c->lengths;
    args.h0 = c->h0;
    args.c0 = c->c0;
    args.y = c->y;
    args.h_n = c->h_n;
    args.c_n = c->c_n;
    args.inference = inference;
    if (c->s.dropout > 0.0f)
        TU_OK(rnn_seed_dropout(c->model, 7));
    return rnn_forward_ex(c->model, &args);
}

/* sum(y * w_y) + sum(h_n * w_h) + sum(c_n * w_c), in double. */
static double case_loss(void *ctx)
{
    lstm_case *c = ctx;
    TU_OK(case_forward(c, 0));
    double sum = 0.0;
    for (size_t i = 0; i < c->n_y; ++i)
        sum += (double)c->y[i] * c->w_y[i];
    for (size_t i = 0; i < c->n_h; ++i)
        sum += (double)c->h_n[i] * c->w_h[i];
    for (size_t i = 0; i < c->n_c; ++i)
        sum += (double)c->c_n[i] * c->w_c[i];
    return sum;
}

static void check_gradients(const spec *s)
{
    lstm_case c;
    case_init(&c, s, 5);
    float *params, *grads;
    size_t count;
    TU_OK(rnn_params(c.model, &params, &count));
    TU_OK(rnn_grads(c.model, &grads, NULL));
    float *dx = tu_floats(c.n_x), *dh0 = tu_floats(c.n_h);
    float *dc0 = tu_floats(c.n_c);
    TU_OK(rnn_zero_grad(c.model));
    case_loss(&c);
    rnn_backward_args args;
    TU_OK(rnn_backward_args_init(&args, sizeof args));
    args.dy = c.w_y;
    args.dh_n = c.w_h;
    args.dc_n = c.w_c;
    args.dx = dx;
    args.dh0 = dh0;
    args.dc0 = dc0;
    TU_OK(rnn_backward_ex(c.model, &args));
    float *dparams = tu_copy(grads, count);
    int good = tu_differences_match(case_loss, &c, params,
                                    dparams, count, "dparams");
    good &= tu_differences_match(case_loss, &c, c.x, dx, c.n_x, "dx");
    good &= tu_differences_match(case_loss, &c, c.h0, dh0, c.n_h, "dh0");
    good &= tu_differences_match(case_loss, &c, c.c0, dc0, c.n_c, "dc0");
    free(dparams);
    free(dx);
    free(dh0);
    free(dc0);
    case_free(&c);
    assert_true(good);
}

/* Two layers both ways with lengths, bias; one layer, no bias,
 * batch_first, B = 1. */
static const spec deep_bidirectional = {3, 4, 0, 2, 2, 1, 0, 5, 3, {5, 3, 1}, 0.0f};
static const spec plain_batch_first = {2, 3, 0, 1, 1, 0, 1, 4, 1, {0}, 0.0f};

static void gradients_match_differences(void **state)
{
    (void)state;
    check_gradients(&deep_bidirectional);
    check_gradients(&plain_batch_first);
}

/* The same shapes with a projection: P = 2 of H = 4 (lengths in both
 * directions: the reverse direction's padded steps must not reach dW_hr),
 * P = 1 of H = 3. */
static const spec projected_deep = {3, 4, 2, 2, 2, 1, 0, 5, 3, {5, 3, 1}, 0.0f};
static const spec projected_plain = {2, 3, 1, 1, 1, 0, 1, 4, 2, {0}, 0.0f};

static void projected_gradients_match_differences(void **state)
{
    (void)state;
    check_gradients(&projected_deep);
    check_gradients(&projected_plain);
}

/* Dropout between layers reads and masks P-wide outputs: the gradients of
 * one fixed set of masks (reseeded before each forward). */
static void projected_gradients_with_dropout_match_differences(void **state)
{
    (void)state;
    const spec dropped = {3, 4, 2, 2, 2, 1, 0, 5, 3, {5, 3, 1}, 0.4f};
    check_gradients(&dropped);
}

/* The training forward's y, h_n and c_n (copies, the caller frees them),
 * checked to be the bits of the inference forward that runs next. */
typedef struct final_outputs {
    float *y, *h_n, *c_n;
} final_outputs;

static final_outputs inference_matches_training(lstm_case *c)
{
    TU_OK(case_forward(c, 0));
    final_outputs out = {tu_copy(c->y, c->n_y), tu_copy(c->h_n, c->n_h),
                         tu_copy(c->c_n, c->n_c)};
    TU_OK(case_forward(c, 1));
    assert_memory_equal(c->y, out.y, c->n_y * sizeof(float));
    assert_memory_equal(c->h_n, out.h_n, c->n_h * sizeof(float));
    assert_memory_equal(c->c_n, out.c_n, c->n_c * sizeof(float));
    return out;
}

/* The inference forward runs long sequences in chunks of steps, carrying
 * h [L*D, B, P] and c [L*D, B, H] between them: the same bits as the
 * training forward. */
static void projected_inference_equals_training_over_chunks(void **state)
{
    (void)state;
    const spec long_batch = {2, 5, 3, 2, 1, 1, 1, 70, 64, {0}, 0.0f};
    lstm_case c;
    case_init(&c, &long_batch, 2);
    final_outputs training = inference_matches_training(&c);
    free(training.y);
    free(training.h_n);
    free(training.c_n);
    case_free(&c);
}

/* Forward over x[0, k) then x[k, T) from the first part's h_n and c_n
 * gives the whole forward's y, h_n, c_n; the inference forward gives the
 * training one's bits; c0 NULL is c0 = 0; one array may be c0 and c_n. */
static void cell_state_carries_between_calls(void **state)
{
    (void)state;
    const spec s = {3, 5, 0, 2, 1, 1, 0, 6, 2, {0}, 0.0f};
    lstm_case c;
    case_init(&c, &s, 9);
    const final_outputs training = inference_matches_training(&c);
    float *y = training.y, *h_n = training.h_n, *c_n = training.c_n;

    /* the first 2 steps, then the other 4 from their final states; the
     * same arrays as c0/c_n and h0/h_n */
    const int32_t k = 2, row = s.B * s.I, out = s.B * s.H;
    float *h = tu_copy(c.h0, c.n_h), *cs = tu_copy(c.c0, c.n_c);
    float *y2 = tu_floats(c.n_y);
    rnn_forward_args args;
    TU_OK(rnn_forward_args_init(&args, sizeof args));
    args.batch = s.B;
    args.h0 = args.h_n = h;
    args.c0 = cs;
    args.c_n = cs;
    args.seq_len = k;
    args.x = c.x;
    args.y = y2;
    TU_OK(rnn_forward_ex(c.model, &args));
    args.seq_len = s.T - k;
    args.x = c.x + (size_t)k * row;
    args.y = y2 + (size_t)k * out;
    TU_OK(rnn_forward_ex(c.model, &args));
    assert_true(tu_close_f("split y", y2, y, c.n_y, 1e-5));
    assert_true(tu_close_f("split h_n", h, h_n, c.n_h, 1e-5));
    assert_true(tu_close_f("split c_n", cs, c_n, c.n_c, 1e-5));

    /* c0 NULL is c0 = 0 */
    memset(c.c0, 0, c.n_c * sizeof(float));
    TU_OK(case_forward(&c, 0));
    float *zero_c_n = tu_copy(c.c_n, c.n_c);
    args.seq_len = s.T;
    args.x = c.x;
    args.h0 = c.h0;
    args.h_n = NULL;
    args.c0 = NULL;
    args.c_n = c_n;
    args.y = NULL;
    TU_OK(rnn_forward_ex(c.model, &args));
    assert_memory_equal(c_n, zero_c_n, c.n_c * sizeof(float));
    free(zero_c_n);
    free(y);
    free(h_n);
    free(c_n);
    free(h);
    free(cs);
    free(y2);
    case_free(&c);
}

/* rnn_step over the sequence from h0 and c0 (rnn_state_set,
 * rnn_state_set_cell) gives rnn_forward's outputs and final states. */
static void check_step_against_forward(bool packed, int32_t proj)
{
    const spec s = {3, 6, proj, 2, 1, 1, 0, 7, 3, {0}, 0.0f};
    lstm_case c;
    case_init(&c, &s, 21);
    TU_OK(case_forward(&c, 0));
    if (packed)
        TU_OK(rnn_pack_weights(c.model));
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, c.model, s.B));
    TU_OK(rnn_state_set(st, c.h0));
    TU_OK(rnn_state_set_cell(st, c.c0));
    const size_t out = (size_t)s.B * c.hout;
    float *y_t = tu_floats(out), *h = tu_floats(c.n_h), *cs = tu_floats(c.n_c);
    for (int32_t t = 0; t < s.T; ++t) {
        TU_OK(rnn_step(c.model, st, c.x + (size_t)t * s.B * s.I, y_t));
        assert_true(tu_close_f("y_t", y_t, c.y + (size_t)t * out, out, 1e-5));
    }
    TU_OK(rnn_state_get(st, h));
    TU_OK(rnn_state_get_cell(st, cs));
    assert_true(tu_close_f("h", h, c.h_n, c.n_h, 1e-5));
    assert_true(tu_close_f("c", cs, c.c_n, c.n_c, 1e-5));
    /* a reset clears c as well */
    TU_OK(rnn_state_reset(st, NULL));
    TU_OK(rnn_state_get_cell(st, cs));
    assert_int_equal(tu_count_equal(cs, c.n_c, 0.0f), c.n_c);
    rnn_state_destroy(st);
    free(y_t);
    free(h);
    free(cs);
    case_free(&c);
}

static void step_equals_forward(void **state)
{
    (void)state;
    check_step_against_forward(false, 0);
    check_step_against_forward(false, 4);
}

static void packed_step_equals_forward(void **state)
{
    (void)state;
    check_step_against_forward(true, 0);
    check_step_against_forward(true, 4);
}

/* After the first iteration of a shape, training and streaming allocate
 * nothing (test_steady_state.c does the Elman cell). */
static void check_steady_state(int32_t proj)
{
    const spec s = {3, 5, proj, 2, 2, 1, 0, 6, 3, {6, 2, 4}, 0.0f};
    lstm_case c;
    case_init(&c, &s, 4);
    float *dc0 = tu_floats(c.n_c);
    rnn_backward_args args;
    TU_OK(rnn_backward_args_init(&args, sizeof args));
    args.dy = c.w_y;
    args.dc_n = c.w_c;
    args.dc0 = dc0;
    tu_count_allocations(true);
    for (int i = 0; i < 3; ++i) {
        if (i == 1)
            tu_count_allocations(true); /* counters reset */
        TU_OK(case_forward(&c, 0));
        TU_OK(rnn_backward_ex(c.model, &args));
        TU_OK(case_forward(&c, 1));
    }
    assert_int_equal(tu_alloc_calls, 0);
    TU_OK(rnn_set_allocator(NULL));
    free(dc0);
    case_free(&c);

    const spec one_way = {3, 5, proj, 2, 1, 1, 0, 1, 3, {0}, 0.0f};
    case_init(&c, &one_way, 4);
    TU_OK(rnn_pack_weights(c.model));
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, c.model, one_way.B));
    tu_count_allocations(true);
    for (int t = 0; t < 4; ++t)
        TU_OK(rnn_step(c.model, st, c.x, c.y));
    assert_int_equal(tu_alloc_calls, 0);
    TU_OK(rnn_set_allocator(NULL));
    rnn_state_destroy(st);
    case_free(&c);
}

static void steady_state_allocates_nothing(void **state)
{
    (void)state;
    check_steady_state(0);
    check_steady_state(3);
}

/* backward_ex with dc_n alone has something to propagate; without
 * anything it is RNN_E_STATE. */
static void dc_n_alone_is_propagated(void **state)
{
    (void)state;
    lstm_case c;
    case_init(&c, &plain_batch_first, 3);
    TU_OK(case_forward(&c, 0));
    float *dc0 = tu_floats(c.n_c);
    rnn_backward_args args;
    TU_OK(rnn_backward_args_init(&args, sizeof args));
    args.dc0 = dc0;
    TU_FAILS(RNN_E_STATE, "rnn_backward_ex", rnn_backward_ex(c.model, &args));
    args.dc_n = c.w_c;
    TU_OK(rnn_backward_ex(c.model, &args));
    /* c_n = f_T * c_{T-1} + ...: dc0 is not zero */
    assert_true(tu_count_equal(dc0, c.n_c, 0.0f) < c.n_c);
    free(dc0);
    case_free(&c);
}

static void refusals(void **state)
{
    (void)state;
    enum { I = 2, H = 3, T = 2, B = 2 };
    float x[T * B * I] = {0}, cs[B * H] = {0}, y[T * B * H];
    rnn_t *elman = NULL, *lstm = NULL, *none = NULL;
    rnn_config cfg = rnn_config_default(I, H);
    TU_OK(rnn_create(&elman, &cfg));

    /* proj_size on an Elman model, or >= H, or negative */
    cfg.proj_size = 1;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&none, &cfg));
    assert_null(none);
    cfg.cell = RNN_CELL_LSTM;
    cfg.proj_size = H;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&none, &cfg));
    cfg.proj_size = -1;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&none, &cfg));
    cfg.proj_size = 0;
    TU_OK(rnn_create(&lstm, &cfg));

    /* c0 / c_n / dc_n / dc0 given to an Elman model; nothing written */
    rnn_forward_args fa;
    TU_OK(rnn_forward_args_init(&fa, sizeof fa));
    fa.seq_len = T;
    fa.batch = B;
    fa.x = x;
    fa.y = y;
    fa.c0 = cs;
    tu_sentinel_fill(y, T * B * H);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_ex", rnn_forward_ex(elman, &fa));
    assert_true(tu_sentinel_intact("y", y, T * B * H));
    fa.c0 = NULL;
    fa.c_n = cs;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_ex", rnn_forward_ex(elman, &fa));
    fa.c_n = NULL;
    TU_OK(rnn_forward_ex(elman, &fa));
    rnn_backward_args ba;
    TU_OK(rnn_backward_args_init(&ba, sizeof ba));
    ba.dy = y;
    ba.dc_n = cs;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_backward_ex", rnn_backward_ex(elman, &ba));
    ba.dc_n = NULL;
    ba.dc0 = cs;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_backward_ex", rnn_backward_ex(elman, &ba));

    /* the cell state of an Elman state; states of the other cell */
    rnn_state_t *elman_state = NULL, *lstm_state = NULL;
    TU_OK(rnn_state_create(&elman_state, elman, B));
    TU_OK(rnn_state_create(&lstm_state, lstm, B));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_get_cell",
             rnn_state_get_cell(elman_state, cs));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_set_cell",
             rnn_state_set_cell(elman_state, cs));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_get_cell",
             rnn_state_get_cell(lstm_state, NULL));
    float h[B * H];
    tu_sentinel_fill(h, B * H);
    TU_FAILS(RNN_E_SHAPE, "rnn_step", rnn_step(elman, lstm_state, x, h));
    TU_FAILS(RNN_E_SHAPE, "rnn_step", rnn_step(lstm, elman_state, x, h));
    assert_true(tu_sentinel_intact("y_t", h, B * H));

    /* the check mode: NaN in c0 or dc_n, nothing written */
    TU_OK(rnn_set_check_finite(lstm, 1));
    float bad[B * H] = {0};
    bad[4] = NAN;
    fa.c0 = bad;
    tu_sentinel_fill(y, T * B * H);
    TU_FAILS(RNN_E_NONFINITE, "rnn_forward_ex", rnn_forward_ex(lstm, &fa));
    assert_true(tu_sentinel_intact("y", y, T * B * H));
    fa.c0 = cs;
    TU_OK(rnn_forward_ex(lstm, &fa));
    float dx[T * B * I];
    tu_sentinel_fill(dx, T * B * I);
    ba.dc0 = NULL;
    ba.dc_n = bad;
    ba.dx = dx;
    TU_FAILS(RNN_E_NONFINITE, "rnn_backward_ex", rnn_backward_ex(lstm, &ba));
    assert_true(tu_sentinel_intact("dx", dx, T * B * I));

    rnn_state_destroy(elman_state);
    rnn_state_destroy(lstm_state);
    rnn_destroy(elman);
    rnn_destroy(lstm);
}


/* The tensor's shape as [rows, cols] (cols 0 for a vector). */
static void expect_shape(const rnn_t *model, const char *name, int32_t rows,
                         int32_t cols)
{
    rnn_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    TU_OK(rnn_tensor_find(model, name, &info));
    assert_int_equal(info.shape[0], rows);
    assert_int_equal(info.ndim == 2 ? info.shape[1] : 0, cols);
}

/* torch.nn.LSTM(3, 5, 2, bidirectional, proj_size=2)'s state_dict, in its
 * order: weight_ih, weight_hh [4H, P], bias_ih, bias_hh, weight_hr [P, H];
 * the second layer reads D*P; the head D*P. */
static void projected_tensors_have_torch_shapes(void **state)
{
    (void)state;
    const spec s = {3, 5, 2, 2, 2, 1, 0, 1, 1, {0}, 0.0f};
    rnn_config cfg = lstm_config(&s);
    cfg.output_size = 4;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    static const char *const order[] = {"weight_ih_l0", "weight_hh_l0",
                                        "bias_ih_l0", "bias_hh_l0",
                                        "weight_hr_l0", "weight_ih_l0_reverse"};
    for (int32_t i = 0; i < 6; ++i) {
        rnn_tensor_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        TU_OK(rnn_tensor_at(model, i, &info));
        assert_string_equal(info.name, order[i]);
    }
    int32_t count;
    TU_OK(rnn_tensor_count(model, &count));
    assert_int_equal(count, 2 * 2 * 5 + 2);
    expect_shape(model, "weight_ih_l0", 20, 3);
    expect_shape(model, "weight_hh_l0_reverse", 20, 2);
    expect_shape(model, "weight_hr_l1_reverse", 2, 5);
    expect_shape(model, "weight_ih_l1", 20, 4);
    expect_shape(model, "head.weight", 4, 4);
    size_t params;
    TU_OK(rnn_params(model, NULL, &params));
    const size_t per_layer = 20 * 2 + 2 * 20 + 2 * 5;
    assert_int_equal(params, 2 * (20 * 3 + per_layer) + 2 * (20 * 4 + per_layer) +
                                 4 * 4 + 4);
    rnn_destroy(model);

    /* without bias weight_hr follows weight_hh */
    cfg.bias = 0;
    cfg.output_size = 0;
    TU_OK(rnn_create(&model, &cfg));
    rnn_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    TU_OK(rnn_tensor_at(model, 2, &info));
    assert_string_equal(info.name, "weight_hr_l0");
    rnn_destroy(model);
}

/* A saved projected model loads back with its configuration and bits, and
 * runs the same forward. */
static void projected_model_round_trips_a_file(void **state)
{
    (void)state;
    lstm_case c;
    case_init(&c, &projected_deep, 8);
    TU_OK(case_forward(&c, 0));
    float *y = tu_copy(c.y, c.n_y), *c_n = tu_copy(c.c_n, c.n_c);
    size_t size;
    TU_OK(rnn_save_size(c.model, &size));
    unsigned char *bytes = malloc(size);
    TU_OK(rnn_save_buffer(c.model, bytes, size, NULL));
    rnn_t *loaded = NULL;
    TU_OK(rnn_load_buffer(&loaded, bytes, size));
    rnn_config cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, 1, 1));
    TU_OK(rnn_get_config(loaded, &cfg));
    assert_int_equal(cfg.proj_size, projected_deep.P);
    assert_int_equal(cfg.cell, RNN_CELL_LSTM);
    float *a, *b;
    size_t na, nb;
    TU_OK(rnn_params(c.model, &a, &na));
    TU_OK(rnn_params(loaded, &b, &nb));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(float));
    rnn_t *kept = c.model;
    c.model = loaded;
    TU_OK(case_forward(&c, 0));
    assert_memory_equal(c.y, y, c.n_y * sizeof(float));
    assert_memory_equal(c.c_n, c_n, c.n_c * sizeof(float));
    c.model = kept;
    rnn_destroy(loaded);
    free(bytes);
    free(y);
    free(c_n);
    case_free(&c);
}

/* Orthogonal init: each [H, P] gate block of weight_hh has orthonormal
 * columns, weight_hr [P, H] orthonormal rows (torch.nn.init.orthogonal_
 * on a non-square matrix). */
static void projected_orthogonal_init_per_block(void **state)
{
    (void)state;
    enum { H = 6, P = 3 };
    const spec s = {2, H, P, 1, 1, 1, 0, 1, 1, {0}, 0.0f};
    rnn_config cfg = lstm_config(&s);
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    TU_OK(rnn_init(model, RNN_INIT_ORTHOGONAL, 3));
    float *params;
    TU_OK(rnn_params(model, &params, NULL));
    rnn_tensor_info hh, hr;
    memset(&hh, 0, sizeof hh);
    hh.struct_size = sizeof hh;
    hr = hh;
    TU_OK(rnn_tensor_find(model, "weight_hh_l0", &hh));
    TU_OK(rnn_tensor_find(model, "weight_hr_l0", &hr));
    double worst = 0.0;
    for (int32_t gate = 0; gate < 4; ++gate) {
        const float *w = params + hh.offset + (size_t)gate * H * P;
        for (int32_t i = 0; i < P; ++i)
            for (int32_t j = 0; j < P; ++j) {
                double dot = 0.0;
                for (int32_t r = 0; r < H; ++r)
                    dot += (double)w[r * P + i] * w[r * P + j];
                worst = fmax(worst, fabs(dot - (i == j)));
            }
    }
    const float *w = params + hr.offset;
    for (int32_t i = 0; i < P; ++i)
        for (int32_t j = 0; j < P; ++j) {
            double dot = 0.0;
            for (int32_t k = 0; k < H; ++k)
                dot += (double)w[i * H + k] * w[j * H + k];
            worst = fmax(worst, fabs(dot - (i == j)));
        }
    assert_true(worst < 1e-5);
    rnn_destroy(model);
}

/* A state of another proj_size; a file of another proj_size; the
 * spectral radius of a gated cell. Nothing written. */
static void projected_refusals(void **state)
{
    (void)state;
    const spec plain = {3, 5, 0, 1, 1, 1, 0, 2, 2, {0}, 0.0f};
    const spec projected = {3, 5, 2, 1, 1, 1, 0, 2, 2, {0}, 0.0f};
    lstm_case a, b;
    case_init(&a, &plain, 1);
    case_init(&b, &projected, 1);
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, a.model, 2));
    float y_t[2 * 5];
    tu_sentinel_fill(y_t, 10);
    TU_FAILS(RNN_E_SHAPE, "rnn_step", rnn_step(b.model, st, b.x, y_t));
    assert_true(tu_sentinel_intact("y_t", y_t, 10));
    rnn_state_destroy(st);

    size_t size;
    TU_OK(rnn_save_size(a.model, &size));
    unsigned char *bytes = malloc(size);
    TU_OK(rnn_save_buffer(a.model, bytes, size, NULL));
    float *params;
    size_t count;
    TU_OK(rnn_params(b.model, &params, &count));
    float *before = tu_copy(params, count);
    TU_FAILS(RNN_E_FORMAT, "rnn_load_params_buffer",
             rnn_load_params_buffer(b.model, bytes, size));
    assert_memory_equal(params, before, count * sizeof(float));

    float radius[1] = {TU_SENTINEL};
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_spectral_radius",
             rnn_spectral_radius(b.model, radius));
    assert_true(tu_sentinel_intact("radius", radius, 1));
    free(before);
    free(bytes);
    case_free(&a);
    case_free(&b);
}

/* Rows [L*D, B, width] -> row b's [L*D, 1, width] (to_row), or back. */
static void move_row(float *batched, float *row, int32_t cells, int32_t batch,
                     int32_t b, int32_t width, bool to_row)
{
    for (int32_t k = 0; k < cells; ++k) {
        float *at = batched + ((size_t)k * batch + b) * width;
        float *one = row + (size_t)k * width;
        memcpy(to_row ? one : at, to_row ? at : one, (size_t)width * sizeof(float));
    }
}

/* The sequences of a batch are independent: a forward and backward of B
 * rows gives what B runs of one row give (outputs, states, dx, dh0, dc0;
 * the weight gradients summed). Large enough (T*B rows of a wide cell)
 * that a driver which cuts the batch into slices for threads does. */
static void projected_batch_rows_are_independent(void **state)
{
    (void)state;
    const spec s = {5, 64, 24, 2, 2, 1, 1, 40, 16, {0}, 0.0f};
    lstm_case all, one;
    case_init(&all, &s, 13);
    spec single = s;
    single.B = 1;
    case_init(&one, &single, 13);
    float *params, *params_one, *grads, *grads_one;
    size_t count;
    TU_OK(rnn_params(all.model, &params, &count));
    TU_OK(rnn_params(one.model, &params_one, NULL));
    memcpy(params_one, params, count * sizeof(float));
    TU_OK(rnn_grads(all.model, &grads, NULL));
    TU_OK(rnn_grads(one.model, &grads_one, NULL));

    float *dx = tu_floats(all.n_x), *dh0 = tu_floats(all.n_h);
    float *dc0 = tu_floats(all.n_c), *dx1 = tu_floats(one.n_x);
    float *dh01 = tu_floats(one.n_h), *dc01 = tu_floats(one.n_c);
    rnn_backward_args args;
    TU_OK(rnn_backward_args_init(&args, sizeof args));
    args.dy = all.w_y;
    args.dh_n = all.w_h;
    args.dc_n = all.w_c;
    args.dx = dx;
    args.dh0 = dh0;
    args.dc0 = dc0;
    TU_OK(rnn_zero_grad(all.model));
    TU_OK(case_forward(&all, 0));
    TU_OK(rnn_backward_ex(all.model, &args));
    args.dy = one.w_y;
    args.dh_n = one.w_h;
    args.dc_n = one.w_c;
    args.dx = dx1;
    args.dh0 = dh01;
    args.dc0 = dc01;
    TU_OK(rnn_zero_grad(one.model));
    const int32_t cells = s.L * s.D, hout = all.hout;
    const size_t x_row = (size_t)s.T * s.I, y_row = (size_t)s.T * s.D * hout;
    int good = 1;
    for (int32_t b = 0; b < s.B; ++b) {
        /* batch_first: row b of x, y, dy and dx is contiguous */
        memcpy(one.x, all.x + b * x_row, x_row * sizeof(float));
        memcpy(one.w_y, all.w_y + b * y_row, y_row * sizeof(float));
        move_row(all.h0, one.h0, cells, s.B, b, hout, true);
        move_row(all.c0, one.c0, cells, s.B, b, s.H, true);
        move_row(all.w_h, one.w_h, cells, s.B, b, hout, true);
        move_row(all.w_c, one.w_c, cells, s.B, b, s.H, true);
        TU_OK(case_forward(&one, 0));
        TU_OK(rnn_backward_ex(one.model, &args));
        float *row = tu_floats(one.n_c > one.n_h ? one.n_c : one.n_h);
        good &= tu_close_f("y", one.y, all.y + b * y_row, y_row, 1e-5);
        good &= tu_close_f("dx", dx1, dx + b * x_row, x_row, 1e-5);
        move_row(all.h_n, row, cells, s.B, b, hout, true);
        good &= tu_close_f("h_n", one.h_n, row, one.n_h, 1e-5);
        move_row(all.c_n, row, cells, s.B, b, s.H, true);
        good &= tu_close_f("c_n", one.c_n, row, one.n_c, 1e-5);
        move_row(dh0, row, cells, s.B, b, hout, true);
        good &= tu_close_f("dh0", dh01, row, one.n_h, 1e-5);
        move_row(dc0, row, cells, s.B, b, s.H, true);
        good &= tu_close_f("dc0", dc01, row, one.n_c, 1e-5);
        free(row);
    }
    good &= tu_close_f("summed grads", grads_one, grads, count, 1e-4);
    assert_true(good);
    float *arrays[] = {dx, dh0, dc0, dx1, dh01, dc01};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; ++i)
        free(arrays[i]);
    case_free(&all);
    case_free(&one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gradients_match_differences),
        cmocka_unit_test(cell_state_carries_between_calls),
        cmocka_unit_test(step_equals_forward),
        cmocka_unit_test(packed_step_equals_forward),
        cmocka_unit_test(steady_state_allocates_nothing),
        cmocka_unit_test(dc_n_alone_is_propagated),
        cmocka_unit_test(refusals),
        cmocka_unit_test(projected_gradients_match_differences),
        cmocka_unit_test(projected_gradients_with_dropout_match_differences),
        cmocka_unit_test(projected_inference_equals_training_over_chunks),
        cmocka_unit_test(projected_tensors_have_torch_shapes),
        cmocka_unit_test(projected_model_round_trips_a_file),
        cmocka_unit_test(projected_orthogonal_init_per_block),
        cmocka_unit_test(projected_refusals),
        cmocka_unit_test(projected_batch_rows_are_independent),
    };
    return tu_run("lstm_state", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
