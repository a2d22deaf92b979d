/* SPDX-License-Identifier: MIT
 *
 * test_gru_cell.c - the GRU cell (cfg.cell = RNN_CELL_GRU) through the
 * public API:
 *  - one layer's outputs against torch.nn.GRU's equations written out in
 *    double here (gate order r, z, n; b_hn inside r * (...));
 *  - every parameter gradient, dx and dh0 against central differences of
 *    librnn's own forward (one layer; two layers bidirectional with lengths
 *    and h0; no bias, batch_first);
 *  - rnn_step against rnn_forward, with and without packed weights;
 *  - rnn_forward_inference against rnn_forward, bit for bit (several
 *    chunks, lengths, bidirectional, the head);
 *  - the settings a GRU refuses.
 * (The double reference and the torch parity tables are tests/test_gru.c
 * and python/tests/test_torch_cells.py.)
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct gru_shape {
    int32_t I, H, L, bidirectional, bias, batch_first, T, B;
    bool lengths, h0;
    int32_t head; /* output_size of a RNN_HEAD_ALL head, 0 for none */
} gru_shape;

static rnn_t *gru_model(const gru_shape *s, uint64_t seed)
{
    rnn_config cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, s->I, s->H));
    cfg.cell = RNN_CELL_GRU;
    cfg.num_layers = s->L;
    cfg.bidirectional = s->bidirectional;
    cfg.bias = s->bias;
    cfg.batch_first = s->batch_first;
    cfg.output_size = s->head;
    cfg.head_mode = RNN_HEAD_ALL;
    cfg.seed = seed;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    return model;
}

/* A model and its inputs, and the weights of the loss
 * sum(y * w_y) + sum(h_n * w_n). */
typedef struct problem {
    gru_shape s;
    rnn_t *model;
    int32_t lengths[64]; /* B <= 64 */
    float *x, *h0, *y, *h_n, *w_y, *w_n;
    size_t x_n, y_n, h_n_n;
} problem;

static void problem_init(problem *p, const gru_shape *s, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->s = *s;
    assert_true(s->B <= 64);
    p->model = gru_model(s, seed);
    const int32_t dirs = s->bidirectional ? 2 : 1;
    p->x_n = (size_t)s->T * s->B * s->I;
    p->y_n = (size_t)s->T * s->B * dirs * s->H;
    p->h_n_n = (size_t)s->L * dirs * s->B * s->H;
    p->x = tu_floats(p->x_n);
    p->h0 = s->h0 ? tu_floats(p->h_n_n) : NULL;
    p->y = tu_floats(p->y_n);
    p->h_n = tu_floats(p->h_n_n);
    p->w_y = tu_floats(p->y_n);
    p->w_n = tu_floats(p->h_n_n);
    tu_rng rng = tu_rng_make(seed + 100);
    tu_fill(&rng, p->x, p->x_n, -1.0, 1.0);
    if (p->h0 != NULL)
        tu_fill(&rng, p->h0, p->h_n_n, -0.8, 0.8);
    tu_fill(&rng, p->w_y, p->y_n, -1.0, 1.0);
    tu_fill(&rng, p->w_n, p->h_n_n, -1.0, 1.0);
    for (int32_t b = 0; b < s->B; ++b) /* the first row keeps all T steps */
        p->lengths[b] = b == 0 || !s->lengths ? s->T : 1 + (b * 3) % s->T;
}

static void problem_free(problem *p)
{
    free(p->x);
    free(p->h0);
    free(p->y);
    free(p->h_n);
    free(p->w_y);
    free(p->w_n);
    rnn_destroy(p->model);
}

static const int32_t *problem_lengths(const problem *p)
{
    return p->s.lengths ? p->lengths : NULL;
}

static double loss(void *ctx)
{
    problem *p = ctx;
    TU_OK(rnn_forward(p->model, p->s.T, p->s.B, p->x, problem_lengths(p), p->h0,
                      p->y, p->h_n));
    double sum = 0.0;
    for (size_t i = 0; i < p->y_n; ++i)
        sum += (double)p->y[i] * p->w_y[i];
    for (size_t i = 0; i < p->h_n_n; ++i)
        sum += (double)p->h_n[i] * p->w_n[i];
    return sum;
}

static void gradients_match_differences_on(const gru_shape *s, uint64_t seed)
{
    problem p;
    problem_init(&p, s, seed);
    float *params, *grads;
    size_t count;
    TU_OK(rnn_params(p.model, &params, &count));
    TU_OK(rnn_grads(p.model, &grads, NULL));
    float *dx = tu_floats(p.x_n), *dh0 = tu_floats(p.h_n_n);
    TU_OK(rnn_zero_grad(p.model));
    loss(&p);
    TU_OK(rnn_backward(p.model, p.w_y, p.w_n, dx, dh0));
    float *dparams = tu_copy(grads, count);
    /* Gradients that are identically 0 would pass any check: the loss must
     * depend on every parameter. */
    assert_true(tu_count_equal(dparams, count, 0.0f) < count / 20 + 1);

    assert_true(tu_differences_match(loss, &p, params,
                                     dparams, count, "dparams"));
    assert_true(tu_differences_match(loss, &p, p.x, dx, p.x_n, "dx"));
    if (p.h0 != NULL)
        assert_true(tu_differences_match(loss, &p, p.h0, dh0, p.h_n_n, "dh0"));
    free(dparams);
    free(dx);
    free(dh0);
    problem_free(&p);
}

static void gradients_one_layer(void **state)
{
    (void)state;
    const gru_shape s = {.I = 3, .H = 4, .L = 1, .bias = 1, .T = 5, .B = 3,
                         .h0 = true};
    gradients_match_differences_on(&s, 1);
}

static void gradients_two_layers_bidirectional_lengths(void **state)
{
    (void)state;
    const gru_shape s = {.I = 3, .H = 4, .L = 2, .bidirectional = 1, .bias = 1,
                         .T = 5, .B = 3, .lengths = true, .h0 = true};
    gradients_match_differences_on(&s, 2);
}

static void gradients_no_bias_batch_first(void **state)
{
    (void)state;
    const gru_shape s = {.I = 2, .H = 3, .L = 2, .batch_first = 1, .T = 4,
                         .B = 2, .lengths = true, .h0 = true};
    gradients_match_differences_on(&s, 3);
}

/* ---- torch.nn.GRU's equations, written out ----------------------------- */

static double sigmoid(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

static const float *tensor(rnn_t *model, const char *name, int32_t rows,
                           int32_t cols)
{
    rnn_tensor_info info = {.struct_size = sizeof info};
    float *params;
    TU_OK(rnn_tensor_find(model, name, &info));
    assert_int_equal(info.shape[0], rows);
    assert_int_equal(info.ndim == 2 ? info.shape[1] : 1, cols);
    TU_OK(rnn_params(model, &params, NULL));
    return params + info.offset;
}

/* w[row, :] . v, in double. */
static double dot(const float *w, int32_t row, int32_t cols, const double *v)
{
    double sum = 0.0;
    for (int32_t k = 0; k < cols; ++k)
        sum += (double)w[(size_t)row * cols + k] * v[k];
    return sum;
}

static void outputs_follow_torch_equations(void **state)
{
    (void)state;
    enum { I = 3, H = 5, T = 4, B = 2 };
    const gru_shape s = {.I = I, .H = H, .L = 1, .bias = 1, .T = T, .B = B,
                         .h0 = true};
    problem p;
    problem_init(&p, &s, 11);
    loss(&p);
    const float *w_ih = tensor(p.model, "weight_ih_l0", 3 * H, I);
    const float *w_hh = tensor(p.model, "weight_hh_l0", 3 * H, H);
    const float *b_ih = tensor(p.model, "bias_ih_l0", 3 * H, 1);
    const float *b_hh = tensor(p.model, "bias_hh_l0", 3 * H, 1);
    for (int32_t b = 0; b < B; ++b) {
        double h[H], x[I], next[H];
        for (int32_t j = 0; j < H; ++j)
            h[j] = p.h0[(size_t)b * H + j];
        for (int32_t t = 0; t < T; ++t) {
            for (int32_t k = 0; k < I; ++k)
                x[k] = p.x[((size_t)t * B + b) * I + k];
            for (int32_t j = 0; j < H; ++j) {
                const int32_t jr = j, jz = H + j, jn = 2 * H + j;
                const double r = sigmoid(dot(w_ih, jr, I, x) + b_ih[jr] +
                                         dot(w_hh, jr, H, h) + b_hh[jr]);
                const double z = sigmoid(dot(w_ih, jz, I, x) + b_ih[jz] +
                                         dot(w_hh, jz, H, h) + b_hh[jz]);
                const double n = tanh(dot(w_ih, jn, I, x) + b_ih[jn] +
                                      r * (dot(w_hh, jn, H, h) + b_hh[jn]));
                next[j] = (1.0 - z) * n + z * h[j];
            }
            memcpy(h, next, sizeof h);
            assert_true(tu_close("y", p.y + ((size_t)t * B + b) * H, h, H, 1e-5));
        }
        assert_true(tu_close("h_n", p.h_n + (size_t)b * H, h, H, 1e-5));
    }
    problem_free(&p);
}

/* ---- rnn_step, rnn_forward_inference ------------------------------------ */

/* The steps of the problem's sequence, one call each from h0, give
 * rnn_forward's y and h_n. */
static void steps_match(problem *p)
{
    const gru_shape *s = &p->s;
    const size_t bh = (size_t)s->B * s->H;
    rnn_state_t *stream = NULL;
    float *y_t = tu_floats(bh), *h = tu_floats(p->h_n_n);
    TU_OK(rnn_state_create(&stream, p->model, s->B));
    TU_OK(rnn_state_set(stream, p->h0));
    for (int32_t t = 0; t < s->T; ++t) {
        TU_OK(rnn_step(p->model, stream, p->x + (size_t)t * s->B * s->I, y_t));
        assert_true(tu_close_f("y_t", y_t, p->y + (size_t)t * bh, bh, 1e-5));
    }
    TU_OK(rnn_state_get(stream, h));
    assert_true(tu_close_f("h", h, p->h_n, p->h_n_n, 1e-5));
    free(y_t);
    free(h);
    rnn_state_destroy(stream);
}

static void step_matches_forward(void **state)
{
    (void)state;
    const gru_shape s = {.I = 3, .H = 6, .L = 2, .bias = 1, .T = 7, .B = 3,
                         .h0 = true};
    problem p;
    problem_init(&p, &s, 21);
    loss(&p);
    steps_match(&p);
    TU_OK(rnn_pack_weights(p.model));
    steps_match(&p);
    rnn_unpack_weights(p.model);
    problem_free(&p);
}

static void step_without_bias_matches_forward(void **state)
{
    (void)state;
    const gru_shape s = {.I = 2, .H = 5, .L = 3, .T = 4, .B = 1, .h0 = true};
    problem p;
    problem_init(&p, &s, 22);
    loss(&p);
    steps_match(&p);
    TU_OK(rnn_pack_weights(p.model));
    steps_match(&p);
    problem_free(&p);
}

/* rnn_forward_inference's y, h_n and logits are rnn_forward's, bit for
 * bit. With B = 64 a chunk is 64 steps: T = 150 makes three. */
static void inference_equals_forward_on(const gru_shape *s)
{
    problem p;
    problem_init(&p, s, 31);
    rnn_t *model = p.model;
    const int32_t head = s->head;

    const size_t logits_n = (size_t)s->T * s->B * (size_t)head;
    float *logits = head ? tu_floats(logits_n) : NULL;
    loss(&p);
    if (head)
        TU_OK(rnn_head_forward(model, logits));
    float *y = tu_copy(p.y, p.y_n), *h_n = tu_copy(p.h_n, p.h_n_n);
    float *logits_inf = head ? tu_floats(logits_n) : NULL;
    tu_sentinel_fill(p.y, p.y_n);
    tu_sentinel_fill(p.h_n, p.h_n_n);
    TU_OK(rnn_forward_inference(model, s->T, s->B, p.x, problem_lengths(&p),
                                p.h0, p.y, p.h_n, logits_inf));
    assert_memory_equal(y, p.y, p.y_n * sizeof(float));
    assert_memory_equal(h_n, p.h_n, p.h_n_n * sizeof(float));
    if (head)
        assert_memory_equal(logits, logits_inf, logits_n * sizeof(float));
    free(y);
    free(h_n);
    free(logits);
    free(logits_inf);
    problem_free(&p);
}

static void inference_equals_forward(void **state)
{
    (void)state;
    const gru_shape chunked = {.I = 4, .H = 8, .L = 2, .bias = 1, .T = 150,
                               .B = 64, .lengths = true, .h0 = true,
                               .head = 3};
    inference_equals_forward_on(&chunked);
    const gru_shape bidirectional = {.I = 3, .H = 5, .L = 2, .bidirectional = 1,
                                     .bias = 1, .batch_first = 1, .T = 9,
                                     .B = 4, .lengths = true, .h0 = true};
    inference_equals_forward_on(&bidirectional);
}

/* ---- what a GRU refuses -------------------------------------------------- */

static void refused_settings(void **state)
{
    (void)state;
    rnn_config cfg;
    rnn_t *model = (rnn_t *)&cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, 2, 4));
    cfg.cell = RNN_CELL_GRU;
    cfg.nonlinearity = RNN_RELU;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&model, &cfg));
    assert_null(model);
    cfg.nonlinearity = RNN_TANH;
    cfg.proj_size = 2;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&model, &cfg));
    cfg.proj_size = 0;
    TU_OK(rnn_create(&model, &cfg));

    float x[2 * 2], c[1 * 2 * 4], y[2 * 4];
    memset(x, 0, sizeof x);
    rnn_forward_args fa;
    TU_OK(rnn_forward_args_init(&fa, sizeof fa));
    fa.seq_len = 1;
    fa.batch = 2;
    fa.x = x;
    fa.c0 = c;
    fa.y = y;
    tu_sentinel_fill(y, 8);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_ex", rnn_forward_ex(model, &fa));
    assert_true(tu_sentinel_intact("y", y, 8));

    rnn_state_t *stream = NULL;
    TU_OK(rnn_state_create(&stream, model, 2));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_get_cell",
             rnn_state_get_cell(stream, c));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_set_cell",
             rnn_state_set_cell(stream, c));
    rnn_state_destroy(stream);
    rnn_destroy(model);
}

/* Tensor names and shapes are torch's: 3H rows in gate order r, z, n. */
static void tensors_have_torch_shapes(void **state)
{
    (void)state;
    const gru_shape s = {.I = 3, .H = 4, .L = 2, .bidirectional = 1, .bias = 1,
                         .T = 1, .B = 1};
    rnn_t *model = gru_model(&s, 1);
    int32_t count = 0;
    TU_OK(rnn_tensor_count(model, &count));
    assert_int_equal(count, 16);
    tensor(model, "weight_ih_l0", 12, 3);
    tensor(model, "weight_hh_l0_reverse", 12, 4);
    tensor(model, "weight_ih_l1", 12, 8);
    tensor(model, "bias_hh_l1_reverse", 12, 1);
    size_t n = 0;
    TU_OK(rnn_params(model, NULL, &n));
    assert_int_equal(n, 2 * (12 * 3 + 12 * 4 + 24) + 2 * (12 * 8 + 12 * 4 + 24));
    rnn_destroy(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outputs_follow_torch_equations),
        cmocka_unit_test(gradients_one_layer),
        cmocka_unit_test(gradients_two_layers_bidirectional_lengths),
        cmocka_unit_test(gradients_no_bias_batch_first),
        cmocka_unit_test(step_matches_forward),
        cmocka_unit_test(step_without_bias_matches_forward),
        cmocka_unit_test(inference_equals_forward),
        cmocka_unit_test(refused_settings),
        cmocka_unit_test(tensors_have_torch_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
