/* SPDX-License-Identifier: MIT
 *
 * test_embedding.c - token input (vocab_size > 0): a token model against a
 * float-input model with the same RNN weights fed the gathered embedding
 * rows x = E[ids] (outputs, every RNN gradient, and the embedding gradient
 * as the scatter-add of that model's dx, the padding row zero), both ways
 * of projecting (gathered rows, or the projected table when 2V <= T*B), all
 * three cells; central differences of the embedding rows (repeated ids);
 * rnn_step_tokens against the forward; the inference forward against the
 * training one; init (the RNN's draws unchanged, the table N(0, 1), the
 * padding row 0); save and load; and each bad input refused with its
 * status and message, nothing written.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double TOL = 1e-5;

typedef struct spec {
    int32_t cell, V, I, H, L, D, batch_first, T, B;
    int32_t pad;     /* padding_idx as given (may be negative); NO_PAD: none */
    int32_t lengths; /* 1: sequence b has T - b % 2 steps */
    int32_t P;       /* LSTM proj_size, 0: none */
} spec;

/* The width of h and y per direction. */
static int32_t hout(const spec *s)
{
    return s->P > 0 ? s->P : s->H;
}

enum { NO_PAD = 1000 };

/* A token model, the float-input model with its RNN weights, and a batch:
 * ids (caller layout) and x = their embedding rows (same layout). */
typedef struct pair {
    spec s;
    rnn_t *tok, *dense;
    int32_t pad;                /* normalised padding_idx, or -1 */
    size_t n_ids, n_x, n_y, n_h, n_emb;
    int32_t *ids, *lengths;
    float *x, *dy, *dh_n;
} pair;

static rnn_config spec_config(const spec *s, bool tokens)
{
    rnn_config cfg;
    TU_OK(rnn_config_init(&cfg, sizeof cfg, s->I, s->H));
    cfg.cell = s->cell;
    cfg.proj_size = s->P;
    cfg.num_layers = s->L;
    cfg.bidirectional = s->D - 1;
    cfg.batch_first = s->batch_first;
    cfg.seed = 5;
    if (tokens) {
        cfg.vocab_size = s->V;
        cfg.has_padding_idx = s->pad != NO_PAD;
        cfg.padding_idx = s->pad != NO_PAD ? s->pad : 0;
    }
    return cfg;
}

/* x rows = E rows of the ids. */
static void gather_x(pair *p)
{
    float *params;
    TU_OK(rnn_params(p->tok, &params, NULL));
    for (size_t i = 0; i < p->n_ids; ++i)
        memcpy(p->x + i * p->s.I, params + (size_t)p->ids[i] * p->s.I,
               (size_t)p->s.I * sizeof(float));
}

static void pair_init(pair *p, const spec *s, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->s = *s;
    rnn_config cfg = spec_config(s, true);
    TU_OK(rnn_create(&p->tok, &cfg));
    rnn_config got;
    TU_OK(rnn_config_init(&got, sizeof got, 1, 1));
    TU_OK(rnn_get_config(p->tok, &got));
    p->pad = got.has_padding_idx ? got.padding_idx : -1;
    cfg = spec_config(s, false);
    TU_OK(rnn_create(&p->dense, &cfg));
    float *tp, *dp;
    size_t tn, dn;
    TU_OK(rnn_params(p->tok, &tp, &tn));
    TU_OK(rnn_params(p->dense, &dp, &dn));
    p->n_emb = (size_t)s->V * s->I;
    assert_int_equal(tn, dn + p->n_emb);
    memcpy(dp, tp + p->n_emb, dn * sizeof(float));

    p->n_ids = (size_t)s->T * s->B;
    p->n_x = p->n_ids * s->I;
    p->n_y = p->n_ids * s->D * hout(s);
    p->n_h = (size_t)s->L * s->D * s->B * hout(s);
    p->ids = malloc(p->n_ids * sizeof *p->ids);
    p->lengths = malloc((size_t)s->B * sizeof *p->lengths);
    assert_non_null(p->ids);
    assert_non_null(p->lengths);
    tu_rng rng = tu_rng_make(seed);
    for (size_t i = 0; i < p->n_ids; ++i)
        p->ids[i] = (int32_t)tu_uniform(&rng, 0.0, (double)s->V - 1e-9);
    if (p->n_ids > 1)
        p->ids[1] = p->ids[0]; /* a repeated id */
    if (p->pad >= 0 && p->n_ids > 2)
        p->ids[2] = p->pad;
    for (int32_t b = 0; b < s->B; ++b)
        p->lengths[b] = s->T - b % 2;
    p->x = tu_floats(p->n_x);
    p->dy = tu_floats(p->n_y);
    p->dh_n = tu_floats(p->n_h);
    tu_fill(&rng, p->dy, p->n_y, -1.0, 1.0);
    tu_fill(&rng, p->dh_n, p->n_h, -1.0, 1.0);
    gather_x(p);
}

static void pair_free(pair *p)
{
    rnn_destroy(p->tok);
    rnn_destroy(p->dense);
    free(p->ids);
    free(p->lengths);
    free(p->x);
    free(p->dy);
    free(p->dh_n);
}

static const int32_t *pair_lengths(const pair *p)
{
    return p->s.lengths ? p->lengths : NULL;
}

static rnn_status forward_tokens(pair *p, int32_t inference, float *y,
                                 float *h_n)
{
    rnn_forward_args args;
    TU_OK(rnn_forward_args_init(&args, sizeof args));
    args.seq_len = p->s.T;
    args.batch = p->s.B;
    args.ids = p->ids;
    args.lengths = pair_lengths(p);
    args.inference = inference;
    args.y = y;
    args.h_n = h_n;
    return rnn_forward_ex(p->tok, &args);
}

/* Gathered rows (2V > T*B) and the projected table (2V <= T*B), each cell,
 * with layers, directions, batch_first, lengths and padding. */
static const spec SPECS[] = {
    {RNN_CELL_RNN, 11, 3, 4, 1, 1, 0, 2, 3, NO_PAD, 0, 0},
    {RNN_CELL_RNN, 5, 3, 4, 2, 2, 1, 4, 3, 2, 1, 0},
    {RNN_CELL_LSTM, 11, 3, 4, 1, 1, 0, 2, 3, 0, 0, 0},
    {RNN_CELL_LSTM, 5, 2, 3, 1, 2, 1, 5, 2, NO_PAD, 1, 0},
    {RNN_CELL_LSTM, 5, 3, 4, 2, 1, 0, 4, 3, 1, 0, 2},  /* proj_size, table */
    {RNN_CELL_LSTM, 30, 3, 4, 1, 2, 1, 2, 3, NO_PAD, 1, 3}, /* gather */
    {RNN_CELL_GRU, 11, 3, 4, 2, 1, 0, 2, 3, -1, 0, 0},
    {RNN_CELL_GRU, 4, 3, 4, 1, 2, 0, 6, 2, 1, 1, 0},
};
enum { N_SPECS = sizeof SPECS / sizeof SPECS[0] };

static void forward_and_gradients_equal_the_dense_model_on_gathered_rows(void **state)
{
    (void)state;
    for (int k = 0; k < N_SPECS; ++k) {
        pair p;
        pair_init(&p, &SPECS[k], 100 + (uint64_t)k);
        float *y = tu_floats(p.n_y), *h_n = tu_floats(p.n_h);
        float *y_d = tu_floats(p.n_y), *h_n_d = tu_floats(p.n_h);
        float *dx = tu_floats(p.n_x);
        TU_OK(forward_tokens(&p, 0, y, h_n));
        TU_OK(rnn_forward(p.dense, p.s.T, p.s.B, p.x, pair_lengths(&p), NULL,
                          y_d, h_n_d));
        assert_true(tu_close_f("y", y, y_d, p.n_y, TOL));
        assert_true(tu_close_f("h_n", h_n, h_n_d, p.n_h, TOL));

        TU_OK(rnn_zero_grad(p.tok));
        TU_OK(rnn_backward(p.tok, p.dy, p.dh_n, NULL, NULL));
        TU_OK(rnn_zero_grad(p.dense));
        TU_OK(rnn_backward(p.dense, p.dy, p.dh_n, dx, NULL));
        float *g_tok, *g_dense;
        size_t n_dense;
        TU_OK(rnn_grads(p.tok, &g_tok, NULL));
        TU_OK(rnn_grads(p.dense, &g_dense, &n_dense));
        assert_true(tu_close_f("RNN gradients", g_tok + p.n_emb, g_dense,
                               n_dense, TOL));
        /* dE = dx scattered by id, nothing at the padding row. */
        double *want = calloc(p.n_emb, sizeof *want);
        assert_non_null(want);
        for (size_t i = 0; i < p.n_ids; ++i)
            for (int32_t c = 0; p.ids[i] != p.pad && c < p.s.I; ++c)
                want[(size_t)p.ids[i] * p.s.I + c] += dx[i * p.s.I + c];
        assert_true(tu_close("embedding.weight gradient", g_tok, want,
                             p.n_emb, TOL));
        for (int32_t c = 0; p.pad >= 0 && c < p.s.I; ++c)
            assert_true(g_tok[(size_t)p.pad * p.s.I + c] == 0.0f);
        free(want);
        free(y);
        free(h_n);
        free(y_d);
        free(h_n_d);
        free(dx);
        pair_free(&p);
    }
}

/* sum(y * dy) + sum(h_n * dh_n) of a training forward, in double. */
static double pair_loss(pair *p, float *y, float *h_n)
{
    TU_OK(forward_tokens(p, 0, y, h_n));
    double loss = 0.0;
    for (size_t i = 0; i < p->n_y; ++i)
        loss += (double)y[i] * p->dy[i];
    for (size_t i = 0; i < p->n_h; ++i)
        loss += (double)h_n[i] * p->dh_n[i];
    return loss;
}

/* Every element of the embedding rows of ids[0] (repeated at ids[1]) and
 * ids[3], and of W_ih_l0's first row, against central differences. */
static void gradients_match_central_differences(void **state)
{
    (void)state;
    for (int k = 0; k < N_SPECS; ++k) {
        pair p;
        pair_init(&p, &SPECS[k], 200 + (uint64_t)k);
        float *y = tu_floats(p.n_y), *h_n = tu_floats(p.n_h);
        float *params, *grads;
        TU_OK(rnn_params(p.tok, &params, NULL));
        TU_OK(rnn_grads(p.tok, &grads, NULL));
        TU_OK(rnn_zero_grad(p.tok));
        (void)pair_loss(&p, y, h_n);
        TU_OK(rnn_backward(p.tok, p.dy, p.dh_n, NULL, NULL));
        float *analytic = tu_copy(grads, p.n_emb + (size_t)p.s.I);
        size_t at[3] = {(size_t)p.ids[0] * p.s.I, (size_t)p.ids[3] * p.s.I,
                        p.n_emb /* weight_ih_l0, row 0 */};
        for (int r = 0; r < 3; ++r) {
            if (r < 2 && p.ids[r == 0 ? 0 : 3] == p.pad)
                continue;
            for (int32_t c = 0; c < p.s.I; ++c) {
                const size_t i = at[r] + (size_t)c;
                const float keep = params[i], eps = 1e-2f;
                params[i] = keep + eps;
                const double up = pair_loss(&p, y, h_n);
                params[i] = keep - eps;
                const double down = pair_loss(&p, y, h_n);
                params[i] = keep;
                const double fd = (up - down) / (2.0 * eps);
                if (fabs(fd - analytic[i]) > 2e-2 * fmax(1.0, fabs(fd)))
                    fail_msg("spec %d: gradient %zu: analytic %g, central "
                             "difference %g", k, i, (double)analytic[i], fd);
            }
        }
        free(analytic);
        free(y);
        free(h_n);
        pair_free(&p);
    }
}

/* rnn_step_tokens over the steps gives rnn_forward's outputs, reading the
 * parameters or the packed copy. */
static void step_tokens_equals_forward(void **state)
{
    (void)state;
    for (int k = 0; k < N_SPECS; ++k) {
        spec s = SPECS[k];
        s.D = 1;
        s.lengths = 0;
        pair p;
        pair_init(&p, &s, 300 + (uint64_t)k);
        float *y = tu_floats(p.n_y), *h_n = tu_floats(p.n_h);
        TU_OK(forward_tokens(&p, 1, y, h_n));
        for (int packed = 0; packed < 2; ++packed) {
            if (packed)
                TU_OK(rnn_pack_weights(p.tok));
            rnn_state_t *st = NULL;
            TU_OK(rnn_state_create(&st, p.tok, s.B));
            const int32_t w = hout(&s);
            float *y_t = tu_floats((size_t)s.B * w);
            float *want = tu_floats((size_t)s.B * w);
            int32_t ids_t[8];
            for (int32_t t = 0; t < s.T; ++t) {
                for (int32_t b = 0; b < s.B; ++b) {
                    const size_t row = s.batch_first ? (size_t)b * s.T + t
                                                     : (size_t)t * s.B + b;
                    ids_t[b] = p.ids[row];
                    memcpy(want + (size_t)b * w, y + row * w,
                           (size_t)w * sizeof(float));
                }
                TU_OK(rnn_step_tokens(p.tok, st, ids_t, y_t));
                assert_true(tu_close_f("y_t", y_t, want, (size_t)s.B * w,
                                       TOL));
            }
            free(y_t);
            free(want);
            rnn_state_destroy(st);
        }
        free(y);
        free(h_n);
        pair_free(&p);
    }
}

/* Long enough for the inference forward to go in chunks: the same bits as
 * the training forward, through the table and through gathered rows. */
static void inference_forward_equals_training_forward(void **state)
{
    (void)state;
    const int32_t vocabs[2] = {7, 9000}; /* 2V <= T*B: table; else gather */
    for (int v = 0; v < 2; ++v) {
        const spec s = {RNN_CELL_GRU, vocabs[v], 2, 3, 2, 1, 1, 100, 64, 3, 1, 0};
        pair p;
        pair_init(&p, &s, 400 + (uint64_t)v);
        float *y = tu_floats(p.n_y), *h_n = tu_floats(p.n_h);
        float *y_i = tu_floats(p.n_y), *h_n_i = tu_floats(p.n_h);
        TU_OK(forward_tokens(&p, 0, y, h_n));
        TU_OK(forward_tokens(&p, 1, y_i, h_n_i));
        assert_memory_equal(y, y_i, p.n_y * sizeof(float));
        assert_memory_equal(h_n, h_n_i, p.n_h * sizeof(float));
        free(y);
        free(h_n);
        free(y_i);
        free(h_n_i);
        pair_free(&p);
    }
}

/* The RNN's weights are drawn as without an embedding; the table after
 * them, N(0, 1), its padding row 0 (a negative padding_idx counts from V). */
static void init_draws_the_table_after_the_rnn(void **state)
{
    (void)state;
    const spec s = {RNN_CELL_LSTM, 400, 8, 4, 1, 1, 0, 1, 1, -3, 0, 0};
    pair p;
    pair_init(&p, &s, 1);
    rnn_config dense_cfg = spec_config(&s, false);
    rnn_t *fresh = NULL;
    TU_OK(rnn_create(&fresh, &dense_cfg));
    float *tp, *fp;
    size_t fn;
    TU_OK(rnn_params(p.tok, &tp, NULL));
    TU_OK(rnn_params(fresh, &fp, &fn));
    assert_memory_equal(tp + p.n_emb, fp, fn * sizeof(float));
    assert_int_equal(p.pad, 397);
    double sum = 0.0, squares = 0.0;
    for (size_t i = 0; i < p.n_emb; ++i) {
        sum += tp[i];
        squares += (double)tp[i] * tp[i];
    }
    const double n = (double)(p.n_emb - s.I);
    assert_true(fabs(sum / n) < 0.1);
    assert_true(fabs(squares / n - 1.0) < 0.1);
    assert_int_equal(tu_count_equal(tp + (size_t)397 * s.I, (size_t)s.I, 0.0f),
                     s.I);
    rnn_tensor_info info;
    info.struct_size = sizeof info;
    TU_OK(rnn_tensor_find(p.tok, "embedding.weight", &info));
    assert_int_equal(info.offset, 0);
    assert_int_equal(info.shape[0], 400);
    assert_int_equal(info.shape[1], 8);
    TU_OK(rnn_init(p.tok, RNN_INIT_ORTHOGONAL, 3));
    assert_int_equal(tu_count_equal(tp + (size_t)397 * s.I, (size_t)s.I, 0.0f),
                     s.I);
    assert_true(tu_count_equal(tp, p.n_emb, 0.0f) == (size_t)s.I);
    rnn_destroy(fresh);
    pair_free(&p);
}

/* A saved token model loads back with its configuration and weights, and
 * its parameters load into another of the same configuration. */
static void save_and_load_keep_the_embedding(void **state)
{
    (void)state;
    pair p;
    pair_init(&p, &SPECS[1], 7);
    size_t size, written;
    TU_OK(rnn_save_size(p.tok, &size));
    unsigned char *bytes = malloc(size);
    assert_non_null(bytes);
    TU_OK(rnn_save_buffer(p.tok, bytes, size, &written));
    rnn_t *back = NULL;
    TU_OK(rnn_load_buffer(&back, bytes, size));
    rnn_config want, got;
    TU_OK(rnn_config_init(&want, sizeof want, 1, 1));
    TU_OK(rnn_config_init(&got, sizeof got, 1, 1));
    TU_OK(rnn_get_config(p.tok, &want));
    TU_OK(rnn_get_config(back, &got));
    assert_int_equal(got.vocab_size, want.vocab_size);
    assert_int_equal(got.has_padding_idx, 1);
    assert_int_equal(got.padding_idx, want.padding_idx);
    float *a, *b;
    size_t na, nb;
    TU_OK(rnn_params(p.tok, &a, &na));
    TU_OK(rnn_params(back, &b, &nb));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(float));
    rnn_config cfg = spec_config(&p.s, true);
    cfg.seed = 99;
    rnn_t *other = NULL;
    TU_OK(rnn_create(&other, &cfg));
    TU_OK(rnn_load_params_buffer(other, bytes, size));
    TU_OK(rnn_params(other, &b, NULL));
    assert_memory_equal(a, b, na * sizeof(float));
    cfg.vocab_size = 6; /* another vocabulary is refused */
    rnn_t *wrong = NULL;
    TU_OK(rnn_create(&wrong, &cfg));
    TU_FAILS(RNN_E_FORMAT, "rnn_load_params_buffer",
             rnn_load_params_buffer(wrong, bytes, size));
    assert_non_null(strstr(rnn_last_error(), "vocab_size"));
    rnn_destroy(wrong);
    rnn_destroy(other);
    rnn_destroy(back);
    free(bytes);
    pair_free(&p);
}

/* Runs `call`, expects RNN_E_INVALID_ARG from `func` with `needle` in the
 * message. */
#define REFUSED(func, needle, call)                                         \
    do {                                                                    \
        TU_FAILS(RNN_E_INVALID_ARG, func, call);                            \
        if (strstr(rnn_last_error(), needle) == NULL)                       \
            fail_msg("%s: message \"%s\" lacks \"%s\"", func,               \
                     rnn_last_error(), needle);                             \
    } while (0)

/* Ids out of range or negative (forward, inference, step), ids for a
 * model without an embedding, x or dx for a model with one: refused with
 * the position and value named, outputs and states untouched. */
static void bad_token_input_is_refused_and_nothing_is_written(void **state)
{
    (void)state;
    spec s = SPECS[2];
    s.batch_first = 1;
    pair p;
    pair_init(&p, &s, 9);
    float *y = tu_floats(p.n_y), *h_n = tu_floats(p.n_h);
    const size_t bh = (size_t)s.B * s.H;
    float *y_t = tu_floats(bh), *h = tu_floats(bh), *h_after = tu_floats(bh);
    tu_sentinel_fill(y, p.n_y);
    tu_sentinel_fill(h_n, p.n_h);
    tu_sentinel_fill(y_t, bh);
    rnn_state_t *st = NULL;
    TU_OK(rnn_state_create(&st, p.tok, s.B));
    int32_t ids_t[3] = {1, 2, 3};
    TU_OK(rnn_step_tokens(p.tok, st, ids_t, NULL));
    TU_OK(rnn_state_get(st, h));

    /* ids[b = 1, t = 0] in the batch-first layout */
    const int32_t bad[2] = {11, -1};
    const char *const said[2] = {"ids[1, 0] ([b, t]) = 11", "= -1"};
    for (int k = 0; k < 2; ++k) {
        const int32_t keep = p.ids[(size_t)1 * s.T];
        p.ids[(size_t)1 * s.T] = bad[k];
        for (int32_t inference = 0; inference < 2; ++inference)
            REFUSED("rnn_forward_ex", said[k],
                    forward_tokens(&p, inference, y, h_n));
        p.ids[(size_t)1 * s.T] = keep;
        ids_t[2] = bad[k];
        REFUSED("rnn_step_tokens", k == 0 ? "ids_t[2] = 11" : "negative",
                rnn_step_tokens(p.tok, st, ids_t, y_t));
    }
    assert_true(tu_sentinel_intact("y", y, p.n_y));
    assert_true(tu_sentinel_intact("h_n", h_n, p.n_h));
    assert_true(tu_sentinel_intact("y_t", y_t, bh));
    TU_OK(rnn_state_get(st, h_after));
    assert_memory_equal(h, h_after, bh * sizeof(float));
    /* no forward happened: backward has nothing to differentiate */
    TU_FAILS(RNN_E_STATE, "rnn_backward",
             rnn_backward(p.tok, p.dy, NULL, NULL, NULL));

    /* float input to the token model */
    REFUSED("rnn_forward", "rnn_forward_ex",
            rnn_forward(p.tok, s.T, s.B, p.x, NULL, NULL, y, NULL));
    REFUSED("rnn_forward_inference", "ids",
            rnn_forward_inference(p.tok, s.T, s.B, p.x, NULL, NULL, y, NULL,
                                  NULL));
    REFUSED("rnn_step", "rnn_step_tokens", rnn_step(p.tok, st, p.x, y_t));
    rnn_forward_args args;
    TU_OK(rnn_forward_args_init(&args, sizeof args));
    args.seq_len = s.T;
    args.batch = s.B;
    args.x = p.x;
    args.y = y;
    REFUSED("rnn_forward_ex", "args->x", rnn_forward_ex(p.tok, &args));
    args.x = NULL;
    REFUSED("rnn_forward_ex", "ids is NULL", rnn_forward_ex(p.tok, &args));
    assert_true(tu_sentinel_intact("y", y, p.n_y));
    assert_true(tu_sentinel_intact("y_t", y_t, bh));

    /* dx for the token model */
    TU_OK(forward_tokens(&p, 0, NULL, NULL));
    float *dx = tu_floats(p.n_x);
    tu_sentinel_fill(dx, p.n_x);
    REFUSED("rnn_backward", "embedding.weight",
            rnn_backward(p.tok, p.dy, NULL, dx, NULL));
    rnn_backward_args bwd;
    TU_OK(rnn_backward_args_init(&bwd, sizeof bwd));
    bwd.dy = p.dy;
    bwd.dx = dx;
    REFUSED("rnn_backward_ex", "embedding.weight", rnn_backward_ex(p.tok, &bwd));
    assert_true(tu_sentinel_intact("dx", dx, p.n_x));

    /* ids to the float-input model */
    args.x = NULL;
    args.ids = p.ids;
    REFUSED("rnn_forward_ex", "no embedding", rnn_forward_ex(p.dense, &args));
    rnn_state_t *dense_st = NULL;
    TU_OK(rnn_state_create(&dense_st, p.dense, s.B));
    ids_t[2] = 3;
    REFUSED("rnn_step_tokens", "no embedding",
            rnn_step_tokens(p.dense, dense_st, ids_t, y_t));
    assert_true(tu_sentinel_intact("y", y, p.n_y));
    assert_true(tu_sentinel_intact("y_t", y_t, bh));

    rnn_state_destroy(dense_st);
    rnn_state_destroy(st);
    free(dx);
    free(y);
    free(h_n);
    free(y_t);
    free(h);
    free(h_after);
    pair_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forward_and_gradients_equal_the_dense_model_on_gathered_rows),
        cmocka_unit_test(gradients_match_central_differences),
        cmocka_unit_test(step_tokens_equals_forward),
        cmocka_unit_test(inference_forward_equals_training_forward),
        cmocka_unit_test(init_draws_the_table_after_the_rnn),
        cmocka_unit_test(save_and_load_keep_the_embedding),
        cmocka_unit_test(bad_token_input_is_refused_and_nothing_is_written),
    };
    return tu_run("embedding", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
