/* SPDX-License-Identifier: MIT
 *
 * test_gru.c - the GRU cell against the double-precision reference
 * (reference_cells.c, torch.nn.GRU's equations, b_hn inside r * (...)) on
 * the cells' shape table (cellcase.c, without its proj_size rows): the
 * reference's own gradients against central differences, then librnn's y,
 * h_n and logits and every gradient (parameters, dx, dh0).
 */
#include "cellcase.h"

int main(void)
{
    static const tc_table_test table[] = { TC_COMMON_TESTS };
    return tc_run("test_gru", RNN_CELL_GRU, table, sizeof table / sizeof table[0]);
}
