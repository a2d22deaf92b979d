/* SPDX-License-Identifier: MIT
 *
 * test_forward.c - rnn_forward and rnn_head_forward: y, h_n and logits
 * against the double reference on every row of the shape table, and the
 * equivalences the header promises (NULL h0 = zeros, NULL lengths = all T,
 * optional outputs, batch_first = time-major on transposed data).
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* Unit-scale inputs: 1e-5 absolute, relative above magnitude 1. */
static const double FWD_TOL = 1e-5;
/* Two librnn runs that differ only in layout or in an implicit zero. */
static const double SAME_TOL = 1e-6;

static void forward_matches_reference(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 1);
    tu_out o;
    tu_out_alloc(&c, &o);
    tu_case_forward(&c, &o);
    int ok = tu_forward_matches(&c, &o, FWD_TOL);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

static int forward_check(tu_case *c)
{
    tu_out o;
    tu_out_alloc(c, &o);
    tu_case_forward(c, &o);
    int ok = tu_forward_matches(c, &o, FWD_TOL);
    tu_out_free(&o);
    return ok;
}

/* One model run on several (T, B), growing and shrinking its workspaces. */
static void forward_matches_reference_after_batch_and_length_change(void **state)
{
    static const int32_t sizes[][2] = { { 2, 1 }, { 8, 6 }, { 3, 2 }, { 1, 7 }, { 8, 6 } };
    assert_true(tu_for_sizes(tu_row(state), sizes, sizeof sizes / sizeof sizes[0], 2,
                             forward_check));
}

/* Compares two librnn outputs of the same case. */
static int outputs_equal(const tu_case *c, const tu_out *a, const tu_out *b)
{
    int ok = tu_close_f("y", a->y, b->y, c->n_y, SAME_TOL);
    ok &= tu_close_f("h_n", a->h_n, b->h_n, c->n_h, SAME_TOL);
    if (c->n_logits)
        ok &= tu_close_f("logits", a->logits, b->logits, c->n_logits, SAME_TOL);
    return ok;
}

static void null_h0_equals_zero_h0(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 3);
    free(c.h0);
    c.h0 = NULL;
    tu_out with_null, with_zeros;
    tu_out_alloc(&c, &with_null);
    tu_out_alloc(&c, &with_zeros);
    tu_case_forward(&c, &with_null);
    c.h0 = tu_floats(c.n_h);
    tu_case_forward(&c, &with_zeros);
    int ok = outputs_equal(&c, &with_null, &with_zeros);
    tu_out_free(&with_null);
    tu_out_free(&with_zeros);
    tu_case_free(&c);
    assert_true(ok);
}

static void null_lengths_equal_lengths_of_full_length(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 4);
    tu_out with_null, with_full;
    tu_out_alloc(&c, &with_null);
    tu_out_alloc(&c, &with_full);
    tu_case_forward(&c, &with_null);
    for (int32_t b = 0; b < c.s.B; b++)
        c.s.lengths[b] = c.s.T;
    c.lengths = c.s.lengths;
    tu_case_forward(&c, &with_full);
    int ok = outputs_equal(&c, &with_null, &with_full);
    tu_out_free(&with_null);
    tu_out_free(&with_full);
    tu_case_free(&c);
    assert_true(ok);
}

/* y and h_n may be NULL; what is asked for is still right, the head still
 * reads the forward's output, and backward still works. */
static void null_y_or_null_h_n_is_allowed(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 5);
    tu_out o;
    tu_out_alloc(&c, &o);
    TU_OK(rnn_forward(c.model, c.s.T, c.s.B, c.x, c.lengths, c.h0, NULL, o.h_n));
    int ok = tu_close("h_n with y NULL", o.h_n, c.ref.h_n, c.n_h, FWD_TOL);
    TU_OK(rnn_forward(c.model, c.s.T, c.s.B, c.x, c.lengths, c.h0, o.y, NULL));
    ok &= tu_close("y with h_n NULL", o.y, c.ref.y, c.n_y, FWD_TOL);
    TU_OK(rnn_forward(c.model, c.s.T, c.s.B, c.x, c.lengths, c.h0, NULL, NULL));
    if (c.n_logits) {
        TU_OK(rnn_head_forward(c.model, o.logits));
        ok &= tu_close("logits after y, h_n NULL", o.logits, c.ref.logits, c.n_logits,
                       FWD_TOL);
    }
    tu_case_backward(&c, &o);
    ok &= tu_backward_matches(&c, &o, 1e-4);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

/* [T, B, n] <-> [B, T, n] of `from`'s layout into a new array. */
static float *transposed(const tu_case *from, const float *a, int32_t n)
{
    ref_model other = from->m;
    other.batch_first = !other.batch_first;
    size_t count = (size_t)from->s.T * (size_t)from->s.B * (size_t)n;
    float *t = tu_floats(count);
    for (int32_t ti = 0; ti < from->s.T; ti++)
        for (int32_t b = 0; b < from->s.B; b++)
            for (int32_t k = 0; k < n; k++)
                t[ref_seq_index(&other, from->s.T, from->s.B, ti, b, n, k)] =
                    a[ref_seq_index(&from->m, from->s.T, from->s.B, ti, b, n, k)];
    return t;
}

/* The same row with batch_first flipped and the same parameters and data,
 * transposed: y, logits (every step), dx transpose; h_n, dh0, grads equal. */
static void batch_first_equals_time_major_on_transposed_data(void **state)
{
    tu_shape flipped_row = *tu_row(state);
    flipped_row.batch_first = !flipped_row.batch_first;
    tu_case c, f;
    tu_case_init(&c, tu_row(state), 6);
    tu_case_init(&f, &flipped_row, 6);
    const int32_t DH = c.m.D * c.m.H;
    memcpy(f.params, c.params, c.n_params * sizeof *c.params);
    free(f.x);
    f.x = transposed(&c, c.x, c.m.I);
    free(f.dy);
    f.dy = transposed(&c, c.dy, DH);
    memcpy(f.dh_n, c.dh_n, c.n_h * sizeof *c.dh_n);
    if (c.h0)
        memcpy(f.h0, c.h0, c.n_h * sizeof *c.h0);
    int all_steps = c.s.O > 0 && c.s.head_mode == RNN_HEAD_ALL;
    if (c.n_logits) {
        free(f.dlogits);
        f.dlogits = all_steps ? transposed(&c, c.dlogits, c.m.O)
                              : tu_copy(c.dlogits, c.n_logits);
    }

    tu_out oc, of;
    tu_out_alloc(&c, &oc);
    tu_out_alloc(&f, &of);
    TU_OK(rnn_zero_grad(c.model));
    TU_OK(rnn_zero_grad(f.model));
    tu_case_forward(&c, &oc);
    tu_case_backward(&c, &oc);
    tu_case_forward(&f, &of);
    tu_case_backward(&f, &of);

    float *y = transposed(&f, of.y, DH), *dx = transposed(&f, of.dx, c.m.I);
    float *logits = !c.n_logits ? NULL
                    : all_steps ? transposed(&f, of.logits, c.m.O)
                                : tu_copy(of.logits, c.n_logits);
    int ok = tu_close_f("y", y, oc.y, c.n_y, SAME_TOL);
    ok &= tu_close_f("h_n", of.h_n, oc.h_n, c.n_h, SAME_TOL);
    if (c.n_logits)
        ok &= tu_close_f("logits", logits, oc.logits, c.n_logits, SAME_TOL);
    ok &= tu_close_f("dx", dx, oc.dx, c.n_x, SAME_TOL);
    ok &= tu_close_f("dh0", of.dh0, oc.dh0, c.n_h, SAME_TOL);
    ok &= tu_close_f("grads", of.grads, oc.grads, c.n_params, SAME_TOL);

    free(y);
    free(dx);
    free(logits);
    tu_out_free(&oc);
    tu_out_free(&of);
    tu_case_free(&c);
    tu_case_free(&f);
    assert_true(ok);
}

/* The head reads the latest forward: a second forward on other data
 * changes the logits to that forward's. */
static void head_forward_reads_the_latest_forward(void **state)
{
    tu_case c;
    tu_case_init(&c, tu_row(state), 7);
    tu_out o;
    tu_out_alloc(&c, &o);
    float *x = tu_copy(c.x, c.n_x);
    for (size_t i = 0; i < c.n_x; i++)
        c.x[i] = -c.x[i];
    TU_OK(rnn_forward(c.model, c.s.T, c.s.B, c.x, c.lengths, c.h0, NULL, NULL));
    memcpy(c.x, x, c.n_x * sizeof *x);
    tu_case_forward(&c, &o);
    int ok = tu_close("logits", o.logits, c.ref.logits, c.n_logits, FWD_TOL);
    free(x);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

int main(void)
{
    static const tu_table_test table[] = {
        TU_TABLE_TEST(forward_matches_reference, NULL),
        TU_TABLE_TEST(forward_matches_reference_after_batch_and_length_change,
                      tu_no_lengths),
        TU_TABLE_TEST(null_h0_equals_zero_h0, NULL),
        TU_TABLE_TEST(null_lengths_equal_lengths_of_full_length, tu_no_lengths),
        TU_TABLE_TEST(null_y_or_null_h_n_is_allowed, NULL),
        TU_TABLE_TEST(batch_first_equals_time_major_on_transposed_data, NULL),
        TU_TABLE_TEST(head_forward_reads_the_latest_forward, tu_has_head),
    };
    return tu_run("test_forward", NULL, 0, table, sizeof table / sizeof table[0]);
}
