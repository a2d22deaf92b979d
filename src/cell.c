/* SPDX-License-Identifier: MIT
 *
 * cell.c - the registered cells: the one place that lists them (cell.h
 * says what a cell is).
 */
#include "internal.h"

static const rnn_cell_ops *const registered[] = {
    &rnn__cell_elman,
    &rnn__cell_gru,
    &rnn__cell_lstm,
};

const rnn_cell_ops *rnn__cell_select(const rnn_config *cfg)
{
    for (size_t i = 0; i < sizeof registered / sizeof registered[0]; ++i)
        if (registered[i]->serves(cfg))
            return registered[i];
    return NULL;
}
