/* SPDX-License-Identifier: MIT
 *
 * test_call_args.c - the versioned argument structs of rnn_forward_ex and
 * rnn_backward_ex: the same bits as the positional calls they generalise,
 * their initialisers and struct_size rule, and each argument a model
 * cannot take refused by name with nothing written; the configuration
 * fields of the cells and of token input refused when out of range.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static const tu_shape *row_named(const char *name)
{
    for (size_t i = 0; i < tu_shape_count; ++i)
        if (strcmp(tu_shapes[i].name, name) == 0)
            return &tu_shapes[i];
    fail_msg("no shape row %s", name);
    return NULL;
}

static void assert_same_bits(const char *what, const float *a, const float *b,
                             size_t n)
{
    if (memcmp(a, b, n * sizeof(float)) != 0)
        fail_msg("%s differs between the two calls", what);
}

static void forward_ex_writes_what_rnn_forward_and_inference_write(void **state)
{
    (void)state;
    tu_case c;
    tu_case_init(&c, row_named("lengths_bidirectional"), 11);
    tu_out plain, ex;
    tu_out_alloc(&c, &plain);
    tu_out_alloc(&c, &ex);
    TU_OK(rnn_forward(c.model, c.s.T, c.s.B, c.x, c.lengths, c.h0, plain.y,
                      plain.h_n));
    rnn_forward_args args;
    TU_OK(rnn_forward_args_init(&args, sizeof args));
    args.seq_len = c.s.T;
    args.batch = c.s.B;
    args.x = c.x;
    args.lengths = c.lengths;
    args.h0 = c.h0;
    args.y = ex.y;
    args.h_n = ex.h_n;
    TU_OK(rnn_forward_ex(c.model, &args));
    assert_same_bits("y", plain.y, ex.y, c.n_y);
    assert_same_bits("h_n", plain.h_n, ex.h_n, c.n_h);

    tu_sentinel_fill(ex.y, c.n_y);
    args.inference = 1;
    TU_OK(rnn_forward_ex(c.model, &args));
    assert_same_bits("inference y", plain.y, ex.y, c.n_y);
    TU_FAILS(RNN_E_STATE, "rnn_backward", rnn_backward(c.model, c.dy, NULL,
                                                      NULL, NULL));
    tu_out_free(&plain);
    tu_out_free(&ex);
    tu_case_free(&c);
}

static void backward_ex_adds_what_rnn_backward_adds(void **state)
{
    (void)state;
    tu_case c;
    tu_case_init(&c, row_named("head_last_lengths"), 12);
    tu_out plain, ex;
    tu_out_alloc(&c, &plain);
    tu_out_alloc(&c, &ex);
    TU_OK(rnn_zero_grad(c.model));
    tu_case_forward(&c, &plain);
    tu_case_backward(&c, &plain);

    TU_OK(rnn_zero_grad(c.model));
    tu_case_forward(&c, &ex);
    TU_OK(rnn_head_backward(c.model, c.dlogits));
    rnn_backward_args args;
    TU_OK(rnn_backward_args_init(&args, sizeof args));
    args.dy = c.dy;
    args.dh_n = c.dh_n;
    args.dx = ex.dx;
    args.dh0 = ex.dh0;
    TU_OK(rnn_backward_ex(c.model, &args));
    float *grads = NULL;
    TU_OK(rnn_grads(c.model, &grads, NULL));
    assert_same_bits("gradients", plain.grads, grads, c.n_params);
    assert_same_bits("dx", plain.dx, ex.dx, c.n_x);
    assert_same_bits("dh0", plain.dh0, ex.dh0, c.n_h);
    tu_out_free(&plain);
    tu_out_free(&ex);
    tu_case_free(&c);
}

static void args_initialisers_follow_the_struct_size_rule(void **state)
{
    (void)state;
    rnn_forward_args fwd;
    memset(&fwd, 0x5a, sizeof fwd);
    TU_OK(rnn_forward_args_init(&fwd, sizeof fwd));
    assert_int_equal(fwd.struct_size, sizeof fwd);
    assert_null(fwd.x);
    assert_null(fwd.c_n);
    assert_int_equal(fwd.inference, 0);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_args_init",
             rnn_forward_args_init(&fwd, sizeof fwd - 8));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_args_init",
             rnn_forward_args_init(NULL, sizeof fwd));
    rnn_backward_args bwd;
    TU_OK(rnn_backward_args_init(&bwd, sizeof bwd));
    assert_int_equal(bwd.struct_size, sizeof bwd);
    assert_null(bwd.dc0);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_backward_args_init",
             rnn_backward_args_init(&bwd, 0));

    /* A newer caller's struct: its unknown tail must be zero. */
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    struct {
        rnn_forward_args args;
        int64_t newer_field;
    } newer;
    memset(&newer, 0, sizeof newer);
    TU_OK(rnn_forward_args_init(&newer.args, sizeof newer));
    float x[2 * 2] = {0.5f, -1.0f, 0.25f, 2.0f}, y[2 * 3] = {0};
    newer.args.struct_size = sizeof newer;
    newer.args.seq_len = 2;
    newer.args.batch = 1;
    newer.args.x = x;
    newer.args.y = y;
    TU_OK(rnn_forward_ex(model, &newer.args));
    newer.newer_field = 1;
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_forward_ex",
             rnn_forward_ex(model, &newer.args));
    rnn_destroy(model);
}

/* Each argument the Elman model cannot take: refused by name, the outputs
 * and the state untouched. */
static void arguments_the_model_cannot_take_are_refused(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    float x[4] = {0.5f, -1.0f, 0.25f, 2.0f}, y[2 * 3], c[3];
    const int32_t ids[2] = {0, 1};
    tu_sentinel_fill(y, 6);
    tu_sentinel_fill(c, 3);
    static const char *const needles[] = {"ids", "c0", "c_n", "logits",
                                          "inference", "reserved"};
    for (int i = 0; i < 6; ++i) {
        rnn_forward_args args;
        TU_OK(rnn_forward_args_init(&args, sizeof args));
        args.seq_len = 2;
        args.batch = 1;
        args.x = x;
        args.y = y;
        switch (i) {
        case 0: args.ids = ids; break;
        case 1: args.c0 = c; break;
        case 2: args.c_n = c; break;
        case 3: args.logits = c; break;
        case 4: args.inference = 2; break;
        default: args.reserved = 1; break;
        }
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_ex", rnn_forward_ex(model, &args));
        assert_non_null(strstr(rnn_last_error(), needles[i]));
        assert_true(tu_sentinel_intact("y", y, 6));
        assert_true(tu_sentinel_intact("c", c, 3));
    }
    TU_OK(rnn_forward(model, 2, 1, x, NULL, NULL, y, NULL));
    rnn_backward_args bwd;
    TU_OK(rnn_backward_args_init(&bwd, sizeof bwd));
    bwd.dy = y;
    bwd.dc0 = c;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_backward_ex", rnn_backward_ex(model, &bwd));
    assert_non_null(strstr(rnn_last_error(), "dc0"));
    assert_true(tu_sentinel_intact("dc0", c, 3));

    rnn_state_t *stream = NULL;
    TU_OK(rnn_state_create(&stream, model, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_get_cell",
             rnn_state_get_cell(stream, c));
    assert_true(tu_sentinel_intact("c", c, 3));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_set_cell",
             rnn_state_set_cell(stream, c));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_step_tokens",
             rnn_step_tokens(model, stream, ids, y));
    rnn_state_destroy(stream);
    rnn_destroy(model);
}

static void cell_and_token_fields_out_of_range_are_refused(void **state)
{
    (void)state;
    static const struct {
        int32_t cell, nonlinearity, proj_size, vocab, has_padding, padding;
        const char *needle;
    } cases[] = {
        {3, RNN_TANH, 0, 0, 0, 0, "cell"},
        {-1, RNN_TANH, 0, 0, 0, 0, "cell"},
        {RNN_CELL_LSTM, RNN_RELU, 0, 0, 0, 0, "nonlinearity"},
        {RNN_CELL_GRU, RNN_RELU, 0, 0, 0, 0, "nonlinearity"},
        {RNN_CELL_RNN, RNN_TANH, 2, 0, 0, 0, "proj_size"},
        {RNN_CELL_GRU, RNN_TANH, 2, 0, 0, 0, "proj_size"},
        {RNN_CELL_LSTM, RNN_TANH, 4, 0, 0, 0, "proj_size"},
        {RNN_CELL_LSTM, RNN_TANH, -1, 0, 0, 0, "proj_size"},
        {RNN_CELL_RNN, RNN_TANH, 0, -5, 0, 0, "vocab_size"},
        {RNN_CELL_RNN, RNN_TANH, 0, 0, 1, 0, "padding_idx"},
        {RNN_CELL_RNN, RNN_TANH, 0, 10, 2, 0, "has_padding_idx"},
        {RNN_CELL_RNN, RNN_TANH, 0, 10, 0, 3, "has_padding_idx"},
        {RNN_CELL_RNN, RNN_TANH, 0, 10, 1, 10, "padding_idx"},
        {RNN_CELL_RNN, RNN_TANH, 0, 10, 1, -11, "padding_idx"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        rnn_config cfg = rnn_config_default(2, 4);
        cfg.cell = cases[i].cell;
        cfg.nonlinearity = cases[i].nonlinearity;
        cfg.proj_size = cases[i].proj_size;
        cfg.vocab_size = cases[i].vocab;
        cfg.has_padding_idx = cases[i].has_padding;
        cfg.padding_idx = cases[i].padding;
        rnn_t *model = (rnn_t *)&cfg; /* must become NULL */
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&model, &cfg));
        assert_null(model);
        if (strstr(rnn_last_error(), cases[i].needle) == NULL)
            fail_msg("case %zu: \"%s\" does not name %s", i, rnn_last_error(),
                     cases[i].needle);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forward_ex_writes_what_rnn_forward_and_inference_write),
        cmocka_unit_test(backward_ex_adds_what_rnn_backward_adds),
        cmocka_unit_test(args_initialisers_follow_the_struct_size_rule),
        cmocka_unit_test(arguments_the_model_cannot_take_are_refused),
        cmocka_unit_test(cell_and_token_fields_out_of_range_are_refused),
    };
    return tu_run("test_call_args", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
