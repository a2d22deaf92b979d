/* SPDX-License-Identifier: MIT
 *
 * test_padded_weights.c - hidden sizes that are multiples of 1024 run their
 * per-step products on a padded copy of W_hh (src/forward.c): forward and
 * every gradient still match the double reference, for B = 1 (sgemv) and
 * B > 1 (sgemm), with lengths and two directions.
 */
#include "testutil.h"

static const tu_shape shapes[] = {
    /* name, I, H, L, bidir, act, bias, batch_first, O, head_mode, T, B,
     * use_h0, lengths */
    {"h1024_b1", 5, 1024, 1, 0, RNN_TANH, 1, 0, 0, RNN_HEAD_LAST, 3, 1, 1, {0}},
    {"h1024_b3_bidir_lengths", 4, 1024, 1, 1, RNN_TANH, 1, 0, 2, RNN_HEAD_LAST,
     3, 3, 1, {3, 1, 2}},
};

static void run_shape(const tu_shape *shape)
{
    tu_case c;
    tu_out o;
    tu_case_init(&c, shape, 7);
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    tu_case_backward(&c, &o);
    /* Sums of 1024 float products: rounding reaches a few 1e-4 here, with
     * or without the padding; a wrong stride would be off by O(1). */
    assert_true(tu_forward_matches(&c, &o, 1e-4));
    assert_true(tu_backward_matches(&c, &o, 1e-3));
    tu_out_free(&o);
    tu_case_free(&c);
}

static void padded_step_weights_match_reference_for_one_stream(void **state)
{
    (void)state;
    run_shape(&shapes[0]);
}

static void padded_step_weights_match_reference_for_a_batch(void **state)
{
    (void)state;
    run_shape(&shapes[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(padded_step_weights_match_reference_for_one_stream),
        cmocka_unit_test(padded_step_weights_match_reference_for_a_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
