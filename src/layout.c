/* SPDX-License-Identifier: MIT
 *
 * layout.c - the one place that knows the flat parameter layout: PyTorch's
 * state_dict order (embedding.weight first with token input; then per
 * layer, per direction: weight_ih, weight_hh, then bias_ih, bias_hh with
 * bias, then weight_hr with an LSTM's proj_size; then head.weight,
 * head.bias with a head), every weight and bias of a cell G*H rows (G: the
 * cell's gates), weight_hh and the layers' inputs S = rnn__state_size
 * columns (P with a projection, else H). From it:
 * the parameter and tensor counts of a configuration (what rnn_create
 * allocates and what a loader checks a file against), the cell views, the
 * tensor table and the lookup of a tensor by name.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

int64_t rnn__tensor_total(const rnn_config *cfg)
{
    const int64_t per_cell = (cfg->bias ? 4 : 2) + (cfg->proj_size > 0);
    return (int64_t)cfg->num_layers * (cfg->bidirectional ? 2 : 1) * per_cell +
           (cfg->output_size > 0 ? 2 : 0) + (cfg->vocab_size > 0 ? 1 : 0);
}

/* *total += a*b; false when that overflows. */
static bool add_product(size_t *total, size_t a, size_t b)
{
    size_t product;
    if (!rnn__mul(a, b, &product) || product > SIZE_MAX - *total)
        return false;
    *total += product;
    return true;
}

size_t rnn__param_count(const rnn_config *c, int32_t gates)
{
    if (c->input_size <= 0 || c->hidden_size <= 0 || c->num_layers <= 0 ||
        c->output_size < 0 || gates <= 0)
        return 0;
    if (c->proj_size < 0 || c->proj_size >= c->hidden_size)
        return 0;
    const size_t dirs = c->bidirectional ? 2 : 1, H = (size_t)c->hidden_size;
    const size_t S = (size_t)rnn__state_size(c), P = (size_t)c->proj_size;
    const size_t biases = c->bias ? 2 : 0, deeper = (size_t)c->num_layers - 1;
    size_t first = 0, other = 0, total = 0, width, rows;
    /* A cell of layer 0 reads the input, a deeper one both directions' S;
     * weight_hr is [P, H] (0 without projection). */
    if (!rnn__mul(dirs, S, &width) || !rnn__mul((size_t)gates, H, &rows) ||
        !add_product(&first, rows, (size_t)c->input_size) ||
        !add_product(&first, rows, S) || !add_product(&first, biases, rows) ||
        !add_product(&first, P, H) ||
        !add_product(&other, rows, width) || !add_product(&other, rows, S) ||
        !add_product(&other, biases, rows) || !add_product(&other, P, H) ||
        !add_product(&total, dirs, first) || !rnn__mul(dirs, other, &other) ||
        !add_product(&total, deeper, other) ||
        !add_product(&total, (size_t)c->output_size, width + 1) ||
        (c->vocab_size > 0 &&
         !add_product(&total, (size_t)c->vocab_size, (size_t)c->input_size)))
        return SIZE_MAX;
    return total;
}

/* Appends one tensor to the table and returns the next offset (the count
 * above has checked that the sum fits). cols = 0 declares a vector. */
static size_t add_tensor(rnn_t *model, int32_t *index, size_t offset,
                         int32_t rows, int32_t cols, const char *name)
{
    rnn_tensor *t = &model->tensors[(*index)++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->offset = offset;
    t->rows = rows;
    t->cols = cols == 0 ? 1 : cols;
    t->ndim = cols == 0 ? 1 : 2;
    return offset + (size_t)t->rows * (size_t)t->cols;
}

/* The four (two without bias) tensors of one cell, and weight_hr with a
 * projection; returns the offset after them. */
static size_t plan_cell(rnn_t *model, int32_t *index, size_t offset,
                        int32_t layer, int32_t dir)
{
    const rnn_config *cfg = &model->cfg;
    const int32_t hidden = cfg->hidden_size, state = rnn__state_size(cfg);
    const int32_t rows = model->cell_ops->gates * hidden;
    const char *suffix = dir ? "_reverse" : "";
    char name[RNN_MAX_NAME];
    rnn_cell_layout *cell = &model->cells[layer * model->dirs + dir];
    cell->in_size = layer == 0 ? cfg->input_size : model->dirs * state;
    cell->w_ih = offset;
    snprintf(name, sizeof name, "weight_ih_l%d%s", layer, suffix);
    offset = add_tensor(model, index, offset, rows, cell->in_size, name);
    cell->w_hh = offset;
    snprintf(name, sizeof name, "weight_hh_l%d%s", layer, suffix);
    offset = add_tensor(model, index, offset, rows, state, name);
    if (cfg->bias) {
        cell->b_ih = offset;
        snprintf(name, sizeof name, "bias_ih_l%d%s", layer, suffix);
        offset = add_tensor(model, index, offset, rows, 0, name);
        cell->b_hh = offset;
        snprintf(name, sizeof name, "bias_hh_l%d%s", layer, suffix);
        offset = add_tensor(model, index, offset, rows, 0, name);
    }
    if (cfg->proj_size == 0)
        return offset;
    cell->w_hr = offset;
    snprintf(name, sizeof name, "weight_hr_l%d%s", layer, suffix);
    return add_tensor(model, index, offset, cfg->proj_size, hidden, name);
}

void rnn__plan_layout(rnn_t *model)
{
    const rnn_config *cfg = &model->cfg;
    size_t offset = 0;
    int32_t index = 0;
    /* First, as in a module holding an nn.Embedding before its RNN. */
    if (cfg->vocab_size > 0) {
        model->embed_w = offset;
        offset = add_tensor(model, &index, offset, cfg->vocab_size,
                            cfg->input_size, "embedding.weight");
    }
    for (int32_t layer = 0; layer < cfg->num_layers; ++layer)
        for (int32_t dir = 0; dir < model->dirs; ++dir)
            offset = plan_cell(model, &index, offset, layer, dir);
    if (cfg->output_size > 0) {
        const int32_t width = model->dirs * rnn__state_size(cfg);
        model->head_w = offset;
        offset = add_tensor(model, &index, offset, cfg->output_size, width,
                            "head.weight");
        model->head_b = offset;
        add_tensor(model, &index, offset, cfg->output_size, 0, "head.bias");
    }
}

rnn_cell_view rnn__cell(const rnn_t *model, float *base, int32_t cell)
{
    const rnn_cell_layout *at = &model->cells[cell];
    rnn_cell_view view;
    view.w_ih = base + at->w_ih;
    view.w_hh = base + at->w_hh;
    view.b_ih = model->cfg.bias ? base + at->b_ih : NULL;
    view.b_hh = model->cfg.bias ? base + at->b_hh : NULL;
    view.w_hr = model->cfg.proj_size > 0 ? base + at->w_hr : NULL;
    return view;
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

/* Index in model->tensors of the tensor called `name`, or -1. */
static int32_t tensor_index(const rnn_t *model, const char *name)
{
    /* Parsed rather than searched, so that matching a file's tensors is
     * linear in their number (a hostile file may hold millions). */
    static const char *const all_kinds[] = {"weight_ih_l", "weight_hh_l",
                                            "bias_ih_l", "bias_hh_l",
                                            "weight_hr_l"};
    /* The cell's kinds in table order: without bias, weight_hr follows
     * weight_hh. */
    const char *kinds[5] = {all_kinds[0], all_kinds[1]};
    int32_t per_cell = 2;
    if (model->cfg.bias) {
        kinds[per_cell++] = all_kinds[2];
        kinds[per_cell++] = all_kinds[3];
    }
    if (model->cfg.proj_size > 0)
        kinds[per_cell++] = all_kinds[4];
    const int32_t first = model->cfg.vocab_size > 0 ? 1 : 0; /* embedding */
    int32_t index = -1;
    if (first && strcmp(name, "embedding.weight") == 0)
        index = 0;
    else if (model->cfg.output_size > 0 && strcmp(name, "head.weight") == 0)
        index = first + model->num_cells * per_cell;
    else if (model->cfg.output_size > 0 && strcmp(name, "head.bias") == 0)
        index = first + model->num_cells * per_cell + 1;
    for (int32_t kind = 0; kind < per_cell && index < 0; ++kind) {
        const size_t len = strlen(kinds[kind]);
        if (strncmp(name, kinds[kind], len) != 0)
            continue;
        const int32_t cell = parse_cell(model, name + len);
        if (cell >= 0)
            index = first + cell * per_cell + kind;
        break;
    }
    return index >= 0 && strcmp(model->tensors[index].name, name) == 0 ? index
                                                                       : -1;
}

const rnn_tensor *rnn__tensor_named(const rnn_t *model, const char *name)
{
    const int32_t index = tensor_index(model, name);
    return index < 0 ? NULL : &model->tensors[index];
}
