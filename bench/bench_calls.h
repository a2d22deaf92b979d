/* SPDX-License-Identifier: MIT
 *
 * bench_calls.h - single BLAS calls on given shapes, timed alone: the speed
 * the BLAS reaches at the recurrence's shape, and on layouts librnn does
 * not use (what-ifs). They go through the library's own BLAS layer
 * (src/blas.c compiled into the bench: its row blocks for OpenBLAS's small
 * kernel included) on random operands; they re-enact no call sequence of
 * src/, so they need no keeping in sync: only the layout names below say
 * which call each is.
 */
#ifndef RNN_BENCH_CALLS_H
#define RNN_BENCH_CALLS_H

typedef struct bench_calls bench_calls;

/* Operands for a (B, H, H) product: W [H, H] in PyTorch's layout, its
 * transpose with rows of ld floats and of other_ld floats. NULL when out of
 * memory. */
bench_calls *bench_calls_create(int batch, int hidden, int ld, int other_ld);
void bench_calls_destroy(bench_calls *c);

/* out[B, H] += h W^T, on W itself (sgemm NT, or sgemv when B = 1). */
void bench_call_on_w(void *c);
/* The same product on the W^T copy (sgemm NN, or sgemv T), rows of ld. */
void bench_call_on_copy(void *c);
/* ... on the copy with rows of other_ld floats. */
void bench_call_on_other_ld(void *c);
/* out[B, H] += d W, backward's per-step product (sgemm NN, or sgemv T). */
void bench_call_backward(void *c);

#endif /* RNN_BENCH_CALLS_H */
