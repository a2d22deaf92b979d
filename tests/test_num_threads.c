/* SPDX-License-Identifier: MIT
 *
 * test_num_threads.c - librnn's own threads (rnn_set_num_threads): the
 * call's bounds and errors, RNN_NUM_THREADS (ctest runs this program a
 * second time with RNN_NUM_THREADS=3: the first test then checks that the
 * variable was read), and the results: for each cell, a training pass
 * (two bidirectional layers with lengths: batch slices, padded rows,
 * both directions, the layer input gradient) at 2, 3 and 4 threads gives
 * the one-thread outputs and gradients within rounding, and at each count
 * the same bits from run to run; the caller's OpenBLAS thread count is the
 * same after a call as before; a child forked after the workers started
 * gets the same bits with workers of its own. Under ThreadSanitizer too
 * (tsan_num_threads; without the fork, which TSan does not support).
 */
#define _GNU_SOURCE /* fork, waitpid, RTLD_DEFAULT */

#include "testutil.h"

#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Two cuts (src/threads.c): batch slices need enough rows and work (B = 48
 * rows of T = 16 steps at H = 96 give every cell 2 or more slices); column
 * blocks of each step's product need weights larger than a core's L2 cache
 * (W_hh of 4 MB and more at H = 1024 / 512 / 600). */
typedef struct nt_shape {
    int32_t I, H, T, B, L, P; /* P: an LSTM's proj_size (0: none) */
} nt_shape;

static const nt_shape batch_slices = {20, 96, 16, 48, 2, 0};
/* The projected LSTM: h rows of P floats beside c rows of H in each slice;
 * W_hh [4H, P] of 2.4 MB for the column cut. */
static const nt_shape projected_slices = {20, 96, 16, 48, 2, 40};
static const nt_shape projected_blocks = {8, 512, 3, 6, 1, 300};

static nt_shape column_blocks(int32_t cell)
{
    const int32_t hidden = cell == RNN_CELL_RNN ? 1024 : cell == RNN_CELL_LSTM ? 512 : 600;
    const nt_shape shape = {8, hidden, 3, 6, 1, 0};
    return shape;
}

static void env_count_is_the_default(void **state)
{
    (void)state;
    const char *env = getenv("RNN_NUM_THREADS");
    if (env != NULL)
        assert_int_equal(rnn_get_num_threads(), atoi(env));
    else
        assert_true(rnn_get_num_threads() >= 1);
}

static void a_set_count_is_reported_and_zero_means_automatic(void **state)
{
    (void)state;
    assert_int_equal(rnn_set_num_threads(3), RNN_OK);
    assert_int_equal(rnn_get_num_threads(), 3);
    assert_int_equal(rnn_set_num_threads(0), RNN_OK);
    assert_true(rnn_get_num_threads() >= 1);
}

static void counts_outside_0_to_256_are_refused_and_change_nothing(void **state)
{
    (void)state;
    assert_int_equal(rnn_set_num_threads(2), RNN_OK);
    assert_int_equal(rnn_set_num_threads(-1), RNN_E_INVALID_ARG);
    assert_non_null(strstr(rnn_last_error(), "rnn_set_num_threads"));
    assert_int_equal(rnn_set_num_threads(257), RNN_E_INVALID_ARG);
    assert_int_equal(rnn_get_num_threads(), 2);
    assert_int_equal(rnn_set_num_threads(0), RNN_OK);
}

/* What one training pass leaves: y, h_n, dx and the gradients. */
typedef struct pass_out {
    float *y, *h_n, *dx, *grads;
    size_t y_n, h_n_n, dx_n, grads_n;
} pass_out;

static float value_at(size_t i, unsigned salt)
{
    return (float)sin(0.37 * (double)i + salt) * 0.5f;
}

static void fill(float *a, size_t n, unsigned salt)
{
    for (size_t i = 0; i < n; ++i)
        a[i] = value_at(i, salt);
}

/* A pass at `threads` threads on a fresh model of `cell` (weights from the
 * config's seed), into *out (allocated). */
static void train_pass(const nt_shape *sh, int32_t cell, int threads,
                       pass_out *out)
{
    const int32_t NT_I = sh->I, NT_H = sh->H, NT_T = sh->T, NT_B = sh->B;
    const int32_t NT_L = sh->L;
    rnn_config cfg;
    assert_int_equal(rnn_config_init(&cfg, sizeof cfg, NT_I, NT_H), RNN_OK);
    cfg.cell = cell;
    cfg.proj_size = sh->P;
    cfg.num_layers = NT_L;
    cfg.bidirectional = 1;
    cfg.seed = 7;
    rnn_t *model = NULL;
    assert_int_equal(rnn_create(&model, &cfg), RNN_OK);
    assert_int_equal(rnn_set_num_threads(threads), RNN_OK);

    const int32_t NT_S = sh->P > 0 ? sh->P : NT_H;
    const size_t rows = (size_t)NT_T * NT_B, dh = 2 * (size_t)NT_S;
    int32_t lengths[64];
    assert_true(NT_B <= 64);
    for (int32_t b = 0; b < NT_B; ++b)
        lengths[b] = NT_T - (b * 5) % NT_T;
    float *x = malloc(rows * NT_I * sizeof(float));
    float *dy = malloc(rows * dh * sizeof(float));
    assert_non_null(x);
    assert_non_null(dy);
    fill(x, rows * NT_I, 1);
    fill(dy, rows * dh, 2);
    out->y_n = rows * dh;
    out->h_n_n = (size_t)NT_L * 2 * NT_B * NT_S;
    out->dx_n = rows * NT_I;
    out->y = malloc(out->y_n * sizeof(float));
    out->h_n = malloc(out->h_n_n * sizeof(float));
    out->dx = malloc(out->dx_n * sizeof(float));
    assert_int_equal(rnn_forward(model, NT_T, NT_B, x, lengths, NULL, out->y,
                                 out->h_n),
                     RNN_OK);
    assert_int_equal(rnn_backward(model, dy, NULL, out->dx, NULL), RNN_OK);
    float *grads = NULL;
    assert_int_equal(rnn_grads(model, &grads, &out->grads_n), RNN_OK);
    out->grads = malloc(out->grads_n * sizeof(float));
    memcpy(out->grads, grads, out->grads_n * sizeof(float));
    rnn_destroy(model);
    free(x);
    free(dy);
    assert_int_equal(rnn_set_num_threads(0), RNN_OK);
}

static void free_pass(pass_out *p)
{
    free(p->y);
    free(p->h_n);
    free(p->dx);
    free(p->grads);
}

/* 1 when a and b agree within rounding (relative to the array's scale). */
static int close_to(const char *what, const float *a, const float *b, size_t n)
{
    double scale = 1e-3;
    for (size_t i = 0; i < n; ++i)
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    for (size_t i = 0; i < n; ++i)
        if (fabs((double)a[i] - b[i]) > 1e-5 * scale) {
            print_error("%s[%zu]: %.9g, one thread %.9g\n", what, i,
                        (double)a[i], (double)b[i]);
            return 0;
        }
    return 1;
}

static int same(const pass_out *a, const pass_out *b)
{
    return memcmp(a->y, b->y, a->y_n * sizeof(float)) == 0 &&
           memcmp(a->h_n, b->h_n, a->h_n_n * sizeof(float)) == 0 &&
           memcmp(a->dx, b->dx, a->dx_n * sizeof(float)) == 0 &&
           memcmp(a->grads, b->grads, a->grads_n * sizeof(float)) == 0;
}

static void check_cell(const nt_shape *sh, int32_t cell)
{
    pass_out one;
    train_pass(sh, cell, 1, &one);
    for (int threads = 2; threads <= 4; ++threads) {
        pass_out first, again;
        train_pass(sh, cell, threads, &first);
        train_pass(sh, cell, threads, &again);
        assert_true(same(&first, &again));
        assert_true(close_to("y", first.y, one.y, one.y_n));
        assert_true(close_to("h_n", first.h_n, one.h_n, one.h_n_n));
        assert_true(close_to("dx", first.dx, one.dx, one.dx_n));
        assert_true(close_to("grads", first.grads, one.grads, one.grads_n));
        free_pass(&first);
        free_pass(&again);
    }
    free_pass(&one);
}

static void elman_results_match_one_thread_and_repeat_bit_for_bit(void **state)
{
    (void)state;
    check_cell(&batch_slices, RNN_CELL_RNN);
    const nt_shape wide = column_blocks(RNN_CELL_RNN);
    check_cell(&wide, RNN_CELL_RNN);
}

static void lstm_results_match_one_thread_and_repeat_bit_for_bit(void **state)
{
    (void)state;
    check_cell(&batch_slices, RNN_CELL_LSTM);
    const nt_shape wide = column_blocks(RNN_CELL_LSTM);
    check_cell(&wide, RNN_CELL_LSTM);
}

static void projected_lstm_results_match_one_thread_and_repeat_bit_for_bit(
    void **state)
{
    (void)state;
    check_cell(&projected_slices, RNN_CELL_LSTM);
    check_cell(&projected_blocks, RNN_CELL_LSTM);
}

static void gru_results_match_one_thread_and_repeat_bit_for_bit(void **state)
{
    (void)state;
    check_cell(&batch_slices, RNN_CELL_GRU);
    const nt_shape wide = column_blocks(RNN_CELL_GRU);
    check_cell(&wide, RNN_CELL_GRU);
}

/* librnn asks the BLAS for one thread during its calls and gives the
 * caller's count back: with OpenBLAS (looked up as librnn does, by name),
 * a count set before a threaded pass is the count after it. Other BLAS
 * libraries: the pass must simply work. */
static void the_callers_blas_thread_count_is_restored(void **state)
{
    (void)state;
    typedef int (*get_fn)(void);
    typedef void (*set_fn)(int);
    get_fn get = (get_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
    set_fn set = (set_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "openblas_set_num_threads");
    if (get != NULL && set != NULL)
        set(3);
    pass_out out;
    train_pass(&batch_slices, RNN_CELL_GRU, 2, &out);
    if (get != NULL && set != NULL) {
        assert_int_equal(get(), 3);
        set(1);
    }
    assert_true(out.grads_n > 0);
    free_pass(&out);
}

/* A child forked after the workers started computes with workers of its
 * own (the pool's fork handlers), and gets the parent's bits. */
#ifndef __SANITIZE_THREAD__ /* TSan cannot start threads after a fork */
static void a_forked_child_gets_the_same_results(void **state)
{
    (void)state;
    pass_out parent;
    train_pass(&batch_slices, RNN_CELL_LSTM, 2, &parent);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pass_out child;
        train_pass(&batch_slices, RNN_CELL_LSTM, 2, &child);
        _exit(same(&child, &parent) ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    free_pass(&parent);
}
#endif

int main(int argc, char **argv)
{
    /* --filter PATTERN: valgrind runs threads one at a time, and the
     * comparisons across counts take it many minutes; its run
     * (valgrind_test_num_threads) is one threaded pass (the BLAS count
     * test), the native, ASan and TSan runs are all of them */
    if (argc == 3 && strcmp(argv[1], "--filter") == 0)
        cmocka_set_test_filter(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(env_count_is_the_default),
        cmocka_unit_test(a_set_count_is_reported_and_zero_means_automatic),
        cmocka_unit_test(counts_outside_0_to_256_are_refused_and_change_nothing),
        cmocka_unit_test(elman_results_match_one_thread_and_repeat_bit_for_bit),
        cmocka_unit_test(lstm_results_match_one_thread_and_repeat_bit_for_bit),
        cmocka_unit_test(
            projected_lstm_results_match_one_thread_and_repeat_bit_for_bit),
        cmocka_unit_test(gru_results_match_one_thread_and_repeat_bit_for_bit),
        cmocka_unit_test(the_callers_blas_thread_count_is_restored),
#ifndef __SANITIZE_THREAD__
        cmocka_unit_test(a_forked_child_gets_the_same_results),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
