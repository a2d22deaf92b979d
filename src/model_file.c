/* SPDX-License-Identifier: MIT
 *
 * model_file.c - a model as a safetensors file (docs/format.md): its
 * configuration as __metadata__ strings, its tensors named and shaped as in
 * layout.c's table, their data the flat parameter buffer. Saving and
 * loading take the same steps in mirror order:
 *   save: configuration -> metadata, tensor table -> header, parameters ->
 *         data, handed to file.c (counted, into a buffer or to a file);
 *   load: file.c -> bytes (meta.c opens them), metadata -> configuration
 *         (or inferred from the shapes of a file of another writer), header
 *         -> the tensor table, data -> parameters.
 */

#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const nonlinearity_names[] = {"tanh", "relu"};
static const char *const head_mode_names[] = {"last", "all"};
/* torch's module names, indexed by rnn_cell_kind. */
static const char *const cell_names[] = {"RNN", "LSTM", "GRU"};

/* ---- configuration <-> metadata ----------------------------------------- */

/* The header of a model's file: its whole configuration as metadata
 * strings, then its tensors in state_dict order. Measures when out is
 * NULL. */
static size_t model_header(const rnn_t *model, unsigned char *out, size_t cap)
{
    const rnn_config *c = &model->cfg;
    char num[8][24];
    snprintf(num[0], sizeof num[0], "%" PRId32, c->input_size);
    snprintf(num[1], sizeof num[1], "%" PRId32, c->hidden_size);
    snprintf(num[2], sizeof num[2], "%" PRId32, c->num_layers);
    snprintf(num[3], sizeof num[3], "%" PRId32, c->bidirectional);
    snprintf(num[4], sizeof num[4], "%" PRId32, c->bias);
    snprintf(num[5], sizeof num[5], "%" PRId32, c->batch_first);
    snprintf(num[6], sizeof num[6], "%" PRId32, c->output_size);
    snprintf(num[7], sizeof num[7], "%" PRIu64, c->seed);
    char dropout[24], later[3][24];
    rnn__meta_format_float(dropout, sizeof dropout, c->dropout);
    snprintf(later[0], sizeof later[0], "%" PRId32, c->proj_size);
    snprintf(later[1], sizeof later[1], "%" PRId32, c->vocab_size);
    snprintf(later[2], sizeof later[2], "%" PRId32, c->padding_idx);
    /* Keys since 0.2.0 are written only when they differ from the default,
     * so a file that 0.1.0 can load is still written for it. */
    const rnn_st_pair optional[] = {
        {"dropout", dropout},
        {"cell", cell_names[c->cell]},
        {"proj_size", later[0]},
        {"vocab_size", later[1]},
        {"padding_idx", later[2]},
    };
    const bool differs[] = {c->dropout != 0.0f, c->cell != RNN_CELL_RNN,
                            c->proj_size != 0, c->vocab_size != 0,
                            c->has_padding_idx != 0};
    rnn_st_pair meta[12 + sizeof optional / sizeof optional[0]] = {
        {"format", "librnn"},
        {"format_version", RNN_FORMAT_VERSION},
        {"input_size", num[0]},
        {"hidden_size", num[1]},
        {"num_layers", num[2]},
        {"bidirectional", num[3]},
        {"nonlinearity", nonlinearity_names[c->nonlinearity]},
        {"bias", num[4]},
        {"batch_first", num[5]},
        {"output_size", num[6]},
        {"head_mode", head_mode_names[c->head_mode]},
        {"seed", num[7]},
    };
    size_t count = 12;
    for (size_t i = 0; i < sizeof optional / sizeof optional[0]; ++i)
        if (differs[i])
            meta[count++] = optional[i];
    rnn_st_writer w;
    rnn__st_begin(&w, out, cap, meta, count);
    for (int32_t i = 0; i < model->num_tensors; ++i) {
        const rnn_tensor *t = &model->tensors[i];
        const size_t shape[2] = {(size_t)t->rows, (size_t)t->cols};
        rnn__st_add(&w, t->name, t->ndim, shape);
    }
    return rnn__st_finish(&w);
}

/* The keys since 0.2.0, absent from a file when they hold the default. */
static rnn_status optional_metadata(const rnn_st_file *file, rnn_config *cfg,
                                   const char *func)
{
    rnn_status status = RNN_OK;
    if (rnn__st_meta(file, "dropout") != NULL)
        status = rnn__meta_float(file, "dropout", &cfg->dropout, func);
    if (status == RNN_OK && rnn__st_meta(file, "cell") != NULL)
        status = rnn__meta_name(file, "cell", cell_names, 3, &cfg->cell, func);
    if (status == RNN_OK && rnn__st_meta(file, "proj_size") != NULL)
        status = rnn__meta_i32(file, "proj_size", &cfg->proj_size, func);
    if (status == RNN_OK && rnn__st_meta(file, "vocab_size") != NULL)
        status = rnn__meta_i32(file, "vocab_size", &cfg->vocab_size, func);
    if (status == RNN_OK && rnn__st_meta(file, "padding_idx") != NULL) {
        cfg->has_padding_idx = 1;
        status = rnn__meta_i32(file, "padding_idx", &cfg->padding_idx, func);
    }
    return status;
}

/* The configuration in librnn metadata; *found is false for a file without
 * it. Values are checked for syntax here, for range by rnn_create. */
static rnn_status metadata_config(const rnn_st_file *file, rnn_config *cfg,
                                  bool *found, const char *func)
{
    const char *format;
    *found = false;
    rnn_status status = rnn__meta_format(file, &format, func);
    if (status != RNN_OK || format == NULL)
        return status;
    if (strcmp(format, "librnn") != 0)
        return rnn__fail(RNN_E_FORMAT, func,
                         "the file holds an optimizer state (format \"%s\"), "
                         "not a model: load it with rnn_optim_load", format);
    rnn__config_defaults(cfg, 0, 0);
    const struct {
        const char *key;
        int32_t *field;
    } fields[] = {
        {"input_size", &cfg->input_size},
        {"hidden_size", &cfg->hidden_size},
        {"num_layers", &cfg->num_layers},
        {"bidirectional", &cfg->bidirectional},
        {"bias", &cfg->bias},
        {"batch_first", &cfg->batch_first},
        {"output_size", &cfg->output_size},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i)
        if ((status = rnn__meta_i32(file, fields[i].key, fields[i].field,
                                    func)))
            return status;
    if ((status = rnn__meta_name(file, "nonlinearity", nonlinearity_names, 2,
                                 &cfg->nonlinearity, func)) ||
        (status = rnn__meta_name(file, "head_mode", head_mode_names, 2,
                                 &cfg->head_mode, func)) ||
        (status = rnn__meta_u64(file, "seed", &cfg->seed, func)))
        return status;
    if ((status = optional_metadata(file, cfg, func)) != RNN_OK)
        return status;
    *found = true;
    return RNN_OK;
}

/* A dimension of an inferring tensor, which must exist with `ndim` dims. */
static rnn_status infer_dim(const rnn_st_file *file, const char *name,
                            int32_t ndim, int32_t dim, int32_t *out,
                            const char *func)
{
    const rnn_st_entry *e = rnn__st_find(file, name);
    if (e == NULL)
        return rnn__fail(RNN_E_FORMAT, func,
                         "no librnn metadata and no tensor \"%s\" to infer the "
                         "configuration from", name);
    if (e->ndim != ndim)
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%s\" has %d dimensions, expected %d", name,
                         (int)e->ndim, (int)ndim);
    if (e->shape[dim] > INT32_MAX)
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%s\": size %" PRIu64 " exceeds INT32_MAX",
                         name, e->shape[dim]);
    *out = (int32_t)e->shape[dim];
    return RNN_OK;
}

/* torch's nn.RNN, nn.LSTM and nn.GRU differ in their number of gate blocks:
 * weight_hh_l0 is [G*H, H], or [4H, P] with an LSTM's weight_hr_l0 [P, H]. */
static rnn_status infer_cell(const rnn_st_file *file, rnn_config *cfg,
                             const char *func)
{
    int32_t rows = 0, cols = 0; /* set whenever infer_dim returns RNN_OK */
    rnn_status status;
    if ((status = infer_dim(file, "weight_hh_l0", 2, 0, &rows, func)) ||
        (status = infer_dim(file, "weight_hh_l0", 2, 1, &cols, func)))
        return status;
    cfg->hidden_size = cols;
    if (rnn__st_find(file, "weight_hr_l0") != NULL) {
        if ((status = infer_dim(file, "weight_hr_l0", 2, 0, &cfg->proj_size,
                                func)) ||
            (status = infer_dim(file, "weight_hr_l0", 2, 1, &cfg->hidden_size,
                                func)))
            return status;
    }
    const int32_t hidden = cfg->hidden_size;
    const int32_t gates = hidden > 0 && rows % hidden == 0 ? rows / hidden : 0;
    static const int32_t kinds[] = {-1, RNN_CELL_RNN, -1, RNN_CELL_GRU,
                                    RNN_CELL_LSTM};
    if (gates < 1 || gates > 4 || kinds[gates] < 0 ||
        (cfg->proj_size != 0 && gates != 4))
        return rnn__fail(RNN_E_FORMAT, func,
                         "weight_hh_l0 is [%d, %d]: not the [H, H] of an RNN, "
                         "[3H, H] of a GRU or [4H, H or proj_size] of an LSTM "
                         "(hidden_size %d)", rows, cols, hidden);
    cfg->cell = kinds[gates];
    return RNN_OK;
}

/* The configuration of a file written by another program (a torch.nn.RNN
 * state_dict): sizes from the shapes, the rest PyTorch's defaults. */
static rnn_status infer_config(const rnn_st_file *file, rnn_config *cfg,
                               const char *func)
{
    rnn__config_defaults(cfg, 0, 0);
    rnn_status status;
    if ((status = infer_dim(file, "weight_ih_l0", 2, 1, &cfg->input_size,
                            func)) ||
        (status = infer_cell(file, cfg, func)))
        return status;
    if (rnn__st_find(file, "embedding.weight") != NULL &&
        (status = infer_dim(file, "embedding.weight", 2, 0, &cfg->vocab_size,
                            func)))
        return status;
    char name[RNN_MAX_NAME];
    int32_t layers = 0;
    do {
        snprintf(name, sizeof name, "weight_ih_l%" PRId32, ++layers);
    } while (layers < INT32_MAX && rnn__st_find(file, name) != NULL);
    cfg->num_layers = layers;
    cfg->bidirectional = rnn__st_find(file, "weight_ih_l0_reverse") != NULL;
    cfg->bias = rnn__st_find(file, "bias_ih_l0") != NULL;
    if (rnn__st_find(file, "head.weight") != NULL)
        status = infer_dim(file, "head.weight", 2, 0, &cfg->output_size, func);
    return status;
}

/* librnn metadata in a file loaded into an existing model must describe
 * that model (the seed, which only chose the initial weights, aside). */
static rnn_status check_agrees(const rnn_t *model, const rnn_config *file_cfg,
                               const char *func)
{
    const rnn_config *f = file_cfg, *m = &model->cfg;
    const struct {
        const char *key;
        int32_t have, want;
        const char *const *names; /* value names, or NULL for a number */
    } fields[] = {
        {"input_size", f->input_size, m->input_size, NULL},
        {"hidden_size", f->hidden_size, m->hidden_size, NULL},
        {"num_layers", f->num_layers, m->num_layers, NULL},
        {"bidirectional", f->bidirectional, m->bidirectional, NULL},
        {"nonlinearity", f->nonlinearity, m->nonlinearity, nonlinearity_names},
        {"bias", f->bias, m->bias, NULL},
        {"batch_first", f->batch_first, m->batch_first, NULL},
        {"output_size", f->output_size, m->output_size, NULL},
        {"head_mode", f->head_mode, m->head_mode, head_mode_names},
        {"cell", f->cell, m->cell, cell_names},
        {"proj_size", f->proj_size, m->proj_size, NULL},
        {"vocab_size", f->vocab_size, m->vocab_size, NULL},
        {"has_padding_idx", f->has_padding_idx, m->has_padding_idx, NULL},
        {"padding_idx", f->padding_idx, m->padding_idx, NULL},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i) {
        const int32_t have = fields[i].have, want = fields[i].want;
        if (have == want)
            continue;
        if (fields[i].names != NULL) /* both are valid enum values */
            return rnn__fail(RNN_E_FORMAT, func,
                             "__metadata__ has %s \"%s\", the model \"%s\"",
                             fields[i].key, fields[i].names[have],
                             fields[i].names[want]);
        return rnn__fail(RNN_E_FORMAT, func,
                         "__metadata__ has %s %" PRId32 ", the model %" PRId32,
                         fields[i].key, have, want);
    }
    return RNN_OK;
}

/* ---- tensors <-> the flat parameter buffer ------------------------------ */

/* Refuses a configuration whose model would be much larger than the file
 * before rnn_create allocates it: a few bytes of metadata (or a header of
 * a million empty "weight_ih_l<k>") must not cost gigabytes. Within a small
 * factor creating the model is harmless, and matching its tensors then
 * names the exact mismatch. */
static rnn_status check_fits(const rnn_st_file *file, const rnn_config *cfg,
                             const char *func)
{
    const rnn_cell_ops *cell = rnn__cell_select(cfg);
    const size_t floats = rnn__param_count(cfg, cell != NULL ? cell->gates : 1);
    const size_t slack = 4096;
    const size_t held = file->data_size / sizeof(float);
    if (floats <= slack || (floats - slack) / 2 <= held)
        return RNN_OK;
    return rnn__fail(RNN_E_FORMAT, func,
                     "the configuration (input_size %d, hidden_size %d, "
                     "num_layers %d, output_size %d) needs %zu parameters, "
                     "far more than the %zu the file holds", cfg->input_size,
                     cfg->hidden_size, cfg->num_layers, cfg->output_size,
                     floats, held);
}

static bool same_shape(const rnn_st_entry *e, const rnn_tensor *t)
{
    if (e->ndim != t->ndim || e->shape[0] != (uint64_t)t->rows)
        return false;
    return t->ndim == 1 || e->shape[1] == (uint64_t)t->cols;
}

/* The file holds exactly the model's tensors, with its shapes. */
static rnn_status match_tensors(const rnn_t *model, const rnn_st_file *file,
                                const char *func)
{
    for (size_t i = 0; i < file->count; ++i) {
        const rnn_st_entry *e = &file->entries[i];
        const rnn_tensor *t = rnn__tensor_named(model, e->name);
        if (t == NULL)
            return rnn__fail(RNN_E_FORMAT, func,
                             "unexpected tensor \"%.64s\" (the model has no "
                             "tensor of that name)", e->name);
        if (!same_shape(e, t)) {
            rnn_st_entry want = {0};
            want.ndim = t->ndim;
            want.shape[0] = (uint64_t)t->rows;
            want.shape[1] = (uint64_t)t->cols;
            char got_text[128], want_text[64];
            rnn__st_shape_text(got_text, sizeof got_text, e);
            rnn__st_shape_text(want_text, sizeof want_text, &want);
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%s\": shape %s, the model's is %s",
                             e->name, got_text, want_text);
        }
    }
    for (int32_t i = 0; i < model->num_tensors; ++i)
        if (rnn__st_find(file, model->tensors[i].name) == NULL)
            return rnn__fail(RNN_E_FORMAT, func, "missing tensor \"%s\"",
                             model->tensors[i].name);
    return RNN_OK;
}

/* Every check that can fail runs before the first parameter is written,
 * so a failed load leaves the model as it was (and the gradients are never
 * touched). */
static rnn_status load_into(rnn_t *model, const rnn_st_file *file,
                            const char *func)
{
    rnn_status status = match_tensors(model, file, func);
    if (status != RNN_OK)
        return status;
    for (size_t i = 0; i < file->count; ++i) {
        const rnn_st_entry *e = &file->entries[i];
        const rnn_tensor *t = rnn__tensor_named(model, e->name);
        rnn__st_decode(model->params + t->offset, file->data + e->begin,
                       (e->end - e->begin) / sizeof(float));
    }
    rnn__params_changed(model);
    return RNN_OK;
}

/* ---- saving ------------------------------------------------------------- */

static rnn_status save_model(const rnn_t *model, rnn_save_to target,
                             const char *func)
{
    rnn_status status = rnn__save_check(&target, model, "model", func);
    if (status != RNN_OK)
        return status;
    const size_t header_size = model_header(model, NULL, 0);
    unsigned char *header;
    status = rnn__save_begin(&target, header_size, model->num_params, &header,
                             func);
    if (status != RNN_OK)
        return status;
    model_header(model, header, header_size); /* NULL when only counting */
    return rnn__save_end(&target, header, header_size, model->params,
                         model->num_params, func);
}

rnn_status rnn_save_size(const rnn_t *model, size_t *size)
{
    return save_model(model, rnn__save_to_size(size), "rnn_save_size");
}

rnn_status rnn_save_buffer(const rnn_t *model, void *buffer, size_t capacity,
                           size_t *written)
{
    const rnn_save_to target =
        rnn__save_to_buffer(buffer, capacity, written, "rnn_save_size");
    return save_model(model, target, "rnn_save_buffer");
}

rnn_status rnn_save(const rnn_t *model, const char *path)
{
    return save_model(model, rnn__save_to_file(path), "rnn_save");
}

/* ---- loading ------------------------------------------------------------ */

static rnn_status create_model(rnn_t **model, const rnn_config *cfg,
                               const char *func)
{
    rnn_status status = rnn_create(model, cfg);
    if (status == RNN_E_INVALID_ARG || status == RNN_E_SHAPE)
        return rnn__fail_context(RNN_E_FORMAT, func,
                                 "invalid configuration in the file");
    if (status == RNN_E_NOMEM)
        return rnn__fail_nomem(func);
    return status;
}

/* A new model (*out) from a librnn file or a torch.nn.RNN state_dict. */
static rnn_status load_model(rnn_t **out, rnn_load_from from, const char *func)
{
    if (out != NULL)
        *out = NULL;
    rnn_st_file file;
    rnn_status status = rnn__librnn_open(&file, &from, out != NULL, func);
    if (status != RNN_OK)
        return status;
    rnn_config cfg;
    bool found = false;
    rnn_t *model = NULL;
    status = metadata_config(&file, &cfg, &found, func);
    if (status == RNN_OK && !found)
        status = infer_config(&file, &cfg, func);
    if (status == RNN_OK)
        status = check_fits(&file, &cfg, func);
    if (status == RNN_OK)
        status = create_model(&model, &cfg, func);
    if (status == RNN_OK)
        status = load_into(model, &file, func);
    rnn__librnn_close(&file, &from);
    if (status != RNN_OK) {
        rnn_destroy(model);
        return status;
    }
    *out = model;
    return RNN_OK;
}

rnn_status rnn_load_buffer(rnn_t **out, const void *data, size_t size)
{
    const rnn_load_from from = {.bytes = data, .size = size};
    return load_model(out, from, "rnn_load_buffer");
}

rnn_status rnn_load(rnn_t **out, const char *path)
{
    const rnn_load_from from = {.path = path, .is_file = true};
    return load_model(out, from, "rnn_load");
}

/* The parameters of an existing model from a file of its configuration. */
static rnn_status load_params(rnn_t *model, rnn_load_from from,
                              const char *func)
{
    const void *source = from.is_file ? (const void *)from.path : from.bytes;
    if (model == NULL || source == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model"
                         : from.is_file ? "path"
                                        : "data");
    rnn_st_file file;
    rnn_status status = rnn__librnn_open(&file, &from, true, func);
    if (status != RNN_OK)
        return status;
    rnn_config cfg;
    bool found = false;
    status = metadata_config(&file, &cfg, &found, func);
    if (status == RNN_OK && found)
        status = check_agrees(model, &cfg, func);
    if (status == RNN_OK)
        status = load_into(model, &file, func);
    rnn__librnn_close(&file, &from);
    return status;
}

rnn_status rnn_load_params_buffer(rnn_t *model, const void *data, size_t size)
{
    const rnn_load_from from = {.bytes = data, .size = size};
    return load_params(model, from, "rnn_load_params_buffer");
}

rnn_status rnn_load_params(rnn_t *model, const char *path)
{
    const rnn_load_from from = {.path = path, .is_file = true};
    return load_params(model, from, "rnn_load_params");
}
