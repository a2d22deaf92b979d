/* SPDX-License-Identifier: MIT
 *
 * testutil.h - helpers shared by the librnn test programs: a seeded PRNG,
 * the ONE table of shapes the correctness tests run on, a "case" (a librnn
 * model, random inputs and the reference's answers for one table row),
 * array comparison that names the tensor and index on failure, error
 * expectations, output sentinels and a runner expanding tests over the table.
 */
#ifndef RNN_TEST_UTIL_H
#define RNN_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <rnn.h>

#include "reference.h"

/* ------------------------------------------------------------------------
 * PRNG (SplitMix64): same numbers on every machine
 * ---------------------------------------------------------------------- */

typedef struct tu_rng {
    uint64_t state;
} tu_rng;

tu_rng tu_rng_make(uint64_t seed);
double tu_uniform(tu_rng *rng, double lo, double hi);
void tu_fill(tu_rng *rng, float *a, size_t n, double lo, double hi);

/* ------------------------------------------------------------------------
 * The shape table
 * ---------------------------------------------------------------------- */

enum { TU_MAX_BATCH = 8 };

typedef struct tu_shape {
    const char *name;
    int32_t I, H, L, bidirectional, nonlinearity, bias, batch_first;
    int32_t O, head_mode;
    int32_t T, B;
    int32_t use_h0;                  /* 0: h0 = NULL                  */
    int32_t lengths[TU_MAX_BATCH];   /* all 0: lengths = NULL          */
} tu_shape;

extern const tu_shape tu_shapes[];
extern const size_t tu_shape_count;

/* Row filters for tu_table_test.accepts. */
int tu_has_lengths(const tu_shape *s);
int tu_no_lengths(const tu_shape *s);
int tu_has_head(const tu_shape *s);
int tu_no_head(const tu_shape *s);
int tu_is_tanh(const tu_shape *s);
int tu_unidirectional(const tu_shape *s);

ref_model tu_ref_model(const tu_shape *s);
rnn_config tu_config(const tu_shape *s);

/* ------------------------------------------------------------------------
 * A case: one librnn model with random parameters and inputs, plus the
 * reference's outputs and gradients for cotangents dy, dh_n, dlogits.
 * ---------------------------------------------------------------------- */

typedef struct tu_case {
    tu_shape s;                /* the row (a test may change T, B first) */
    ref_model m;
    rnn_t *model;
    float *params;             /* the model's flat buffer                */
    size_t n_params, n_x, n_y, n_h, n_logits;
    const int32_t *lengths;    /* s.lengths or NULL                      */
    float *x, *h0;             /* h0 NULL unless s.use_h0                */
    float *dy, *dh_n, *dlogits;/* dlogits NULL without head              */
    ref_result ref;            /* reference forward + backward           */
} tu_case;

/* Builds the case (fails the test on any error). */
void tu_case_init(tu_case *c, const tu_shape *s, uint64_t seed);
/* The same with parameters uniform in [-param_range, param_range] (0.6 for
 * tu_case_init): long sequences at large H need a contracting recurrence,
 * or float rounding grows with the steps and no tolerance holds. */
void tu_case_init_scaled(tu_case *c, const tu_shape *s, uint64_t seed,
                         double param_range);
void tu_case_free(tu_case *c);

/* librnn's answers for a case. */
typedef struct tu_out {
    float *y, *h_n, *logits, *grads, *dx, *dh0;
} tu_out;

/* Allocates the arrays of *o, filled with the sentinel. */
void tu_out_alloc(const tu_case *c, tu_out *o);
void tu_out_free(tu_out *o);

/* rnn_forward (+ rnn_head_forward) with the case's inputs: y, h_n, logits.
 * Fails the test if a call does not return RNN_OK. */
void tu_case_forward(tu_case *c, tu_out *o);
/* rnn_head_backward (with a head) + rnn_backward with the case's
 * cotangents: dx, dh0, and a copy of the gradient buffer into grads. */
void tu_case_backward(tu_case *c, tu_out *o);

/* Runs check() on the cases of `row` resized to each (T, B) of sizes (its
 * lengths dropped), all on ONE librnn model so that its workspaces grow and
 * shrink between calls. Returns 1 when every check returned 1. */
int tu_for_sizes(const tu_shape *row, const int32_t (*sizes)[2], size_t n,
                 uint64_t seed, int (*check)(tu_case *c));

/* Each returns 1 when librnn agrees with the reference to
 * |got - want| <= tol * max(1, |want|), else prints the mismatches. */
int tu_forward_matches(const tu_case *c, const tu_out *o, double tol);
int tu_backward_matches(const tu_case *c, const tu_out *o, double tol);
/* Compares every named tensor of two flat gradient buffers. */
int tu_params_close(const tu_case *c, const char *what, const float *got,
                    const double *want, double tol);

/* ------------------------------------------------------------------------
 * Comparisons and conversions
 * ---------------------------------------------------------------------- */

/* 1 when every |got[i] - want[i]| <= tol * max(1, |want[i]|); else prints
 * "<what>[i]: got .. want .." for the first mismatches and returns 0. */
int tu_close(const char *what, const float *got, const double *want,
             size_t n, double tol);
int tu_close_f(const char *what, const float *got, const float *want,
               size_t n, double tol);
int tu_close_d(const char *what, const double *got, const double *want,
               size_t n, double tol);

/* malloc'd double copy (NULL for NULL), and malloc'd float arrays. */
double *tu_to_double(const float *a, size_t n);
float *tu_floats(size_t n);
float *tu_copy(const float *a, size_t n);

/* The number of a[i] equal to `value`. */
size_t tu_count_equal(const float *a, size_t n, float value);

/* ------------------------------------------------------------------------
 * Sentinels: outputs that a failing call must leave untouched
 * ---------------------------------------------------------------------- */

#define TU_SENTINEL 12345.0f
void tu_sentinel_fill(float *a, size_t n);
int tu_sentinel_intact(const char *what, const float *a, size_t n);

/* ------------------------------------------------------------------------
 * Status expectations
 * ---------------------------------------------------------------------- */

/* Fails the test (naming the call and the last error) unless st == RNN_OK. */
#define TU_OK(call) tu_expect_ok((call), #call, __FILE__, __LINE__)
void tu_expect_ok(rnn_status st, const char *call, const char *file, int line);

/* Clears the last error, evaluates `call`, and fails the test unless it
 * returned `want` and rnn_last_error() is non-empty and contains `func`. */
#define TU_FAILS(want, func, call)                                           \
    do {                                                                     \
        rnn_clear_error();                                                   \
        rnn_status tu_st_ = (call);                                          \
        tu_expect_error(tu_st_, (want), (func), #call, __FILE__, __LINE__);  \
    } while (0)
void tu_expect_error(rnn_status got, rnn_status want, const char *func,
                     const char *call, const char *file, int line);

/* ------------------------------------------------------------------------
 * Runner: plain tests plus tests expanded over the rows of the table
 * ---------------------------------------------------------------------- */

/* A test run once per accepted row, named "<name>/<row>"; the test finds
 * its row with tu_row(state). accepts == NULL accepts every row. */
typedef struct tu_table_test {
    const char *name;
    CMUnitTestFunction fn;
    int (*accepts)(const tu_shape *s);
} tu_table_test;

#define TU_TABLE_TEST(fn, accepts) { #fn, fn, accepts }

const tu_shape *tu_row(void **state);
int tu_run(const char *group, const struct CMUnitTest *plain, size_t n_plain,
           const tu_table_test *table, size_t n_table);

/* ------------------------------------------------------------------------
 * Counting allocations (rnn_set_allocator)
 * ---------------------------------------------------------------------- */

/* Calls and bytes seen by the counting allocator since the last reset. */
extern size_t tu_alloc_calls, tu_alloc_bytes;
/* An allocator that counts into tu_alloc_calls / tu_alloc_bytes and
 * forwards to malloc/free. */
rnn_allocator tu_counting_allocator(void);
/* Installs it (counters reset), or malloc/free again with false. */
void tu_count_allocations(bool on);

/* ------------------------------------------------------------------------
 * Central differences of librnn's own float forward
 * ---------------------------------------------------------------------- */

/* sum(y*dy) + sum(h_n*dh_n) + sum(logits*dlogits) in double, after
 * `forward` (NULL: tu_case_forward) has filled o. */
typedef void (*tu_forward_fn)(tu_case *c, tu_out *o);
double tu_case_loss(tu_case *c, tu_out *o, tu_forward_fn forward);
/* Central differences (eps 4e-3) of that loss over about 16 evenly spread
 * elements of v against analytic[n] (tolerance 1e-2); prints mismatches. */
int tu_fd_matches(tu_case *c, tu_out *o, tu_forward_fn forward,
                  const char *what, float *v, const float *analytic, size_t n);
/* Whether grad[i] matches the central difference (eps 4e-3) of loss(ctx)
 * along values[i] for every i, within 2e-3 + 1e-2 |difference| (a float
 * forward: coarse, for every element of small models); prints the first
 * five mismatches, naming the array `what`. */
typedef double (*tu_loss_fn)(void *ctx);
int tu_differences_match(tu_loss_fn loss, void *ctx, float *values,
                         const float *grad, size_t n, const char *what);

#endif /* RNN_TEST_UTIL_H */
