/* SPDX-License-Identifier: MIT
 *
 * test_lstm.c - the LSTM cell against the double-precision reference
 * (reference_cells.c, torch.nn.LSTM's equations) on the cells' shape table
 * (cellcase.c): the reference's own gradients against central differences,
 * then librnn's y, h_n, c_n and logits and every gradient (parameters, dx,
 * dh0, dc0), with proj_size rows. And one oracle that needs no reference:
 * with zero weights the gates are the sigmoids and tanh of their biases, so
 * c and its gradient have a closed form. torch itself is the oracle of
 * python/tests/test_torch_cells.py.
 */
#include "cellcase.h"

#include <math.h>
#include <string.h>

static double sigmoid(double a)
{
    return 1.0 / (1.0 + exp(-a));
}

/* Zero weights, biases b_ih per gate (i, f, g, o) and b_hh 0: every step
 * c_t = f c_{t-1} + i g and h_t = o tanh(c_t), so over T steps
 * c_n = f^T c0 + i g (1 + f + ... + f^(T-1)); and from dc_n alone
 * (h_t does not reach the gates through zero W_hh) dc0 = f^T dc_n. */
static void constant_gates_give_the_closed_form(void **state)
{
    (void)state;
    enum { I = 2, H = 3, T = 4, B = 2 };
    static const double bias[4] = {0.5, 1.0, 0.3, -0.2}; /* i, f, g, o */
    rnn_config cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, I, H));
    cfg.cell = RNN_CELL_LSTM;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    float *params = NULL;
    size_t count = 0;
    TU_OK(rnn_params(model, &params, &count));
    assert_int_equal(count, 4 * H * (I + H) + 2 * 4 * H);
    memset(params, 0, count * sizeof(float));
    float *b_ih = params + 4 * H * (I + H);
    for (int gate = 0; gate < 4; ++gate)
        for (int j = 0; j < H; ++j)
            b_ih[gate * H + j] = (float)bias[gate];

    float x[T * B * I], y[T * B * H], c0[B * H], h_n[B * H], c_n[B * H];
    for (int k = 0; k < T * B * I; ++k)
        x[k] = (float)(k % 5) - 2.0f; /* reaches no gate: W_ih is zero */
    for (int k = 0; k < B * H; ++k)
        c0[k] = 0.25f * (float)k - 0.5f;
    rnn_forward_args fa;
    TU_OK(rnn_forward_args_init(&fa, sizeof fa));
    fa.seq_len = T;
    fa.batch = B;
    fa.x = x;
    fa.c0 = c0;
    fa.y = y;
    fa.h_n = h_n;
    fa.c_n = c_n;
    TU_OK(rnn_forward_ex(model, &fa));

    const double i = sigmoid(bias[0]), f = sigmoid(bias[1]);
    const double g = tanh(bias[2]), o = sigmoid(bias[3]);
    double f_t = 1.0, geometric = 0.0;
    for (int t = 0; t < T; ++t) {
        geometric += f_t;
        f_t *= f;
    }
    for (int k = 0; k < B * H; ++k) {
        const double c_want = f_t * c0[k] + i * g * geometric;
        assert_true(fabs(c_n[k] - c_want) < 1e-6);
        assert_true(fabs(h_n[k] - o * tanh(c_want)) < 1e-6);
        assert_true(fabs(y[(T - 1) * B * H + k] - o * tanh(c_want)) < 1e-6);
    }

    float dc_n[B * H], dc0[B * H];
    for (int k = 0; k < B * H; ++k)
        dc_n[k] = 1.0f - 0.3f * (float)k;
    rnn_backward_args ba;
    TU_OK(rnn_backward_args_init(&ba, sizeof ba));
    ba.dc_n = dc_n;
    ba.dc0 = dc0;
    TU_OK(rnn_backward_ex(model, &ba));
    for (int k = 0; k < B * H; ++k)
        assert_true(fabs(dc0[k] - f_t * dc_n[k]) < 1e-6);
    rnn_destroy(model);
}

int main(void)
{
    static const struct CMUnitTest plain[] = {
        cmocka_unit_test(constant_gates_give_the_closed_form),
    };
    static const tc_table_test table[] = {
        TC_COMMON_TESTS,
    };
    return tc_run("test_lstm", RNN_CELL_LSTM, plain, sizeof plain / sizeof plain[0], table,
                  sizeof table / sizeof table[0]);
}
