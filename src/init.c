/* SPDX-License-Identifier: MIT
 *
 * init.c - seeded, portable parameter initialisation: fills a model's
 * parameters (the public rnn_init in model.c also renews what is derived
 * from them).
 *
 * The generator is xoshiro256** seeded by SplitMix64 (both by Vigna and
 * Blackman, public domain algorithms), written out here so that a seed gives
 * the same weights on every machine and libc: only integer arithmetic and one
 * exactly rounded double-to-float conversion per value.
 */
#include "internal.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

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

/* Standard normal by Box-Muller; one draw per call keeps the stream simple. */
static double rng_normal(rng *r)
{
    const double u1 = ((double)(rng_next(r) >> 11) + 1.0) * 0x1p-53; /* (0, 1] */
    const double u2 = (double)(rng_next(r) >> 11) * 0x1p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void init_head(const rnn_t *model, rng *r, float *params)
{
    if (model->cfg.output_size == 0)
        return;
    const int32_t width = model->dirs * rnn__state_size(&model->cfg);
    const double bound = 1.0 / sqrt((double)width);
    const size_t count = (size_t)model->cfg.output_size *
                         ((size_t)width + 1);
    fill(r, params + model->head_w, count, bound);
}

/* embedding.weight ~ N(0, 1) like torch.nn.Embedding, its padding row 0.
 * Drawn after every other tensor, so that a model without token input
 * draws the same stream as before it existed. */
static void init_embedding(const rnn_t *model, rng *r, float *params)
{
    const rnn_config *cfg = &model->cfg;
    if (cfg->vocab_size == 0)
        return;
    const size_t in = (size_t)cfg->input_size;
    float *embedding = params + model->embed_w;
    for (size_t i = 0; i < (size_t)cfg->vocab_size * in; ++i)
        embedding[i] = (float)rng_normal(r);
    if (cfg->has_padding_idx)
        memset(embedding + (size_t)cfg->padding_idx * in, 0,
               in * sizeof(float));
}

static void fill_xavier(rng *r, float *w, int32_t rows, int32_t cols)
{
    fill(r, w, (size_t)rows * cols, sqrt(6.0 / ((double)rows + cols)));
}

/* W [rows, cols] with orthonormal columns (rows >= cols) or rows, like
 * torch.nn.init.orthogonal_: Q of the QR of a Gaussian matrix (of W^T when
 * rows < cols), column j times sign(R_jj): without the sign fix Q would not
 * be uniformly (Haar) distributed. `work` holds rows*cols + 2*max floats. */
static rnn_status fill_orthogonal(rng *r, float *w, int32_t rows, int32_t cols,
                                  float *work)
{
    const bool wide = rows < cols;
    const int32_t m = wide ? cols : rows, n = wide ? rows : cols;
    const size_t count = (size_t)m * n;
    float *tau = work + count, *signs = tau + m;
    for (size_t i = 0; i < count; ++i)
        work[i] = (float)rng_normal(r);
    lapack_int info = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, m, n, work, n, tau);
    if (info == 0) {
        for (int32_t j = 0; j < n; ++j)
            signs[j] = work[(size_t)j * n + j] < 0.0f ? -1.0f : 1.0f;
        info = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, m, n, n, work, n, tau);
    }
    if (info != 0)
        return rnn__fail(RNN_E_UNSUPPORTED, "rnn_init",
                         "LAPACK QR failed (info %d)", (int)info);
    for (int32_t i = 0; i < m; ++i)
        for (int32_t j = 0; j < n; ++j) {
            const float q = work[(size_t)i * n + j] * signs[j];
            if (wide)
                w[(size_t)j * cols + i] = q;
            else
                w[(size_t)i * cols + j] = q;
        }
    return RNN_OK;
}

/* One recurrent map [rows, cols] of the scheme (Xavier or orthogonal). */
static rnn_status fill_recurrent(rng *r, int32_t scheme, float *w,
                                 int32_t rows, int32_t cols, float *work)
{
    if (scheme == RNN_INIT_ORTHOGONAL)
        return fill_orthogonal(r, w, rows, cols, work);
    fill_xavier(r, w, rows, cols);
    return RNN_OK;
}

/* Xavier or orthogonal scheme into `params` (a scratch copy), gate block by
 * gate block: each block is one [H, .] map of its own (an LSTM's i, f, g,
 * o), so each gets the fans, or the orthogonality, of a square map; an
 * LSTM's weight_hr [P, H] is one more map, after the cell's gates. */
static rnn_status init_scheme(const rnn_t *model, int32_t scheme, rng *r,
                              float *params, float *work)
{
    const int32_t hidden = model->cfg.hidden_size;
    const int32_t gates = model->cell_ops->gates;
    const int32_t state = rnn__state_size(&model->cfg); /* h_{t-1}'s width */
    for (int32_t cell = 0; cell < model->num_cells; ++cell) {
        rnn_cell_view w = rnn__cell(model, params, cell);
        const int32_t in_size = model->cells[cell].in_size;
        for (int32_t gate = 0; gate < gates; ++gate) {
            fill_xavier(r, w.w_ih + (size_t)gate * hidden * in_size, hidden,
                        in_size);
            rnn_status status =
                fill_recurrent(r, scheme, w.w_hh + (size_t)gate * hidden * state,
                               hidden, state, work);
            if (status != RNN_OK)
                return status;
        }
        if (w.b_ih != NULL) {
            memset(w.b_ih, 0, (size_t)gates * hidden * sizeof(float));
            memset(w.b_hh, 0, (size_t)gates * hidden * sizeof(float));
        }
        if (w.w_hr != NULL) {
            rnn_status status = fill_recurrent(r, scheme, w.w_hr, state,
                                               hidden, work);
            if (status != RNN_OK)
                return status;
        }
    }
    init_head(model, r, params);
    init_embedding(model, r, params);
    return RNN_OK;
}

void rnn__init_uniform(rnn_t *model, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    /* One stream in state_dict order, like PyTorch's reset_parameters: the
     * RNN tensors (contiguous, after the embedding) use 1/sqrt(H), then the
     * head (a Linear layer) its own bound, then the embedding. */
    const size_t first = model->cells[0].w_ih;
    const size_t end =
        model->cfg.output_size > 0 ? model->head_w : model->num_params;
    fill(&r, model->params + first, end - first,
         1.0 / sqrt((double)model->cfg.hidden_size));
    init_head(model, &r, model->params);
    init_embedding(model, &r, model->params);
}

rnn_status rnn__init_params(rnn_t *model, int32_t scheme, uint64_t seed,
                            const char *func)
{
    if (scheme == RNN_INIT_UNIFORM) {
        rnn__init_uniform(model, seed);
        return RNN_OK;
    }
    if (scheme != RNN_INIT_XAVIER_UNIFORM && scheme != RNN_INIT_ORTHOGONAL)
        return rnn__fail(RNN_E_INVALID_ARG, func, "unknown init scheme %d",
                         scheme);
    /* Built in a scratch copy so that a failure leaves the model as it was. */
    const size_t hidden = (size_t)model->cfg.hidden_size;
    size_t work_floats, total;
    if (!rnn__mul(hidden, hidden + 2, &work_floats) ||
        (total = model->num_params + work_floats) < work_floats)
        return rnn__fail(RNN_E_SHAPE, func, "hidden_size %zu is too large", hidden);
    float *scratch = rnn__calloc(total, sizeof(float));
    if (scratch == NULL)
        return rnn__fail_nomem(func);
    rng r;
    rng_seed(&r, seed);
    rnn_status status =
        init_scheme(model, scheme, &r, scratch, scratch + model->num_params);
    if (status == RNN_OK)
        memcpy(model->params, scratch, model->num_params * sizeof(float));
    rnn__free(scratch);
    return status;
}
