/* SPDX-License-Identifier: MIT
 *
 * pack.c - the packed copy of the weights that rnn_step reads.
 *
 * Per layer l, one block: [W_ih | W_hh]^T as an [I_l + H, H] row-major
 * matrix (rows padded by rnn__copy_ld), then b_ih + b_hh [H] (zeros
 * without bias). A step of layer l is then one product [x | h] * block
 * (sgemv T, or sgemm NN) onto the summed bias: BLAS reads this orientation
 * faster than PyTorch's [H, K] (measured with OpenBLAS: docs/benchmarks.md),
 * and one call replaces two.
 */
#include "internal.h"

#include <string.h>

static size_t layer_floats(const rnn_t *model, int32_t layer)
{
    const size_t hidden = (size_t)model->cfg.hidden_size;
    const size_t ld = (size_t)rnn__copy_ld(model->cfg.hidden_size);
    return ((size_t)model->cells[layer].in_size + hidden) * ld + hidden;
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

static void pack_layer(const rnn_t *model, int32_t layer, float *block)
{
    const int32_t hidden = model->cfg.hidden_size, ld = rnn__copy_ld(hidden);
    const int32_t in = model->cells[layer].in_size;
    const rnn_cell_view w = rnn__cell(model, model->params, layer);
    rnn__transpose(block, ld, w.w_ih, hidden, in);
    rnn__transpose(block + (size_t)in * ld, ld, w.w_hh, hidden, hidden);
    float *bias = block + ((size_t)in + hidden) * ld;
    for (int32_t j = 0; j < hidden; ++j)
        bias[j] = w.b_ih != NULL ? w.b_ih[j] + w.b_hh[j] : 0.0f;
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
