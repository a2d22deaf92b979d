/* SPDX-License-Identifier: MIT
 *
 * cell_lstm.c - torch.nn.LSTM's cell, gates i, f, g, o in that order in
 * each [4H] block:
 *     i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
 *     c_t = f * c_{t-1} + i * g              h_t = o * tanh(c_t)
 * with a = x W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh.
 *
 * The gates read only the sum in + rec, so the drivers merge the two
 * projections (one buffer, both biases pre-filled; one packed product per
 * step). Forward leaves the activated gates in the projection rows, which
 * backward reads with c_{t-1} and c_t (tanh(c_t) is recomputed): nothing
 * is saved besides. With proj_size the drivers hand the cell [B, H] rows
 * of their own as `cell_out`, project them into the state themselves
 * (h = cell_out W_hr^T) and give backward dL/d(cell_out) as `dh`.
 * One fused pass of kernels.c each way.
 */
#include "internal.h"

static bool serves(const rnn_config *cfg)
{
    return cfg->cell == RNN_CELL_LSTM && cfg->nonlinearity == RNN_TANH;
}

static void forward(const rnn_cell_forward_args *step)
{
    rnn__lstm_forward(step->proj, step->c_prev, step->c,
                      step->cell_out != NULL ? step->cell_out : step->h,
                      (size_t)step->rows, step->hidden);
}

static void backward(const rnn_cell_backward_args *step)
{
    const rnn_cell_forward_args *fwd = &step->fwd;
    rnn__lstm_backward(step->d_proj, step->dc, step->dh, fwd->proj,
                       fwd->c_prev, fwd->c, (size_t)fwd->rows, fwd->hidden);
}

const rnn_cell_ops rnn__cell_lstm = {
    .name = "LSTM",
    .gates = 4,
    .has_cell_state = true,
    .serves = serves,
    .forward = forward,
    .backward = backward,
};
