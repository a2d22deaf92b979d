/* SPDX-License-Identifier: MIT
 *
 * embedding.c - token input: the model's embedding table E [V, I]
 * (embedding.weight, torch.nn.Embedding(V, I, padding_idx)) in front of
 * layer 0, without ever forming a one-hot [T, B, V] input.
 *
 * Forward, layer 0's input projection in[T*B, G*H] = E[ids] W_ih^T + bias
 * is made one of two ways, chosen once per forward (docs/design.md):
 *  - gather: the E rows of the ids into the cache's x [T*B, I], then the
 *    drivers' one sgemm, exactly as for a float input x = E[ids];
 *  - table, when V is small next to T*B: P = E W_ih^T + bias [V, G*H] per
 *    direction (one sgemm of V rows), then in = the P rows of the ids: a
 *    copy per row instead of a product per row.
 * Backward from d_proj = dL/d(in) [T*B, G*H], direction by direction:
 *  - gather: dW_ih += d_proj^T E[ids] (the drivers' sgemm on the kept x),
 *    and dE[ids[r]] += (d_proj W_ih)[r], a scatter-add of T*B rows;
 *  - table: S[v] = the sum of d_proj's rows whose id is v [V, G*H] (a
 *    scatter-add), then dW_ih += S^T E and dE += S W_ih: products of V
 *    rows instead of T*B.
 * The padding row never gets a gradient (torch's padding_idx), in both.
 */
#include "internal.h"

#include <string.h>

rnn_status rnn__embedding_check_ids(const rnn_t *model, const int32_t *ids,
                                    int32_t rows, int32_t cols,
                                    const char *layout, const char *func)
{
    const int32_t vocab = model->cfg.vocab_size;
    const size_t count = (size_t)rows * (size_t)cols;
    for (size_t i = 0; i < count; ++i) {
        if (ids[i] >= 0 && ids[i] < vocab)
            continue;
        const char *why = ids[i] < 0 ? ": token ids are never negative (as "
                                       "in torch.nn.Embedding)"
                                     : "";
        if (layout == NULL)
            return rnn__fail(RNN_E_INVALID_ARG, func,
                             "ids_t[%zu] = %d is outside [0, vocab_size %d)%s",
                             i, ids[i], vocab, why);
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "ids[%zu, %zu] ([%s]) = %d is outside [0, vocab_size "
                         "%d)%s",
                         i / (size_t)cols, i % (size_t)cols, layout, ids[i],
                         vocab, why);
    }
    return RNN_OK;
}

bool rnn__embedding_uses_table(const rnn_t *model, int32_t seq_len,
                               int32_t batch)
{
    /* Per direction, the table costs a product of V rows (and backward two
     * of V rows) where the gather path makes them of T*B rows, but its
     * rows of G*H floats are copied and scatter-added at random places:
     * measured, it wins up to V = T*B / 2 (docs/design.md). */
    const int64_t rows = (int64_t)seq_len * batch;
    return model->cfg.vocab_size > 0 && 2 * (int64_t)model->cfg.vocab_size <= rows;
}

/* The floats of one direction's table, [V, G*H]. */
static size_t table_block(const rnn_t *model)
{
    return (size_t)model->cfg.vocab_size * (size_t)model->cell_ops->gates *
           (size_t)model->cfg.hidden_size;
}

size_t rnn__embedding_table_floats(const rnn_t *model)
{
    return (size_t)model->dirs * table_block(model);
}

/* P_dir = E W_ih^T + the bias the drivers put in layer 0's projection
 * (b_ih + b_hh, b_ih alone when the cell keeps rec apart). */
static void make_table(rnn_t *model)
{
    const rnn_config *cfg = &model->cfg;
    const int32_t vocab = cfg->vocab_size, in = cfg->input_size;
    const int32_t width = model->cell_ops->gates * cfg->hidden_size;
    const float *embedding = model->params + model->embed_w;
    for (int32_t dir = 0; dir < model->dirs; ++dir) {
        const rnn_cell_view w = rnn__cell(model, model->params, dir);
        float *table = model->cache.table + (size_t)dir * table_block(model);
        rnn__gemm(false, true, vocab, width, in, 1.0f, embedding, in, w.w_ih,
                  in, 0.0f, table, width);
        if (w.b_ih != NULL)
            rnn__add_bias(table, (size_t)vocab, width, w.b_ih,
                          model->cell_ops->separate_projections ? NULL
                                                                : w.b_hh);
    }
}

void rnn__embedding_gather(const rnn_t *model, const int32_t *ids,
                           int32_t batch, float *out)
{
    const size_t in = (size_t)model->cfg.input_size;
    const float *embedding = model->params + model->embed_w;
    for (int32_t b = 0; b < batch; ++b)
        memcpy(out + (size_t)b * in, embedding + (size_t)ids[b] * in,
               in * sizeof(float));
}

void rnn__embedding_prepare(rnn_t *model, const int32_t *ids,
                            int32_t total_steps, int32_t t0)
{
    rnn_cache *cache = &model->cache;
    const int32_t steps = cache->seq_len, batch = cache->batch;
    for (int32_t t = 0; t < steps; ++t)
        for (int32_t b = 0; b < batch; ++b)
            cache->ids[(size_t)t * batch + b] =
                model->cfg.batch_first
                    ? ids[(size_t)b * total_steps + t0 + t]
                    : ids[((size_t)t0 + t) * batch + b];
    if (!cache->embed_table) {
        const size_t in = (size_t)model->cfg.input_size;
        for (int32_t t = 0; t < steps; ++t)
            rnn__embedding_gather(model, cache->ids + (size_t)t * batch, batch,
                                  cache->x + (size_t)t * batch * in);
    } else if (t0 == 0) {
        make_table(model);
    }
}

void rnn__embedding_project(const rnn_t *model, int32_t dir, float *out)
{
    const rnn_cache *cache = &model->cache;
    const size_t width = (size_t)model->cell_ops->gates * model->cfg.hidden_size;
    const size_t rows = (size_t)cache->seq_len * cache->batch;
    const float *table = cache->table + (size_t)dir * table_block(model);
    for (size_t r = 0; r < rows; ++r)
        memcpy(out + r * width, table + (size_t)cache->ids[r] * width,
               width * sizeof(float));
}

size_t rnn__embedding_work_floats(const rnn_t *model)
{
    const rnn_cache *cache = &model->cache;
    if (model->cfg.vocab_size == 0)
        return 0;
    if (cache->embed_table)
        return table_block(model);
    return (size_t)cache->seq_len * cache->batch * model->cfg.input_size;
}

/* dE[ids[r]] += rows[r] for the T*B rows [., I], except at padding_idx. */
static void scatter_rows(rnn_t *model, const float *rows)
{
    const rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    const size_t in = (size_t)cfg->input_size;
    const size_t count = (size_t)cache->seq_len * cache->batch;
    float *d_embedding = model->grads + model->embed_w;
    for (size_t r = 0; r < count; ++r) {
        const int32_t id = cache->ids[r];
        if (!(cfg->has_padding_idx && id == cfg->padding_idx))
            rnn__add(d_embedding + (size_t)id * in, rows + r * in, in);
    }
}

void rnn__embedding_backward(rnn_t *model, int32_t dir, const float *d_proj,
                             float *dw_ih)
{
    const rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    const int32_t in = cfg->input_size, vocab = cfg->vocab_size;
    const int32_t width = model->cell_ops->gates * cfg->hidden_size;
    const int32_t rows = cache->seq_len * cache->batch;
    const float *w_ih = rnn__cell(model, model->params, dir).w_ih;
    const float *embedding = model->params + model->embed_w;
    float *work = model->work.embed;
    if (!cache->embed_table) { /* dW_ih: the drivers' product on the kept x */
        rnn__gemm(false, false, rows, in, width, 1.0f, d_proj, width, w_ih, in,
                  0.0f, work, in);
        scatter_rows(model, work);
        return;
    }
    /* S [V, G*H]: d_proj's rows summed per id. */
    memset(work, 0, table_block(model) * sizeof(float));
    for (int32_t r = 0; r < rows; ++r)
        rnn__add(work + (size_t)cache->ids[r] * width,
                 d_proj + (size_t)r * width, (size_t)width);
    rnn__gemm(true, false, width, in, vocab, 1.0f, work, width, embedding, in,
              1.0f, dw_ih, in);
    /* The padding row's tokens did reach W_ih (through whatever E holds
     * there), never E itself. */
    if (cfg->has_padding_idx)
        memset(work + (size_t)cfg->padding_idx * width, 0,
               (size_t)width * sizeof(float));
    rnn__gemm(false, false, vocab, in, width, 1.0f, work, width, w_ih, in, 1.0f,
              model->grads + model->embed_w, in);
}
