/* SPDX-License-Identifier: MIT
 *
 * test_tbptt.c - truncated backpropagation through time, as rnn.h documents
 * it: a sequence of T steps cut into chunks of k, each chunk run with
 *
 *   rnn_forward(model, k, B, x_c, NULL, h, y_c, h);   one array: h0 in, h_n out
 *   rnn_backward(model, dy_c, NULL, NULL, NULL);
 *
 * so that the hidden state is carried from chunk to chunk and the gradient
 * is not. By definition the gradients accumulated over the chunks are then
 * the sum of per-chunk gradients, each computed alone from h0 = the full
 * forward's state at the chunk's first step; the outputs equal the full
 * forward's; and k >= T is full BPTT. The loss is sum(y * w) for a fixed
 * random w, so dy = w.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two librnn runs of the same arithmetic, in another order at most. */
static const double SAME_TOL = 1e-6;
/* librnn outputs and gradients against the double reference. */
static const double REF_TOL = 1e-5;

enum { T = 12, B = 3, I = 3, H = 5, L = 2 };

typedef struct stream {
    ref_model m;
    rnn_t *model;
    float *params;
    size_t n_params, n_x, n_y, n_h;
    float *x, *h0, *w; /* w: dL/dy, [T, B, H] */
} stream;

static void stream_init(stream *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->m = (ref_model){ I, H, L, 1, RNN_TANH, 1, 0, 0, RNN_HEAD_LAST };
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = L;
    TU_OK(rnn_create(&s->model, &cfg));
    TU_OK(rnn_params(s->model, &s->params, &s->n_params));
    assert_int_equal(s->n_params, ref_param_count(&s->m));
    s->n_x = ref_x_count(&s->m, T, B);
    s->n_y = ref_y_count(&s->m, T, B);
    s->n_h = ref_h_count(&s->m, B);
    tu_rng rng = tu_rng_make(seed);
    tu_fill(&rng, s->params, s->n_params, -0.6, 0.6);
    s->x = tu_floats(s->n_x);
    s->h0 = tu_floats(s->n_h);
    s->w = tu_floats(s->n_y);
    tu_fill(&rng, s->x, s->n_x, -1.0, 1.0);
    tu_fill(&rng, s->h0, s->n_h, -0.8, 0.8);
    tu_fill(&rng, s->w, s->n_y, -1.0, 1.0);
}

static void stream_free(stream *s)
{
    rnn_destroy(s->model);
    free(s->x);
    free(s->h0);
    free(s->w);
    memset(s, 0, sizeof *s);
}

static float *grads_copy(stream *s)
{
    float *grads = NULL;
    TU_OK(rnn_grads(s->model, &grads, NULL));
    return tu_copy(grads, s->n_params);
}

/* Full BPTT: one forward over T steps (h0 and h_n separate arrays), one
 * backward. Writes y and h_n; returns the gradients. */
static float *full_bptt(stream *s, float *y, float *h_n)
{
    TU_OK(rnn_zero_grad(s->model));
    TU_OK(rnn_forward(s->model, T, B, s->x, NULL, s->h0, y, h_n));
    TU_OK(rnn_backward(s->model, s->w, NULL, NULL, NULL));
    return grads_copy(s);
}

/* The header's loop with chunks of k steps (the last one shorter when k
 * does not divide T), gradients accumulated over all chunks. Writes the
 * chunks' y and the last state; returns the gradients. */
static float *truncated_bptt(stream *s, int32_t k, float *y, float *h)
{
    const size_t step_x = (size_t)B * I, step_y = (size_t)B * H;
    memcpy(h, s->h0, s->n_h * sizeof *h);
    TU_OK(rnn_zero_grad(s->model));
    for (int32_t t0 = 0; t0 < T; t0 += k) {
        int32_t len = T - t0 < k ? T - t0 : k;
        TU_OK(rnn_forward(s->model, len, B, s->x + t0 * step_x, NULL, h,
                          y + t0 * step_y, h));
        TU_OK(rnn_backward(s->model, s->w + t0 * step_y, NULL, NULL, NULL));
    }
    return grads_copy(s);
}

/* ------------------------------------------------------------------------
 * The reference, chunk by chunk
 * ---------------------------------------------------------------------- */

/* The double reference's state after the first t0 steps (h0 when t0 = 0),
 * malloc'd. */
static double *reference_state_at(const stream *s, const double *params, int32_t t0)
{
    double *h0 = tu_to_double(s->h0, s->n_h);
    if (t0 == 0)
        return h0;
    double *x = tu_to_double(s->x, ref_x_count(&s->m, t0, B));
    ref_batch in = { t0, B, x, NULL, h0 };
    ref_result r;
    assert_int_equal(ref_run(&s->m, params, &in, NULL, &r), 0);
    double *h = r.h_n;
    r.h_n = NULL;
    ref_result_free(&r);
    free(x);
    free(h0);
    return h;
}

/* Sum over the chunks of the gradient of sum(y_c * w_c) w.r.t. the
 * parameters, each chunk run alone from the full forward's state at its
 * first step: the definition of truncated BPTT. */
static double *reference_chunk_gradient_sum(const stream *s, int32_t k)
{
    double *params = tu_to_double(s->params, s->n_params);
    double *sum = calloc(s->n_params, sizeof *sum);
    assert_non_null(sum);
    for (int32_t t0 = 0; t0 < T; t0 += k) {
        int32_t len = T - t0 < k ? T - t0 : k;
        double *h = reference_state_at(s, params, t0);
        double *x = tu_to_double(s->x + (size_t)t0 * B * I, ref_x_count(&s->m, len, B));
        double *dy = tu_to_double(s->w + (size_t)t0 * B * H, ref_y_count(&s->m, len, B));
        ref_batch in = { len, B, x, NULL, h };
        ref_cotangents cot = { dy, NULL, NULL };
        ref_result r;
        assert_int_equal(ref_run(&s->m, params, &in, &cot, &r), 0);
        for (size_t i = 0; i < s->n_params; i++)
            sum[i] += r.dparams[i];
        ref_result_free(&r);
        free(h);
        free(x);
        free(dy);
    }
    free(params);
    return sum;
}

/* The same definition with librnn: each chunk on a model of its own, h0
 * taken from librnn's full forward over the steps before it. */
static float *librnn_chunk_gradient_sum(stream *s, int32_t k)
{
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = L;
    rnn_t *alone = NULL;
    TU_OK(rnn_create(&alone, &cfg));
    float *params = NULL, *grads = NULL;
    TU_OK(rnn_params(alone, &params, NULL));
    memcpy(params, s->params, s->n_params * sizeof *params);
    float *h = tu_floats(s->n_h);
    float *sum = tu_floats(s->n_params);
    for (int32_t t0 = 0; t0 < T; t0 += k) {
        int32_t len = T - t0 < k ? T - t0 : k;
        if (t0 == 0)
            memcpy(h, s->h0, s->n_h * sizeof *h);
        else
            TU_OK(rnn_forward(alone, t0, B, s->x, NULL, s->h0, NULL, h));
        TU_OK(rnn_zero_grad(alone));
        TU_OK(rnn_forward(alone, len, B, s->x + (size_t)t0 * B * I, NULL, h, NULL, NULL));
        TU_OK(rnn_backward(alone, s->w + (size_t)t0 * B * H, NULL, NULL, NULL));
        TU_OK(rnn_grads(alone, &grads, NULL));
        for (size_t i = 0; i < s->n_params; i++)
            sum[i] += grads[i];
    }
    free(h);
    rnn_destroy(alone);
    return sum;
}

/* The largest |a - b| over the recurrent weight tensors. */
static double w_hh_difference(const stream *s, const float *a, const float *b)
{
    double worst = 0.0;
    for (int32_t i = 0; i < ref_tensor_count(&s->m); i++) {
        ref_tensor t = ref_tensor_at(&s->m, i);
        if (strncmp(t.name, "weight_hh", 9) != 0)
            continue;
        for (size_t j = t.offset; j < t.offset + t.count; j++)
            worst = fmax(worst, fabs((double)a[j] - b[j]));
    }
    return worst;
}

/* ------------------------------------------------------------------------
 * Tests
 * ---------------------------------------------------------------------- */

/* rnn_forward reads h0 before writing h_n: one array for both gives the
 * outputs, the new state and (after backward) the gradients of two arrays. */
static void one_array_as_h0_and_h_n_gives_the_results_of_two(void **state)
{
    (void)state;
    stream s;
    stream_init(&s, 1);
    float *y_two = tu_floats(s.n_y), *h_n = tu_floats(s.n_h);
    float *y_one = tu_floats(s.n_y), *h = tu_copy(s.h0, s.n_h);
    float *dh0_two = tu_floats(s.n_h), *dh0_one = tu_floats(s.n_h);

    TU_OK(rnn_zero_grad(s.model));
    TU_OK(rnn_forward(s.model, T, B, s.x, NULL, s.h0, y_two, h_n));
    TU_OK(rnn_backward(s.model, s.w, NULL, NULL, dh0_two));
    float *grads_two = grads_copy(&s);
    TU_OK(rnn_zero_grad(s.model));
    TU_OK(rnn_forward(s.model, T, B, s.x, NULL, h, y_one, h));
    TU_OK(rnn_backward(s.model, s.w, NULL, NULL, dh0_one));
    float *grads_one = grads_copy(&s);

    int ok = tu_close_f("y", y_one, y_two, s.n_y, SAME_TOL);
    ok &= tu_close_f("h_n", h, h_n, s.n_h, SAME_TOL);
    ok &= tu_close_f("dh0", dh0_one, dh0_two, s.n_h, SAME_TOL);
    ok &= tu_close_f("grads", grads_one, grads_two, s.n_params, SAME_TOL);
    free(y_two);
    free(h_n);
    free(y_one);
    free(h);
    free(dh0_two);
    free(dh0_one);
    free(grads_two);
    free(grads_one);
    stream_free(&s);
    assert_true(ok);
}

/* k >= T: the loop runs one chunk of T steps, which is full BPTT. */
static void one_chunk_of_the_whole_sequence_equals_full_bptt(void **state)
{
    (void)state;
    stream s;
    stream_init(&s, 2);
    float *y_full = tu_floats(s.n_y), *h_full = tu_floats(s.n_h);
    float *y = tu_floats(s.n_y), *h = tu_floats(s.n_h);
    float *full = full_bptt(&s, y_full, h_full);
    int ok = 1;
    static const int32_t ks[] = { T, 2 * T };
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        float *tbptt = truncated_bptt(&s, ks[i], y, h);
        ok &= tu_close_f("y", y, y_full, s.n_y, SAME_TOL);
        ok &= tu_close_f("h", h, h_full, s.n_h, SAME_TOL);
        ok &= tu_close_f("grads", tbptt, full, s.n_params, SAME_TOL);
        free(tbptt);
    }
    free(full);
    free(y_full);
    free(h_full);
    free(y);
    free(h);
    stream_free(&s);
    assert_true(ok);
}

/* The carried state makes the chunks' outputs those of the full forward
 * (and of the double reference). */
static void chunked_forward_equals_full_forward(int32_t k)
{
    stream s;
    stream_init(&s, 3);
    float *y_full = tu_floats(s.n_y), *h_full = tu_floats(s.n_h);
    float *y = tu_floats(s.n_y), *h = tu_floats(s.n_h);
    free(full_bptt(&s, y_full, h_full));
    free(truncated_bptt(&s, k, y, h));
    int ok = tu_close_f("y of the chunks", y, y_full, s.n_y, REF_TOL);
    ok &= tu_close_f("h after the last chunk", h, h_full, s.n_h, REF_TOL);

    double *params = tu_to_double(s.params, s.n_params);
    double *x = tu_to_double(s.x, s.n_x), *h0 = tu_to_double(s.h0, s.n_h);
    ref_batch in = { T, B, x, NULL, h0 };
    ref_result r;
    assert_int_equal(ref_run(&s.m, params, &in, NULL, &r), 0);
    ok &= tu_close("y of the chunks vs reference", y, r.y, s.n_y, REF_TOL);
    ok &= tu_close("h vs reference", h, r.h_n, s.n_h, REF_TOL);
    ref_result_free(&r);
    free(params);
    free(x);
    free(h0);
    free(y_full);
    free(h_full);
    free(y);
    free(h);
    stream_free(&s);
    assert_true(ok);
}

static void chunked_forward_equals_full_forward_when_k_divides_t(void **state)
{
    (void)state;
    chunked_forward_equals_full_forward(4);
}

static void chunked_forward_equals_full_forward_with_a_shorter_last_chunk(void **state)
{
    (void)state;
    chunked_forward_equals_full_forward(5);
}

/* The accumulated gradients are the per-chunk sum (reference and librnn),
 * and they are not full BPTT's: the gradient paths across the chunk
 * boundaries are cut. */
static void chunked_gradients_equal_sum_of_independent_chunks(int32_t k)
{
    stream s;
    stream_init(&s, 4);
    float *y = tu_floats(s.n_y), *h = tu_floats(s.n_h);
    float *full = full_bptt(&s, y, h);
    float *tbptt = truncated_bptt(&s, k, y, h);
    double *want = reference_chunk_gradient_sum(&s, k);
    float *alone = librnn_chunk_gradient_sum(&s, k);

    char what[64];
    snprintf(what, sizeof what, "k=%d grads vs reference chunks", k);
    int ok = 1;
    for (int32_t i = 0; i < ref_tensor_count(&s.m); i++) {
        ref_tensor t = ref_tensor_at(&s.m, i);
        char name[96];
        snprintf(name, sizeof name, "%s %s", what, t.name);
        ok &= tu_close(name, tbptt + t.offset, want + t.offset, t.count, REF_TOL);
    }
    ok &= tu_close_f("grads vs librnn chunks run alone", tbptt, alone, s.n_params,
                     SAME_TOL);
    double cut = w_hh_difference(&s, tbptt, full);
    if (!(cut > 1e-3)) {
        print_error("k=%d: W_hh gradients within %.3g of full BPTT\n", k, cut);
        ok = 0;
    }
    free(y);
    free(h);
    free(full);
    free(tbptt);
    free(want);
    free(alone);
    stream_free(&s);
    assert_true(ok);
}

static void chunked_gradients_equal_sum_of_independent_chunks_when_k_divides_t(void **state)
{
    (void)state;
    chunked_gradients_equal_sum_of_independent_chunks(4);
}

static void chunked_gradients_equal_sum_of_independent_chunks_with_a_shorter_last_chunk(
    void **state)
{
    (void)state;
    chunked_gradients_equal_sum_of_independent_chunks(5);
}

static void chunks_of_one_step_equal_sum_of_independent_steps(void **state)
{
    (void)state;
    chunked_gradients_equal_sum_of_independent_chunks(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_array_as_h0_and_h_n_gives_the_results_of_two),
        cmocka_unit_test(one_chunk_of_the_whole_sequence_equals_full_bptt),
        cmocka_unit_test(chunked_forward_equals_full_forward_when_k_divides_t),
        cmocka_unit_test(chunked_forward_equals_full_forward_with_a_shorter_last_chunk),
        cmocka_unit_test(chunked_gradients_equal_sum_of_independent_chunks_when_k_divides_t),
        cmocka_unit_test(
            chunked_gradients_equal_sum_of_independent_chunks_with_a_shorter_last_chunk),
        cmocka_unit_test(chunks_of_one_step_equal_sum_of_independent_steps),
    };
    return cmocka_run_group_tests_name("test_tbptt", tests, NULL, NULL);
}
