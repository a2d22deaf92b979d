/* SPDX-License-Identifier: MIT
 *
 * forward.c - the forward pass over whole sequences, keeping in the model
 * what backward and the head need.
 *
 * Per layer and direction ("cell"), whatever the cell (cell.h):
 *   1. the input projection of all T steps is ONE sgemm (M = T*B, N = G*H)
 *      onto the pre-filled biases, written straight into the hidden-state
 *      slots when the cell projects into the state (Elman), else into the
 *      cell's own [T, B, G*H] rows;
 *   2. each step adds h_prev W_hh^T onto its rows in place (sgemm, or sgemv
 *      when B = 1), or into rows of its own when the cell keeps the
 *      projections apart, and hands them to the cell's forward.
 * An LSTM with proj_size P has its cell write o * tanh(c) into [T, B, H]
 * rows of their own, and each step then makes h_t = those rows W_hr^T
 * (one more product per step, [B, P]).
 * Each cell's states live in a [T+1, B, S] block (S: the state width, P
 * with a projection, else H; c in a second one, [T+1, B, H]): the
 * T outputs are one contiguous matrix (the next layer's input, the batched
 * weight gradients) and the initial state sits beside them (slot 0
 * forward, slot T reverse).
 */
#include "internal.h"
#include "pool.h"

#include <limits.h>
#include <string.h>

/* The per-step products run faster on W_hh^T (sgemm NN, or a transposed
 * sgemv) than on W_hh (NT, plain sgemv): measured with OpenBLAS on one
 * core, never slower (figures in docs/benchmarks.md). So forward transposes
 * W_hh into the cache before each cell's steps when the T*B rows repay it:
 * B > 1 from 64 rows; B = 1 from T >= H / 2, as the transpose costs
 * several steps' gain there (config a, H = 32, T = 10, is slower with the
 * copy than without). The copy's rows are padded by rnn__copy_ld. */
static int32_t transposed_ld(const rnn_t *model, int32_t seq_len,
                             int32_t batch)
{
    const int32_t hidden = model->cfg.hidden_size;
    const int64_t rows = (int64_t)seq_len * batch;
    const bool pays = batch > 1 ? rows >= 64 : (int64_t)seq_len * 2 >= hidden;
    if (!pays)
        return 0;
    return rnn__copy_ld(model->cell_ops->gates * hidden);
}


/* The sizes of the cache's parts for (T, B), in floats, in arena order. */
enum { PART_X, PART_HIDDEN, PART_PROJ, PART_CELL_STATE, PART_SAVED, PART_REC,
       PART_W_HH_T, PART_MASK, PART_DROPPED, PART_CARRY, PART_CELL_OUT,
       PART_TABLE, PART_IDS,
       PART_LENGTHS, PARTS };

/* What a forward keeps: a training forward what backward and the head
 * need, with or without dropout; an inference forward one chunk of steps
 * and the state carried between chunks. */
typedef enum pass_kind { PASS_TRAIN, PASS_TRAIN_DROPOUT, PASS_INFER } pass_kind;

/* floats[] of every part; false when one overflows. `table`: token input
 * through the projected table (embedding.c), which replaces x. */
static bool cache_parts(const rnn_t *model, int32_t seq_len, int32_t batch,
                        pass_kind kind, int32_t w_hh_t_ld, bool table,
                        size_t floats[PARTS])
{
    const rnn_config *cfg = &model->cfg;
    const rnn_cell_ops *ops = model->cell_ops;
    const size_t cells = (size_t)model->num_cells, hidden = (size_t)cfg->hidden_size;
    const size_t gates = (size_t)ops->gates, width = (size_t)rnn__state_size(cfg);
    size_t states, steps, outputs, step_outputs;
    memset(floats, 0, PARTS * sizeof floats[0]);
    /* states and steps count H units (c, the gates); outputs (T+1 slots)
     * and step_outputs (T steps of one cell) S units (h) */
    if (!rnn__mul3((size_t)seq_len + 1, (size_t)batch, hidden, &states) ||
        !rnn__mul(states, cells, &states) ||
        !rnn__mul3((size_t)seq_len, (size_t)batch, hidden, &steps) ||
        !rnn__mul(steps, cells, &steps) ||
        !rnn__mul3((size_t)seq_len + 1, (size_t)batch, width, &outputs) ||
        !rnn__mul(outputs, cells, &outputs) ||
        !rnn__mul3((size_t)seq_len, (size_t)batch, width, &step_outputs) ||
        !rnn__mul3((size_t)seq_len, (size_t)batch, (size_t)cfg->input_size,
                   &floats[PART_X]) ||
        (!ops->project_into_state && !rnn__mul(steps, gates, &floats[PART_PROJ])) ||
        !rnn__mul(steps, (size_t)ops->saved_units, &floats[PART_SAVED]))
        return false;
    floats[PART_HIDDEN] = outputs;
    floats[PART_CELL_STATE] = ops->has_cell_state ? states : 0;
    floats[PART_CELL_OUT] = cfg->proj_size > 0 ? steps : 0;
    floats[PART_REC] = ops->separate_projections ? (size_t)batch * gates * hidden : 0;
    /* One W_hh^T copy, reused cell after cell: the cells run one at a time. */
    floats[PART_W_HH_T] = width * (size_t)w_hh_t_ld;
    if (kind == PASS_TRAIN_DROPOUT) {
        /* the layers below the top: D fewer cells than outputs counts */
        floats[PART_MASK] = floats[PART_DROPPED] =
            step_outputs * (cells - (size_t)model->dirs);
    }
    if (kind == PASS_INFER) /* h, then c: one slot of each cell */
        floats[PART_CARRY] = (size_t)batch * cells *
                             (width + (ops->has_cell_state ? hidden : 0));
    if (cfg->vocab_size > 0) { /* int32 ids */
        floats[PART_IDS] = (size_t)seq_len * (size_t)batch;
        floats[PART_TABLE] = table ? rnn__embedding_table_floats(model) : 0;
        floats[PART_X] = table ? 0 : floats[PART_X];
    }
    floats[PART_LENGTHS] = (size_t)batch; /* int32, at the end */
    return true;
}

/* The cache for `steps` steps of B sequences at a time: its parts (arena
 * order), their sum in floats, and the W_hh^T copy's row stride. */
typedef struct cache_plan {
    size_t floats[PARTS];
    size_t total;
    int32_t steps, projection_steps, w_hh_t_ld;
    bool table; /* token input through the projected table */
} cache_plan;

/* The input projections are made this many steps at a time, in both
 * passes: enough rows that each stays a large sgemm, and an inference
 * forward that runs that many steps at a time keeps memory that does not
 * grow with T. */
static int32_t projection_steps(int32_t seq_len, int32_t batch)
{
    const int32_t steps = 4096 / batch > 64 ? 4096 / batch : 64;
    return steps < seq_len ? steps : seq_len;
}

/* The steps an inference forward runs at a time: a reverse direction needs
 * the whole sequence, and so does the NaN/Inf check mode, which must refuse
 * before writing any output. */
static int32_t inference_chunk(const rnn_t *model, int32_t seq_len,
                               int32_t batch)
{
    if (model->dirs == 2 || model->check_finite)
        return seq_len;
    return projection_steps(seq_len, batch);
}

/* false when the count overflows. The W_hh^T decision is the one of the
 * whole sequence, so that an inference forward makes the same products as
 * a training one. */
static bool plan_cache(const rnn_t *model, int32_t seq_len, int32_t batch,
                       pass_kind kind, cache_plan *plan)
{
    plan->steps = kind == PASS_INFER ? inference_chunk(model, seq_len, batch)
                                     : seq_len;
    plan->projection_steps = projection_steps(seq_len, batch);
    plan->w_hh_t_ld = transposed_ld(model, seq_len, batch);
    plan->table = rnn__embedding_uses_table(model, seq_len, batch);
    return cache_parts(model, plan->steps, batch, kind, plan->w_hh_t_ld,
                       plan->table, plan->floats) &&
           rnn__sum_floats(plan->floats, PARTS, &plan->total);
}

static rnn_status check_lengths(const int32_t *lengths, int32_t seq_len,
                                int32_t batch, const char *func)
{
    if (lengths == NULL)
        return RNN_OK;
    for (int32_t b = 0; b < batch; ++b)
        if (lengths[b] < 1 || lengths[b] > seq_len)
            return rnn__fail(RNN_E_SHAPE, func,
                             "lengths[%d] = %d is outside [1, seq_len = %d]", b,
                             lengths[b], seq_len);
    return RNN_OK;
}

/* Checks the arguments and plans the cache for them. `input` is x, or the
 * ids of a model with an embedding. */
static rnn_status validate(const rnn_t *model, int32_t seq_len, int32_t batch,
                           const void *input, const int32_t *lengths,
                           pass_kind kind, cache_plan *plan, const char *func)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    if (input == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model->cfg.vocab_size > 0 ? "ids" : "x");
    if (seq_len <= 0)
        return rnn__fail(RNN_E_SHAPE, func, "seq_len must be > 0 (got %d)",
                         seq_len);
    if (batch <= 0)
        return rnn__fail(RNN_E_SHAPE, func, "batch must be > 0 (got %d)", batch);
    /* BLAS takes int sizes: T*B rows must fit, as must T*B*(D*H) and
     * T*B*(G*H) elements addressed with int strides by some backends. */
    const int64_t rows = (int64_t)seq_len * batch;
    const int64_t hidden = model->cfg.hidden_size;
    int64_t widest = model->cfg.input_size > model->dirs * hidden
                         ? model->cfg.input_size
                         : model->dirs * hidden;
    if (model->cell_ops->gates * hidden > widest)
        widest = model->cell_ops->gates * hidden;
    if (rows > INT_MAX || rows * widest > INT_MAX)
        return rnn__fail(RNN_E_SHAPE, func,
                         "seq_len * batch * width = %d * %d * %lld exceeds "
                         "INT_MAX",
                         seq_len, batch, (long long)widest);
    if (!plan_cache(model, seq_len, batch, kind, plan))
        return rnn__fail(RNN_E_SHAPE, func, "cache size for seq_len %d, batch %d "
                         "overflows", seq_len, batch);
    return check_lengths(lengths, seq_len, batch, func);
}

/* Points the cache at its arena for B sequences as planned (the arena
 * already fits), the steps of the plan at a time. Parts a cell or the pass
 * does not use are NULL. */
static void layout_cache(rnn_t *model, int32_t batch, const cache_plan *plan)
{
    rnn_cache *cache = &model->cache;
    float *lengths, *ids;
    float **const parts[PARTS] = {
        [PART_X] = &cache->x, [PART_HIDDEN] = &cache->hidden,
        [PART_PROJ] = &cache->proj, [PART_CELL_STATE] = &cache->cell_state,
        [PART_SAVED] = &cache->saved, [PART_REC] = &cache->rec,
        [PART_W_HH_T] = &cache->w_hh_t, [PART_MASK] = &cache->mask,
        [PART_DROPPED] = &cache->dropped, [PART_CARRY] = &cache->carry,
        [PART_CELL_OUT] = &cache->cell_out, [PART_TABLE] = &cache->table,
        [PART_IDS] = &ids, [PART_LENGTHS] = &lengths};
    rnn__carve(cache->arena, plan->floats, PARTS, parts);
    cache->dropping = cache->mask != NULL;
    cache->seq_len = plan->steps;
    cache->batch = batch;
    cache->w_hh_t_ld = plan->w_hh_t_ld;
    cache->projection_steps = plan->projection_steps;
    cache->lengths = (int32_t *)(void *)lengths;
    cache->ids = (int32_t *)(void *)ids;
    cache->embed_table = plan->table;
}

/* Copies the cache's steps, steps t0 .. of x's total_steps, time-major
 * into the cache, and the lengths as seen from t0 (0 for a sequence that
 * ended before: all its steps then hold its state). */
static void prepare_inputs(rnn_t *model, const float *x, int32_t total_steps,
                           int32_t t0, const int32_t *lengths)
{
    rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    const int32_t steps = cache->seq_len, batch = cache->batch;
    const size_t width = (size_t)cfg->input_size;
    /* x is NULL with token input: embedding.c fills the cache's x */
    if (x != NULL && !cfg->batch_first)
        memcpy(cache->x, x + (size_t)t0 * batch * width,
               (size_t)steps * batch * width * sizeof(float));
    else if (x != NULL && steps == total_steps)
        rnn__swap_tb(cache->x, x, steps, batch, cfg->input_size, true);
    else if (x != NULL)
        for (int32_t t = 0; t < steps; ++t)
            for (int32_t b = 0; b < batch; ++b)
                memcpy(cache->x + ((size_t)t * batch + b) * width,
                       x + ((size_t)b * total_steps + t0 + t) * width,
                       width * sizeof(float));
    cache->has_lengths = lengths != NULL;
    for (int32_t b = 0; lengths != NULL && b < batch; ++b) {
        const int32_t left = lengths[b] - t0;
        cache->lengths[b] = left < 0 ? 0 : left > steps ? steps : left;
    }
}

/* Fills rows[count, width] with b_ih + b_hh (b_ih alone when b_hh is
 * NULL), so that a projection adds onto it (beta = 1): the bias then costs
 * no pass of its own in the step loop, and the BLAS skips the pass that
 * beta = 0 makes to zero its output. */
static void fill_bias(float *rows, size_t count, int32_t width,
                      const float *b_ih, const float *b_hh)
{
    for (int32_t j = 0; j < width; ++j)
        rows[j] = b_hh != NULL ? b_ih[j] + b_hh[j] : b_ih[j];
    for (size_t r = 1; r < count; ++r)
        memcpy(rows + r * width, rows, (size_t)width * sizeof(float));
}

/* One chunk of steps of a cell's input projection (project_inputs). */
typedef struct projection {
    const rnn_t *model;
    int32_t layer;
    const rnn_cell_view *w;
    size_t first; /* the chunk's first row of the T*B */
    float *out;   /* the cell's [T*B, G*H] projections */
} projection;

/* Rows first .. first + rows - 1 of the chunk: the bias, then the
 * product(s) onto it. */
static void project_rows(void *ctx, int32_t first, int32_t rows)
{
    const projection *p = ctx;
    const rnn_t *model = p->model;
    const rnn_cell_view *w = p->w;
    const int32_t dirs = model->dirs, state = rnn__state_size(&model->cfg);
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    const size_t row = p->first + (size_t)first;
    float *out = p->out + row * width;
    if (w->b_ih != NULL)
        fill_bias(out, (size_t)rows, width, w->b_ih,
                  model->cell_ops->separate_projections ? NULL : w->b_hh);
    const float beta = w->b_ih != NULL ? 1.0f : 0.0f;
    if (p->layer == 0) {
        const int32_t in = model->cfg.input_size;
        rnn__gemm(false, true, rows, width, in, 1.0f,
                  model->cache.x + row * in, in, w->w_ih, in, beta, out,
                  width);
        return;
    }
    for (int32_t src = 0; src < dirs; ++src)
        rnn__gemm(false, true, rows, width, state, 1.0f,
                  rnn__layer_input(model, p->layer, src) + row * state, state,
                  w->w_ih + (size_t)src * state, dirs * state,
                  src == 0 ? beta : 1.0f, out, width);
}

/* Input projection of all steps: out[T*B, G*H] = bias + input W_ih^T, the
 * bias b_ih + b_hh (b_ih alone when the cell keeps the projections apart).
 * The input of layer l > 0 is the previous layer's output, one [T*B, S]
 * block per direction, so the product is one sgemm per source direction.
 * Row slices of a chunk run on librnn's threads, bias fill included: with
 * a narrow input (config b: I = 1) the passes over the output, not the
 * product, are the work, so each float written counts as 32 flops. */
static void project_inputs(rnn_t *model, int32_t layer, int32_t dir)
{
    const rnn_cache *cache = &model->cache;
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    const int32_t in = layer == 0 ? model->cfg.input_size
                                  : model->dirs * rnn__state_size(&model->cfg);
    const int32_t cell = layer * model->dirs + dir;
    const rnn_cell_view w = rnn__cell(model, model->params, cell);
    float *out = rnn__step_buffers(model, cell, dir).proj;
    if (layer == 0 && cache->embed_table) {
        rnn__embedding_project(model, dir, out);
        return;
    }
    const double row_cost = 2.0 * width * in + 32.0 * width;
    /* In chunks of the inference forward's steps: a BLAS may round a row
     * differently in products of different heights, and the two passes
     * must give the same bits. */
    for (int32_t t0 = 0; t0 < cache->seq_len; t0 += cache->projection_steps) {
        const int32_t steps = cache->seq_len - t0 < cache->projection_steps
                                  ? cache->seq_len - t0
                                  : cache->projection_steps;
        const int32_t rows = steps * cache->batch;
        projection chunk = {model, layer, &w, (size_t)t0 * cache->batch, out};
        /* One slice takes no thread scope: rnn__gemm takes one where it
         * pays. */
        rnn__parallel_rows(rows, rnn__row_slices(rows, row_cost), false,
                           project_rows, &chunk);
    }
}

/* Copies the cell's slice of a [L*D, B, width] initial state into `slot`,
 * or zeros it when there is none. */
static void load_state(const rnn_t *model, int32_t cell, int32_t width,
                       const float *from, float *slot)
{
    const size_t rows = (size_t)model->cache.batch * width;
    if (from != NULL)
        memcpy(slot, from + (size_t)cell * rows, rows * sizeof(float));
    else
        memset(slot, 0, rows * sizeof(float));
}

/* The [L*D, B, .] initial states a pass starts from: the caller's h0 and
 * c0 (NULL: zeros), or what an inference forward carried between chunks. */
typedef struct initial_states {
    const float *h0, *c0;
} initial_states;

/* h0 and c0 into the cell's initial slots. */
static void set_initial_state(rnn_t *model, int32_t cell, int32_t dir,
                              const initial_states *from)
{
    const rnn_cache *cache = &model->cache;
    const int32_t slot = dir == 0 ? 0 : cache->seq_len;
    const size_t bh = (size_t)cache->batch * (size_t)model->cfg.hidden_size;
    float *c = rnn__cell_block(model, cache->cell_state, cell,
                          (size_t)cache->seq_len + 1, 1);
    load_state(model, cell, rnn__state_size(&model->cfg), from->h0,
               rnn__hidden_slot(model, cell, slot));
    if (c != NULL)
        load_state(model, cell, model->cfg.hidden_size, from->c0,
                   c + (size_t)slot * bh);
}

/* Sequences that ended before step t keep their previous state (rows
 * `first` .. of the batch, which `out` and `prev` start at). */
static void hold_finished(const rnn_cache *cache, int32_t t, int32_t first,
                          int32_t rows, int32_t hidden, float *out,
                          const float *prev)
{
    for (int32_t b = 0; b < rows; ++b)
        if (t >= cache->lengths[first + b])
            memcpy(out + (size_t)b * hidden, prev + (size_t)b * hidden,
                   (size_t)hidden * sizeof(float));
}

/* out[rows, G*H] (+)= h_prev W_hh^T, from the [S, G*H] W_hh^T copy or from
 * W_hh itself, in `columns` column blocks run by librnn's threads (1: one
 * call). */
static void recurrent_product(const rnn_t *model, const float *w_hh,
                              int columns, int32_t rows, const float *h_prev,
                              float beta, float *out)
{
    const rnn_cache *cache = &model->cache;
    const int32_t state = rnn__state_size(&model->cfg);
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    if (cache->w_hh_t_ld != 0)
        rnn__columns_product(columns, rows, width, state, h_prev,
                             cache->w_hh_t, cache->w_hh_t_ld, false, beta, out);
    else
        rnn__columns_product(columns, rows, width, state, h_prev, w_hh, state,
                             true, beta, out);
}

/* An LSTM's projection: h_t [rows, P] = cell_out [rows, H] W_hr^T. */
static void project_state(const rnn_t *model, const rnn_cell_view *w,
                          const rnn_cell_forward_args *step)
{
    rnn__rows_product(step->rows, model->cfg.proj_size, step->hidden,
                      step->cell_out, w->w_hr, step->hidden, true, 0.0f,
                      step->h);
}

/* The step's rec rows of their own, b_hh included (separate projections):
 * the slice's rows of cache->rec. */
static float *separate_rec(const rnn_t *model, const rnn_cell_view *w,
                           int columns, int32_t first, int32_t rows,
                           const float *h_prev)
{
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    float *rec = model->cache.rec + (size_t)first * width;
    if (w->b_hh != NULL)
        fill_bias(rec, (size_t)rows, width, w->b_hh, NULL);
    recurrent_product(model, w->w_hh, columns, rows, h_prev,
                      w->b_hh != NULL ? 1.0f : 0.0f, rec);
    return rec;
}

/* Step t over the batch rows first .. first + step->rows - 1, whose
 * buffers `step` holds; its product in `columns` column blocks. */
static void run_step(const rnn_t *model, rnn_cell_forward_args *step,
                     int32_t t, int32_t first, const rnn_cell_view *w,
                     int columns)
{
    const rnn_cache *cache = &model->cache;
    const rnn_cell_ops *ops = model->cell_ops;
    const int32_t hidden = model->cfg.hidden_size, rows = step->rows;
    if (ops->separate_projections)
        RNN__PHASE(RNN__PHASE_FWD_REC,
                   step->rec = separate_rec(model, w, columns, first, rows,
                                            step->h_prev));
    else
        RNN__PHASE(RNN__PHASE_FWD_REC,
                   recurrent_product(model, w->w_hh, columns, rows,
                                     step->h_prev, 1.0f, step->proj));
    RNN__PHASE(RNN__PHASE_FWD_CELL, ops->forward(step));
    if (step->cell_out != NULL)
        RNN__PHASE(RNN__PHASE_FWD_REC, project_state(model, w, step));
    if (cache->has_lengths) {
        RNN__PHASE(RNN__PHASE_FWD_COPY,
                   hold_finished(cache, t, first, rows,
                                 rnn__state_size(&model->cfg), step->h,
                                 step->h_prev));
        if (step->c != NULL)
            RNN__PHASE(RNN__PHASE_FWD_COPY,
                       hold_finished(cache, t, first, rows, hidden, step->c,
                                     step->c_prev));
    }
}

/* One cell's recurrence, cut into slices of the batch rows: a row's steps
 * read only that row's states, so each thread runs every step of its
 * slice (pool.h) with no barrier between steps. When W_hh is too large for
 * that (rnn__column_slices), one slice of all rows whose per-step products
 * are cut into column blocks instead. */
typedef struct recurrence {
    const rnn_t *model;
    int32_t cell, dir;
    rnn_cell_view w;
    int columns;
} recurrence;

static void recurrence_rows(void *ctx, int32_t first, int32_t rows)
{
    const recurrence *r = ctx;
    const rnn_t *model = r->model;
    const int32_t seq_len = model->cache.seq_len;
    const int32_t start = r->dir == 0 ? 0 : seq_len - 1;
    const int32_t next = r->dir == 0 ? 1 : -1;
    rnn_cell_forward_args all = rnn__step_buffers(model, r->cell, r->dir);
    rnn__step_move(&all, model->cell_ops, start);
    for (int32_t k = 0; k < seq_len; ++k) {
        rnn_cell_forward_args step =
            rnn__slice_step(&all, model->cell_ops, first, rows);
        run_step(model, &step, start + k * next, first, &r->w, r->columns);
        if (k + 1 < seq_len) /* never points outside the cache */
            rnn__step_move(&all, model->cell_ops, next);
    }
}

static void run_recurrence(rnn_t *model, int32_t cell, int32_t dir)
{
    const rnn_cache *cache = &model->cache;
    const int32_t hidden = model->cfg.hidden_size;
    const int32_t state = rnn__state_size(&model->cfg);
    const int32_t width = model->cell_ops->gates * hidden;
    recurrence r = {model, cell, dir, rnn__cell(model, model->params, cell),
                    rnn__column_slices(cache->batch, width, state)};
    if (cache->w_hh_t_ld != 0)
        RNN__PHASE(RNN__PHASE_FWD_TRANSPOSE,
                   rnn__transpose(cache->w_hh_t, cache->w_hh_t_ld, r.w.w_hh,
                                  width, state));
    rnn__recurrence_rows(&model->cfg, model->cell_ops->gates, cache->batch,
                         cache->seq_len, r.columns, recurrence_rows, &r);
}

/* y(t, b) = [forward | reverse] top-layer output, 0 past each length, for
 * the cache's steps, steps t0 .. of y's total_steps. */
static void write_output(const rnn_t *model, float *y, int32_t total_steps,
                         int32_t t0)
{
    const rnn_cache *cache = &model->cache;
    const rnn_config *cfg = &model->cfg;
    const int32_t seq_len = cache->seq_len, batch = cache->batch;
    const int32_t hidden = rnn__state_size(cfg), dirs = model->dirs;
    const int32_t top = (cfg->num_layers - 1) * dirs;
    const size_t row_bytes = (size_t)hidden * sizeof(float);
    if (dirs == 1 && !cfg->batch_first && !cache->has_lengths) {
        memcpy(y + (size_t)t0 * batch * hidden, rnn__outputs(model, top, 0),
               (size_t)seq_len * batch * row_bytes);
        return;
    }
    for (int32_t t = 0; t < seq_len; ++t) {
        for (int32_t b = 0; b < batch; ++b) {
            size_t row = cfg->batch_first ? (size_t)b * total_steps + t0 + t
                                          : (size_t)(t0 + t) * batch + b;
            float *dst = y + row * (size_t)dirs * hidden;
            bool valid = t <= rnn__last_step(cache, b);
            for (int32_t dir = 0; dir < dirs; ++dir) {
                const float *src = rnn__hidden_slot(model, top + dir,
                                                    rnn__out_slot(dir, t)) +
                                   (size_t)b * hidden;
                if (valid)
                    memcpy(dst + (size_t)dir * hidden, src, row_bytes);
                else
                    memset(dst + (size_t)dir * hidden, 0, row_bytes);
            }
        }
    }
}

/* h_n [L*D, B, S] and c_n [L*D, B, H] (either may be NULL): each cell's
 * last slot, where each sequence's last valid state is. */
static void write_final_state(const rnn_t *model, float *h_n, float *c_n)
{
    const rnn_cache *cache = &model->cache;
    const size_t bh = (size_t)cache->batch * model->cfg.hidden_size;
    const size_t bs = (size_t)cache->batch * rnn__state_size(&model->cfg);
    const size_t slots = (size_t)cache->seq_len + 1;
    for (int32_t cell = 0; cell < model->num_cells; ++cell) {
        const size_t last = cell % model->dirs == 0 ? (size_t)cache->seq_len : 0;
        const float *c = rnn__cell_block(model, cache->cell_state, cell, slots, 1);
        if (h_n != NULL)
            memcpy(h_n + (size_t)cell * bs,
                   rnn__hidden_slot(model, cell, (int32_t)last),
                   bs * sizeof(float));
        if (c_n != NULL && c != NULL)
            memcpy(c_n + (size_t)cell * bh, c + last * bh, bh * sizeof(float));
    }
}

static rnn_status check_inputs(const rnn_t *model, int32_t seq_len,
                               int32_t batch, const float *x,
                               const initial_states *from, const char *func)
{
    const size_t rows = (size_t)seq_len * batch;
    const size_t states = (size_t)model->num_cells * batch * model->cfg.hidden_size;
    const size_t outputs =
        (size_t)model->num_cells * batch * rnn__state_size(&model->cfg);
    rnn_status status =
        rnn__check_array(x, rows * model->cfg.input_size, "x", func);
    if (status == RNN_OK)
        status = rnn__check_array(from->h0, outputs, "h0", func);
    if (status == RNN_OK)
        status = rnn__check_array(from->c0, states, "c0", func);
    if (status == RNN_OK)
        status = rnn__check_finite(model, model->params, "parameter", func);
    return status;
}

/* Finds states that overflowed (relu models can grow without bound). */
static rnn_status check_states(rnn_t *model, const char *func)
{
    const rnn_cache *cache = &model->cache;
    const size_t bh = (size_t)cache->batch * rnn__state_size(&model->cfg);
    for (int32_t cell = 0; cell < model->num_cells; ++cell) {
        const int32_t dir = cell % model->dirs;
        for (int32_t t = 0; t < cache->seq_len; ++t) {
            const float *h = rnn__hidden_slot(model, cell, rnn__out_slot(dir, t));
            if (rnn__check_array(h, bh, "h", func) != RNN_OK)
                return rnn__fail(RNN_E_NONFINITE, func,
                                 "the hidden state of layer %d%s became NaN or "
                                 "Inf at step %d (activations overflowed: lower "
                                 "the learning rate, clip gradients or use tanh)",
                                 cell / model->dirs, dir ? " (reverse)" : "", t);
        }
    }
    return RNN_OK;
}

/* Layer `layer`'s dropout: draws the masks of its outputs and makes the
 * next layer's input from them. */
static void drop_outputs(rnn_t *model, int32_t layer)
{
    rnn_cache *cache = &model->cache;
    const size_t count = (size_t)cache->seq_len * cache->batch *
                         (size_t)rnn__state_size(&model->cfg);
    for (int32_t src = 0; src < model->dirs; ++src) {
        float *mask = rnn__layer_block(model, cache->mask, layer, src);
        float *dropped = rnn__layer_block(model, cache->dropped, layer, src);
        const float *out = rnn__outputs(model, layer * model->dirs + src, src);
        rnn__dropout_mask(&model->dropout_rng, model->cfg.dropout, mask, count);
        for (size_t i = 0; i < count; ++i)
            dropped[i] = out[i] * mask[i];
    }
}

/* Every layer over the cache's steps, from the initial states. */
static void run_layers(rnn_t *model, const initial_states *from)
{
    const int32_t layers = model->cfg.num_layers;
    for (int32_t layer = 0; layer < layers; ++layer) {
        for (int32_t dir = 0; dir < model->dirs; ++dir) {
            const int32_t cell = layer * model->dirs + dir;
            RNN__PHASE(RNN__PHASE_FWD_PROJ, project_inputs(model, layer, dir));
            RNN__PHASE(RNN__PHASE_FWD_COPY, set_initial_state(model, cell, dir, from));
            run_recurrence(model, cell, dir);
        }
        if (model->cache.dropping && layer + 1 < layers)
            RNN__PHASE(RNN__PHASE_FWD_COPY, drop_outputs(model, layer));
    }
}

/* Checks, plans and reserves the cache for a pass; the previous forward's
 * state is untouched on failure. */
static rnn_status begin_pass(rnn_t *model, int32_t seq_len, int32_t batch,
                             const float *x, const int32_t *ids,
                             const int32_t *lengths,
                             const initial_states *from, pass_kind kind,
                             cache_plan *plan, const char *func)
{
    rnn_status status = validate(model, seq_len, batch,
                                 ids != NULL ? (const void *)ids : x, lengths,
                                 kind, plan, func);
    if (status == RNN_OK && ids != NULL)
        status = model->cfg.batch_first
                     ? rnn__embedding_check_ids(model, ids, batch, seq_len,
                                                "b, t", func)
                     : rnn__embedding_check_ids(model, ids, seq_len, batch,
                                                "t, b", func);
    /* A new forward would leave rnn_backward nothing to send the pending
     * head gradient through: the head's weights would learn and the RNN's
     * silently not. */
    if (status == RNN_OK && model->head_grad_pending)
        return rnn__fail(RNN_E_STATE, func,
                         "rnn_head_backward left a gradient that no "
                         "rnn_backward has used: call rnn_backward first (or "
                         "rnn_zero_grad to drop it)");
    if (status == RNN_OK && model->check_finite)
        status = check_inputs(model, seq_len, batch, x, from, func);
    if (status != RNN_OK)
        return status;
    rnn_cache *cache = &model->cache;
    status = rnn__reserve(&cache->arena, &cache->capacity, plan->total, func);
    if (status != RNN_OK)
        return status;
    layout_cache(model, batch, plan);
    model->head_grad_pending = false;
    cache->valid = false;
    cache->inference = kind == PASS_INFER;
    return RNN_OK;
}

/* The training forward over a checked *args. */
static rnn_status forward_train(rnn_t *model, const rnn_forward_args *args,
                                const char *func)
{
    cache_plan plan;
    const int32_t seq_len = args->seq_len, batch = args->batch;
    const pass_kind kind = model != NULL && model->cfg.dropout > 0.0f
                               ? PASS_TRAIN_DROPOUT
                               : PASS_TRAIN;
    const initial_states from = {args->h0, args->c0};
    rnn_status status = begin_pass(model, seq_len, batch, args->x, args->ids,
                                   args->lengths, &from, kind, &plan, func);
    if (status != RNN_OK)
        return status;
    RNN__PHASE(RNN__PHASE_FWD_COPY,
               prepare_inputs(model, args->x, seq_len, 0, args->lengths));
    if (args->ids != NULL)
        RNN__PHASE(RNN__PHASE_FWD_PROJ,
                   rnn__embedding_prepare(model, args->ids, seq_len, 0));
    run_layers(model, &from);
    if (model->check_finite && (status = check_states(model, func)) != RNN_OK)
        return status;
    model->cache.valid = true;
    if (args->y != NULL)
        RNN__PHASE(RNN__PHASE_FWD_COPY, write_output(model, args->y, seq_len, 0));
    if (args->h_n != NULL || args->c_n != NULL)
        RNN__PHASE(RNN__PHASE_FWD_COPY,
                   write_final_state(model, args->h_n, args->c_n));
    return RNN_OK;
}

static rnn_status check_logits(const rnn_t *model, const float *logits,
                               const char *func)
{
    if (logits == NULL || model->cfg.output_size > 0)
        return RNN_OK;
    return rnn__fail(RNN_E_UNSUPPORTED, func,
                     "logits asked for, and the model has no head "
                     "(output_size is 0)");
}

/* The inference forward over a checked *args. */
static rnn_status forward_infer(rnn_t *model, const rnn_forward_args *args,
                                const char *func)
{
    cache_plan plan;
    const int32_t seq_len = args->seq_len, batch = args->batch;
    float *logits = args->logits;
    const initial_states from = {args->h0, args->c0};
    rnn_status status =
        model != NULL ? check_logits(model, logits, func) : RNN_OK;
    if (status == RNN_OK)
        status = begin_pass(model, seq_len, batch, args->x, args->ids,
                            args->lengths, &from, PASS_INFER, &plan, func);
    /* The head's scratch is sized for the first (largest) chunk before any
     * output is written: the later head calls then cannot fail. */
    if (status == RNN_OK && logits != NULL)
        status = rnn__head_reserve(model, func);
    if (status != RNN_OK)
        return status;
    rnn_cache *cache = &model->cache;
    const bool every_step = model->cfg.head_mode == RNN_HEAD_ALL;
    /* The chunks after the first start from the states the one before
     * ended with, h then c in the carry. */
    float *carry_c = model->cell_ops->has_cell_state
                         ? cache->carry + (size_t)model->num_cells * batch *
                                              rnn__state_size(&model->cfg)
                         : NULL;
    const initial_states carried = {cache->carry, carry_c};
    for (int32_t t0 = 0; t0 < seq_len; t0 += plan.steps) {
        if (t0 > 0)
            write_final_state(model, cache->carry, carry_c);
        cache->seq_len = seq_len - t0 < plan.steps ? seq_len - t0 : plan.steps;
        prepare_inputs(model, args->x, seq_len, t0, args->lengths);
        if (args->ids != NULL)
            rnn__embedding_prepare(model, args->ids, seq_len, t0);
        run_layers(model, t0 == 0 ? &from : &carried);
        if (model->check_finite && (status = check_states(model, func)) != RNN_OK)
            return status;
        if (args->y != NULL)
            write_output(model, args->y, seq_len, t0);
        if (logits != NULL && every_step)
            (void)rnn__head_logits(model, logits, seq_len, t0, false, func);
    }
    if (logits != NULL && !every_step)
        (void)rnn__head_logits(model, logits, seq_len, 0, model->dirs == 1,
                               func);
    if (args->h_n != NULL || args->c_n != NULL)
        write_final_state(model, args->h_n, args->c_n);
    return RNN_OK;
}

static void plain_args(rnn_forward_args *args, int32_t seq_len, int32_t batch,
                       const float *x, const int32_t *lengths, const float *h0,
                       float *y, float *h_n)
{
    memset(args, 0, sizeof *args);
    args->struct_size = sizeof *args;
    args->seq_len = seq_len;
    args->batch = batch;
    args->x = x;
    args->lengths = lengths;
    args->h0 = h0;
    args->y = y;
    args->h_n = h_n;
}

/* What rnn_forward and rnn_forward_inference cannot say is refused by
 * them, naming the call that can. */
static rnn_status check_plain_call(const rnn_t *model, const char *func)
{
    if (model != NULL && model->cfg.vocab_size > 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "the model takes token ids (vocab_size %d): call "
                         "rnn_forward_ex with args.ids",
                         model->cfg.vocab_size);
    return RNN_OK;
}

rnn_status rnn_forward(rnn_t *model, int32_t seq_len, int32_t batch,
                       const float *x, const int32_t *lengths, const float *h0,
                       float *y, float *h_n)
{
    static const char *func = "rnn_forward";
    rnn_forward_args args;
    plain_args(&args, seq_len, batch, x, lengths, h0, y, h_n);
    rnn_status status = check_plain_call(model, func);
    return status != RNN_OK ? status : forward_train(model, &args, func);
}

rnn_status rnn_forward_inference(rnn_t *model, int32_t seq_len, int32_t batch,
                                 const float *x, const int32_t *lengths,
                                 const float *h0, float *y, float *h_n,
                                 float *logits)
{
    static const char *func = "rnn_forward_inference";
    rnn_forward_args args;
    plain_args(&args, seq_len, batch, x, lengths, h0, y, h_n);
    args.logits = logits;
    rnn_status status = check_plain_call(model, func);
    return status != RNN_OK ? status : forward_infer(model, &args, func);
}

rnn_status rnn_forward_args_init(rnn_forward_args *args, size_t struct_size)
{
    static const char *func = "rnn_forward_args_init";
    if (args == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "args is NULL");
    rnn_status status = rnn__struct_check_size(
        struct_size, &rnn__forward_args_layout, "args", func);
    if (status != RNN_OK)
        return status;
    rnn_forward_args full;
    memset(&full, 0, sizeof full);
    full.struct_size = sizeof full;
    rnn__struct_write(args, struct_size, &full, &rnn__forward_args_layout);
    return RNN_OK;
}

/* The checks of rnn_forward_ex's own fields (the pass checks the rest). */
static rnn_status check_ex_args(const rnn_t *model, const rnn_forward_args *a,
                                const char *func)
{
    const rnn_config *cfg = &model->cfg;
    if (a->inference != 0 && a->inference != 1)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "args->inference must be 0 or 1 (got %d)",
                         a->inference);
    if (a->reserved != 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "args->reserved must be 0 (got %d)", a->reserved);
    if (cfg->vocab_size > 0 && a->x != NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "args->x is set, and the model takes token ids "
                         "(vocab_size %d): pass args->ids",
                         cfg->vocab_size);
    if (cfg->vocab_size == 0 && a->ids != NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "args->ids is set, and the model has no embedding "
                         "(vocab_size is 0): pass args->x");
    if (!model->cell_ops->has_cell_state && (a->c0 != NULL || a->c_n != NULL))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "args->%s is set, and a %s cell has no cell state "
                         "(only LSTM has)",
                         a->c0 != NULL ? "c0" : "c_n", model->cell_ops->name);
    if (!a->inference && a->logits != NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "args->logits is for inference = 1: a training "
                         "forward is followed by rnn_head_forward");
    return RNN_OK;
}

rnn_status rnn_forward_ex(rnn_t *model, const rnn_forward_args *args)
{
    static const char *func = "rnn_forward_ex";
    if (model == NULL || args == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "args");
    rnn_forward_args full;
    memset(&full, 0, sizeof full);
    rnn_status status =
        rnn__struct_read(&full, args, &rnn__forward_args_layout, "args", func);
    if (status == RNN_OK)
        status = check_ex_args(model, &full, func);
    if (status != RNN_OK)
        return status;
    return full.inference ? forward_infer(model, &full, func)
                          : forward_train(model, &full, func);
}
