/* SPDX-License-Identifier: MIT
 *
 * test_inference.c - rnn_forward_inference: the same y, h_n and logits as
 * rnn_forward (+ rnn_head_forward), bit for bit, on every row of the shape
 * table and on sequences long enough to run in several chunks (lengths that
 * end in an earlier chunk, batch_first, both head modes, h0); its memory
 * does not grow with T (the allocation counter); it keeps nothing for
 * backward or the head, and refuses what it cannot do without writing.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* What one forward writes. */
typedef struct outputs {
    float *y, *h_n, *logits;
    size_t n_y, n_h, n_logits;
} outputs;

static void outputs_alloc(outputs *o, const rnn_config *cfg, int32_t seq_len,
                          int32_t batch)
{
    const size_t dirs = cfg->bidirectional ? 2 : 1;
    o->n_y = (size_t)seq_len * batch * dirs * cfg->hidden_size;
    o->n_h = (size_t)cfg->num_layers * dirs * batch * cfg->hidden_size;
    o->n_logits = (cfg->head_mode == RNN_HEAD_ALL ? (size_t)seq_len : 1) *
                  (size_t)batch * (size_t)cfg->output_size;
    o->y = tu_floats(o->n_y);
    o->h_n = tu_floats(o->n_h);
    o->logits = tu_floats(o->n_logits + 1);
    tu_sentinel_fill(o->y, o->n_y);
    tu_sentinel_fill(o->h_n, o->n_h);
    tu_sentinel_fill(o->logits, o->n_logits + 1);
}

static void outputs_free(outputs *o)
{
    free(o->y);
    free(o->h_n);
    free(o->logits);
}

static void report_differences(const char *what, const float *a,
                               const float *b, size_t n)
{
    size_t count = 0, first = n;
    for (size_t i = 0; i < n; ++i)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) {
            first = count++ == 0 ? i : first;
        }
    if (count > 0)
        print_message("%s: %zu of %zu differ, first [%zu] %.9g vs %.9g\n", what,
                      count, n, first, (double)a[first], (double)b[first]);
}

static void assert_same_bits(const outputs *a, const outputs *b)
{
    report_differences("y", a->y, b->y, a->n_y);
    report_differences("h_n", a->h_n, b->h_n, a->n_h);
    report_differences("logits", a->logits, b->logits, a->n_logits);
    assert_memory_equal(a->y, b->y, a->n_y * sizeof(float));
    assert_memory_equal(a->h_n, b->h_n, a->n_h * sizeof(float));
    assert_memory_equal(a->logits, b->logits, a->n_logits * sizeof(float));
}

/* Training forward (+ head) and inference forward on the same inputs. */
static void compare_passes(rnn_t *model, int32_t seq_len, int32_t batch,
                           const float *x, const int32_t *lengths,
                           const float *h0)
{
    rnn_config cfg = rnn_config_default(1, 1);
    TU_OK(rnn_get_config(model, &cfg));
    outputs train, infer;
    outputs_alloc(&train, &cfg, seq_len, batch);
    outputs_alloc(&infer, &cfg, seq_len, batch);
    TU_OK(rnn_forward(model, seq_len, batch, x, lengths, h0, train.y, train.h_n));
    if (cfg.output_size > 0)
        TU_OK(rnn_head_forward(model, train.logits));
    TU_OK(rnn_forward_inference(model, seq_len, batch, x, lengths, h0, infer.y,
                                infer.h_n,
                                cfg.output_size > 0 ? infer.logits : NULL));
    assert_same_bits(&train, &infer);
    outputs_free(&train);
    outputs_free(&infer);
}

static void inference_equals_the_training_forward_bit_for_bit(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 3);
    compare_passes(c.model, c.s.T, c.s.B, c.x, c.lengths, c.h0);
    tu_case_free(&c);
}

typedef struct long_case {
    const char *name;
    int32_t layers, batch_first, outputs, head_mode, seq_len, batch, lengths;
} long_case;

/* K = max(64, 4096 / B) steps a chunk: B = 64 gives 64-step chunks, B = 3
 * 1365-step ones. */
static const long_case long_cases[] = {
    {"three chunks, two layers, every-step head", 2, 0, 3, RNN_HEAD_ALL, 150, 64, 0},
    {"lengths ending in earlier chunks", 2, 0, 2, RNN_HEAD_LAST, 200, 64, 1},
    {"batch_first, lengths, every-step head", 1, 1, 2, RNN_HEAD_ALL, 131, 64, 1},
    {"batch_first, last-step head", 3, 1, 1, RNN_HEAD_LAST, 2900, 3, 0},
    {"one chunk and a step", 1, 0, 0, RNN_HEAD_LAST, 65, 64, 0},
};

static void long_sequences_in_chunks_equal_the_training_forward(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof long_cases / sizeof long_cases[0]; ++i) {
        const long_case *lc = &long_cases[i];
        rnn_config cfg = rnn_config_default(3, 12);
        cfg.num_layers = lc->layers;
        cfg.batch_first = lc->batch_first;
        cfg.output_size = lc->outputs;
        cfg.head_mode = lc->head_mode;
        cfg.seed = 40 + i;
        rnn_t *model = NULL;
        TU_OK(rnn_create(&model, &cfg));
        const size_t n_x = (size_t)lc->seq_len * lc->batch * 3;
        const size_t n_h = (size_t)lc->layers * lc->batch * 12;
        float *x = tu_floats(n_x), *h0 = tu_floats(n_h);
        tu_rng rng = tu_rng_make(50 + i);
        tu_fill(&rng, x, n_x, -1.0, 1.0);
        tu_fill(&rng, h0, n_h, -0.5, 0.5);
        int32_t *lengths = calloc((size_t)lc->batch, sizeof(int32_t));
        assert_non_null(lengths);
        for (int32_t b = 0; b < lc->batch; ++b)
            lengths[b] = 1 + (int32_t)((b * 37) % lc->seq_len);
        print_message("%s\n", lc->name);
        compare_passes(model, lc->seq_len, lc->batch, x,
                       lc->lengths ? lengths : NULL, h0);
        free(lengths);
        free(h0);
        free(x);
        rnn_destroy(model);
    }
}

/* ------------------------------------------------------------------------
 * Memory
 * ---------------------------------------------------------------------- */

/* Bytes allocated by one forward of a fresh model over T steps. */
static size_t forward_bytes(int32_t seq_len, int32_t batch, bool inference,
                            int32_t bidirectional)
{
    rnn_config cfg = rnn_config_default(4, 16);
    cfg.num_layers = 2;
    cfg.bidirectional = bidirectional;
    cfg.output_size = 2;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    const size_t dirs = bidirectional ? 2 : 1;
    float *x = tu_floats((size_t)seq_len * batch * 4);
    float *y = tu_floats((size_t)seq_len * batch * 16 * dirs);
    float *logits = tu_floats((size_t)batch * 2);
    memset(x, 0, (size_t)seq_len * batch * 4 * sizeof(float));
    tu_count_allocations(true);
    if (inference)
        TU_OK(rnn_forward_inference(model, seq_len, batch, x, NULL, NULL, y,
                                    NULL, logits));
    else
        TU_OK(rnn_forward(model, seq_len, batch, x, NULL, NULL, y, NULL));
    const size_t bytes = tu_alloc_bytes;
    tu_count_allocations(false);
    free(logits);
    free(y);
    free(x);
    rnn_destroy(model); /* allocated through malloc as well */
    return bytes;
}

static void inference_memory_does_not_grow_with_the_sequence(void **state)
{
    (void)state;
    const size_t short_run = forward_bytes(200, 64, true, 0);
    const size_t long_run = forward_bytes(2000, 64, true, 0);
    assert_true(short_run > 0);
    assert_int_equal(short_run, long_run);
    /* the training forward keeps every step */
    assert_true(forward_bytes(2000, 64, false, 0) > 5 * long_run);
    /* a reverse direction needs the whole sequence (documented) */
    assert_true(forward_bytes(2000, 64, true, 1) > forward_bytes(200, 64, true, 1));
}

/* ------------------------------------------------------------------------
 * What it keeps, and what it refuses
 * ---------------------------------------------------------------------- */

static rnn_t *small_model(int32_t output_size)
{
    rnn_config cfg = rnn_config_default(2, 3);
    cfg.output_size = output_size;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    return model;
}

static void backward_and_head_after_inference_are_state_errors(void **state)
{
    (void)state;
    rnn_t *model = small_model(1);
    float x[4 * 2 * 2] = {0.5f, -0.5f}, logits[2], dlogits[2] = {1.0f, 1.0f};
    TU_OK(rnn_forward(model, 4, 2, x, NULL, NULL, NULL, NULL));
    TU_OK(rnn_head_backward(model, dlogits));
    /* a pending head gradient is not dropped silently */
    TU_FAILS(RNN_E_STATE, "rnn_forward_inference",
             rnn_forward_inference(model, 4, 2, x, NULL, NULL, NULL, NULL, logits));
    TU_OK(rnn_backward(model, NULL, NULL, NULL, NULL));
    TU_OK(rnn_forward_inference(model, 4, 2, x, NULL, NULL, NULL, NULL, logits));
    TU_FAILS(RNN_E_STATE, "rnn_backward",
             rnn_backward(model, NULL, NULL, NULL, NULL));
    assert_non_null(strstr(rnn_last_error(), "rnn_forward_inference"));
    TU_FAILS(RNN_E_STATE, "rnn_head_forward", rnn_head_forward(model, logits));
    TU_FAILS(RNN_E_STATE, "rnn_head_backward", rnn_head_backward(model, dlogits));
    /* the next training forward makes backward possible again */
    TU_OK(rnn_forward(model, 4, 2, x, NULL, NULL, NULL, NULL));
    TU_OK(rnn_head_backward(model, dlogits));
    TU_OK(rnn_backward(model, NULL, NULL, NULL, NULL));
    rnn_destroy(model);
}

static void refusals_write_nothing(void **state)
{
    (void)state;
    rnn_t *model = small_model(0);
    float x[3 * 2 * 2] = {0.1f, 0.2f}, y[3 * 2 * 3], h_n[2 * 3], logits[2];
    tu_sentinel_fill(y, 18);
    tu_sentinel_fill(h_n, 6);
    tu_sentinel_fill(logits, 2);
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_forward_inference",
             rnn_forward_inference(model, 3, 2, x, NULL, NULL, y, h_n, logits));
    TU_FAILS(RNN_E_SHAPE, "rnn_forward_inference",
             rnn_forward_inference(model, 0, 2, x, NULL, NULL, y, h_n, NULL));
    const int32_t bad_lengths[2] = {3, 4};
    TU_FAILS(RNN_E_SHAPE, "rnn_forward_inference",
             rnn_forward_inference(model, 3, 2, x, bad_lengths, NULL, y, h_n, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_inference",
             rnn_forward_inference(model, 3, 2, NULL, NULL, NULL, y, h_n, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_inference",
             rnn_forward_inference(NULL, 3, 2, x, NULL, NULL, y, h_n, NULL));
    x[5] = NAN;
    TU_OK(rnn_set_check_finite(model, 1));
    TU_FAILS(RNN_E_NONFINITE, "rnn_forward_inference",
             rnn_forward_inference(model, 3, 2, x, NULL, NULL, y, h_n, NULL));
    assert_true(tu_sentinel_intact("y", y, 18));
    assert_true(tu_sentinel_intact("h_n", h_n, 6));
    assert_true(tu_sentinel_intact("logits", logits, 2));
    rnn_destroy(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(long_sequences_in_chunks_equal_the_training_forward),
        cmocka_unit_test(inference_memory_does_not_grow_with_the_sequence),
        cmocka_unit_test(backward_and_head_after_inference_are_state_errors),
        cmocka_unit_test(refusals_write_nothing),
    };
    const tu_table_test table[] = {
        TU_TABLE_TEST(inference_equals_the_training_forward_bit_for_bit, NULL),
    };
    return tu_run("test_inference", tests, sizeof tests / sizeof tests[0], table,
                  sizeof table / sizeof table[0]);
}
