/* SPDX-License-Identifier: MIT
 *
 * released.h - the layouts of the versioned public structs as each release
 * of librnn shipped them. Never edited once released: a new field goes at
 * the end of the struct in rnn.h, and the release that adds it adds its
 * frozen layout here and its size to versioned.c. compat.c returns the
 * 0.1.0 layouts from the by-value initialisers that 0.1.0 binaries call.
 *
 * A release's additions must change sizeof: struct_size is all that tells
 * an older caller from a newer one, and the old layout's trailing padding
 * may hold garbage. When the new fields fit in that padding (an int32
 * after rnn_optim_config's eps, say), add a reserved field that must be 0
 * to grow the struct. versioned.c asserts that the sizes differ.
 */
#ifndef RNN_RELEASED_H
#define RNN_RELEASED_H

#include <stddef.h>
#include <stdint.h>

typedef struct rnn__config_0_1 {
    size_t struct_size;
    int32_t input_size, hidden_size, num_layers, bidirectional, nonlinearity;
    int32_t bias, batch_first, output_size, head_mode, reserved;
    uint64_t seed;
} rnn__config_0_1;

typedef struct rnn__optim_config_0_1 {
    size_t struct_size;
    int32_t kind, nesterov;
    float lr, momentum, dampening, weight_decay, beta1, beta2, eps;
} rnn__optim_config_0_1;

typedef struct rnn__tensor_info_0_1 {
    size_t struct_size;
    const char *name;
    size_t offset, count;
    int32_t ndim, shape[2];
} rnn__tensor_info_0_1;

typedef struct rnn__allocator_0_1 {
    size_t struct_size;
    void *(*malloc_fn)(void *user, size_t size);
    void (*free_fn)(void *user, void *ptr);
    void *user;
} rnn__allocator_0_1;

/* Every later layout starts with the released one, field for field. */
#define RNN__SAME_OFFSET(now, old, field)                                      \
    _Static_assert(offsetof(now, field) == offsetof(old, field),               \
                   #now "." #field " moved")

#endif /* RNN_RELEASED_H */
