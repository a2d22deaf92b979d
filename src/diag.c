/* SPDX-License-Identifier: MIT
 *
 * diag.c - diagnostics: non-finite values in the flat buffers, and the
 * spectral radius of each W_hh (LAPACKE sgeev).
 */
#include "internal.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

/* The tensor holding flat index i (tensors are in offset order). */
static const rnn_tensor *tensor_of(const rnn_t *model, size_t i)
{
    const rnn_tensor *found = &model->tensors[0];
    for (int32_t k = 1; k < model->num_tensors; ++k)
        if (model->tensors[k].offset <= i)
            found = &model->tensors[k];
    return found;
}

rnn_status rnn__check_finite(const rnn_t *model, const float *buffer,
                             const char *what, const char *func)
{
    for (size_t i = 0; i < model->num_params; ++i) {
        if (isfinite(buffer[i]))
            continue;
        const rnn_tensor *t = tensor_of(model, i);
        return rnn__fail(RNN_E_NONFINITE, func, "%s of %s[%zu] is %s", what,
                         t->name, i - t->offset,
                         isnan(buffer[i]) ? "NaN" : "Inf");
    }
    return RNN_OK;
}

rnn_status rnn__check_array(const float *array, size_t n, const char *name,
                            const char *func)
{
    for (size_t i = 0; array != NULL && i < n; ++i)
        if (!isfinite(array[i]))
            return rnn__fail(RNN_E_NONFINITE, func, "%s[%zu] is %s", name, i,
                             isnan(array[i]) ? "NaN" : "Inf");
    return RNN_OK;
}

rnn_status rnn_set_check_finite(rnn_t *model, int32_t enabled)
{
    static const char *func = "rnn_set_check_finite";
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    if (enabled != 0 && enabled != 1)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "enabled must be 0 or 1 (got %d)", enabled);
    model->check_finite = enabled == 1;
    return RNN_OK;
}

rnn_status rnn_check_grads(const rnn_t *model)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_check_grads", "model is NULL");
    return rnn__check_finite(model, model->grads, "gradient", "rnn_check_grads");
}

rnn_status rnn_check_params(const rnn_t *model)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_check_params", "model is NULL");
    return rnn__check_finite(model, model->params, "parameter",
                             "rnn_check_params");
}

/* max |eigenvalue| of a copy of w_hh, destroyed by sgeev. */
static rnn_status radius_of(const float *w_hh, int32_t hidden, float *work,
                            float *radius, const char *func)
{
    const size_t hh = (size_t)hidden * hidden;
    float *a = work, *re = work + hh, *im = re + hidden;
    memcpy(a, w_hh, hh * sizeof(float));
    lapack_int info = LAPACKE_sgeev(LAPACK_ROW_MAJOR, 'N', 'N', hidden, a, hidden,
                                    re, im, NULL, 1, NULL, 1);
    if (info != 0)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "LAPACKE_sgeev failed (info %d)", (int)info);
    double largest = 0.0;
    for (int32_t i = 0; i < hidden; ++i)
        largest = fmax(largest, hypot(re[i], im[i]));
    *radius = (float)largest;
    return RNN_OK;
}

rnn_status rnn_spectral_radius(const rnn_t *model, float *radius)
{
    static const char *func = "rnn_spectral_radius";
    if (model == NULL || radius == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "radius");
    /* A gated cell's W_hh is G maps read through gates: no one square
     * matrix whose radius says whether the state grows. */
    if (model->cell_ops->gates != 1)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "the model has a %s cell, whose weight_hh holds %d "
                         "gate blocks: the spectral radius is only defined "
                         "for the Elman cell's square W_hh",
                         model->cell_ops->name, model->cell_ops->gates);
    rnn_status status = rnn__check_finite(model, model->params, "parameter", func);
    if (status != RNN_OK)
        return status;
    const int32_t hidden = model->cfg.hidden_size;
    size_t floats;
    if (!rnn__mul((size_t)hidden, (size_t)hidden + 2, &floats) ||
        floats + (size_t)model->num_cells < floats)
        return rnn__fail(RNN_E_SHAPE, func, "hidden_size %d is too large", hidden);
    /* Radii land in the caller's array only once all of them succeeded. */
    float *radii = rnn__calloc(floats + (size_t)model->num_cells, sizeof(float));
    if (radii == NULL)
        return rnn__fail_nomem(func);
    float *work = radii + model->num_cells;
    for (int32_t cell = 0; cell < model->num_cells && status == RNN_OK; ++cell)
        status = radius_of(rnn__cell(model, model->params, cell).w_hh, hidden,
                           work, &radii[cell], func);
    if (status == RNN_OK)
        memcpy(radius, radii, (size_t)model->num_cells * sizeof(float));
    rnn__free(radii);
    return status;
}
