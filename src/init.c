/* SPDX-License-Identifier: MIT
 *
 * init.c - seeded, portable parameter initialisation.
 *
 * The generator is xoshiro256** seeded by SplitMix64 (both by Vigna and
 * Blackman, public domain algorithms), written out here so that a seed gives
 * the same weights on every machine and libc: only integer arithmetic and one
 * exactly rounded double-to-float conversion per value.
 */
#include "internal.h"

#include <math.h>

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; ++i)
        r->s[i] = splitmix64(&seed);
}

/* Uniform on [-bound, bound): 24 random bits, the resolution of a float. */
static float rng_symmetric(rng *r, double bound)
{
    double unit = (double)(rng_next(r) >> 40) * 0x1p-24;
    return (float)((2.0 * unit - 1.0) * bound);
}

static void fill(rng *r, float *dst, size_t count, double bound)
{
    for (size_t i = 0; i < count; ++i)
        dst[i] = rng_symmetric(r, bound);
}

void rnn__init_uniform(rnn_t *model, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    const double rnn_bound = 1.0 / sqrt((double)model->cfg.hidden_size);
    const double head_bound =
        1.0 / sqrt((double)model->dirs * model->cfg.hidden_size);
    /* One stream over the tensors in state_dict order, like PyTorch's
     * reset_parameters: every RNN tensor uses 1/sqrt(H), the head (a Linear
     * layer) 1/sqrt(fan_in). */
    for (int32_t i = 0; i < model->num_tensors; ++i) {
        const rnn_tensor *t = &model->tensors[i];
        bool is_head = model->cfg.output_size > 0 && t->offset >= model->head_w;
        fill(&r, model->params + t->offset, (size_t)t->rows * (size_t)t->cols,
             is_head ? head_bound : rnn_bound);
    }
}

rnn_status rnn_init_uniform(rnn_t *model, uint64_t seed)
{
    if (model == NULL)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_init_uniform", "model is NULL");
    rnn__init_uniform(model, seed);
    return RNN_OK;
}
