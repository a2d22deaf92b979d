/* SPDX-License-Identifier: MIT
 *
 * test_head_loss.c - the readout head's own gradient path (head backward
 * alone, and rnn_backward consuming the head's dL/dh once). Head outputs
 * and gradients on every table row are in test_forward.c and
 * test_backward.c; the losses, and a loss chained through the head, in
 * test_losses.c.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

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

/* rnn_backward consumes the head's dL/dh: a second rnn_backward with no
 * dy or dh_n has nothing to propagate (RNN_E_STATE) and changes nothing. */
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
    TU_FAILS(RNN_E_STATE, "rnn_backward",
             rnn_backward(c.model, NULL, NULL, o.dx, o.dh0));
    float *grads = NULL;
    TU_OK(rnn_grads(c.model, &grads, NULL));
    int ok = tu_params_close(&c, "grad", grads, want.dparams, 1e-4);
    ok &= tu_sentinel_intact("dx", o.dx, c.n_x);
    ok &= tu_sentinel_intact("dh0", o.dh0, c.n_h);
    ref_result_free(&want);
    tu_out_free(&o);
    tu_case_free(&c);
    assert_true(ok);
}

int main(void)
{
    static const tu_table_test table[] = {
        TU_TABLE_TEST(head_backward_adds_only_head_gradients, tu_has_head),
        TU_TABLE_TEST(backward_consumes_the_head_gradient_once, tu_has_head),
    };
    return tu_run("test_head_loss", NULL, 0, table, sizeof table / sizeof table[0]);
}
