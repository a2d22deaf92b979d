/* SPDX-License-Identifier: MIT
 *
 * alloc.c - the one allocator pair every heap byte of the library goes
 * through, so that a caller can plug in its own allocator and tests can
 * make the N-th allocation fail.
 */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *default_malloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static rnn_allocator current = {.struct_size = sizeof(rnn_allocator),
                                .malloc_fn = default_malloc,
                                .free_fn = default_free};

rnn_status rnn_set_allocator(const rnn_allocator *allocator)
{
    static const char *func = "rnn_set_allocator";
    if (allocator == NULL) {
        current.malloc_fn = default_malloc;
        current.free_fn = default_free;
        current.user = NULL;
        return RNN_OK;
    }
    rnn_allocator full;
    memset(&full, 0, sizeof full);
    rnn_status status = rnn__struct_read(&full, allocator,
                                         &rnn__allocator_layout, "allocator",
                                         func);
    if (status != RNN_OK)
        return status;
    if (full.malloc_fn == NULL || full.free_fn == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, func,
                         "malloc_fn and free_fn must both be set");
    current = full;
    return RNN_OK;
}

void *rnn__malloc(size_t bytes)
{
    /* No object may exceed PTRDIFF_MAX bytes (pointer differences would
     * overflow); malloc refuses such sizes too, but tools flag the call. */
    if (bytes > PTRDIFF_MAX)
        return NULL;
    return current.malloc_fn(current.user, bytes == 0 ? 1 : bytes);
}

void *rnn__calloc(size_t count, size_t size)
{
    size_t bytes;
    if (!rnn__mul(count, size, &bytes))
        return NULL;
    void *ptr = rnn__malloc(bytes);
    if (ptr != NULL)
        memset(ptr, 0, bytes == 0 ? 1 : bytes);
    return ptr;
}

void rnn__free(void *ptr)
{
    if (ptr != NULL)
        current.free_fn(current.user, ptr);
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

bool rnn__sum_floats(const size_t *floats, int count, size_t *total)
{
    *total = 0;
    for (int i = 0; i < count; ++i) {
        if (*total + floats[i] < *total)
            return false;
        *total += floats[i];
    }
    return true;
}

void rnn__carve(float *arena, const size_t *floats, int count,
                float **const *parts)
{
    for (int i = 0; i < count; ++i) {
        *parts[i] = floats[i] != 0 ? arena : NULL;
        arena += floats[i];
    }
}
