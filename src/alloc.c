/* SPDX-License-Identifier: MIT
 *
 * alloc.c - the one allocator pair every heap byte of the library goes
 * through, so that failures can be injected and a custom allocator plugged in.
 */
#include "internal.h"

#include <stdlib.h>

void *rnn__malloc(size_t bytes)
{
    return malloc(bytes == 0 ? 1 : bytes);
}

void *rnn__calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        count = size = 1;
    return calloc(count, size);
}

void rnn__free(void *ptr)
{
    free(ptr);
}

rnn_status rnn__reserve(float **arena, size_t *capacity, size_t floats,
                        const char *func)
{
    if (floats <= *capacity)
        return RNN_OK;
    size_t bytes;
    if (!rnn__mul(floats, sizeof(float), &bytes))
        return rnn__fail(RNN_E_SHAPE, func, "workspace of %zu floats overflows",
                         floats);
    float *grown = rnn__malloc(bytes);
    if (grown == NULL)
        return rnn__fail_nomem(func);
    rnn__free(*arena);
    *arena = grown;
    *capacity = floats;
    return RNN_OK;
}
