/* SPDX-License-Identifier: MIT
 *
 * safetensors.c - the safetensors container, knowing nothing of models:
 *
 *   u64 little-endian N | N bytes of JSON, space-padded | data
 *
 * where the JSON maps each tensor name to {"dtype", "shape", "data_offsets"}
 * (offsets relative to the data) plus an optional "__metadata__" object of
 * strings. Writing builds the header text directly (every string in it comes
 * from the library); parsing hands the header to cJSON and then checks
 * everything the format defines, trusting no byte of the input. io.c maps
 * models and optimizers onto this.
 */
#include "internal.h"

#include <cjson/cJSON.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference implementation's limit: a header is never larger, and a
 * hostile length field cannot make us allocate more. */
#define MAX_HEADER 100000000u

/* Every integer up to 2^53 is exact in the double cJSON parses into. */
#define MAX_JSON_INTEGER 9007199254740992.0

/* cJSON spends about 100 bytes of tree per JSON value, 15 times the header
 * text: a 100 MB header of empty entries would cost gigabytes before
 * anything could refuse it. A model needs 7 or 8 values per tensor and has
 * at most RNN_MAX_TENSORS of them, so 2^20 admits every model with room to
 * spare and bounds the tree near 100 MB whatever the input (figures in
 * docs/format.md, which states the bound). */
#define MAX_JSON_VALUES 1048576u
_Static_assert(MAX_JSON_VALUES > 8u * RNN_MAX_TENSORS + 64u,
               "the JSON bound must admit every model rnn_create makes");

/* ======================================================================== *
 * Bytes
 * ======================================================================== */

bool rnn__st_host_is_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* The file stores float32 little-endian. A little-endian host copies; any
 * other host swaps each float through its bit pattern (memcpy, never an
 * unaligned pointer cast: the data of a tensor may start at any byte). */
void rnn__st_encode(unsigned char *dst, const float *src, size_t count)
{
    if (rnn__st_host_is_little_endian()) {
        memcpy(dst, src, count * sizeof(float));
        return;
    }
    for (size_t i = 0; i < count; ++i) {
        uint32_t bits;
        memcpy(&bits, &src[i], sizeof bits);
        for (int b = 0; b < 4; ++b)
            dst[4 * i + (size_t)b] = (unsigned char)(bits >> (8 * b));
    }
}

void rnn__st_decode(float *dst, const unsigned char *src, size_t count)
{
    if (rnn__st_host_is_little_endian()) {
        memcpy(dst, src, count * sizeof(float));
        return;
    }
    for (size_t i = 0; i < count; ++i) {
        uint32_t bits = 0;
        for (int b = 0; b < 4; ++b)
            bits |= (uint32_t)src[4 * i + (size_t)b] << (8 * b);
        memcpy(&dst[i], &bits, sizeof bits);
    }
}

static uint64_t read_u64_le(const unsigned char *p)
{
    uint64_t value = 0;
    for (int b = 7; b >= 0; --b)
        value = value << 8 | p[b];
    return value;
}

static void write_u64_le(unsigned char *p, uint64_t value)
{
    for (int b = 0; b < 8; ++b)
        p[b] = (unsigned char)(value >> (8 * b));
}

/* ======================================================================== *
 * Writing
 * ======================================================================== */

/* Appends bytes; past the capacity it only counts, so that the same code
 * measures a header (out == NULL) and writes it. */
static void put(rnn_st_writer *w, const char *text, size_t n)
{
    if (w->out != NULL && n <= w->cap && w->len <= w->cap - n)
        memcpy(w->out + w->len, text, n);
    w->len += n;
}

static void put_text(rnn_st_writer *w, const char *text)
{
    put(w, text, strlen(text));
}

static void put_size(rnn_st_writer *w, size_t value)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", value);
    put(w, digits, (size_t)n);
}

/* A JSON string. Library strings are plain ASCII, but escaping keeps the
 * header valid whatever a future name holds. */
static void put_string(rnn_st_writer *w, const char *s)
{
    put(w, "\"", 1);
    for (; *s != '\0'; ++s) {
        const unsigned char c = (unsigned char)*s;
        char escaped[8];
        if (c == '"' || c == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)c;
            put(w, escaped, 2);
        } else if (c < 0x20) {
            snprintf(escaped, sizeof escaped, "\\u%04x", (unsigned)c);
            put(w, escaped, 6);
        } else {
            put(w, s, 1);
        }
    }
    put(w, "\"", 1);
}

static void put_member_name(rnn_st_writer *w, const char *name)
{
    if (!w->empty)
        put(w, ",", 1);
    w->empty = false;
    put_string(w, name);
    put(w, ":", 1);
}

void rnn__st_begin(rnn_st_writer *w, unsigned char *out, size_t cap,
                   const rnn_st_pair *meta, size_t n_meta)
{
    w->out = out;
    w->cap = out == NULL ? 0 : cap;
    w->len = 8; /* the length prefix, written by finish */
    w->data_end = 0;
    w->empty = true;
    put(w, "{", 1);
    if (n_meta == 0)
        return;
    put_member_name(w, "__metadata__");
    put(w, "{", 1);
    for (size_t i = 0; i < n_meta; ++i) {
        if (i > 0)
            put(w, ",", 1);
        put_string(w, meta[i].key);
        put(w, ":", 1);
        put_string(w, meta[i].value);
    }
    put(w, "}", 1);
}

void rnn__st_add(rnn_st_writer *w, const char *name, int32_t ndim,
                 const size_t *shape)
{
    size_t count = 1;
    put_member_name(w, name);
    put_text(w, "{\"dtype\":\"F32\",\"shape\":[");
    for (int32_t d = 0; d < ndim; ++d) {
        if (d > 0)
            put(w, ",", 1);
        put_size(w, shape[d]);
        count *= shape[d]; /* the caller's tensors exist: no overflow */
    }
    put_text(w, "],\"data_offsets\":[");
    put_size(w, w->data_end);
    put(w, ",", 1);
    w->data_end += count * sizeof(float);
    put_size(w, w->data_end);
    put_text(w, "]}");
}

size_t rnn__st_finish(rnn_st_writer *w)
{
    put(w, "}", 1);
    /* Padding to 8 bytes aligns the data for readers that map the file. */
    while (w->len % 8 != 0)
        put(w, " ", 1);
    if (w->out != NULL && w->len <= w->cap)
        write_u64_le(w->out, (uint64_t)(w->len - 8));
    return w->len;
}

/* ======================================================================== *
 * Parsing
 * ======================================================================== */

static const struct dtype_size {
    const char *name;
    size_t bytes;
} dtypes[] = {
    {"BOOL", 1}, {"U8", 1},   {"I8", 1},   {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I16", 2},  {"U16", 2},  {"F16", 2},  {"BF16", 2},    {"I32", 4},
    {"U32", 4},  {"F32", 4},  {"F64", 8},  {"I64", 8},     {"U64", 8},
};

static size_t dtype_bytes(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; ++i)
        if (strcmp(dtypes[i].name, name) == 0)
            return dtypes[i].bytes;
    return 0;
}

/* Length of the valid UTF-8 sequence starting at s (n bytes left), 0 when
 * it is invalid (overlong, surrogate, beyond U+10FFFF, cut short). */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    const unsigned char c = s[0];
    size_t len;
    uint32_t code, least;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, code = c & 0x1Fu, least = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, code = c & 0x0Fu, least = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, code = c & 0x07u, least = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; ++i) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        code = code << 6 | (s[i] & 0x3Fu);
    }
    if (code < least || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return len;
}

/* JSON text is UTF-8 without raw control characters (those are escaped
 * inside strings; outside them only whitespace may appear). Checked before
 * cJSON sees the text, which accepts both. */
static rnn_status check_text(const unsigned char *text, size_t n,
                             const char *func)
{
    for (size_t i = 0; i < n;) {
        const unsigned char c = text[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            return rnn__fail(RNN_E_FORMAT, func,
                             "header byte %zu is the control character 0x%02x",
                             i, (unsigned)c);
        const size_t len = utf8_sequence(text + i, n - i);
        if (len == 0)
            return rnn__fail(RNN_E_FORMAT, func,
                             "header byte %zu is not valid UTF-8", i);
        i += len;
    }
    return RNN_OK;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* What cJSON must never see, found lexically (outside strings and escapes)
 * before it builds anything: more than MAX_JSON_VALUES values, counted as
 * 1 + every '{', '[' and ',' (for any text an upper bound on the items cJSON
 * creates before it stops), and the escape \u0000, which cJSON decodes into
 * a NUL that ends the C string early: "head.bias\u0000x" would be
 * "head.bias" to librnn and another name to every other reader. */
static rnn_status scan_json(const unsigned char *text, size_t n,
                            const char *func)
{
    size_t values = 1;
    bool in_string = false;
    for (size_t i = 0; i < n; ++i) {
        const unsigned char c = text[i];
        if (in_string) {
            if (c == '"') {
                in_string = false;
            } else if (c == '\\' && i + 1 < n) {
                if (text[i + 1] == 'u' && n - i > 5 &&
                    memcmp(text + i + 2, "0000", 4) == 0)
                    return rnn__fail(RNN_E_FORMAT, func,
                                     "header byte %zu: a JSON string holds "
                                     "\\u0000 (U+0000), which no name or "
                                     "metadata may contain", i);
                ++i; /* an escaped '"' or '\\' does not end the string */
            }
        } else if (c == '"') {
            in_string = true;
        } else if ((c == '{' || c == '[' || c == ',') &&
                   ++values > MAX_JSON_VALUES) {
            return rnn__fail(RNN_E_FORMAT, func,
                             "the header has more than %u JSON values (the "
                             "limit; a model needs at most 8 per tensor)",
                             MAX_JSON_VALUES);
        }
    }
    return RNN_OK;
}

/* Parses the N header bytes, which start with '{', into *root: one JSON
 * object, then only whitespace (the padding). */
static rnn_status parse_json(const unsigned char *header, size_t n,
                             cJSON **root, const char *func)
{
    *root = NULL;
    rnn_status status = check_text(header, n, func);
    if (status == RNN_OK)
        status = scan_json(header, n, func);
    if (status != RNN_OK)
        return status;
    /* A terminated private copy: whatever cJSON reads stays inside it. */
    char *text = rnn__malloc(n + 1);
    if (text == NULL)
        return rnn__fail_nomem(func);
    memcpy(text, header, n);
    text[n] = '\0';
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, n, &end, false);
    size_t at = end != NULL ? (size_t)(end - text) : 0;
    if (json == NULL) {
        status = rnn__fail(RNN_E_FORMAT, func,
                           "the header is not valid JSON (error at byte %zu of "
                           "%zu)", at, n);
    } else {
        while (at < n && is_space((unsigned char)text[at]))
            ++at;
        if (at < n)
            status = rnn__fail(RNN_E_FORMAT, func,
                               "the header has text after its JSON object "
                               "(byte %zu of %zu)", at, n);
        else if (!cJSON_IsObject(json))
            status = rnn__fail(RNN_E_FORMAT, func,
                               "the header is not a JSON object");
    }
    rnn__free(text);
    if (status != RNN_OK) {
        cJSON_Delete(json);
        return status;
    }
    *root = json;
    return RNN_OK;
}

/* A JSON number that is a whole number in [0, 2^53]. */
static bool read_count(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return false;
    const double value = item->valuedouble;
    if (!(value >= 0.0 && value <= MAX_JSON_INTEGER))
        return false;
    const uint64_t whole = (uint64_t)value;
    if ((double)whole != value)
        return false;
    *out = whole;
    return true;
}

void rnn__st_shape_text(char *buf, size_t size, const rnn_st_entry *e)
{
    int used = snprintf(buf, size, "[");
    for (int32_t d = 0; d < e->ndim && used >= 0 && (size_t)used < size; ++d)
        used += snprintf(buf + used, size - (size_t)used, "%s%" PRIu64,
                         d ? ", " : "", e->shape[d]);
    if (used >= 0 && (size_t)used < size)
        snprintf(buf + used, size - (size_t)used, "]");
}

rnn_status rnn__st_all_f32(const rnn_st_file *file, const char *func)
{
    for (size_t i = 0; i < file->count; ++i)
        if (strcmp(file->entries[i].dtype, "F32") != 0)
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%.64s\": dtype %s, librnn reads F32 only",
                             file->entries[i].name, file->entries[i].dtype);
    return RNN_OK;
}

static rnn_status parse_shape(const cJSON *shape, rnn_st_entry *e,
                              const char *func)
{
    if (!cJSON_IsArray(shape))
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%.64s\": shape is not an array", e->name);
    int32_t ndim = 0;
    for (const cJSON *dim = shape->child; dim != NULL; dim = dim->next) {
        if (ndim == RNN_ST_MAX_DIMS)
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%.64s\": shape has more than %d "
                             "dimensions", e->name, RNN_ST_MAX_DIMS);
        if (!read_count(dim, &e->shape[ndim]))
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%.64s\": shape entry %d is not a "
                             "non-negative integer", e->name, ndim);
        ++ndim;
    }
    e->ndim = ndim;
    return RNN_OK;
}

/* data_offsets: two integers, in order, inside the data, spanning exactly
 * the bytes of the dtype and shape. */
static rnn_status parse_offsets(const cJSON *offsets, rnn_st_entry *e,
                                size_t data_size, const char *func)
{
    uint64_t range[2];
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 ||
        !read_count(offsets->child, &range[0]) ||
        !read_count(offsets->child->next, &range[1]))
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%.64s\": data_offsets is not an array of "
                         "two non-negative integers", e->name);
    if (range[0] > range[1])
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%.64s\": data_offsets [%" PRIu64 ", %" PRIu64
                         ") begin after end", e->name, range[0], range[1]);
    if (range[1] > data_size)
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%.64s\": data_offsets [%" PRIu64 ", %" PRIu64
                         ") end past the data (%zu bytes)", e->name, range[0],
                         range[1], data_size);
    e->begin = (size_t)range[0];
    e->end = (size_t)range[1];

    char shape[128];
    rnn__st_shape_text(shape, sizeof shape, e);
    const size_t elem = dtype_bytes(e->dtype);
    size_t bytes = elem;
    for (int32_t d = 0; d < e->ndim; ++d) {
        if (e->shape[d] > SIZE_MAX || !rnn__mul(bytes, (size_t)e->shape[d], &bytes))
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%.64s\": shape %s overflows", e->name,
                             shape);
    }
    if (e->end - e->begin != bytes)
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%.64s\": data_offsets [%zu, %zu) hold %zu "
                         "bytes, shape %s of %s needs %zu", e->name, e->begin,
                         e->end, e->end - e->begin, shape, e->dtype, bytes);
    return RNN_OK;
}

/* One tensor entry: an object with exactly dtype, shape and data_offsets. */
static rnn_status parse_entry(const cJSON *item, rnn_st_entry *e,
                              size_t data_size, const char *func)
{
    static const char *const keys[3] = {"dtype", "shape", "data_offsets"};
    const cJSON *found[3] = {NULL, NULL, NULL};
    memset(e, 0, sizeof *e);
    e->name = item->string;
    if (!cJSON_IsObject(item))
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%.64s\": its entry is not a JSON object",
                         e->name);
    for (const cJSON *m = item->child; m != NULL; m = m->next) {
        int k = 0;
        while (k < 3 && strcmp(m->string, keys[k]) != 0)
            ++k;
        if (k == 3 || found[k] != NULL)
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%.64s\": %s key \"%.32s\"", e->name,
                             k == 3 ? "unknown" : "duplicate", m->string);
        found[k] = m;
    }
    for (int k = 0; k < 3; ++k)
        if (found[k] == NULL)
            return rnn__fail(RNN_E_FORMAT, func, "tensor \"%.64s\": no \"%s\"",
                             e->name, keys[k]);
    if (!cJSON_IsString(found[0]))
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%.64s\": dtype is not a string", e->name);
    e->dtype = found[0]->valuestring;
    if (dtype_bytes(e->dtype) == 0)
        return rnn__fail(RNN_E_FORMAT, func,
                         "tensor \"%.64s\": unknown dtype \"%.16s\"", e->name,
                         e->dtype);
    rnn_status status = parse_shape(found[1], e, func);
    if (status != RNN_OK)
        return status;
    return parse_offsets(found[2], e, data_size, func);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const rnn_st_entry *)a)->name,
                  ((const rnn_st_entry *)b)->name);
}

static int by_offset(const void *a, const void *b)
{
    const rnn_st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cJSON keeps every member of a repeated key, and the format gives no
 * meaning to a repeat: names must be unique. Sorting keeps this O(n log n)
 * for headers of millions of keys. */
static rnn_status check_unique_names(rnn_st_entry *entries, size_t n,
                                     const char *func)
{
    qsort(entries, n, sizeof *entries, by_name);
    for (size_t i = 1; i < n; ++i)
        if (strcmp(entries[i - 1].name, entries[i].name) == 0)
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensor \"%.64s\" appears twice in the header",
                             entries[i].name);
    return RNN_OK;
}

/* Sorted by offset, each tensor must start where the previous one ended,
 * and the last end at the end of the data: no overlap, no gap. */
static rnn_status check_coverage(rnn_st_entry *entries, size_t n,
                                 size_t data_size, const char *func)
{
    qsort(entries, n, sizeof *entries, by_offset);
    size_t covered = 0;
    for (size_t i = 0; i < n; ++i) {
        const rnn_st_entry *e = &entries[i];
        if (e->begin < covered)
            return rnn__fail(RNN_E_FORMAT, func,
                             "tensors \"%.64s\" [%zu, %zu) and \"%.64s\" "
                             "[%zu, %zu) overlap", entries[i - 1].name,
                             entries[i - 1].begin, entries[i - 1].end, e->name,
                             e->begin, e->end);
        if (e->begin > covered)
            return rnn__fail(RNN_E_FORMAT, func,
                             "no tensor covers data bytes [%zu, %zu)", covered,
                             e->begin);
        covered = e->end;
    }
    if (covered != data_size)
        return rnn__fail(RNN_E_FORMAT, func,
                         "no tensor covers data bytes [%zu, %zu)", covered,
                         data_size);
    return RNN_OK;
}

/* __metadata__: an object mapping unique keys to strings. */
static rnn_status check_metadata(const cJSON *meta, const char *func)
{
    if (!cJSON_IsObject(meta))
        return rnn__fail(RNN_E_FORMAT, func,
                         "__metadata__ is not a JSON object");
    size_t n = 0;
    for (const cJSON *m = meta->child; m != NULL; m = m->next) {
        if (!cJSON_IsString(m))
            return rnn__fail(RNN_E_FORMAT, func,
                             "__metadata__ value of \"%.64s\" is not a string",
                             m->string);
        ++n;
    }
    const char **keys = rnn__malloc((n ? n : 1) * sizeof *keys);
    if (keys == NULL)
        return rnn__fail_nomem(func);
    n = 0;
    for (const cJSON *m = meta->child; m != NULL; m = m->next)
        keys[n++] = m->string;
    qsort(keys, n, sizeof *keys, by_string);
    rnn_status status = RNN_OK;
    for (size_t i = 1; i < n && status == RNN_OK; ++i)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            status = rnn__fail(RNN_E_FORMAT, func,
                               "__metadata__ key \"%.64s\" appears twice",
                               keys[i]);
    rnn__free(keys);
    return status;
}

/* Walks the members of the root object: the metadata and every tensor. */
static rnn_status parse_members(rnn_st_file *file, const char *func)
{
    size_t n = 0;
    for (const cJSON *m = file->root->child; m != NULL; m = m->next)
        ++n;
    file->entries = rnn__malloc((n ? n : 1) * sizeof *file->entries);
    if (file->entries == NULL)
        return rnn__fail_nomem(func);
    for (const cJSON *m = file->root->child; m != NULL; m = m->next) {
        rnn_status status;
        if (strcmp(m->string, "__metadata__") == 0) {
            if (file->metadata != NULL)
                return rnn__fail(RNN_E_FORMAT, func,
                                 "__metadata__ appears twice in the header");
            file->metadata = m;
            status = check_metadata(m, func);
        } else {
            status = parse_entry(m, &file->entries[file->count++],
                                 file->data_size, func);
        }
        if (status != RNN_OK)
            return status;
    }
    return RNN_OK;
}

static rnn_status parse(rnn_st_file *file, const unsigned char *bytes,
                        size_t size, const char *func)
{
    /* Any file can be handed to a loader by mistake: when its first bytes
     * cannot begin a safetensors file, that is what the message says
     * first (the length of a text file is a meaningless 19-digit number). */
    if (size < 8)
        return rnn__fail(RNN_E_FORMAT, func,
                         "not a safetensors file: %zu bytes are too few (the "
                         "header length alone takes 8)", size);
    const uint64_t n = read_u64_le(bytes);
    if (n > MAX_HEADER)
        return rnn__fail(RNN_E_FORMAT, func,
                         "not a safetensors file: header length %" PRIu64
                         " exceeds the limit of %u bytes", n, MAX_HEADER);
    if (n > size - 8)
        return rnn__fail(RNN_E_FORMAT, func,
                         "not a safetensors file: header length %" PRIu64
                         " runs past the end of the %zu bytes", n, size);
    if (n == 0 || bytes[8] != '{')
        return rnn__fail(RNN_E_FORMAT, func,
                         "not a safetensors file: the header does not start "
                         "with '{' (not a JSON object)");
    file->data = bytes + 8 + n;
    file->data_size = size - 8 - (size_t)n;
    rnn_status status = parse_json(bytes + 8, (size_t)n, &file->root, func);
    if (status == RNN_OK)
        status = parse_members(file, func);
    if (status == RNN_OK)
        status = check_unique_names(file->entries, file->count, func);
    if (status == RNN_OK)
        status = check_coverage(file->entries, file->count, file->data_size,
                                func);
    if (status == RNN_OK) /* back to name order, for rnn__st_find */
        qsort(file->entries, file->count, sizeof *file->entries, by_name);
    return status;
}

rnn_status rnn__st_parse(rnn_st_file *file, const void *bytes, size_t size,
                         const char *func)
{
    memset(file, 0, sizeof *file);
    rnn_status status = parse(file, bytes, size, func);
    if (status != RNN_OK)
        rnn__st_close(file);
    return status;
}

void rnn__st_close(rnn_st_file *file)
{
    cJSON_Delete(file->root);
    rnn__free(file->entries);
    memset(file, 0, sizeof *file);
}

static int name_vs_entry(const void *name, const void *entry)
{
    return strcmp(name, ((const rnn_st_entry *)entry)->name);
}

const rnn_st_entry *rnn__st_find(const rnn_st_file *file, const char *name)
{
    if (file->count == 0)
        return NULL;
    return bsearch(name, file->entries, file->count, sizeof *file->entries,
                   name_vs_entry);
}

const char *rnn__st_meta(const rnn_st_file *file, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(file->metadata, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}
