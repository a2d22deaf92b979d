/* SPDX-License-Identifier: MIT
 *
 * test_check_finite.c - the NaN/Inf check mode (rnn_set_check_finite):
 * bad inputs and overflowing states are reported, nothing is written.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { I = 3, H = 4, T = 5, B = 2 };

static rnn_t *make_model(int32_t nonlinearity)
{
    rnn_config cfg = rnn_config_default(I, H);
    cfg.nonlinearity = nonlinearity;
    rnn_t *model = NULL;
    assert_int_equal(rnn_create(&model, &cfg), RNN_OK);
    assert_int_equal(rnn_set_check_finite(model, 1), RNN_OK);
    return model;
}

static void fill(float *a, size_t n, float value)
{
    for (size_t i = 0; i < n; ++i)
        a[i] = value;
}

static void forward_names_the_nonfinite_input(void **state)
{
    (void)state;
    rnn_t *model = make_model(RNN_TANH);
    float x[T * B * I], y[T * B * H], sentinel[T * B * H];
    fill(x, T * B * I, 0.5f);
    fill(y, T * B * H, 12345.0f);
    memcpy(sentinel, y, sizeof y);
    x[7] = NAN;
    assert_int_equal(rnn_forward(model, T, B, x, NULL, NULL, y, NULL),
                     RNN_E_NONFINITE);
    assert_non_null(strstr(rnn_last_error(), "x[7]"));
    assert_memory_equal(y, sentinel, sizeof y);
    x[7] = 0.5f;
    float h0[B * H];
    fill(h0, B * H, 0.0f);
    h0[3] = INFINITY;
    assert_int_equal(rnn_forward(model, T, B, x, NULL, h0, y, NULL),
                     RNN_E_NONFINITE);
    assert_non_null(strstr(rnn_last_error(), "h0[3] is Inf"));
    rnn_destroy(model);
}

static void forward_reports_overflowing_relu_states_and_leaves_no_pass(void **state)
{
    (void)state;
    rnn_t *model = make_model(RNN_RELU);
    float *params;
    size_t count;
    assert_int_equal(rnn_params(model, &params, &count), RNN_OK);
    fill(params, count, 1e30f); /* finite weights, states overflow */
    float x[T * B * I], y[T * B * H], sentinel[T * B * H];
    fill(x, T * B * I, 1.0f);
    fill(y, T * B * H, 12345.0f);
    memcpy(sentinel, y, sizeof y);
    assert_int_equal(rnn_forward(model, T, B, x, NULL, NULL, y, NULL),
                     RNN_E_NONFINITE);
    assert_non_null(strstr(rnn_last_error(), "layer 0"));
    assert_memory_equal(y, sentinel, sizeof y);
    assert_int_equal(rnn_backward(model, NULL, NULL, NULL, NULL), RNN_E_STATE);
    rnn_destroy(model);
}

static void backward_checks_incoming_gradients(void **state)
{
    (void)state;
    rnn_t *model = make_model(RNN_TANH);
    float x[T * B * I], dy[T * B * H], dx[T * B * I], sentinel[T * B * I];
    fill(x, T * B * I, 0.1f);
    fill(dy, T * B * H, 0.1f);
    fill(dx, T * B * I, 12345.0f);
    memcpy(sentinel, dx, sizeof dx);
    assert_int_equal(rnn_forward(model, T, B, x, NULL, NULL, NULL, NULL), RNN_OK);
    dy[11] = NAN;
    assert_int_equal(rnn_backward(model, dy, NULL, dx, NULL), RNN_E_NONFINITE);
    assert_non_null(strstr(rnn_last_error(), "dy[11] is NaN"));
    assert_memory_equal(dx, sentinel, sizeof dx);
    rnn_destroy(model);
}

/* A NaN in dh_n, then an Inf in dy: each is named, and neither dx nor the
 * gradients are written; once both are finite the pass runs. */
static void backward_names_nonfinite_dh_n_and_dy_and_writes_nothing(void **state)
{
    (void)state;
    rnn_t *model = make_model(RNN_TANH);
    float x[T * B * I] = {0}, dy[T * B * H] = {0}, dh_n[B * H] = {0};
    float dx[T * B * I];
    TU_OK(rnn_forward(model, T, B, x, NULL, NULL, NULL, NULL));
    dh_n[4] = NAN;
    tu_sentinel_fill(dx, T * B * I);
    float *grads;
    size_t n;
    TU_OK(rnn_grads(model, &grads, &n));
    float *before = tu_copy(grads, n);
    TU_FAILS(RNN_E_NONFINITE, "rnn_backward", rnn_backward(model, dy, dh_n, dx, NULL));
    assert_non_null(strstr(rnn_last_error(), "dh_n"));
    assert_true(tu_sentinel_intact("dx", dx, T * B * I));
    assert_memory_equal(before, grads, n * sizeof *grads);
    dh_n[4] = 0.0f;
    dy[0] = INFINITY;
    TU_FAILS(RNN_E_NONFINITE, "rnn_backward", rnn_backward(model, dy, dh_n, dx, NULL));
    assert_non_null(strstr(rnn_last_error(), "dy"));
    dy[0] = 0.0f;
    TU_OK(rnn_backward(model, dy, dh_n, dx, NULL));
    free(before);
    rnn_destroy(model);
}

static void step_keeps_the_state_when_it_would_overflow(void **state)
{
    (void)state;
    rnn_t *model = make_model(RNN_RELU);
    rnn_state_t *stream = NULL;
    assert_int_equal(rnn_state_create(&stream, model, 1), RNN_OK);
    float x[I] = {1.0f, 1.0f, 1.0f}, h_before[H], h_after[H];
    assert_int_equal(rnn_step(model, stream, x, NULL), RNN_OK);
    assert_int_equal(rnn_state_get(stream, h_before), RNN_OK);
    float *params;
    size_t count;
    assert_int_equal(rnn_params(model, &params, &count), RNN_OK);
    fill(params, count, 1e38f); /* finite weights, one step overflows */
    assert_int_equal(rnn_step(model, stream, x, NULL), RNN_E_NONFINITE);
    assert_int_equal(rnn_state_get(stream, h_after), RNN_OK);
    assert_memory_equal(h_before, h_after, sizeof h_before);
    x[1] = NAN;
    assert_int_equal(rnn_step(model, stream, x, NULL), RNN_E_NONFINITE);
    assert_non_null(strstr(rnn_last_error(), "x_t[1]"));
    rnn_state_destroy(stream);
    rnn_destroy(model);
}

static void check_mode_is_off_by_default_and_validated(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(I, H);
    rnn_t *model = NULL;
    assert_int_equal(rnn_create(&model, &cfg), RNN_OK);
    float x[T * B * I];
    fill(x, T * B * I, NAN);
    assert_int_equal(rnn_forward(model, T, B, x, NULL, NULL, NULL, NULL), RNN_OK);
    assert_int_equal(rnn_set_check_finite(model, 2), RNN_E_INVALID_ARG);
    assert_int_equal(rnn_set_check_finite(NULL, 1), RNN_E_INVALID_ARG);
    assert_non_null(strstr(rnn_last_error(), "rnn_set_check_finite"));
    rnn_destroy(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forward_names_the_nonfinite_input),
        cmocka_unit_test(forward_reports_overflowing_relu_states_and_leaves_no_pass),
        cmocka_unit_test(backward_checks_incoming_gradients),
        cmocka_unit_test(backward_names_nonfinite_dh_n_and_dy_and_writes_nothing),
        cmocka_unit_test(step_keeps_the_state_when_it_would_overflow),
        cmocka_unit_test(check_mode_is_off_by_default_and_validated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
