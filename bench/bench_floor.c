/* SPDX-License-Identifier: MIT
 *
 * bench_floor.c - librnn's hot loops re-enacted with direct CBLAS calls (see
 * bench_floor.h). Every function below names the function of src/ it
 * mirrors; the calls, their order and their operands are the library's.
 */
#include "bench_floor.h"

#include "internal.h" /* rnn__gemm, rnn__bias_act, ...: compiled from src/ into the bench */

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
    /* the library's forward cache: time-major x, per cell [T+1, B, H] */
    float *cache_x, *hidden;
    float *y;
    /* backward work: per direction [T, B, H] twice, a gather row block, dx */
    float *grad_in, *grad_out, *gather, *dx;
    /* parts: scratch outputs and saved realistic inputs */
    float *proj, *acc, *act_buf, *pre, *gpre;
    /* streaming: [L, B, H] state, [B, H] scratch, x_t, y_t, saved pre-act */
    float *sh, *scratch, *xt, *yt, *step_pre;
    float *call_out;
    /* what-ifs: W_hh^T, and padded copies of h, W_hh and the output */
    float *w_t, *pad_h, *pad_w, *pad_out;
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

/* ---- forward (src/forward.c) ------------------------------------------- */

/* prepare_inputs (time-major, no lengths) */
static void prepare_inputs(bench_floor *f)
{
    memcpy(f->cache_x, f->x_user, (size_t)f->T * f->B * f->In * sizeof(float));
}

/* project_inputs, writing into `out` (the library: outputs(cell, dir)) */
static void project_inputs(bench_floor *f, int layer, int dir, float *out)
{
    const int rows = f->T * f->B, hidden = f->H, dirs = f->D;
    const cell_view w = f->w[layer * dirs + dir];
    if (layer == 0) {
        rnn__gemm(false, true, rows, hidden, f->In, 1.0f, f->cache_x, f->In,
                    w.w_ih, f->In, 0.0f, out, hidden);
        return;
    }
    for (int src = 0; src < dirs; ++src) {
        const float *input = outputs(f, (layer - 1) * dirs + src, src);
        rnn__gemm(false, true, rows, hidden, hidden, 1.0f, input, hidden,
                    w.w_ih + (size_t)src * hidden, dirs * hidden,
                    src == 0 ? 0.0f : 1.0f, out, hidden);
    }
}

/* set_initial_state (h0 NULL) */
static void set_initial_state(bench_floor *f, int cell, int dir)
{
    memset(slot(f, cell, dir == 0 ? 0 : f->T), 0, bh(f) * sizeof(float));
}

/* run_recurrence (no lengths) */
static void run_recurrence(bench_floor *f, int cell, int dir)
{
    const int hidden = f->H, batch = f->B, seq_len = f->T;
    const cell_view w = f->w[cell];
    for (int k = 0; k < seq_len; ++k) {
        const int t = dir == 0 ? k : seq_len - 1 - k;
        float *out = slot(f, cell, out_slot(dir, t));
        const float *prev = slot(f, cell, prev_slot(dir, t));
        if (batch == 1)
            rnn__gemv(false, hidden, hidden, 1.0f, w.w_hh, hidden, prev, 1.0f, out);
        else
            rnn__gemm(false, true, batch, hidden, hidden, 1.0f, prev, hidden,
                        w.w_hh, hidden, 1.0f, out, hidden);
        rnn__bias_act(out, (size_t)batch, hidden, w.b_ih, w.b_hh, f->nl);
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
            if (batch == 1)
                rnn__gemv(true, hidden, hidden, 1.0f, w_hh, hidden, da_later,
                            1.0f, da);
            else
                rnn__gemm(false, false, batch, hidden, hidden, 1.0f, da_later,
                            hidden, w_hh, hidden, 1.0f, da, hidden);
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

/* ---- streaming (src/step.c) -------------------------------------------- */

/* project() of step.c */
static void step_project(int batch, int n, int k, const float *in, const float *w,
                         bool accumulate, float *out)
{
    const float beta = accumulate ? 1.0f : 0.0f;
    if (batch == 1)
        rnn__gemv(false, n, k, 1.0f, w, k, in, beta, out);
    else
        rnn__gemm(false, true, batch, n, k, 1.0f, in, k, w, k, beta, out, n);
}

/* rnn_step(model, state, x_t, y_t) */
void bench_floor_step(void *p)
{
    bench_floor *f = p;
    const int batch = f->B, hidden = f->H;
    const size_t n = bh(f);
    const float *input = f->xt;
    int in_size = f->In;
    for (int layer = 0; layer < f->L; ++layer) {
        const cell_view w = f->w[layer];
        float *h = f->sh + (size_t)layer * n;
        step_project(batch, hidden, in_size, input, w.w_ih, false, f->scratch);
        step_project(batch, hidden, hidden, h, w.w_hh, true, f->scratch);
        rnn__bias_act(f->scratch, (size_t)batch, hidden, w.b_ih, w.b_hh, f->nl);
        memcpy(h, f->scratch, n * sizeof(float));
        input = h;
        in_size = hidden;
    }
    memcpy(f->yt, input, n * sizeof(float));
}

/* ---- parts -------------------------------------------------------------- */

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
    const int hidden = f->H, batch = f->B;
    for (int cell = 0; cell < f->cells; ++cell) {
        const int dir = cell % f->D;
        const float *w_hh = f->w[cell].w_hh;
        for (int k = 0; k < f->T; ++k) {
            const int t = dir == 0 ? k : f->T - 1 - k;
            float *out = f->acc + (size_t)t * bh(f);
            const float *prev = slot(f, cell, prev_slot(dir, t));
            if (batch == 1)
                rnn__gemv(false, hidden, hidden, 1.0f, w_hh, hidden, prev, 1.0f, out);
            else
                rnn__gemm(false, true, batch, hidden, hidden, 1.0f, prev, hidden,
                            w_hh, hidden, 1.0f, out, hidden);
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
        const cell_view w = f->w[cell];
        memcpy(f->act_buf, f->pre + (size_t)cell * tbh(f), tbh(f) * sizeof(float));
        for (int k = 0; k < f->T; ++k) {
            const int t = dir == 0 ? k : f->T - 1 - k;
            rnn__bias_act(f->act_buf + (size_t)t * bh(f), (size_t)f->B, f->H,
                            w.b_ih, w.b_hh, f->nl);
        }
    }
}

void bench_part_fwd_copy(void *p)
{
    bench_floor *f = p;
    prepare_inputs(f);
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
            if (batch == 1)
                rnn__gemv(true, hidden, hidden, 1.0f, w_hh, hidden, da_later,
                            1.0f, da);
            else
                rnn__gemm(false, false, batch, hidden, hidden, 1.0f, da_later,
                            hidden, w_hh, hidden, 1.0f, da, hidden);
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

void bench_part_step_proj(void *p)
{
    bench_floor *f = p;
    const float *input = f->xt;
    int in_size = f->In;
    for (int layer = 0; layer < f->L; ++layer) {
        step_project(f->B, f->H, in_size, input, f->w[layer].w_ih, false, f->scratch);
        input = f->sh + (size_t)layer * bh(f);
        in_size = f->H;
    }
}

void bench_part_step_rec(void *p)
{
    bench_floor *f = p;
    for (int layer = 0; layer < f->L; ++layer)
        step_project(f->B, f->H, f->H, f->sh + (size_t)layer * bh(f),
                     f->w[layer].w_hh, true, f->acc);
}

void bench_part_step_act(void *p)
{
    bench_floor *f = p;
    for (int layer = 0; layer < f->L; ++layer) {
        const cell_view w = f->w[layer];
        memcpy(f->scratch, f->step_pre, bh(f) * sizeof(float));
        rnn__bias_act(f->scratch, (size_t)f->B, f->H, w.b_ih, w.b_hh, f->nl);
    }
}

void bench_call_fwd_rec(void *p)
{
    bench_floor *f = p;
    const float *prev = slot(f, 0, 1);
    if (f->B == 1)
        rnn__gemv(false, f->H, f->H, 1.0f, f->w[0].w_hh, f->H, prev, 1.0f,
                    f->call_out);
    else
        rnn__gemm(false, true, f->B, f->H, f->H, 1.0f, prev, f->H, f->w[0].w_hh,
                    f->H, 1.0f, f->call_out, f->H);
}

void bench_call_bwd_rec(void *p)
{
    bench_floor *f = p;
    if (f->B == 1)
        rnn__gemv(true, f->H, f->H, 1.0f, f->w[0].w_hh, f->H, f->gpre, 1.0f,
                    f->call_out);
    else
        rnn__gemm(false, false, f->B, f->H, f->H, 1.0f, f->gpre, f->H,
                    f->w[0].w_hh, f->H, 1.0f, f->call_out, f->H);
}

void bench_call_fwd_rec_nn(void *p)
{
    bench_floor *f = p;
    if (f->B == 1)
        rnn__gemv(true, f->H, f->H, 1.0f, f->w_t, f->H, slot(f, 0, 1), 1.0f,
                  f->call_out);
    else
        rnn__gemm(false, false, f->B, f->H, f->H, 1.0f, slot(f, 0, 1), f->H, f->w_t,
                  f->H, 1.0f, f->call_out, f->H);
}

void bench_call_fwd_rec_padded(void *p)
{
    bench_floor *f = p;
    const int ld = f->H + BENCH_PAD;
    rnn__gemm(false, true, f->B, f->H, f->H, 1.0f, f->pad_h, ld, f->pad_w, ld, 1.0f,
              f->pad_out, ld);
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
        fl.step_proj += 2.0 * s->batch * h * in;
        fl.step_rec += 2.0 * s->batch * h * h;
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
                       f->hidden, f->y, f->grad_in, f->grad_out, f->gather,
                       f->dx, f->proj, f->acc, f->act_buf, f->pre, f->gpre,
                       f->sh, f->scratch, f->xt, f->yt, f->step_pre, f->call_out,
                       f->w_t, f->pad_h, f->pad_w, f->pad_out};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; ++k)
        free(arrays[k]);
    free(f->w);
    free(f->g);
    free(f);
}

/* Saved pre-activations that give the cached states back: atanh(h) - bias
 * (tanh) or h - bias (relu), so the in-place passes see realistic inputs. */
static void save_pre_activations(bench_floor *f)
{
    for (int cell = 0; cell < f->cells; ++cell) {
        const int dir = cell % f->D;
        const cell_view w = f->w[cell];
        float *dst = f->pre + (size_t)cell * tbh(f);
        for (int t = 0; t < f->T; ++t) {
            const float *h = slot(f, cell, out_slot(dir, t));
            for (size_t i = 0; i < bh(f); ++i) {
                const int j = (int)(i % (size_t)f->H);
                float v = h[i];
                if (!f->nl) {
                    v = v > 0.999999f ? 0.999999f : v < -0.999999f ? -0.999999f : v;
                    v = atanhf(v);
                }
                dst[(size_t)t * bh(f) + i] = v - (w.b_ih[j] + w.b_hh[j]);
            }
        }
    }
    memcpy(f->step_pre, f->pre, bh(f) * sizeof(float));
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
    float *model_params = NULL;
    if (rnn_params(model, &model_params, &f->num_params) != RNN_OK)
        goto fail;
    const size_t n = bh(f), block = tbh(f);
    const size_t dh = (size_t)f->D * f->H;
    const size_t widest = dh > (size_t)f->In ? dh : (size_t)f->In;
    const size_t xs = (size_t)f->T * f->B * f->In;
    f->params = alloc_floats(f->num_params);
    f->grads = alloc_floats(f->num_params);
    f->w = calloc((size_t)f->cells, sizeof *f->w);
    f->g = calloc((size_t)f->cells, sizeof *f->g);
    f->x_user = alloc_floats(xs);
    f->dy_user = alloc_floats(block * f->D);
    f->cache_x = alloc_floats(xs);
    f->hidden = alloc_floats((size_t)f->cells * ((size_t)f->T + 1) * n);
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
    f->sh = alloc_floats(n * f->L);
    f->scratch = alloc_floats(n);
    f->xt = alloc_floats((size_t)f->B * f->In);
    f->yt = alloc_floats(n);
    f->step_pre = alloc_floats(n);
    f->call_out = alloc_floats(n);
    const size_t ld = (size_t)f->H + BENCH_PAD;
    f->w_t = alloc_floats((size_t)f->H * f->H);
    f->pad_h = alloc_floats((size_t)f->B * ld);
    f->pad_w = alloc_floats((size_t)f->H * ld);
    f->pad_out = alloc_floats((size_t)f->B * ld);
    if (!f->params || !f->grads || !f->w || !f->g || !f->x_user || !f->dy_user ||
        !f->cache_x || !f->hidden || !f->y || !f->grad_in || !f->grad_out ||
        !f->gather || !f->dx || !f->proj || !f->acc || !f->act_buf || !f->pre ||
        !f->gpre || !f->sh || !f->scratch || !f->xt || !f->yt || !f->step_pre ||
        !f->call_out || !f->w_t || !f->pad_h || !f->pad_w || !f->pad_out)
        goto fail;
    memcpy(f->params, model_params, f->num_params * sizeof(float));
    for (int layer = 0; layer < f->L; ++layer)
        for (int dir = 0; dir < f->D; ++dir)
            if (find_cell(model, f, layer, dir) != 0)
                goto fail;
    memcpy(f->x_user, x, xs * sizeof(float));
    memcpy(f->dy_user, dy, block * f->D * sizeof(float));
    memcpy(f->xt, x, (size_t)f->B * f->In * sizeof(float));
    bench_fill_uniform(f->gpre, block * f->D, -0.1f, 0.1f, 7);
    bench_floor_forward(f);
    save_pre_activations(f);
    const float *w_hh = f->w[0].w_hh, *h1 = slot(f, 0, 1);
    for (int i = 0; i < f->H; ++i)
        for (int j = 0; j < f->H; ++j) {
            f->w_t[(size_t)j * f->H + i] = w_hh[(size_t)i * f->H + j];
            f->pad_w[(size_t)i * ld + j] = w_hh[(size_t)i * f->H + j];
        }
    for (int b = 0; b < f->B; ++b)
        memcpy(f->pad_h + (size_t)b * ld, h1 + (size_t)b * f->H,
               (size_t)f->H * sizeof(float));
    return f;
fail:
    bench_floor_destroy(f);
    return NULL;
}
