/* SPDX-License-Identifier: MIT
 *
 * cell_gru.c - torch.nn.GRU's cell, gates r, z, n in that order in each
 * [3H] block:
 *     r = sigmoid(in_r + rec_r)      z = sigmoid(in_z + rec_z)
 *     n = tanh(in_n + r * rec_n)     h_t = (1 - z) * n + z * h_{t-1}
 * with in = x W_ih^T + b_ih and rec = h_{t-1} W_hh^T + b_hh, so b_hn sits
 * inside r * (...) as in torch.
 *
 * rec_n is multiplied by r, so the drivers keep rec apart from in
 * (separate_projections), and h_{t-1} reaches h_t through z besides rec
 * (direct_state_grad: dL/dh_{t-1} gets dh * z around W_hh). Forward
 * leaves the activated r, z, n in the projection rows and rec_n in
 * `saved` (saved_units 1): all that backward needs besides h_{t-1}. The
 * element-wise work of a step is one fused pass of kernels.c each way.
 */
#include "internal.h"

static bool serves(const rnn_config *cfg)
{
    return cfg->cell == RNN_CELL_GRU && cfg->nonlinearity == RNN_TANH &&
           cfg->proj_size == 0;
}

static void forward(const rnn_cell_forward_args *step)
{
    rnn__gru_forward(step->proj, step->rec, step->h_prev, step->h, step->saved,
                     (size_t)step->rows, step->hidden);
}

static void backward(const rnn_cell_backward_args *step)
{
    const rnn_cell_forward_args *fwd = &step->fwd;
    rnn__gru_backward(step->d_proj, step->d_rec, step->dh_prev, step->dh,
                      fwd->proj, fwd->saved, fwd->h_prev, (size_t)fwd->rows,
                      fwd->hidden);
}

const rnn_cell_ops rnn__cell_gru = {
    .name = "GRU",
    .gates = 3,
    .separate_projections = true,
    .direct_state_grad = true,
    .saved_units = 1,
    .serves = serves,
    .forward = forward,
    .backward = backward,
};
