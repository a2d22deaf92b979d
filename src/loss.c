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
        return rnn__fail(RNN_E_SHAPE, func, "n must be > 0 (got %d)", n);
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

rnn_status rnn_loss_cross_entropy(int32_t n, int32_t classes,
                                  const float *logits, const int32_t *targets,
                                  int32_t ignore_index, int32_t reduction,
                                  float *loss, float *dlogits)
{
    static const char *func = "rnn_loss_cross_entropy";
    if (logits == NULL || targets == NULL || loss == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         logits == NULL ? "logits"
                                        : targets == NULL ? "targets" : "loss");
    if (n <= 0 || classes <= 0)
        return rnn__fail(RNN_E_SHAPE, func,
                         "n and classes must be > 0 (got %d, %d)", n, classes);
    size_t total_floats;
    if (!rnn__mul((size_t)n, (size_t)classes, &total_floats) ||
        total_floats > (size_t)INT32_MAX * 4)
        return rnn__fail(RNN_E_SHAPE, func, "n * classes = %d * %d overflows", n,
                         classes);
    rnn_status status = check_reduction(reduction, func);
    if (status != RNN_OK)
        return status;
    int32_t counted = 0;
    for (int32_t i = 0; i < n; ++i) {
        if (targets[i] == ignore_index)
            continue;
        if (targets[i] < 0 || targets[i] >= classes)
            return rnn__fail(RNN_E_INVALID_ARG, func,
                             "targets[%d] = %d is outside [0, %d) and is not "
                             "ignore_index (%d)",
                             i, targets[i], classes, ignore_index);
        ++counted;
    }
    const double scale =
        reduction == RNN_REDUCTION_SUM ? 1.0 : counted > 0 ? 1.0 / counted : 0.0;
    double total = 0.0;
    for (int32_t i = 0; i < n; ++i) {
        const float *row = logits + (size_t)i * classes;
        float *grad = dlogits != NULL ? dlogits + (size_t)i * classes : NULL;
        if (targets[i] == ignore_index) {
            for (int32_t c = 0; grad != NULL && c < classes; ++c)
                grad[c] = 0.0f;
            continue;
        }
        /* log-sum-exp shifted by the row maximum: exp never overflows. */
        double top = row[0];
        for (int32_t c = 1; c < classes; ++c)
            top = fmax(top, row[c]);
        double sum = 0.0;
        for (int32_t c = 0; c < classes; ++c)
            sum += exp(row[c] - top);
        const double log_sum = top + log(sum);
        total += log_sum - row[targets[i]];
        for (int32_t c = 0; grad != NULL && c < classes; ++c) {
            double p = exp(row[c] - log_sum);
            grad[c] = (float)((p - (c == targets[i] ? 1.0 : 0.0)) * scale);
        }
    }
    *loss = (float)(total * scale);
    return RNN_OK;
}

rnn_status rnn_loss_mse(int32_t n, const float *pred, const float *target,
                        int32_t reduction, float *loss, float *dpred)
{
    static const char *func = "rnn_loss_mse";
    if (pred == NULL || target == NULL || loss == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         pred == NULL ? "pred" : target == NULL ? "target" : "loss");
    if (n <= 0)
        return rnn__fail(RNN_E_SHAPE, func, "n must be > 0 (got %d)", n);
    rnn_status status = check_reduction(reduction, func);
    if (status != RNN_OK)
        return status;
    const double scale = reduction == RNN_REDUCTION_MEAN ? 1.0 / n : 1.0;
    double total = 0.0;
    for (int32_t i = 0; i < n; ++i) {
        const double diff = (double)pred[i] - target[i];
        total += diff * diff;
        if (dpred != NULL)
            dpred[i] = (float)(2.0 * diff * scale);
    }
    *loss = (float)(total * scale);
    return RNN_OK;
}
