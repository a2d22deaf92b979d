/* SPDX-License-Identifier: MIT
 *
 * reference.h - a naive double-precision reference of the librnn model, the
 * oracle of the tests.
 *
 * Scalar loops, one sequence and one unit at a time, written for clarity and
 * not for speed, straight from the equations of rnn.h (PyTorch nn.RNN):
 *
 *   h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
 *
 * with num_layers, bidirectional ([forward | reverse] rows, h0/h_n indexed
 * layer*D + dir), tanh/relu, bias on/off, batch_first, per-sequence lengths
 * (PyTorch packed semantics) and the readout head (last valid step or every
 * step). Parameters use librnn's flat layout (PyTorch state_dict order).
 * The backward pass is hand-written BPTT; it is itself checked against
 * central finite differences of ref_loss (test_backward.c).
 */
#ifndef RNN_TEST_REFERENCE_H
#define RNN_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

/* The model, mirroring the fields of rnn_config that shape the maths. */
typedef struct ref_model {
    int32_t I, H, L;      /* input_size, hidden_size, num_layers      */
    int32_t D;            /* 1, or 2 when bidirectional              */
    int32_t nonlinearity; /* RNN_TANH or RNN_RELU                    */
    int32_t bias;         /* 0 or 1                                  */
    int32_t batch_first;  /* 0 or 1                                  */
    int32_t O;            /* output_size, 0 = no head                */
    int32_t head_mode;    /* RNN_HEAD_LAST or RNN_HEAD_ALL           */
} ref_model;

/* One named tensor of the flat layout. */
typedef struct ref_tensor {
    char name[32];
    size_t offset, count;
    int32_t ndim, rows, cols; /* cols = 1 when ndim = 1 */
} ref_tensor;

/* Layout: number of floats of the flat buffer, number of named tensors, and
 * the description of tensor `index` in state_dict order. */
size_t ref_param_count(const ref_model *m);
int32_t ref_tensor_count(const ref_model *m);
ref_tensor ref_tensor_at(const ref_model *m, int32_t index);

/* Element counts of the arrays of one batch. */
size_t ref_x_count(const ref_model *m, int32_t T, int32_t B);      /* T*B*I   */
size_t ref_y_count(const ref_model *m, int32_t T, int32_t B);      /* T*B*D*H */
size_t ref_h_count(const ref_model *m, int32_t B);                 /* L*D*B*H */
size_t ref_logits_count(const ref_model *m, int32_t T, int32_t B); /* B*O, T*B*O or 0 */

/* Index of element (t, b, k) of a sequence tensor of width n in the caller's
 * layout: [T, B, n], or [B, T, n] when batch_first. */
size_t ref_seq_index(const ref_model *m, int32_t T, int32_t B, int32_t t,
                     int32_t b, int32_t n, int32_t k);

/* One batch. Arrays are in the caller's layout, as librnn takes them. */
typedef struct ref_batch {
    int32_t T, B;
    const double *x;        /* T*B*I                           */
    const int32_t *lengths; /* NULL (all T) or B values in [1,T] */
    const double *h0;       /* NULL (zeros) or L*D*B*H          */
} ref_batch;

/* Gradients of the loss w.r.t. the outputs; any may be NULL (zero). */
typedef struct ref_cotangents {
    const double *dy;      /* T*B*D*H */
    const double *dh_n;    /* L*D*B*H */
    const double *dlogits; /* like logits */
} ref_cotangents;

/* Everything the reference computes, each array malloc'd by ref_run.
 * logits is NULL without head; the gradients are NULL for a forward only. */
typedef struct ref_result {
    double *y, *h_n, *logits;
    double *dparams, *dx, *dh0;
} ref_result;

/* Forward, and backward when `cot` is not NULL. Returns 0, or -1 when out of
 * memory (the result is then freed). */
int ref_run(const ref_model *m, const double *params, const ref_batch *in,
            const ref_cotangents *cot, ref_result *out);
void ref_result_free(ref_result *r);

/* The scalar loss sum(y*wy) + sum(h_n*wh) + sum(logits*wl) (NULL weights
 * count as zero), whose gradients are what ref_run computes with
 * cot = {wy, wh, wl}. Used for finite differences. */
/* sum a[i] * w[i] over n (0 when either is NULL): a loss term. */
double ref_dot(const double *a, const double *w, size_t n);

double ref_loss(const ref_model *m, const double *params, const ref_batch *in,
                const ref_cotangents *weights);

/* Pieces shared with the gated cells' reference (reference_cells.c), for
 * which m describes the sequence tensors only: m->H is the width of one
 * direction's output (Hout) and m->O, m->head_mode the head.
 *
 * Copies a caller-layout sequence tensor of width n to time-major [T, B, n]
 * and back. */
void ref_to_time_major(const ref_model *m, const ref_batch *in, int32_t n,
                       const double *src, double *dst);
void ref_from_time_major(const ref_model *m, const ref_batch *in, int32_t n,
                         const double *src, double *dst);
/* The head (head.weight [O, D*H] then head.bias [O] at `head`) on the
 * time-major top-layer output y_tm: writes the caller-layout logits. */
void ref_head_forward(const ref_model *m, const double *head, const ref_batch *in,
                      const double *y_tm, double *logits);
/* The gradient w.r.t. the time-major top-layer output into dy_tm: dy (NULL:
 * zero) at valid steps (y is the constant 0 at padded steps, so dy there
 * has no effect) plus the head's share for dlogits (NULL: none), whose
 * parameter gradients are added to dhead. */
void ref_top_output_grad(const ref_model *m, const double *head, const ref_batch *in,
                         const double *dy, const double *dlogits, const double *y_tm,
                         double *dhead, double *dy_tm);

#endif /* RNN_TEST_REFERENCE_H */
