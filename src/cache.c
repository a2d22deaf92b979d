/* SPDX-License-Identifier: MIT
 *
 * cache.c - where the forward cache keeps each cell's states, projections
 * and saved values, and each layer's dropout blocks: the addresses that
 * forward.c writes and backward.c and head.c read (forward.c plans and
 * carves the arena).
 */
#include "internal.h"

float *rnn__hidden_slot(const rnn_t *model, int32_t cell, int32_t slot)
{
    const rnn_cache *cache = &model->cache;
    const size_t bs = (size_t)cache->batch * (size_t)rnn__state_size(&model->cfg);
    const size_t block = ((size_t)cache->seq_len + 1) * bs;
    return cache->hidden + (size_t)cell * block + (size_t)slot * bs;
}

float *rnn__outputs(const rnn_t *model, int32_t cell, int32_t dir)
{
    return rnn__hidden_slot(model, cell, dir == 0 ? 1 : 0);
}

/* Direction src of layer `layer`'s [T, B, S] block in a per-layer dropout
 * part (layers 0 .. L-2). */
float *rnn__layer_block(const rnn_t *model, float *part, int32_t layer,
                        int32_t src)
{
    const rnn_cache *cache = &model->cache;
    const size_t block = (size_t)cache->seq_len * cache->batch *
                         (size_t)rnn__state_size(&model->cfg);
    return part + ((size_t)layer * model->dirs + src) * block;
}

const float *rnn__dropout_block(const rnn_t *model, int32_t layer, int32_t src)
{
    return rnn__layer_block(model, model->cache.mask, layer, src);
}

const float *rnn__layer_input(const rnn_t *model, int32_t layer, int32_t src)
{
    if (model->cache.dropping)
        return rnn__layer_block(model, model->cache.dropped, layer - 1, src);
    return rnn__outputs(model, (layer - 1) * model->dirs + src, src);
}

/* A cell's block in a per-cell part of the cache ([slots, B, units * H]
 * for each cell), or NULL when the part is. */
float *rnn__cell_block(const rnn_t *model, float *part, int32_t cell,
                       size_t slots, int32_t units)
{
    if (part == NULL)
        return NULL;
    const size_t bh = (size_t)model->cache.batch * (size_t)model->cfg.hidden_size;
    return part + (size_t)cell * slots * (size_t)units * bh;
}

rnn_cell_forward_args rnn__step_buffers(const rnn_t *model, int32_t cell,
                                        int32_t dir)
{
    const rnn_cache *cache = &model->cache;
    const rnn_cell_ops *ops = model->cell_ops;
    const size_t bh = (size_t)cache->batch * (size_t)model->cfg.hidden_size;
    const size_t steps = (size_t)cache->seq_len;
    const size_t out = (size_t)rnn__out_slot(dir, 0) * bh;
    const size_t prev = (size_t)rnn__prev_slot(dir, 0) * bh;
    float *h = rnn__hidden_slot(model, cell, rnn__out_slot(dir, 0));
    float *h_prev = rnn__hidden_slot(model, cell, rnn__prev_slot(dir, 0));
    float *c = rnn__cell_block(model, cache->cell_state, cell, steps + 1, 1);
    const rnn_cell_forward_args step = {
        .cfg = &model->cfg,
        .rows = cache->batch,
        .hidden = model->cfg.hidden_size,
        .proj = ops->project_into_state
                    ? h
                    : rnn__cell_block(model, cache->proj, cell, steps, ops->gates),
        .c_prev = c != NULL ? c + prev : NULL,
        .c = c != NULL ? c + out : NULL,
        .h_prev = h_prev,
        .h = h,
        .saved = rnn__cell_block(model, cache->saved, cell, steps, ops->saved_units),
        .cell_out = rnn__cell_block(model, cache->cell_out, cell, steps, 1),
    };
    return step;
}
