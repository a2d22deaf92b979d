/* SPDX-License-Identifier: MIT
 *
 * fuzz_common.h - what the fuzz targets share: a checking allocator plugged
 * in with rnn_set_allocator (it counts live blocks, so that a leak is seen
 * after every input and not only at exit; refuses blocks above a cap, so a
 * hostile size gives RNN_E_NOMEM instead of exhausting the machine; and can
 * make its N-th allocation fail), and the check macro.
 *
 * Header-only on purpose: each target is one translation unit built alone by
 * run_fuzz.sh (clang, libFuzzer) or with standalone_driver.c (ctest).
 */
#ifndef RNN_FUZZ_COMMON_H
#define RNN_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rnn.h>

/* A broken invariant: say which and abort, so that libFuzzer keeps the input
 * as a crash and the replay test fails. */
#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: check failed: %s (last error: \"%s\")\n", \
                    __FILE__, __LINE__, #cond, rnn_last_error());             \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* Blocks are prefixed with their size so the allocator can keep byte
 * counts; 16 bytes keep the user block aligned for any float or pointer. */
enum { FUZZ_HEADER = 16 };

typedef struct fuzz_heap {
    size_t live_blocks, live_bytes;
    size_t calls;    /* malloc_fn calls since fuzz_heap_reset */
    size_t fail_at;  /* 1-based call to refuse; 0: none */
    size_t cap;      /* largest block granted */
} fuzz_heap;

static fuzz_heap fuzz_heap_state;

static void *fuzz_malloc(void *user, size_t size)
{
    fuzz_heap *heap = user;
    ++heap->calls;
    if (heap->calls == heap->fail_at || size > heap->cap)
        return NULL;
    unsigned char *block = malloc(size + FUZZ_HEADER);
    if (block == NULL)
        return NULL;
    memcpy(block, &size, sizeof size);
    ++heap->live_blocks;
    heap->live_bytes += size;
    return block + FUZZ_HEADER;
}

static void fuzz_free(void *user, void *ptr)
{
    fuzz_heap *heap = user;
    if (ptr == NULL)
        return;
    unsigned char *block = (unsigned char *)ptr - FUZZ_HEADER;
    size_t size;
    memcpy(&size, block, sizeof size);
    FUZZ_CHECK(heap->live_blocks > 0 && heap->live_bytes >= size);
    --heap->live_blocks;
    heap->live_bytes -= size;
    free(block);
}

/* Installs the checking allocator (once per process) and starts a new input:
 * no failure planned, blocks up to `cap` bytes. */
static void fuzz_heap_reset(size_t cap, size_t fail_at)
{
    static int installed;
    if (!installed) {
        rnn_allocator a;
        a.struct_size = sizeof a;
        a.malloc_fn = fuzz_malloc;
        a.free_fn = fuzz_free;
        a.user = &fuzz_heap_state;
        if (rnn_set_allocator(&a) != RNN_OK) {
            fprintf(stderr, "rnn_set_allocator: %s\n", rnn_last_error());
            abort();
        }
        installed = 1;
    }
    fuzz_heap_state.calls = 0;
    fuzz_heap_state.fail_at = fail_at;
    fuzz_heap_state.cap = cap;
}

/* A failed call left a message naming the function. */
static inline int fuzz_message_names(const char *func)
{
    const char *msg = rnn_last_error();
    return msg[0] != '\0' && strncmp(msg, func, strlen(func)) == 0;
}

#endif /* RNN_FUZZ_COMMON_H */
