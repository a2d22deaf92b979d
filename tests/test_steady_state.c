/* SPDX-License-Identifier: MIT
 *
 * test_steady_state.c - after the first call of a given shape, forward,
 * backward, the head, streaming steps and optimizer steps allocate nothing
 * (counted through rnn_set_allocator).
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static int install_counter(void **state)
{
    (void)state;
    tu_count_allocations(true);
    return 0;
}

static int restore_malloc(void **state)
{
    (void)state;
    return rnn_set_allocator(NULL) == RNN_OK ? 0 : -1;
}

enum { I = 3, H = 8, T = 6, B = 4, O = 2 };

/* One training iteration: forward, head, loss, backward, clip, optimizer. */
static void train_once(rnn_t *model, rnn_optim_t *optim, const float *x,
                       const int32_t *lengths)
{
    float logits[B * O], targets[B * O], dlogits[B * O], loss, norm;
    for (int i = 0; i < B * O; ++i)
        targets[i] = (float)(i % 2);
    assert_int_equal(rnn_zero_grad(model), RNN_OK);
    assert_int_equal(rnn_forward(model, T, B, x, lengths, NULL, NULL, NULL), RNN_OK);
    assert_int_equal(rnn_head_forward(model, logits), RNN_OK);
    assert_int_equal(rnn_loss_bce_with_logits(B * O, logits, targets,
                                              RNN_REDUCTION_MEAN, &loss, dlogits),
                     RNN_OK);
    assert_int_equal(rnn_head_backward(model, dlogits), RNN_OK);
    assert_int_equal(rnn_backward(model, NULL, NULL, NULL, NULL), RNN_OK);
    assert_int_equal(rnn_clip_grad_norm(model, 1.0f, &norm), RNN_OK);
    assert_int_equal(rnn_optim_step(optim, model), RNN_OK);
}

static void training_allocates_nothing_after_the_first_iteration(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = 2;
    cfg.bidirectional = 1;
    cfg.output_size = O;
    rnn_t *model = NULL;
    rnn_optim_t *optim = NULL;
    assert_int_equal(rnn_create(&model, &cfg), RNN_OK);
    rnn_optim_config adam = rnn_optim_config_default(RNN_OPTIM_ADAM, 1e-3f);
    assert_int_equal(rnn_optim_create(&optim, model, &adam), RNN_OK);
    float x[T * B * I];
    for (int i = 0; i < T * B * I; ++i)
        x[i] = (float)(i % 7) * 0.1f - 0.3f;
    const int32_t lengths[B] = {6, 1, 3, 5};

    train_once(model, optim, x, lengths);
    const size_t after_first = tu_alloc_calls;
    for (int iteration = 0; iteration < 5; ++iteration)
        train_once(model, optim, x, iteration % 2 ? lengths : NULL);
    assert_int_equal(tu_alloc_calls, after_first);

    rnn_optim_destroy(optim);
    rnn_destroy(model);
}

static void smaller_shapes_reuse_the_workspace(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(I, H);
    rnn_t *model = NULL;
    assert_int_equal(rnn_create(&model, &cfg), RNN_OK);
    float x[T * B * I] = {0}, dy[T * B * H] = {0};
    assert_int_equal(rnn_forward(model, T, B, x, NULL, NULL, NULL, NULL), RNN_OK);
    assert_int_equal(rnn_backward(model, dy, NULL, NULL, NULL), RNN_OK);
    const size_t after_first = tu_alloc_calls;
    assert_int_equal(rnn_forward(model, T - 2, B - 1, x, NULL, NULL, NULL, NULL),
                     RNN_OK);
    assert_int_equal(rnn_backward(model, dy, NULL, NULL, NULL), RNN_OK);
    assert_int_equal(tu_alloc_calls, after_first);
    rnn_destroy(model);
}

/* Stepping, checked, with or without packed weights: only create and pack
 * allocate; a second pack (a refresh) does not. */
static void check_streaming_allocates_nothing(bool packed)
{
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = 3;
    cfg.output_size = O;
    rnn_t *model = NULL;
    rnn_state_t *stream = NULL;
    assert_int_equal(rnn_create(&model, &cfg), RNN_OK);
    assert_int_equal(rnn_set_check_finite(model, 1), RNN_OK);
    if (packed)
        assert_int_equal(rnn_pack_weights(model), RNN_OK);
    assert_int_equal(rnn_state_create(&stream, model, B), RNN_OK);
    const size_t after_create = tu_alloc_calls;
    float x_t[B * I] = {0.5f}, y_t[B * H], logits[B * O];
    for (int t = 0; t < 20; ++t) {
        assert_int_equal(rnn_step(model, stream, x_t, y_t), RNN_OK);
        assert_int_equal(rnn_step_head(model, stream, logits), RNN_OK);
        if (packed && t == 10)
            assert_int_equal(rnn_pack_weights(model), RNN_OK);
    }
    assert_int_equal(tu_alloc_calls, after_create);
    rnn_state_destroy(stream);
    rnn_destroy(model);
}

static void streaming_steps_allocate_nothing(void **state)
{
    (void)state;
    check_streaming_allocates_nothing(false);
}

static void packed_streaming_steps_allocate_nothing(void **state)
{
    (void)state;
    check_streaming_allocates_nothing(true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(training_allocates_nothing_after_the_first_iteration),
        cmocka_unit_test(smaller_shapes_reuse_the_workspace),
        cmocka_unit_test(streaming_steps_allocate_nothing),
        cmocka_unit_test(packed_streaming_steps_allocate_nothing),
    };
    return cmocka_run_group_tests(tests, install_counter, restore_malloc);
}
