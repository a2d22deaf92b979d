/* SPDX-License-Identifier: MIT
 *
 * test_dropout.c - dropout between layers (rnn_config.dropout), as
 * torch.nn.RNN(dropout=p): the gradients of a dropped model equal central
 * differences of its own forward with the masks held fixed (the same seed
 * before every forward); a seed gives the same run, the stream moves on
 * between forwards; p = 0 and the inference forward never drop; bad p is
 * refused. The masks' statistics are in test_internal_dropout.c.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MASK_SEED = 99 };

/* Rows with layers to drop between. tanh only: scaled by 1/(1-p), relu's
 * pre-activations land within eps of its kink, where central differences
 * are not the derivative (the masks do not depend on the activation). */
static int multi_layer_tanh(const tu_shape *s)
{
    return s->L >= 2 && tu_is_tanh(s);
}

/* Gives the case's model dropout p: a new model with its configuration and
 * parameters. */
static void add_dropout(tu_case *c, float p)
{
    rnn_config cfg = rnn_config_default(1, 1);
    TU_OK(rnn_get_config(c->model, &cfg));
    cfg.dropout = p;
    rnn_t *dropped = NULL;
    TU_OK(rnn_create(&dropped, &cfg));
    float *params;
    size_t count;
    TU_OK(rnn_params(dropped, &params, &count));
    memcpy(params, c->params, count * sizeof(float));
    rnn_destroy(c->model);
    c->model = dropped;
    c->params = params;
}

/* The case's forward with the masks of MASK_SEED. */
static void forward_with_fixed_masks(tu_case *c, tu_out *o)
{
    TU_OK(rnn_seed_dropout(c->model, MASK_SEED));
    tu_case_forward(c, o);
}

static void gradients_with_fixed_masks_match_finite_differences(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 8);
    add_dropout(&c, 0.4f);
    tu_out o;
    tu_out_alloc(&c, &o);
    TU_OK(rnn_zero_grad(c.model));
    forward_with_fixed_masks(&c, &o);
    tu_case_backward(&c, &o);
    int ok = 1;
    for (int32_t i = 0; i < ref_tensor_count(&c.m); i++) {
        ref_tensor t = ref_tensor_at(&c.m, i);
        ok &= tu_fd_matches(&c, &o, forward_with_fixed_masks, t.name,
                            c.params + t.offset, o.grads + t.offset, t.count);
    }
    ok &= tu_fd_matches(&c, &o, forward_with_fixed_masks, "dx", c.x, o.dx, c.n_x);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* ------------------------------------------------------------------------
 * The stream, and where dropout does not apply
 * ---------------------------------------------------------------------- */

enum { T = 6, B = 5, I = 3, H = 8 };

static rnn_t *model_with(float p, uint64_t seed)
{
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = 3;
    cfg.dropout = p;
    cfg.seed = seed;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    return model;
}

static const float *inputs(void)
{
    static float x[T * B * I];
    tu_rng rng = tu_rng_make(5);
    tu_fill(&rng, x, T * B * I, -1.0, 1.0);
    return x;
}

static void forward_y(rnn_t *model, float *y)
{
    TU_OK(rnn_forward(model, T, B, inputs(), NULL, NULL, y, NULL));
}

static void a_seed_gives_the_same_masks_and_the_stream_moves_on(void **state)
{
    (void)state;
    rnn_t *model = model_with(0.5f, 1);
    float first[T * B * H], again[T * B * H], next[T * B * H];
    TU_OK(rnn_seed_dropout(model, 7));
    forward_y(model, first);
    forward_y(model, next);
    TU_OK(rnn_seed_dropout(model, 7));
    forward_y(model, again);
    assert_memory_equal(first, again, sizeof first);
    assert_memory_not_equal(first, next, sizeof first);
    /* a model created with the same cfg.seed starts the same stream */
    rnn_t *twin = model_with(0.5f, 1);
    TU_OK(rnn_seed_dropout(model, 1));
    forward_y(model, first);
    forward_y(twin, again);
    assert_memory_equal(first, again, sizeof first);
    rnn_destroy(twin);
    rnn_destroy(model);
}

static void inference_and_p_zero_never_drop(void **state)
{
    (void)state;
    rnn_t *dropped = model_with(0.5f, 3), *plain = model_with(0.0f, 3);
    float want[T * B * H], got[T * B * H];
    forward_y(plain, want);
    TU_OK(rnn_forward_inference(plain, T, B, inputs(), NULL, NULL, got, NULL, NULL));
    assert_memory_equal(want, got, sizeof want);
    TU_OK(rnn_forward_inference(dropped, T, B, inputs(), NULL, NULL, got, NULL,
                                NULL));
    assert_memory_equal(want, got, sizeof want);
    /* training does drop, streaming never does */
    forward_y(dropped, got);
    assert_memory_not_equal(want, got, sizeof want);
    rnn_state_t *stream = NULL;
    TU_OK(rnn_state_create(&stream, dropped, B));
    for (int t = 0; t < T; ++t)
        TU_OK(rnn_step(dropped, stream, inputs() + t * B * I, got));
    for (int i = 0; i < B * H; ++i)
        assert_true(fabsf(got[i] - want[(T - 1) * B * H + i]) < 1e-5f);
    rnn_state_destroy(stream);
    rnn_destroy(plain);
    rnn_destroy(dropped);
}

static void dropout_out_of_range_or_on_one_layer_is_refused(void **state)
{
    (void)state;
    const float bad[] = {1.0f, -0.1f, 1.5f, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        rnn_config cfg = rnn_config_default(I, H);
        cfg.num_layers = 2;
        cfg.dropout = bad[i];
        rnn_t *model = (rnn_t *)&cfg;
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&model, &cfg));
        assert_null(model);
        assert_non_null(strstr(rnn_last_error(), "dropout"));
    }
    rnn_config one = rnn_config_default(I, H);
    one.dropout = 0.2f;
    rnn_t *model = NULL;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&model, &one));
    assert_non_null(strstr(rnn_last_error(), "num_layers is 1"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_seed_dropout", rnn_seed_dropout(NULL, 1));
}

static void get_config_reports_dropout(void **state)
{
    (void)state;
    rnn_t *model = model_with(0.25f, 0);
    rnn_config cfg = rnn_config_default(1, 1);
    TU_OK(rnn_get_config(model, &cfg));
    assert_true(cfg.dropout == 0.25f);
    rnn_destroy(model);
}

static void saved_models_keep_their_dropout(void **state)
{
    (void)state;
    const float ps[] = {0.25f, 0.0f};
    for (size_t i = 0; i < 2; ++i) {
        rnn_t *model = model_with(ps[i], 0), *loaded = NULL;
        size_t size;
        TU_OK(rnn_save_size(model, &size));
        char *bytes = malloc(size + 1);
        assert_non_null(bytes);
        TU_OK(rnn_save_buffer(model, bytes, size, &size));
        bytes[size] = '\0';
        /* the key is written only when set: 0.1.0 reads the others */
        assert_int_equal(strstr(bytes + 8, "\"dropout\"") != NULL, ps[i] > 0.0f);
        TU_OK(rnn_load_buffer(&loaded, bytes, size));
        rnn_config cfg = rnn_config_default(1, 1);
        TU_OK(rnn_get_config(loaded, &cfg));
        assert_true(cfg.dropout == ps[i]);
        rnn_destroy(loaded);
        free(bytes);
        rnn_destroy(model);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_seed_gives_the_same_masks_and_the_stream_moves_on),
        cmocka_unit_test(inference_and_p_zero_never_drop),
        cmocka_unit_test(dropout_out_of_range_or_on_one_layer_is_refused),
        cmocka_unit_test(get_config_reports_dropout),
        cmocka_unit_test(saved_models_keep_their_dropout),
    };
    const tu_table_test table[] = {
        TU_TABLE_TEST(gradients_with_fixed_masks_match_finite_differences,
                      multi_layer_tanh),
    };
    return tu_run("test_dropout", tests, sizeof tests / sizeof tests[0], table,
                  sizeof table / sizeof table[0]);
}
