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

int main(void)
{
    static const tc_table_test table[] = {
        TC_COMMON_TESTS,
    };
    return tc_run("test_lstm", RNN_CELL_LSTM, NULL, 0, table, sizeof table / sizeof table[0]);
}
