/* SPDX-License-Identifier: MIT
 *
 * test_forward_layouts.c - forward picks how its per-step products read
 * W_hh (src/forward.c, transposed_ld): W_hh itself for short inputs, a
 * transposed copy when the T*B rows repay it, padded when H % 1024 == 0.
 * Each path, for B = 1 (sgemv) and B > 1 (sgemm), with lengths and two
 * directions, still matches the double reference in forward and every
 * gradient (backward always reads W_hh itself).
 */
#include "testutil.h"

static const tu_shape shapes[] = {
    /* name, I, H, L, bidir, act, bias, batch_first, O, head_mode, T, B,
     * use_h0, lengths */
    /* B = 1: transposed when T >= H / 2 */
    {"b1_transposed", 3, 16, 2, 0, RNN_TANH, 1, 0, 0, RNN_HEAD_LAST, 9, 1, 1, {0}},
    {"b1_direct", 3, 64, 1, 0, RNN_TANH, 1, 0, 0, RNN_HEAD_LAST, 9, 1, 1, {0}},
    /* B > 1: transposed when T * B >= 64 */
    {"batch_transposed_bidir_lengths", 4, 24, 2, 1, RNN_TANH, 1, 1, 2,
     RNN_HEAD_LAST, 17, 4, 1, {17, 3, 9, 1}},
    {"batch_direct_relu", 4, 24, 1, 0, RNN_RELU, 1, 0, 0, RNN_HEAD_LAST, 5, 3,
     0, {0}},
    /* H = 256, two bidirectional layers, lengths, batch_first, a head */
    {"h256_two_layers_bidir_lengths", 3, 256, 2, 1, RNN_TANH, 1, 1, 2,
     RNN_HEAD_LAST, 36, 8, 1, {36, 33, 31, 32, 1, 9, 35, 36}},
    /* H % 1024 == 0: the transposed copy is padded (B = 1 would need
     * T >= 512: the same padded rows through the sgemv as b1_transposed) */
    {"h1024_batch_transposed_bidir_lengths", 4, 1024, 1, 1, RNN_TANH, 1, 0, 2,
     RNN_HEAD_LAST, 22, 3, 1, {22, 1, 9}},
    {"h1024_b1_direct", 5, 1024, 1, 0, RNN_TANH, 1, 0, 0, RNN_HEAD_LAST, 3, 1,
     1, {0}},
};

static void run_shape(const tu_shape *shape)
{
    tu_case c;
    tu_out o;
    /* Long runs need a contracting recurrence (W_hh's spectral radius near
     * 0.7 with U(-0.04, 0.04) at H = 1024, U(-0.08, 0.08) at H = 256). */
    const double range = shape->H >= 1024 ? 0.04 : shape->H >= 256 ? 0.08 : 0.6;
    tu_case_init_scaled(&c, shape, 7, range);
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    tu_case_backward(&c, &o);
    /* Sums of 1024 float products: rounding reaches a few 1e-4 at
     * H = 1024; a wrong stride or orientation would be off by O(1). */
    const double tol = shape->H >= 256 ? 1e-3 : 1e-4;
    assert_true(tu_forward_matches(&c, &o, tol / 10));
    assert_true(tu_backward_matches(&c, &o, tol));
    tu_out_free(&o);
    tu_case_free(&c);
}

#define SHAPE_TEST(name, index)                                                \
    static void name(void **state)                                             \
    {                                                                          \
        (void)state;                                                           \
        run_shape(&shapes[index]);                                             \
    }

SHAPE_TEST(one_stream_reads_a_transposed_copy_when_the_sequence_repays_it, 0)
SHAPE_TEST(one_stream_reads_w_hh_itself_for_a_short_sequence, 1)
SHAPE_TEST(a_batch_reads_a_transposed_copy_with_lengths_and_two_directions, 2)
SHAPE_TEST(a_small_batch_reads_w_hh_itself, 3)
SHAPE_TEST(two_bidirectional_layers_at_h256_read_transposed_copies, 4)
SHAPE_TEST(a_batch_at_h1024_reads_a_padded_transposed_copy, 5)
SHAPE_TEST(one_short_stream_at_h1024_reads_w_hh_itself, 6)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_stream_reads_a_transposed_copy_when_the_sequence_repays_it),
        cmocka_unit_test(one_stream_reads_w_hh_itself_for_a_short_sequence),
        cmocka_unit_test(a_batch_reads_a_transposed_copy_with_lengths_and_two_directions),
        cmocka_unit_test(a_small_batch_reads_w_hh_itself),
        cmocka_unit_test(two_bidirectional_layers_at_h256_read_transposed_copies),
        cmocka_unit_test(a_batch_at_h1024_reads_a_padded_transposed_copy),
        cmocka_unit_test(one_short_stream_at_h1024_reads_w_hh_itself),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
