/* SPDX-License-Identifier: MIT
 *
 * cell.h - the recurrent cell seen by the drivers (forward.c, backward.c,
 * step.c, pack.c). Never installed.
 *
 * A cell is what differs between torch.nn.RNN, nn.LSTM and nn.GRU: how many
 * gate blocks its weights have, which states it carries, and the fused
 * element-wise work of one step over a batch. The drivers own everything
 * else: the one input-projection sgemm over all T*B rows, the per-step
 * recurrent product, the batched weight-gradient products, the W_hh^T and
 * packed copies, the bias pre-fill, lengths, directions and layers. A cell
 * never calls BLAS.
 *
 * Shapes, per (layer, direction), G = gates, H = hidden_size, I_l the layer
 * input (torch's layout and gate order inside each [G*H] block):
 *   weight_ih [G*H, I_l]   weight_hh [G*H, H]   bias_ih, bias_hh [G*H]
 * and per step, over the B rows of the batch:
 *   in   = x_t W_ih^T + b_ih          [B, G*H]  (made for all T at once)
 *   rec  = h_{t-1} W_hh^T + b_hh      [B, G*H]  (one product per step)
 *
 * Merged or separate projections: when the gates only ever read in + rec
 * (Elman, LSTM), the drivers add rec into in (beta = 1 onto the same rows,
 * with b_ih + b_hh pre-filled once) and the cell sees one buffer, `proj`;
 * the packed step weights [W_ih | W_hh]^T then make the sum in ONE product.
 * A cell whose gates read rec on its own (GRU: n = tanh(in_n + r * rec_n))
 * sets separate_projections: the drivers keep rec in its own rows (with
 * b_hh) and hand both over, and backward gets two gradients back.
 *
 * Registering a cell: a src/cell_<name>.c defining a `const rnn_cell_ops`,
 * one line in the table of cell.c, and its tensor names in model.c if they
 * are not torch's weight_ih/weight_hh/bias_ih/bias_hh. (What the drivers do
 * for each field below, and what is still to do for LSTM and GRU, is in
 * docs/design.md, "Cells".)
 */
#ifndef RNN_CELL_H
#define RNN_CELL_H

#include "rnn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The width S of h (and of y, h0, h_n, a layer's output): an LSTM's
 * proj_size P when it has a projection, else hidden_size. */
static inline int32_t rnn__state_size(const rnn_config *cfg)
{
    return cfg->proj_size > 0 ? cfg->proj_size : cfg->hidden_size;
}

/* One forward step of one cell over `rows` sequences (row stride: the
 * widths given, packed). In rnn_step the new states overwrite the old ones
 * (c == c_prev, and h == h_prev unless project_into_state): a cell reads
 * element i of h_prev and c_prev before it writes element i. */
typedef struct rnn_cell_forward_args {
    const rnn_config *cfg; /* the model's (Elman: nonlinearity) */
    int32_t rows, hidden;
    /* [rows, G*H] in (+ rec when merged), biases included. The cell may
     * overwrite it: backward gets these rows back as `proj` (an LSTM keeps
     * its activated gates here). */
    float *proj;
    /* [rows, G*H] rec, b_hh included, when separate_projections; else NULL. */
    const float *rec;
    /* [rows, H] c_{t-1} and c_t when has_cell_state; else NULL. */
    const float *c_prev;
    float *c;
    /* [rows, S] h_{t-1} (GRU's z * h_{t-1}) and h_t, S the state width
     * (rnn__state_size: proj_size with an LSTM projection, else H). When
     * the cell says project_into_state, h == proj: the projection was made
     * in h_t's slot and the cell turns it into h_t in place. */
    const float *h_prev;
    float *h;
    /* [rows, H] where the cell writes its output instead of h when not
     * NULL: an LSTM with proj_size, whose h_t the driver then makes as
     * cell_out W_hr^T [rows, P]. */
    float *cell_out;
    /* [rows, saved_units * H] more values backward needs, or NULL. */
    float *saved;
} rnn_cell_forward_args;

/* One backward step, against forward order: the same step's buffers as
 * forward left them, and the gradients. */
typedef struct rnn_cell_backward_args {
    /* Step t as forward left it, read only (rec is NULL: it is not kept,
     * a cell whose backward reads it saves it). */
    rnn_cell_forward_args fwd;
    /* [rows, H] dL/dh_t, whole: what came from above and from step t+1
     * (the driver has added d_rec_{t+1} W_hh); with cell_out, dL/d(cell_out)
     * (the driver has multiplied dL/dh_t by W_hr). The cell may overwrite
     * it. */
    float *dh;
    /* [rows, H] dL/dc_t on entry, dL/dc_{t-1} on return; NULL without c. */
    float *dc;
    /* [rows, G*H] dL/d(in) out. project_into_state: d_proj == dh. */
    float *d_proj;
    /* [rows, G*H] dL/d(rec) out: == d_proj unless separate_projections.
     * The driver turns it into dW_hh, db_hh and d_rec W_hh for h_{t-1}. */
    float *d_rec;
    /* [rows, H] out: the part of dL/dh_{t-1} that does not go through rec
     * (GRU: dh * z), which the driver adds to the rest; NULL unless
     * direct_state_grad. */
    float *dh_prev;
} rnn_cell_backward_args;

typedef struct rnn_cell_ops {
    const char *name;        /* torch's module: "RNN", "LSTM", "GRU" */
    int32_t gates;           /* G: 1 Elman, 4 LSTM, 3 GRU */
    bool has_cell_state;     /* c besides h (LSTM) */
    bool separate_projections; /* rec kept apart from in (GRU) */
    bool direct_state_grad;  /* backward adds into dh_prev (GRU) */
    /* G == 1 without c: the projection is made in h_t's slot, so forward
     * keeps no [T, B, G*H] block and backward turns dh into d_proj in
     * place (Elman). Otherwise the drivers give the cell its own rows. */
    bool project_into_state;
    int32_t saved_units;     /* floats per row and hidden unit in `saved` */
    /* Whether this cell serves the configuration (validated before). */
    bool (*serves)(const rnn_config *cfg);
    void (*forward)(const rnn_cell_forward_args *step);
    void (*backward)(const rnn_cell_backward_args *step);
} rnn_cell_ops;

/* The cells (cell_<name>.c), and the one table that lists them (cell.c). */
extern const rnn_cell_ops rnn__cell_elman;
extern const rnn_cell_ops rnn__cell_gru;
extern const rnn_cell_ops rnn__cell_lstm;

/* The registered cell that serves cfg, or NULL. */
const rnn_cell_ops *rnn__cell_select(const rnn_config *cfg);

#endif /* RNN_CELL_H */
