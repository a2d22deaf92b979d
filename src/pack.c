/* SPDX-License-Identifier: MIT
 *
 * pack.c - the packed copy of the weights that rnn_step reads.
 *
 * Per layer l, one block: [W_ih | W_hh]^T as an [I_l + H, G*H] row-major
 * matrix (rows padded by rnn__copy_ld), then b_ih + b_hh [G*H] (zeros
 * without bias). A step of layer l is then one product [x | h] * block
 * (sgemv T, or sgemm NN) onto the summed bias: BLAS reads this orientation
 * faster than PyTorch's [G*H, K] (measured with OpenBLAS:
 * docs/benchmarks.md), and one call replaces two. A cell that keeps the
 * projections apart (cell.h) gets b_ih and b_hh one after the other, and
 * its step makes the two products from the two parts of the block. An
 * LSTM with proj_size P (h = cell_out W_hr^T) has W_hr^T [H, P] (rows
 * padded likewise) after the biases, for its step's second product.
 *
 * The rows of h are S wide: P with a projection, else H.
 */
#include "internal.h"

#include <string.h>

/* Floats of layer `layer`'s block before W_hr^T. */
static size_t gates_floats(const rnn_t *model, int32_t layer)
{
    const size_t state = (size_t)rnn__state_size(&model->cfg);
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    const size_t ld = (size_t)rnn__copy_ld(width);
    const size_t biases = model->cell_ops->separate_projections ? 2 : 1;
    return ((size_t)model->cells[layer].in_size + state) * ld +
           biases * (size_t)width;
}

static size_t layer_floats(const rnn_t *model, int32_t layer)
{
    const int32_t proj = model->cfg.proj_size;
    return gates_floats(model, layer) +
           (proj > 0 ? (size_t)model->cfg.hidden_size * rnn__copy_ld(proj) : 0);
}

static size_t packed_floats(const rnn_t *model)
{
    size_t total = 0;
    for (int32_t layer = 0; layer < model->cfg.num_layers; ++layer)
        total += layer_floats(model, layer);
    return total;
}

const float *rnn__packed_layer(const rnn_t *model, int32_t layer)
{
    const float *block = model->packed;
    for (int32_t l = 0; l < layer; ++l)
        block += layer_floats(model, l);
    return block;
}

const float *rnn__packed_projection(const rnn_t *model, int32_t layer)
{
    return rnn__packed_layer(model, layer) + gates_floats(model, layer);
}

/* bias[width] = b_ih + b_hh (b_ih alone when b_hh is NULL), 0 without. */
static void pack_bias(float *bias, int32_t width, const float *b_ih,
                      const float *b_hh)
{
    for (int32_t j = 0; j < width; ++j)
        bias[j] = b_ih == NULL ? 0.0f
                  : b_hh != NULL ? b_ih[j] + b_hh[j]
                                 : b_ih[j];
}

static void pack_layer(const rnn_t *model, int32_t layer, float *block)
{
    const int32_t hidden = rnn__state_size(&model->cfg);
    const int32_t width = model->cell_ops->gates * model->cfg.hidden_size;
    const int32_t ld = rnn__copy_ld(width);
    const int32_t in = model->cells[layer].in_size;
    const rnn_cell_view w = rnn__cell(model, model->params, layer);
    rnn__transpose(block, ld, w.w_ih, width, in);
    rnn__transpose(block + (size_t)in * ld, ld, w.w_hh, width, hidden);
    if (w.w_hr != NULL)
        rnn__transpose(block + gates_floats(model, layer),
                       rnn__copy_ld(model->cfg.proj_size), w.w_hr,
                       model->cfg.proj_size, model->cfg.hidden_size);
    float *bias = block + ((size_t)in + hidden) * ld;
    if (!model->cell_ops->separate_projections) {
        pack_bias(bias, width, w.b_ih, w.b_hh);
        return;
    }
    pack_bias(bias, width, w.b_ih, NULL);
    pack_bias(bias + width, width, w.b_hh, NULL);
}

void rnn__refresh_packed(rnn_t *model)
{
    if (model->packed == NULL)
        return;
    float *block = model->packed;
    for (int32_t layer = 0; layer < model->cfg.num_layers; ++layer) {
        pack_layer(model, layer, block);
        block += layer_floats(model, layer);
    }
}

rnn_status rnn_pack_weights(rnn_t *model)
{
    static const char *func = "rnn_pack_weights";
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    if (model->cfg.bidirectional)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "a bidirectional model cannot run step by step, so "
                         "it has no step weights to pack");
    if (model->packed == NULL) {
        float *packed = rnn__calloc(packed_floats(model), sizeof(float));
        if (packed == NULL)
            return rnn__fail_nomem(func);
        model->packed = packed;
    }
    rnn__refresh_packed(model);
    return RNN_OK;
}

void rnn_unpack_weights(rnn_t *model)
{
    if (model == NULL)
        return;
    rnn__free(model->packed);
    model->packed = NULL;
}
