/* SPDX-License-Identifier: MIT
 *
 * meta.c - what every librnn file shares (docs/format.md): the __metadata__
 * values, strings that hold numbers and names, written and read the same
 * way under every C locale and parsed strictly (no sign, space or leading
 * zero a writer would not write); the format marker that says which librnn
 * file it is; and opening one for reading (its bytes, the container
 * checked, float32 only), the first step of every loader.
 */

#include "internal.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- numbers as text ---------------------------------------------------- */

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
void rnn__meta_format_float(char *buf, size_t size, float value)
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

/* ---- reading metadata --------------------------------------------------- */

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
rnn_status rnn__meta_value(const rnn_st_file *file, const char *key,
                           const char **value, const char *func)
{
    *value = rnn__st_meta(file, key);
    if (*value == NULL)
        return rnn__fail(RNN_E_FORMAT, func, "__metadata__ has no \"%s\"",
                         key);
    return RNN_OK;
}

enum number { NUMBER_U64, NUMBER_I64, NUMBER_FLOAT };

/* The value of `key` parsed as `kind` into *out: a uint64_t, an int64_t
 * within [lo, hi], or a finite float. */
static rnn_status meta_number(const rnn_st_file *file, const char *key,
                              enum number kind, int64_t lo, int64_t hi,
                              void *out, const char *func)
{
    static const char *const expected[] = {
        "an unsigned 64-bit integer", "an integer in range", "a finite float"};
    const char *value;
    rnn_status status = rnn__meta_value(file, key, &value, func);
    if (status != RNN_OK)
        return status;
    const bool parsed = kind == NUMBER_U64   ? parse_u64(value, out)
                        : kind == NUMBER_I64 ? parse_i64(value, lo, hi, out)
                                             : parse_float(value, out);
    return parsed ? RNN_OK : bad_value(key, value, expected[kind], func);
}

rnn_status rnn__meta_u64(const rnn_st_file *file, const char *key,
                         uint64_t *out, const char *func)
{
    return meta_number(file, key, NUMBER_U64, 0, 0, out, func);
}

rnn_status rnn__meta_i64(const rnn_st_file *file, const char *key, int64_t lo,
                         int64_t hi, int64_t *out, const char *func)
{
    return meta_number(file, key, NUMBER_I64, lo, hi, out, func);
}

rnn_status rnn__meta_i32(const rnn_st_file *file, const char *key,
                         int32_t *out, const char *func)
{
    int64_t value = 0;
    rnn_status status =
        rnn__meta_i64(file, key, INT32_MIN, INT32_MAX, &value, func);
    *out = (int32_t)value;
    return status;
}

rnn_status rnn__meta_name(const rnn_st_file *file, const char *key,
                          const char *const *names, int32_t n, int32_t *out,
                          const char *func)
{
    const char *value;
    rnn_status status = rnn__meta_value(file, key, &value, func);
    if (status != RNN_OK)
        return status;
    *out = name_index(value, names, n);
    if (*out < 0)
        return bad_value(key, value, "a known name", func);
    return RNN_OK;
}

rnn_status rnn__meta_float(const rnn_st_file *file, const char *key,
                           float *out, const char *func)
{
    return meta_number(file, key, NUMBER_FLOAT, 0, 0, out, func);
}

/* Which librnn format the metadata declares: RNN_OK with *format NULL when
 * it declares none (a file of another writer), else "librnn" or
 * "librnn-optim" with a supported format_version. */
rnn_status rnn__meta_format(const rnn_st_file *file, const char **format,
                            const char *func)
{
    *format = rnn__st_meta(file, "format");
    if (*format == NULL || (strcmp(*format, "librnn") != 0 &&
                            strcmp(*format, "librnn-optim") != 0)) {
        *format = NULL;
        return RNN_OK;
    }
    const char *version;
    rnn_status status = rnn__meta_value(file, "format_version", &version, func);
    if (status == RNN_OK && strcmp(version, RNN_FORMAT_VERSION) != 0)
        status = rnn__fail(RNN_E_FORMAT, func,
                           "unsupported format_version \"%.16s\" (this library "
                           "reads " RNN_FORMAT_VERSION ")", version);
    return status;
}

/* ---- opening a librnn file ---------------------------------------------- */

rnn_status rnn__librnn_open(rnn_st_file *file, rnn_load_from *from,
                            bool has_out, const char *func)
{
    rnn_status status = rnn__load_begin(from, has_out, func);
    if (status != RNN_OK)
        return status;
    status = rnn__st_parse(file, from->bytes, from->size, func);
    if (status == RNN_OK && (status = rnn__st_all_f32(file, func)) != RNN_OK)
        rnn__st_close(file);
    if (status != RNN_OK)
        rnn__load_end(from);
    return status;
}

void rnn__librnn_close(rnn_st_file *file, rnn_load_from *from)
{
    rnn__st_close(file);
    rnn__load_end(from);
}
