/* SPDX-License-Identifier: MIT
 *
 * blas_single.c - what the bench's own copy of src/blas.c needs from
 * librnn's threading (src/pool.h): nothing of it. bench_calls.c times
 * single BLAS calls as the BLAS makes them at the run's thread count, so
 * this copy acts as if it ran inside a librnn region: it never cuts a
 * product for librnn's threads nor touches the BLAS's thread setting.
 */
#include "pool.h"

bool rnn__pool_in_region(void)
{
    return true;
}

int rnn__row_slices(int64_t rows, double row_flops)
{
    (void)rows;
    (void)row_flops;
    return 1;
}

int32_t rnn__slice_start(int32_t rows, int index, int count, int32_t align)
{
    (void)align;
    return (int32_t)((int64_t)rows * index / count);
}

void rnn__pool_run(int count, rnn__task_fn fn, void *ctx)
{
    for (int i = 0; i < count; ++i)
        fn(ctx, i, count);
}
