/* SPDX-License-Identifier: MIT
 *
 * reference_cells.h - the naive double-precision reference of librnn's
 * gated cells, torch.nn.LSTM and torch.nn.GRU, the oracle of test_lstm.c
 * and test_gru.c (reference.h is the Elman cell's).
 *
 * LSTM (gates i, f, g, o), per step, with a = x W_ih^T + b_ih + h W_hh^T + b_hh:
 *   i = sig(a_i), f = sig(a_f), g = tanh(a_g), o = sig(a_o)
 *   c' = f c + i g,  h' = (o tanh(c')) W_hr^T   (no W_hr without proj_size)
 * GRU (gates r, z, n):
 *   r = sig(x W_ir^T + b_ir + h W_hr^T + b_hr), z likewise,
 *   n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),  h' = (1 - z) n + z h
 *
 * Layers, bidirectional ([forward | reverse], h/c indexed layer*D + dir),
 * bias on/off, batch_first, per-sequence lengths with torch's packed
 * semantics (a finished sequence's h and c stay frozen, its outputs are 0),
 * h0/c0 in, h_n/c_n out and the readout head of reference.h. Parameters use
 * librnn's flat layout, torch's state_dict order: per layer and direction
 * weight_ih [G*H, I_l], weight_hh [G*H, Hout], bias_ih, bias_hh [G*H],
 * weight_hr [P, H] (LSTM with proj_size P), then head.weight [O, D*Hout],
 * head.bias [O]; G = 4 (LSTM) or 3 (GRU), Hout = P or H. The backward pass
 * is hand-written BPTT, checked against central differences of refc_loss
 * (cellcase.c); the whole reference is checked against torch in float64 by
 * python/tests/test_reference_vs_torch.py.
 */
#ifndef RNN_TEST_REFERENCE_CELLS_H
#define RNN_TEST_REFERENCE_CELLS_H

#include <stddef.h>
#include <stdint.h>

#include "reference.h"

typedef struct refc_model {
    int32_t cell;        /* RNN_CELL_LSTM or RNN_CELL_GRU               */
    int32_t I, H, L, D;  /* input, hidden, layers, directions (1 or 2)  */
    int32_t P;           /* LSTM proj_size, 0 = none                    */
    int32_t bias, batch_first;
    int32_t O, head_mode;/* head: output_size (0 = none), rnn_head_mode */
} refc_model;

/* Hout, the width of h and of one direction's output. */
int32_t refc_hout(const refc_model *m);

/* Layout, as ref_param_count / ref_tensor_count / ref_tensor_at. */
size_t refc_param_count(const refc_model *m);
int32_t refc_tensor_count(const refc_model *m);
ref_tensor refc_tensor_at(const refc_model *m, int32_t index);

/* Element counts of one batch's arrays. */
size_t refc_x_count(const refc_model *m, int32_t T, int32_t B);      /* T*B*I      */
size_t refc_y_count(const refc_model *m, int32_t T, int32_t B);      /* T*B*D*Hout */
size_t refc_h_count(const refc_model *m, int32_t B);                 /* L*D*B*Hout */
size_t refc_c_count(const refc_model *m, int32_t B);                 /* L*D*B*H, 0 for a GRU */
size_t refc_logits_count(const refc_model *m, int32_t T, int32_t B);

typedef struct refc_batch {
    int32_t T, B;
    const double *x;        /* caller layout                      */
    const int32_t *lengths; /* NULL (all T) or B values in [1, T] */
    const double *h0, *c0;  /* NULL (zeros); c0 LSTM only         */
} refc_batch;

/* Gradients of the loss w.r.t. the outputs; NULL counts as zero. */
typedef struct refc_cotangents {
    const double *dy, *dh_n, *dc_n, *dlogits;
} refc_cotangents;

/* malloc'd by refc_run; c_n/dc0 NULL for a GRU, logits NULL without head,
 * gradients NULL for a forward only. */
typedef struct refc_result {
    double *y, *h_n, *c_n, *logits;
    double *dparams, *dx, *dh0, *dc0;
} refc_result;

/* Forward, and backward when cot is not NULL. Returns 0, or -1 when out of
 * memory (the result is then freed). */
int refc_run(const refc_model *m, const double *params, const refc_batch *in,
             const refc_cotangents *cot, refc_result *out);
void refc_result_free(refc_result *r);

/* sum(y*dy) + sum(h_n*dh_n) + sum(c_n*dc_n) + sum(logits*dlogits) with the
 * cotangents as weights: the loss whose gradients refc_run computes. */
double refc_loss(const refc_model *m, const double *params, const refc_batch *in,
                 const refc_cotangents *weights);

#endif /* RNN_TEST_REFERENCE_CELLS_H */
