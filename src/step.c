/* SPDX-License-Identifier: MIT
 *
 * step.c - streaming inference: one time step for B independent streams.
 * The model is only read, so threads may share it, each with its own state.
 */
#include "internal.h"

#include <string.h>

struct rnn_state {
    int32_t batch, input_size, hidden_size, num_layers;
    float *h;       /* [L, B, H] */
    float *scratch; /* [B, H]: a layer's pre-activation */
    float *saved;   /* [L, B, H]: h before a checked step, to undo it */
    float *joined;  /* [B, max(I, H) + H]: [x | h] rows for packed weights */
};

static rnn_status check_streamable(const rnn_t *model, const char *func)
{
    if (model->cfg.bidirectional)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "a bidirectional model cannot run step by step: its "
                         "reverse direction needs the whole sequence "
                         "(use rnn_forward)");
    return RNN_OK;
}

rnn_status rnn_state_create(rnn_state_t **out, const rnn_t *model, int32_t batch)
{
    static const char *func = "rnn_state_create";
    if (out == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "out is NULL");
    *out = NULL;
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    rnn_status status = check_streamable(model, func);
    if (status != RNN_OK)
        return status;
    if (batch <= 0)
        return rnn__fail(RNN_E_SHAPE, func, "batch must be > 0 (got %d)", batch);
    const rnn_config *cfg = &model->cfg;
    size_t floats, joined;
    const size_t widest = (size_t)(cfg->input_size > cfg->hidden_size
                                       ? cfg->input_size
                                       : cfg->hidden_size);
    /* h, saved: L*B*H each; scratch: B*H; joined: B*(max(I, H) + H) */
    if (!rnn__mul3(2 * (size_t)cfg->num_layers + 1, (size_t)batch,
                   (size_t)cfg->hidden_size, &floats) ||
        !rnn__mul(widest + (size_t)cfg->hidden_size, (size_t)batch, &joined) ||
        (floats += joined) < joined || floats > (size_t)INT32_MAX)
        return rnn__fail(RNN_E_SHAPE, func,
                         "state of batch %d x hidden %d x %d layers is too large",
                         batch, cfg->hidden_size, cfg->num_layers);
    rnn_state_t *state = rnn__calloc(1, sizeof *state);
    float *h = rnn__calloc(floats, sizeof(float));
    if (state == NULL || h == NULL) {
        rnn__free(state);
        rnn__free(h);
        return rnn__fail_nomem(func);
    }
    state->batch = batch;
    state->input_size = cfg->input_size;
    state->hidden_size = cfg->hidden_size;
    state->num_layers = cfg->num_layers;
    state->h = h;
    state->saved = h + (size_t)cfg->num_layers * batch * cfg->hidden_size;
    state->scratch = state->saved + (size_t)cfg->num_layers * batch * cfg->hidden_size;
    state->joined = state->scratch + (size_t)batch * cfg->hidden_size;
    *out = state;
    return RNN_OK;
}

void rnn_state_destroy(rnn_state_t *state)
{
    if (state == NULL)
        return;
    rnn__free(state->h);
    rnn__free(state);
}

static size_t state_floats(const rnn_state_t *state)
{
    return (size_t)state->num_layers * state->batch * state->hidden_size;
}

rnn_status rnn_state_reset(rnn_state_t *state, const uint8_t *mask)
{
    if (state == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_state_reset", "state is NULL");
    if (mask == NULL) {
        memset(state->h, 0, state_floats(state) * sizeof(float));
        return RNN_OK;
    }
    const size_t row_bytes = (size_t)state->hidden_size * sizeof(float);
    for (int32_t layer = 0; layer < state->num_layers; ++layer)
        for (int32_t b = 0; b < state->batch; ++b)
            if (mask[b])
                memset(state->h + ((size_t)layer * state->batch + b) *
                                      state->hidden_size,
                       0, row_bytes);
    return RNN_OK;
}

rnn_status rnn_state_get(const rnn_state_t *state, float *h)
{
    if (state == NULL || h == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_state_get", "%s is NULL",
                         state == NULL ? "state" : "h");
    memcpy(h, state->h, state_floats(state) * sizeof(float));
    return RNN_OK;
}

rnn_status rnn_state_set(rnn_state_t *state, const float *h)
{
    if (state == NULL || h == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_state_set", "%s is NULL",
                         state == NULL ? "state" : "h");
    memcpy(state->h, h, state_floats(state) * sizeof(float));
    return RNN_OK;
}

rnn_status rnn_state_batch(const rnn_state_t *state, int32_t *batch)
{
    if (state == NULL || batch == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_state_batch", "%s is NULL",
                         state == NULL ? "state" : "batch");
    *batch = state->batch;
    return RNN_OK;
}

static rnn_status check_pair(const rnn_t *model, const rnn_state_t *state,
                             const char *func)
{
    if (model == NULL || state == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "state");
    rnn_status status = check_streamable(model, func);
    if (status != RNN_OK)
        return status;
    const rnn_config *cfg = &model->cfg;
    if (state->input_size != cfg->input_size ||
        state->hidden_size != cfg->hidden_size ||
        state->num_layers != cfg->num_layers)
        return rnn__fail(RNN_E_SHAPE, func,
                         "the state was made for input %d, hidden %d, %d layers; "
                         "the model has input %d, hidden %d, %d layers",
                         state->input_size, state->hidden_size, state->num_layers,
                         cfg->input_size, cfg->hidden_size, cfg->num_layers);
    return RNN_OK;
}

/* A layer's pre-activation of the step, into state->scratch; the biases
 * still to add are returned (NULL when already in). h is the layer's state. */
typedef void (*layer_product)(const rnn_t *model, rnn_state_t *state,
                              int32_t layer, const float *input,
                              int32_t in_size, const float *h,
                              const float **b_ih, const float **b_hh);

/* From the parameters, in rnn_forward's order: the input product, then the
 * recurrent product added (the biases are added with the activation). */
static void direct_product(const rnn_t *model, rnn_state_t *state,
                           int32_t layer, const float *input, int32_t in_size,
                           const float *h, const float **b_ih,
                           const float **b_hh)
{
    const int32_t batch = state->batch, hidden = state->hidden_size;
    const rnn_cell_view w = rnn__cell(model, model->params, layer);
    rnn__rows_product(batch, hidden, in_size, input, w.w_ih, in_size, true,
                      0.0f, state->scratch);
    rnn__rows_product(batch, hidden, hidden, h, w.w_hh, hidden, true, 1.0f,
                      state->scratch);
    *b_ih = w.b_ih;
    *b_hh = w.b_hh;
}

/* From the packed block (pack.c): the rows [input | h] times
 * [W_ih | W_hh]^T onto b_ih + b_hh, in one product. */
static void packed_product(const rnn_t *model, rnn_state_t *state,
                           int32_t layer, const float *input, int32_t in_size,
                           const float *h, const float **b_ih,
                           const float **b_hh)
{
    const int32_t batch = state->batch, hidden = state->hidden_size;
    const size_t row_bytes = (size_t)hidden * sizeof(float);
    const float *block = rnn__packed_layer(model, layer);
    const int32_t joined = in_size + hidden, ld = rnn__copy_ld(hidden);
    const float *bias = block + (size_t)joined * ld;
    for (int32_t b = 0; b < batch; ++b) {
        float *row = state->joined + (size_t)b * joined;
        memcpy(row, input + (size_t)b * in_size, (size_t)in_size * sizeof(float));
        memcpy(row + in_size, h + (size_t)b * hidden, row_bytes);
        memcpy(state->scratch + (size_t)b * hidden, bias, row_bytes);
    }
    rnn__rows_product(batch, hidden, joined, state->joined, block, ld, false,
                      1.0f, state->scratch);
    *b_ih = *b_hh = NULL;
}

static void advance(const rnn_t *model, rnn_state_t *state, const float *x_t)
{
    const layer_product product =
        model->packed != NULL ? packed_product : direct_product;
    const int32_t batch = state->batch, hidden = state->hidden_size;
    const size_t bh = (size_t)batch * hidden;
    const float *input = x_t;
    int32_t in_size = state->input_size;
    for (int32_t layer = 0; layer < state->num_layers; ++layer) {
        float *h = state->h + (size_t)layer * bh;
        const float *b_ih, *b_hh;
        product(model, state, layer, input, in_size, h, &b_ih, &b_hh);
        rnn__bias_act(state->scratch, (size_t)batch, hidden, b_ih, b_hh,
                      model->cfg.nonlinearity);
        memcpy(h, state->scratch, bh * sizeof(float));
        input = h;
        in_size = hidden;
    }
}

rnn_status rnn_step(const rnn_t *model, rnn_state_t *state, const float *x_t,
                    float *y_t)
{
    static const char *func = "rnn_step";
    rnn_status status = check_pair(model, state, func);
    if (status != RNN_OK)
        return status;
    if (x_t == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "x_t is NULL");
    const size_t bh = (size_t)state->batch * state->hidden_size;
    if (!model->check_finite) {
        advance(model, state, x_t);
    } else {
        status = rnn__check_array(x_t, (size_t)state->batch * state->input_size,
                                  "x_t", func);
        if (status != RNN_OK)
            return status;
        memcpy(state->saved, state->h, state_floats(state) * sizeof(float));
        advance(model, state, x_t);
        if (rnn__check_array(state->h, state_floats(state), "h", func) != RNN_OK) {
            memcpy(state->h, state->saved, state_floats(state) * sizeof(float));
            return rnn__fail(RNN_E_NONFINITE, func,
                             "the new hidden state holds NaN or Inf "
                             "(activations overflowed); the state is unchanged");
        }
    }
    if (y_t != NULL)
        memcpy(y_t, state->h + (size_t)(state->num_layers - 1) * bh,
               bh * sizeof(float));
    return RNN_OK;
}

rnn_status rnn_step_head(const rnn_t *model, const rnn_state_t *state,
                         float *logits)
{
    static const char *func = "rnn_step_head";
    rnn_status status = check_pair(model, state, func);
    if (status != RNN_OK)
        return status;
    if (logits == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "logits is NULL");
    if (model->cfg.output_size == 0)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "the model has no head (output_size is 0)");
    const int32_t batch = state->batch, hidden = state->hidden_size;
    const int32_t outputs = model->cfg.output_size;
    const float *top = state->h + (size_t)(state->num_layers - 1) * batch * hidden;
    rnn__gemm(false, true, batch, outputs, hidden, 1.0f, top, hidden,
              model->params + model->head_w, hidden, 0.0f, logits, outputs);
    for (int32_t b = 0; b < batch; ++b)
        rnn__add(logits + (size_t)b * outputs, model->params + model->head_b,
                 (size_t)outputs);
    return RNN_OK;
}
