/* SPDX-License-Identifier: MIT
 *
 * test_pack.c - rnn_pack_weights: the packed copy follows every library
 * call that changes the parameters (optimizer and SGD steps, inits,
 * load_params), sees pointer writes after a re-pack, goes away with
 * rnn_unpack_weights, and refuses what cannot stream.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

enum { I = 3, H = 8, L = 2, B = 2, T = 4 };

static rnn_t *make_model(int32_t bidirectional)
{
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = L;
    cfg.bidirectional = bidirectional;
    cfg.seed = 21;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    return model;
}

/* The top layer's outputs of T steps of fixed inputs from a zero state:
 * y[T, B, H]. */
static void run_steps(const rnn_t *model, float *y)
{
    rnn_state_t *state = NULL;
    TU_OK(rnn_state_create(&state, model, B));
    float x_t[B * I];
    for (int32_t t = 0; t < T; ++t) {
        for (int32_t k = 0; k < B * I; ++k)
            x_t[k] = 0.3f * (float)((t * 7 + k) % 5) - 0.6f;
        TU_OK(rnn_step(model, state, x_t, y + (size_t)t * B * H));
    }
    rnn_state_destroy(state);
}

/* Packed steps equal the steps that read the parameters directly. */
static int packed_matches_direct(rnn_t *model, const char *after)
{
    float packed[T * B * H], direct[T * B * H];
    run_steps(model, packed);
    rnn_unpack_weights(model);
    run_steps(model, direct);
    TU_OK(rnn_pack_weights(model));
    return tu_close_f(after, packed, direct, T * B * H, 1e-5);
}

/* Steps of a packed model change when its parameters change, and follow them. */
static int follows(rnn_t *model, const char *after, const float *before)
{
    float y[T * B * H];
    run_steps(model, y);
    int changed = memcmp(y, before, sizeof y) != 0;
    if (!changed)
        print_error("%s: packed steps did not change\n", after);
    return changed & packed_matches_direct(model, after);
}

static void fill_grads(rnn_t *model, float value)
{
    float *grads = NULL;
    size_t count = 0;
    TU_OK(rnn_grads(model, &grads, &count));
    for (size_t i = 0; i < count; ++i)
        grads[i] = value * (float)(i % 3 + 1);
}

static void library_updates_refresh_the_packed_copy(void **state)
{
    (void)state;
    rnn_t *model = make_model(0), *donor = make_model(0);
    TU_OK(rnn_init(donor, RNN_INIT_XAVIER_UNIFORM, 99));
    size_t size = 0, written = 0;
    TU_OK(rnn_save_size(donor, &size));
    void *file = malloc(size);
    assert_non_null(file);
    TU_OK(rnn_save_buffer(donor, file, size, &written));
    rnn_optim_t *adam = NULL;
    rnn_optim_config oc = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.05f);
    TU_OK(rnn_optim_create(&adam, model, &oc));

    TU_OK(rnn_pack_weights(model));
    float y[T * B * H];
    int ok = packed_matches_direct(model, "after packing");
    run_steps(model, y);
    fill_grads(model, 0.1f);
    TU_OK(rnn_sgd_step(model, 0.5f));
    ok &= follows(model, "after rnn_sgd_step", y);
    run_steps(model, y);
    TU_OK(rnn_optim_step(adam, model));
    ok &= follows(model, "after rnn_optim_step", y);
    run_steps(model, y);
    TU_OK(rnn_init(model, RNN_INIT_ORTHOGONAL, 5));
    ok &= follows(model, "after rnn_init", y);
    run_steps(model, y);
    TU_OK(rnn_init_uniform(model, 6));
    ok &= follows(model, "after rnn_init_uniform", y);
    run_steps(model, y);
    TU_OK(rnn_load_params_buffer(model, file, written));
    ok &= follows(model, "after rnn_load_params_buffer", y);

    rnn_optim_destroy(adam);
    free(file);
    rnn_destroy(donor);
    rnn_destroy(model);
    assert_true(ok);
}

static void pointer_writes_reach_the_steps_after_packing_again(void **state)
{
    (void)state;
    rnn_t *model = make_model(0);
    TU_OK(rnn_pack_weights(model));
    float y[T * B * H];
    run_steps(model, y);
    float *params = NULL;
    size_t count = 0;
    TU_OK(rnn_params(model, &params, &count));
    for (size_t i = 0; i < count; ++i)
        params[i] *= -0.5f;
    TU_OK(rnn_pack_weights(model));
    int ok = follows(model, "after pointer writes and a re-pack", y);
    rnn_destroy(model);
    assert_true(ok);
}

static void unpacking_returns_to_the_parameters(void **state)
{
    (void)state;
    rnn_t *model = make_model(0);
    float direct[T * B * H], packed[T * B * H], unpacked[T * B * H];
    run_steps(model, direct);
    TU_OK(rnn_pack_weights(model));
    run_steps(model, packed);
    rnn_unpack_weights(model);
    rnn_unpack_weights(model); /* twice: no-op */
    rnn_unpack_weights(NULL);
    run_steps(model, unpacked);
    assert_memory_equal(unpacked, direct, sizeof direct);
    int ok = tu_close_f("packed vs direct", packed, direct, T * B * H, 1e-5);
    rnn_destroy(model); /* and destroying a packed model frees its copy */
    rnn_t *packed_model = make_model(0);
    TU_OK(rnn_pack_weights(packed_model));
    rnn_destroy(packed_model);
    assert_true(ok);
}

/* H % 1024 == 0: the packed rows are padded (rnn__copy_ld). */
static void packed_steps_at_h1024_match_direct_steps(void **state)
{
    (void)state;
    enum { WIDE = 1024, IN = 5, STEPS = 3 };
    rnn_config cfg = rnn_config_default(IN, WIDE);
    cfg.num_layers = 2;
    int ok = 1;
    for (int32_t batch = 1; batch <= 3; batch += 2) {
        rnn_t *model = NULL;
        TU_OK(rnn_create(&model, &cfg));
        rnn_state_t *direct = NULL, *packed = NULL;
        TU_OK(rnn_state_create(&direct, model, batch));
        TU_OK(rnn_state_create(&packed, model, batch));
        float *x_t = tu_floats((size_t)batch * IN);
        float *y_direct = tu_floats((size_t)batch * WIDE);
        float *y_packed = tu_floats((size_t)batch * WIDE);
        for (int32_t t = 0; t < STEPS; ++t) {
            for (int32_t k = 0; k < batch * IN; ++k)
                x_t[k] = 0.25f * (float)((t + k) % 7) - 0.75f;
            rnn_unpack_weights(model);
            TU_OK(rnn_step(model, direct, x_t, y_direct));
            TU_OK(rnn_pack_weights(model));
            TU_OK(rnn_step(model, packed, x_t, y_packed));
            ok &= tu_close_f("H = 1024 packed vs direct", y_packed, y_direct,
                             (size_t)batch * WIDE, 1e-5);
        }
        free(x_t);
        free(y_direct);
        free(y_packed);
        rnn_state_destroy(direct);
        rnn_state_destroy(packed);
        rnn_destroy(model);
    }
    assert_true(ok);
}

static void models_that_cannot_stream_are_refused(void **state)
{
    (void)state;
    rnn_t *bidirectional = make_model(1);
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_pack_weights",
             rnn_pack_weights(bidirectional));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_pack_weights", rnn_pack_weights(NULL));
    rnn_destroy(bidirectional);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(library_updates_refresh_the_packed_copy),
        cmocka_unit_test(pointer_writes_reach_the_steps_after_packing_again),
        cmocka_unit_test(unpacking_returns_to_the_parameters),
        cmocka_unit_test(packed_steps_at_h1024_match_direct_steps),
        cmocka_unit_test(models_that_cannot_stream_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
