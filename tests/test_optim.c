/* SPDX-License-Identifier: MIT
 *
 * test_optim.c - rnn_sgd_step (params -= lr * grads, exactly), and short
 * training runs (rnn_sgd_step, Adam) that must reduce the loss of a toy
 * task, the whole training API used together. The optimizer objects,
 * clipping and the finite checks are tested in test_optimizers.c.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A small model (two layers, a head) and its flat buffers. */
typedef struct fixture {
    rnn_t *model;
    float *params, *grads;
    size_t n;
} fixture;

static fixture fixture_make(int32_t hidden, uint64_t seed)
{
    rnn_config cfg = rnn_config_default(3, hidden);
    cfg.num_layers = 2;
    cfg.output_size = 2;
    cfg.seed = seed;
    fixture f = { NULL, NULL, NULL, 0 };
    TU_OK(rnn_create(&f.model, &cfg));
    TU_OK(rnn_params(f.model, &f.params, &f.n));
    TU_OK(rnn_grads(f.model, &f.grads, NULL));
    return f;
}

/* ------------------------------------------------------------------------
 * rnn_sgd_step
 * ---------------------------------------------------------------------- */

/* params -= lr * grads, to the float rounding of either p - (lr*g) or a
 * fused multiply-add; the gradients are left as they are. */
static void sgd_step_subtracts_lr_times_grads(void **state)
{
    (void)state;
    fixture f = fixture_make(4, 1);
    tu_rng rng = tu_rng_make(1);
    tu_fill(&rng, f.grads, f.n, -3.0, 3.0);
    float *p0 = tu_copy(f.params, f.n), *g0 = tu_copy(f.grads, f.n);
    const float lr = 0.37f;
    TU_OK(rnn_sgd_step(f.model, lr));
    size_t bad = 0;
    for (size_t i = 0; i < f.n; i++) {
        float plain = p0[i] - lr * g0[i], fused = fmaf(-lr, g0[i], p0[i]);
        if (f.params[i] != plain && f.params[i] != fused && bad++ < 5)
            print_error("params[%zu]: got %.9g, want %.9g\n", i, f.params[i], plain);
    }
    int grads_kept = memcmp(f.grads, g0, f.n * sizeof *g0) == 0;
    free(p0);
    free(g0);
    rnn_destroy(f.model);
    assert_int_equal(bad, 0);
    assert_true(grads_kept);
}

/* ------------------------------------------------------------------------
 * Training reduces the loss of a toy task: the sign of a sequence's sum
 * ---------------------------------------------------------------------- */

enum { TASK_T = 10, TASK_B = 64 };

static void make_batch(tu_rng *rng, float *x, float *labels)
{
    for (int b = 0; b < TASK_B; b++) {
        double sum = 0.0;
        for (int t = 0; t < TASK_T; t++) {
            float v = (float)tu_uniform(rng, -1.0, 1.0);
            x[t * TASK_B + b] = v; /* [T, B, 1] */
            sum += v;
        }
        labels[b] = sum > 0.0 ? 1.0f : 0.0f;
    }
}

/* One forward/backward on (x, labels); returns the mean BCE loss. */
static float train_pass(rnn_t *m, const float *x, const float *labels, int learn)
{
    float logits[TASK_B], dlogits[TASK_B], loss = 0.0f;
    TU_OK(rnn_zero_grad(m));
    TU_OK(rnn_forward(m, TASK_T, TASK_B, x, NULL, NULL, NULL, NULL));
    TU_OK(rnn_head_forward(m, logits));
    TU_OK(rnn_loss_bce_with_logits(TASK_B, logits, labels, RNN_REDUCTION_MEAN, &loss,
                                   dlogits));
    if (learn) {
        TU_OK(rnn_head_backward(m, dlogits));
        TU_OK(rnn_backward(m, NULL, NULL, NULL, NULL));
    }
    return loss;
}

/* 300 steps on fresh batches; the held-out loss must at least halve.
 * optim == NULL trains with rnn_sgd_step. */
static void train_sign_of_sum(const rnn_optim_config *optim, float sgd_lr)
{
    rnn_config cfg = rnn_config_default(1, 16);
    cfg.output_size = 1;
    cfg.seed = 3;
    rnn_t *m = NULL;
    rnn_optim_t *opt = NULL;
    TU_OK(rnn_create(&m, &cfg));
    if (optim)
        TU_OK(rnn_optim_create(&opt, m, optim));
    float x[TASK_T * TASK_B], labels[TASK_B], test_x[TASK_T * TASK_B], test_labels[TASK_B];
    tu_rng rng = tu_rng_make(9);
    make_batch(&rng, test_x, test_labels);
    float before = train_pass(m, test_x, test_labels, 0);
    for (int step = 0; step < 300; step++) {
        make_batch(&rng, x, labels);
        train_pass(m, x, labels, 1);
        TU_OK(rnn_clip_grad_norm(m, 5.0f, NULL));
        if (opt)
            TU_OK(rnn_optim_step(opt, m));
        else
            TU_OK(rnn_sgd_step(m, sgd_lr));
    }
    float after = train_pass(m, test_x, test_labels, 0);
    rnn_optim_destroy(opt);
    rnn_destroy(m);
    if (!(after < 0.5f * before))
        fail_msg("held-out loss went from %g to %g, want below half", before, after);
}

static void sgd_training_reduces_the_loss(void **state)
{
    (void)state;
    train_sign_of_sum(NULL, 0.1f);
}

static void adam_training_reduces_the_loss(void **state)
{
    (void)state;
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.01f);
    train_sign_of_sum(&cfg, 0.0f);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgd_step_subtracts_lr_times_grads),
        cmocka_unit_test(sgd_training_reduces_the_loss),
        cmocka_unit_test(adam_training_reduces_the_loss),
    };
    return tu_run("test_optim", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
