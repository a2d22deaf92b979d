/* SPDX-License-Identifier: MIT
 *
 * cellcase.h - the harness of the gated cells' correctness tests
 * (test_lstm.c, test_gru.c): their shape table, a "case" (a librnn LSTM or
 * GRU with random parameters and inputs, and reference_cells.c's answers),
 * librnn's forward and backward through rnn_forward_ex / rnn_backward_ex,
 * the comparisons, the check of the reference against its own central
 * differences, and a runner expanding tests over the rows.
 */
#ifndef RNN_TEST_CELLCASE_H
#define RNN_TEST_CELLCASE_H

#include "reference_cells.h"
#include "testutil.h"

typedef struct tc_shape {
    const char *name;
    int32_t I, H, P, L, bidirectional, bias, batch_first;
    int32_t O, head_mode;
    int32_t T, B;
    int32_t use_h0, use_c0;        /* 0: NULL (zeros); c0 LSTM only   */
    int32_t lengths[TU_MAX_BATCH]; /* all 0: lengths = NULL           */
} tc_shape;

/* Rows with P > 0 (proj_size) are the LSTM's only. */
extern const tc_shape tc_shapes[];
extern const size_t tc_shape_count;

typedef struct tc_case {
    tc_shape s;
    int32_t cell;              /* RNN_CELL_LSTM or RNN_CELL_GRU            */
    refc_model m;
    rnn_t *model;              /* NULL for a reference-only case           */
    float *params;             /* the model's flat buffer, or our own      */
    size_t n_params, n_x, n_y, n_h, n_c, n_logits; /* n_c 0 for a GRU    */
    const int32_t *lengths;    /* s.lengths or NULL                        */
    float *x, *h0, *c0;        /* h0, c0 NULL unless the row uses them     */
    float *dy, *dh_n, *dc_n, *dlogits; /* dc_n, dlogits NULL if none       */
    refc_result ref;           /* the reference's forward + backward      */
} tc_case;

/* Builds the case; with_library = 0 makes no librnn model (for the
 * reference's own checks). Fails the test on any error. */
void tc_case_init(tc_case *c, int32_t cell, const tc_shape *s, uint64_t seed,
                  int with_library);
void tc_case_free(tc_case *c);

enum { TC_DY = 1, TC_DH_N = 2, TC_DC_N = 4, TC_DLOGITS = 8, TC_ALL = 15 };

/* The reference run on the case for the cotangents in `use` only (a mask
 * of TC_DY, TC_DH_N, TC_DC_N, TC_DLOGITS). */
void tc_reference_for(const tc_case *c, int use, refc_result *want);

/* librnn's answers, allocated filled with TU_SENTINEL. */
typedef struct tc_out {
    float *y, *h_n, *c_n, *logits, *grads, *dx, *dh0, *dc0;
} tc_out;
void tc_out_alloc(const tc_case *c, tc_out *o);
void tc_out_free(tc_out *o);

/* rnn_forward_ex (+ rnn_head_forward): y, h_n, c_n, logits. */
void tc_forward(tc_case *c, tc_out *o);
/* rnn_head_backward + rnn_backward_ex with the case's cotangents (those
 * of `use` only: a mask of TC_DY, TC_DH_N, TC_DC_N, TC_DLOGITS): dx, dh0,
 * dc0, and a copy of the gradients into grads. */
void tc_backward(tc_case *c, tc_out *o, int use);

/* librnn against the reference, |got - want| <= tol * max(1, |want|). */
int tc_forward_matches(const tc_case *c, const tc_out *o, double tol);
int tc_backward_matches(const tc_case *c, const tc_out *o, const refc_result *want,
                        double tol);

/* The reference's gradients (every parameter, dx, dh0, dc0) against central
 * differences (eps 1e-6) of refc_loss, in double, to tol. */
int tc_reference_matches_differences(const tc_case *c, double tol);

/* The plain tests, then each table test once per row of the cell's table
 * accepted by `accepts` (NULL: all), named "<name>/<row>"; tc_row(state)
 * and tc_cell(state) find them. */
typedef struct tc_table_test {
    const char *name;
    CMUnitTestFunction fn;
    int (*accepts)(const tc_shape *s);
} tc_table_test;
#define TC_TABLE_TEST(fn, accepts) { #fn, fn, accepts }

const tc_shape *tc_row(void **state);
int32_t tc_cell(void **state);
int tc_run(const char *group, int32_t cell, const struct CMUnitTest *plain, size_t n_plain,
           const tc_table_test *table, size_t n_table);

/* The table tests both programs run (state: a row from tc_run):
 * the reference's gradients against its central differences (1e-6);
 * librnn's y, h_n, c_n and logits against the reference (1e-5);
 * librnn's gradients of every parameter, dx, dh0, dc0 (1e-4);
 * the same with dy, dh_n and dc_n each alone (dy alone with the head). */
void tc_reference_gradients_match_central_differences(void **state);
void tc_forward_matches_reference(void **state);
void tc_gradients_match_reference(void **state);
void tc_gradients_match_reference_for_each_cotangent_alone(void **state);
/* Also: the inference forward; backward after the caller overwrote x, h0,
 * c0; one model over several (T, B); two passes accumulate; rnn_step. */
void tc_inference_forward_matches_reference(void **state);
void tc_backward_does_not_read_inputs_after_forward_returns(void **state);
void tc_gradients_match_reference_after_batch_and_length_change(void **state);
void tc_two_passes_without_zero_grad_give_twice_the_gradients(void **state);
void tc_steps_match_reference(void **state);
int tc_unidirectional_without_lengths(const tc_shape *s);
/* H <= 8: central differences over every parameter stay cheap (valgrind). */
int tc_small(const tc_shape *s);
int tc_without_lengths(const tc_shape *s);
#define TC_COMMON_TESTS                                                      \
    TC_TABLE_TEST(tc_reference_gradients_match_central_differences, tc_small), \
    TC_TABLE_TEST(tc_forward_matches_reference, NULL),                       \
    TC_TABLE_TEST(tc_gradients_match_reference, NULL),                       \
    TC_TABLE_TEST(tc_gradients_match_reference_for_each_cotangent_alone, NULL), \
    TC_TABLE_TEST(tc_inference_forward_matches_reference, NULL),             \
    TC_TABLE_TEST(tc_backward_does_not_read_inputs_after_forward_returns, NULL), \
    TC_TABLE_TEST(tc_gradients_match_reference_after_batch_and_length_change, \
                  tc_without_lengths),                                       \
    TC_TABLE_TEST(tc_two_passes_without_zero_grad_give_twice_the_gradients, NULL), \
    TC_TABLE_TEST(tc_steps_match_reference, tc_unidirectional_without_lengths)

#endif /* RNN_TEST_CELLCASE_H */
