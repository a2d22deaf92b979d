/* SPDX-License-Identifier: MIT
 *
 * example_random.h - the random numbers of the examples that include it:
 * SplitMix64 (Steele, Lea, Flood 2014) 64-bit words, uniform doubles in the
 * open interval (0, 1) as ((w >> 11) + 0.5) * 2^-53, uniform integers below
 * n without modulo bias. Header-only, like example_args.h, so that each
 * example stays one program built from one .c file. The same seed gives the
 * same numbers on every machine.
 */
#ifndef RNN_EXAMPLE_RANDOM_H
#define RNN_EXAMPLE_RANDOM_H

#include <stdint.h>

static inline uint64_t example_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double example_uniform(uint64_t *state)
{
    return ((double)(example_splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
}

/* Uniform integer in [0, n), n > 0. */
static inline uint64_t example_below(uint64_t *state, uint64_t n)
{
    const uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        const uint64_t w = example_splitmix64(state);
        if (w >= threshold)
            return w % n;
    }
}

#endif /* RNN_EXAMPLE_RANDOM_H */
