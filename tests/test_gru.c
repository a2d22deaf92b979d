/* SPDX-License-Identifier: MIT
 *
 * test_gru.c - the GRU cell against the double-precision reference
 * (reference_cells.c, torch.nn.GRU's equations, b_hn inside r * (...)) on
 * the cells' shape table (cellcase.c, without its proj_size rows): the
 * reference's own gradients against central differences, then librnn's y,
 * h_n and logits and every gradient (parameters, dx, dh0); and the cell
 * state arguments a GRU refuses.
 */
#include "cellcase.h"

#include <string.h>

/* c_n to the forward, dc_n or dc0 to the backward of a GRU: refused by
 * name, nothing written (c0 and the state's cell: test_gru_cell.c). */
static void cell_state_arguments_are_refused(void **state)
{
    (void)state;
    rnn_config cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, 2, 3));
    cfg.cell = RNN_CELL_GRU;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    /* T = 2, B = 2, I = 2, H = 3 */
    float x[2 * 2 * 2] = { 0.5f, -1.0f, 0.25f, 2.0f, 1.5f, -0.5f, 0.0f, 1.0f };
    float y[2 * 2 * 3], c[2 * 3], dx[2 * 2 * 2];
    tu_sentinel_fill(y, 12);
    tu_sentinel_fill(c, 6);
    rnn_forward_args fa;
    TU_OK(rnn_forward_args_init(&fa, sizeof fa));
    fa.seq_len = 2;
    fa.batch = 2;
    fa.x = x;
    fa.y = y;
    fa.c_n = c;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward_ex", rnn_forward_ex(model, &fa));
    assert_non_null(strstr(rnn_last_error(), "c_n"));
    assert_true(tu_sentinel_intact("y", y, 12));
    assert_true(tu_sentinel_intact("c_n", c, 6));

    TU_OK(rnn_forward(model, 2, 2, x, NULL, NULL, y, NULL));
    for (int i = 0; i < 2; i++) {
        rnn_backward_args ba;
        TU_OK(rnn_backward_args_init(&ba, sizeof ba));
        ba.dy = y;
        ba.dx = dx;
        if (i == 0)
            ba.dc_n = c;
        else
            ba.dc0 = c;
        tu_sentinel_fill(dx, 8);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_backward_ex", rnn_backward_ex(model, &ba));
        assert_non_null(strstr(rnn_last_error(), i == 0 ? "dc_n" : "dc0"));
        assert_true(tu_sentinel_intact("dx", dx, 8));
        assert_true(tu_sentinel_intact("dc0", c, 6));
    }
    rnn_destroy(model);
}

int main(void)
{
    static const struct CMUnitTest plain[] = {
        cmocka_unit_test(cell_state_arguments_are_refused),
    };
    static const tc_table_test table[] = { TC_COMMON_TESTS };
    return tc_run("test_gru", RNN_CELL_GRU, plain, sizeof plain / sizeof plain[0], table,
                  sizeof table / sizeof table[0]);
}
