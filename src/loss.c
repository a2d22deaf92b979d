/* SPDX-License-Identifier: MIT
 *
 * loss.c - losses on logits, with their gradients.
 */
#include "internal.h"

#include <math.h>

static rnn_status check_reduction(int32_t reduction, const char *func)
{
    if (reduction == RNN_REDUCTION_MEAN || reduction == RNN_REDUCTION_SUM)
        return RNN_OK;
    return rnn__fail(RNN_E_INVALID_ARG, func,
                     "reduction must be RNN_REDUCTION_MEAN or RNN_REDUCTION_SUM "
                     "(got %d)", reduction);
}

/* sigmoid(z) without overflow for any finite z. */
static double stable_sigmoid(double z)
{
    if (z >= 0.0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

rnn_status rnn_loss_bce_with_logits(int32_t n, const float *logits,
                                    const float *targets, int32_t reduction,
                                    float *loss, float *dlogits)
{
    static const char *func = "rnn_loss_bce_with_logits";
    if (logits == NULL || targets == NULL || loss == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         logits == NULL ? "logits"
                                        : targets == NULL ? "targets" : "loss");
    if (n <= 0)
        return rnn__fail(RNN_E_INVALID_ARG, func, "n must be > 0 (got %d)", n);
    rnn_status status = check_reduction(reduction, func);
    if (status != RNN_OK)
        return status;
    for (int32_t i = 0; i < n; ++i)
        if (!(targets[i] >= 0.0f && targets[i] <= 1.0f))
            return rnn__fail(RNN_E_INVALID_ARG, func,
                             "targets[%d] = %g is outside [0, 1]", i,
                             (double)targets[i]);
    const double scale = reduction == RNN_REDUCTION_MEAN ? 1.0 / n : 1.0;
    double total = 0.0;
    for (int32_t i = 0; i < n; ++i) {
        const double z = logits[i], y = targets[i];
        /* max(z, 0) - z y + log(1 + e^-|z|): no exp of a large argument. */
        total += fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
        if (dlogits != NULL)
            dlogits[i] = (float)((stable_sigmoid(z) - y) * scale);
    }
    *loss = (float)(total * scale);
    return RNN_OK;
}
