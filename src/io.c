/* SPDX-License-Identifier: MIT
 *
 * io.c - models and optimizer states as safetensors files (the container
 * itself is safetensors.c, the files themselves file.c): the names and
 * metadata librnn writes, and what a loaded file must agree with. See
 * docs/format.md.
 */

#include "internal.h"

#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_VERSION "1"

/* ======================================================================== *
 * Metadata values: strings, parsed strictly
 * ======================================================================== */

/* Decimal digits without sign, spaces or leading zeros. */
static bool parse_u64(const char *s, uint64_t *out)
{
    uint64_t value = 0;
    if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
        return false;
    for (; *s != '\0'; ++s) {
        if (*s < '0' || *s > '9')
            return false;
        const unsigned digit = (unsigned)(*s - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}

/* An optional '-' then parse_u64's digits, within [lo, hi]. */
static bool parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    const bool negative = *s == '-';
    uint64_t magnitude;
    if (!parse_u64(s + negative, &magnitude))
        return false;
    if (negative ? magnitude > (uint64_t)INT64_MAX + 1 : magnitude > INT64_MAX)
        return false;
    if (negative && magnitude == 0) /* "-0" */
        return false;
    const int64_t value = negative ? -(int64_t)(magnitude - 1) - 1
                                   : (int64_t)magnitude;
    if (value < lo || value > hi)
        return false;
    *out = value;
    return true;
}

/* The decimal point of the C library's current locale ("," in many):
 * printf and strtof use it, the file always has ".". */
static const char *decimal_point(void)
{
    const char *point = localeconv()->decimal_point;
    return point != NULL && point[0] != '\0' ? point : ".";
}

/* "%.9g": nine significant digits give back every float exactly. */
static void format_float(char *buf, size_t size, float value)
{
    snprintf(buf, size, "%.9g", (double)value);
    const char *point = decimal_point();
    char *at = strcmp(point, ".") != 0 ? strstr(buf, point) : NULL;
    if (at != NULL) {
        const size_t len = strlen(point);
        *at = '.';
        memmove(at + 1, at + len, strlen(at + len) + 1);
    }
}

/* A finite float written as [-]digits[.digits][e[+|-]digits]. */
static bool parse_float(const char *s, float *out)
{
    const char *p = s;
    if (*p == '-')
        ++p;
    if (*p < '0' || *p > '9')
        return false;
    while (*p >= '0' && *p <= '9')
        ++p;
    const char *dot = NULL;
    if (*p == '.') {
        dot = p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            ++p;
    }
    if (*p == 'e' || *p == 'E') {
        ++p;
        if (*p == '+' || *p == '-')
            ++p;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            ++p;
    }
    if (*p != '\0' || p - s > 40)
        return false;
    /* strtof is correctly rounded but reads the locale's decimal point. */
    char local[64];
    const char *point = decimal_point();
    if (dot == NULL || strlen(point) > 8) {
        snprintf(local, sizeof local, "%s", s);
    } else {
        snprintf(local, sizeof local, "%.*s%s%s", (int)(dot - s), s, point,
                 dot + 1);
    }
    char *end;
    const float value = strtof(local, &end);
    if (*end != '\0' || !isfinite(value))
        return false;
    *out = value;
    return true;
}

/* ======================================================================== *
 * Reading metadata
 * ======================================================================== */

static const char *const nonlinearity_names[] = {"tanh", "relu"};
static const char *const head_mode_names[] = {"last", "all"};
static const char *const optim_kind_names[] = {"sgd", "adam", "adamw"};

static int32_t name_index(const char *value, const char *const *names,
                          int32_t n)
{
    for (int32_t i = 0; i < n; ++i)
        if (strcmp(value, names[i]) == 0)
            return i;
    return -1;
}

static rnn_status bad_value(const char *key, const char *value,
                            const char *expected, const char *func)
{
    return rnn__fail(RNN_E_FORMAT, func,
                     "__metadata__ \"%s\" is \"%.40s\", not %s", key, value,
                     expected);
}

/* The value of a required key. */
static rnn_status meta_value(const rnn_st_file *file, const char *key,
                             const char **value, const char *func)
{
    *value = rnn__st_meta(file, key);
    if (*value == NULL)
        return rnn__fail(RNN_E_FORMAT, func, "__metadata__ has no \"%s\"",
                         key);
    return RNN_OK;
}

static rnn_status meta_i64(const rnn_st_file *file, const char *key,
                           int64_t lo, int64_t hi, int64_t *out,
                           const char *func)
{
    const char *value;
    rnn_status status = meta_value(file, key, &value, func);
    if (status == RNN_OK && !parse_i64(value, lo, hi, out))
        status = bad_value(key, value, "an integer in range", func);
    return status;
}

static rnn_status meta_i32(const rnn_st_file *file, const char *key,
                           int32_t *out, const char *func)
{
    int64_t value = 0;
    rnn_status status = meta_i64(file, key, INT32_MIN, INT32_MAX, &value, func);
    *out = (int32_t)value;
    return status;
}

static rnn_status meta_name(const rnn_st_file *file, const char *key,
                            const char *const *names, int32_t n, int32_t *out,
                            const char *func)
{
    const char *value;
    rnn_status status = meta_value(file, key, &value, func);
    if (status != RNN_OK)
        return status;
    *out = name_index(value, names, n);
    if (*out < 0)
        return bad_value(key, value, "a known name", func);
    return RNN_OK;
}

static rnn_status meta_float(const rnn_st_file *file, const char *key,
                             float *out, const char *func)
{
    const char *value;
    rnn_status status = meta_value(file, key, &value, func);
    if (status == RNN_OK && !parse_float(value, out))
        status = bad_value(key, value, "a finite float", func);
    return status;
}

/* Which librnn format the metadata declares: RNN_OK with *format NULL when
 * it declares none (a file of another writer), else "librnn" or
 * "librnn-optim" with a supported format_version. */
static rnn_status librnn_format(const rnn_st_file *file, const char **format,
                                const char *func)
{
    *format = rnn__st_meta(file, "format");
    if (*format == NULL || (strcmp(*format, "librnn") != 0 &&
                            strcmp(*format, "librnn-optim") != 0)) {
        *format = NULL;
        return RNN_OK;
    }
    const char *version;
    rnn_status status = meta_value(file, "format_version", &version, func);
    if (status == RNN_OK && strcmp(version, FORMAT_VERSION) != 0)
        status = rnn__fail(RNN_E_FORMAT, func,
                           "unsupported format_version \"%.16s\" (this library "
                           "reads " FORMAT_VERSION ")", version);
    return status;
}

/* Re-reports the last failure as `status` with some context: "func:
 * context: message" (a "func: " the message starts with is not repeated).
 * The message is copied first since rnn__fail writes the same buffer. */
static rnn_status reword(rnn_status status, const char *func,
                         const char *context)
{
    char message[400];
    const char *last = rnn_last_error();
    const size_t len = strlen(func);
    if (strncmp(last, func, len) == 0 && strncmp(last + len, ": ", 2) == 0)
        last += len + 2;
    snprintf(message, sizeof message, "%s", last);
    return rnn__fail(status, func, "%s: %s", context, message);
}

/* ======================================================================== *
 * Models: writing
 * ======================================================================== */

/* The header of a model's file: its whole configuration as metadata
 * strings, then its tensors in state_dict order. Measures when out is
 * NULL. */
static size_t model_header(const void *object, unsigned char *out, size_t cap)
{
    const rnn_t *model = object;
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
    const rnn_st_pair meta[] = {
        {"format", "librnn"},
        {"format_version", FORMAT_VERSION},
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
    rnn_st_writer w;
    rnn__st_begin(&w, out, cap, meta, sizeof meta / sizeof meta[0]);
    for (int32_t i = 0; i < model->num_tensors; ++i) {
        const rnn_tensor *t = &model->tensors[i];
        const size_t shape[2] = {(size_t)t->rows, (size_t)t->cols};
        rnn__st_add(&w, t->name, t->ndim, shape);
    }
    return rnn__st_finish(&w);
}

/* A file is a header made by `build` (which measures when out is NULL)
 * followed by `count` floats. */
typedef size_t (*header_builder)(const void *object, unsigned char *out,
                                 size_t cap);

/* Header plus data; the float bytes are known to fit (they are in memory),
 * the sum is checked here. */
static rnn_status file_size(const void *object, header_builder build,
                            size_t count, size_t *size, const char *func)
{
    const size_t header = build(object, NULL, 0);
    const size_t data = count * sizeof(float);
    if (data > SIZE_MAX - header)
        return rnn__fail(RNN_E_SHAPE, func, "the file size overflows");
    *size = header + data;
    return RNN_OK;
}

/* The bytes of the file into buffer[capacity]; nothing written when they
 * do not fit (the message points to `size_func`). */
static rnn_status write_buffer(const void *object, header_builder build,
                               const float *data, size_t count, void *buffer,
                               size_t capacity, size_t *written,
                               const char *func, const char *size_func)
{
    size_t size = 0;
    rnn_status status = file_size(object, build, count, &size, func);
    if (status != RNN_OK)
        return status;
    if (capacity < size)
        return rnn__fail(RNN_E_SHAPE, func,
                         "capacity %zu is below the %zu bytes needed (see %s)",
                         capacity, size, size_func);
    unsigned char *out = buffer;
    const size_t header = build(object, out, capacity);
    rnn__st_encode(out + header, data, count);
    if (written != NULL)
        *written = size;
    return RNN_OK;
}

rnn_status rnn_save_size(const rnn_t *model, size_t *size)
{
    static const char *func = "rnn_save_size";
    if (model == NULL || size == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "size");
    return file_size(model, model_header, model->num_params, size, func);
}

rnn_status rnn_save_buffer(const rnn_t *model, void *buffer, size_t capacity,
                           size_t *written)
{
    static const char *func = "rnn_save_buffer";
    if (model == NULL || buffer == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "buffer");
    return write_buffer(model, model_header, model->params, model->num_params,
                        buffer, capacity, written, func, "rnn_save_size");
}

rnn_status rnn_save(const rnn_t *model, const char *path)
{
    static const char *func = "rnn_save";
    if (model == NULL || path == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "path");
    return rnn__save_file(path, model, model_header, model->params,
                     model->num_params, func);
}

/* ======================================================================== *
 * Models: reading
 * ======================================================================== */

/* librnn stores float32 only; other dtypes are refused before anything
 * else so that the message names the real problem. */
static rnn_status check_all_f32(const rnn_st_file *file, const char *func)
{
    for (size_t i = 0; i < file->count; ++i)
        if (strcmp(file->entries[i].dtype, "F32") != 0)
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%.64s\": dtype %s, librnn reads F32 only",
                             file->entries[i].name, file->entries[i].dtype);
    return RNN_OK;
}

/* The configuration in librnn metadata; *found is false for a file without
 * it. Values are checked for syntax here, for range by rnn_create. */
static rnn_status metadata_config(const rnn_st_file *file, rnn_config *cfg,
                                  bool *found, const char *func)
{
    const char *format;
    *found = false;
    rnn_status status = librnn_format(file, &format, func);
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
        if ((status = meta_i32(file, fields[i].key, fields[i].field, func)))
            return status;
    const char *seed;
    if ((status = meta_name(file, "nonlinearity", nonlinearity_names, 2,
                            &cfg->nonlinearity, func)) ||
        (status = meta_name(file, "head_mode", head_mode_names, 2,
                            &cfg->head_mode, func)) ||
        (status = meta_value(file, "seed", &seed, func)))
        return status;
    if (!parse_u64(seed, &cfg->seed))
        return bad_value("seed", seed, "an unsigned 64-bit integer", func);
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

/* The configuration of a file written by another program (a torch.nn.RNN
 * state_dict): sizes from the shapes, the rest PyTorch's defaults. */
static rnn_status infer_config(const rnn_st_file *file, rnn_config *cfg,
                               const char *func)
{
    rnn__config_defaults(cfg, 0, 0);
    rnn_status status;
    if ((status = infer_dim(file, "weight_ih_l0", 2, 1, &cfg->input_size,
                            func)) ||
        (status = infer_dim(file, "weight_hh_l0", 2, 0, &cfg->hidden_size,
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

static rnn_status create_model(rnn_t **model, const rnn_config *cfg,
                               const char *func)
{
    rnn_status status = rnn_create(model, cfg);
    if (status == RNN_E_INVALID_ARG || status == RNN_E_SHAPE)
        return reword(RNN_E_FORMAT, func, "invalid configuration in the file");
    if (status == RNN_E_NOMEM)
        return rnn__fail_nomem(func);
    return status;
}

/* The loaders from bytes: `target` is the rnn_t ** or rnn_optim_t ** to
 * create, or the rnn_t * to load into. */
typedef rnn_status (*bytes_loader)(void *target, const void *bytes,
                                   size_t size, const char *func);

/* Reads the file at `path` and hands its bytes to `load`. */
static rnn_status load_file(const char *path, bytes_loader load, void *target,
                            const char *func)
{
    unsigned char *bytes;
    size_t size = 0;
    rnn_status status = rnn__read_file(path, &bytes, &size, func);
    if (status != RNN_OK)
        return status;
    status = load(target, bytes, size, func);
    rnn__free(bytes);
    return status;
}

static rnn_status load_model(void *target, const void *bytes, size_t size,
                             const char *func)
{
    rnn_t **out = target;
    rnn_st_file file;
    rnn_status status = rnn__st_parse(&file, bytes, size, func);
    if (status != RNN_OK)
        return status;
    rnn_config cfg;
    bool found = false;
    rnn_t *model = NULL;
    status = check_all_f32(&file, func);
    if (status == RNN_OK)
        status = metadata_config(&file, &cfg, &found, func);
    if (status == RNN_OK && !found)
        status = infer_config(&file, &cfg, func);
    if (status == RNN_OK)
        status = check_fits(&file, &cfg, func);
    if (status == RNN_OK)
        status = create_model(&model, &cfg, func);
    if (status == RNN_OK)
        status = load_into(model, &file, func);
    rnn__st_close(&file);
    if (status != RNN_OK) {
        rnn_destroy(model);
        return status;
    }
    *out = model;
    return RNN_OK;
}

rnn_status rnn_load_buffer(rnn_t **out, const void *data, size_t size)
{
    static const char *func = "rnn_load_buffer";
    if (out == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "out is NULL");
    *out = NULL;
    if (data == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "data is NULL");
    return load_model(out, data, size, func);
}

rnn_status rnn_load(rnn_t **out, const char *path)
{
    static const char *func = "rnn_load";
    if (out == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "out is NULL");
    *out = NULL;
    if (path == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is NULL");
    return load_file(path, load_model, out, func);
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

static rnn_status load_params(void *target, const void *bytes, size_t size,
                              const char *func)
{
    rnn_t *model = target;
    rnn_st_file file;
    rnn_status status = rnn__st_parse(&file, bytes, size, func);
    if (status != RNN_OK)
        return status;
    rnn_config cfg;
    bool found = false;
    status = check_all_f32(&file, func);
    if (status == RNN_OK)
        status = metadata_config(&file, &cfg, &found, func);
    if (status == RNN_OK && found)
        status = check_agrees(model, &cfg, func);
    if (status == RNN_OK)
        status = load_into(model, &file, func);
    rnn__st_close(&file);
    return status;
}

rnn_status rnn_load_params_buffer(rnn_t *model, const void *data, size_t size)
{
    static const char *func = "rnn_load_params_buffer";
    if (model == NULL || data == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "data");
    return load_params(model, data, size, func);
}

rnn_status rnn_load_params(rnn_t *model, const char *path)
{
    static const char *func = "rnn_load_params";
    if (model == NULL || path == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         model == NULL ? "model" : "path");
    return load_file(path, load_params, model, func);
}

/* ======================================================================== *
 * Optimizer states
 * ======================================================================== */

static size_t optim_buffers(const rnn_optim_config *cfg)
{
    return cfg->kind == RNN_OPTIM_SGD ? 1 : 2;
}

static size_t optim_header(const void *object, unsigned char *out, size_t cap)
{
    const rnn_optim_t *optim = object;
    const rnn_optim_config *c = &optim->cfg;
    char num[11][32];
    format_float(num[0], sizeof num[0], c->lr);
    format_float(num[1], sizeof num[1], c->momentum);
    format_float(num[2], sizeof num[2], c->dampening);
    format_float(num[3], sizeof num[3], c->weight_decay);
    snprintf(num[4], sizeof num[4], "%" PRId32, c->nesterov);
    format_float(num[5], sizeof num[5], c->beta1);
    format_float(num[6], sizeof num[6], c->beta2);
    format_float(num[7], sizeof num[7], c->eps);
    snprintf(num[8], sizeof num[8], "%" PRId64, optim->steps);
    snprintf(num[9], sizeof num[9], "%zu", optim->count);
    const rnn_st_pair meta[] = {
        {"format", "librnn-optim"},
        {"format_version", FORMAT_VERSION},
        {"kind", optim_kind_names[c->kind]},
        {"lr", num[0]},
        {"momentum", num[1]},
        {"dampening", num[2]},
        {"weight_decay", num[3]},
        {"nesterov", num[4]},
        {"beta1", num[5]},
        {"beta2", num[6]},
        {"eps", num[7]},
        {"steps", num[8]},
        {"count", num[9]},
    };
    static const char *const names[2] = {"first", "second"};
    rnn_st_writer w;
    rnn__st_begin(&w, out, cap, meta, sizeof meta / sizeof meta[0]);
    for (size_t i = 0; i < optim_buffers(c); ++i)
        rnn__st_add(&w, names[i], 1, &optim->count);
    return rnn__st_finish(&w);
}

/* `second` follows `first` in the same allocation: one data block. */
static size_t optim_floats(const rnn_optim_t *optim)
{
    return optim_buffers(&optim->cfg) * optim->count;
}

rnn_status rnn_optim_save(const rnn_optim_t *optim, const char *path)
{
    static const char *func = "rnn_optim_save";
    if (optim == NULL || path == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         optim == NULL ? "optim" : "path");
    return rnn__save_file(path, optim, optim_header, optim->first,
                          optim_floats(optim), func);
}

rnn_status rnn_optim_save_size(const rnn_optim_t *optim, size_t *size)
{
    static const char *func = "rnn_optim_save_size";
    if (optim == NULL || size == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         optim == NULL ? "optim" : "size");
    return file_size(optim, optim_header, optim_floats(optim), size, func);
}

rnn_status rnn_optim_save_buffer(const rnn_optim_t *optim, void *buffer,
                                 size_t capacity, size_t *written)
{
    static const char *func = "rnn_optim_save_buffer";
    if (optim == NULL || buffer == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "%s is NULL",
                         optim == NULL ? "optim" : "buffer");
    return write_buffer(optim, optim_header, optim->first, optim_floats(optim),
                        buffer, capacity, written, func, "rnn_optim_save_size");
}

/* Hyperparameters, step count and buffer size from librnn-optim metadata,
 * validated like rnn_optim_create validates a configuration. */
static rnn_status optim_settings(const rnn_st_file *file, rnn_optim_t *o,
                                 const char *func)
{
    const char *format;
    rnn_status status = librnn_format(file, &format, func);
    if (status != RNN_OK)
        return status;
    if (format == NULL || strcmp(format, "librnn-optim") != 0)
        return rnn__fail(RNN_E_FORMAT, func,
                         "the file is not an optimizer state (its __metadata__ "
                         "format is not \"librnn-optim\")");
    int32_t kind = 0;
    int64_t steps = 0, count = 0, nesterov = 0;
    rnn_optim_config *c = &o->cfg;
    if ((status = meta_name(file, "kind", optim_kind_names, 3, &kind, func)))
        return status;
    rnn__optim_config_defaults(c, kind, 0.0f);
    if ((status = meta_float(file, "lr", &c->lr, func)) ||
        (status = meta_float(file, "momentum", &c->momentum, func)) ||
        (status = meta_float(file, "dampening", &c->dampening, func)) ||
        (status = meta_float(file, "weight_decay", &c->weight_decay, func)) ||
        (status = meta_i64(file, "nesterov", 0, 1, &nesterov, func)) ||
        (status = meta_float(file, "beta1", &c->beta1, func)) ||
        (status = meta_float(file, "beta2", &c->beta2, func)) ||
        (status = meta_float(file, "eps", &c->eps, func)) ||
        (status = meta_i64(file, "steps", 0, RNN_MAX_STEPS, &steps, func)) ||
        (status = meta_i64(file, "count", 1, INT64_MAX, &count, func)))
        return status;
    c->nesterov = (int32_t)nesterov;
    o->steps = steps;
    if ((uint64_t)count > SIZE_MAX)
        return rnn__fail(RNN_E_FORMAT, func, "count %" PRId64 " is too large",
                         count);
    o->count = (size_t)count;
    if (rnn__optim_validate(c, func) != RNN_OK)
        return reword(RNN_E_FORMAT, func, "invalid optimizer settings");
    return RNN_OK;
}

/* Exactly "first" (and "second" for Adam), each of shape [count]. */
static rnn_status check_optim_tensors(const rnn_st_file *file,
                                      const rnn_optim_t *o, const char *func)
{
    static const char *const names[2] = {"first", "second"};
    const size_t buffers = optim_buffers(&o->cfg);
    for (size_t i = 0; i < file->count; ++i) {
        const rnn_st_entry *e = &file->entries[i];
        const bool known = strcmp(e->name, names[0]) == 0 ||
                           (buffers == 2 && strcmp(e->name, names[1]) == 0);
        if (!known)
            return rnn__fail(RNN_E_FORMAT, func,
                             "unexpected tensor \"%.64s\" in a %s state",
                             e->name, optim_kind_names[o->cfg.kind]);
        if (e->ndim != 1 || e->shape[0] != (uint64_t)o->count)
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%s\": shape is not [%zu] (count)",
                             e->name, o->count);
    }
    for (size_t i = 0; i < buffers; ++i)
        if (rnn__st_find(file, names[i]) == NULL)
            return rnn__fail(RNN_E_FORMAT, func, "missing tensor \"%s\"",
                             names[i]);
    return RNN_OK;
}

/* Allocates like rnn_optim_create (one block, `second` after `first`) and
 * decodes the buffers into it. */
static rnn_status build_optim(rnn_optim_t **out, const rnn_optim_t *settings,
                              const rnn_st_file *file, const char *func)
{
    const size_t buffers = optim_buffers(&settings->cfg);
    size_t bytes;
    if (!rnn__mul3(buffers, settings->count, sizeof(float), &bytes))
        return rnn__fail(RNN_E_FORMAT, func, "count %zu overflows",
                         settings->count);
    rnn_optim_t *optim = rnn__calloc(1, sizeof *optim);
    float *state = rnn__malloc(bytes);
    if (optim == NULL || state == NULL) {
        rnn__free(optim);
        rnn__free(state);
        return rnn__fail_nomem(func);
    }
    *optim = *settings;
    optim->first = state;
    optim->second = buffers == 2 ? state + settings->count : NULL;
    const rnn_st_entry *first = rnn__st_find(file, "first");
    rnn__st_decode(optim->first, file->data + first->begin, optim->count);
    if (optim->second != NULL) {
        const rnn_st_entry *second = rnn__st_find(file, "second");
        rnn__st_decode(optim->second, file->data + second->begin, optim->count);
    }
    *out = optim;
    return RNN_OK;
}

static rnn_status load_optim(void *target, const void *bytes, size_t size,
                             const char *func)
{
    rnn_optim_t **out = target;
    rnn_st_file file;
    rnn_status status = rnn__st_parse(&file, bytes, size, func);
    if (status != RNN_OK)
        return status;
    rnn_optim_t settings;
    memset(&settings, 0, sizeof settings);
    status = check_all_f32(&file, func);
    if (status == RNN_OK)
        status = optim_settings(&file, &settings, func);
    if (status == RNN_OK)
        status = check_optim_tensors(&file, &settings, func);
    if (status == RNN_OK)
        status = build_optim(out, &settings, &file, func);
    rnn__st_close(&file);
    return status;
}

rnn_status rnn_optim_load_buffer(rnn_optim_t **out, const void *data,
                                 size_t size)
{
    static const char *func = "rnn_optim_load_buffer";
    if (out == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "out is NULL");
    *out = NULL;
    if (data == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "data is NULL");
    return load_optim(out, data, size, func);
}

rnn_status rnn_optim_load(rnn_optim_t **out, const char *path)
{
    static const char *func = "rnn_optim_load";
    if (out == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "out is NULL");
    *out = NULL;
    if (path == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "path is NULL");
    return load_file(path, load_optim, out, func);
}
