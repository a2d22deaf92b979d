/* SPDX-License-Identifier: MIT
 *
 * reference.c - naive double-precision reference RNN (see reference.h).
 *
 * Internally every sequence tensor is time-major [T, B, n]; batch_first only
 * changes how the caller's x, y, dy, dx, logits and dlogits are read and
 * written (ref_seq_index). Each layer's output is kept whole, it is the only
 * cache the backward pass needs.
 */
#include "reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rnn.h>

/* ------------------------------------------------------------------------
 * Layout
 * ---------------------------------------------------------------------- */

static int32_t layer_input_size(const ref_model *m, int32_t l)
{
    return l == 0 ? m->I : m->D * m->H;
}

static int32_t tensors_per_direction(const ref_model *m)
{
    return m->bias ? 4 : 2;
}

int32_t ref_tensor_count(const ref_model *m)
{
    return m->L * m->D * tensors_per_direction(m) + (m->O > 0 ? 2 : 0);
}

/* Name, rows and cols of tensor `index`, offsets left to ref_tensor_at. */
static ref_tensor tensor_shape(const ref_model *m, int32_t index)
{
    static const char *const kinds[4] = { "weight_ih", "weight_hh", "bias_ih",
                                          "bias_hh" };
    ref_tensor t;
    memset(&t, 0, sizeof t);
    int32_t per_dir = tensors_per_direction(m);
    int32_t rnn_tensors = m->L * m->D * per_dir;
    if (index >= rnn_tensors) {
        int is_weight = index == rnn_tensors;
        snprintf(t.name, sizeof t.name, "%s", is_weight ? "head.weight" : "head.bias");
        t.rows = m->O;
        t.cols = is_weight ? m->D * m->H : 1;
        t.ndim = is_weight ? 2 : 1;
    } else {
        int32_t kind = index % per_dir;
        int32_t dir = (index / per_dir) % m->D;
        int32_t layer = index / per_dir / m->D;
        snprintf(t.name, sizeof t.name, "%s_l%d%s", kinds[kind], (int)layer,
                 dir ? "_reverse" : "");
        t.rows = m->H;
        t.cols = kind == 0 ? layer_input_size(m, layer) : kind == 1 ? m->H : 1;
        t.ndim = kind < 2 ? 2 : 1;
    }
    t.count = (size_t)t.rows * (size_t)t.cols;
    return t;
}

ref_tensor ref_tensor_at(const ref_model *m, int32_t index)
{
    size_t offset = 0;
    for (int32_t i = 0; i < index; i++)
        offset += tensor_shape(m, i).count;
    ref_tensor t = tensor_shape(m, index);
    t.offset = offset;
    return t;
}

size_t ref_param_count(const ref_model *m)
{
    int32_t n = ref_tensor_count(m);
    ref_tensor last = ref_tensor_at(m, n - 1);
    return last.offset + last.count;
}

size_t ref_x_count(const ref_model *m, int32_t T, int32_t B)
{
    return (size_t)T * (size_t)B * (size_t)m->I;
}

size_t ref_y_count(const ref_model *m, int32_t T, int32_t B)
{
    return (size_t)T * (size_t)B * (size_t)(m->D * m->H);
}

size_t ref_h_count(const ref_model *m, int32_t B)
{
    return (size_t)(m->L * m->D) * (size_t)B * (size_t)m->H;
}

size_t ref_logits_count(const ref_model *m, int32_t T, int32_t B)
{
    if (m->O == 0)
        return 0;
    size_t rows = m->head_mode == RNN_HEAD_ALL ? (size_t)T * (size_t)B : (size_t)B;
    return rows * (size_t)m->O;
}

size_t ref_seq_index(const ref_model *m, int32_t T, int32_t B, int32_t t,
                     int32_t b, int32_t n, int32_t k)
{
    size_t row = m->batch_first ? (size_t)b * (size_t)T + (size_t)t
                                : (size_t)t * (size_t)B + (size_t)b;
    return row * (size_t)n + (size_t)k;
}

/* Pointers to the parameters of one layer and direction. */
typedef struct cell {
    const double *w_ih, *w_hh, *b_ih, *b_hh; /* biases NULL when bias = 0 */
    size_t o_ih, o_hh, o_bih, o_bhh;         /* the same as offsets        */
    int32_t in;                              /* I_l                        */
} cell;

static cell cell_at(const ref_model *m, const double *p, int32_t l, int32_t d)
{
    int32_t first = (l * m->D + d) * tensors_per_direction(m);
    cell c;
    memset(&c, 0, sizeof c);
    c.in = layer_input_size(m, l);
    c.o_ih = ref_tensor_at(m, first).offset;
    c.o_hh = ref_tensor_at(m, first + 1).offset;
    c.w_ih = p + c.o_ih;
    c.w_hh = p + c.o_hh;
    if (m->bias) {
        c.o_bih = ref_tensor_at(m, first + 2).offset;
        c.o_bhh = ref_tensor_at(m, first + 3).offset;
        c.b_ih = p + c.o_bih;
        c.b_hh = p + c.o_bhh;
    }
    return c;
}

static size_t head_offset(const ref_model *m)
{
    return ref_tensor_at(m, m->L * m->D * tensors_per_direction(m)).offset;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static double activation(const ref_model *m, double a)
{
    if (m->nonlinearity == RNN_RELU)
        return a > 0.0 ? a : 0.0;
    return tanh(a);
}

/* act'(a) expressed through h = act(a), as PyTorch does (relu'(0) = 0). */
static double activation_grad(const ref_model *m, double h)
{
    if (m->nonlinearity == RNN_RELU)
        return h > 0.0 ? 1.0 : 0.0;
    return 1.0 - h * h;
}

static int32_t seq_len(const ref_batch *in, int32_t b)
{
    return in->lengths ? in->lengths[b] : in->T;
}

/* The time index of the s-th step processed by direction d of sequence b. */
static int32_t step_time(int32_t d, int32_t len, int32_t s)
{
    return d == 0 ? s : len - 1 - s;
}

static double *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

/* Time-major index (t, b, k) of a width-n tensor. */
static size_t tm(int32_t B, int32_t t, int32_t b, int32_t n, int32_t k)
{
    return ((size_t)t * (size_t)B + (size_t)b) * (size_t)n + (size_t)k;
}

static size_t h_index(const ref_model *m, int32_t B, int32_t l, int32_t d,
                      int32_t b, int32_t j)
{
    return (((size_t)(l * m->D + d)) * (size_t)B + (size_t)b) * (size_t)m->H + (size_t)j;
}

/* ------------------------------------------------------------------------
 * Forward
 * ---------------------------------------------------------------------- */

/* Runs every layer; outs[l] is layer l's time-major output [T, B, D*H]
 * (0 at padded steps). Returns -1 when out of memory. */
static int forward_layers(const ref_model *m, const double *p,
                          const ref_batch *in, const double *x_tm,
                          double **outs, double *h_n)
{
    const int32_t B = in->B, H = m->H, DH = m->D * m->H;
    double *h = zeros((size_t)H), *h_new = zeros((size_t)H);
    if (!h || !h_new) {
        free(h);
        free(h_new);
        return -1;
    }
    for (int32_t l = 0; l < m->L; l++) {
        const double *layer_in = l == 0 ? x_tm : outs[l - 1];
        for (int32_t d = 0; d < m->D; d++) {
            cell c = cell_at(m, p, l, d);
            for (int32_t b = 0; b < B; b++) {
                int32_t len = seq_len(in, b);
                for (int32_t j = 0; j < H; j++)
                    h[j] = in->h0 ? in->h0[h_index(m, B, l, d, b, j)] : 0.0;
                for (int32_t s = 0; s < len; s++) {
                    int32_t t = step_time(d, len, s);
                    const double *x_t = layer_in + tm(B, t, b, c.in, 0);
                    for (int32_t j = 0; j < H; j++) {
                        double a = m->bias ? c.b_ih[j] + c.b_hh[j] : 0.0;
                        for (int32_t k = 0; k < c.in; k++)
                            a += c.w_ih[(size_t)j * c.in + k] * x_t[k];
                        for (int32_t k = 0; k < H; k++)
                            a += c.w_hh[(size_t)j * H + k] * h[k];
                        h_new[j] = activation(m, a);
                    }
                    for (int32_t j = 0; j < H; j++) {
                        h[j] = h_new[j];
                        outs[l][tm(B, t, b, DH, d * H + j)] = h[j];
                    }
                }
                for (int32_t j = 0; j < H; j++)
                    h_n[h_index(m, B, l, d, b, j)] = h[j];
            }
        }
    }
    free(h);
    free(h_new);
    return 0;
}

/* Calls fn(t, b, logits_index) for every step the head reads. */
typedef void (*head_visit)(void *ctx, int32_t t, int32_t b, size_t logit_row);

static void for_each_head_step(const ref_model *m, const ref_batch *in,
                               head_visit fn, void *ctx)
{
    for (int32_t b = 0; b < in->B; b++) {
        int32_t len = seq_len(in, b);
        if (m->head_mode == RNN_HEAD_LAST) {
            fn(ctx, len - 1, b, (size_t)b * (size_t)m->O);
        } else {
            for (int32_t t = 0; t < len; t++)
                fn(ctx, t, b, ref_seq_index(m, in->T, in->B, t, b, m->O, 0));
        }
    }
}

typedef struct head_ctx {
    const ref_model *m;
    const ref_batch *in;
    const double *w, *bias; /* head.weight [O, D*H], head.bias [O] */
    const double *y_tm;     /* top layer output, time-major */
    double *logits;         /* forward */
    const double *dlogits;  /* backward */
    double *dw, *dbias, *dy_tm;
} head_ctx;

static void head_forward_step(void *ctx, int32_t t, int32_t b, size_t row)
{
    head_ctx *h = ctx;
    const int32_t DH = h->m->D * h->m->H;
    const double *y = h->y_tm + tm(h->in->B, t, b, DH, 0);
    for (int32_t o = 0; o < h->m->O; o++) {
        double z = h->bias[o];
        for (int32_t k = 0; k < DH; k++)
            z += h->w[(size_t)o * DH + k] * y[k];
        h->logits[row + (size_t)o] = z;
    }
}

static void head_backward_step(void *ctx, int32_t t, int32_t b, size_t row)
{
    head_ctx *h = ctx;
    const int32_t DH = h->m->D * h->m->H;
    const double *y = h->y_tm + tm(h->in->B, t, b, DH, 0);
    double *dy = h->dy_tm + tm(h->in->B, t, b, DH, 0);
    for (int32_t o = 0; o < h->m->O; o++) {
        double g = h->dlogits[row + (size_t)o];
        h->dbias[o] += g;
        for (int32_t k = 0; k < DH; k++) {
            h->dw[(size_t)o * DH + k] += g * y[k];
            dy[k] += g * h->w[(size_t)o * DH + k];
        }
    }
}

/* ------------------------------------------------------------------------
 * Backward (BPTT)
 * ---------------------------------------------------------------------- */

/* Backward through layer l given dout (time-major gradient w.r.t. outs[l],
 * already zero at padded steps); adds parameter gradients to dp, writes the
 * gradient w.r.t. the layer's input to din (time-major, zeroed here) and
 * dh0. Returns -1 when out of memory. */
static int backward_layer(const ref_model *m, const double *p, const ref_batch *in,
                          int32_t l, const double *layer_in, const double *out,
                          const double *dout, const double *dh_n, double *dp,
                          double *din, double *dh0)
{
    const int32_t B = in->B, H = m->H, DH = m->D * m->H;
    double *dh = zeros((size_t)H), *da = zeros((size_t)H), *h_zero = zeros((size_t)H);
    if (!dh || !da || !h_zero) {
        free(dh);
        free(da);
        free(h_zero);
        return -1;
    }
    for (int32_t d = 0; d < m->D; d++) {
        cell c = cell_at(m, p, l, d);
        for (int32_t b = 0; b < B; b++) {
            int32_t len = seq_len(in, b);
            for (int32_t j = 0; j < H; j++)
                dh[j] = dh_n ? dh_n[h_index(m, B, l, d, b, j)] : 0.0;
            for (int32_t s = len - 1; s >= 0; s--) {
                int32_t t = step_time(d, len, s);
                const double *h_t = out + tm(B, t, b, DH, d * H);
                const double *h_prev;
                if (s > 0)
                    h_prev = out + tm(B, step_time(d, len, s - 1), b, DH, d * H);
                else if (in->h0)
                    h_prev = in->h0 + h_index(m, B, l, d, b, 0);
                else
                    h_prev = h_zero;
                const double *x_t = layer_in + tm(B, t, b, c.in, 0);
                double *dx_t = din + tm(B, t, b, c.in, 0);
                for (int32_t j = 0; j < H; j++) {
                    double g = dout[tm(B, t, b, DH, d * H + j)] + dh[j];
                    da[j] = g * activation_grad(m, h_t[j]);
                }
                for (int32_t k = 0; k < H; k++)
                    dh[k] = 0.0;
                for (int32_t j = 0; j < H; j++) {
                    if (m->bias) {
                        dp[c.o_bih + j] += da[j];
                        dp[c.o_bhh + j] += da[j];
                    }
                    for (int32_t k = 0; k < c.in; k++) {
                        dp[c.o_ih + (size_t)j * c.in + k] += da[j] * x_t[k];
                        dx_t[k] += da[j] * c.w_ih[(size_t)j * c.in + k];
                    }
                    for (int32_t k = 0; k < H; k++) {
                        dp[c.o_hh + (size_t)j * H + k] += da[j] * h_prev[k];
                        dh[k] += da[j] * c.w_hh[(size_t)j * H + k];
                    }
                }
            }
            for (int32_t j = 0; j < H; j++)
                dh0[h_index(m, B, l, d, b, j)] = dh[j];
        }
    }
    free(dh);
    free(da);
    free(h_zero);
    return 0;
}

/* ------------------------------------------------------------------------
 * ref_run
 * ---------------------------------------------------------------------- */

void ref_result_free(ref_result *r)
{
    free(r->y);
    free(r->h_n);
    free(r->logits);
    free(r->dparams);
    free(r->dx);
    free(r->dh0);
    memset(r, 0, sizeof *r);
}

void ref_to_time_major(const ref_model *m, const ref_batch *in, int32_t n,
                       const double *src, double *dst)
{
    for (int32_t t = 0; t < in->T; t++)
        for (int32_t b = 0; b < in->B; b++)
            for (int32_t k = 0; k < n; k++)
                dst[tm(in->B, t, b, n, k)] = src[ref_seq_index(m, in->T, in->B, t, b, n, k)];
}

void ref_from_time_major(const ref_model *m, const ref_batch *in, int32_t n,
                         const double *src, double *dst)
{
    for (int32_t t = 0; t < in->T; t++)
        for (int32_t b = 0; b < in->B; b++)
            for (int32_t k = 0; k < n; k++)
                dst[ref_seq_index(m, in->T, in->B, t, b, n, k)] = src[tm(in->B, t, b, n, k)];
}

void ref_head_forward(const ref_model *m, const double *head, const ref_batch *in,
                      const double *y_tm, double *logits)
{
    const size_t DH = (size_t)(m->D * m->H);
    head_ctx h = { m, in, head, head + (size_t)m->O * DH, y_tm, logits,
                   NULL, NULL, NULL, NULL };
    for_each_head_step(m, in, head_forward_step, &h);
}

void ref_top_output_grad(const ref_model *m, const double *head, const ref_batch *in,
                         const double *dy, const double *dlogits, const double *y_tm,
                         double *dhead, double *dy_tm)
{
    const int32_t DH = m->D * m->H;
    if (dy) {
        for (int32_t b = 0; b < in->B; b++)
            for (int32_t t = 0; t < seq_len(in, b); t++)
                for (int32_t k = 0; k < DH; k++)
                    dy_tm[tm(in->B, t, b, DH, k)] =
                        dy[ref_seq_index(m, in->T, in->B, t, b, DH, k)];
    }
    if (m->O > 0 && dlogits) {
        head_ctx h = { m, in, head, head + (size_t)m->O * DH, y_tm, NULL,
                       dlogits, dhead, dhead + (size_t)m->O * DH, dy_tm };
        for_each_head_step(m, in, head_backward_step, &h);
    }
}

int ref_run(const ref_model *m, const double *p, const ref_batch *in,
            const ref_cotangents *cot, ref_result *r)
{
    const int32_t T = in->T, B = in->B, L = m->L, DH = m->D * m->H;
    const size_t n_x = ref_x_count(m, T, B), n_y = ref_y_count(m, T, B);
    int ok = 1;
    memset(r, 0, sizeof *r);

    double *x_tm = zeros(n_x);
    double **outs = calloc((size_t)L, sizeof *outs);
    r->y = zeros(n_y);
    r->h_n = zeros(ref_h_count(m, B));
    if (m->O > 0)
        r->logits = zeros(ref_logits_count(m, T, B));
    ok = x_tm && outs && r->y && r->h_n && (m->O == 0 || r->logits);
    for (int32_t l = 0; ok && l < L; l++)
        ok = (outs[l] = zeros(n_y)) != NULL;

    if (ok) {
        ref_to_time_major(m, in, m->I, in->x, x_tm);
        ok = forward_layers(m, p, in, x_tm, outs, r->h_n) == 0;
    }
    if (ok) {
        ref_from_time_major(m, in, DH, outs[L - 1], r->y);
        if (m->O > 0)
            ref_head_forward(m, p + head_offset(m), in, outs[L - 1], r->logits);
    }

    if (ok && cot) {
        double *dout = zeros(n_y), *din = NULL;
        r->dparams = zeros(ref_param_count(m));
        r->dx = zeros(n_x);
        r->dh0 = zeros(ref_h_count(m, B));
        ok = dout && r->dparams && r->dx && r->dh0;
        if (ok)
            ref_top_output_grad(m, p + head_offset(m), in, cot->dy, cot->dlogits,
                                outs[L - 1], r->dparams + head_offset(m), dout);
        for (int32_t l = L - 1; ok && l >= 0; l--) {
            const double *layer_in = l == 0 ? x_tm : outs[l - 1];
            din = zeros(l == 0 ? n_x : n_y);
            ok = din && backward_layer(m, p, in, l, layer_in, outs[l], dout,
                                       cot->dh_n, r->dparams, din, r->dh0) == 0;
            free(dout);
            dout = din;
        }
        if (ok)
            ref_from_time_major(m, in, m->I, dout, r->dx);
        free(dout);
    }

    for (int32_t l = 0; outs && l < L; l++)
        free(outs[l]);
    free(outs);
    free(x_tm);
    if (!ok) {
        ref_result_free(r);
        return -1;
    }
    return 0;
}

double ref_dot(const double *a, const double *w, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; a && w && i < n; i++)
        s += a[i] * w[i];
    return s;
}

double ref_loss(const ref_model *m, const double *params, const ref_batch *in,
                const ref_cotangents *w)
{
    ref_result r;
    if (ref_run(m, params, in, NULL, &r) != 0)
        return NAN;
    double loss = ref_dot(r.y, w->dy, ref_y_count(m, in->T, in->B)) +
                  ref_dot(r.h_n, w->dh_n, ref_h_count(m, in->B)) +
                  ref_dot(r.logits, w->dlogits, ref_logits_count(m, in->T, in->B));
    ref_result_free(&r);
    return loss;
}
