/* SPDX-License-Identifier: MIT
 *
 * test_internal_blas.c - src/blas.c splits NN products into row blocks (and
 * tiles of 8 rows by 64 columns when 8 whole rows are too many) for
 * OpenBLAS's small-matrix kernel (one thread, AVX-512 builds). Forced on
 * (RNN_SMALL_ALWAYS) on whatever BLAS runs the tests, the blocks give the
 * whole product, also with strides and accumulation, and forward, backward
 * and packed steps still match the double reference.
 */
#include "cellcase.h"
#include "internal.h"
#include "testutil.h"

#include <stdlib.h>

static float *random_floats(size_t n, uint32_t seed)
{
    float *a = tu_floats(n);
    for (size_t i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        a[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return a;
}

/* C[m, n] (+)= A[m, k] B[k, n] with strides wider than the rows. */
static void blocks_equal_one_call(int m, int n, int k, float beta)
{
    const int lda = k + 3, ldb = n + 5, ldc = n + 7;
    float *a = random_floats((size_t)m * lda, 1);
    float *b = random_floats((size_t)k * ldb, 2);
    float *blocked = random_floats((size_t)m * ldc, 3);
    float *whole = random_floats((size_t)m * ldc, 3);
    rnn__set_small_gemm_policy(RNN_SMALL_ALWAYS);
    rnn__gemm(false, false, m, n, k, 1.0f, a, lda, b, ldb, beta, blocked, ldc);
    rnn__set_small_gemm_policy(RNN_SMALL_NEVER);
    rnn__gemm(false, false, m, n, k, 1.0f, a, lda, b, ldb, beta, whole, ldc);
    rnn__set_small_gemm_policy(RNN_SMALL_AUTO);
    /* includes the stride gaps: blocks must not write outside their rows */
    const int ok = tu_close_f("blocked vs whole", blocked, whole,
                              (size_t)m * ldc, 1e-5);
    free(a);
    free(b);
    free(blocked);
    free(whole);
    assert_true(ok);
}

static void row_blocks_of_8_give_the_whole_product(void **state)
{
    (void)state;
    /* 10^6 / (256 * 300) = 13 rows -> blocks of 8: 8, 8, 8, 8, 5 */
    blocks_equal_one_call(37, 256, 300, 1.0f);
    blocks_equal_one_call(37, 256, 300, 0.0f);
}

static void tiles_give_the_whole_product(void **state)
{
    (void)state;
    /* 10^6 / (400 * 400) = 6 rows -> tiles of 8 x 64: rows 8, 2 by
     * columns 64 (6 times), 16 */
    blocks_equal_one_call(10, 400, 400, 1.0f);
    /* 10^6 / (1024 * 250) = 3.9 rows -> 16 columns of tiles by rows 8, 8,
     * 8, 8, 5 */
    blocks_equal_one_call(37, 1024, 250, 1.0f);
    blocks_equal_one_call(37, 1024, 250, 0.0f);
    /* an LSTM's step product at H = 256, B = 32: [32, 1024] by K = 256 */
    blocks_equal_one_call(32, 1024, 256, 1.0f);
}

/* Forward, every gradient and packed steps through the blocks: B = 20,
 * H = 256 makes each per-step product 1.3 * 10^6 multiply-adds. */
static void model_runs_on_row_blocks_match_the_reference(void **state)
{
    (void)state;
    const tu_shape shape = {"small_blocks", 5, 256, 2, 0, RNN_TANH, 1, 0, 0,
                            RNN_HEAD_LAST, 4, 20, 1, {0}};
    rnn__set_small_gemm_policy(RNN_SMALL_ALWAYS);
    tu_case c;
    tu_out o;
    tu_case_init_scaled(&c, &shape, 3, 0.1);
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    tu_case_backward(&c, &o);
    int ok = tu_forward_matches(&c, &o, 1e-5);
    ok &= tu_backward_matches(&c, &o, 1e-4);
    rnn__set_small_gemm_policy(RNN_SMALL_AUTO);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* The gated cells through the tiles: at H = 256 and B = 10 an LSTM's step
 * product [10, 1024] by K = 256, a GRU's [10, 768], and their backward
 * products by K = 1024 and 768 are all too wide for 8 whole rows. */
static int gated_cell_on_tiles_matches_the_reference(int32_t cell)
{
    /* name I  H    P  L  bi bias bf O  head           T  B   h0 c0 */
    const tc_shape shape = {"tiles", 5, 256, 0, 1, 0, 1, 0, 0, RNN_HEAD_LAST,
                            2, 10, 1, 1, {0}};
    rnn__set_small_gemm_policy(RNN_SMALL_ALWAYS);
    tc_case c;
    tc_out o;
    tc_case_init(&c, cell, &shape, 5, 1);
    tc_out_alloc(&c, &o);
    tc_forward(&c, &o);
    tc_backward(&c, &o, TC_ALL);
    const int ok = tc_forward_matches(&c, &o, 1e-5) &&
                   tc_backward_matches(&c, &o, &c.ref, 1e-4);
    rnn__set_small_gemm_policy(RNN_SMALL_AUTO);
    tc_out_free(&o);
    tc_case_free(&c);
    return ok;
}

static void lstm_and_gru_on_tiles_match_the_reference(void **state)
{
    (void)state;
    assert_true(gated_cell_on_tiles_matches_the_reference(RNN_CELL_LSTM));
    assert_true(gated_cell_on_tiles_matches_the_reference(RNN_CELL_GRU));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(row_blocks_of_8_give_the_whole_product),
        cmocka_unit_test(tiles_give_the_whole_product),
        cmocka_unit_test(model_runs_on_row_blocks_match_the_reference),
        cmocka_unit_test(lstm_and_gru_on_tiles_match_the_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
