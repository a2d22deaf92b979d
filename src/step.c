/* SPDX-License-Identifier: MIT
 *
 * step.c - streaming inference: one time step for B independent streams.
 * The model is only read, so threads may share it, each with its own state.
 * Each layer's step: the projections (two products on W_ih and W_hh, or
 * one on the packed block, pack.c), then the cell's forward (cell.h).
 */
#include "internal.h"

#include <string.h>

struct rnn_state {
    int32_t batch, input_size, hidden_size, num_layers;
    int32_t state_size; /* S: h's width, proj_size with a projection, else H */
    const rnn_cell_ops *cell_ops; /* of the model it was made for */
    float *h;         /* [L, B, S], then c [L, B, H] (has_cell_state) */
    float *c;         /* the c part of the block, or NULL */
    float *scratch;   /* [B, G*H]: a layer's projection */
    float *rec;       /* [B, G*H]: its rec, when kept apart; or NULL */
    float *cell_saved; /* [B, saved_units * H]: what the cell saves, unread */
    float *cell_out;  /* [B, H]: an LSTM's o * tanh(c) before W_hr; or NULL */
    float *saved;     /* h and c as above: the states before a checked step,
                         to undo it */
    float *joined;    /* [B, max(I, S) + S]: [x | h] rows for packed weights */
    float *embedded;  /* [B, I]: the embedding rows of rnn_step_tokens' ids */
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
    const rnn_cell_ops *ops = model->cell_ops;
    const size_t states = ops->has_cell_state ? 2 : 1;
    const int32_t width = rnn__state_size(cfg);
    /* per hidden unit and stream (H, and S for h): h and c and their undo
     * copies, 2L each; the projection (and rec): G each; the cell's saved
     * values; the cell's output before W_hr */
    const size_t units = 2 * (states - 1) * (size_t)cfg->num_layers +
                         (ops->separate_projections ? 2u : 1u) * (size_t)ops->gates +
                         (size_t)ops->saved_units + (cfg->proj_size > 0 ? 1u : 0u);
    size_t floats, joined, outputs;
    const size_t widest = (size_t)(cfg->input_size > width ? cfg->input_size
                                                           : width);
    /* + h and its undo copy: 2*L*B*S; + joined and embedded:
     * B*(max(I, S) + S + I) */
    if (!rnn__mul3(units, (size_t)batch, (size_t)cfg->hidden_size, &floats) ||
        !rnn__mul3(2 * (size_t)cfg->num_layers, (size_t)batch, (size_t)width,
                   &outputs) ||
        (floats += outputs) < outputs ||
        !rnn__mul(widest + (size_t)width + (size_t)cfg->input_size,
                  (size_t)batch, &joined) ||
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
    const size_t lbh = (size_t)cfg->num_layers * batch * cfg->hidden_size;
    const size_t lbs = (size_t)cfg->num_layers * batch * width;
    const size_t all = lbs + (states - 1) * lbh; /* h, then c */
    const size_t projection = (size_t)batch * ops->gates * cfg->hidden_size;
    state->batch = batch;
    state->input_size = cfg->input_size;
    state->hidden_size = cfg->hidden_size;
    state->state_size = width;
    state->num_layers = cfg->num_layers;
    state->cell_ops = ops;
    state->h = h;
    state->c = states == 2 ? h + lbs : NULL;
    state->saved = h + all;
    state->scratch = state->saved + all;
    state->rec = ops->separate_projections ? state->scratch + projection : NULL;
    state->cell_saved = state->scratch + (state->rec != NULL ? 2 : 1) * projection;
    float *after = state->cell_saved +
                   (size_t)batch * ops->saved_units * cfg->hidden_size;
    state->cell_out = cfg->proj_size > 0 ? after : NULL;
    state->joined = after + (cfg->proj_size > 0
                                 ? (size_t)batch * cfg->hidden_size
                                 : 0);
    state->embedded = state->joined + (size_t)batch * (widest + (size_t)width);
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

/* Floats of h [L, B, S], what rnn_state_get and rnn_state_set move. */
static size_t state_floats(const rnn_state_t *state)
{
    return (size_t)state->num_layers * state->batch * state->state_size;
}

/* Floats of c [L, B, H], what rnn_state_get_cell and _set_cell move. */
static size_t cell_floats(const rnn_state_t *state)
{
    return (size_t)state->num_layers * state->batch * state->hidden_size;
}

/* Floats of all the states, h and c: what a reset clears and a checked step
 * restores. */
static size_t all_state_floats(const rnn_state_t *state)
{
    return state_floats(state) + (state->c != NULL ? cell_floats(state) : 0);
}

/* Zeroes the rows of the streams b with mask[b] in a [L, B, width] block. */
static void reset_rows(float *block, int32_t layers, int32_t batch,
                       int32_t width, const uint8_t *mask)
{
    for (int32_t layer = 0; layer < layers; ++layer)
        for (int32_t b = 0; b < batch; ++b)
            if (mask[b])
                memset(block + ((size_t)layer * batch + b) * width, 0,
                       (size_t)width * sizeof(float));
}

rnn_status rnn_state_reset(rnn_state_t *state, const uint8_t *mask)
{
    if (state == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_state_reset", "state is NULL");
    if (mask == NULL) {
        memset(state->h, 0, all_state_floats(state) * sizeof(float));
        return RNN_OK;
    }
    reset_rows(state->h, state->num_layers, state->batch, state->state_size,
               mask);
    if (state->c != NULL)
        reset_rows(state->c, state->num_layers, state->batch,
                   state->hidden_size, mask);
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

/* The c block of a state, or NULL (with the error recorded) for a cell
 * without one. */
static float *cell_block(const rnn_state_t *state, const void *array,
                         const char *func)
{
    if (state == NULL || array == NULL) {
        rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                  state == NULL ? "state" : "c");
        return NULL;
    }
    if (!state->cell_ops->has_cell_state) {
        rnn__fail(RNN_E_INVALID_ARG, func,
                  "the state is of a %s cell, which has no cell state (only "
                  "LSTM has)", state->cell_ops->name);
        return NULL;
    }
    return state->c;
}

rnn_status rnn_state_get_cell(const rnn_state_t *state, float *c)
{
    const float *block = cell_block(state, c, "rnn_state_get_cell");
    if (block == NULL)
        return RNN_E_INVALID_ARG;
    memcpy(c, block, cell_floats(state) * sizeof(float));
    return RNN_OK;
}

rnn_status rnn_state_set_cell(rnn_state_t *state, const float *c)
{
    float *block = cell_block(state, c, "rnn_state_set_cell");
    if (block == NULL)
        return RNN_E_INVALID_ARG;
    memcpy(block, c, cell_floats(state) * sizeof(float));
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
    if (state->state_size != rnn__state_size(cfg))
        return rnn__fail(RNN_E_SHAPE, func,
                         "the state was made for h of %d units (proj_size); "
                         "the model's h has %d",
                         state->state_size, rnn__state_size(cfg));
    if (state->cell_ops != model->cell_ops)
        return rnn__fail(RNN_E_SHAPE, func,
                         "the state was made for a %s cell; the model has a "
                         "%s cell",
                         state->cell_ops->name, model->cell_ops->name);
    return RNN_OK;
}

/* A layer's projections of the step, biases included: in (+ rec when
 * merged) into state->scratch, rec into state->rec when kept apart. h is
 * the layer's state. */
typedef void (*layer_product)(const rnn_t *model, rnn_state_t *state,
                              int32_t layer, const float *input,
                              int32_t in_size, const float *h);

/* From the parameters, in rnn_forward's order: the input product, then the
 * recurrent product added (or made apart), then the biases. */
static void direct_product(const rnn_t *model, rnn_state_t *state,
                           int32_t layer, const float *input, int32_t in_size,
                           const float *h)
{
    const int32_t batch = state->batch, hidden = state->state_size;
    const int32_t width = model->cell_ops->gates * state->hidden_size;
    const rnn_cell_view w = rnn__cell(model, model->params, layer);
    float *rec = state->rec != NULL ? state->rec : state->scratch;
    RNN__PHASE(RNN__PHASE_STEP_REC,
               rnn__rows_product(batch, width, in_size, input, w.w_ih, in_size,
                                 true, 0.0f, state->scratch));
    RNN__PHASE(RNN__PHASE_STEP_REC,
               rnn__rows_product(batch, width, hidden, h, w.w_hh, hidden, true,
                                 rec == state->scratch ? 1.0f : 0.0f, rec));
    if (w.b_ih == NULL)
        return;
    if (rec == state->scratch) {
        RNN__PHASE(RNN__PHASE_STEP_COPY,
                   rnn__add_bias(state->scratch, (size_t)batch, width, w.b_ih,
                                 w.b_hh));
        return;
    }
    RNN__PHASE(RNN__PHASE_STEP_COPY,
               rnn__add_bias(state->scratch, (size_t)batch, width, w.b_ih, NULL));
    RNN__PHASE(RNN__PHASE_STEP_COPY,
               rnn__add_bias(rec, (size_t)batch, width, w.b_hh, NULL));
}

/* out[rows, width] = `bias` in every row. */
static void copy_bias(float *out, int32_t rows, int32_t width, const float *bias)
{
    for (int32_t b = 0; b < rows; ++b)
        memcpy(out + (size_t)b * width, bias, (size_t)width * sizeof(float));
}

/* From the packed block (pack.c), kept apart: input times the W_ih^T rows
 * onto b_ih, h times the W_hh^T rows onto b_hh. */
static void packed_apart(const rnn_t *model, rnn_state_t *state,
                         const float *block, const float *input,
                         int32_t in_size, const float *h)
{
    const int32_t batch = state->batch, hidden = state->state_size;
    const int32_t width = model->cell_ops->gates * state->hidden_size;
    const int32_t ld = rnn__copy_ld(width);
    const float *bias = block + ((size_t)in_size + hidden) * ld;
    RNN__PHASE(RNN__PHASE_STEP_COPY,
               copy_bias(state->scratch, batch, width, bias));
    RNN__PHASE(RNN__PHASE_STEP_COPY,
               copy_bias(state->rec, batch, width, bias + width));
    RNN__PHASE(RNN__PHASE_STEP_REC,
               rnn__rows_product(batch, width, in_size, input, block, ld, false,
                                 1.0f, state->scratch));
    RNN__PHASE(RNN__PHASE_STEP_REC,
               rnn__rows_product(batch, width, hidden, h,
                                 block + (size_t)in_size * ld, ld, false, 1.0f,
                                 state->rec));
}

/* The rows [input | h] into state->joined, and the summed bias into each
 * row of state->scratch, for the one product of packed_product. */
static void join_rows(rnn_state_t *state, const float *input, int32_t in_size,
                      const float *h, const float *bias, int32_t width)
{
    const int32_t hidden = state->state_size, joined = in_size + hidden;
    const size_t row_bytes = (size_t)hidden * sizeof(float);
    for (int32_t b = 0; b < state->batch; ++b) {
        float *row = state->joined + (size_t)b * joined;
        memcpy(row, input + (size_t)b * in_size, (size_t)in_size * sizeof(float));
        memcpy(row + in_size, h + (size_t)b * hidden, row_bytes);
        memcpy(state->scratch + (size_t)b * width, bias,
               (size_t)width * sizeof(float));
    }
}

/* From the packed block (pack.c): the rows [input | h] times
 * [W_ih | W_hh]^T onto b_ih + b_hh, in one product. */
static void packed_product(const rnn_t *model, rnn_state_t *state,
                           int32_t layer, const float *input, int32_t in_size,
                           const float *h)
{
    const int32_t batch = state->batch, hidden = state->state_size;
    const int32_t width = model->cell_ops->gates * state->hidden_size;
    const float *block = rnn__packed_layer(model, layer);
    if (state->rec != NULL) {
        packed_apart(model, state, block, input, in_size, h);
        return;
    }
    const int32_t joined = in_size + hidden, ld = rnn__copy_ld(width);
    const float *bias = block + (size_t)joined * ld;
    RNN__PHASE(RNN__PHASE_STEP_COPY,
               join_rows(state, input, in_size, h, bias, width));
    RNN__PHASE(RNN__PHASE_STEP_REC,
               rnn__rows_product(batch, width, joined, state->joined, block, ld,
                                 false, 1.0f, state->scratch));
}

/* An LSTM's projection: h [B, P] = cell_out [B, H] W_hr^T, on the packed
 * W_hr^T [H, P] when there is one (pack.c), else on W_hr. */
static void project_state(const rnn_t *model, const rnn_state_t *state,
                          int32_t layer, float *h)
{
    const int32_t batch = state->batch, hidden = state->hidden_size;
    const int32_t proj = state->state_size;
    if (model->packed != NULL)
        rnn__rows_product(batch, proj, hidden, state->cell_out,
                          rnn__packed_projection(model, layer),
                          rnn__copy_ld(proj), false, 0.0f, h);
    else
        rnn__rows_product(batch, proj, hidden, state->cell_out,
                          rnn__cell(model, model->params, layer).w_hr, hidden,
                          true, 0.0f, h);
}

static void advance(const rnn_t *model, rnn_state_t *state, const float *x_t)
{
    const layer_product product =
        model->packed != NULL ? packed_product : direct_product;
    const rnn_cell_ops *ops = model->cell_ops;
    const int32_t batch = state->batch, hidden = state->hidden_size;
    const size_t bh = (size_t)batch * hidden;
    const size_t bs = (size_t)batch * state->state_size;
    const float *input = x_t;
    int32_t in_size = state->input_size;
    for (int32_t layer = 0; layer < state->num_layers; ++layer) {
        float *h = state->h + (size_t)layer * bs;
        float *c = state->c != NULL ? state->c + (size_t)layer * bh : NULL;
        product(model, state, layer, input, in_size, h);
        /* The new states overwrite the old ones element by element (a cell
         * reads element i of h_prev and c_prev before writing element i),
         * except when the projection is made in the state (Elman): then it
         * is made in the scratch and copied. */
        const rnn_cell_forward_args step = {
            .cfg = &model->cfg,
            .rows = batch,
            .hidden = hidden,
            .proj = state->scratch,
            .rec = state->rec,
            .c_prev = c,
            .c = c,
            .h_prev = h,
            .h = ops->project_into_state ? state->scratch : h,
            .saved = ops->saved_units > 0 ? state->cell_saved : NULL,
            .cell_out = state->cell_out,
        };
        RNN__PHASE(RNN__PHASE_STEP_CELL, ops->forward(&step));
        if (ops->project_into_state)
            RNN__PHASE(RNN__PHASE_STEP_COPY,
                       memcpy(h, state->scratch, bh * sizeof(float)));
        if (state->cell_out != NULL)
            RNN__PHASE(RNN__PHASE_STEP_REC, project_state(model, state, layer, h));
        input = h;
        in_size = state->state_size;
    }
}

/* The step of rnn_step and rnn_step_tokens from the checked rows x_t. */
static rnn_status step_rows(const rnn_t *model, rnn_state_t *state,
                            const float *x_t, float *y_t, const char *func)
{
    rnn_status status;
    const size_t bh = (size_t)state->batch * state->state_size;
    if (!model->check_finite) {
        advance(model, state, x_t);
    } else {
        status = rnn__check_array(x_t, (size_t)state->batch * state->input_size,
                                  "x_t", func);
        if (status != RNN_OK)
            return status;
        const size_t floats = all_state_floats(state);
        memcpy(state->saved, state->h, floats * sizeof(float));
        advance(model, state, x_t);
        if (rnn__check_array(state->h, floats, "h", func) != RNN_OK) {
            memcpy(state->h, state->saved, floats * sizeof(float));
            return rnn__fail(RNN_E_NONFINITE, func,
                             "the new hidden state holds NaN or Inf "
                             "(activations overflowed); the state is unchanged");
        }
    }
    if (y_t != NULL)
        RNN__PHASE(RNN__PHASE_STEP_COPY,
                   memcpy(y_t, state->h + (size_t)(state->num_layers - 1) * bh,
                          bh * sizeof(float)));
    return RNN_OK;
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
    if (model->cfg.vocab_size > 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "the model takes token ids (vocab_size %d): call "
                         "rnn_step_tokens with ids_t",
                         model->cfg.vocab_size);
    return step_rows(model, state, x_t, y_t, func);
}

rnn_status rnn_step_tokens(const rnn_t *model, rnn_state_t *state,
                           const int32_t *ids_t, float *y_t)
{
    static const char *func = "rnn_step_tokens";
    rnn_status status = check_pair(model, state, func);
    if (status != RNN_OK)
        return status;
    if (ids_t == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "ids_t is NULL");
    if (model->cfg.vocab_size == 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "the model has no embedding (vocab_size is 0): call "
                         "rnn_step with x_t");
    status = rnn__embedding_check_ids(model, ids_t, 1, state->batch, NULL,
                                      func);
    if (status != RNN_OK)
        return status;
    RNN__PHASE(RNN__PHASE_STEP_COPY,
               rnn__embedding_gather(model, ids_t, state->batch,
                                     state->embedded));
    return step_rows(model, state, state->embedded, y_t, func);
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
    const int32_t batch = state->batch, hidden = state->state_size;
    const int32_t outputs = model->cfg.output_size;
    const float *top = state->h + (size_t)(state->num_layers - 1) * batch * hidden;
    rnn__gemm(false, true, batch, outputs, hidden, 1.0f, top, hidden,
              model->params + model->head_w, hidden, 0.0f, logits, outputs);
    for (int32_t b = 0; b < batch; ++b)
        rnn__add(logits + (size_t)b * outputs, model->params + model->head_b,
                 (size_t)outputs);
    return RNN_OK;
}
