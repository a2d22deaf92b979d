/* SPDX-License-Identifier: MIT
 *
 * test_internal_dropout.c - the masks of src/dropout.c: over many draws the
 * kept share is 1 - p within a few standard deviations, every kept element
 * is exactly 1 / (1 - p) and every other 0, p = 0 keeps everything, and the
 * stream is the documented SplitMix64 one (two elements per draw).
 */
#include "internal.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

static void kept_share_is_one_minus_p(void **state)
{
    (void)state;
    enum { N = 1 << 20 };
    float *mask = malloc(N * sizeof(float));
    assert_non_null(mask);
    const float ps[] = {0.1f, 0.3f, 0.5f, 0.9f};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; ++k) {
        uint64_t rng = 12345 + k;
        rnn__dropout_mask(&rng, ps[k], mask, N);
        const float scale = (float)(1.0 / (1.0 - (double)ps[k]));
        size_t kept = 0;
        for (size_t i = 0; i < N; ++i) {
            assert_true(mask[i] == 0.0f || mask[i] == scale);
            kept += mask[i] != 0.0f;
        }
        const double q = 1.0 - ps[k];
        const double sd = sqrt((double)N * q * (1.0 - q));
        assert_true(fabs((double)kept - (double)N * q) < 5.0 * sd);
        /* the mean of the mask is 1: dropout keeps the expected value */
        assert_true(fabs((double)kept * scale / N - 1.0) < 5.0 * sd * scale / N);
    }
    free(mask);
}

static void p_zero_keeps_everything_unscaled(void **state)
{
    (void)state;
    float mask[1000];
    uint64_t rng = 1;
    rnn__dropout_mask(&rng, 0.0f, mask, 1000);
    for (size_t i = 0; i < 1000; ++i)
        assert_true(mask[i] == 1.0f);
}

/* SplitMix64 from state 0: the published first output 0xe220a8397b1dcdaf,
 * low half first. */
static void the_stream_is_splitmix64_two_elements_per_draw(void **state)
{
    (void)state;
    const uint64_t first = 0xe220a8397b1dcdafull;
    const double low = (double)(first & 0xffffffffu) / 4294967296.0;
    const double high = (double)(first >> 32) / 4294967296.0;
    /* a p between the two uniforms keeps exactly one of them */
    const double p = (low < high ? low + high : low + high) / 2.0;
    float mask[2];
    uint64_t rng = 0;
    rnn__dropout_mask(&rng, (float)p, mask, 2);
    assert_int_equal(mask[0] != 0.0f, low >= p);
    assert_int_equal(mask[1] != 0.0f, high >= p);
    assert_int_equal(rng, 0x9E3779B97F4A7C15ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kept_share_is_one_minus_p),
        cmocka_unit_test(p_zero_keeps_everything_unscaled),
        cmocka_unit_test(the_stream_is_splitmix64_two_elements_per_draw),
    };
    return tu_run("test_internal_dropout", tests, sizeof tests / sizeof tests[0],
                  NULL, 0);
}
