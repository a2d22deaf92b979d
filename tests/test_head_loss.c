/* SPDX-License-Identifier: MIT
 *
 * test_head_loss.c - rnn_loss_bce_with_logits against its double formula,
 * for both reductions and at extreme logits; and the readout head's own
 * gradient path (head backward alone, and rnn_backward consuming the head's
 * dL/dh once). Head outputs and gradients on every table row are in
 * test_forward.c and test_backward.c; cross-entropy and MSE in
 * test_losses.c.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double LOSS_TOL = 1e-6;

/* ------------------------------------------------------------------------
 * Double formulas
 * ---------------------------------------------------------------------- */

static double bce(double z, double y)
{
    return fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
}

static double sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* loss and dlogits of one reduction from per-element values. */
static double reduce(int32_t reduction, double sum, int32_t n)
{
    return reduction == RNN_REDUCTION_MEAN ? sum / n : sum;
}

/* Checks rnn_loss_bce_with_logits on n logits/targets against the formula. */
static int bce_matches(int32_t n, const float *z, const float *y, int32_t reduction)
{
    float loss = TU_SENTINEL, *dz = tu_floats((size_t)n), loss_no_grad = TU_SENTINEL;
    double *want_dz = calloc((size_t)n, sizeof *want_dz), sum = 0.0;
    assert_non_null(want_dz);
    for (int32_t i = 0; i < n; i++) {
        sum += bce(z[i], y[i]);
        want_dz[i] = reduce(reduction, sigmoid(z[i]) - y[i], n);
    }
    double want = reduce(reduction, sum, n);
    TU_OK(rnn_loss_bce_with_logits(n, z, y, reduction, &loss, dz));
    TU_OK(rnn_loss_bce_with_logits(n, z, y, reduction, &loss_no_grad, NULL));
    int ok = tu_close("bce loss", &loss, &want, 1, LOSS_TOL);
    ok &= tu_close("bce loss (dlogits NULL)", &loss_no_grad, &want, 1, LOSS_TOL);
    ok &= tu_close("bce dlogits", dz, want_dz, (size_t)n, LOSS_TOL);
    free(dz);
    free(want_dz);
    return ok;
}

static void bce_matches_formula_for_mean_and_sum(void **state)
{
    (void)state;
    enum { N = 37 };
    float z[N], y[N];
    tu_rng rng = tu_rng_make(1);
    tu_fill(&rng, z, N, -6.0, 6.0);
    for (int i = 0; i < N; i++) /* 0, 1 and soft targets */
        y[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : (float)tu_uniform(&rng, 0.0, 1.0);
    assert_true(bce_matches(N, z, y, RNN_REDUCTION_MEAN));
    assert_true(bce_matches(N, z, y, RNN_REDUCTION_SUM));
}

/* max(z,0) - z*y + log1p(exp(-|z|)) never overflows: loss and gradient
 * stay finite and exact at +-100 and +-1e4. */
static void bce_is_stable_at_extreme_logits(void **state)
{
    (void)state;
    static const float z[] = { 100.0f, -100.0f, 1e4f, -1e4f, 100.0f, -100.0f,
                               1e4f, -1e4f, 1e4f, -1e4f };
    static const float y[] = { 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f,
                               0.5f, 0.5f };
    const int32_t n = (int32_t)(sizeof z / sizeof z[0]);
    float loss, dz[sizeof z / sizeof z[0]];
    TU_OK(rnn_loss_bce_with_logits(n, z, y, RNN_REDUCTION_SUM, &loss, dz));
    assert_true(isfinite(loss));
    for (int32_t i = 0; i < n; i++)
        assert_true(isfinite(dz[i]));
    assert_true(bce_matches(n, z, y, RNN_REDUCTION_SUM));
    assert_true(bce_matches(n, z, y, RNN_REDUCTION_MEAN));
}

static void bce_rejects_targets_outside_zero_one(void **state)
{
    (void)state;
    const float bad[] = { -0.01f, 1.01f, NAN, -INFINITY };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        float z[3] = { 0.5f, -0.5f, 1.0f }, y[3] = { 0.0f, 1.0f, 0.5f };
        float loss = TU_SENTINEL, dz[3];
        tu_sentinel_fill(dz, 3);
        y[1] = bad[i];
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_loss_bce_with_logits",
                 rnn_loss_bce_with_logits(3, z, y, RNN_REDUCTION_MEAN, &loss, dz));
        assert_true(tu_sentinel_intact("loss", &loss, 1));
        assert_true(tu_sentinel_intact("dlogits", dz, 3));
    }
}

/* ------------------------------------------------------------------------
 * The head's gradient path
 * ---------------------------------------------------------------------- */

/* The reference's gradients for dy = dh_n = 0, driven by dlogits alone. */
static ref_result head_only_reference(const tu_case *c)
{
    double *p = tu_to_double(c->params, c->n_params), *x = tu_to_double(c->x, c->n_x);
    double *h0 = tu_to_double(c->h0, c->n_h);
    double *dlogits = tu_to_double(c->dlogits, c->n_logits);
    ref_batch in = { c->s.T, c->s.B, x, c->lengths, h0 };
    ref_cotangents cot = { NULL, NULL, dlogits };
    ref_result r;
    assert_int_equal(ref_run(&c->m, p, &in, &cot, &r), 0);
    free(p);
    free(x);
    free(h0);
    free(dlogits);
    return r;
}

static int is_head_tensor(const ref_tensor *t)
{
    return strncmp(t->name, "head.", 5) == 0;
}

/* rnn_head_backward adds dW_y and db_y only; the RNN's gradients wait for
 * rnn_backward. */
static void head_backward_adds_only_head_gradients(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 1);
    ref_result want = head_only_reference(&c);
    tu_out o;
    tu_out_alloc(&c, &o);
    TU_OK(rnn_zero_grad(c.model));
    tu_case_forward(&c, &o);
    TU_OK(rnn_head_backward(c.model, c.dlogits));
    float *grads = NULL;
    TU_OK(rnn_grads(c.model, &grads, NULL));
    int ok = 1;
    for (int32_t i = 0; i < ref_tensor_count(&c.m); i++) {
        ref_tensor t = ref_tensor_at(&c.m, i);
        if (is_head_tensor(&t)) {
            ok &= tu_close(t.name, grads + t.offset, want.dparams + t.offset, t.count,
                           1e-5);
        } else if (tu_count_equal(grads + t.offset, t.count, 0.0f) != t.count) {
            print_error("%s: gradient written by rnn_head_backward\n", t.name);
            ok = 0;
        }
    }
    ref_result_free(&want);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* rnn_backward consumes the head's dL/dh: a second rnn_backward (with no
 * dy, dh_n) adds nothing more. */
static void backward_consumes_the_head_gradient_once(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 2);
    ref_result want = head_only_reference(&c);
    tu_out o;
    tu_out_alloc(&c, &o);
    TU_OK(rnn_zero_grad(c.model));
    tu_case_forward(&c, &o);
    TU_OK(rnn_head_backward(c.model, c.dlogits));
    TU_OK(rnn_backward(c.model, NULL, NULL, NULL, NULL));
    TU_OK(rnn_backward(c.model, NULL, NULL, o.dx, o.dh0));
    float *grads = NULL;
    TU_OK(rnn_grads(c.model, &grads, NULL));
    int ok = tu_params_close(&c, "grad", grads, want.dparams, 1e-4);
    ok &= tu_count_equal(o.dx, c.n_x, 0.0f) == c.n_x;
    ok &= tu_count_equal(o.dh0, c.n_h, 0.0f) == c.n_h;
    ref_result_free(&want);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

int main(void)
{
    static const struct CMUnitTest plain[] = {
        cmocka_unit_test(bce_matches_formula_for_mean_and_sum),
        cmocka_unit_test(bce_is_stable_at_extreme_logits),
        cmocka_unit_test(bce_rejects_targets_outside_zero_one),
    };
    static const tu_table_test table[] = {
        TU_TABLE_TEST(head_backward_adds_only_head_gradients, tu_has_head),
        TU_TABLE_TEST(backward_consumes_the_head_gradient_once, tu_has_head),
    };
    return tu_run("test_head_loss", plain, sizeof plain / sizeof plain[0], table,
                  sizeof table / sizeof table[0]);
}
