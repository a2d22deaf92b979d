/* SPDX-License-Identifier: MIT
 *
 * bench_calls.c - single BLAS calls on given shapes (see bench_calls.h).
 */
#include "bench_calls.h"

#include "bench_common.h"
#include "internal.h" /* rnn__rows_product: src/blas.c, compiled into the bench */

#include <math.h>
#include <stdlib.h>

struct bench_calls {
    int batch, hidden, ld, other_ld;
    float *w, *w_t, *w_t_other, *in, *out;
};

/* dst[H, ld] = src[H, H]^T. */
static void transpose(float *dst, int ld, const float *src, int n)
{
    for (int r = 0; r < n; ++r)
        for (int c = 0; c < n; ++c)
            dst[(size_t)c * ld + r] = src[(size_t)r * n + c];
}

bench_calls *bench_calls_create(int batch, int hidden, int ld, int other_ld)
{
    bench_calls *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    const size_t hh = (size_t)hidden * hidden, bh = (size_t)batch * hidden;
    *c = (bench_calls){batch, hidden, ld, other_ld, malloc(hh * sizeof(float)),
                       calloc((size_t)hidden * ld, sizeof(float)),
                       calloc((size_t)hidden * other_ld, sizeof(float)),
                       malloc(bh * sizeof(float)), malloc(bh * sizeof(float))};
    if (!c->w || !c->w_t || !c->w_t_other || !c->in || !c->out) {
        bench_calls_destroy(c);
        return NULL;
    }
    /* PyTorch's initialisation range, and states in (-1, 1) */
    const float bound = 1.0f / sqrtf((float)hidden);
    bench_fill_uniform(c->w, hh, -bound, bound, 11);
    bench_fill_uniform(c->in, bh, -1, 1, 12);
    bench_fill_uniform(c->out, bh, -1, 1, 13);
    transpose(c->w_t, ld, c->w, hidden);
    transpose(c->w_t_other, other_ld, c->w, hidden);
    return c;
}

void bench_calls_destroy(bench_calls *c)
{
    if (c == NULL)
        return;
    free(c->w);
    free(c->w_t);
    free(c->w_t_other);
    free(c->in);
    free(c->out);
    free(c);
}

void bench_call_on_w(void *p)
{
    bench_calls *c = p;
    rnn__rows_product(c->batch, c->hidden, c->hidden, c->in, c->w, c->hidden, true,
                      1.0f, c->out);
}

void bench_call_on_copy(void *p)
{
    bench_calls *c = p;
    rnn__rows_product(c->batch, c->hidden, c->hidden, c->in, c->w_t, c->ld, false,
                      1.0f, c->out);
}

void bench_call_on_other_ld(void *p)
{
    bench_calls *c = p;
    rnn__rows_product(c->batch, c->hidden, c->hidden, c->in, c->w_t_other,
                      c->other_ld, false, 1.0f, c->out);
}

void bench_call_backward(void *p)
{
    bench_calls *c = p;
    rnn__rows_product(c->batch, c->hidden, c->hidden, c->in, c->w, c->hidden, false,
                      1.0f, c->out);
}
