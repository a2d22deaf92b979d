/* SPDX-License-Identifier: MIT
 *
 * test_step.c - streaming inference: rnn_step over T steps equals
 * rnn_forward on the unidirectional rows of the shape table, rnn_step_head
 * equals the head (also through rnn_pack_weights' copy of the weights),
 * and the state calls (create, reset with a mask, get/set,
 * batch) do what they say; states of another shape, states too large and
 * bidirectional models are refused.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double STEP_TOL = 1e-5;

/* A case of the row without lengths (streaming has none). */
static void stream_case_init(tu_case *c, void **state, uint64_t seed)
{
    tu_shape s = *tu_row(state);
    memset(s.lengths, 0, sizeof s.lengths);
    tu_case_init(c, &s, seed);
}

/* x_t [B, I] of step t, from x in the row's layout. */
static void gather_step(const tu_case *c, int32_t t, float *x_t)
{
    for (int32_t b = 0; b < c->s.B; b++)
        for (int32_t i = 0; i < c->m.I; i++)
            x_t[b * c->m.I + i] =
                c->x[ref_seq_index(&c->m, c->s.T, c->s.B, t, b, c->m.I, i)];
}

/* Row t of a [T, B, n] (or [B, T, n]) array as [B, n]. */
static void row_of(const tu_case *c, const float *a, int32_t t, int32_t n, float *out)
{
    for (int32_t b = 0; b < c->s.B; b++)
        for (int32_t k = 0; k < n; k++)
            out[b * n + k] = a[ref_seq_index(&c->m, c->s.T, c->s.B, t, b, n, k)];
}

/* A state for the case's model, set to its h0 when it has one. */
static rnn_state_t *state_for(const tu_case *c)
{
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, c->model, c->s.B));
    if (c->h0)
        TU_OK(rnn_state_set(st, c->h0));
    return st;
}

/* Steps through the row's sequence and compares every y_t and the final
 * state with rnn_forward's, reading the weights directly or, when packed,
 * through rnn_pack_weights' copy. */
static void check_steps_match_forward(void **state, bool packed)
{
    tu_case c;
    stream_case_init(&c, state, 1);
    if (packed)
        TU_OK(rnn_pack_weights(c.model));
    tu_out o;
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    const int32_t B = c.s.B, H = c.m.H;
    float *x_t = tu_floats((size_t)B * c.m.I), *y_t = tu_floats((size_t)B * H);
    float *want = tu_floats((size_t)B * H), *h = tu_floats(c.n_h);
    rnn_state_t *st = state_for(&c);
    int ok = 1;
    for (int32_t t = 0; t < c.s.T; t++) {
        gather_step(&c, t, x_t);
        TU_OK(rnn_step(c.model, st, x_t, y_t));
        row_of(&c, o.y, t, H, want);
        char what[64];
        snprintf(what, sizeof what, "y at step %d", (int)t);
        ok &= tu_close_f(what, y_t, want, (size_t)B * H, STEP_TOL);
    }
    TU_OK(rnn_state_get(st, h));
    ok &= tu_close_f("state after T steps vs h_n", h, o.h_n, c.n_h, STEP_TOL);
    rnn_state_destroy(st);
    free(x_t);
    free(y_t);
    free(want);
    free(h);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

static void steps_match_forward(void **state)
{
    check_steps_match_forward(state, false);
}

static void packed_steps_match_forward(void **state)
{
    check_steps_match_forward(state, true);
}

/* y_t = NULL still advances the state. */
static void steps_without_output_advance_the_state(void **state)
{
    tu_case c;
    stream_case_init(&c, state, 2);
    float *x_t = tu_floats((size_t)c.s.B * c.m.I), *h = tu_floats(c.n_h);
    rnn_state_t *st = state_for(&c);
    for (int32_t t = 0; t < c.s.T; t++) {
        gather_step(&c, t, x_t);
        TU_OK(rnn_step(c.model, st, x_t, NULL));
    }
    TU_OK(rnn_state_get(st, h));
    int ok = tu_close("state after T steps vs reference h_n", h, c.ref.h_n, c.n_h,
                      STEP_TOL);
    rnn_state_destroy(st);
    free(x_t);
    free(h);
    tu_case_free(&c);
    assert_true(ok);
}

/* rnn_step_head after step t equals the head's logits: of the last step
 * (RNN_HEAD_LAST) or of every step (RNN_HEAD_ALL). */
static void step_head_equals_head_logits(void **state)
{
    tu_case c;
    stream_case_init(&c, state, 3);
    tu_out o;
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    const int32_t B = c.s.B, O = c.m.O;
    float *x_t = tu_floats((size_t)B * c.m.I), *logits = tu_floats((size_t)B * O);
    float *want = tu_floats((size_t)B * O);
    rnn_state_t *st = state_for(&c);
    int ok = 1;
    for (int32_t t = 0; t < c.s.T; t++) {
        gather_step(&c, t, x_t);
        TU_OK(rnn_step(c.model, st, x_t, NULL));
        TU_OK(rnn_step_head(c.model, st, logits));
        if (c.s.head_mode == RNN_HEAD_ALL)
            row_of(&c, o.logits, t, O, want);
        else if (t == c.s.T - 1)
            memcpy(want, o.logits, (size_t)B * O * sizeof *want);
        else
            continue;
        char what[64];
        snprintf(what, sizeof what, "step_head logits at step %d", (int)t);
        ok &= tu_close_f(what, logits, want, (size_t)B * O, STEP_TOL);
    }
    rnn_state_destroy(st);
    free(x_t);
    free(logits);
    free(want);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

static int streams_with_head(const tu_shape *s)
{
    return tu_unidirectional(s) && tu_has_head(s);
}

/* ------------------------------------------------------------------------
 * The state calls, on one small model
 * ---------------------------------------------------------------------- */

enum { I = 3, H = 4, L = 2, B = 3 };

static rnn_t *small_model(int32_t input, int32_t hidden, int32_t layers,
                          int32_t bidirectional, int32_t output)
{
    rnn_config cfg = rnn_config_default(input, hidden);
    cfg.num_layers = layers;
    cfg.bidirectional = bidirectional;
    cfg.output_size = output;
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, &cfg));
    return m;
}

static void new_state_is_zero_and_reports_its_batch(void **state)
{
    (void)state;
    rnn_t *m = small_model(I, H, L, 0, 0);
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, m, B));
    float h[L * B * H];
    tu_sentinel_fill(h, L * B * H);
    TU_OK(rnn_state_get(st, h));
    int32_t batch = -1;
    TU_OK(rnn_state_batch(st, &batch));
    rnn_state_destroy(st);
    rnn_destroy(m);
    assert_int_equal(tu_count_equal(h, L * B * H, 0.0f), L * B * H);
    assert_int_equal(batch, B);
}

static void state_get_returns_what_state_set_wrote(void **state)
{
    (void)state;
    rnn_t *m = small_model(I, H, L, 0, 0);
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, m, B));
    float h[L * B * H], got[L * B * H];
    tu_rng rng = tu_rng_make(4);
    tu_fill(&rng, h, L * B * H, -2.0, 2.0);
    TU_OK(rnn_state_set(st, h));
    TU_OK(rnn_state_get(st, got));
    rnn_state_destroy(st);
    rnn_destroy(m);
    assert_memory_equal(got, h, sizeof h);
}

static void reset_with_mask_resets_only_masked_streams(void **state)
{
    (void)state;
    rnn_t *m = small_model(I, H, L, 0, 0);
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, m, B));
    float h[L * B * H], got[L * B * H];
    tu_rng rng = tu_rng_make(5);
    tu_fill(&rng, h, L * B * H, 0.5, 1.0);
    TU_OK(rnn_state_set(st, h));
    const uint8_t mask[B] = { 1, 0, 7 };
    TU_OK(rnn_state_reset(st, mask));
    TU_OK(rnn_state_get(st, got));
    for (int l = 0; l < L; l++)
        for (int b = 0; b < B; b++)
            for (int j = 0; j < H; j++) {
                size_t i = ((size_t)l * B + b) * H + j;
                float want = mask[b] ? 0.0f : h[i];
                if (got[i] != want)
                    fail_msg("layer %d stream %d unit %d: got %g, want %g", l, b, j,
                             got[i], want);
            }
    TU_OK(rnn_state_reset(st, NULL));
    TU_OK(rnn_state_get(st, got));
    rnn_state_destroy(st);
    rnn_destroy(m);
    assert_int_equal(tu_count_equal(got, L * B * H, 0.0f), L * B * H);
}

/* A state belongs to no model: any model of the same I, H, L steps it. */
static void state_steps_on_another_model_of_the_same_sizes(void **state)
{
    (void)state;
    rnn_t *a = small_model(I, H, L, 0, 0), *b = small_model(I, H, L, 0, 2);
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, a, B));
    float x[B * I] = { 0 }, y[B * H], logits[B * 2];
    TU_OK(rnn_step(b, st, x, y));
    TU_OK(rnn_step_head(b, st, logits));
    rnn_state_destroy(st);
    rnn_destroy(a);
    rnn_destroy(b);
}

/* A step with a state of another shape fails with RNN_E_SHAPE and changes
 * neither the state nor y_t. */
static void state_of_another_shape_is_refused(void **state)
{
    (void)state;
    rnn_t *owner = small_model(I, H, L, 0, 0);
    rnn_t *others[3] = { small_model(I + 1, H, L, 0, 2), small_model(I, H + 1, L, 0, 2),
                         small_model(I, H, L + 1, 0, 2) };
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, owner, B));
    float h[L * B * H], got[L * B * H];
    tu_rng rng = tu_rng_make(6);
    tu_fill(&rng, h, L * B * H, -1.0, 1.0);
    TU_OK(rnn_state_set(st, h));
    float x[B * (I + 1)] = { 0 }, y[B * (H + 1)], logits[B * 2];
    int ok = 1;
    for (int i = 0; i < 3; i++) {
        tu_sentinel_fill(y, B * (H + 1));
        tu_sentinel_fill(logits, B * 2);
        TU_FAILS(RNN_E_SHAPE, "rnn_step", rnn_step(others[i], st, x, y));
        TU_FAILS(RNN_E_SHAPE, "rnn_step_head", rnn_step_head(others[i], st, logits));
        ok &= tu_sentinel_intact("y_t", y, B * (H + 1));
        ok &= tu_sentinel_intact("logits", logits, B * 2);
        rnn_destroy(others[i]);
    }
    TU_OK(rnn_state_get(st, got));
    rnn_state_destroy(st);
    rnn_destroy(owner);
    assert_true(ok);
    assert_memory_equal(got, h, sizeof h);
}

/* A batch whose state (h, saved, scratch) would hold more than INT32_MAX
 * floats is refused with RNN_E_SHAPE before any allocation. */
static void state_create_rejects_a_state_too_large_to_describe(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(2, 64);
    cfg.num_layers = 3;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    rnn_state_t *st = (rnn_state_t *)model; /* must become NULL */
    TU_FAILS(RNN_E_SHAPE, "rnn_state_create", rnn_state_create(&st, model, INT32_MAX));
    assert_null(st);
    rnn_destroy(model);
}

static void bidirectional_model_has_no_streaming_state(void **state)
{
    (void)state;
    rnn_t *bi = small_model(I, H, L, 1, 0), *uni = small_model(I, H, L, 0, 0);
    static char not_null;
    rnn_state_t *st = (rnn_state_t *)(void *)&not_null; /* must become NULL */
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_state_create", rnn_state_create(&st, bi, B));
    assert_null(st);
    TU_OK(rnn_state_create(&st, uni, B));
    float x[B * I] = { 0 }, y[B * H];
    tu_sentinel_fill(y, B * H);
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_step", rnn_step(bi, st, x, y));
    int ok = tu_sentinel_intact("y_t", y, B * H);
    rnn_state_destroy(st);
    rnn_destroy(bi);
    rnn_destroy(uni);
    assert_true(ok);
}

int main(void)
{
    static const struct CMUnitTest plain[] = {
        cmocka_unit_test(new_state_is_zero_and_reports_its_batch),
        cmocka_unit_test(state_get_returns_what_state_set_wrote),
        cmocka_unit_test(reset_with_mask_resets_only_masked_streams),
        cmocka_unit_test(state_steps_on_another_model_of_the_same_sizes),
        cmocka_unit_test(state_of_another_shape_is_refused),
        cmocka_unit_test(state_create_rejects_a_state_too_large_to_describe),
        cmocka_unit_test(bidirectional_model_has_no_streaming_state),
    };
    static const tu_table_test table[] = {
        TU_TABLE_TEST(steps_match_forward, tu_unidirectional),
        TU_TABLE_TEST(packed_steps_match_forward, tu_unidirectional),
        TU_TABLE_TEST(steps_without_output_advance_the_state, tu_unidirectional),
        TU_TABLE_TEST(step_head_equals_head_logits, streams_with_head),
    };
    return tu_run("test_step", plain, sizeof plain / sizeof plain[0], table,
                  sizeof table / sizeof table[0]);
}
