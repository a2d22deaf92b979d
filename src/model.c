/* SPDX-License-Identifier: MIT
 *
 * model.c - configuration, create/destroy, and the flat parameter layout
 * (PyTorch state_dict order) with its named-tensor table.
 */
#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
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
    /* Checked before any work: a layout walk over millions of layers would
     * take seconds before the allocation fails. */
    const int64_t tensors = (int64_t)cfg->num_layers *
                                (cfg->bidirectional ? 2 : 1) *
                                (cfg->bias ? 4 : 2) +
                            (cfg->output_size > 0 ? 2 : 0);
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

/* Appends one tensor to the table (when given) and returns the next offset,
 * or SIZE_MAX when the layout overflows. cols = 0 declares a vector. */
static size_t add_tensor(rnn_tensor *table, int32_t *index, size_t offset,
                         int32_t rows, int32_t cols, const char *name)
{
    const int32_t ndim = cols == 0 ? 1 : 2;
    size_t count;
    if (cols == 0)
        cols = 1;
    if (offset == SIZE_MAX || !rnn__mul((size_t)rows, (size_t)cols, &count) ||
        count > SIZE_MAX - offset)
        return SIZE_MAX;
    if (table != NULL) {
        rnn_tensor *t = &table[*index];
        snprintf(t->name, sizeof t->name, "%s", name);
        t->offset = offset;
        t->rows = rows;
        t->cols = cols;
        t->ndim = ndim;
    }
    ++*index;
    return offset + count;
}

/* Walks the layout once: counts tensors and floats, and fills the cell and
 * tensor tables when they are given. Returns SIZE_MAX on overflow. The
 * cell's weights and biases have G*H rows (G = gates). */
static size_t plan_layout(const rnn_config *cfg, int32_t gates,
                          rnn_cell_layout *cells, rnn_tensor *tensors,
                          int32_t *num_tensors, size_t *head_w, size_t *head_b)
{
    const int32_t dirs = cfg->bidirectional ? 2 : 1, hidden = cfg->hidden_size;
    const int32_t rows = gates * hidden;
    size_t offset = 0;
    int32_t index = 0;
    char name[RNN_MAX_NAME];
    for (int32_t layer = 0; layer < cfg->num_layers && offset != SIZE_MAX;
         ++layer) {
        for (int32_t dir = 0; dir < dirs; ++dir) {
            const char *suffix = dir ? "_reverse" : "";
            int32_t in_size = layer == 0 ? cfg->input_size : dirs * hidden;
            rnn_cell_layout cell = {0};
            cell.in_size = in_size;
            cell.w_ih = offset;
            snprintf(name, sizeof name, "weight_ih_l%d%s", layer, suffix);
            offset = add_tensor(tensors, &index, offset, rows, in_size, name);
            cell.w_hh = offset;
            snprintf(name, sizeof name, "weight_hh_l%d%s", layer, suffix);
            offset = add_tensor(tensors, &index, offset, rows, hidden, name);
            if (cfg->bias) {
                cell.b_ih = offset;
                snprintf(name, sizeof name, "bias_ih_l%d%s", layer, suffix);
                offset = add_tensor(tensors, &index, offset, rows, 0, name);
                cell.b_hh = offset;
                snprintf(name, sizeof name, "bias_hh_l%d%s", layer, suffix);
                offset = add_tensor(tensors, &index, offset, rows, 0, name);
            }
            if (cells != NULL)
                cells[layer * dirs + dir] = cell;
        }
    }
    if (cfg->output_size > 0) {
        *head_w = offset;
        offset = add_tensor(tensors, &index, offset, cfg->output_size,
                            dirs * hidden, "head.weight");
        *head_b = offset;
        offset = add_tensor(tensors, &index, offset, cfg->output_size, 0,
                            "head.bias");
    }
    *num_tensors = index;
    return offset;
}

rnn_cell_view rnn__cell(const rnn_t *model, float *base, int32_t cell)
{
    const rnn_cell_layout *at = &model->cells[cell];
    rnn_cell_view view;
    view.w_ih = base + at->w_ih;
    view.w_hh = base + at->w_hh;
    view.b_ih = model->cfg.bias ? base + at->b_ih : NULL;
    view.b_hh = model->cfg.bias ? base + at->b_hh : NULL;
    return view;
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
    const rnn_cell_ops *cell_ops = rnn__cell_select(cfg);
    if (cell_ops == NULL)
        return rnn__fail(RNN_E_UNSUPPORTED, func,
                         "no cell serves this configuration");
    if (cell_ops->gates > INT32_MAX / cfg->hidden_size)
        return rnn__fail(RNN_E_SHAPE, func,
                         "%d gates * hidden_size %d overflows", cell_ops->gates,
                         cfg->hidden_size);

    int32_t num_tensors;
    size_t head_w = 0, head_b = 0, bytes;
    size_t num_params = plan_layout(cfg, cell_ops->gates, NULL, NULL,
                                    &num_tensors, &head_w, &head_b);
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
    model->num_tensors = num_tensors;
    status = allocate_model(model, num_params);
    if (status != RNN_OK) {
        rnn_destroy(model);
        return status;
    }
    plan_layout(cfg, cell_ops->gates, model->cells, model->tensors, &num_tensors,
                &model->head_w, &model->head_b);
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

/* Decimal layer number without sign or leading zeros, then an optional
 * "_reverse" and the end of the name; -1 when it is not that. */
static int32_t parse_cell(const rnn_t *model, const char *text)
{
    if (text[0] < '0' || text[0] > '9' || (text[0] == '0' && text[1] >= '0' &&
                                            text[1] <= '9'))
        return -1;
    int64_t layer = 0;
    for (; *text >= '0' && *text <= '9'; ++text) {
        layer = layer * 10 + (*text - '0');
        if (layer >= model->cfg.num_layers)
            return -1;
    }
    int32_t dir = 0;
    if (strcmp(text, "_reverse") == 0 && model->dirs == 2)
        dir = 1;
    else if (*text != '\0')
        return -1;
    return (int32_t)layer * model->dirs + dir;
}

int32_t rnn__tensor_index(const rnn_t *model, const char *name)
{
    /* Parsed rather than searched, so that matching a file's tensors is
     * linear in their number (a hostile file may hold millions). */
    static const char *const kinds[] = {"weight_ih_l", "weight_hh_l",
                                        "bias_ih_l", "bias_hh_l"};
    const int32_t per_cell = model->cfg.bias ? 4 : 2;
    int32_t index = -1;
    if (model->cfg.output_size > 0 && strcmp(name, "head.weight") == 0)
        index = model->num_cells * per_cell;
    else if (model->cfg.output_size > 0 && strcmp(name, "head.bias") == 0)
        index = model->num_cells * per_cell + 1;
    for (int32_t kind = 0; kind < per_cell && index < 0; ++kind) {
        const size_t len = strlen(kinds[kind]);
        if (strncmp(name, kinds[kind], len) != 0)
            continue;
        const int32_t cell = parse_cell(model, name + len);
        if (cell >= 0)
            index = cell * per_cell + kind;
        break;
    }
    return index >= 0 && strcmp(model->tensors[index].name, name) == 0 ? index
                                                                       : -1;
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
    const int32_t index = rnn__tensor_index(model, name);
    if (index >= 0) {
        describe(&model->tensors[index], info);
        return RNN_OK;
    }
    return rnn__fail(RNN_E_INVALID_ARG, func, "the model has no tensor \"%.64s\"",
                     name);
}
