/* SPDX-License-Identifier: MIT
 *
 * test_determinism.c - same seed, same BLAS backend, same thread count =>
 * the same bits.
 *
 * A short training run (a 2-layer bidirectional tanh RNN with a head,
 * variable lengths, an initial state, gradient clipping, BCE loss) is made
 * twice in one process from fresh models, with SGD (momentum, nesterov,
 * weight decay) and with Adam; the weights, the optimizer's saved state and
 * the last loss must be bit-identical. A third run on a model that first
 * did a forward pass of another shape (workspaces grown and dirty) must
 * agree too: reused workspace memory never leaks into results.
 *
 * The program prints an FNV-1a hash of the final weights of each optimizer.
 * docs/reliability.md compares those hashes across BLAS backends and thread
 * counts (OPENBLAS_NUM_THREADS, LD_LIBRARY_PATH) to tell which combinations
 * give the same bits as which.
 */
#define _POSIX_C_SOURCE 200809L /* getpid, unlink */

#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { I = 6, H = 32, L = 2, O = 1, T = 10, B = 12, STEPS = 5 };

typedef struct result {
    float *params;
    size_t n;
    float loss;
    unsigned char *optim_file;
    size_t optim_size;
} result;

static uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

static unsigned char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    unsigned char *bytes = malloc((size_t)n);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return bytes;
}

/* Trains a fresh model for STEPS steps with `kind`; with `dirty`, the model
 * first runs forward/backward on a larger batch of other data. */
static result train(int32_t kind, int dirty)
{
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = L;
    cfg.bidirectional = 1;
    cfg.output_size = O;
    cfg.seed = 2024;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));

    tu_rng rng = tu_rng_make(77);
    float *x = tu_floats((size_t)T * B * I);
    float *h0 = tu_floats((size_t)L * 2 * B * H);
    float *labels = tu_floats(B);
    float logits[B], dlogits[B];
    int32_t lengths[B];
    for (int b = 0; b < B; ++b) {
        lengths[b] = 1 + (b * 5) % T;
        labels[b] = (float)(b % 2);
    }

    if (dirty) {
        enum { T2 = T + 5, B2 = B + 3 };
        float *x2 = tu_floats((size_t)T2 * B2 * I);
        tu_rng other = tu_rng_make(5);
        tu_fill(&other, x2, (size_t)T2 * B2 * I, -3.0, 3.0);
        TU_OK(rnn_forward(model, T2, B2, x2, NULL, NULL, NULL, NULL));
        float dl[B2];
        for (int b = 0; b < B2; ++b)
            dl[b] = 0.5f;
        TU_OK(rnn_head_forward(model, dl));
        TU_OK(rnn_head_backward(model, dl));
        TU_OK(rnn_backward(model, NULL, NULL, NULL, NULL));
        TU_OK(rnn_zero_grad(model));
        free(x2);
    }

    rnn_optim_config oc = rnn_optim_config_default(kind, 0.05f);
    if (kind == RNN_OPTIM_SGD) {
        oc.momentum = 0.9f;
        oc.nesterov = 1;
        oc.weight_decay = 1e-3f;
    }
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, model, &oc));

    result r;
    memset(&r, 0, sizeof r);
    for (int step = 0; step < STEPS; ++step) {
        tu_fill(&rng, x, (size_t)T * B * I, -1.0, 1.0);
        tu_fill(&rng, h0, (size_t)L * 2 * B * H, -0.5, 0.5);
        TU_OK(rnn_zero_grad(model));
        TU_OK(rnn_forward(model, T, B, x, lengths, h0, NULL, NULL));
        TU_OK(rnn_head_forward(model, logits));
        TU_OK(rnn_loss_bce_with_logits(B, logits, labels, RNN_REDUCTION_MEAN,
                                       &r.loss, dlogits));
        TU_OK(rnn_head_backward(model, dlogits));
        TU_OK(rnn_backward(model, NULL, NULL, NULL, NULL));
        TU_OK(rnn_clip_grad_norm(model, 1.0f, NULL));
        TU_OK(rnn_optim_step(optim, model));
    }

    float *params;
    TU_OK(rnn_params(model, &params, &r.n));
    r.params = tu_copy(params, r.n);
    char path[64];
    snprintf(path, sizeof path, "determinism-%ld.safetensors", (long)getpid());
    TU_OK(rnn_optim_save(optim, path));
    r.optim_file = slurp(path, &r.optim_size);
    unlink(path);

    rnn_optim_destroy(optim);
    rnn_destroy(model);
    free(x);
    free(h0);
    free(labels);
    return r;
}

static void free_result(result *r)
{
    free(r->params);
    free(r->optim_file);
}

static void assert_identical(const result *a, const result *b, const char *what)
{
    assert_int_equal(a->n, b->n);
    size_t differ = 0, first = 0;
    for (size_t i = 0; i < a->n; ++i)
        if (memcmp(&a->params[i], &b->params[i], sizeof(float)) != 0 && differ++ == 0)
            first = i;
    if (differ > 0)
        fail_msg("%s: %zu of %zu weights differ (first at %zu: %.9g vs %.9g)",
                 what, differ, a->n, first, (double)a->params[first],
                 (double)b->params[first]);
    assert_memory_equal(&a->loss, &b->loss, sizeof a->loss);
    assert_int_equal(a->optim_size, b->optim_size);
    assert_memory_equal(a->optim_file, b->optim_file, a->optim_size);
}

static void check_kind(int32_t kind, const char *name)
{
    result first = train(kind, 0);
    result second = train(kind, 0);
    result dirty = train(kind, 1);
    assert_identical(&first, &second, name);
    assert_identical(&first, &dirty, name);
    const char *threads = getenv("OPENBLAS_NUM_THREADS");
    printf("determinism: %s weights fnv1a=%016" PRIx64 " loss=%.9g "
           "(OPENBLAS_NUM_THREADS=%s, %s)\n",
           name, fnv1a(first.params, first.n * sizeof(float)), (double)first.loss,
           threads ? threads : "unset", rnn_blas_info());
    fflush(stdout);
    free_result(&first);
    free_result(&second);
    free_result(&dirty);
}

static void sgd_training_is_bit_reproducible(void **state)
{
    (void)state;
    check_kind(RNN_OPTIM_SGD, "sgd");
}

static void adam_training_is_bit_reproducible(void **state)
{
    (void)state;
    check_kind(RNN_OPTIM_ADAM, "adam");
}

/* The initialisers are part of the story: same seed, same bits. */
static void initialisation_is_bit_reproducible(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = L;
    cfg.bidirectional = 1;
    const int32_t schemes[] = {RNN_INIT_UNIFORM, RNN_INIT_XAVIER_UNIFORM,
                               RNN_INIT_ORTHOGONAL};
    for (size_t s = 0; s < 3; ++s) {
        rnn_t *a = NULL, *b = NULL;
        TU_OK(rnn_create(&a, &cfg));
        TU_OK(rnn_create(&b, &cfg));
        TU_OK(rnn_init(a, schemes[s], 99));
        TU_OK(rnn_init(b, schemes[s], 99));
        float *pa, *pb;
        size_t n;
        TU_OK(rnn_params(a, &pa, &n));
        TU_OK(rnn_params(b, &pb, NULL));
        assert_memory_equal(pa, pb, n * sizeof(float));
        rnn_destroy(a);
        rnn_destroy(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgd_training_is_bit_reproducible),
        cmocka_unit_test(adam_training_is_bit_reproducible),
        cmocka_unit_test(initialisation_is_bit_reproducible),
    };
    return tu_run("test_determinism", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
