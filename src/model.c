/* SPDX-License-Identifier: MIT
 *
 * model.c - configuration, create/destroy, the model's buffers and tensor
 * table through the API (their layout is layout.c's), re-initialisation,
 * and rnn__params_changed, which every library path that writes the
 * parameters ends with.
 */
#include "internal.h"

#include <inttypes.h>
#include <string.h>

void rnn__config_defaults(rnn_config *cfg, int32_t input_size,
                          int32_t hidden_size)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->input_size = input_size;
    cfg->hidden_size = hidden_size;
    cfg->num_layers = 1;
    cfg->nonlinearity = RNN_TANH;
    cfg->bias = 1;
    cfg->head_mode = RNN_HEAD_LAST;
}

rnn_status rnn_config_init(rnn_config *cfg, size_t struct_size,
                           int32_t input_size, int32_t hidden_size)
{
    static const char *func = "rnn_config_init";
    if (cfg == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "cfg is NULL");
    rnn_status status =
        rnn__struct_check_size(struct_size, &rnn__config_layout, "cfg", func);
    if (status != RNN_OK)
        return status;
    rnn_config full;
    rnn__config_defaults(&full, input_size, hidden_size);
    rnn__struct_write(cfg, struct_size, &full, &rnn__config_layout);
    return RNN_OK;
}

static rnn_status check_flag(int32_t value, const char *field)
{
    if (value == 0 || value == 1)
        return RNN_OK;
    return rnn__fail(RNN_E_INVALID_ARG, "rnn_create",
                     "%s must be 0 or 1 (got %d)", field, value);
}

static rnn_status check_positive(int32_t value, const char *field)
{
    if (value > 0)
        return RNN_OK;
    return rnn__fail(RNN_E_INVALID_ARG, "rnn_create",
                     "%s must be > 0 (got %d)", field, value);
}

static rnn_status validate_cell(const rnn_config *cfg)
{
    static const char *func = "rnn_create";
    static const char *const names[] = {"RNN_CELL_RNN", "RNN_CELL_LSTM",
                                        "RNN_CELL_GRU"};
    if (cfg->cell < RNN_CELL_RNN || cfg->cell > RNN_CELL_GRU)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "cell must be RNN_CELL_RNN, RNN_CELL_LSTM or "
                         "RNN_CELL_GRU (got %d)", cfg->cell);
    if (cfg->cell != RNN_CELL_RNN && cfg->nonlinearity != RNN_TANH)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "nonlinearity applies to RNN_CELL_RNN only: %s has "
                         "torch's fixed sigmoid/tanh gates (leave it "
                         "RNN_TANH)", names[cfg->cell]);
    if (cfg->proj_size != 0 && cfg->cell != RNN_CELL_LSTM)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "proj_size %d is an LSTM setting, and cell is %s",
                         cfg->proj_size, names[cfg->cell]);
    if (cfg->proj_size < 0 || cfg->proj_size >= cfg->hidden_size)
        if (cfg->proj_size != 0)
            return rnn__fail(RNN_E_INVALID_ARG, func,
                             "proj_size must be 0 (none) or in [1, "
                             "hidden_size %d) (got %d)",
                             cfg->hidden_size, cfg->proj_size);
    return RNN_OK;
}

static rnn_status validate_embedding(const rnn_config *cfg)
{
    static const char *func = "rnn_create";
    rnn_status status = check_flag(cfg->has_padding_idx, "has_padding_idx");
    if (status != RNN_OK)
        return status;
    if (cfg->vocab_size < 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "vocab_size must be >= 0 (got %d)", cfg->vocab_size);
    if (cfg->vocab_size == 0 && (cfg->has_padding_idx || cfg->padding_idx))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "padding_idx needs token input: vocab_size is 0");
    if (!cfg->has_padding_idx && cfg->padding_idx != 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "padding_idx %d is set and has_padding_idx is 0: set "
                         "has_padding_idx = 1 to use it",
                         cfg->padding_idx);
    if (cfg->has_padding_idx && (cfg->padding_idx < -cfg->vocab_size ||
                                 cfg->padding_idx >= cfg->vocab_size))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "padding_idx must be in [-vocab_size, vocab_size) = "
                         "[%d, %d) (got %d)",
                         -cfg->vocab_size, cfg->vocab_size, cfg->padding_idx);
    return RNN_OK;
}

static rnn_status validate_config(const rnn_config *cfg)
{
    static const char *func = "rnn_create";
    rnn_status status;
    if ((status = check_positive(cfg->input_size, "input_size")) ||
        (status = check_positive(cfg->hidden_size, "hidden_size")) ||
        (status = check_positive(cfg->num_layers, "num_layers")) ||
        (status = check_flag(cfg->bidirectional, "bidirectional")) ||
        (status = check_flag(cfg->bias, "bias")) ||
        (status = check_flag(cfg->batch_first, "batch_first")))
        return status;
    if (cfg->nonlinearity != RNN_TANH && cfg->nonlinearity != RNN_RELU)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "nonlinearity must be RNN_TANH or RNN_RELU (got %d)",
                         cfg->nonlinearity);
    if (cfg->output_size < 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "output_size must be >= 0 (got %d)", cfg->output_size);
    if (cfg->head_mode != RNN_HEAD_LAST && cfg->head_mode != RNN_HEAD_ALL)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "head_mode must be RNN_HEAD_LAST or RNN_HEAD_ALL "
                         "(got %d)", cfg->head_mode);
    if (cfg->reserved != 0)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "reserved must be 0 (got %d)", cfg->reserved);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "dropout must be in [0, 1) (got %g)",
                         (double)cfg->dropout);
    /* torch warns and ignores it; a setting that silently does nothing is
     * refused instead. */
    if (cfg->dropout > 0.0f && cfg->num_layers < 2)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "dropout %g acts between layers, and num_layers is "
                         "1: set dropout to 0 or add layers",
                         (double)cfg->dropout);
    if ((status = validate_cell(cfg)) != RNN_OK ||
        (status = validate_embedding(cfg)) != RNN_OK)
        return status;
    /* Checked before any work: a layout walk over millions of layers would
     * take seconds before the allocation fails. */
    const int64_t tensors = rnn__tensor_total(cfg);
    if (tensors > RNN_MAX_TENSORS)
        return rnn__fail(RNN_E_SHAPE, func,
                         "num_layers %d gives %" PRId64 " tensors, more than "
                         "the %d a model may have",
                         cfg->num_layers, tensors, RNN_MAX_TENSORS);
    if (cfg->bidirectional && cfg->hidden_size > INT32_MAX / 2)
        return rnn__fail(RNN_E_SHAPE, func,
                         "2 * hidden_size overflows (hidden_size %d)",
                         cfg->hidden_size);
    return RNN_OK;
}

void rnn_destroy(rnn_t *model)
{
    if (model == NULL)
        return;
    rnn__free(model->params);
    rnn__free(model->grads);
    rnn__free(model->cells);
    rnn__free(model->tensors);
    rnn__free(model->cache.arena);
    rnn__free(model->work.arena);
    rnn__free(model->head_arena);
    rnn__free(model->packed);
    rnn__free(model);
}

static rnn_status allocate_model(rnn_t *model, size_t num_params)
{
    const int32_t cells = model->num_cells;
    model->params = rnn__calloc(num_params, sizeof(float));
    model->grads = rnn__calloc(num_params, sizeof(float));
    model->cells = rnn__calloc((size_t)cells, sizeof(rnn_cell_layout));
    model->tensors = rnn__calloc((size_t)model->num_tensors, sizeof(rnn_tensor));
    if (!model->params || !model->grads || !model->cells || !model->tensors)
        return rnn__fail_nomem("rnn_create");
    return RNN_OK;
}

rnn_status rnn_create(rnn_t **out, const rnn_config *cfg)
{
    static const char *func = "rnn_create";
    if (out == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "out is NULL");
    *out = NULL;
    if (cfg == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "cfg is NULL");
    rnn_config full;
    rnn__config_defaults(&full, 0, 0);
    rnn_status status =
        rnn__struct_read(&full, cfg, &rnn__config_layout, "cfg", func);
    if (status != RNN_OK)
        return status;
    cfg = &full;
    if ((status = validate_config(cfg)) != RNN_OK)
        return status;
    if (full.has_padding_idx && full.padding_idx < 0)
        full.padding_idx += full.vocab_size; /* torch keeps it this way */
    const rnn_cell_ops *cell_ops = rnn__cell_select(cfg);
    if (cell_ops == NULL)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "no cell of this library serves this configuration "
                         "(cell %d)", cfg->cell);
    if (cell_ops->gates > INT32_MAX / cfg->hidden_size)
        return rnn__fail(RNN_E_SHAPE, func,
                         "%d gates * hidden_size %d overflows", cell_ops->gates,
                         cfg->hidden_size);

    size_t bytes;
    const size_t num_params = rnn__param_count(cfg, cell_ops->gates);
    if (num_params == SIZE_MAX || !rnn__mul(num_params, sizeof(float), &bytes))
        return rnn__fail(RNN_E_SHAPE, func,
                         "the parameter count overflows (input_size %d, "
                         "hidden_size %d, num_layers %d)",
                         cfg->input_size, cfg->hidden_size, cfg->num_layers);

    rnn_t *model = rnn__calloc(1, sizeof *model);
    if (model == NULL)
        return rnn__fail_nomem(func);
    model->cfg = *cfg;
    model->cell_ops = cell_ops;
    model->dirs = cfg->bidirectional ? 2 : 1;
    model->num_cells = cfg->num_layers * model->dirs;
    model->num_params = num_params;
    model->num_tensors = (int32_t)rnn__tensor_total(cfg);
    status = allocate_model(model, num_params);
    if (status != RNN_OK) {
        rnn_destroy(model);
        return status;
    }
    rnn__plan_layout(model);
    rnn__init_uniform(model, cfg->seed);
    model->dropout_rng = cfg->seed;
    *out = model;
    return RNN_OK;
}

rnn_status rnn_get_config(const rnn_t *model, rnn_config *cfg)
{
    static const char *func = "rnn_get_config";
    if (model == NULL || cfg == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "cfg");
    rnn_status status = rnn__struct_check_size(cfg->struct_size,
                                               &rnn__config_layout, "cfg", func);
    if (status == RNN_OK)
        rnn__struct_write(cfg, cfg->struct_size, &model->cfg,
                          &rnn__config_layout);
    return status;
}

static rnn_status flat_buffer(rnn_t *model, float *buffer, float **out,
                              size_t *count, const char *func)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    if (out != NULL)
        *out = buffer;
    if (count != NULL)
        *count = model->num_params;
    return RNN_OK;
}

rnn_status rnn_params(rnn_t *model, float **params, size_t *count)
{
    return flat_buffer(model, model ? model->params : NULL, params, count,
                       "rnn_params");
}

rnn_status rnn_grads(rnn_t *model, float **grads, size_t *count)
{
    return flat_buffer(model, model ? model->grads : NULL, grads, count,
                       "rnn_grads");
}

rnn_status rnn_zero_grad(rnn_t *model)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_zero_grad", "model is NULL");
    memset(model->grads, 0, model->num_params * sizeof(float));
    model->head_grad_pending = false;
    return RNN_OK;
}

void rnn__params_changed(rnn_t *model)
{
    /* rnn_step reads the packed copy and is const (several threads may step
     * one model at once), so it cannot bring a stale copy up to date: the
     * copy is made again here, by the call that changed the parameters. */
    rnn__refresh_packed(model);
}

rnn_status rnn_init(rnn_t *model, int32_t scheme, uint64_t seed)
{
    static const char *func = "rnn_init";
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "model is NULL");
    const rnn_status status = rnn__init_params(model, scheme, seed, func);
    if (status == RNN_OK)
        rnn__params_changed(model);
    return status;
}

rnn_status rnn_init_uniform(rnn_t *model, uint64_t seed)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_init_uniform", "model is NULL");
    return rnn_init(model, RNN_INIT_UNIFORM, seed);
}

rnn_status rnn_tensor_count(const rnn_t *model, int32_t *count)
{
    if (model == NULL || count == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_tensor_count", "%s is NULL",
                         model == NULL ? "model" : "count");
    *count = model->num_tensors;
    return RNN_OK;
}

static rnn_status check_info(const rnn_t *model, const rnn_tensor_info *info,
                             const char *func)
{
    if (model == NULL || info == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "info");
    return rnn__struct_check_size(info->struct_size, &rnn__tensor_info_layout,
                                  "info", func);
}

static void describe(const rnn_tensor *tensor, rnn_tensor_info *info)
{
    rnn_tensor_info full;
    memset(&full, 0, sizeof full);
    full.name = tensor->name;
    full.offset = tensor->offset;
    full.count = (size_t)tensor->rows * (size_t)tensor->cols;
    full.ndim = tensor->ndim;
    full.shape[0] = tensor->rows;
    full.shape[1] = tensor->cols;
    rnn__struct_write(info, info->struct_size, &full, &rnn__tensor_info_layout);
}

rnn_status rnn_tensor_at(const rnn_t *model, int32_t index,
                         rnn_tensor_info *info)
{
    static const char *func = "rnn_tensor_at";
    rnn_status status = check_info(model, info, func);
    if (status != RNN_OK)
        return status;
    if (index < 0 || index >= model->num_tensors)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "index %d is outside [0, %d)", index,
                         model->num_tensors);
    describe(&model->tensors[index], info);
    return RNN_OK;
}

rnn_status rnn_tensor_find(const rnn_t *model, const char *name,
                           rnn_tensor_info *info)
{
    static const char *func = "rnn_tensor_find";
    rnn_status status = check_info(model, info, func);
    if (status != RNN_OK)
        return status;
    if (name == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "name is NULL");
    const rnn_tensor *tensor = rnn__tensor_named(model, name);
    if (tensor != NULL) {
        describe(tensor, info);
        return RNN_OK;
    }
    return rnn__fail(RNN_E_INVALID_ARG, func, "the model has no tensor \"%.64s\"",
                     name);
}
