/* SPDX-License-Identifier: MIT
 *
 * test_backward.c - gradient checks.
 *
 * The chain of trust: (1) the double reference's hand-written BPTT equals
 * central differences of its own loss, so the oracle is right; (2) librnn's
 * gradients (every parameter tensor, dx, dh0) equal the reference's on every
 * row of the shape table; (3) librnn's gradients also equal central
 * differences of librnn's own float forward on a subset, independently of
 * the reference. Then accumulation and rnn_zero_grad.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double GRAD_TOL = 1e-4;

/* ------------------------------------------------------------------------
 * (1) The reference against its own central differences, in double
 * ---------------------------------------------------------------------- */

typedef struct fd_problem {
    const ref_model *m;
    double *params, *x, *h0;
    ref_batch in;
    ref_cotangents weights;
} fd_problem;

/* Central differences of ref_loss w.r.t. every element of v[n] (one of the
 * problem's arrays, perturbed in place and restored). */
static int reference_fd_matches(fd_problem *p, const char *what, double *v,
                                const double *analytic, size_t n)
{
    const double eps = 1e-6;
    double *fd = calloc(n ? n : 1, sizeof *fd);
    assert_non_null(fd);
    for (size_t i = 0; i < n; i++) {
        double saved = v[i];
        v[i] = saved + eps;
        double plus = ref_loss(p->m, p->params, &p->in, &p->weights);
        v[i] = saved - eps;
        double minus = ref_loss(p->m, p->params, &p->in, &p->weights);
        v[i] = saved;
        fd[i] = (plus - minus) / (2.0 * eps);
    }
    int ok = tu_close_d(what, analytic, fd, n, 1e-6);
    free(fd);
    return ok;
}

static void reference_gradients_match_central_differences(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 1);
    double *dy = tu_to_double(c.dy, c.n_y), *dh_n = tu_to_double(c.dh_n, c.n_h);
    double *dlogits = tu_to_double(c.dlogits, c.n_logits);
    /* h0 = NULL means zeros: differentiate at an explicit zero h0. */
    float *h0f = c.h0 ? tu_copy(c.h0, c.n_h) : tu_floats(c.n_h);
    fd_problem p = { &c.m, tu_to_double(c.params, c.n_params),
                     tu_to_double(c.x, c.n_x), tu_to_double(h0f, c.n_h),
                     { c.s.T, c.s.B, NULL, c.lengths, NULL },
                     { dy, dh_n, dlogits } };
    p.in.x = p.x;
    p.in.h0 = p.h0;

    int ok = 1;
    for (int32_t i = 0; i < ref_tensor_count(&c.m); i++) {
        ref_tensor t = ref_tensor_at(&c.m, i);
        ok &= reference_fd_matches(&p, t.name, p.params + t.offset,
                                   c.ref.dparams + t.offset, t.count);
    }
    ok &= reference_fd_matches(&p, "dx", p.x, c.ref.dx, c.n_x);
    ok &= reference_fd_matches(&p, "dh0", p.h0, c.ref.dh0, c.n_h);

    free(p.params);
    free(p.x);
    free(p.h0);
    free(h0f);
    free(dy);
    free(dh_n);
    free(dlogits);
    tu_case_free(&c);
    assert_true(ok);
}

/* ------------------------------------------------------------------------
 * (2) librnn against the reference
 * ---------------------------------------------------------------------- */

/* zero_grad, forward (+ head), head backward, backward; compares all. */
static int run_and_compare(tu_case *c)
{
    tu_out o;
    tu_out_alloc(c, &o);
    TU_OK(rnn_zero_grad(c->model));
    tu_case_forward(c, &o);
    tu_case_backward(c, &o);
    int ok = tu_backward_matches(c, &o, GRAD_TOL);
    tu_out_free(&o);
    return ok;
}

static void gradients_match_reference(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 2);
    int ok = run_and_compare(&c);
    tu_case_free(&c);
    assert_true(ok);
}

/* dx and dh0 may be NULL; the weight gradients are the same. */
static void gradients_match_reference_when_dx_and_dh0_are_null(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 3);
    tu_out o;
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    if (c.s.O > 0)
        TU_OK(rnn_head_backward(c.model, c.dlogits));
    TU_OK(rnn_backward(c.model, c.dy, c.dh_n, NULL, NULL));
    float *grads = NULL;
    TU_OK(rnn_grads(c.model, &grads, NULL));
    int ok = tu_params_close(&c, "grad", grads, c.ref.dparams, GRAD_TOL);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* dy = NULL and dh_n = NULL count as zero: only the head drives the
 * gradients; without one there is nothing to propagate (RNN_E_STATE). */
static void backward_treats_null_dy_and_dh_n_as_zero(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 4);
    double *p = tu_to_double(c.params, c.n_params), *x = tu_to_double(c.x, c.n_x);
    double *h0 = tu_to_double(c.h0, c.n_h);
    double *dlogits = tu_to_double(c.dlogits, c.n_logits);
    ref_batch in = { c.s.T, c.s.B, x, c.lengths, h0 };
    ref_cotangents cot = { NULL, NULL, dlogits };
    ref_result want;
    assert_int_equal(ref_run(&c.m, p, &in, &cot, &want), 0);

    tu_out o;
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    if (c.s.O == 0) {
        /* nothing to propagate: refused, nothing written */
        TU_FAILS(RNN_E_STATE, "rnn_backward",
                 rnn_backward(c.model, NULL, NULL, o.dx, o.dh0));
        assert_true(tu_sentinel_intact("dx", o.dx, c.n_x));
        ref_result_free(&want);
        tu_out_free(&o);
        free(p);
        free(x);
        free(h0);
        free(dlogits);
        tu_case_free(&c);
        return;
    }
    TU_OK(rnn_head_backward(c.model, c.dlogits));
    TU_OK(rnn_backward(c.model, NULL, NULL, o.dx, o.dh0));
    float *grads = NULL;
    TU_OK(rnn_grads(c.model, &grads, NULL));
    int ok = tu_params_close(&c, "grad", grads, want.dparams, GRAD_TOL);
    ok &= tu_close("dx", o.dx, want.dx, c.n_x, GRAD_TOL);
    ok &= tu_close("dh0", o.dh0, want.dh0, c.n_h, GRAD_TOL);

    ref_result_free(&want);
    free(p);
    free(x);
    free(h0);
    free(dlogits);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* One model run on several (T, B) in a row, growing and shrinking its
 * workspaces, still matches the reference each time. */
static void gradients_match_reference_after_batch_and_length_change(void **state)
{
    static const int32_t sizes[][2] = { { 7, 5 }, { 2, 1 }, { 3, 2 }, { 9, 6 } };
    assert_true(tu_for_sizes(tu_row(state), sizes, sizeof sizes / sizeof sizes[0], 5,
                             run_and_compare));
}

/* rnn_forward copies what backward needs: the caller may overwrite x and
 * h0 right after it returns. */
static void backward_does_not_read_x_or_h0_after_forward_returns(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 10);
    tu_out o;
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    tu_sentinel_fill(c.x, c.n_x);
    if (c.h0)
        tu_sentinel_fill(c.h0, c.n_h);
    tu_case_backward(&c, &o);
    int ok = tu_backward_matches(&c, &o, GRAD_TOL);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* ------------------------------------------------------------------------
 * (3) librnn against central differences of its own float forward
 * ---------------------------------------------------------------------- */

static void gradients_match_float_finite_differences_of_librnn(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 6);
    tu_out o;
    tu_out_alloc(&c, &o);
    TU_OK(rnn_zero_grad(c.model));
    tu_case_forward(&c, &o);
    tu_case_backward(&c, &o);
    float *h0 = c.h0;
    if (!h0) /* differentiate at an explicit zero h0 */
        c.h0 = tu_floats(c.n_h);
    int ok = 1;
    for (int32_t i = 0; i < ref_tensor_count(&c.m); i++) {
        ref_tensor t = ref_tensor_at(&c.m, i);
        ok &= tu_fd_matches(&c, &o, NULL, t.name, c.params + t.offset, o.grads + t.offset,
                                t.count);
    }
    ok &= tu_fd_matches(&c, &o, NULL, "dx", c.x, o.dx, c.n_x);
    ok &= tu_fd_matches(&c, &o, NULL, "dh0", c.h0, o.dh0, c.n_h);
    if (!h0) {
        free(c.h0);
        c.h0 = NULL;
    }
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* ------------------------------------------------------------------------
 * Accumulation
 * ---------------------------------------------------------------------- */

static double *scaled(const double *a, size_t n, double k)
{
    double *s = calloc(n ? n : 1, sizeof *s);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = k * a[i];
    return s;
}

/* Two full training passes without rnn_zero_grad add up: 2x the gradients,
 * while dx and dh0 are written (not accumulated). */
static void two_passes_without_zero_grad_give_twice_the_gradients(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 7);
    tu_out o;
    tu_out_alloc(&c, &o);
    TU_OK(rnn_zero_grad(c.model));
    for (int pass = 0; pass < 2; pass++) {
        tu_case_forward(&c, &o);
        tu_case_backward(&c, &o);
    }
    double *twice = scaled(c.ref.dparams, c.n_params, 2.0);
    int ok = tu_params_close(&c, "2x grad", o.grads, twice, GRAD_TOL);
    ok &= tu_close("dx", o.dx, c.ref.dx, c.n_x, GRAD_TOL);
    ok &= tu_close("dh0", o.dh0, c.ref.dh0, c.n_h, GRAD_TOL);
    free(twice);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* rnn_backward called twice for one forward adds the gradients again. */
static void backward_twice_on_one_forward_adds_gradients_again(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 8);
    tu_out o;
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    TU_OK(rnn_backward(c.model, c.dy, c.dh_n, NULL, NULL));
    TU_OK(rnn_backward(c.model, c.dy, c.dh_n, o.dx, o.dh0));
    float *grads = NULL;
    TU_OK(rnn_grads(c.model, &grads, NULL));
    double *twice = scaled(c.ref.dparams, c.n_params, 2.0);
    int ok = tu_params_close(&c, "2x grad", grads, twice, GRAD_TOL);
    ok &= tu_close("dx", o.dx, c.ref.dx, c.n_x, GRAD_TOL);
    free(twice);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

static void zero_grad_zeroes_every_gradient(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 9);
    assert_true(run_and_compare(&c)); /* leaves non-zero gradients */
    float *grads = NULL;
    size_t n = 0;
    TU_OK(rnn_grads(c.model, &grads, &n));
    assert_true(tu_count_equal(grads, n, 0.0f) < n);
    TU_OK(rnn_zero_grad(c.model));
    size_t zeros = tu_count_equal(grads, n, 0.0f);
    tu_case_free(&c);
    assert_int_equal(zeros, n);
}

int main(void)
{
    static const tu_table_test table[] = {
        TU_TABLE_TEST(reference_gradients_match_central_differences, NULL),
        TU_TABLE_TEST(gradients_match_reference, NULL),
        TU_TABLE_TEST(gradients_match_reference_when_dx_and_dh0_are_null, NULL),
        TU_TABLE_TEST(backward_treats_null_dy_and_dh_n_as_zero, NULL),
        TU_TABLE_TEST(gradients_match_reference_after_batch_and_length_change,
                      tu_no_lengths),
        TU_TABLE_TEST(backward_does_not_read_x_or_h0_after_forward_returns, NULL),
        /* tanh only: relu's kinks spoil float differences with eps 4e-3 */
        TU_TABLE_TEST(gradients_match_float_finite_differences_of_librnn, tu_is_tanh),
        TU_TABLE_TEST(two_passes_without_zero_grad_give_twice_the_gradients, NULL),
        TU_TABLE_TEST(backward_twice_on_one_forward_adds_gradients_again, tu_no_head),
        TU_TABLE_TEST(zero_grad_zeroes_every_gradient, NULL),
    };
    return tu_run("test_backward", NULL, 0, table, sizeof table / sizeof table[0]);
}
