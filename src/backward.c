/* SPDX-License-Identifier: MIT
 *
 * backward.c - backpropagation through time over the cached forward.
 *
 * Layers are visited top-down. For each cell, the buffer that arrives
 * holding dL/dh_t (from the layer above, dy, dh_n and the head) becomes dA_t
 * in place, one step at a time against the forward's order:
 *     dA_t = (dL/dh_t + dA_{t+1} W_hh) * act'(h_t)
 * (one sgemm, or sgemv when B = 1, per step). Then, batched over all steps:
 * dW_hh += dA^T H_prev and dW_ih += dA^T X (ONE sgemm each, K = T*B), the
 * biases get the column sums of dA, and the gradient w.r.t. the layer input
 * is dA W_ih (one sgemm per direction).
 */
#include "internal.h"

#include <string.h>

static size_t work_floats(const rnn_t *model)
{
    const rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    const size_t rows = (size_t)cache->seq_len * cache->batch;
    const size_t dh = (size_t)model->dirs * cfg->hidden_size;
    const size_t widest = dh > (size_t)cfg->input_size ? dh : (size_t)cfg->input_size;
    size_t floats = 2 * rows * dh + (size_t)cache->batch * widest;
    if (cfg->batch_first)
        floats += rows * (size_t)cfg->input_size;
    return floats;
}

static void layout_work(rnn_t *model)
{
    rnn_grad_work *work = &model->work;
    const size_t rows = (size_t)model->cache.seq_len * model->cache.batch;
    const size_t dh = (size_t)model->dirs * model->cfg.hidden_size;
    const size_t widest =
        dh > (size_t)model->cfg.input_size ? dh : (size_t)model->cfg.input_size;
    work->grad_in = work->arena;
    work->grad_out = work->grad_in + rows * dh;
    work->gather = work->grad_out + rows * dh;
    work->dx_tm = work->gather + (size_t)model->cache.batch * widest;
}

/* dL/dy of the top layer into one time-major [T, B, H] block per direction,
 * 0 at padded steps (their outputs are constants). */
static void load_output_grad(const rnn_t *model, const float *dy, float *grad)
{
    const rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    const int32_t seq_len = cache->seq_len, batch = cache->batch;
    const int32_t hidden = cfg->hidden_size, dirs = model->dirs;
    const size_t block = (size_t)seq_len * batch * hidden;
    const size_t row_bytes = (size_t)hidden * sizeof(float);
    if (dy == NULL) {
        memset(grad, 0, (size_t)dirs * block * sizeof(float));
        return;
    }
    if (dirs == 1 && !cfg->batch_first && !cache->has_lengths) {
        memcpy(grad, dy, block * sizeof(float));
        return;
    }
    for (int32_t t = 0; t < seq_len; ++t) {
        for (int32_t b = 0; b < batch; ++b) {
            size_t row = cfg->batch_first ? (size_t)b * seq_len + t
                                          : (size_t)t * batch + b;
            const float *src = dy + row * (size_t)dirs * hidden;
            bool valid = t <= rnn__last_step(cache, b);
            for (int32_t dir = 0; dir < dirs; ++dir) {
                float *dst = grad + dir * block + ((size_t)t * batch + b) * hidden;
                if (valid)
                    memcpy(dst, src + (size_t)dir * hidden, row_bytes);
                else
                    memset(dst, 0, row_bytes);
            }
        }
    }
}

/* Adds the head's dL/dh, left by rnn_head_backward, to the top layer's. */
static void add_head_grad(rnn_t *model, float *grad)
{
    const rnn_cache *cache = &model->cache;
    const int32_t batch = cache->batch, hidden = model->cfg.hidden_size;
    const int32_t dirs = model->dirs;
    const size_t block = (size_t)cache->seq_len * batch * hidden;
    const bool every_step = model->cfg.head_mode == RNN_HEAD_ALL;
    for (int32_t t = 0; t < cache->seq_len; ++t) {
        for (int32_t b = 0; b < batch; ++b) {
            int32_t last = rnn__last_step(cache, b);
            if (every_step ? t > last : t != last)
                continue;
            size_t src_row = every_step ? (size_t)t * batch + b : (size_t)b;
            const float *src = model->head_dh + src_row * (size_t)dirs * hidden;
            for (int32_t dir = 0; dir < dirs; ++dir)
                rnn__add(grad + dir * block + ((size_t)t * batch + b) * hidden,
                         src + (size_t)dir * hidden, (size_t)hidden);
        }
    }
}

/* dL/dh_n enters at the step that produced h_n: each sequence's last valid
 * step going forward, step 0 going in reverse. */
static void add_final_state_grad(const rnn_t *model, int32_t cell, int32_t dir,
                                 const float *dh_n, float *grad)
{
    const rnn_cache *cache = &model->cache;
    const int32_t batch = cache->batch, hidden = model->cfg.hidden_size;
    const float *src = dh_n + (size_t)cell * batch * hidden;
    for (int32_t b = 0; b < batch; ++b) {
        int32_t t = dir == 0 ? rnn__last_step(cache, b) : 0;
        rnn__add(grad + ((size_t)t * batch + b) * hidden,
                 src + (size_t)b * hidden, (size_t)hidden);
    }
}

static void zero_finished(const rnn_cache *cache, int32_t t, int32_t hidden,
                          float *grad_t)
{
    for (int32_t b = 0; b < cache->batch; ++b)
        if (t >= cache->lengths[b])
            memset(grad_t + (size_t)b * hidden, 0, (size_t)hidden * sizeof(float));
}

/* Turns dL/dh (all steps) into dA in place, walking against forward order. */
static void backprop_steps(rnn_t *model, int32_t cell, int32_t dir, float *grad)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = model->cfg.hidden_size, batch = cache->batch;
    const int32_t seq_len = cache->seq_len;
    const size_t bh = (size_t)batch * hidden;
    const float *w_hh = rnn__cell(model, model->params, cell).w_hh;
    for (int32_t k = 0; k < seq_len; ++k) {
        const int32_t t = dir == 0 ? seq_len - 1 - k : k;
        float *da = grad + (size_t)t * bh;
        if (k > 0) {
            const float *da_later = grad + (size_t)(dir == 0 ? t + 1 : t - 1) * bh;
            rnn__rows_product(batch, hidden, hidden, da_later, w_hh, hidden,
                              false, 1.0f, da);
        }
        rnn__mul_act_grad(da, rnn__hidden_slot(model, cell, rnn__out_slot(dir, t)),
                          bh, model->cfg.nonlinearity);
        if (cache->has_lengths)
            zero_finished(cache, t, hidden, da);
    }
}

/* dh0 = dA of the step that read h0, times W_hh. Going in reverse that step
 * is each sequence's last valid one, so its rows are gathered first. */
static void write_initial_state_grad(rnn_t *model, int32_t cell, int32_t dir,
                                     const float *grad, float *dh0)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = model->cfg.hidden_size, batch = cache->batch;
    const size_t bh = (size_t)batch * hidden;
    const float *w_hh = rnn__cell(model, model->params, cell).w_hh;
    const float *da_first = grad;
    if (dir == 1) {
        float *rows = model->work.gather;
        for (int32_t b = 0; b < batch; ++b)
            memcpy(rows + (size_t)b * hidden,
                   grad + (size_t)rnn__last_step(cache, b) * bh + (size_t)b * hidden,
                   (size_t)hidden * sizeof(float));
        da_first = rows;
    }
    rnn__gemm(false, false, batch, hidden, hidden, 1.0f, da_first, hidden, w_hh,
              hidden, 0.0f, dh0 + (size_t)cell * bh, hidden);
}

/* The cell's weight and bias gradients, batched over all T*B rows. */
static void add_weight_grads(rnn_t *model, int32_t layer, int32_t dir,
                             const float *grad)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = model->cfg.hidden_size, dirs = model->dirs;
    const int32_t rows = cache->seq_len * cache->batch;
    const int32_t cell = layer * dirs + dir;
    rnn_cell_view dw = rnn__cell(model, model->grads, cell);
    const float *h_prev = rnn__hidden_slot(model, cell, dir == 0 ? 0 : 1);
    rnn__gemm(true, false, hidden, hidden, rows, 1.0f, grad, hidden, h_prev,
              hidden, 1.0f, dw.w_hh, hidden);
    if (layer == 0) {
        const int32_t in = model->cfg.input_size;
        rnn__gemm(true, false, hidden, in, rows, 1.0f, grad, hidden, cache->x, in,
                  1.0f, dw.w_ih, in);
    } else {
        for (int32_t src = 0; src < dirs; ++src)
            rnn__gemm(true, false, hidden, hidden, rows, 1.0f, grad, hidden,
                      rnn__outputs(model, (layer - 1) * dirs + src, src), hidden,
                      1.0f, dw.w_ih + (size_t)src * hidden, dirs * hidden);
    }
    if (dw.b_ih != NULL) {
        float *sums = model->work.gather;
        memset(sums, 0, (size_t)hidden * sizeof(float));
        rnn__add_col_sums(sums, grad, (size_t)rows, hidden);
        rnn__add(dw.b_ih, sums, (size_t)hidden);
        rnn__add(dw.b_hh, sums, (size_t)hidden);
    }
}

/* dL/d(layer input) = sum over directions of dA W_ih: into the layer below's
 * per-direction blocks, or into dx for layer 0. */
static void input_grad(rnn_t *model, int32_t layer, const float *grad,
                       float *below, float *dx)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = model->cfg.hidden_size, dirs = model->dirs;
    const int32_t rows = cache->seq_len * cache->batch;
    const size_t block = (size_t)rows * hidden;
    for (int32_t dir = 0; dir < dirs; ++dir) {
        const float *w_ih = rnn__cell(model, model->params, layer * dirs + dir).w_ih;
        const float beta = dir == 0 ? 0.0f : 1.0f;
        if (layer == 0) {
            const int32_t in = model->cfg.input_size;
            rnn__gemm(false, false, rows, in, hidden, 1.0f, grad + dir * block,
                      hidden, w_ih, in, beta, dx, in);
            continue;
        }
        for (int32_t src = 0; src < dirs; ++src)
            rnn__gemm(false, false, rows, hidden, hidden, 1.0f,
                      grad + dir * block, hidden, w_ih + (size_t)src * hidden,
                      dirs * hidden, beta, below + src * block, hidden);
    }
}

static void write_input_grad(rnn_t *model, const float *grad, float *dx)
{
    const rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    if (!cfg->batch_first) {
        input_grad(model, 0, grad, NULL, dx);
        return;
    }
    input_grad(model, 0, grad, NULL, model->work.dx_tm);
    rnn__swap_tb(dx, model->work.dx_tm, cache->seq_len, cache->batch,
                 cfg->input_size, false);
}

rnn_status rnn_backward(rnn_t *model, const float *dy, const float *dh_n,
                        float *dx, float *dh0)
{
    static const char *func = "rnn_backward";
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    if (!model->cache.valid)
        return rnn__fail(RNN_E_STATE, func,
                         "no forward pass to differentiate: call rnn_forward "
                         "first");
    rnn_status status = RNN_OK;
    if (model->check_finite) {
        const size_t rows = (size_t)model->cache.seq_len * model->cache.batch;
        const size_t width = (size_t)model->dirs * model->cfg.hidden_size;
        status = rnn__check_array(dy, rows * width, "dy", func);
        if (status == RNN_OK)
            status = rnn__check_array(
                dh_n, (size_t)model->num_cells * model->cache.batch *
                          model->cfg.hidden_size, "dh_n", func);
    }
    if (status == RNN_OK)
        status = rnn__reserve(&model->work.arena, &model->work.capacity,
                              work_floats(model), func);
    if (status != RNN_OK)
        return status;
    layout_work(model);

    const int32_t dirs = model->dirs;
    const size_t block =
        (size_t)model->cache.seq_len * model->cache.batch * model->cfg.hidden_size;
    float *grad = model->work.grad_in, *below = model->work.grad_out;
    load_output_grad(model, dy, grad);
    if (model->head_grad_pending)
        add_head_grad(model, grad);
    model->head_grad_pending = false;

    for (int32_t layer = model->cfg.num_layers - 1; layer >= 0; --layer) {
        for (int32_t dir = 0; dir < dirs; ++dir) {
            const int32_t cell = layer * dirs + dir;
            float *da = grad + dir * block;
            if (dh_n != NULL)
                add_final_state_grad(model, cell, dir, dh_n, da);
            backprop_steps(model, cell, dir, da);
            if (dh0 != NULL)
                write_initial_state_grad(model, cell, dir, da, dh0);
            add_weight_grads(model, layer, dir, da);
        }
        if (layer > 0) {
            input_grad(model, layer, grad, below, NULL);
            float *swap = grad;
            grad = below;
            below = swap;
        } else if (dx != NULL) {
            write_input_grad(model, grad, dx);
        }
    }
    return RNN_OK;
}
