/* SPDX-License-Identifier: MIT
 *
 * bench_floor.c - librnn's hot loops re-enacted with direct CBLAS calls (see
 * bench_floor.h). Every function below names the function of src/ it
 * mirrors; the calls, their order and their operands are the library's.
 */
#include "bench_floor.h"

#include "internal.h" /* rnn__gemm, rnn__act, rnn__copy_ld, ...: compiled from src/ into the bench */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cell_view {
    float *w_ih, *w_hh, *b_ih, *b_hh;
} cell_view;

struct bench_floor {
    bench_shape s;
    int relu;
    int32_t nl; /* rnn_nonlinearity, as the library passes it */
    int T, B, H, In, L, D, cells; /* In: I (complex.h defines I) */
    size_t num_params;
    float *params, *grads;
    cell_view *w, *g;     /* per cell, into params / grads */
    float *x_user, *dy_user;
    /* the library's forward cache: time-major x, per cell [T+1, B, H], per
     * cell W_hh^T [H, ld_t] when ld_t != 0 */
    float *cache_x, *hidden, *w_hh_t;
    int ld_t;
    float *y;
    /* backward work: per direction [T, B, H] twice, a gather row block, dx */
    float *grad_in, *grad_out, *gather, *dx;
    /* parts: scratch outputs and saved realistic inputs */
    float *proj, *acc, *act_buf, *pre, *gpre;
    /* streaming: rnn_pack_weights' blocks (one direction only), the packed
     * and the direct step's [L, B, H] states, [B, H] scratch, the joined
     * [B, max(I, H) + H] rows, x_t, y_t, saved pre-activation, and where
     * the step.copy part puts its h */
    float *packed, *sh, *sh_direct, *scratch, *joined, *xt, *yt, *step_pre;
    float *step_sink;
    float *call_out;
    /* what-ifs: cell 0's W_hh^T with ld copy_ld(H) and with the other ld */
    float *call_w_t, *call_w_t_other;
};

/* ---- helpers mirroring src/forward.c's slot arithmetic ------------------ */

static size_t bh(const bench_floor *f)
{
    return (size_t)f->B * f->H;
}

static size_t tbh(const bench_floor *f)
{
    return (size_t)f->T * f->B * f->H;
}

/* rnn__hidden_slot */
static float *slot(const bench_floor *f, int cell, int s)
{
    const size_t block = ((size_t)f->T + 1) * bh(f);
    return f->hidden + (size_t)cell * block + (size_t)s * bh(f);
}

static int out_slot(int dir, int t)
{
    return dir == 0 ? t + 1 : t;
}

static int prev_slot(int dir, int t)
{
    return dir == 0 ? t : t + 1;
}

/* rnn__outputs */
static float *outputs(const bench_floor *f, int cell, int dir)
{
    return slot(f, cell, dir == 0 ? 1 : 0);
}

/* ---- layouts (src/forward.c transposed_ld, src/internal.h rnn__copy_ld) - */

/* transposed_ld: the W_hh^T copy is made when the T*B rows repay it. */
static int transposed_ld(int32_t hidden, int32_t seq_len, int32_t batch)
{
    const int64_t rows = (int64_t)seq_len * batch;
    const bool pays = batch > 1 ? rows >= 64 : (int64_t)seq_len * 2 >= hidden;
    if (!pays)
        return 0;
    return rnn__copy_ld(hidden);
}

int bench_floor_transposed_ld(const bench_shape *s)
{
    return transposed_ld(s->hidden, s->seq_len, s->batch);
}

int bench_floor_copy_ld(int hidden)
{
    return rnn__copy_ld(hidden);
}

int bench_floor_other_ld(int hidden)
{
    return rnn__copy_ld(hidden) == hidden ? hidden + BENCH_PAD : hidden;
}

/* cache->w_hh_t + cell * H * ld */
static float *w_hh_t(const bench_floor *f, int cell)
{
    return f->w_hh_t + (size_t)cell * f->H * f->ld_t;
}

/* ---- forward (src/forward.c) ------------------------------------------- */

/* prepare_inputs, first half: x into the cache (time-major, no lengths) */
static void copy_inputs(bench_floor *f)
{
    memcpy(f->cache_x, f->x_user, (size_t)f->T * f->B * f->In * sizeof(float));
}

/* prepare_inputs, second half: the W_hh^T copies */
static void transpose_w_hh(bench_floor *f)
{
    const int hidden = f->H, ld = f->ld_t;
    for (int cell = 0; cell < f->cells && ld != 0; ++cell)
        rnn__transpose(w_hh_t(f, cell), ld, f->w[cell].w_hh, hidden, hidden);
}

/* prepare_inputs (time-major, no lengths) */
static void prepare_inputs(bench_floor *f)
{
    copy_inputs(f);
    transpose_w_hh(f);
}

/* fill_bias */
static void fill_bias(float *rows, size_t count, int hidden, const cell_view *w)
{
    for (int j = 0; j < hidden; ++j)
        rows[j] = w->b_ih[j] + w->b_hh[j];
    for (size_t r = 1; r < count; ++r)
        memcpy(rows + r * hidden, rows, (size_t)hidden * sizeof(float));
}

/* project_inputs, writing into `out` (the library: outputs(cell, dir)) */
static void project_inputs(bench_floor *f, int layer, int dir, float *out)
{
    const int rows = f->T * f->B, hidden = f->H, dirs = f->D;
    const cell_view w = f->w[layer * dirs + dir];
    if (w.b_ih != NULL)
        fill_bias(out, (size_t)rows, hidden, &w);
    const float beta = w.b_ih != NULL ? 1.0f : 0.0f;
    if (layer == 0) {
        rnn__gemm(false, true, rows, hidden, f->In, 1.0f, f->cache_x, f->In,
                  w.w_ih, f->In, beta, out, hidden);
        return;
    }
    for (int src = 0; src < dirs; ++src) {
        const float *input = outputs(f, (layer - 1) * dirs + src, src);
        rnn__gemm(false, true, rows, hidden, hidden, 1.0f, input, hidden,
                  w.w_ih + (size_t)src * hidden, dirs * hidden,
                  src == 0 ? beta : 1.0f, out, hidden);
    }
}

/* set_initial_state (h0 NULL) */
static void set_initial_state(bench_floor *f, int cell, int dir)
{
    memset(slot(f, cell, dir == 0 ? 0 : f->T), 0, bh(f) * sizeof(float));
}

/* out[B, H] += prev[B, H] W_hh^T, from W_hh^T or W_hh (run_recurrence) */
static void add_recurrent(int batch, int hidden, const float *prev,
                          const float *w, int ld, bool w_is_w_hh, float *out)
{
    rnn__rows_product(batch, hidden, hidden, prev, w, ld, w_is_w_hh, 1.0f, out);
}

/* run_recurrence's product: on the cell's W_hh^T copy, or on W_hh */
static void recurrent_product(const bench_floor *f, int cell, const float *prev,
                              float *out)
{
    if (f->ld_t != 0)
        add_recurrent(f->B, f->H, prev, w_hh_t(f, cell), f->ld_t, false, out);
    else
        add_recurrent(f->B, f->H, prev, f->w[cell].w_hh, f->H, true, out);
}

/* run_recurrence (no lengths): the bias is already in `out` (fill_bias) */
static void run_recurrence(bench_floor *f, int cell, int dir)
{
    const int hidden = f->H, batch = f->B, seq_len = f->T;
    for (int k = 0; k < seq_len; ++k) {
        const int t = dir == 0 ? k : seq_len - 1 - k;
        float *out = slot(f, cell, out_slot(dir, t));
        const float *prev = slot(f, cell, prev_slot(dir, t));
        recurrent_product(f, cell, prev, out);
        rnn__act(out, (size_t)batch * hidden, f->nl);
    }
}

/* write_output (time-major, no lengths) */
static void write_output(bench_floor *f)
{
    const int seq_len = f->T, batch = f->B, hidden = f->H, dirs = f->D;
    const int top = (f->L - 1) * dirs;
    const size_t row_bytes = (size_t)hidden * sizeof(float);
    if (dirs == 1) {
        memcpy(f->y, outputs(f, top, 0), (size_t)seq_len * batch * row_bytes);
        return;
    }
    for (int t = 0; t < seq_len; ++t) {
        for (int b = 0; b < batch; ++b) {
            float *dst = f->y + ((size_t)t * batch + b) * (size_t)dirs * hidden;
            for (int dir = 0; dir < dirs; ++dir) {
                const float *src = slot(f, top + dir, out_slot(dir, t)) +
                                   (size_t)b * hidden;
                memcpy(dst + (size_t)dir * hidden, src, row_bytes);
            }
        }
    }
}

/* rnn_forward(model, T, B, x, NULL, NULL, y, NULL) */
void bench_floor_forward(void *p)
{
    bench_floor *f = p;
    prepare_inputs(f);
    for (int layer = 0; layer < f->L; ++layer) {
        for (int dir = 0; dir < f->D; ++dir) {
            const int cell = layer * f->D + dir;
            project_inputs(f, layer, dir, outputs(f, cell, dir));
            set_initial_state(f, cell, dir);
            run_recurrence(f, cell, dir);
        }
    }
    write_output(f);
}

/* ---- backward (src/backward.c) ----------------------------------------- */

/* load_output_grad (time-major, no lengths) */
static void load_output_grad(bench_floor *f, float *grad)
{
    const int seq_len = f->T, batch = f->B, hidden = f->H, dirs = f->D;
    const size_t block = tbh(f);
    const size_t row_bytes = (size_t)hidden * sizeof(float);
    if (dirs == 1) {
        memcpy(grad, f->dy_user, block * sizeof(float));
        return;
    }
    for (int t = 0; t < seq_len; ++t) {
        for (int b = 0; b < batch; ++b) {
            const float *src = f->dy_user + ((size_t)t * batch + b) * (size_t)dirs * hidden;
            for (int dir = 0; dir < dirs; ++dir) {
                float *dst = grad + dir * block + ((size_t)t * batch + b) * hidden;
                memcpy(dst, src + (size_t)dir * hidden, row_bytes);
            }
        }
    }
}

/* backprop_steps (no lengths) */
static void backprop_steps(bench_floor *f, int cell, int dir, float *grad)
{
    const int hidden = f->H, batch = f->B, seq_len = f->T;
    const size_t n = bh(f);
    const float *w_hh = f->w[cell].w_hh;
    for (int k = 0; k < seq_len; ++k) {
        const int t = dir == 0 ? seq_len - 1 - k : k;
        float *da = grad + (size_t)t * n;
        if (k > 0) {
            const float *da_later = grad + (size_t)(dir == 0 ? t + 1 : t - 1) * n;
            rnn__rows_product(batch, hidden, hidden, da_later, w_hh, hidden,
                              false, 1.0f, da);
        }
        rnn__mul_act_grad(da, slot(f, cell, out_slot(dir, t)), n, f->nl);
    }
}

static void grad_w_hh(bench_floor *f, int cell, int dir, const float *grad)
{
    const int rows = f->T * f->B, hidden = f->H;
    const float *h_prev = slot(f, cell, dir == 0 ? 0 : 1);
    rnn__gemm(true, false, hidden, hidden, rows, 1.0f, grad, hidden, h_prev,
              hidden, 1.0f, f->g[cell].w_hh, hidden);
}

static void grad_w_ih(bench_floor *f, int layer, int dir, const float *grad)
{
    const int rows = f->T * f->B, hidden = f->H, dirs = f->D;
    const cell_view dw = f->g[layer * dirs + dir];
    if (layer == 0) {
        rnn__gemm(true, false, hidden, f->In, rows, 1.0f, grad, hidden,
                  f->cache_x, f->In, 1.0f, dw.w_ih, f->In);
        return;
    }
    for (int src = 0; src < dirs; ++src)
        rnn__gemm(true, false, hidden, hidden, rows, 1.0f, grad, hidden,
                  outputs(f, (layer - 1) * dirs + src, src), hidden, 1.0f,
                  dw.w_ih + (size_t)src * hidden, dirs * hidden);
}

static void grad_bias(bench_floor *f, int cell, const float *grad)
{
    const int rows = f->T * f->B, hidden = f->H;
    const cell_view dw = f->g[cell];
    float *sums = f->gather;
    memset(sums, 0, (size_t)hidden * sizeof(float));
    rnn__add_col_sums(sums, grad, (size_t)rows, hidden);
    rnn__add(dw.b_ih, sums, (size_t)hidden);
    rnn__add(dw.b_hh, sums, (size_t)hidden);
}

/* add_weight_grads */
static void add_weight_grads(bench_floor *f, int layer, int dir, const float *grad)
{
    const int cell = layer * f->D + dir;
    grad_w_hh(f, cell, dir, grad);
    grad_w_ih(f, layer, dir, grad);
    grad_bias(f, cell, grad);
}

/* input_grad */
static void input_grad(bench_floor *f, int layer, const float *grad,
                       float *below, float *dx)
{
    const int rows = f->T * f->B, hidden = f->H, dirs = f->D;
    const size_t block = tbh(f);
    for (int dir = 0; dir < dirs; ++dir) {
        const float *w_ih = f->w[layer * dirs + dir].w_ih;
        const float beta = dir == 0 ? 0.0f : 1.0f;
        if (layer == 0) {
            rnn__gemm(false, false, rows, f->In, hidden, 1.0f, grad + dir * block,
                      hidden, w_ih, f->In, beta, dx, f->In);
            continue;
        }
        for (int src = 0; src < dirs; ++src)
            rnn__gemm(false, false, rows, hidden, hidden, 1.0f,
                      grad + dir * block, hidden, w_ih + (size_t)src * hidden,
                      dirs * hidden, beta, below + src * block, hidden);
    }
}

/* rnn_backward(model, dy, NULL, dx, NULL) */
void bench_floor_backward(void *p)
{
    bench_floor *f = p;
    const size_t block = tbh(f);
    float *grad = f->grad_in, *below = f->grad_out;
    load_output_grad(f, grad);
    for (int layer = f->L - 1; layer >= 0; --layer) {
        for (int dir = 0; dir < f->D; ++dir) {
            const int cell = layer * f->D + dir;
            float *da = grad + dir * block;
            backprop_steps(f, cell, dir, da);
            add_weight_grads(f, layer, dir, da);
        }
        if (layer > 0) {
            input_grad(f, layer, grad, below, NULL);
            float *swap = grad;
            grad = below;
            below = swap;
        } else {
            input_grad(f, 0, grad, NULL, f->dx);
        }
    }
}

void bench_floor_train(void *p)
{
    bench_floor_forward(p);
    bench_floor_backward(p);
}

/* ---- streaming (src/step.c, src/pack.c) -------------------------------- */

/* layer_floats of pack.c: [I_l + H, H] with row stride rnn__copy_ld(H),
 * then b_ih + b_hh [H] */
static size_t packed_layer_floats(const bench_floor *f, int layer)
{
    const size_t in = (size_t)(layer == 0 ? f->In : f->H);
    return (in + (size_t)f->H) * (size_t)rnn__copy_ld(f->H) + (size_t)f->H;
}

/* rnn__packed_layer */
static const float *packed_layer(const bench_floor *f, int layer)
{
    const float *block = f->packed;
    for (int l = 0; l < layer; ++l)
        block += packed_layer_floats(f, l);
    return block;
}

/* pack_layer of pack.c (run once at creation, like rnn_pack_weights) */
static void pack_layer(const bench_floor *f, int layer, float *block)
{
    const int hidden = f->H, ld = rnn__copy_ld(hidden);
    const int in = layer == 0 ? f->In : f->H;
    const cell_view w = f->w[layer];
    rnn__transpose(block, ld, w.w_ih, hidden, in);
    rnn__transpose(block + (size_t)in * ld, ld, w.w_hh, hidden, hidden);
    float *bias = block + ((size_t)in + hidden) * ld;
    for (int j = 0; j < hidden; ++j)
        bias[j] = w.b_ih != NULL ? w.b_ih[j] + w.b_hh[j] : 0.0f;
}

/* project() of step.c */
static void step_project(int batch, int n, int k, const float *in, const float *w,
                         bool accumulate, float *out)
{
    rnn__rows_product(batch, n, k, in, w, k, true, accumulate ? 1.0f : 0.0f,
                      out);
}

/* advance() of step.c: the step without packed weights */
static void advance_direct(bench_floor *f, float *state)
{
    const int batch = f->B, hidden = f->H;
    const size_t n = bh(f);
    const float *input = f->xt;
    int in_size = f->In;
    for (int layer = 0; layer < f->L; ++layer) {
        const cell_view w = f->w[layer];
        float *h = state + (size_t)layer * n;
        step_project(batch, hidden, in_size, input, w.w_ih, false, f->scratch);
        step_project(batch, hidden, hidden, h, w.w_hh, true, f->scratch);
        rnn__add_bias(f->scratch, (size_t)batch, hidden, w.b_ih, w.b_hh);
        rnn__act(f->scratch, (size_t)batch * hidden, f->nl);
        memcpy(h, f->scratch, n * sizeof(float));
        input = h;
        in_size = hidden;
    }
}

/* advance_packed's copies before the product: the rows [input | h] into
 * the joined buffer and the summed bias into the output, row by row. */
static void join_rows(bench_floor *f, const float *block, int in_size,
                      const float *input, const float *h)
{
    const int hidden = f->H, joined = in_size + hidden, ld = rnn__copy_ld(hidden);
    const float *bias = block + (size_t)joined * ld;
    const size_t row_bytes = (size_t)hidden * sizeof(float);
    for (int b = 0; b < f->B; ++b) {
        float *row = f->joined + (size_t)b * joined;
        memcpy(row, input + (size_t)b * in_size, (size_t)in_size * sizeof(float));
        memcpy(row + in_size, h + (size_t)b * hidden, row_bytes);
        memcpy(f->scratch + (size_t)b * hidden, bias, row_bytes);
    }
}

/* advance_packed's one product per layer, onto the bias in `out` */
static void packed_product(const bench_floor *f, const float *block, int in_size,
                           float *out)
{
    const int hidden = f->H, joined = in_size + hidden, ld = rnn__copy_ld(hidden);
    rnn__rows_product(f->B, hidden, joined, f->joined, block, ld, false, 1.0f,
                      out);
}

/* advance_packed() of step.c */
static void advance_packed(bench_floor *f, float *state)
{
    const size_t n = bh(f);
    const float *input = f->xt;
    int in_size = f->In;
    for (int layer = 0; layer < f->L; ++layer) {
        const float *block = packed_layer(f, layer);
        float *h = state + (size_t)layer * n;
        join_rows(f, block, in_size, input, h);
        packed_product(f, block, in_size, f->scratch);
        rnn__act(f->scratch, (size_t)f->B * f->H, f->nl);
        memcpy(h, f->scratch, n * sizeof(float));
        input = h;
        in_size = f->H;
    }
}

/* rnn_step(model, state, x_t, y_t) on a packed model */
void bench_floor_step(void *p)
{
    bench_floor *f = p;
    advance_packed(f, f->sh);
    memcpy(f->yt, f->sh + (size_t)(f->L - 1) * bh(f), bh(f) * sizeof(float));
}

/* rnn_step(model, state, x_t, y_t) on an unpacked model */
void bench_floor_step_direct(void *p)
{
    bench_floor *f = p;
    advance_direct(f, f->sh_direct);
    memcpy(f->yt, f->sh_direct + (size_t)(f->L - 1) * bh(f), bh(f) * sizeof(float));
}

/* ---- parts -------------------------------------------------------------- */

void bench_part_fwd_transpose(void *p)
{
    transpose_w_hh(p);
}

/* project_inputs as a whole: the bias pre-fill of the T*B output rows and
 * the sgemm(s) with beta = 1 onto it (beta = 1 needs the fill: the two
 * belong together, as in the library). */
void bench_part_fwd_proj(void *p)
{
    bench_floor *f = p;
    for (int layer = 0; layer < f->L; ++layer)
        for (int dir = 0; dir < f->D; ++dir)
            project_inputs(f, layer, dir, f->proj);
}

/* The recurrence products of run_recurrence, reading the cached states and
 * accumulating into a scratch block (the library accumulates into the
 * state it then activates; repeating that here would blow the values up). */
void bench_part_fwd_rec(void *p)
{
    bench_floor *f = p;
    for (int cell = 0; cell < f->cells; ++cell) {
        const int dir = cell % f->D;
        for (int k = 0; k < f->T; ++k) {
            const int t = dir == 0 ? k : f->T - 1 - k;
            recurrent_product(f, cell, slot(f, cell, prev_slot(dir, t)),
                              f->acc + (size_t)t * bh(f));
        }
    }
}

void bench_part_fwd_act_restore(void *p)
{
    bench_floor *f = p;
    for (int cell = 0; cell < f->cells; ++cell)
        memcpy(f->act_buf, f->pre + (size_t)cell * tbh(f), tbh(f) * sizeof(float));
}

void bench_part_fwd_act(void *p)
{
    bench_floor *f = p;
    for (int cell = 0; cell < f->cells; ++cell) {
        const int dir = cell % f->D;
        memcpy(f->act_buf, f->pre + (size_t)cell * tbh(f), tbh(f) * sizeof(float));
        for (int k = 0; k < f->T; ++k) {
            const int t = dir == 0 ? k : f->T - 1 - k;
            rnn__act(f->act_buf + (size_t)t * bh(f), bh(f), f->nl);
        }
    }
}

/* prepare_inputs' copy of x (its transposes are fwd.transpose), the
 * initial states and write_output */
void bench_part_fwd_copy(void *p)
{
    bench_floor *f = p;
    copy_inputs(f);
    for (int cell = 0; cell < f->cells; ++cell)
        set_initial_state(f, cell, cell % f->D);
    write_output(f);
}

void bench_part_bwd_rec(void *p)
{
    bench_floor *f = p;
    const int hidden = f->H, batch = f->B;
    const size_t n = bh(f);
    for (int cell = 0; cell < f->cells; ++cell) {
        const int dir = cell % f->D;
        const float *w_hh = f->w[cell].w_hh;
        const float *grad = f->gpre + (size_t)dir * tbh(f);
        for (int k = 1; k < f->T; ++k) {
            const int t = dir == 0 ? f->T - 1 - k : k;
            const float *da_later = grad + (size_t)(dir == 0 ? t + 1 : t - 1) * n;
            float *da = f->acc + (size_t)t * n;
            rnn__rows_product(batch, hidden, hidden, da_later, w_hh, hidden,
                              false, 1.0f, da);
        }
    }
}

void bench_part_bwd_act_restore(void *p)
{
    bench_floor *f = p;
    for (int cell = 0; cell < f->cells; ++cell)
        memcpy(f->act_buf, f->gpre + (size_t)(cell % f->D) * tbh(f),
               tbh(f) * sizeof(float));
}

void bench_part_bwd_act(void *p)
{
    bench_floor *f = p;
    const size_t n = bh(f);
    for (int cell = 0; cell < f->cells; ++cell) {
        const int dir = cell % f->D;
        memcpy(f->act_buf, f->gpre + (size_t)dir * tbh(f), tbh(f) * sizeof(float));
        for (int k = 0; k < f->T; ++k) {
            const int t = dir == 0 ? f->T - 1 - k : k;
            rnn__mul_act_grad(f->act_buf + (size_t)t * n,
                              slot(f, cell, out_slot(dir, t)), n, f->nl);
        }
    }
}

void bench_part_bwd_dw_hh(void *p)
{
    bench_floor *f = p;
    for (int cell = 0; cell < f->cells; ++cell) {
        const int dir = cell % f->D;
        grad_w_hh(f, cell, dir, f->gpre + (size_t)dir * tbh(f));
    }
}

void bench_part_bwd_dw_ih(void *p)
{
    bench_floor *f = p;
    for (int layer = 0; layer < f->L; ++layer)
        for (int dir = 0; dir < f->D; ++dir)
            grad_w_ih(f, layer, dir, f->gpre + (size_t)dir * tbh(f));
}

void bench_part_bwd_db(void *p)
{
    bench_floor *f = p;
    for (int cell = 0; cell < f->cells; ++cell)
        grad_bias(f, cell, f->gpre + (size_t)(cell % f->D) * tbh(f));
}

void bench_part_bwd_dx(void *p)
{
    bench_floor *f = p;
    for (int layer = f->L - 1; layer >= 0; --layer)
        input_grad(f, layer, f->gpre, f->grad_out, layer == 0 ? f->dx : NULL);
}

void bench_part_bwd_copy(void *p)
{
    bench_floor *f = p;
    load_output_grad(f, f->grad_in);
}

/* Every copy of the packed step: per layer the [x_t | h] rows and the bias
 * pre-fill (join_rows), the new h back (here into a scratch block, so that
 * the part leaves the state alone), then y_t out. */
void bench_part_step_copy(void *p)
{
    bench_floor *f = p;
    const size_t n = bh(f);
    const float *input = f->xt;
    int in_size = f->In;
    for (int layer = 0; layer < f->L; ++layer) {
        const float *h = f->sh + (size_t)layer * n;
        join_rows(f, packed_layer(f, layer), in_size, input, h);
        memcpy(f->step_sink + (size_t)layer * n, f->scratch, n * sizeof(float));
        input = h;
        in_size = f->H;
    }
    memcpy(f->yt, f->step_sink + (size_t)(f->L - 1) * n, n * sizeof(float));
}

/* The packed step's one product per layer, on the joined rows the last
 * step left, accumulating into a scratch block. */
void bench_part_step_rec(void *p)
{
    bench_floor *f = p;
    for (int layer = 0; layer < f->L; ++layer)
        packed_product(f, packed_layer(f, layer), layer == 0 ? f->In : f->H, f->acc);
}

void bench_part_step_act(void *p)
{
    bench_floor *f = p;
    for (int layer = 0; layer < f->L; ++layer) {
        memcpy(f->scratch, f->step_pre, bh(f) * sizeof(float));
        rnn__act(f->scratch, (size_t)f->B * f->H, f->nl);
    }
}

/* ---- single calls and what-ifs ------------------------------------------ */

void bench_call_fwd_rec(void *p)
{
    bench_floor *f = p;
    recurrent_product(f, 0, slot(f, 0, 1), f->call_out);
}

void bench_call_bwd_rec(void *p)
{
    bench_floor *f = p;
    rnn__rows_product(f->B, f->H, f->H, f->gpre, f->w[0].w_hh, f->H, false,
                      1.0f, f->call_out);
}

void bench_call_fwd_rec_other(void *p)
{
    bench_floor *f = p;
    if (f->ld_t != 0)
        add_recurrent(f->B, f->H, slot(f, 0, 1), f->w[0].w_hh, f->H, true,
                      f->call_out);
    else
        add_recurrent(f->B, f->H, slot(f, 0, 1), f->call_w_t, rnn__copy_ld(f->H),
                      false, f->call_out);
}

void bench_call_fwd_rec_other_ld(void *p)
{
    bench_floor *f = p;
    add_recurrent(f->B, f->H, slot(f, 0, 1), f->call_w_t_other,
                  bench_floor_other_ld(f->H), false, f->call_out);
}

/* ---- flops -------------------------------------------------------------- */

bench_part_flops bench_floor_flops(const bench_shape *s)
{
    bench_part_flops fl;
    memset(&fl, 0, sizeof fl);
    const double tb = (double)s->seq_len * s->batch, h = s->hidden;
    for (int layer = 0; layer < s->layers; ++layer) {
        const double in = layer == 0 ? s->input : (double)s->dirs * h;
        fl.fwd_proj += s->dirs * 2.0 * tb * h * in;
        fl.fwd_rec += s->dirs * 2.0 * tb * h * h;
        fl.bwd_rec += s->dirs * 2.0 * (s->seq_len - 1) * s->batch * h * h;
        fl.bwd_dw_hh += s->dirs * 2.0 * tb * h * h;
        fl.bwd_dw_ih += s->dirs * 2.0 * tb * h * in;
        fl.bwd_dx += s->dirs * 2.0 * tb * h * in;
        fl.step_rec += 2.0 * s->batch * h * (in + h);
    }
    fl.call_rec = 2.0 * s->batch * h * h;
    return fl;
}

const float *bench_floor_output(const bench_floor *f)
{
    return f->y;
}

const float *bench_floor_dx(const bench_floor *f)
{
    return f->dx;
}

const float *bench_floor_step_output(const bench_floor *f)
{
    return f->yt;
}

/* ---- create / destroy --------------------------------------------------- */

static int find_cell(rnn_t *model, bench_floor *f, int layer, int dir)
{
    static const char *const kinds[4] = {"weight_ih", "weight_hh", "bias_ih",
                                         "bias_hh"};
    size_t offsets[4];
    for (int k = 0; k < 4; ++k) {
        char name[64];
        rnn_tensor_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        snprintf(name, sizeof name, "%s_l%d%s", kinds[k], layer,
                 dir ? "_reverse" : "");
        if (rnn_tensor_find(model, name, &info) != RNN_OK)
            return -1;
        offsets[k] = info.offset;
    }
    const int cell = layer * f->D + dir;
    f->w[cell] = (cell_view){f->params + offsets[0], f->params + offsets[1],
                             f->params + offsets[2], f->params + offsets[3]};
    f->g[cell] = (cell_view){f->grads + offsets[0], f->grads + offsets[1],
                             f->grads + offsets[2], f->grads + offsets[3]};
    return 0;
}

static float *alloc_floats(size_t n)
{
    return calloc(n > 0 ? n : 1, sizeof(float));
}

void bench_floor_destroy(bench_floor *f)
{
    if (f == NULL)
        return;
    float *arrays[] = {f->params, f->grads, f->x_user, f->dy_user, f->cache_x,
                       f->hidden, f->w_hh_t, f->y, f->grad_in, f->grad_out,
                       f->gather, f->dx, f->proj, f->acc, f->act_buf, f->pre,
                       f->gpre, f->packed, f->sh, f->sh_direct, f->scratch,
                       f->joined, f->xt, f->yt, f->step_pre, f->step_sink,
                       f->call_out, f->call_w_t, f->call_w_t_other};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; ++k)
        free(arrays[k]);
    free(f->w);
    free(f->g);
    free(f);
}

/* Saved pre-activations that give the cached states back: atanh(h) (tanh)
 * or h (relu), bias included (forward and the packed step add it before
 * the pass), so the in-place passes see realistic inputs. */
static void save_pre_activations(bench_floor *f)
{
    for (int cell = 0; cell < f->cells; ++cell) {
        const int dir = cell % f->D;
        float *dst = f->pre + (size_t)cell * tbh(f);
        for (int t = 0; t < f->T; ++t) {
            const float *h = slot(f, cell, out_slot(dir, t));
            for (size_t i = 0; i < bh(f); ++i) {
                float v = h[i];
                if (!f->nl) {
                    v = v > 0.999999f ? 0.999999f : v < -0.999999f ? -0.999999f : v;
                    v = atanhf(v);
                }
                dst[(size_t)t * bh(f) + i] = v;
            }
        }
    }
    memcpy(f->step_pre, f->pre, bh(f) * sizeof(float));
}

static int allocate(bench_floor *f)
{
    const size_t n = bh(f), block = tbh(f);
    const size_t dh = (size_t)f->D * f->H;
    const size_t widest = dh > (size_t)f->In ? dh : (size_t)f->In;
    const size_t xs = (size_t)f->T * f->B * f->In;
    const size_t step_in = (size_t)(f->In > f->H ? f->In : f->H);
    size_t packed = 0;
    for (int layer = 0; layer < f->L && f->D == 1; ++layer)
        packed += packed_layer_floats(f, layer);
    f->params = alloc_floats(f->num_params);
    f->grads = alloc_floats(f->num_params);
    f->w = calloc((size_t)f->cells, sizeof *f->w);
    f->g = calloc((size_t)f->cells, sizeof *f->g);
    f->x_user = alloc_floats(xs);
    f->dy_user = alloc_floats(block * f->D);
    f->cache_x = alloc_floats(xs);
    f->hidden = alloc_floats((size_t)f->cells * ((size_t)f->T + 1) * n);
    f->w_hh_t = alloc_floats((size_t)f->cells * f->H * f->ld_t);
    f->y = alloc_floats(block * f->D);
    f->grad_in = alloc_floats(block * f->D);
    f->grad_out = alloc_floats(block * f->D);
    f->gather = alloc_floats(n > widest * f->B ? n : widest * f->B);
    f->dx = alloc_floats(xs);
    f->proj = alloc_floats(block);
    f->acc = alloc_floats(block > n ? block : n);
    f->act_buf = alloc_floats(block);
    f->pre = alloc_floats(block * f->cells);
    f->gpre = alloc_floats(block * f->D);
    f->packed = alloc_floats(packed);
    f->sh = alloc_floats(n * f->L);
    f->sh_direct = alloc_floats(n * f->L);
    f->scratch = alloc_floats(n);
    f->joined = alloc_floats((step_in + f->H) * f->B);
    f->xt = alloc_floats((size_t)f->B * f->In);
    f->yt = alloc_floats(n);
    f->step_pre = alloc_floats(n);
    f->step_sink = alloc_floats(n * f->L);
    f->call_out = alloc_floats(n);
    f->call_w_t = alloc_floats((size_t)f->H * bench_floor_copy_ld(f->H));
    f->call_w_t_other = alloc_floats((size_t)f->H * bench_floor_other_ld(f->H));
    return f->params && f->grads && f->w && f->g && f->x_user && f->dy_user &&
                   f->cache_x && f->hidden && f->w_hh_t && f->y && f->grad_in &&
                   f->grad_out && f->gather && f->dx && f->proj && f->acc &&
                   f->act_buf && f->pre && f->gpre && f->packed && f->sh &&
                   f->sh_direct && f->scratch && f->joined && f->xt && f->yt &&
                   f->step_pre && f->step_sink && f->call_out && f->call_w_t &&
                   f->call_w_t_other
               ? 0
               : -1;
}

bench_floor *bench_floor_create(rnn_t *model, const bench_shape *s, int relu,
                                const float *x, const float *dy)
{
    bench_floor *f = calloc(1, sizeof *f);
    if (f == NULL)
        return NULL;
    f->s = *s;
    f->relu = relu;
    f->nl = relu ? RNN_RELU : RNN_TANH;
    f->T = s->seq_len;
    f->B = s->batch;
    f->H = s->hidden;
    f->In = s->input;
    f->L = s->layers;
    f->D = s->dirs;
    f->cells = f->L * f->D;
    f->ld_t = transposed_ld(f->H, f->T, f->B);
    float *model_params = NULL;
    if (rnn_params(model, &model_params, &f->num_params) != RNN_OK ||
        allocate(f) != 0)
        goto fail;
    memcpy(f->params, model_params, f->num_params * sizeof(float));
    for (int layer = 0; layer < f->L; ++layer)
        for (int dir = 0; dir < f->D; ++dir)
            if (find_cell(model, f, layer, dir) != 0)
                goto fail;
    const size_t xs = (size_t)f->T * f->B * f->In;
    memcpy(f->x_user, x, xs * sizeof(float));
    memcpy(f->dy_user, dy, tbh(f) * f->D * sizeof(float));
    memcpy(f->xt, x, (size_t)f->B * f->In * sizeof(float));
    bench_fill_uniform(f->gpre, tbh(f) * f->D, -0.1f, 0.1f, 7);
    /* rnn_pack_weights, outside the timed calls as in rnn_bench */
    float *block = f->packed;
    for (int layer = 0; layer < f->L && f->D == 1; ++layer) {
        pack_layer(f, layer, block);
        block += packed_layer_floats(f, layer);
    }
    bench_floor_forward(f);
    save_pre_activations(f);
    rnn__transpose(f->call_w_t, bench_floor_copy_ld(f->H), f->w[0].w_hh, f->H, f->H);
    rnn__transpose(f->call_w_t_other, bench_floor_other_ld(f->H), f->w[0].w_hh,
                   f->H, f->H);
    return f;
fail:
    bench_floor_destroy(f);
    return NULL;
}
