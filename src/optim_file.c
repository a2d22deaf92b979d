/* SPDX-License-Identifier: MIT
 *
 * optim_file.c - an optimizer's state as a safetensors file
 * (docs/format.md): its configuration, step count and parameter count as
 * __metadata__ strings, its buffers as the tensors "first", "second"
 * (Adam) and "max_second" (amsgrad). The buffers are laid out as optim.c lays them out (one
 * block, "second" after "first"), so the data is that block. Saving and
 * loading take the same steps in mirror order:
 *   save: settings -> metadata, buffers -> header and data, handed to
 *         file.c (counted, into a buffer or to a file);
 *   load: file.c -> bytes (meta.c opens them), metadata -> settings,
 *         header -> buffers checked, an optimizer made by optim.c, data ->
 *         buffers.
 */

#include "internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const optim_kind_names[] = {"sgd", "adam", "adamw"};
static const char *const buffer_names[3] = {"first", "second", "max_second"};

/* ---- settings <-> metadata ---------------------------------------------- */

static size_t optim_header(const rnn_optim_t *optim, unsigned char *out,
                           size_t cap)
{
    const rnn_optim_config *c = &optim->cfg;
    char num[11][32];
    rnn__meta_format_float(num[0], sizeof num[0], c->lr);
    rnn__meta_format_float(num[1], sizeof num[1], c->momentum);
    rnn__meta_format_float(num[2], sizeof num[2], c->dampening);
    rnn__meta_format_float(num[3], sizeof num[3], c->weight_decay);
    snprintf(num[4], sizeof num[4], "%" PRId32, c->nesterov);
    rnn__meta_format_float(num[5], sizeof num[5], c->beta1);
    rnn__meta_format_float(num[6], sizeof num[6], c->beta2);
    rnn__meta_format_float(num[7], sizeof num[7], c->eps);
    snprintf(num[8], sizeof num[8], "%" PRId64, optim->steps);
    snprintf(num[9], sizeof num[9], "%zu", optim->count);
    const rnn_st_pair meta[] = {
        {"format", "librnn-optim"},
        {"format_version", RNN_FORMAT_VERSION},
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
        {"amsgrad", "1"},
    };
    /* "amsgrad" (since 0.2.0) only when set: other states stay readable by
     * 0.1.0. */
    rnn_st_writer w;
    rnn__st_begin(&w, out, cap, meta,
                  sizeof meta / sizeof meta[0] - (c->amsgrad == 0));
    for (size_t i = 0; i < rnn__optim_buffers(c); ++i)
        rnn__st_add(&w, buffer_names[i], 1, &optim->count);
    return rnn__st_finish(&w);
}

/* Hyperparameters, step count and buffer size from librnn-optim metadata,
 * validated like rnn_optim_create validates a configuration. */
static rnn_status optim_settings(const rnn_st_file *file, rnn_optim_t *o,
                                 const char *func)
{
    const char *format;
    rnn_status status = rnn__meta_format(file, &format, func);
    if (status != RNN_OK)
        return status;
    if (format == NULL || strcmp(format, "librnn-optim") != 0)
        return rnn__fail(RNN_E_FORMAT, func,
                         "the file is not an optimizer state (its __metadata__ "
                         "format is not \"librnn-optim\")");
    int32_t kind = 0;
    int64_t steps = 0, count = 0, nesterov = 0, amsgrad = 0;
    rnn_optim_config *c = &o->cfg;
    if ((status = rnn__meta_name(file, "kind", optim_kind_names, 3, &kind,
                                 func)))
        return status;
    rnn__optim_config_defaults(c, kind, 0.0f);
    if ((status = rnn__meta_float(file, "lr", &c->lr, func)) ||
        (status = rnn__meta_float(file, "momentum", &c->momentum, func)) ||
        (status = rnn__meta_float(file, "dampening", &c->dampening, func)) ||
        (status =
             rnn__meta_float(file, "weight_decay", &c->weight_decay, func)) ||
        (status = rnn__meta_i64(file, "nesterov", 0, 1, &nesterov, func)) ||
        (status = rnn__meta_float(file, "beta1", &c->beta1, func)) ||
        (status = rnn__meta_float(file, "beta2", &c->beta2, func)) ||
        (status = rnn__meta_float(file, "eps", &c->eps, func)) ||
        (status =
             rnn__meta_i64(file, "steps", 0, RNN_MAX_STEPS, &steps, func)) ||
        (status = rnn__meta_i64(file, "count", 1, INT64_MAX, &count, func)))
        return status;
    if (rnn__st_meta(file, "amsgrad") != NULL &&
        (status = rnn__meta_i64(file, "amsgrad", 0, 1, &amsgrad, func)))
        return status;
    c->nesterov = (int32_t)nesterov;
    c->amsgrad = (int32_t)amsgrad;
    o->steps = steps;
    if ((uint64_t)count > SIZE_MAX)
        return rnn__fail(RNN_E_FORMAT, func, "count %" PRId64 " is too large",
                         count);
    o->count = (size_t)count;
    if (rnn__optim_validate(c, func) != RNN_OK)
        return rnn__fail_context(RNN_E_FORMAT, func,
                                 "invalid optimizer settings");
    return RNN_OK;
}

/* ---- buffers <-> data -------------------------------------------------- */

static bool is_buffer_of(const char *name, size_t buffers)
{
    for (size_t i = 0; i < buffers; ++i)
        if (strcmp(name, buffer_names[i]) == 0)
            return true;
    return false;
}

/* Exactly "first" (and "second" for Adam, "max_second" with amsgrad), each
 * of shape [count]. */
static rnn_status check_optim_tensors(const rnn_st_file *file,
                                      const rnn_optim_t *o, const char *func)
{
    const size_t buffers = rnn__optim_buffers(&o->cfg);
    for (size_t i = 0; i < file->count; ++i) {
        const rnn_st_entry *e = &file->entries[i];
        const bool known = is_buffer_of(e->name, buffers);
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
        if (rnn__st_find(file, buffer_names[i]) == NULL)
            return rnn__fail(RNN_E_FORMAT, func, "missing tensor \"%s\"",
                             buffer_names[i]);
    return RNN_OK;
}

/* Decodes the buffers into the block of an optimizer made like
 * rnn_optim_create makes one. */
static rnn_status build_optim(rnn_optim_t **out, const rnn_optim_t *settings,
                              const rnn_st_file *file, const char *func)
{
    size_t bytes;
    if (!rnn__mul3(rnn__optim_buffers(&settings->cfg), settings->count,
                   sizeof(float), &bytes))
        return rnn__fail(RNN_E_FORMAT, func, "count %zu overflows",
                         settings->count);
    rnn_optim_t *optim;
    rnn_status status =
        rnn__optim_alloc(&optim, &settings->cfg, settings->count, func);
    if (status != RNN_OK)
        return status;
    optim->steps = settings->steps;
    /* "second" follows "first" in the block, as in the file's data. */
    for (size_t i = 0; i < rnn__optim_buffers(&optim->cfg); ++i) {
        const rnn_st_entry *e = rnn__st_find(file, buffer_names[i]);
        rnn__st_decode(optim->first + i * optim->count, file->data + e->begin,
                       optim->count);
    }
    *out = optim;
    return RNN_OK;
}

/* ---- saving ------------------------------------------------------------- */

/* "second" follows "first" in the same block: one data section. */
static rnn_status save_optim(const rnn_optim_t *optim, rnn_save_to target,
                             const char *func)
{
    rnn_status status = rnn__save_check(&target, optim, "optim", func);
    if (status != RNN_OK)
        return status;
    const size_t floats = rnn__optim_buffers(&optim->cfg) * optim->count;
    const size_t header_size = optim_header(optim, NULL, 0);
    unsigned char *header;
    status = rnn__save_begin(&target, header_size, floats, &header, func);
    if (status != RNN_OK)
        return status;
    optim_header(optim, header, header_size); /* NULL when only counting */
    return rnn__save_end(&target, header, header_size, optim->first, floats,
                         func);
}

rnn_status rnn_optim_save_size(const rnn_optim_t *optim, size_t *size)
{
    return save_optim(optim, rnn__save_to_size(size), "rnn_optim_save_size");
}

rnn_status rnn_optim_save_buffer(const rnn_optim_t *optim, void *buffer,
                                 size_t capacity, size_t *written)
{
    const rnn_save_to target =
        rnn__save_to_buffer(buffer, capacity, written, "rnn_optim_save_size");
    return save_optim(optim, target, "rnn_optim_save_buffer");
}

rnn_status rnn_optim_save(const rnn_optim_t *optim, const char *path)
{
    return save_optim(optim, rnn__save_to_file(path), "rnn_optim_save");
}

/* ---- loading ------------------------------------------------------------ */

static rnn_status load_optim(rnn_optim_t **out, rnn_load_from from,
                             const char *func)
{
    if (out != NULL)
        *out = NULL;
    rnn_st_file file;
    rnn_status status = rnn__librnn_open(&file, &from, out != NULL, func);
    if (status != RNN_OK)
        return status;
    rnn_optim_t settings;
    memset(&settings, 0, sizeof settings);
    status = optim_settings(&file, &settings, func);
    if (status == RNN_OK)
        status = check_optim_tensors(&file, &settings, func);
    if (status == RNN_OK)
        status = build_optim(out, &settings, &file, func);
    rnn__librnn_close(&file, &from);
    return status;
}

rnn_status rnn_optim_load_buffer(rnn_optim_t **out, const void *data,
                                 size_t size)
{
    const rnn_load_from from = {.bytes = data, .size = size};
    return load_optim(out, from, "rnn_optim_load_buffer");
}

rnn_status rnn_optim_load(rnn_optim_t **out, const char *path)
{
    const rnn_load_from from = {.path = path, .is_file = true};
    return load_optim(out, from, "rnn_optim_load");
}
