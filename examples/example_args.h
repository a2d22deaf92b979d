/* SPDX-License-Identifier: MIT
 *
 * example_args.h - the command-line helpers the examples share: numbers
 * parsed strictly (the whole text, in range) and options given as
 * "--name value" or "--name=value". Header-only, so that each example is
 * still one program built from one .c file.
 */
#ifndef RNN_EXAMPLE_ARGS_H
#define RNN_EXAMPLE_ARGS_H

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXAMPLE_NAME_MAX = 32 };

static inline int parse_long(const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    const long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return 0;
    *out = v;
    return 1;
}

static inline int parse_u64(const char *text, uint64_t *out)
{
    char *end;
    if (text[0] == '-' || text[0] == '\0')
        return 0;
    errno = 0;
    const unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static inline int parse_double(const char *text, double min, double max,
                               double *out)
{
    char *end;
    errno = 0;
    const double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !isfinite(v) || v < min ||
        v > max)
        return 0;
    *out = v;
    return 1;
}

/* Reads the option at argv[*i], one of the `count` names in `valued`, all of
 * which take a value: its name goes to name[EXAMPLE_NAME_MAX], its value
 * (after '=', or the next argument, which *i then passes) to *value.
 * Returns 0 when read, 1 for --help or -h, -1 for a bad argument, after
 * saying why on stderr (prefixed by `prog`) when `report` is set. */
static inline int next_option(int argc, char **argv, int *i,
                              const char *const *valued, size_t count,
                              const char *prog, int report, char *name,
                              const char **value)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
        return 1;
    const char *eq = strchr(arg, '=');
    const size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (strncmp(arg, "--", 2) != 0 || len >= EXAMPLE_NAME_MAX) {
        if (report)
            fprintf(stderr, "%s: unexpected argument '%s'\n", prog, arg);
        return -1;
    }
    memcpy(name, arg, len);
    name[len] = '\0';
    size_t k = 0;
    while (k < count && strcmp(name, valued[k]) != 0)
        ++k;
    if (k == count) {
        if (report)
            fprintf(stderr, "%s: unknown option '%s'\n", prog, name);
        return -1;
    }
    if (eq != NULL) {
        *value = eq + 1;
    } else if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        if (report)
            fprintf(stderr, "%s: option '%s' needs a value\n", prog, name);
        return -1;
    }
    return 0;
}

#endif /* RNN_EXAMPLE_ARGS_H */
