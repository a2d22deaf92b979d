/* SPDX-License-Identifier: MIT
 *
 * test_lstm.c - the LSTM cell against the double-precision reference
 * (reference_cells.c, torch.nn.LSTM's equations) on the cells' shape table
 * (cellcase.c): the reference's own gradients against central differences,
 * then librnn's y, h_n, c_n and logits and every gradient (parameters, dx,
 * dh0, dc0), with proj_size rows. torch itself is the oracle of
 * python/tests/test_torch_cells.py.
 */
#include "cellcase.h"

static int library_skips(const tc_shape *s)
{
    return !tc_library_runs(s);
}

/* The rows tc_library_runs leaves out are those librnn refuses: when it
 * accepts them, this fails and tc_library_runs must take them in. */
static void rows_left_out_are_refused_by_librnn(void **state)
{
    const tc_shape *s = tc_row(state);
    rnn_config cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, s->I, s->H));
    cfg.cell = RNN_CELL_LSTM;
    cfg.proj_size = s->P;
    rnn_t *model = NULL;
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_create", rnn_create(&model, &cfg));
    assert_null(model);
}

int main(void)
{
    static const tc_table_test table[] = {
        TC_COMMON_TESTS,
        TC_TABLE_TEST(rows_left_out_are_refused_by_librnn, library_skips),
    };
    return tc_run("test_lstm", RNN_CELL_LSTM, table, sizeof table / sizeof table[0]);
}
