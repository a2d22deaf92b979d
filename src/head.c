/* SPDX-License-Identifier: MIT
 *
 * head.c - the linear readout head: logits = h W_y^T + b_y on the top
 * layer's output, at each sequence's last valid step or at every step.
 *
 * Its scratch arena holds, for `rows` = B (last step) or T*B (every step),
 * S the width of h (rnn__state_size):
 *   inputs [rows, D*S]  the top-layer rows the head reads, gathered
 *   dh     [rows, D*S]  dL/dh, consumed by rnn_backward
 *   logits [rows, O]    time-major logits or dlogits (batch_first, lengths)
 */
#include "internal.h"

#include <string.h>

typedef struct head_view {
    int32_t rows, width, outputs; /* rows, D*S, O */
    const float *w, *b;           /* head.weight [O, D*S], head.bias [O] */
    float *inputs, *dh, *logits;
} head_view;

static rnn_status head_check(const rnn_t *model, const void *array,
                             const char *name, const char *func)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    if (array == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL", name);
    if (model->cfg.output_size == 0)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "the model has no head (output_size is 0)");
    if (model->cache.inference)
        return rnn__fail(RNN_E_STATE, func,
                         "the last forward was rnn_forward_inference, which "
                         "keeps nothing for the head: pass it logits, or call "
                         "rnn_forward");
    if (!model->cache.valid)
        return rnn__fail(RNN_E_STATE, func, "call rnn_forward first");
    return RNN_OK;
}

static rnn_status head_prepare(rnn_t *model, head_view *view, const char *func)
{
    const rnn_cache *cache = &model->cache;
    view->rows = model->cfg.head_mode == RNN_HEAD_ALL
                     ? cache->seq_len * cache->batch
                     : cache->batch;
    view->width = model->dirs * rnn__state_size(&model->cfg);
    view->outputs = model->cfg.output_size;
    view->w = model->params + model->head_w;
    view->b = model->params + model->head_b;
    const size_t rows = (size_t)view->rows;
    rnn_status status = rnn__reserve(
        &model->head_arena, &model->head_capacity,
        rows * (2 * (size_t)view->width + (size_t)view->outputs), func);
    if (status != RNN_OK)
        return status;
    view->inputs = model->head_arena;
    view->dh = view->inputs + rows * view->width;
    view->logits = view->dh + rows * view->width;
    model->head_dh = view->dh;
    return RNN_OK;
}

/* Copies the rows the head reads: [T*B or B, D*S], time-major. With
 * `final_state` (one direction) the last step's rows: a sequence that ended
 * earlier held its state there (an inference forward's last chunk may not
 * hold its last valid step). */
static void gather_inputs(const rnn_t *model, const head_view *view,
                          bool final_state)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = rnn__state_size(&model->cfg), dirs = model->dirs;
    const int32_t top = (model->cfg.num_layers - 1) * dirs;
    const bool every_step = model->cfg.head_mode == RNN_HEAD_ALL;
    for (int32_t r = 0; r < view->rows; ++r) {
        const int32_t b = r % cache->batch;
        const int32_t t = every_step    ? r / cache->batch
                          : final_state ? cache->seq_len - 1
                                        : rnn__last_step(cache, b);
        for (int32_t dir = 0; dir < dirs; ++dir)
            memcpy(view->inputs + (size_t)r * view->width + (size_t)dir * hidden,
                   rnn__hidden_slot(model, top + dir, rnn__out_slot(dir, t)) +
                       (size_t)b * hidden,
                   (size_t)hidden * sizeof(float));
    }
}

/* True when row r (time-major) is a padded step, whose logits are 0. */
static bool padded(const rnn_t *model, int32_t r)
{
    const rnn_cache *cache = &model->cache;
    if (model->cfg.head_mode != RNN_HEAD_ALL || !cache->has_lengths)
        return false;
    return r / cache->batch > rnn__last_step(cache, r % cache->batch);
}

/* Converts between the caller's layout and time-major rows (RNN_HEAD_ALL
 * with batch_first); otherwise the caller's array is used as it is. */
static bool needs_reorder(const rnn_t *model)
{
    return model->cfg.head_mode == RNN_HEAD_ALL && model->cfg.batch_first;
}

rnn_status rnn__head_reserve(rnn_t *model, const char *func)
{
    head_view view;
    return head_prepare(model, &view, func);
}

/* Scatters time-major rows [T', B, O] of steps t0 .. t0+T'-1 into the
 * caller's [B, total_steps, O] logits. */
static void place_batch_first(float *logits, const float *rows,
                              int32_t steps, int32_t batch, int32_t outputs,
                              int32_t total_steps, int32_t t0)
{
    const size_t row_bytes = (size_t)outputs * sizeof(float);
    for (int32_t t = 0; t < steps; ++t)
        for (int32_t b = 0; b < batch; ++b)
            memcpy(logits + ((size_t)b * total_steps + t0 + t) * outputs,
                   rows + ((size_t)t * batch + b) * outputs, row_bytes);
}

rnn_status rnn__head_logits(rnn_t *model, float *logits, int32_t total_steps,
                            int32_t t0, bool final_state, const char *func)
{
    head_view view;
    rnn_status status = head_prepare(model, &view, func);
    if (status != RNN_OK)
        return status;
    gather_inputs(model, &view, final_state);
    const bool every_step = model->cfg.head_mode == RNN_HEAD_ALL;
    const int32_t batch = model->cache.batch;
    float *out = needs_reorder(model) ? view.logits
                 : every_step ? logits + (size_t)t0 * batch * view.outputs
                              : logits;
    rnn__gemm(false, true, view.rows, view.outputs, view.width, 1.0f,
              view.inputs, view.width, view.w, view.width, 0.0f, out,
              view.outputs);
    for (int32_t r = 0; r < view.rows; ++r) {
        float *row = out + (size_t)r * view.outputs;
        if (padded(model, r))
            memset(row, 0, (size_t)view.outputs * sizeof(float));
        else
            rnn__add(row, view.b, (size_t)view.outputs);
    }
    if (out != view.logits)
        return RNN_OK;
    if (t0 == 0 && total_steps == model->cache.seq_len)
        rnn__swap_tb(logits, out, model->cache.seq_len, batch, view.outputs,
                     false);
    else
        place_batch_first(logits, out, model->cache.seq_len, batch,
                          view.outputs, total_steps, t0);
    return RNN_OK;
}

rnn_status rnn_head_forward(rnn_t *model, float *logits)
{
    static const char *func = "rnn_head_forward";
    rnn_status status = head_check(model, logits, "logits", func);
    if (status != RNN_OK)
        return status;
    return rnn__head_logits(model, logits, model->cache.seq_len, 0, false,
                            func);
}

rnn_status rnn_head_backward(rnn_t *model, const float *dlogits)
{
    static const char *func = "rnn_head_backward";
    head_view view;
    rnn_status status = head_check(model, dlogits, "dlogits", func);
    if (status == RNN_OK)
        status = head_prepare(model, &view, func);
    if (status != RNN_OK)
        return status;
    gather_inputs(model, &view, false);
    const size_t rows = (size_t)view.rows, outputs = (size_t)view.outputs;
    const float *grad = dlogits;
    if (needs_reorder(model) || (model->cfg.head_mode == RNN_HEAD_ALL &&
                                 model->cache.has_lengths)) {
        /* Padded steps' logits are constants: their gradient is dropped. */
        if (needs_reorder(model))
            rnn__swap_tb(view.logits, dlogits, model->cache.seq_len,
                         model->cache.batch, view.outputs, true);
        else
            memcpy(view.logits, dlogits, rows * outputs * sizeof(float));
        for (int32_t r = 0; r < view.rows; ++r)
            if (padded(model, r))
                memset(view.logits + (size_t)r * outputs, 0,
                       outputs * sizeof(float));
        grad = view.logits;
    }
    float *dw = model->grads + model->head_w, *db = model->grads + model->head_b;
    rnn__gemm(true, false, view.outputs, view.width, view.rows, 1.0f, grad,
              view.outputs, view.inputs, view.width, 1.0f, dw, view.width);
    rnn__add_col_sums(db, grad, rows, view.outputs);
    /* A second head backward before rnn_backward adds to the pending dh. */
    rnn__gemm(false, false, view.rows, view.width, view.outputs, 1.0f, grad,
              view.outputs, view.w, view.width,
              model->head_grad_pending ? 1.0f : 0.0f, view.dh, view.width);
    model->head_grad_pending = true;
    return RNN_OK;
}
