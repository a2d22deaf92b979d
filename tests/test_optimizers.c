/* SPDX-License-Identifier: MIT
 *
 * test_optimizers.c - parameter updates (src/optim.c): rnn_sgd_step, the
 * optimizer objects, gradient clipping and the finite checks, and short
 * training runs (rnn_sgd_step, Adam) that must reduce the loss of a toy
 * task, the whole training API used together.
 *
 * The oracle is the update rule of torch.optim written out in double in this
 * file (SGD with momentum, dampening, nesterov and L2 weight decay; Adam as
 * in Kingma & Ba, Algorithm 1, with the L2 term added to the gradient; AdamW
 * with decoupled weight decay, Loshchilov & Hutter), run side by side with
 * librnn from the same parameters and gradients. Closed forms check the
 * oracle where one exists (Adam's first step is lr * sign(g); AdamW on a
 * zero gradient only shrinks the parameters).
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parameters of magnitude <= 1 after float updates: absolute 1e-6. */
static const double UPDATE_TOL = 1e-6;

enum { STEPS = 3 };

/* ------------------------------------------------------------------------
 * A model whose parameters and gradients the test sets by hand
 * ---------------------------------------------------------------------- */

typedef struct fixture {
    rnn_t *model;
    float *params, *grads; /* the model's flat buffers */
    size_t n;
} fixture;

/* I = 3, H = hidden, num_layers layers, a head of 2: every kind of tensor. */
static void fixture_init_layers(fixture *f, int32_t num_layers, int32_t hidden,
                                uint64_t seed)
{
    rnn_config cfg = rnn_config_default(3, hidden);
    cfg.num_layers = num_layers;
    cfg.output_size = 2;
    TU_OK(rnn_create(&f->model, &cfg));
    size_t n_grads = 0;
    TU_OK(rnn_params(f->model, &f->params, &f->n));
    TU_OK(rnn_grads(f->model, &f->grads, &n_grads));
    assert_int_equal(n_grads, f->n);
    tu_rng rng = tu_rng_make(seed);
    tu_fill(&rng, f->params, f->n, -1.0, 1.0);
}

static void fixture_init(fixture *f, int32_t hidden, uint64_t seed)
{
    fixture_init_layers(f, 1, hidden, seed);
}

static void fixture_free(fixture *f)
{
    rnn_destroy(f->model);
    memset(f, 0, sizeof *f);
}

/* Gradients of both signs spread over 1e-3 .. 1, so that eps, the second
 * moment and the bias corrections all weigh on the result. */
static void fill_grads(fixture *f, uint64_t seed)
{
    tu_rng rng = tu_rng_make(seed);
    for (size_t i = 0; i < f->n; i++) {
        double sign = tu_uniform(&rng, 0.0, 1.0) < 0.5 ? -1.0 : 1.0;
        f->grads[i] = (float)(sign * pow(10.0, tu_uniform(&rng, -3.0, 0.0)));
    }
}

/* Offset of a named tensor in the flat buffers. */
static size_t offset_of(const rnn_t *model, const char *name)
{
    rnn_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    TU_OK(rnn_tensor_find(model, name, &info));
    return info.offset;
}

/* 1 when rnn_last_error() names `tensor` and, after it, the number `index`
 * (a whole run of digits, so that 5 does not match 15). */
static int error_names(const char *tensor, size_t index)
{
    const char *msg = rnn_last_error();
    const char *at = strstr(msg, tensor);
    for (const char *p = at ? at + strlen(tensor) : ""; *p; p++) {
        if (*p < '0' || *p > '9' || (p[-1] >= '0' && p[-1] <= '9'))
            continue;
        if (strtoull(p, NULL, 10) == index)
            return 1;
    }
    print_error("last error \"%s\" does not name %s and index %zu\n", msg, tensor, index);
    return 0;
}

/* Fails the test unless |got - want| <= rel * |want| + abs. */
#define ASSERT_NEAR(got, want, rel, abs)                                         \
    assert_near((double)(got), (double)(want), (rel), (abs), #got, __LINE__)
static void assert_near(double got, double want, double rel, double abs,
                        const char *what, int line)
{
    if (!(fabs(got - want) <= rel * fabs(want) + abs))
        fail_msg("line %d: %s = %.9g, want %.9g (rel %.3g)", line, what, got, want,
                 rel);
}

/* ------------------------------------------------------------------------
 * The oracle: torch.optim's rules in double
 * ---------------------------------------------------------------------- */

typedef struct ref_optim {
    rnn_optim_config cfg;
    size_t n;
    int64_t steps;
    double *p, *m, *v; /* parameters, momentum or first moment, second moment */
    double *v_max;     /* amsgrad: the running maximum of v */
} ref_optim;

static void ref_optim_init(ref_optim *r, const rnn_optim_config *cfg,
                           const float *params, size_t n)
{
    r->cfg = *cfg;
    r->n = n;
    r->steps = 0;
    r->p = tu_to_double(params, n);
    r->m = calloc(n, sizeof *r->m);
    r->v = calloc(n, sizeof *r->v);
    r->v_max = calloc(n, sizeof *r->v_max);
    assert_non_null(r->m);
    assert_non_null(r->v);
    assert_non_null(r->v_max);
}

static void ref_optim_free(ref_optim *r)
{
    free(r->p);
    free(r->m);
    free(r->v);
    free(r->v_max);
}

/* torch.optim.SGD: d = g + wd p; buf = d on the first step, then
 * momentum buf + (1 - dampening) d; step along buf, or d + momentum buf
 * with nesterov. */
static void ref_sgd_step(ref_optim *r, const float *grads)
{
    const double lr = r->cfg.lr, mom = r->cfg.momentum;
    const double damp = r->cfg.dampening, wd = r->cfg.weight_decay;
    for (size_t i = 0; i < r->n; i++) {
        double d = grads[i] + wd * r->p[i];
        if (mom != 0.0) {
            r->m[i] = r->steps == 0 ? d : mom * r->m[i] + (1.0 - damp) * d;
            d = r->cfg.nesterov ? d + mom * r->m[i] : r->m[i];
        }
        r->p[i] -= lr * d;
    }
    r->steps++;
}

/* Kingma & Ba, Algorithm 1: m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
 * p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps). Adam adds
 * wd p to g; AdamW first multiplies p by (1 - lr wd). */
static void ref_adam_step(ref_optim *r, const float *grads)
{
    const double lr = r->cfg.lr, b1 = r->cfg.beta1, b2 = r->cfg.beta2;
    const double eps = r->cfg.eps, wd = r->cfg.weight_decay;
    const double t = (double)(r->steps + 1);
    for (size_t i = 0; i < r->n; i++) {
        double g = grads[i];
        if (r->cfg.kind == RNN_OPTIM_ADAMW)
            r->p[i] *= 1.0 - lr * wd;
        else
            g += wd * r->p[i];
        r->m[i] = b1 * r->m[i] + (1.0 - b1) * g;
        r->v[i] = b2 * r->v[i] + (1.0 - b2) * g * g;
        double m_hat = r->m[i] / (1.0 - pow(b1, t));
        if (r->v[i] > r->v_max[i])
            r->v_max[i] = r->v[i];
        const double v_used = r->cfg.amsgrad ? r->v_max[i] : r->v[i];
        double v_hat = v_used / (1.0 - pow(b2, t));
        r->p[i] -= lr * m_hat / (sqrt(v_hat) + eps);
    }
    r->steps++;
}

static void ref_optim_step(ref_optim *r, const float *grads)
{
    if (r->cfg.kind == RNN_OPTIM_SGD)
        ref_sgd_step(r, grads);
    else
        ref_adam_step(r, grads);
}

/* STEPS updates of librnn and of the oracle from the same parameters, with
 * fresh gradients each step; compares the parameters after every step and
 * checks that the step left the gradients alone. */
static int steps_match_oracle(const rnn_optim_config *cfg, uint64_t seed)
{
    fixture f;
    fixture_init(&f, 4, seed);
    ref_optim r;
    ref_optim_init(&r, cfg, f.params, f.n);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, f.model, cfg));
    int ok = 1;
    for (int s = 0; s < STEPS; s++) {
        fill_grads(&f, seed * 31 + (uint64_t)s);
        float *grads = tu_copy(f.grads, f.n);
        TU_OK(rnn_optim_step(optim, f.model));
        ref_optim_step(&r, grads);
        char what[64];
        snprintf(what, sizeof what, "params after step %d", s + 1);
        ok &= tu_close(what, f.params, r.p, f.n, UPDATE_TOL);
        if (memcmp(grads, f.grads, f.n * sizeof *grads) != 0) {
            print_error("step %d changed the gradients\n", s + 1);
            ok = 0;
        }
        free(grads);
    }
    rnn_optim_destroy(optim);
    ref_optim_free(&r);
    fixture_free(&f);
    return ok;
}

static rnn_optim_config sgd_config(float lr, float momentum, float dampening,
                                   int32_t nesterov, float weight_decay)
{
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_SGD, lr);
    cfg.momentum = momentum;
    cfg.dampening = dampening;
    cfg.nesterov = nesterov;
    cfg.weight_decay = weight_decay;
    return cfg;
}

static rnn_optim_config adam_config(int32_t kind, float lr, float beta1, float beta2,
                                    float eps, float weight_decay)
{
    rnn_optim_config cfg = rnn_optim_config_default(kind, lr);
    cfg.beta1 = beta1;
    cfg.beta2 = beta2;
    cfg.eps = eps;
    cfg.weight_decay = weight_decay;
    return cfg;
}

/* ------------------------------------------------------------------------
 * rnn_sgd_step
 * ---------------------------------------------------------------------- */

/* params -= lr * grads, to the float rounding of either p - (lr*g) or a
 * fused multiply-add; the gradients are left as they are. Two layers. */
static void sgd_step_subtracts_lr_times_grads(void **state)
{
    (void)state;
    fixture f;
    fixture_init_layers(&f, 2, 4, 1);
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
    fixture_free(&f);
    assert_int_equal(bad, 0);
    assert_true(grads_kept);
}

/* ------------------------------------------------------------------------
 * SGD optimizer objects
 * ---------------------------------------------------------------------- */

static void sgd_momentum_matches_torch_rule_over_three_steps(void **state)
{
    (void)state;
    rnn_optim_config cfg = sgd_config(0.1f, 0.9f, 0.0f, 0, 0.0f);
    assert_true(steps_match_oracle(&cfg, 1));
}

/* The first step takes the gradient undamped: buf = d, not (1 - damp) d. */
static void sgd_dampening_and_weight_decay_match_torch_rule_over_three_steps(void **state)
{
    (void)state;
    rnn_optim_config cfg = sgd_config(0.1f, 0.9f, 0.3f, 0, 0.05f);
    assert_true(steps_match_oracle(&cfg, 2));
}

static void sgd_nesterov_matches_torch_rule_over_three_steps(void **state)
{
    (void)state;
    rnn_optim_config cfg = sgd_config(0.05f, 0.8f, 0.0f, 1, 0.01f);
    assert_true(steps_match_oracle(&cfg, 3));
}

static void sgd_without_momentum_applies_l2_weight_decay(void **state)
{
    (void)state;
    rnn_optim_config cfg = sgd_config(0.2f, 0.0f, 0.0f, 0, 0.1f);
    assert_true(steps_match_oracle(&cfg, 4));
}

/* ------------------------------------------------------------------------
 * Adam and AdamW
 * ---------------------------------------------------------------------- */

/* After one step m_hat = g and v_hat = g^2: every parameter moves by
 * lr * g / (|g| + eps), i.e. lr against the sign of its gradient. */
static void adam_first_step_moves_each_parameter_by_lr_against_its_gradient(void **state)
{
    (void)state;
    const float lr = 0.01f;
    fixture f;
    fixture_init(&f, 4, 5);
    fill_grads(&f, 6);
    double *want = tu_to_double(f.params, f.n);
    for (size_t i = 0; i < f.n; i++)
        want[i] -= f.grads[i] > 0.0f ? lr : -lr;
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAM, lr);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, f.model, &cfg));
    TU_OK(rnn_optim_step(optim, f.model));
    int ok = tu_close("params after one Adam step", f.params, want, f.n, UPDATE_TOL);
    free(want);
    rnn_optim_destroy(optim);
    fixture_free(&f);
    assert_true(ok);
}

/* Betas away from their defaults (a swapped pair shows), eps large enough
 * against the smallest gradients that its place in the formula shows. */
static void adam_two_steps_match_kingma_ba_rule(void **state)
{
    (void)state;
    rnn_optim_config cfg = adam_config(RNN_OPTIM_ADAM, 0.01f, 0.8f, 0.95f, 1e-3f, 0.0f);
    assert_true(steps_match_oracle(&cfg, 7));
}

static void adam_with_default_hyperparameters_matches_kingma_ba_rule(void **state)
{
    (void)state;
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 1e-3f);
    assert_true(steps_match_oracle(&cfg, 8));
}

static void adam_weight_decay_is_added_to_the_gradient(void **state)
{
    (void)state;
    rnn_optim_config cfg = adam_config(RNN_OPTIM_ADAM, 0.01f, 0.9f, 0.99f, 1e-6f, 0.3f);
    assert_true(steps_match_oracle(&cfg, 9));
}

static void adamw_matches_decoupled_weight_decay_rule(void **state)
{
    (void)state;
    rnn_optim_config cfg = adam_config(RNN_OPTIM_ADAMW, 0.01f, 0.9f, 0.99f, 1e-6f, 0.3f);
    assert_true(steps_match_oracle(&cfg, 10));
}

/* AMSGrad (Reddi et al.; torch's amsgrad=True) divides by the running
 * maximum of v: with beta2 = 0.5 v falls below its maximum within the
 * steps, so the two rules part. */
static void adam_amsgrad_divides_by_the_running_maximum_of_v(void **state)
{
    (void)state;
    rnn_optim_config cfg = adam_config(RNN_OPTIM_ADAM, 0.01f, 0.8f, 0.5f, 1e-6f, 0.1f);
    cfg.amsgrad = 1;
    assert_true(steps_match_oracle(&cfg, 13));
    cfg.kind = RNN_OPTIM_ADAMW;
    assert_true(steps_match_oracle(&cfg, 14));
}

/* On a zero gradient AdamW's moments stay zero: p only shrinks by
 * (1 - lr wd). Adam with the same L2 term sees g = wd p and moves every
 * parameter by lr towards zero, as its first step always does. */
static void adamw_decay_differs_from_adam_l2_on_a_zero_gradient(void **state)
{
    (void)state;
    const float lr = 0.1f, wd = 0.5f;
    fixture adamw, adam;
    fixture_init(&adamw, 4, 11);
    fixture_init(&adam, 4, 11);
    double *want_adamw = tu_to_double(adamw.params, adamw.n);
    double *want_adam = tu_to_double(adam.params, adam.n);
    for (size_t i = 0; i < adamw.n; i++) {
        want_adamw[i] *= 1.0 - (double)lr * wd;
        want_adam[i] -= want_adam[i] > 0.0 ? lr : -lr;
    }
    rnn_optim_config cw = adam_config(RNN_OPTIM_ADAMW, lr, 0.9f, 0.999f, 1e-8f, wd);
    rnn_optim_config ca = adam_config(RNN_OPTIM_ADAM, lr, 0.9f, 0.999f, 1e-8f, wd);
    rnn_optim_t *ow = NULL, *oa = NULL;
    TU_OK(rnn_optim_create(&ow, adamw.model, &cw));
    TU_OK(rnn_optim_create(&oa, adam.model, &ca));
    TU_OK(rnn_optim_step(ow, adamw.model));
    TU_OK(rnn_optim_step(oa, adam.model));
    int ok = tu_close("AdamW params", adamw.params, want_adamw, adamw.n, UPDATE_TOL);
    ok &= tu_close("Adam + L2 params", adam.params, want_adam, adam.n, UPDATE_TOL);
    free(want_adamw);
    free(want_adam);
    rnn_optim_destroy(ow);
    rnn_optim_destroy(oa);
    fixture_free(&adamw);
    fixture_free(&adam);
    assert_true(ok);
}

/* ------------------------------------------------------------------------
 * Step count, learning rate, model size
 * ---------------------------------------------------------------------- */

static int64_t step_count(const rnn_optim_t *optim)
{
    int64_t steps = -1;
    TU_OK(rnn_optim_step_count(optim, &steps));
    return steps;
}

static void step_count_counts_successful_steps(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 4, 12);
    fill_grads(&f, 13);
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.01f);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, f.model, &cfg));
    assert_int_equal(step_count(optim), 0);
    for (int64_t s = 1; s <= STEPS; s++) {
        TU_OK(rnn_optim_step(optim, f.model));
        assert_int_equal(step_count(optim), s);
    }
    f.grads[0] = NAN;
    TU_FAILS(RNN_E_NONFINITE, "rnn_optim_step", rnn_optim_step(optim, f.model));
    assert_int_equal(step_count(optim), STEPS);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_step_count", rnn_optim_step_count(NULL, NULL));
    rnn_optim_destroy(optim);
    fixture_free(&f);
}

/* Plain SGD moves by exactly lr * g: two steps, the second after set_lr. */
static void set_lr_changes_the_next_update(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 4, 14);
    fill_grads(&f, 15);
    rnn_optim_config cfg = sgd_config(0.1f, 0.0f, 0.0f, 0, 0.0f);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, f.model, &cfg));
    double *want = tu_to_double(f.params, f.n);
    for (size_t i = 0; i < f.n; i++)
        want[i] -= (0.1 + 0.5) * f.grads[i];
    TU_OK(rnn_optim_step(optim, f.model));
    TU_OK(rnn_optim_set_lr(optim, 0.5f));
    TU_OK(rnn_optim_step(optim, f.model));
    int ok = tu_close("params", f.params, want, f.n, UPDATE_TOL);
    free(want);
    rnn_optim_destroy(optim);
    fixture_free(&f);
    assert_true(ok);
}

/* A rejected learning rate leaves the previous one in force; 0 is a rate
 * (torch's rule, the start of a warm-up). */
static void set_lr_rejects_negative_or_non_finite_rates(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 4, 16);
    fill_grads(&f, 17);
    rnn_optim_config cfg = sgd_config(0.25f, 0.0f, 0.0f, 0, 0.0f);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, f.model, &cfg));
    float *before = tu_copy(f.params, f.n);
    TU_OK(rnn_optim_set_lr(optim, 0.0f));
    TU_OK(rnn_optim_step(optim, f.model));
    assert_memory_equal(f.params, before, f.n * sizeof(float));
    free(before);
    TU_OK(rnn_optim_set_lr(optim, 0.25f));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_set_lr", rnn_optim_set_lr(optim, -0.1f));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_set_lr", rnn_optim_set_lr(optim, NAN));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_set_lr", rnn_optim_set_lr(optim, INFINITY));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_set_lr", rnn_optim_set_lr(NULL, 0.1f));
    double *want = tu_to_double(f.params, f.n);
    for (size_t i = 0; i < f.n; i++)
        want[i] -= 0.25 * f.grads[i];
    TU_OK(rnn_optim_step(optim, f.model));
    int ok = tu_close("params", f.params, want, f.n, UPDATE_TOL);
    free(want);
    rnn_optim_destroy(optim);
    fixture_free(&f);
    assert_true(ok);
}

static void step_on_a_model_of_another_size_fails_and_changes_nothing(void **state)
{
    (void)state;
    fixture small, big;
    fixture_init(&small, 4, 18);
    fixture_init(&big, 5, 19);
    fill_grads(&big, 20);
    float *before = tu_copy(big.params, big.n);
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.01f);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, small.model, &cfg));
    TU_FAILS(RNN_E_SHAPE, "rnn_optim_step", rnn_optim_step(optim, big.model));
    assert_memory_equal(before, big.params, big.n * sizeof *before);
    assert_int_equal(step_count(optim), 0);
    free(before);
    rnn_optim_destroy(optim);
    fixture_free(&small);
    fixture_free(&big);
}

/* The optimizer keeps no pointer to the model it was made for: it steps
 * another model of the same size, even once the first one is destroyed. */
static void step_on_another_model_of_the_same_size_updates_that_model(void **state)
{
    (void)state;
    fixture maker, other;
    fixture_init(&maker, 4, 21);
    fixture_init(&other, 4, 22);
    fill_grads(&other, 23);
    rnn_optim_config cfg = sgd_config(0.1f, 0.0f, 0.0f, 0, 0.0f);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, maker.model, &cfg));
    fixture_free(&maker);
    double *want = tu_to_double(other.params, other.n);
    for (size_t i = 0; i < other.n; i++)
        want[i] -= 0.1 * other.grads[i];
    TU_OK(rnn_optim_step(optim, other.model));
    int ok = tu_close("params", other.params, want, other.n, UPDATE_TOL);
    free(want);
    rnn_optim_destroy(optim);
    fixture_free(&other);
    assert_true(ok);
}

/* ------------------------------------------------------------------------
 * Non-finite gradients
 * ---------------------------------------------------------------------- */

/* Twin models and optimizers take one good step. Then one twin meets a bad
 * gradient: the call fails naming the tensor, and neither its parameters,
 * its step count nor its moments change, so that after the next good step
 * the twins are still bit for bit equal. */
static void nonfinite_gradient_is_rejected_without_side_effects(const rnn_optim_config *cfg,
                                                                const char *tensor,
                                                                size_t index, float bad)
{
    fixture a, b;
    fixture_init(&a, 4, 24);
    fixture_init(&b, 4, 24);
    rnn_optim_t *oa = NULL, *ob = NULL;
    TU_OK(rnn_optim_create(&oa, a.model, cfg));
    TU_OK(rnn_optim_create(&ob, b.model, cfg));
    fill_grads(&a, 25);
    fill_grads(&b, 25);
    TU_OK(rnn_optim_step(oa, a.model));
    TU_OK(rnn_optim_step(ob, b.model));

    fill_grads(&a, 26);
    fill_grads(&b, 26);
    float *before = tu_copy(a.params, a.n);
    size_t at = offset_of(a.model, tensor) + index;
    float good = a.grads[at];
    a.grads[at] = bad;
    TU_FAILS(RNN_E_NONFINITE, "rnn_optim_step", rnn_optim_step(oa, a.model));
    assert_true(error_names(tensor, index));
    assert_memory_equal(before, a.params, a.n * sizeof *before);
    assert_int_equal(step_count(oa), 1);

    a.grads[at] = good;
    TU_OK(rnn_optim_step(oa, a.model));
    TU_OK(rnn_optim_step(ob, b.model));
    assert_memory_equal(a.params, b.params, a.n * sizeof *a.params);
    assert_int_equal(step_count(oa), 2);

    free(before);
    rnn_optim_destroy(oa);
    rnn_optim_destroy(ob);
    fixture_free(&a);
    fixture_free(&b);
}

static void sgd_step_on_nan_gradient_fails_naming_the_tensor(void **state)
{
    (void)state;
    rnn_optim_config cfg = sgd_config(0.1f, 0.9f, 0.0f, 1, 0.01f);
    nonfinite_gradient_is_rejected_without_side_effects(&cfg, "weight_hh_l0", 5, NAN);
}

static void adam_step_on_nan_gradient_fails_naming_the_tensor(void **state)
{
    (void)state;
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.01f);
    nonfinite_gradient_is_rejected_without_side_effects(&cfg, "weight_hh_l0", 13, NAN);
}

static void adamw_step_on_inf_gradient_fails_naming_the_tensor(void **state)
{
    (void)state;
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAMW, 0.01f);
    nonfinite_gradient_is_rejected_without_side_effects(&cfg, "head.bias", 1, -INFINITY);
}

/* ------------------------------------------------------------------------
 * Configurations
 * ---------------------------------------------------------------------- */

static void config_default_has_pytorch_defaults(void **state)
{
    (void)state;
    for (int32_t kind = RNN_OPTIM_SGD; kind <= RNN_OPTIM_ADAMW; kind++) {
        rnn_optim_config c = rnn_optim_config_default(kind, 0.125f);
        assert_int_equal(c.struct_size, sizeof c);
        assert_int_equal(c.kind, kind);
        assert_true(c.lr == 0.125f);
        assert_true(c.momentum == 0.0f && c.dampening == 0.0f && c.nesterov == 0);
        assert_true(c.beta1 == 0.9f && c.beta2 == 0.999f && c.eps == 1e-8f);
        assert_true(c.weight_decay == (kind == RNN_OPTIM_ADAMW ? 0.01f : 0.0f));
    }
}

/* Fails the test unless rnn_optim_create rejects cfg with
 * RNN_E_INVALID_ARG and sets *out to NULL. */
static void expect_rejected(const rnn_t *model, rnn_optim_config cfg, const char *what)
{
    static int marker;
    rnn_optim_t *optim = (rnn_optim_t *)(void *)&marker;
    rnn_clear_error();
    rnn_status st = rnn_optim_create(&optim, model, &cfg);
    tu_expect_error(st, RNN_E_INVALID_ARG, "rnn_optim_create", what, __FILE__, __LINE__);
    if (optim != NULL)
        fail_msg("%s: *out was not set to NULL", what);
}

static void create_rejects_invalid_configurations(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 4, 27);
    const rnn_optim_config sgd = rnn_optim_config_default(RNN_OPTIM_SGD, 0.1f);
    const rnn_optim_config adam = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.1f);
    const rnn_optim_config adamw = rnn_optim_config_default(RNN_OPTIM_ADAMW, 0.1f);
    rnn_optim_config c;

#define REJECT(base, field, value)                                        \
    do {                                                                  \
        c = (base);                                                       \
        c.field = (value);                                                \
        expect_rejected(f.model, c, #base " with " #field " = " #value);  \
    } while (0)

    REJECT(sgd, lr, -0.1f);
    REJECT(sgd, lr, NAN);
    REJECT(adam, lr, -1e-8f);
    REJECT(adam, lr, NAN);
    REJECT(adamw, lr, INFINITY);
    REJECT(adam, beta1, 1.0f);
    REJECT(adamw, beta1, 1.0f);
    REJECT(adam, beta1, -0.1f);
    REJECT(adam, beta2, 1.0f);
    REJECT(adam, beta2, NAN);
    REJECT(adam, eps, 0.0f);
    REJECT(adamw, eps, -1e-8f);
    REJECT(adam, eps, NAN);
    REJECT(sgd, weight_decay, -0.01f);
    REJECT(adam, weight_decay, -0.01f);
    REJECT(adamw, weight_decay, -0.01f);
    REJECT(adamw, weight_decay, NAN);
    REJECT(sgd, nesterov, 1); /* with momentum 0 */
    REJECT(sgd, momentum, -0.5f);
    REJECT(sgd, dampening, 1.5f);
    REJECT(sgd, struct_size, 0);
    REJECT(adam, struct_size, sizeof(rnn_optim_config) - 4);
    REJECT(sgd, kind, 3);
    REJECT(sgd, kind, -1);
    REJECT(sgd, amsgrad, 1);
    REJECT(adam, amsgrad, 2);
    REJECT(adamw, reserved, 1);
#undef REJECT

    c = sgd_config(0.1f, 0.9f, 0.5f, 1, 0.0f);
    expect_rejected(f.model, c, "nesterov with dampening 0.5");

    static int marker;
    rnn_optim_t *optim = (rnn_optim_t *)(void *)&marker;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_create", rnn_optim_create(&optim, f.model, NULL));
    assert_null(optim);
    optim = (rnn_optim_t *)(void *)&marker;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_create", rnn_optim_create(&optim, NULL, &sgd));
    assert_null(optim);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_create", rnn_optim_create(NULL, f.model, &sgd));
    fixture_free(&f);
}

/* ------------------------------------------------------------------------
 * Gradient clipping
 * ---------------------------------------------------------------------- */

static double norm_of(const float *a, size_t n)
{
    double squares = 0.0;
    for (size_t i = 0; i < n; i++)
        squares += (double)a[i] * a[i];
    return sqrt(squares);
}

static void clip_above_max_norm(float scale, float max_norm)
{
    fixture f;
    fixture_init(&f, 4, 28);
    tu_rng rng = tu_rng_make(29);
    tu_fill(&rng, f.grads, f.n, -scale, scale);
    double before = norm_of(f.grads, f.n);
    assert_true(before > 2.0 * max_norm);
    double *want = tu_to_double(f.grads, f.n);
    for (size_t i = 0; i < f.n; i++)
        want[i] *= max_norm / before;

    float norm = -1.0f;
    TU_OK(rnn_clip_grad_norm(f.model, max_norm, &norm));
    ASSERT_NEAR(norm, before, 1e-6, 0.0);
    ASSERT_NEAR(norm_of(f.grads, f.n), max_norm, 1e-6, 0.0);
    /* The direction is kept: every gradient scaled by the same factor. */
    for (size_t i = 0; i < f.n; i++)
        ASSERT_NEAR(f.grads[i], want[i], 1e-6, 0.0);
    free(want);
    fixture_free(&f);
}

static void clip_returns_the_norm_before_and_scales_to_max_norm(void **state)
{
    (void)state;
    clip_above_max_norm(1.0f, 0.5f);
}

/* Squares near 1e50 overflow float but not the norm itself. */
static void clip_handles_gradients_whose_squares_overflow_float(void **state)
{
    (void)state;
    clip_above_max_norm(1e25f, 1.0f);
}

/* Finite gradients whose norm exceeds FLT_MAX: clipped, and *norm is +Inf
 * (the float nearest the norm) with RNN_OK, as rnn.h says. */
static void clip_scales_gradients_whose_norm_overflows_float(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 4, 28);
    for (size_t i = 0; i < f.n; i++)
        f.grads[i] = (i % 2 ? -3e38f : 3e38f);
    const double before = 3e38 * sqrt((double)f.n);
    float norm = 0.0f;
    TU_OK(rnn_clip_grad_norm(f.model, 1.0f, &norm));
    assert_true(isinf(norm) && norm > 0.0f);
    ASSERT_NEAR(norm_of(f.grads, f.n), 1.0, 1e-5, 0.0);
    for (size_t i = 0; i < f.n; i++)
        ASSERT_NEAR(f.grads[i], (i % 2 ? -3e38 : 3e38) / before, 1e-5, 0.0);
    fixture_free(&f);
}

static void clip_leaves_gradients_below_max_norm_untouched(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 4, 30);
    fill_grads(&f, 31);
    double before = norm_of(f.grads, f.n);
    float *copy = tu_copy(f.grads, f.n);
    float norm = -1.0f;
    TU_OK(rnn_clip_grad_norm(f.model, (float)(before * 1.01), &norm));
    ASSERT_NEAR(norm, before, 1e-6, 0.0);
    assert_memory_equal(copy, f.grads, f.n * sizeof *copy);
    TU_OK(rnn_clip_grad_norm(f.model, (float)(before * 1.01), NULL));
    assert_memory_equal(copy, f.grads, f.n * sizeof *copy);
    free(copy);
    fixture_free(&f);
}

static void clip_nonfinite(const char *tensor, size_t index, float bad)
{
    fixture f;
    fixture_init(&f, 4, 32);
    tu_rng rng = tu_rng_make(33);
    tu_fill(&rng, f.grads, f.n, -1.0, 1.0);
    f.grads[offset_of(f.model, tensor) + index] = bad;
    float *copy = tu_copy(f.grads, f.n);
    float norm = -1.0f;
    TU_FAILS(RNN_E_NONFINITE, "rnn_clip_grad_norm", rnn_clip_grad_norm(f.model, 0.1f, &norm));
    assert_true(error_names(tensor, index));
    assert_memory_equal(copy, f.grads, f.n * sizeof *copy);
    free(copy);
    fixture_free(&f);
}

static void clip_with_nan_gradient_fails_and_leaves_gradients_untouched(void **state)
{
    (void)state;
    clip_nonfinite("bias_ih_l0", 2, NAN);
}

static void clip_with_inf_gradient_fails_and_leaves_gradients_untouched(void **state)
{
    (void)state;
    clip_nonfinite("head.weight", 7, INFINITY);
}

static void clip_rejects_max_norm_that_is_not_positive(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 4, 34);
    fill_grads(&f, 35);
    float *copy = tu_copy(f.grads, f.n);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_clip_grad_norm", rnn_clip_grad_norm(f.model, 0.0f, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_clip_grad_norm", rnn_clip_grad_norm(f.model, -1.0f, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_clip_grad_norm", rnn_clip_grad_norm(f.model, NAN, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_clip_grad_norm", rnn_clip_grad_norm(NULL, 1.0f, NULL));
    assert_memory_equal(copy, f.grads, f.n * sizeof *copy);
    free(copy);
    fixture_free(&f);
}

/* ------------------------------------------------------------------------
 * rnn_check_grads and rnn_check_params
 * ---------------------------------------------------------------------- */

typedef rnn_status (*check_fn)(const rnn_t *model);

/* Two bad values: the check names the first (tensor and index within it),
 * then, once that one is fixed, the second; then passes. */
static void check_names_first_nonfinite(check_fn check, const char *func,
                                        int use_params)
{
    fixture f;
    fixture_init(&f, 4, 36);
    fill_grads(&f, 37);
    float *buf = use_params ? f.params : f.grads;
    TU_OK(check(f.model));
    size_t first = offset_of(f.model, "weight_hh_l0") + 11;
    size_t second = offset_of(f.model, "head.bias") + 1;
    buf[second] = INFINITY;
    buf[first] = NAN;
    TU_FAILS(RNN_E_NONFINITE, func, check(f.model));
    assert_true(error_names("weight_hh_l0", 11));
    buf[first] = 0.5f;
    TU_FAILS(RNN_E_NONFINITE, func, check(f.model));
    assert_true(error_names("head.bias", 1));
    buf[second] = -0.5f;
    TU_OK(check(f.model));
    TU_FAILS(RNN_E_INVALID_ARG, func, check(NULL));
    fixture_free(&f);
}

static void check_grads_names_tensor_and_index_of_first_nonfinite(void **state)
{
    (void)state;
    check_names_first_nonfinite(rnn_check_grads, "rnn_check_grads", 0);
}

static void check_params_names_tensor_and_index_of_first_nonfinite(void **state)
{
    (void)state;
    check_names_first_nonfinite(rnn_check_params, "rnn_check_params", 1);
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

/* rnn_optim_get_config gives back what was created, what set_lr changed,
 * and what a loaded file held. */
static void get_config_reports_the_hyperparameters(void **state)
{
    (void)state;
    fixture f;
    fixture_init(&f, 4, 40);
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAMW, 0.03f);
    cfg.beta1 = 0.8f;
    cfg.amsgrad = 1;
    rnn_optim_t *optim = NULL, *loaded = NULL;
    TU_OK(rnn_optim_create(&optim, f.model, &cfg));
    TU_OK(rnn_optim_set_lr(optim, 0.5f));
    rnn_optim_config got = rnn_optim_config_default(RNN_OPTIM_SGD, 1.0f);
    TU_OK(rnn_optim_get_config(optim, &got));
    cfg.lr = 0.5f;
    assert_memory_equal(&got, &cfg, sizeof cfg);
    size_t size;
    TU_OK(rnn_optim_save_size(optim, &size));
    unsigned char *bytes = malloc(size);
    assert_non_null(bytes);
    TU_OK(rnn_optim_save_buffer(optim, bytes, size, &size));
    TU_OK(rnn_optim_load_buffer(&loaded, bytes, size));
    got = rnn_optim_config_default(RNN_OPTIM_SGD, 1.0f);
    TU_OK(rnn_optim_get_config(loaded, &got));
    assert_memory_equal(&got, &cfg, sizeof cfg);
    got.struct_size = 3;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_get_config",
             rnn_optim_get_config(loaded, &got));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_get_config",
             rnn_optim_get_config(NULL, &got));
    free(bytes);
    rnn_optim_destroy(loaded);
    rnn_optim_destroy(optim);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sgd_step_subtracts_lr_times_grads),
        cmocka_unit_test(sgd_momentum_matches_torch_rule_over_three_steps),
        cmocka_unit_test(sgd_dampening_and_weight_decay_match_torch_rule_over_three_steps),
        cmocka_unit_test(sgd_nesterov_matches_torch_rule_over_three_steps),
        cmocka_unit_test(sgd_without_momentum_applies_l2_weight_decay),
        cmocka_unit_test(adam_first_step_moves_each_parameter_by_lr_against_its_gradient),
        cmocka_unit_test(adam_two_steps_match_kingma_ba_rule),
        cmocka_unit_test(adam_with_default_hyperparameters_matches_kingma_ba_rule),
        cmocka_unit_test(adam_weight_decay_is_added_to_the_gradient),
        cmocka_unit_test(adamw_matches_decoupled_weight_decay_rule),
        cmocka_unit_test(adamw_decay_differs_from_adam_l2_on_a_zero_gradient),
        cmocka_unit_test(adam_amsgrad_divides_by_the_running_maximum_of_v),
        cmocka_unit_test(step_count_counts_successful_steps),
        cmocka_unit_test(set_lr_changes_the_next_update),
        cmocka_unit_test(set_lr_rejects_negative_or_non_finite_rates),
        cmocka_unit_test(step_on_a_model_of_another_size_fails_and_changes_nothing),
        cmocka_unit_test(step_on_another_model_of_the_same_size_updates_that_model),
        cmocka_unit_test(sgd_step_on_nan_gradient_fails_naming_the_tensor),
        cmocka_unit_test(adam_step_on_nan_gradient_fails_naming_the_tensor),
        cmocka_unit_test(adamw_step_on_inf_gradient_fails_naming_the_tensor),
        cmocka_unit_test(config_default_has_pytorch_defaults),
        cmocka_unit_test(create_rejects_invalid_configurations),
        cmocka_unit_test(clip_returns_the_norm_before_and_scales_to_max_norm),
        cmocka_unit_test(clip_handles_gradients_whose_squares_overflow_float),
        cmocka_unit_test(clip_scales_gradients_whose_norm_overflows_float),
        cmocka_unit_test(get_config_reports_the_hyperparameters),
        cmocka_unit_test(clip_leaves_gradients_below_max_norm_untouched),
        cmocka_unit_test(clip_with_nan_gradient_fails_and_leaves_gradients_untouched),
        cmocka_unit_test(clip_with_inf_gradient_fails_and_leaves_gradients_untouched),
        cmocka_unit_test(clip_rejects_max_norm_that_is_not_positive),
        cmocka_unit_test(check_grads_names_tensor_and_index_of_first_nonfinite),
        cmocka_unit_test(check_params_names_tensor_and_index_of_first_nonfinite),
        cmocka_unit_test(sgd_training_reduces_the_loss),
        cmocka_unit_test(adam_training_reduces_the_loss),
    };
    return cmocka_run_group_tests_name("test_optimizers", tests, NULL, NULL);
}
