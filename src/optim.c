/* SPDX-License-Identifier: MIT
 *
 * optim.c - parameter updates over the flat buffers: plain SGD, optimizer
 * objects (SGD with momentum, Adam, AdamW, PyTorch's update rules) and
 * global-norm gradient clipping.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* One rule for every learning rate, torch.optim's: finite and >= 0 (0 is a
 * warm-up schedule's first value). */
static rnn_status check_lr(float lr, const char *func)
{
    if (lr >= 0.0f && isfinite(lr))
        return RNN_OK;
    return rnn__fail(RNN_E_INVALID_ARG, func,
                     "lr must be finite and >= 0 (got %g)", (double)lr);
}

rnn_status rnn_sgd_step(rnn_t *model, float lr)
{
    static const char *func = "rnn_sgd_step";
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    rnn_status status = check_lr(lr, func);
    if (status != RNN_OK)
        return status;
    float *params = model->params;
    const float *grads = model->grads;
    for (size_t i = 0; i < model->num_params; ++i)
        params[i] -= lr * grads[i];
    rnn__params_changed(model);
    return RNN_OK;
}

void rnn__optim_config_defaults(rnn_optim_config *cfg, int32_t kind, float lr)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->kind = kind;
    cfg->lr = lr;
    cfg->beta1 = 0.9f;
    cfg->beta2 = 0.999f;
    cfg->eps = 1e-8f;
    cfg->weight_decay = kind == RNN_OPTIM_ADAMW ? 0.01f : 0.0f;
}

rnn_status rnn_optim_config_init(rnn_optim_config *cfg, size_t struct_size,
                                 int32_t kind, float lr)
{
    static const char *func = "rnn_optim_config_init";
    if (cfg == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "cfg is NULL");
    rnn_status status = rnn__struct_check_size(
        struct_size, &rnn__optim_config_layout, "cfg", func);
    if (status != RNN_OK)
        return status;
    rnn_optim_config full;
    rnn__optim_config_defaults(&full, kind, lr);
    rnn__struct_write(cfg, struct_size, &full, &rnn__optim_config_layout);
    return RNN_OK;
}

static bool in_range(float value, float lo, float hi)
{
    return value >= lo && value <= hi; /* false for NaN */
}

rnn_status rnn__optim_validate(const rnn_optim_config *cfg, const char *func)
{
    if (cfg->kind < RNN_OPTIM_SGD || cfg->kind > RNN_OPTIM_ADAMW)
        return rnn__fail(RNN_E_INVALID_ARG, func, "unknown optimizer kind %d",
                         cfg->kind);
    rnn_status status = check_lr(cfg->lr, func);
    if (status != RNN_OK)
        return status;
    if (!in_range(cfg->weight_decay, 0.0f, INFINITY) || isinf(cfg->weight_decay))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "weight_decay must be finite and >= 0 (got %g)",
                         (double)cfg->weight_decay);
    if (cfg->reserved != 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "reserved must be 0 (got %d)", cfg->reserved);
    if (cfg->amsgrad != 0 && (cfg->amsgrad != 1 || cfg->kind == RNN_OPTIM_SGD))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "amsgrad must be 0 or 1, and 0 for SGD (got %d)",
                         cfg->amsgrad);
    if (cfg->kind == RNN_OPTIM_SGD) {
        if (!in_range(cfg->momentum, 0.0f, 1e30f) ||
            !in_range(cfg->dampening, 0.0f, 1.0f) ||
            (cfg->nesterov != 0 && cfg->nesterov != 1))
            return rnn__fail(RNN_E_INVALID_ARG, func,
                             "SGD needs momentum >= 0, dampening in [0, 1] and "
                             "nesterov 0 or 1 (got %g, %g, %d)",
                             (double)cfg->momentum, (double)cfg->dampening,
                             cfg->nesterov);
        if (cfg->nesterov && (cfg->momentum <= 0.0f || cfg->dampening != 0.0f))
            return rnn__fail(RNN_E_INVALID_ARG, func,
                             "nesterov needs momentum > 0 and dampening 0");
        return RNN_OK;
    }
    if (!in_range(cfg->beta1, 0.0f, 1.0f) || cfg->beta1 >= 1.0f ||
        !in_range(cfg->beta2, 0.0f, 1.0f) || cfg->beta2 >= 1.0f ||
        !(cfg->eps > 0.0f) || isinf(cfg->eps))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "Adam needs beta1 and beta2 in [0, 1) and eps > 0 "
                         "(got %g, %g, %g)",
                         (double)cfg->beta1, (double)cfg->beta2, (double)cfg->eps);
    return RNN_OK;
}

size_t rnn__optim_buffers(const rnn_optim_config *cfg)
{
    return cfg->kind == RNN_OPTIM_SGD ? 1 : cfg->amsgrad ? 3 : 2;
}

rnn_status rnn__optim_alloc(rnn_optim_t **out, const rnn_optim_config *cfg,
                            size_t count, const char *func)
{
    const size_t buffers = rnn__optim_buffers(cfg);
    rnn_optim_t *optim = rnn__calloc(1, sizeof *optim);
    float *state = rnn__calloc(buffers * count, sizeof(float));
    if (optim == NULL || state == NULL) {
        rnn__free(optim);
        rnn__free(state);
        return rnn__fail_nomem(func);
    }
    optim->cfg = *cfg;
    optim->count = count;
    optim->first = state;
    optim->second = buffers >= 2 ? state + count : NULL;
    optim->max_second = buffers == 3 ? state + 2 * count : NULL;
    *out = optim;
    return RNN_OK;
}

rnn_status rnn_optim_create(rnn_optim_t **out, const rnn_t *model,
                            const rnn_optim_config *cfg)
{
    static const char *func = "rnn_optim_create";
    if (out == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "out is NULL");
    *out = NULL;
    if (model == NULL || cfg == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "cfg");
    rnn_optim_config full;
    rnn__optim_config_defaults(&full, RNN_OPTIM_SGD, 0.0f);
    rnn_status status = rnn__struct_read(&full, cfg, &rnn__optim_config_layout,
                                         "cfg", func);
    if (status != RNN_OK)
        return status;
    cfg = &full;
    if ((status = rnn__optim_validate(cfg, func)) != RNN_OK)
        return status;
    return rnn__optim_alloc(out, cfg, model->num_params, func);
}

void rnn_optim_destroy(rnn_optim_t *optim)
{
    if (optim == NULL)
        return;
    rnn__free(optim->first);
    rnn__free(optim);
}

rnn_status rnn_optim_set_lr(rnn_optim_t *optim, float lr)
{
    static const char *func = "rnn_optim_set_lr";
    if (optim == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "optim is NULL");
    rnn_status status = check_lr(lr, func);
    if (status == RNN_OK)
        optim->cfg.lr = lr;
    return status;
}

rnn_status rnn_optim_get_config(const rnn_optim_t *optim, rnn_optim_config *cfg)
{
    static const char *func = "rnn_optim_get_config";
    if (optim == NULL || cfg == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         optim == NULL ? "optim" : "cfg");
    rnn_status status = rnn__struct_check_size(
        cfg->struct_size, &rnn__optim_config_layout, "cfg", func);
    if (status == RNN_OK)
        rnn__struct_write(cfg, cfg->struct_size, &optim->cfg,
                          &rnn__optim_config_layout);
    return status;
}

rnn_status rnn_optim_step_count(const rnn_optim_t *optim, int64_t *steps)
{
    if (optim == NULL || steps == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_optim_step_count", "%s is NULL",
                         optim == NULL ? "optim" : "steps");
    *steps = optim->steps;
    return RNN_OK;
}

/* torch.optim.SGD: buf = momentum buf + (1 - dampening) g (buf = g on the
 * first step); the step is buf, or g + momentum buf with nesterov. */
static void sgd_update(rnn_optim_t *optim, float *params, const float *grads)
{
    const rnn_optim_config *c = &optim->cfg;
    const bool first_step = optim->steps == 0;
    for (size_t i = 0; i < optim->count; ++i) {
        float g = grads[i] + c->weight_decay * params[i];
        if (c->momentum != 0.0f) {
            float *buf = &optim->first[i];
            *buf = first_step ? g : c->momentum * *buf + (1.0f - c->dampening) * g;
            g = c->nesterov ? g + c->momentum * *buf : *buf;
        }
        params[i] -= c->lr * g;
    }
}

/* torch.optim.Adam / AdamW, in PyTorch's order of operations:
 * p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), where amsgrad reads
 * the running maximum of v instead of v. */
static void adam_update(rnn_optim_t *optim, float *params, const float *grads)
{
    const rnn_optim_config *c = &optim->cfg;
    const bool decoupled = c->kind == RNN_OPTIM_ADAMW;
    const double t = (double)optim->steps + 1.0;
    const float step_size = (float)(c->lr / (1.0 - pow(c->beta1, t)));
    const float sqrt_bc2 = (float)sqrt(1.0 - pow(c->beta2, t));
    for (size_t i = 0; i < optim->count; ++i) {
        float g = grads[i];
        if (decoupled)
            params[i] *= 1.0f - c->lr * c->weight_decay;
        else
            g += c->weight_decay * params[i];
        float *m = &optim->first[i], *v = &optim->second[i];
        *m = c->beta1 * *m + (1.0f - c->beta1) * g;
        *v = c->beta2 * *v + (1.0f - c->beta2) * g * g;
        float v_used = *v;
        if (optim->max_second != NULL) {
            float *v_max = &optim->max_second[i];
            *v_max = *v_max > *v ? *v_max : *v;
            v_used = *v_max;
        }
        params[i] -= step_size * *m / (sqrtf(v_used) / sqrt_bc2 + c->eps);
    }
}

rnn_status rnn_optim_step(rnn_optim_t *optim, rnn_t *model)
{
    static const char *func = "rnn_optim_step";
    if (optim == NULL || model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         optim == NULL ? "optim" : "model");
    if (model->num_params != optim->count)
        return rnn__fail(RNN_E_SHAPE, func,
                         "the optimizer was made for %zu parameters, the model "
                         "has %zu",
                         optim->count, model->num_params);
    if (optim->steps >= RNN_MAX_STEPS)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "the optimizer has taken 2^53 steps, the most it "
                         "can count");
    rnn_status status = rnn__check_finite(model, model->grads, "gradient", func);
    if (status != RNN_OK)
        return status;
    if (optim->cfg.kind == RNN_OPTIM_SGD)
        sgd_update(optim, model->params, model->grads);
    else
        adam_update(optim, model->params, model->grads);
    rnn__params_changed(model);
    ++optim->steps;
    return RNN_OK;
}

rnn_status rnn_clip_grad_norm(rnn_t *model, float max_norm, float *norm)
{
    static const char *func = "rnn_clip_grad_norm";
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    if (!(max_norm > 0.0f) || isinf(max_norm))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "max_norm must be finite and > 0 (got %g)",
                         (double)max_norm);
    double squares = 0.0;
    for (size_t i = 0; i < model->num_params; ++i)
        squares += (double)model->grads[i] * model->grads[i];
    const double total = sqrt(squares);
    if (!isfinite(total))
        return rnn__check_finite(model, model->grads, "gradient", func);
    if (norm != NULL)
        *norm = (float)total;
    /* Scale by max_norm / norm exactly (no epsilon): the clipped norm then
     * equals max_norm to float rounding. */
    if (total > max_norm) {
        const double scale = max_norm / total;
        if (scale >= FLT_MIN) {
            const float scale_f = (float)scale;
            for (size_t i = 0; i < model->num_params; ++i)
                model->grads[i] *= scale_f;
        } else {
            /* A norm beyond FLT_MAX: a float scale would be subnormal and
             * lose digits. */
            for (size_t i = 0; i < model->num_params; ++i)
                model->grads[i] = (float)(model->grads[i] * scale);
        }
    }
    return RNN_OK;
}
