/* SPDX-License-Identifier: MIT
 *
 * cell_elman.c - torch.nn.RNN's cell: h_t = act(in + rec), act tanh or
 * relu (cfg->nonlinearity), one gate block (G = 1) and no state besides h.
 *
 * It projects into the state (project_into_state): the drivers make the
 * step's projection in h_t's own slot and the cell applies the activation
 * there, so forward keeps nothing but the states; backward takes the
 * derivative from h_t itself (tanh' = 1 - h^2, relu' = [h > 0]) and turns
 * dh into d_proj in place.
 */
#include "internal.h"

static bool serves(const rnn_config *cfg)
{
    return cfg->cell == RNN_CELL_RNN &&
           (cfg->nonlinearity == RNN_TANH || cfg->nonlinearity == RNN_RELU);
}

static void forward(const rnn_cell_forward_args *step)
{
    rnn__act(step->h, (size_t)step->rows * (size_t)step->hidden,
             step->cfg->nonlinearity);
}

static void backward(const rnn_cell_backward_args *step)
{
    const rnn_cell_forward_args *fwd = &step->fwd;
    rnn__mul_act_grad(step->d_proj, fwd->h,
                      (size_t)fwd->rows * (size_t)fwd->hidden,
                      fwd->cfg->nonlinearity);
}

const rnn_cell_ops rnn__cell_elman = {
    .name = "RNN",
    .gates = 1,
    .project_into_state = true,
    .serves = serves,
    .forward = forward,
    .backward = backward,
};
