/* SPDX-License-Identifier: MIT
 *
 * compat.c - the by-value initialisers of librnn 0.1.0, kept for the
 * binaries built against 0.1.0 (and FFIs that bound them). Such a caller
 * reserved room for the 0.1.0 struct only, so these return exactly the
 * 0.1.0 layout whatever rnn.h's struct has grown to. rnn.h gives code
 * compiled against it inline versions over the pointer initialisers
 * instead (its declarations of these two are hidden from the library).
 */
#include "internal.h"
#include "released.h"

#include <string.h>

RNN_API rnn__config_0_1 rnn_config_default(int32_t input_size,
                                           int32_t hidden_size);
RNN_API rnn__optim_config_0_1 rnn_optim_config_default(int32_t kind, float lr);

rnn__config_0_1 rnn_config_default(int32_t input_size, int32_t hidden_size)
{
    rnn_config full;
    rnn__config_defaults(&full, input_size, hidden_size);
    rnn__config_0_1 old;
    rnn__struct_write(&old, sizeof old, &full, &rnn__config_layout);
    return old;
}

rnn__optim_config_0_1 rnn_optim_config_default(int32_t kind, float lr)
{
    rnn_optim_config full;
    rnn__optim_config_defaults(&full, kind, lr);
    rnn__optim_config_0_1 old;
    rnn__struct_write(&old, sizeof old, &full, &rnn__optim_config_layout);
    return old;
}
