/* SPDX-License-Identifier: MIT
 *
 * test_internal_kernels.c - the fused element-wise passes of src/kernels.c:
 * the vectorised tanh against double precision, NaN/Inf handling, bias and
 * relu, the activation derivative.
 */
#include "testutil.h"
#include "internal.h"

#include <math.h>
#include <string.h>

/* Distance in float ulps between a float result and the exact value. */
static double ulps(float got, double exact)
{
    const float rounded = (float)exact;
    const double ulp = (double)nextafterf(fabsf(rounded), INFINITY) - fabsf(rounded);
    return fabs((double)got - exact) / ulp;
}

/* tanh of every stride-th float in [lo, hi] (both signs), in batches as the
 * forward pass calls it: the worst error in ulps, and where. */
static double tanh_worst_ulps(float lo, float hi, uint32_t stride, float *worst_at)
{
    enum { BATCH = 4096 };
    static float values[BATCH], negated[BATCH];
    double worst = 0.0;
    uint32_t bits;
    memcpy(&bits, &lo, sizeof bits);
    for (bool done = false; !done;) {
        size_t n = 0;
        for (; n < BATCH; ++n, bits += stride) {
            float x;
            memcpy(&x, &bits, sizeof x);
            if (x > hi) {
                done = true;
                break;
            }
            values[n] = x;
            negated[n] = -x;
        }
        float inputs[BATCH];
        memcpy(inputs, values, n * sizeof(float));
        rnn__act(values, n, RNN_TANH);
        rnn__act(negated, n, RNN_TANH);
        for (size_t i = 0; i < n; ++i) {
            double err = ulps(values[i], tanh((double)inputs[i]));
            if (err > worst) {
                worst = err;
                *worst_at = inputs[i];
            }
            if (negated[i] != -values[i])
                fail_msg("tanh(-x) != -tanh(x) at x = %a", (double)inputs[i]);
        }
    }
    return worst;
}

/* Every 61st float in [0, 12] (about 18 million values), and every float
 * in [0.875, 1.0625]: the worst errors (1.157 ulp at 0x1.e1d524p-1, from an
 * exhaustive check) sit there, around the switch between the two formulas
 * at 0.98. */
static void tanh_is_within_one_and_a_half_ulps_of_exact(void **state)
{
    (void)state;
    float at = 0.0f;
    double worst = tanh_worst_ulps(0.0f, 12.0f, 61, &at);
    if (worst > 1.5)
        fail_msg("tanh error %.3f ulp at x = %a", worst, (double)at);
    worst = tanh_worst_ulps(0.875f, 1.0625f, 1, &at);
    if (worst > 1.5)
        fail_msg("tanh error %.3f ulp at x = %a", worst, (double)at);
}

static void tanh_keeps_nan_and_saturates_at_infinity(void **state)
{
    (void)state;
    float h[6] = {NAN, INFINITY, -INFINITY, 50.0f, -1e30f, 0.0f};
    rnn__act(h, 6, RNN_TANH);
    assert_true(isnan(h[0]));
    assert_true(h[1] == 1.0f && h[2] == -1.0f && h[3] == 1.0f && h[4] == -1.0f);
    assert_true(h[5] == 0.0f && !signbit(h[5]));
}

static void relu_adds_both_biases_and_keeps_nan(void **state)
{
    (void)state;
    float h[2 * 3] = {1.0f, -1.0f, NAN, -3.0f, 0.25f, INFINITY};
    const float b_ih[3] = {0.5f, 0.25f, 1.0f}, b_hh[3] = {0.25f, 0.5f, 1.0f};
    rnn__add_bias(h, 2, 3, b_ih, b_hh);
    rnn__act(h, 2 * 3, RNN_RELU);
    assert_true(h[0] == 1.75f && h[1] == 0.0f && isnan(h[2]));
    assert_true(h[3] == 0.0f && h[4] == 1.0f && isinf(h[5]));
}

static void activation_derivative_comes_from_the_output(void **state)
{
    (void)state;
    const float h_tanh[3] = {0.5f, -0.25f, 0.0f}, h_relu[3] = {2.0f, 0.0f, 0.5f};
    float grad[3] = {2.0f, 4.0f, 1.0f};
    rnn__mul_act_grad(grad, h_tanh, 3, RNN_TANH);
    assert_true(grad[0] == 1.5f && grad[1] == 3.75f && grad[2] == 1.0f);
    float grad_relu[3] = {2.0f, 4.0f, 1.0f};
    rnn__mul_act_grad(grad_relu, h_relu, 3, RNN_RELU);
    assert_true(grad_relu[0] == 2.0f && grad_relu[1] == 0.0f && grad_relu[2] == 1.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tanh_is_within_one_and_a_half_ulps_of_exact),
        cmocka_unit_test(tanh_keeps_nan_and_saturates_at_infinity),
        cmocka_unit_test(relu_adds_both_biases_and_keeps_nan),
        cmocka_unit_test(activation_derivative_comes_from_the_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
