/* SPDX-License-Identifier: MIT
 *
 * dropout.c - the masks of dropout between layers (rnn_config.dropout).
 *
 * The generator is SplitMix64, restarted by rnn_seed_dropout (rnn_create
 * starts it from cfg.seed). A training forward draws the masks of layers
 * 0 .. L-2 in that order, direction by direction, each over its time-major
 * [T, B, H] outputs, two elements per 64-bit draw (low half first): an
 * element is kept when its 32-bit uniform u satisfies u >= p * 2^32. So a
 * run is the same for a given seed and sequence of calls on every machine,
 * whatever the BLAS or its threads.
 */
#include "internal.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rnn__dropout_mask(uint64_t *rng, float p, float *mask, size_t count)
{
    /* p < 1, so the threshold fits 32 bits and a kept element scales by a
     * finite 1 / (1 - p). */
    const uint64_t threshold = (uint64_t)floor((double)p * 4294967296.0);
    const float scale = (float)(1.0 / (1.0 - (double)p));
    uint64_t bits = 0;
    for (size_t i = 0; i < count; ++i) {
        if (i % 2 == 0)
            bits = splitmix64(rng);
        const uint64_t u = i % 2 == 0 ? (bits & 0xffffffffu) : bits >> 32;
        mask[i] = u >= threshold ? scale : 0.0f;
    }
}

rnn_status rnn_seed_dropout(rnn_t *model, uint64_t seed)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_seed_dropout", "model is NULL");
    model->dropout_rng = seed;
    return RNN_OK;
}
