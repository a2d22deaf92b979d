/* SPDX-License-Identifier: MIT
 *
 * optim.c - parameter updates over the flat buffers.
 */
#include "internal.h"

#include <math.h>

rnn_status rnn_sgd_step(rnn_t *model, float lr)
{
    static const char *func = "rnn_sgd_step";
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    if (!isfinite(lr))
        return rnn__fail(RNN_E_INVALID_ARG, func, "lr must be finite (got %g)",
                         (double)lr);
    float *params = model->params;
    const float *grads = model->grads;
    for (size_t i = 0; i < model->num_params; ++i)
        params[i] -= lr * grads[i];
    return RNN_OK;
}
