/* SPDX-License-Identifier: MIT
 *
 * backward.c - backpropagation through time over the cached forward.
 *
 * Layers are visited top-down. For each cell, the buffer that arrives
 * holding dL/dh_t (from the layer above, dy, dh_n and the head) is
 * completed one step at a time against the forward's order, and handed to
 * the cell's backward (cell.h), which turns it into dA_t = dL/d(in_t) and
 * dR_t = dL/d(rec_t) (the same rows unless the cell keeps the projections
 * apart; for Elman dA_t is made in place: dA_t = dL/dh_t * act'(h_t)):
 *     dL/dh_t += dR_{t+1} W_hh
 * (one sgemm, or sgemv when B = 1, per step). Then, batched over all steps:
 * dW_hh += dR^T H_prev and dW_ih += dA^T X (ONE sgemm each, K = T*B), the
 * biases get the column sums of dA and dR, and the gradient w.r.t. the
 * layer input is dA W_ih (one sgemm per direction).
 *
 * An LSTM with proj_size P (h_t = cell_out_t W_hr^T): each step hands the
 * cell dL/d(cell_out_t) = dL/dh_t W_hr ([B, P] x [P, H], one product), and
 * dW_hr += dH^T CellOut is one more batched sgemm over all T*B rows (the
 * dL/dh rows stay whole: the cell's dA has rows of its own).
 */
#include "internal.h"
#include "pool.h"

#include <string.h>

/* The sizes of the workspace's parts, in floats, in arena order. The cache
 * was sized for the same (T, B), so none of them overflows. */
enum { WORK_GRAD_IN, WORK_GRAD_OUT, WORK_GATHER, WORK_DX_TM, WORK_D_PROJ,
       WORK_D_REC, WORK_DC, WORK_DH_DIRECT, WORK_DH0_DIRECT, WORK_D_CELL_OUT,
       WORK_EMBED, WORKS };

static void work_parts(const rnn_t *model, size_t floats[WORKS])
{
    const rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    const rnn_cell_ops *ops = model->cell_ops;
    const size_t rows = (size_t)cache->seq_len * cache->batch;
    const size_t dh = (size_t)model->dirs * rnn__state_size(cfg);
    const size_t width = (size_t)ops->gates * cfg->hidden_size;
    size_t widest = dh > (size_t)cfg->input_size ? dh : (size_t)cfg->input_size;
    widest = widest > width ? widest : width;
    floats[WORK_GRAD_IN] = floats[WORK_GRAD_OUT] = rows * dh;
    floats[WORK_GATHER] = (size_t)cache->batch * widest;
    floats[WORK_DX_TM] = cfg->batch_first ? rows * (size_t)cfg->input_size : 0;
    floats[WORK_D_PROJ] =
        ops->project_into_state ? 0 : (size_t)model->dirs * rows * width;
    floats[WORK_D_REC] = ops->separate_projections ? rows * width : 0;
    const size_t bh = (size_t)cache->batch * cfg->hidden_size;
    floats[WORK_DC] = ops->has_cell_state ? bh : 0;
    floats[WORK_DH_DIRECT] = floats[WORK_DH0_DIRECT] =
        ops->direct_state_grad ? bh : 0;
    floats[WORK_D_CELL_OUT] = cfg->proj_size > 0 ? bh : 0;
    floats[WORK_EMBED] = rnn__embedding_work_floats(model);
}

/* Points the workspace at its arena, parts of floats[] each; parts a cell
 * does not use are NULL. */
static void layout_work(rnn_t *model, const size_t floats[WORKS])
{
    rnn_grad_work *work = &model->work;
    float **const parts[WORKS] = {
        [WORK_GRAD_IN] = &work->grad_in, [WORK_GRAD_OUT] = &work->grad_out,
        [WORK_GATHER] = &work->gather, [WORK_DX_TM] = &work->dx_tm,
        [WORK_D_PROJ] = &work->d_proj, [WORK_D_REC] = &work->d_rec,
        [WORK_DC] = &work->dc, [WORK_DH_DIRECT] = &work->dh_direct,
        [WORK_DH0_DIRECT] = &work->dh0_direct,
        [WORK_D_CELL_OUT] = &work->d_cell_out, [WORK_EMBED] = &work->embed};
    rnn__carve(work->arena, floats, WORKS, parts);
}

/* Direction dir's [T, B, G*H] dA block: the dL/dh block itself when the
 * cell projects into the state (dA is made in place), else its own. */
static float *d_proj_block(const rnn_t *model, float *grad, int32_t dir)
{
    const rnn_cache *cache = &model->cache;
    const size_t block = (size_t)cache->seq_len * cache->batch *
                         (size_t)model->cell_ops->gates * model->cfg.hidden_size;
    if (model->cell_ops->project_into_state)
        return grad + dir * block;
    return model->work.d_proj + dir * block;
}

/* dL/dy of the top layer into one time-major [T, B, S] block per direction,
 * 0 at padded steps (their outputs are constants). */
static void load_output_grad(const rnn_t *model, const float *dy, float *grad)
{
    const rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    const int32_t seq_len = cache->seq_len, batch = cache->batch;
    const int32_t hidden = rnn__state_size(cfg), dirs = model->dirs;
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
    const int32_t batch = cache->batch, hidden = rnn__state_size(&model->cfg);
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
    const int32_t batch = cache->batch, hidden = rnn__state_size(&model->cfg);
    const float *src = dh_n + (size_t)cell * batch * hidden;
    for (int32_t b = 0; b < batch; ++b) {
        int32_t t = dir == 0 ? rnn__last_step(cache, b) : 0;
        rnn__add(grad + ((size_t)t * batch + b) * hidden,
                 src + (size_t)b * hidden, (size_t)hidden);
    }
}

/* The batch rows [first, first + rows) a slice of backprop_steps runs
 * (pool.h): the row pointers the helpers below take start at row `first`. */
typedef struct row_range {
    int32_t first, rows;
} row_range;

static void zero_finished(const rnn_cache *cache, int32_t t, row_range r,
                          int32_t width, float *rows)
{
    for (int32_t b = 0; b < r.rows; ++b)
        if (t >= cache->lengths[r.first + b])
            memset(rows + (size_t)b * width, 0, (size_t)width * sizeof(float));
}

/* Step t's rows of dR: its own block when the cell keeps the projections
 * apart, else dA's (d_proj_t and the result at row r.first). */
static float *d_rec_rows(const rnn_t *model, float *d_proj_t, int32_t t,
                         row_range r)
{
    if (!model->cell_ops->separate_projections)
        return d_proj_t;
    const size_t width = (size_t)model->cell_ops->gates * model->cfg.hidden_size;
    return model->work.d_rec + ((size_t)t * model->cache.batch + r.first) * width;
}

/* Routes the part of dL/dh_prev that the cell passed around rec (step t's
 * dh_prev): into the dL/dh rows of the step that made h_prev, given as
 * `made_prev` (NULL when step t is the last in backward order), or, for
 * the rows whose step t read h0, into work.dh0_direct. Padded rows pass
 * nothing (their dL/dh is 0 going forward; going in reverse h0 is read
 * at each sequence's last valid step). */
static void route_direct_grad(rnn_t *model, int32_t dir, int32_t t,
                              row_range r, float *made_prev)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = model->cfg.hidden_size;
    const size_t row_bytes = (size_t)hidden * sizeof(float);
    for (int32_t b = r.first; b < r.first + r.rows; ++b) {
        const int32_t last = rnn__last_step(cache, b);
        const size_t row = (size_t)b * hidden;
        if (dir == 0 ? t == 0 : t == last)
            memcpy(model->work.dh0_direct + row, model->work.dh_direct + row,
                   row_bytes);
        else if (t <= last)
            rnn__add(made_prev + row, model->work.dh_direct + row,
                     (size_t)hidden);
    }
}

/* The ends of the carried dL/dc, as add_final_state_grad and
 * write_initial_state_grad are for h: dL/dc_n (NULL: zero) enters row b
 * before the step that made c_n (forward: its last valid step; reverse:
 * step 0), and dL/dc0 (NULL: not wanted) is row b after the step that read
 * c0 (forward: step 0; reverse: its last valid step, where it began).
 * Both are the cell's [B, H] rows, as is dc. */
typedef struct cell_state_ends {
    const float *dc_n;
    float *dc0;
} cell_state_ends;

static bool ends_at(const rnn_cache *cache, int32_t dir, int32_t t, int32_t b,
                    bool final)
{
    const int32_t first = 0, last = rnn__last_step(cache, b);
    return t == ((dir == 0) == final ? last : first);
}

static void enter_final_cell_grad(const rnn_t *model, int32_t dir, int32_t t,
                                  row_range r, const cell_state_ends *ends,
                                  float *dc)
{
    const int32_t hidden = model->cfg.hidden_size;
    for (int32_t b = r.first; ends->dc_n != NULL && b < r.first + r.rows; ++b)
        if (ends_at(&model->cache, dir, t, b, true))
            rnn__add(dc + (size_t)b * hidden, ends->dc_n + (size_t)b * hidden,
                     (size_t)hidden);
}

static void take_initial_cell_grad(const rnn_t *model, int32_t dir, int32_t t,
                                   row_range r, const cell_state_ends *ends,
                                   const float *dc)
{
    const size_t hidden = (size_t)model->cfg.hidden_size;
    for (int32_t b = r.first; ends->dc0 != NULL && b < r.first + r.rows; ++b)
        if (ends_at(&model->cache, dir, t, b, false))
            memcpy(ends->dc0 + (size_t)b * hidden, dc + (size_t)b * hidden,
                   hidden * sizeof(float));
}

/* Step t's backward over the slice's rows (step's buffers start there):
 * the cell turns the whole dL/dh_t into dA_t and dR_t (and dL/dc_t into
 * dL/dc_{t-1}); padded rows pass nothing on. */
static void backprop_step(rnn_t *model, rnn_cell_backward_args *step,
                          int32_t t, row_range r, float *dh_t, float *d_proj_t)
{
    const rnn_cache *cache = &model->cache;
    const rnn_cell_ops *ops = model->cell_ops;
    const int32_t hidden = model->cfg.hidden_size;
    const int32_t width = ops->gates * hidden;
    step->dh = dh_t;
    step->d_proj = d_proj_t;
    step->d_rec = d_rec_rows(model, d_proj_t, t, r);
    ops->backward(step);
    if (!cache->has_lengths)
        return;
    zero_finished(cache, t, r, width, step->d_proj);
    if (step->d_rec != step->d_proj)
        zero_finished(cache, t, r, width, step->d_rec);
    if (step->dc != NULL)
        zero_finished(cache, t, r, hidden, step->dc);
}

/* With an LSTM projection, what the cell gets as dL/dh at step t for the
 * slice's rows: dL/d(cell_out_t) = dh_t W_hr. The rows of dh_t then feed
 * only dW_hr, so a padded step's are zeroed (going in reverse they hold
 * what flowed towards h0). Without a projection, dh_t itself. */
static float *cell_out_grad(rnn_t *model, const float *w_hr, int32_t t,
                            row_range r, float *dh_t)
{
    if (w_hr == NULL)
        return dh_t;
    const rnn_cache *cache = &model->cache;
    const int32_t proj = model->cfg.proj_size, hidden = model->cfg.hidden_size;
    float *d_cell_out = model->work.d_cell_out + (size_t)r.first * hidden;
    rnn__rows_product(r.rows, hidden, proj, dh_t, w_hr, hidden, false, 0.0f,
                      d_cell_out);
    if (cache->has_lengths)
        zero_finished(cache, t, r, proj, dh_t);
    return d_cell_out;
}

/* One cell's steps, against forward order, cut into slices of the batch
 * rows as forward's recurrence is (forward.c): a row's gradient reads only
 * that row's buffers. */
typedef struct backprop {
    rnn_t *model;
    int32_t cell, dir;
    float *grad, *d_proj;
    const cell_state_ends *ends;
    int columns; /* column blocks of each step's product (forward.c) */
} backprop;

/* Walks the slice's steps: completes dL/dh_t with dR_{t+1} W_hh and has
 * the cell make dA_t (in `d_proj`) and dR_t. */
static void backprop_rows(void *ctx, int32_t first, int32_t rows)
{
    const backprop *job = ctx;
    rnn_t *model = job->model;
    const rnn_cache *cache = &model->cache;
    const int32_t dir = job->dir, hidden = model->cfg.hidden_size;
    const int32_t state = rnn__state_size(&model->cfg);
    const int32_t batch = cache->batch, seq_len = cache->seq_len;
    const int32_t width = model->cell_ops->gates * hidden;
    const size_t bs = (size_t)batch * state, step = (size_t)batch * width;
    const size_t h_at = (size_t)first * hidden, p_at = (size_t)first * width;
    const row_range r = {first, rows};
    const rnn_cell_view w = rnn__cell(model, model->params, job->cell);
    const int32_t start = dir == 0 ? seq_len - 1 : 0, next = dir == 0 ? -1 : 1;
    float *const dc_all = model->work.dc;
    rnn_cell_forward_args all = rnn__step_buffers(model, job->cell, dir);
    rnn_cell_backward_args args = {
        .dc = dc_all != NULL ? dc_all + h_at : NULL,
        .dh_prev = model->work.dh_direct != NULL ? model->work.dh_direct + h_at
                                                 : NULL};
    rnn__step_move(&all, model->cell_ops, start);
    if (args.dc != NULL)
        memset(args.dc, 0, (size_t)rows * hidden * sizeof(float));
    for (int32_t k = 0; k < seq_len; ++k) {
        const int32_t t = start + k * next;
        float *dh_t = job->grad + (size_t)t * bs + (size_t)first * state;
        float *d_proj_t = job->d_proj + (size_t)t * step + p_at;
        args.fwd = rnn__slice_step(&all, model->cell_ops, first, rows);
        if (k > 0) {
            const int32_t later = dir == 0 ? t + 1 : t - 1;
            const float *d_rec_later = d_rec_rows(
                model, job->d_proj + (size_t)later * step + p_at, later, r);
            RNN__PHASE(RNN__PHASE_BWD_REC,
                       rnn__columns_product(job->columns, rows, state, width,
                                            d_rec_later, w.w_hh, state, false,
                                            1.0f, dh_t));
        }
        float *dh_cell;
        RNN__PHASE(RNN__PHASE_BWD_REC,
                   dh_cell = cell_out_grad(model, w.w_hr, t, r, dh_t));
        if (dc_all != NULL)
            RNN__PHASE(RNN__PHASE_BWD_COPY,
                       enter_final_cell_grad(model, dir, t, r, job->ends,
                                             dc_all));
        RNN__PHASE(RNN__PHASE_BWD_CELL,
                   backprop_step(model, &args, t, r, dh_cell, d_proj_t));
        if (dc_all != NULL)
            RNN__PHASE(RNN__PHASE_BWD_COPY,
                       take_initial_cell_grad(model, dir, t, r, job->ends,
                                              dc_all));
        const bool last = k + 1 == seq_len;
        if (args.dh_prev != NULL)
            RNN__PHASE(RNN__PHASE_BWD_CELL,
                       route_direct_grad(model, dir, t, r,
                                         last ? NULL
                                              : job->grad +
                                                    (size_t)(t + next) * bs));
        if (!last) /* never points outside the cache */
            rnn__step_move(&all, model->cell_ops, next);
    }
}

static void backprop_steps(rnn_t *model, int32_t cell, int32_t dir, float *grad,
                           float *d_proj, const cell_state_ends *ends)
{
    const rnn_cache *cache = &model->cache;
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    const int32_t state = rnn__state_size(&model->cfg);
    backprop job = {model, cell, dir, grad, d_proj, ends,
                    rnn__column_slices(cache->batch, state, width)};
    rnn__recurrence_rows(&model->cfg, model->cell_ops->gates, cache->batch,
                         cache->seq_len, job.columns, backprop_rows, &job);
}

/* dh0 = dR of the step that read h0, times W_hh (+ what the cell passed
 * around rec). Going in reverse that step is each sequence's last valid
 * one, so its rows are gathered first. */
static void write_initial_state_grad(rnn_t *model, int32_t cell, int32_t dir,
                                     float *d_proj, float *dh0)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = rnn__state_size(&model->cfg), batch = cache->batch;
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    const size_t step = (size_t)batch * width;
    const float *w_hh = rnn__cell(model, model->params, cell).w_hh;
    const row_range all = {0, batch};
    const float *d_rec_first = d_rec_rows(model, d_proj, 0, all);
    if (dir == 1) {
        float *rows = model->work.gather;
        for (int32_t b = 0; b < batch; ++b) {
            const int32_t t = rnn__last_step(cache, b);
            memcpy(rows + (size_t)b * width,
                   d_rec_rows(model, d_proj + (size_t)t * step, t, all) +
                       (size_t)b * width,
                   (size_t)width * sizeof(float));
        }
        d_rec_first = rows;
    }
    float *dh0_cell = dh0 + (size_t)cell * batch * hidden;
    rnn__gemm(false, false, batch, hidden, width, 1.0f, d_rec_first, width, w_hh,
              hidden, 0.0f, dh0_cell, hidden);
    if (model->work.dh0_direct != NULL)
        rnn__add(dh0_cell, model->work.dh0_direct, (size_t)batch * hidden);
}

/* bias[j] += column sums of d[rows, width], and the same into also[] when
 * given (merged projections: b_ih and b_hh get the same gradient). */
static void add_bias_grad(rnn_t *model, const float *d, int32_t rows,
                          int32_t width, float *bias, float *also)
{
    float *sums = model->work.gather;
    memset(sums, 0, (size_t)width * sizeof(float));
    rnn__add_col_sums(sums, d, (size_t)rows, width);
    rnn__add(bias, sums, (size_t)width);
    if (also != NULL)
        rnn__add(also, sums, (size_t)width);
}

/* dW_hr [P, H] += dH^T CellOut: the whole dL/dh rows of the cell's steps
 * (padded ones zeroed) times its o * tanh(c) rows, one sgemm (K = T*B). */
static void add_projection_grad(rnn_t *model, int32_t cell, const float *dh,
                                float *dw_hr)
{
    const rnn_cache *cache = &model->cache;
    const int32_t proj = model->cfg.proj_size, hidden = model->cfg.hidden_size;
    const int32_t rows = cache->seq_len * cache->batch;
    const float *cell_out = rnn__cell_block(model, cache->cell_out, cell,
                                            (size_t)cache->seq_len, 1);
    rnn__gemm(true, false, proj, hidden, rows, 1.0f, dh, proj, cell_out, hidden,
              1.0f, dw_hr, hidden);
}

/* The cell's weight and bias gradients, batched over all T*B rows (dh:
 * its dL/dh rows, read for dW_hr). */
static void add_weight_grads(rnn_t *model, int32_t layer, int32_t dir,
                             const float *dh, const float *d_proj)
{
    const rnn_cache *cache = &model->cache;
    const bool separate = model->cell_ops->separate_projections;
    const int32_t hidden = rnn__state_size(&model->cfg), dirs = model->dirs;
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    const int32_t rows = cache->seq_len * cache->batch;
    const int32_t cell = layer * dirs + dir;
    rnn_cell_view dw = rnn__cell(model, model->grads, cell);
    if (dw.w_hr != NULL)
        RNN__PHASE(RNN__PHASE_BWD_DW_HH, add_projection_grad(model, cell, dh,
                                                             dw.w_hr));
    const float *h_prev = rnn__hidden_slot(model, cell, dir == 0 ? 0 : 1);
    const float *d_rec = separate ? model->work.d_rec : d_proj;
    RNN__PHASE(RNN__PHASE_BWD_DW_HH,
               rnn__gemm(true, false, width, hidden, rows, 1.0f, d_rec, width,
                         h_prev, hidden, 1.0f, dw.w_hh, hidden));
    if (layer == 0) {
        /* the kept x: the float input, or the gathered embedding rows */
        const int32_t in = model->cfg.input_size;
        if (!cache->embed_table)
            RNN__PHASE(RNN__PHASE_BWD_DW_IH,
                       rnn__gemm(true, false, width, in, rows, 1.0f, d_proj,
                                 width, cache->x, in, 1.0f, dw.w_ih, in));
        if (model->cfg.vocab_size > 0)
            RNN__PHASE(RNN__PHASE_BWD_DW_IH,
                       rnn__embedding_backward(model, dir, d_proj, dw.w_ih));
    } else {
        for (int32_t src = 0; src < dirs; ++src)
            RNN__PHASE(RNN__PHASE_BWD_DW_IH,
                       rnn__gemm(true, false, width, hidden, rows, 1.0f, d_proj,
                                 width, rnn__layer_input(model, layer, src),
                                 hidden, 1.0f, dw.w_ih + (size_t)src * hidden,
                                 dirs * hidden));
    }
    if (dw.b_ih == NULL)
        return;
    RNN__PHASE(RNN__PHASE_BWD_DB,
               add_bias_grad(model, d_proj, rows, width, dw.b_ih,
                             separate ? NULL : dw.b_hh));
    if (separate)
        RNN__PHASE(RNN__PHASE_BWD_DB,
                   add_bias_grad(model, d_rec, rows, width, dw.b_hh, NULL));
}

/* dL/d(layer input) = sum over directions of dA W_ih: into the layer below's
 * per-direction blocks, or into dx for layer 0. */
static void input_grad(rnn_t *model, int32_t layer, float *grad, float *below,
                       float *dx)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = rnn__state_size(&model->cfg), dirs = model->dirs;
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    const int32_t rows = cache->seq_len * cache->batch;
    const size_t block = (size_t)rows * hidden;
    for (int32_t dir = 0; dir < dirs; ++dir) {
        const float *w_ih = rnn__cell(model, model->params, layer * dirs + dir).w_ih;
        const float *d_proj = d_proj_block(model, grad, dir);
        const float beta = dir == 0 ? 0.0f : 1.0f;
        if (layer == 0) {
            const int32_t in = model->cfg.input_size;
            rnn__gemm(false, false, rows, in, width, 1.0f, d_proj, width, w_ih,
                      in, beta, dx, in);
            continue;
        }
        for (int32_t src = 0; src < dirs; ++src)
            rnn__gemm(false, false, rows, hidden, width, 1.0f, d_proj, width,
                      w_ih + (size_t)src * hidden, dirs * hidden, beta,
                      below + src * block, hidden);
    }
    if (layer == 0 || !cache->dropping)
        return;
    /* The layer read dropped outputs: the gradient reaches the kept ones. */
    for (int32_t src = 0; src < dirs; ++src) {
        const float *mask = rnn__dropout_block(model, layer - 1, src);
        float *grad_below = below + src * block;
        for (size_t i = 0; i < block; ++i)
            grad_below[i] *= mask[i];
    }
}

static void write_input_grad(rnn_t *model, float *grad, float *dx)
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

/* BPTT over a checked *args. */
static rnn_status backward_pass(rnn_t *model, const rnn_backward_args *args,
                                const char *func)
{
    const float *dy = args->dy, *dh_n = args->dh_n;
    float *dx = args->dx, *dh0 = args->dh0;
    const size_t states = (size_t)model->num_cells * model->cache.batch *
                          (size_t)model->cfg.hidden_size;
    const size_t outputs = (size_t)model->num_cells * model->cache.batch *
                           (size_t)rnn__state_size(&model->cfg);
    if (model->cfg.vocab_size > 0 && dx != NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "dx is set, and the model takes token ids: their "
                         "gradient goes to embedding.weight (pass NULL)");
    if (model->cache.inference)
        return rnn__fail(RNN_E_STATE, func,
                         "the last forward was rnn_forward_inference, which "
                         "keeps nothing to differentiate: call rnn_forward");
    if (!model->cache.valid)
        return rnn__fail(RNN_E_STATE, func,
                         "no forward pass to differentiate: call rnn_forward "
                         "first");
    if (dy == NULL && dh_n == NULL && args->dc_n == NULL &&
        !model->head_grad_pending)
        return rnn__fail(RNN_E_STATE, func,
                         "nothing to propagate: dy and dh_n%s are NULL and no "
                         "rnn_head_backward gradient is pending (call "
                         "rnn_head_backward first, or pass dy or dh_n)",
                         model->cell_ops->has_cell_state ? " (and dc_n)" : "");
    rnn_status status = RNN_OK;
    if (model->check_finite) {
        const size_t rows = (size_t)model->cache.seq_len * model->cache.batch;
        const size_t width = (size_t)model->dirs * rnn__state_size(&model->cfg);
        status = rnn__check_array(dy, rows * width, "dy", func);
        if (status == RNN_OK)
            status = rnn__check_array(dh_n, outputs, "dh_n", func);
        if (status == RNN_OK)
            status = rnn__check_array(args->dc_n, states, "dc_n", func);
    }
    size_t floats[WORKS], total;
    work_parts(model, floats);
    rnn__sum_floats(floats, WORKS, &total);
    if (status == RNN_OK)
        status = rnn__reserve(&model->work.arena, &model->work.capacity, total,
                              func);
    if (status != RNN_OK)
        return status;
    layout_work(model, floats);

    const int32_t dirs = model->dirs;
    const size_t block = (size_t)model->cache.seq_len * model->cache.batch *
                         (size_t)rnn__state_size(&model->cfg);
    float *grad = model->work.grad_in, *below = model->work.grad_out;
    RNN__PHASE(RNN__PHASE_BWD_COPY, load_output_grad(model, dy, grad));
    if (model->head_grad_pending)
        RNN__PHASE(RNN__PHASE_BWD_COPY, add_head_grad(model, grad));
    model->head_grad_pending = false;

    for (int32_t layer = model->cfg.num_layers - 1; layer >= 0; --layer) {
        for (int32_t dir = 0; dir < dirs; ++dir) {
            const int32_t cell = layer * dirs + dir;
            float *dh = grad + dir * block;
            float *d_proj = d_proj_block(model, grad, dir);
            if (dh_n != NULL)
                RNN__PHASE(RNN__PHASE_BWD_COPY,
                           add_final_state_grad(model, cell, dir, dh_n, dh));
            const size_t at = (size_t)cell * model->cache.batch *
                              model->cfg.hidden_size;
            const cell_state_ends ends = {
                args->dc_n != NULL ? args->dc_n + at : NULL,
                args->dc0 != NULL ? args->dc0 + at : NULL};
            backprop_steps(model, cell, dir, dh, d_proj, &ends);
            if (dh0 != NULL)
                RNN__PHASE(RNN__PHASE_BWD_REC,
                           write_initial_state_grad(model, cell, dir, d_proj,
                                                    dh0));
            add_weight_grads(model, layer, dir, dh, d_proj);
        }
        if (layer > 0) {
            RNN__PHASE(RNN__PHASE_BWD_DX,
                       input_grad(model, layer, grad, below, NULL));
            float *swap = grad;
            grad = below;
            below = swap;
        } else if (dx != NULL) {
            RNN__PHASE(RNN__PHASE_BWD_DX, write_input_grad(model, grad, dx));
        }
    }
    return RNN_OK;
}

rnn_status rnn_backward(rnn_t *model, const float *dy, const float *dh_n,
                        float *dx, float *dh0)
{
    static const char *func = "rnn_backward";
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    rnn_backward_args args;
    memset(&args, 0, sizeof args);
    args.struct_size = sizeof args;
    args.dy = dy;
    args.dh_n = dh_n;
    args.dx = dx;
    args.dh0 = dh0;
    return backward_pass(model, &args, func);
}

rnn_status rnn_backward_args_init(rnn_backward_args *args, size_t struct_size)
{
    static const char *func = "rnn_backward_args_init";
    if (args == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "args is NULL");
    rnn_status status = rnn__struct_check_size(
        struct_size, &rnn__backward_args_layout, "args", func);
    if (status != RNN_OK)
        return status;
    rnn_backward_args full;
    memset(&full, 0, sizeof full);
    full.struct_size = sizeof full;
    rnn__struct_write(args, struct_size, &full, &rnn__backward_args_layout);
    return RNN_OK;
}

rnn_status rnn_backward_ex(rnn_t *model, const rnn_backward_args *args)
{
    static const char *func = "rnn_backward_ex";
    if (model == NULL || args == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "args");
    rnn_backward_args full;
    memset(&full, 0, sizeof full);
    rnn_status status =
        rnn__struct_read(&full, args, &rnn__backward_args_layout, "args", func);
    if (status != RNN_OK)
        return status;
    if (!model->cell_ops->has_cell_state &&
        (full.dc_n != NULL || full.dc0 != NULL))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "args->%s is set, and a %s cell has no cell state "
                         "(only LSTM has)",
                         full.dc_n != NULL ? "dc_n" : "dc0",
                         model->cell_ops->name);
    return backward_pass(model, &full, func);
}
