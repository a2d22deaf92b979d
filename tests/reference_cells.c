/* SPDX-License-Identifier: MIT
 *
 * reference_cells.c - naive double-precision reference LSTM and GRU (see
 * reference_cells.h).
 *
 * As in reference.c, every sequence tensor is time-major [T, B, n] inside;
 * the caller's layout, the head and the gradient reaching the top layer's
 * output come from reference.c, given a ref_model whose H is Hout. Each
 * layer keeps its output, its activated gates at every step and one more
 * H-vector per step (an LSTM's c, a GRU's W_hn h + b_hn): all that the
 * backward pass needs.
 */
#include "reference_cells.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rnn.h>

/* ------------------------------------------------------------------------
 * Layout
 * ---------------------------------------------------------------------- */

static int is_lstm(const refc_model *m)
{
    return m->cell == RNN_CELL_LSTM;
}

static int32_t gate_count(const refc_model *m)
{
    return is_lstm(m) ? 4 : 3;
}

int32_t refc_hout(const refc_model *m)
{
    return m->P > 0 ? m->P : m->H;
}

static int32_t layer_input_size(const refc_model *m, int32_t l)
{
    return l == 0 ? m->I : m->D * refc_hout(m);
}

static int32_t tensors_per_direction(const refc_model *m)
{
    return (m->bias ? 4 : 2) + (m->P > 0 ? 1 : 0);
}

int32_t refc_tensor_count(const refc_model *m)
{
    return m->L * m->D * tensors_per_direction(m) + (m->O > 0 ? 2 : 0);
}

enum { W_IH, W_HH, B_IH, B_HH, W_HR };

/* The kind (W_IH ... W_HR) of the k-th tensor of a layer and direction. */
static int tensor_kind(const refc_model *m, int32_t k)
{
    return k >= 2 && !m->bias ? W_HR : k;
}

static ref_tensor tensor_shape(const refc_model *m, int32_t index)
{
    static const char *const kinds[5] = { "weight_ih", "weight_hh", "bias_ih",
                                          "bias_hh", "weight_hr" };
    ref_tensor t;
    memset(&t, 0, sizeof t);
    const int32_t per_dir = tensors_per_direction(m);
    const int32_t rnn_tensors = m->L * m->D * per_dir;
    if (index >= rnn_tensors) {
        int is_weight = index == rnn_tensors;
        snprintf(t.name, sizeof t.name, "%s", is_weight ? "head.weight" : "head.bias");
        t.rows = m->O;
        t.cols = is_weight ? m->D * refc_hout(m) : 1;
        t.ndim = is_weight ? 2 : 1;
    } else {
        int kind = tensor_kind(m, index % per_dir);
        int32_t dir = (index / per_dir) % m->D;
        int32_t layer = index / per_dir / m->D;
        snprintf(t.name, sizeof t.name, "%s_l%d%s", kinds[kind], (int)layer,
                 dir ? "_reverse" : "");
        t.rows = kind == W_HR ? m->P : gate_count(m) * m->H;
        t.cols = kind == W_IH   ? layer_input_size(m, layer)
                 : kind == W_HH ? refc_hout(m)
                 : kind == W_HR ? m->H
                                : 1;
        t.ndim = kind == B_IH || kind == B_HH ? 1 : 2;
    }
    t.count = (size_t)t.rows * (size_t)t.cols;
    return t;
}

ref_tensor refc_tensor_at(const refc_model *m, int32_t index)
{
    size_t offset = 0;
    for (int32_t i = 0; i < index; i++)
        offset += tensor_shape(m, i).count;
    ref_tensor t = tensor_shape(m, index);
    t.offset = offset;
    return t;
}

size_t refc_param_count(const refc_model *m)
{
    ref_tensor last = refc_tensor_at(m, refc_tensor_count(m) - 1);
    return last.offset + last.count;
}

size_t refc_x_count(const refc_model *m, int32_t T, int32_t B)
{
    return (size_t)T * (size_t)B * (size_t)m->I;
}

size_t refc_y_count(const refc_model *m, int32_t T, int32_t B)
{
    return (size_t)T * (size_t)B * (size_t)(m->D * refc_hout(m));
}

size_t refc_h_count(const refc_model *m, int32_t B)
{
    return (size_t)(m->L * m->D) * (size_t)B * (size_t)refc_hout(m);
}

size_t refc_c_count(const refc_model *m, int32_t B)
{
    return is_lstm(m) ? (size_t)(m->L * m->D) * (size_t)B * (size_t)m->H : 0;
}

/* The sequence side of the model for reference.c: H is Hout. */
static ref_model seq_model(const refc_model *m)
{
    ref_model s = { m->I, refc_hout(m), m->L, m->D, RNN_TANH, m->bias,
                    m->batch_first, m->O, m->head_mode };
    return s;
}

size_t refc_logits_count(const refc_model *m, int32_t T, int32_t B)
{
    ref_model s = seq_model(m);
    return ref_logits_count(&s, T, B);
}

/* The parameters of one layer and direction, as pointers and offsets;
 * biases NULL without bias, w_hr NULL without projection. */
typedef struct cell {
    const double *w_ih, *w_hh, *b_ih, *b_hh, *w_hr;
    size_t o_ih, o_hh, o_bih, o_bhh, o_hr;
    int32_t in;
} cell;

static cell cell_at(const refc_model *m, const double *p, int32_t l, int32_t d)
{
    const int32_t per_dir = tensors_per_direction(m);
    const int32_t first = (l * m->D + d) * per_dir;
    cell c;
    memset(&c, 0, sizeof c);
    c.in = layer_input_size(m, l);
    for (int32_t k = 0; k < per_dir; k++) {
        size_t off = refc_tensor_at(m, first + k).offset;
        switch (tensor_kind(m, k)) {
        case W_IH: c.o_ih = off; c.w_ih = p + off; break;
        case W_HH: c.o_hh = off; c.w_hh = p + off; break;
        case B_IH: c.o_bih = off; c.b_ih = p + off; break;
        case B_HH: c.o_bhh = off; c.b_hh = p + off; break;
        default: c.o_hr = off; c.w_hr = p + off; break;
        }
    }
    return c;
}

static size_t head_offset(const refc_model *m)
{
    return refc_tensor_at(m, m->L * m->D * tensors_per_direction(m)).offset;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static double sigmoid(double a)
{
    return 1.0 / (1.0 + exp(-a));
}

static double *zeros(size_t n)
{
    return calloc(n ? n : 1, sizeof(double));
}

static int32_t seq_len(const refc_batch *in, int32_t b)
{
    return in->lengths ? in->lengths[b] : in->T;
}

/* The time index of the s-th step processed by direction d of sequence b. */
static int32_t step_time(int32_t d, int32_t len, int32_t s)
{
    return d == 0 ? s : len - 1 - s;
}

/* Time-major index (t, b, k) of a width-n tensor. */
static size_t tm(int32_t B, int32_t t, int32_t b, int32_t n, int32_t k)
{
    return ((size_t)t * (size_t)B + (size_t)b) * (size_t)n + (size_t)k;
}

/* Element (b, 0) of state row layer*D + d of a [L*D, B, n] state. */
static size_t state_index(const refc_model *m, int32_t B, int32_t l, int32_t d,
                          int32_t b, int32_t n)
{
    return ((size_t)(l * m->D + d) * (size_t)B + (size_t)b) * (size_t)n;
}

/* Element (t, b, d, 0) of a per-step cache of width n per direction. */
static size_t cache_index(const refc_model *m, int32_t B, int32_t t, int32_t b,
                          int32_t d, int32_t n)
{
    return (((size_t)t * (size_t)B + (size_t)b) * (size_t)m->D + (size_t)d) * (size_t)n;
}

/* b[row] (0 without bias) + w[row, :] . v */
static double affine(const double *w, const double *b, int32_t row, int32_t cols,
                     const double *v)
{
    double s = b ? b[row] : 0.0;
    for (int32_t k = 0; k < cols; k++)
        s += w[(size_t)row * (size_t)cols + (size_t)k] * v[k];
    return s;
}

/* ------------------------------------------------------------------------
 * One step of one sequence
 * ---------------------------------------------------------------------- */

/* Writes the activated gates (G*H), aux (H: the LSTM's new c, the GRU's
 * W_hn h + b_hn) and h_new (Hout) for input x and previous state h, c_prev
 * (LSTM). m_vec is H of scratch. */
static void step_forward(const refc_model *m, const cell *c, const double *x,
                         const double *h, const double *c_prev, double *gate,
                         double *aux, double *h_new, double *m_vec)
{
    const int32_t H = m->H, Ho = refc_hout(m), G = gate_count(m);
    double a_ih[4], a_hh[4];
    for (int32_t j = 0; j < H; j++) {
        for (int32_t g = 0; g < G; g++) {
            a_ih[g] = affine(c->w_ih, c->b_ih, g * H + j, c->in, x);
            a_hh[g] = affine(c->w_hh, c->b_hh, g * H + j, Ho, h);
        }
        if (is_lstm(m)) {
            double i = sigmoid(a_ih[0] + a_hh[0]), f = sigmoid(a_ih[1] + a_hh[1]);
            double g = tanh(a_ih[2] + a_hh[2]), o = sigmoid(a_ih[3] + a_hh[3]);
            gate[j] = i;
            gate[H + j] = f;
            gate[2 * H + j] = g;
            gate[3 * H + j] = o;
            aux[j] = f * c_prev[j] + i * g;
            m_vec[j] = o * tanh(aux[j]);
        } else {
            double r = sigmoid(a_ih[0] + a_hh[0]), z = sigmoid(a_ih[1] + a_hh[1]);
            double n = tanh(a_ih[2] + r * a_hh[2]);
            gate[j] = r;
            gate[H + j] = z;
            gate[2 * H + j] = n;
            aux[j] = a_hh[2];
            m_vec[j] = (1.0 - z) * n + z * h[j];
        }
    }
    for (int32_t k = 0; k < Ho; k++)
        h_new[k] = c->w_hr ? affine(c->w_hr, NULL, k, H, m_vec) : m_vec[k];
}

/* Scratch of one backward step. */
typedef struct step_grads {
    double *m_vec, *dm;   /* H each: o tanh(c) and its gradient (LSTM) */
    double *da_ih, *da_hh;/* G*H each: gradients of the pre-activations */
} step_grads;

/* Backward of one step: dh (Hout) is dL/dh_t, dc (H, LSTM) dL/dc_t from
 * later steps and becomes dL/dc_{t-1}; writes dL/dh_{t-1} to dh_prev and
 * adds to the parameter gradients dp and to dx. */
static void step_backward(const refc_model *m, const cell *c, const double *x,
                          const double *h_prev, const double *c_prev,
                          const double *gate, const double *aux, const double *dh,
                          double *dc, double *dh_prev, double *dp, double *dx,
                          step_grads *s)
{
    const int32_t H = m->H, Ho = refc_hout(m), G = gate_count(m);
    if (is_lstm(m)) {
        for (int32_t j = 0; j < H; j++)
            s->m_vec[j] = gate[3 * H + j] * tanh(aux[j]);
        for (int32_t j = 0; j < H; j++)
            s->dm[j] = c->w_hr ? 0.0 : dh[j];
        if (c->w_hr) {
            for (int32_t k = 0; k < Ho; k++)
                for (int32_t j = 0; j < H; j++) {
                    dp[c->o_hr + (size_t)k * H + j] += dh[k] * s->m_vec[j];
                    s->dm[j] += c->w_hr[(size_t)k * H + j] * dh[k];
                }
        }
        for (int32_t j = 0; j < H; j++) {
            double i = gate[j], f = gate[H + j], g = gate[2 * H + j], o = gate[3 * H + j];
            double tc = tanh(aux[j]);
            double dcj = dc[j] + s->dm[j] * o * (1.0 - tc * tc);
            s->da_ih[j] = dcj * g * i * (1.0 - i);
            s->da_ih[H + j] = dcj * c_prev[j] * f * (1.0 - f);
            s->da_ih[2 * H + j] = dcj * i * (1.0 - g * g);
            s->da_ih[3 * H + j] = s->dm[j] * tc * o * (1.0 - o);
            dc[j] = dcj * f;
        }
        memcpy(s->da_hh, s->da_ih, (size_t)(G * H) * sizeof *s->da_hh);
        for (int32_t k = 0; k < Ho; k++)
            dh_prev[k] = 0.0;
    } else {
        for (int32_t j = 0; j < H; j++) {
            double r = gate[j], z = gate[H + j], n = gate[2 * H + j];
            double dn = dh[j] * (1.0 - z), dz = dh[j] * (h_prev[j] - n);
            double dan = dn * (1.0 - n * n);
            double dr = dan * aux[j];
            s->da_ih[j] = s->da_hh[j] = dr * r * (1.0 - r);
            s->da_ih[H + j] = s->da_hh[H + j] = dz * z * (1.0 - z);
            s->da_ih[2 * H + j] = dan;
            s->da_hh[2 * H + j] = dan * r;
            dh_prev[j] = dh[j] * z;
        }
    }
    for (int32_t row = 0; row < G * H; row++) {
        double gi = s->da_ih[row], gh = s->da_hh[row];
        if (c->b_ih) {
            dp[c->o_bih + row] += gi;
            dp[c->o_bhh + row] += gh;
        }
        for (int32_t k = 0; k < c->in; k++) {
            dp[c->o_ih + (size_t)row * c->in + k] += gi * x[k];
            dx[k] += gi * c->w_ih[(size_t)row * c->in + k];
        }
        for (int32_t k = 0; k < Ho; k++) {
            dp[c->o_hh + (size_t)row * Ho + k] += gh * h_prev[k];
            dh_prev[k] += gh * c->w_hh[(size_t)row * Ho + k];
        }
    }
}

/* ------------------------------------------------------------------------
 * Layers
 * ---------------------------------------------------------------------- */

/* dst[0, n) = src[at, at + n), or zeros when src is NULL (an optional
 * initial state or final-state gradient). */
static void copy_or_zero(double *dst, const double *src, size_t at, int32_t n)
{
    for (int32_t j = 0; j < n; j++)
        dst[j] = src ? src[at + j] : 0.0;
}

/* Per-layer caches: outs [T, B, D*Hout] (0 at padded steps), gates
 * [T, B, D, G*H] and aux [T, B, D, H]. */
typedef struct caches {
    double **outs, **gates, **aux;
} caches;

static int forward_layers(const refc_model *m, const double *p, const refc_batch *in,
                          const double *x_tm, caches *k, double *h_n, double *c_n)
{
    const int32_t B = in->B, H = m->H, Ho = refc_hout(m), DHo = m->D * Ho;
    const int32_t GH = gate_count(m) * H;
    double *buf = zeros((size_t)(2 * Ho + 2 * H));
    if (!buf)
        return -1;
    double *h = buf, *h_new = buf + Ho, *c = h_new + Ho, *m_vec = c + H;
    for (int32_t l = 0; l < m->L; l++) {
        const double *layer_in = l == 0 ? x_tm : k->outs[l - 1];
        for (int32_t d = 0; d < m->D; d++) {
            cell w = cell_at(m, p, l, d);
            for (int32_t b = 0; b < B; b++) {
                int32_t len = seq_len(in, b);
                size_t hs = state_index(m, B, l, d, b, Ho), cs = state_index(m, B, l, d, b, H);
                copy_or_zero(h, in->h0, hs, Ho);
                copy_or_zero(c, in->c0, cs, H);
                for (int32_t s = 0; s < len; s++) {
                    int32_t t = step_time(d, len, s);
                    double *aux = k->aux[l] + cache_index(m, B, t, b, d, H);
                    step_forward(m, &w, layer_in + tm(B, t, b, w.in, 0), h, c,
                                 k->gates[l] + cache_index(m, B, t, b, d, GH), aux,
                                 h_new, m_vec);
                    memcpy(h, h_new, (size_t)Ho * sizeof *h);
                    if (is_lstm(m))
                        memcpy(c, aux, (size_t)H * sizeof *c);
                    memcpy(k->outs[l] + tm(B, t, b, DHo, d * Ho), h, (size_t)Ho * sizeof *h);
                }
                memcpy(h_n + hs, h, (size_t)Ho * sizeof *h);
                if (c_n)
                    memcpy(c_n + cs, c, (size_t)H * sizeof *c);
            }
        }
    }
    free(buf);
    return 0;
}

/* Backward through layer l given dout (time-major dL/d outs[l], zero at
 * padded steps): adds parameter gradients to dp, writes dL/d(layer input)
 * to din (time-major, zeroed by the caller), dh0 and dc0. */
static int backward_layer(const refc_model *m, const double *p, const refc_batch *in,
                          const refc_cotangents *cot, int32_t l, const double *layer_in,
                          const caches *k, const double *dout, double *dp, double *din,
                          double *dh0, double *dc0)
{
    const int32_t B = in->B, H = m->H, Ho = refc_hout(m), DHo = m->D * Ho;
    const int32_t GH = gate_count(m) * H;
    double *buf = zeros((size_t)(4 * Ho + 4 * H + 2 * GH));
    if (!buf)
        return -1;
    double *dh = buf, *g_h = dh + Ho, *dh_prev = g_h + Ho, *zero = dh_prev + Ho;
    double *dc = zero + Ho + H; /* zero has max(Ho, H) <= Ho + H entries */
    step_grads sg = { dc + H, dc + 2 * H, dc + 3 * H, dc + 3 * H + GH };
    const double *out = k->outs[l];
    for (int32_t d = 0; d < m->D; d++) {
        cell w = cell_at(m, p, l, d);
        for (int32_t b = 0; b < B; b++) {
            int32_t len = seq_len(in, b);
            size_t hs = state_index(m, B, l, d, b, Ho), cs = state_index(m, B, l, d, b, H);
            copy_or_zero(dh, cot->dh_n, hs, Ho);
            copy_or_zero(dc, is_lstm(m) ? cot->dc_n : NULL, cs, H);
            for (int32_t s = len - 1; s >= 0; s--) {
                int32_t t = step_time(d, len, s);
                const double *h_prev = zero, *c_prev = zero;
                if (s > 0) {
                    int32_t tp = step_time(d, len, s - 1);
                    h_prev = out + tm(B, tp, b, DHo, d * Ho);
                    c_prev = k->aux[l] + cache_index(m, B, tp, b, d, H);
                } else {
                    if (in->h0)
                        h_prev = in->h0 + hs;
                    if (in->c0)
                        c_prev = in->c0 + cs;
                }
                for (int32_t j = 0; j < Ho; j++)
                    g_h[j] = dout[tm(B, t, b, DHo, d * Ho + j)] + dh[j];
                step_backward(m, &w, layer_in + tm(B, t, b, w.in, 0), h_prev, c_prev,
                              k->gates[l] + cache_index(m, B, t, b, d, GH),
                              k->aux[l] + cache_index(m, B, t, b, d, H), g_h, dc,
                              dh_prev, dp, din + tm(B, t, b, w.in, 0), &sg);
                memcpy(dh, dh_prev, (size_t)Ho * sizeof *dh);
            }
            memcpy(dh0 + hs, dh, (size_t)Ho * sizeof *dh);
            if (dc0)
                memcpy(dc0 + cs, dc, (size_t)H * sizeof *dc);
        }
    }
    free(buf);
    return 0;
}

/* ------------------------------------------------------------------------
 * refc_run
 * ---------------------------------------------------------------------- */

void refc_result_free(refc_result *r)
{
    double *all[] = { r->y, r->h_n, r->c_n, r->logits, r->dparams, r->dx, r->dh0, r->dc0 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i]);
    memset(r, 0, sizeof *r);
}

static void caches_free(caches *k, int32_t L)
{
    for (int32_t l = 0; l < L; l++) {
        free(k->outs ? k->outs[l] : NULL);
        free(k->gates ? k->gates[l] : NULL);
        free(k->aux ? k->aux[l] : NULL);
    }
    free(k->outs);
    free(k->gates);
    free(k->aux);
}

static int caches_alloc(caches *k, const refc_model *m, int32_t T, int32_t B)
{
    const size_t steps = (size_t)T * (size_t)B * (size_t)m->D;
    const int32_t L = m->L;
    k->outs = calloc((size_t)L, sizeof *k->outs);
    k->gates = calloc((size_t)L, sizeof *k->gates);
    k->aux = calloc((size_t)L, sizeof *k->aux);
    int ok = k->outs && k->gates && k->aux;
    for (int32_t l = 0; ok && l < L; l++) {
        k->outs[l] = zeros(refc_y_count(m, T, B));
        k->gates[l] = zeros(steps * (size_t)(gate_count(m) * m->H));
        k->aux[l] = zeros(steps * (size_t)m->H);
        ok = k->outs[l] && k->gates[l] && k->aux[l];
    }
    return ok ? 0 : -1;
}

static int backward(const refc_model *m, const double *p, const refc_batch *in,
                    const refc_cotangents *cot, const double *x_tm, const caches *k,
                    refc_result *r)
{
    const int32_t T = in->T, B = in->B, L = m->L;
    const size_t n_x = refc_x_count(m, T, B), n_y = refc_y_count(m, T, B);
    ref_model sm = seq_model(m);
    ref_batch rb = { T, B, in->x, in->lengths, NULL };
    size_t head = head_offset(m);
    double *dout = zeros(n_y);
    r->dparams = zeros(refc_param_count(m));
    r->dx = zeros(n_x);
    r->dh0 = zeros(refc_h_count(m, B));
    if (is_lstm(m))
        r->dc0 = zeros(refc_c_count(m, B));
    int ok = dout && r->dparams && r->dx && r->dh0 && (!is_lstm(m) || r->dc0);
    if (ok)
        ref_top_output_grad(&sm, p + head, &rb, cot->dy, cot->dlogits, k->outs[L - 1],
                            r->dparams + head, dout);
    for (int32_t l = L - 1; ok && l >= 0; l--) {
        double *din = zeros(l == 0 ? n_x : n_y);
        ok = din && backward_layer(m, p, in, cot, l, l == 0 ? x_tm : k->outs[l - 1], k,
                                   dout, r->dparams, din, r->dh0, r->dc0) == 0;
        free(dout);
        dout = din;
    }
    if (ok)
        ref_from_time_major(&sm, &rb, m->I, dout, r->dx);
    free(dout);
    return ok ? 0 : -1;
}

int refc_run(const refc_model *m, const double *p, const refc_batch *in,
             const refc_cotangents *cot, refc_result *r)
{
    const int32_t T = in->T, B = in->B, L = m->L;
    ref_model sm = seq_model(m);
    ref_batch rb = { T, B, in->x, in->lengths, NULL };
    caches k = { NULL, NULL, NULL };
    memset(r, 0, sizeof *r);

    double *x_tm = zeros(refc_x_count(m, T, B));
    r->y = zeros(refc_y_count(m, T, B));
    r->h_n = zeros(refc_h_count(m, B));
    if (is_lstm(m))
        r->c_n = zeros(refc_c_count(m, B));
    if (m->O > 0)
        r->logits = zeros(refc_logits_count(m, T, B));
    int ok = x_tm && r->y && r->h_n && (!is_lstm(m) || r->c_n) &&
             (m->O == 0 || r->logits) && caches_alloc(&k, m, T, B) == 0;
    if (ok) {
        ref_to_time_major(&sm, &rb, m->I, in->x, x_tm);
        ok = forward_layers(m, p, in, x_tm, &k, r->h_n, r->c_n) == 0;
    }
    if (ok) {
        ref_from_time_major(&sm, &rb, sm.D * sm.H, k.outs[L - 1], r->y);
        if (m->O > 0)
            ref_head_forward(&sm, p + head_offset(m), &rb, k.outs[L - 1], r->logits);
    }
    if (ok && cot)
        ok = backward(m, p, in, cot, x_tm, &k, r) == 0;

    caches_free(&k, L);
    free(x_tm);
    if (!ok) {
        refc_result_free(r);
        return -1;
    }
    return 0;
}

double refc_loss(const refc_model *m, const double *params, const refc_batch *in,
                 const refc_cotangents *w)
{
    refc_result r;
    if (refc_run(m, params, in, NULL, &r) != 0)
        return NAN;
    double loss = ref_dot(r.y, w->dy, refc_y_count(m, in->T, in->B)) +
                  ref_dot(r.h_n, w->dh_n, refc_h_count(m, in->B)) +
                  ref_dot(r.c_n, w->dc_n, refc_c_count(m, in->B)) +
                  ref_dot(r.logits, w->dlogits, refc_logits_count(m, in->T, in->B));
    refc_result_free(&r);
    return loss;
}
