/* SPDX-License-Identifier: MIT
 *
 * test_errors.c - every entry point with every kind of invalid argument:
 * the documented status, a thread-local rnn_last_error() that names the
 * function, and outputs left untouched (float outputs pre-filled with a
 * sentinel, pointers and structs compared with their value before the call,
 * *out set to NULL by failing create calls). Also destroy(NULL), the
 * rnn_strerror texts and the last-error life cycle.
 *
 * One kind of mistake, one status (rnn.h): a count passed to a call
 * (seq_len, batch, a loss's n or classes, a capacity) <= 0 or out of range
 * is RNN_E_SHAPE; NULLs, config fields, flags, enums and values are
 * RNN_E_INVALID_ARG.
 */
#define _POSIX_C_SOURCE 200809L /* alarm, write, _exit: the watchdog */

#include "testutil.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <unistd.h>

/* Under AddressSanitizer, let an impossible allocation return NULL (as the
 * C library does) instead of aborting: RNN_E_NOMEM is what is tested. */
#if defined(__SANITIZE_ADDRESS__)
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}
#endif

/* Output buffer of every failing call: any write to it is caught. */
enum { OUT_N = 4096 };
static float out[OUT_N];

#define FAILS(want, func, call)                                  \
    do {                                                         \
        tu_sentinel_fill(out, OUT_N);                            \
        TU_FAILS(want, func, call);                              \
        assert_true(tu_sentinel_intact(#call, out, OUT_N));      \
    } while (0)

enum { I = 3, H = 4, L = 2, O = 2, T = 5, B = 2 };
static const float x[T * B * I];     /* zeros: valid input  */
static const float h_in[L * 2 * B * H];

static rnn_t *make(int32_t output_size, int32_t bidirectional)
{
    rnn_config cfg = rnn_config_default(I, H);
    cfg.num_layers = L;
    cfg.output_size = output_size;
    cfg.bidirectional = bidirectional;
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, &cfg));
    return m;
}

/* Not NULL, never dereferenced: failing create calls must reset it. */
static char not_null;
#define NOT_NULL ((void *)&not_null)

/* ------------------------------------------------------------------------
 * Create, destroy, config
 * ---------------------------------------------------------------------- */

typedef struct bad_config {
    const char *what;
    size_t offset;   /* of an int32_t field */
    int32_t value;
} bad_config;

#define FIELD(f) offsetof(rnn_config, f)
static const bad_config bad_configs[] = {
    { "input_size 0", FIELD(input_size), 0 },
    { "input_size -1", FIELD(input_size), -1 },
    { "hidden_size 0", FIELD(hidden_size), 0 },
    { "hidden_size INT32_MIN", FIELD(hidden_size), INT32_MIN },
    { "num_layers 0", FIELD(num_layers), 0 },
    { "num_layers -2", FIELD(num_layers), -2 },
    { "bidirectional 2", FIELD(bidirectional), 2 },
    { "bidirectional -1", FIELD(bidirectional), -1 },
    { "nonlinearity 2", FIELD(nonlinearity), 2 },
    { "nonlinearity -1", FIELD(nonlinearity), -1 },
    { "bias 2", FIELD(bias), 2 },
    { "batch_first 7", FIELD(batch_first), 7 },
    { "output_size -1", FIELD(output_size), -1 },
    { "head_mode 2", FIELD(head_mode), 2 },
    { "head_mode -1", FIELD(head_mode), -1 },
    { "reserved 1", FIELD(reserved), 1 },
};
#undef FIELD

static void expect_create_fails(const rnn_config *cfg, rnn_status want, const char *what)
{
    rnn_t *m = NOT_NULL;
    rnn_clear_error();
    rnn_status st = rnn_create(&m, cfg);
    if (st != want || m != NULL || !strstr(rnn_last_error(), "rnn_create")) {
        rnn_destroy(st == RNN_OK ? m : NULL);
        fail_msg("rnn_create with %s: status %d (want %d), *out %s, last error \"%s\"",
                 what, (int)st, (int)want, m ? "not NULL" : "NULL", rnn_last_error());
    }
}

static void create_rejects_fields_out_of_range(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        rnn_config cfg = rnn_config_default(I, H);
        memcpy((char *)&cfg + bad_configs[i].offset, &bad_configs[i].value, sizeof(int32_t));
        expect_create_fails(&cfg, RNN_E_INVALID_ARG, bad_configs[i].what);
    }
}

static void create_rejects_null_arguments(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(I, H);
    expect_create_fails(NULL, RNN_E_INVALID_ARG, "cfg NULL");
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(NULL, &cfg));
}

/* Parameter counts past SIZE_MAX floats or bytes are RNN_E_SHAPE (never a
 * wrapped-around allocation); representable but impossible sizes are
 * RNN_E_NOMEM. */
static void create_reports_overflow_as_shape_and_huge_sizes_as_nomem(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(INT32_MAX, INT32_MAX);
    expect_create_fails(&cfg, RNN_E_SHAPE, "I = H = INT32_MAX (bytes overflow)");
    cfg.num_layers = 3;
    cfg.bidirectional = 1;
    expect_create_fails(&cfg, RNN_E_SHAPE, "I = H = INT32_MAX, L = 3, D = 2");
    cfg = rnn_config_default(4, INT32_MAX);
    cfg.output_size = INT32_MAX;
    cfg.bidirectional = 1;
    expect_create_fails(&cfg, RNN_E_SHAPE, "O = H = INT32_MAX, D = 2");
    cfg = rnn_config_default(1 << 30, 1 << 30); /* 2^61 floats: 2^63 bytes */
    expect_create_fails(&cfg, RNN_E_NOMEM, "I = H = 2^30");
}

/* A size check must not walk 2^31 layers: a call still running after
 * WATCHDOG_SECONDS ends the program with a message instead of a silent hang
 * until the ctest timeout (so this test runs last). */
enum { WATCHDOG_SECONDS = 10 };

static void watchdog_fired(int sig)
{
    (void)sig;
    static const char msg[] = "\ntest_errors: rnn_create with num_layers = INT32_MAX "
                              "did not return within 10 s (it must reject it up front)\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(1);
}

static void create_rejects_int32_max_layers_promptly(void **state)
{
    (void)state;
    signal(SIGALRM, watchdog_fired);
    alarm(WATCHDOG_SECONDS);
    rnn_config cfg = rnn_config_default(1 << 20, 1 << 20);
    cfg.num_layers = INT32_MAX;
    expect_create_fails(&cfg, RNN_E_SHAPE, "L = INT32_MAX, H = 2^20");
    alarm(0);
}

/* 2^26 layers of 1 unit fit in memory but would name 2^28 tensors: refused
 * from the sizes alone, before any allocation (it used to format names for
 * 30 s first). The largest model allowed, 65536 tensors, is created. */
static void create_refuses_more_than_65536_tensors_before_any_work(void **state)
{
    (void)state;
    tu_count_allocations(true);
    rnn_config cfg = rnn_config_default(1, 1);
    cfg.num_layers = 1 << 26;
    expect_create_fails(&cfg, RNN_E_SHAPE, "L = 2^26, H = 1");
    assert_int_equal(tu_alloc_calls, 0);
    assert_non_null(strstr(rnn_last_error(), "65536"));
    cfg.num_layers = 65536 / 4 + 1; /* 4 tensors a layer */
    expect_create_fails(&cfg, RNN_E_SHAPE, "65540 tensors");
    cfg.num_layers = 65536 / 4;
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, &cfg));
    int32_t count = 0;
    TU_OK(rnn_tensor_count(m, &count));
    assert_int_equal(count, 65536);
    rnn_destroy(m);
    tu_count_allocations(false);
}

/* An allocator needs both functions; NULL restores the default. */
static void set_allocator_rejects_an_allocator_missing_a_function(void **state)
{
    (void)state;
    const rnn_allocator counting = tu_counting_allocator();
    rnn_allocator a = counting;
    a.malloc_fn = NULL;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_set_allocator", rnn_set_allocator(&a));
    a = counting;
    a.free_fn = NULL;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_set_allocator", rnn_set_allocator(&a));
    TU_OK(rnn_set_allocator(NULL));
}

/* destroy(NULL) does nothing, not even touch the last error. */
static void destroy_functions_accept_null(void **state)
{
    (void)state;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_zero_grad", rnn_zero_grad(NULL));
    const char *before = rnn_last_error();
    char copy[256];
    snprintf(copy, sizeof copy, "%s", before);
    rnn_destroy(NULL);
    rnn_state_destroy(NULL);
    rnn_optim_destroy(NULL);
    assert_string_equal(rnn_last_error(), copy);
}

static void get_config_rejects_null(void **state)
{
    (void)state;
    rnn_t *m = make(0, 0);
    rnn_config cfg = rnn_config_default(I, H);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_get_config", rnn_get_config(NULL, &cfg));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_get_config", rnn_get_config(m, NULL));
    /* struct_size: test_abi_struct.c */
    rnn_destroy(m);
}

/* ------------------------------------------------------------------------
 * Training calls
 * ---------------------------------------------------------------------- */

static void forward_rejects_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(O, 0);
    float *y = out, *hn = out + 1024;
    FAILS(RNN_E_INVALID_ARG, "rnn_forward", rnn_forward(NULL, T, B, x, NULL, NULL, y, hn));
    FAILS(RNN_E_INVALID_ARG, "rnn_forward", rnn_forward(m, T, B, NULL, NULL, NULL, y, hn));
    FAILS(RNN_E_SHAPE, "rnn_forward", rnn_forward(m, 0, B, x, NULL, NULL, y, hn));
    FAILS(RNN_E_SHAPE, "rnn_forward", rnn_forward(m, -1, B, x, NULL, NULL, y, hn));
    FAILS(RNN_E_SHAPE, "rnn_forward", rnn_forward(m, T, 0, x, NULL, NULL, y, hn));
    FAILS(RNN_E_SHAPE, "rnn_forward", rnn_forward(m, T, -3, x, NULL, NULL, y, hn));
    const int32_t bad_lengths[][B] = { { T, 0 }, { T + 1, 1 }, { -1, T }, { INT32_MIN, T } };
    for (size_t i = 0; i < sizeof bad_lengths / sizeof bad_lengths[0]; i++)
        FAILS(RNN_E_SHAPE, "rnn_forward",
              rnn_forward(m, T, B, x, bad_lengths[i], h_in, y, hn));
    /* T*B*H floats overflow size_t: refused before x is read. */
    FAILS(RNN_E_SHAPE, "rnn_forward",
          rnn_forward(m, INT32_MAX, INT32_MAX, x, NULL, NULL, y, hn));
    rnn_destroy(m);
}

/* The model's gradients after one full training pass. */
static float *train_grads(rnn_t *m, const int32_t *lengths)
{
    float logits[B * O], dlogits[B * O] = { 1.0f, -1.0f, 0.5f, 2.0f };
    TU_OK(rnn_zero_grad(m));
    TU_OK(rnn_forward(m, T, B, x, lengths, h_in, NULL, NULL));
    TU_OK(rnn_head_forward(m, logits));
    TU_OK(rnn_head_backward(m, dlogits));
    TU_OK(rnn_backward(m, NULL, NULL, NULL, NULL));
    float *g = NULL;
    size_t n = 0;
    TU_OK(rnn_grads(m, &g, &n));
    return tu_copy(g, n);
}

/* A failing forward keeps the previous forward for head and backward. */
static void failed_forward_keeps_the_previous_forward(void **state)
{
    (void)state;
    rnn_t *m = make(O, 0);
    const int32_t lengths[B] = { 3, T }, bad[B] = { T + 1, 1 };
    float *want = train_grads(m, lengths);
    float logits[B * O], dlogits[B * O] = { 1.0f, -1.0f, 0.5f, 2.0f };
    TU_OK(rnn_zero_grad(m));
    TU_OK(rnn_forward(m, T, B, x, lengths, h_in, NULL, NULL));
    FAILS(RNN_E_SHAPE, "rnn_forward", rnn_forward(m, T, B, x, bad, NULL, out, NULL));
    FAILS(RNN_E_SHAPE, "rnn_forward", rnn_forward(m, 2 * T, 0, x, NULL, NULL, out, NULL));
    TU_OK(rnn_head_forward(m, logits));
    TU_OK(rnn_head_backward(m, dlogits));
    TU_OK(rnn_backward(m, NULL, NULL, NULL, NULL));
    float *g = NULL;
    size_t n = 0;
    TU_OK(rnn_grads(m, &g, &n));
    int same = memcmp(g, want, n * sizeof *g) == 0;
    free(want);
    rnn_destroy(m);
    assert_true(same);
}

static void backward_before_forward_is_a_state_error(void **state)
{
    (void)state;
    rnn_t *m = make(O, 0);
    float *dx = out, *dh0 = out + 1024, *grads = NULL;
    size_t n = 0;
    FAILS(RNN_E_INVALID_ARG, "rnn_backward", rnn_backward(NULL, NULL, NULL, dx, dh0));
    FAILS(RNN_E_STATE, "rnn_backward", rnn_backward(m, NULL, NULL, dx, dh0));
    TU_OK(rnn_grads(m, &grads, &n));
    size_t zeros = tu_count_equal(grads, n, 0.0f);
    rnn_destroy(m);
    assert_int_equal(zeros, n);
}

static void zero_grad_and_sgd_step_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(0, 0);
    float *p = NULL;
    size_t n = 0;
    TU_OK(rnn_params(m, &p, &n));
    float *before = tu_copy(p, n);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_zero_grad", rnn_zero_grad(NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_sgd_step", rnn_sgd_step(NULL, 0.1f));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_sgd_step", rnn_sgd_step(m, NAN));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_sgd_step", rnn_sgd_step(m, INFINITY));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_sgd_step", rnn_sgd_step(m, -INFINITY));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_sgd_step", rnn_sgd_step(m, -0.1f));
    int unchanged = memcmp(p, before, n * sizeof *p) == 0;
    free(before);
    rnn_destroy(m);
    assert_true(unchanged);
}

static void head_calls_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(O, 0), *nohead = make(0, 0);
    const float dlogits[B * O] = { 1.0f, 1.0f, 1.0f, 1.0f };
    FAILS(RNN_E_INVALID_ARG, "rnn_head_forward", rnn_head_forward(NULL, out));
    FAILS(RNN_E_INVALID_ARG, "rnn_head_forward", rnn_head_forward(m, NULL));
    FAILS(RNN_E_STATE, "rnn_head_forward", rnn_head_forward(m, out));
    FAILS(RNN_E_INVALID_ARG, "rnn_head_backward", rnn_head_backward(NULL, dlogits));
    FAILS(RNN_E_INVALID_ARG, "rnn_head_backward", rnn_head_backward(m, NULL));
    FAILS(RNN_E_STATE, "rnn_head_backward", rnn_head_backward(m, dlogits));
    TU_OK(rnn_forward(nohead, T, B, x, NULL, NULL, NULL, NULL));
    FAILS(RNN_E_UNSUPPORTED, "rnn_head_forward", rnn_head_forward(nohead, out));
    FAILS(RNN_E_UNSUPPORTED, "rnn_head_backward", rnn_head_backward(nohead, dlogits));
    float *g = NULL;
    size_t n = 0;
    TU_OK(rnn_grads(m, &g, &n));
    size_t zeros = tu_count_equal(g, n, 0.0f);
    rnn_destroy(m);
    rnn_destroy(nohead);
    assert_int_equal(zeros, n);
}

/* ------------------------------------------------------------------------
 * Losses
 * ---------------------------------------------------------------------- */

static void bce_rejects_invalid_arguments(void **state)
{
    (void)state;
    const float z[2] = { 0.5f, -1.0f }, y[2] = { 1.0f, 0.0f };
    float *loss = out, *dz = out + 16;
    const char *f = "rnn_loss_bce_with_logits";
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_bce_with_logits(2, NULL, y, 0, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_bce_with_logits(2, z, NULL, 0, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_bce_with_logits(2, z, y, 0, NULL, dz));
    FAILS(RNN_E_SHAPE, f, rnn_loss_bce_with_logits(0, z, y, 0, loss, dz));
    FAILS(RNN_E_SHAPE, f, rnn_loss_bce_with_logits(-1, z, y, 0, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_bce_with_logits(2, z, y, 2, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_bce_with_logits(2, z, y, -1, loss, dz));
    const float bad_y[2] = { 1.0f, 2.0f };
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_bce_with_logits(2, z, bad_y, 0, loss, dz));
}

static void cross_entropy_rejects_invalid_arguments(void **state)
{
    (void)state;
    const float z[6] = { 0.0f };
    const int32_t t[2] = { 0, 2 }, too_big[2] = { 0, 3 }, negative[2] = { -1, 0 };
    float *loss = out, *dz = out + 16;
    const char *f = "rnn_loss_cross_entropy";
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_cross_entropy(2, 3, NULL, t, -100, 0, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_cross_entropy(2, 3, z, NULL, -100, 0, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_cross_entropy(2, 3, z, t, -100, 0, NULL, dz));
    FAILS(RNN_E_SHAPE, f, rnn_loss_cross_entropy(0, 3, z, t, -100, 0, loss, dz));
    FAILS(RNN_E_SHAPE, f, rnn_loss_cross_entropy(2, 0, z, t, -100, 0, loss, dz));
    FAILS(RNN_E_SHAPE, f, rnn_loss_cross_entropy(2, -3, z, t, -100, 0, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_cross_entropy(2, 3, z, t, -100, 2, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_cross_entropy(2, 3, z, too_big, -100, 0, loss, dz));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_cross_entropy(2, 3, z, negative, -100, 0, loss, dz));
    FAILS(RNN_E_SHAPE, f,
          rnn_loss_cross_entropy(INT32_MAX, INT32_MAX, z, t, -100, 0, loss, dz));
}

static void mse_rejects_invalid_arguments(void **state)
{
    (void)state;
    const float p[2] = { 0.5f, -1.0f }, t[2] = { 1.0f, 0.0f };
    float *loss = out, *dp = out + 16;
    const char *f = "rnn_loss_mse";
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_mse(2, NULL, t, 0, loss, dp));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_mse(2, p, NULL, 0, loss, dp));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_mse(2, p, t, 0, NULL, dp));
    FAILS(RNN_E_SHAPE, f, rnn_loss_mse(0, p, t, 0, loss, dp));
    FAILS(RNN_E_SHAPE, f, rnn_loss_mse(-5, p, t, 0, loss, dp));
    FAILS(RNN_E_INVALID_ARG, f, rnn_loss_mse(2, p, t, 3, loss, dp));
}

/* ------------------------------------------------------------------------
 * Optimizers, clipping, checks
 * ---------------------------------------------------------------------- */

typedef struct bad_optim {
    const char *what;
    int32_t kind;
    void (*mutate)(rnn_optim_config *c);
} bad_optim;

static void size_zero(rnn_optim_config *c) { c->struct_size = 0; }
static void kind_3(rnn_optim_config *c) { c->kind = 3; }
static void kind_negative(rnn_optim_config *c) { c->kind = -1; }
static void lr_negative(rnn_optim_config *c) { c->lr = -0.1f; }
static void lr_nan(rnn_optim_config *c) { c->lr = NAN; }
static void lr_inf(rnn_optim_config *c) { c->lr = INFINITY; }
static void momentum_negative(rnn_optim_config *c) { c->momentum = -0.5f; }
static void dampening_above_one(rnn_optim_config *c) { c->dampening = 1.5f; }
static void decay_negative(rnn_optim_config *c) { c->weight_decay = -0.01f; }
static void decay_nan(rnn_optim_config *c) { c->weight_decay = NAN; }
static void nesterov_2(rnn_optim_config *c) { c->nesterov = 2; c->momentum = 0.9f; }
static void nesterov_no_momentum(rnn_optim_config *c) { c->nesterov = 1; }
static void nesterov_dampening(rnn_optim_config *c)
{
    c->nesterov = 1;
    c->momentum = 0.9f;
    c->dampening = 0.1f;
}
static void beta1_one(rnn_optim_config *c) { c->beta1 = 1.0f; }
static void beta2_negative(rnn_optim_config *c) { c->beta2 = -0.1f; }
static void beta1_nan(rnn_optim_config *c) { c->beta1 = NAN; }
static void eps_zero(rnn_optim_config *c) { c->eps = 0.0f; }

static const bad_optim bad_optims[] = {
    { "struct_size 0", RNN_OPTIM_SGD, size_zero },
    { "kind 3", RNN_OPTIM_SGD, kind_3 },
    { "kind -1", RNN_OPTIM_SGD, kind_negative },
    { "lr < 0", RNN_OPTIM_ADAM, lr_negative },
    { "lr NaN", RNN_OPTIM_ADAMW, lr_nan },
    { "lr Inf", RNN_OPTIM_SGD, lr_inf },
    { "momentum < 0", RNN_OPTIM_SGD, momentum_negative },
    { "dampening > 1", RNN_OPTIM_SGD, dampening_above_one },
    { "weight_decay < 0", RNN_OPTIM_ADAMW, decay_negative },
    { "weight_decay NaN", RNN_OPTIM_SGD, decay_nan },
    { "nesterov 2", RNN_OPTIM_SGD, nesterov_2 },
    { "nesterov without momentum", RNN_OPTIM_SGD, nesterov_no_momentum },
    { "nesterov with dampening", RNN_OPTIM_SGD, nesterov_dampening },
    { "beta1 1", RNN_OPTIM_ADAM, beta1_one },
    { "beta2 < 0", RNN_OPTIM_ADAMW, beta2_negative },
    { "beta1 NaN", RNN_OPTIM_ADAM, beta1_nan },
    { "eps 0", RNN_OPTIM_ADAM, eps_zero },
};

static void optim_create_rejects_invalid_configs(void **state)
{
    (void)state;
    rnn_t *m = make(0, 0);
    for (size_t i = 0; i < sizeof bad_optims / sizeof bad_optims[0]; i++) {
        rnn_optim_config cfg = rnn_optim_config_default(bad_optims[i].kind, 0.1f);
        bad_optims[i].mutate(&cfg);
        rnn_optim_t *opt = NOT_NULL;
        rnn_clear_error();
        rnn_status st = rnn_optim_create(&opt, m, &cfg);
        if (st != RNN_E_INVALID_ARG || opt != NULL ||
            !strstr(rnn_last_error(), "rnn_optim_create"))
            fail_msg("rnn_optim_create with %s: status %d, *out %s, last error \"%s\"",
                     bad_optims[i].what, (int)st, opt ? "not NULL" : "NULL",
                     rnn_last_error());
    }
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_SGD, 0.1f);
    rnn_optim_t *opt = NOT_NULL;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_create", rnn_optim_create(&opt, NULL, &cfg));
    assert_null(opt);
    opt = NOT_NULL;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_create", rnn_optim_create(&opt, m, NULL));
    assert_null(opt);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_create", rnn_optim_create(NULL, m, &cfg));
    rnn_destroy(m);
}

static void optim_calls_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(0, 0);
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.1f);
    rnn_optim_t *opt = NULL;
    TU_OK(rnn_optim_create(&opt, m, &cfg));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_step", rnn_optim_step(NULL, m));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_step", rnn_optim_step(opt, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_set_lr", rnn_optim_set_lr(NULL, 0.1f));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_set_lr", rnn_optim_set_lr(opt, -1.0f));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_set_lr", rnn_optim_set_lr(opt, NAN));
    int64_t steps = 77;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_step_count", rnn_optim_step_count(NULL, &steps));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_step_count", rnn_optim_step_count(opt, NULL));
    rnn_optim_destroy(opt);
    rnn_destroy(m);
    assert_int_equal(steps, 77);
}

static void clip_and_checks_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(0, 0);
    float *g = NULL;
    size_t n = 0;
    TU_OK(rnn_grads(m, &g, &n));
    for (size_t i = 0; i < n; i++)
        g[i] = 1.0f;
    float *norm = out;
    const char *f = "rnn_clip_grad_norm";
    FAILS(RNN_E_INVALID_ARG, f, rnn_clip_grad_norm(NULL, 1.0f, norm));
    FAILS(RNN_E_INVALID_ARG, f, rnn_clip_grad_norm(m, 0.0f, norm));
    FAILS(RNN_E_INVALID_ARG, f, rnn_clip_grad_norm(m, -1.0f, norm));
    FAILS(RNN_E_INVALID_ARG, f, rnn_clip_grad_norm(m, NAN, norm));
    size_t ones = tu_count_equal(g, n, 1.0f);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_check_grads", rnn_check_grads(NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_check_params", rnn_check_params(NULL));
    FAILS(RNN_E_INVALID_ARG, "rnn_spectral_radius", rnn_spectral_radius(NULL, out));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_spectral_radius", rnn_spectral_radius(m, NULL));
    rnn_destroy(m);
    assert_int_equal(ones, n);
}

/* ------------------------------------------------------------------------
 * Streaming
 * ---------------------------------------------------------------------- */

static void state_calls_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(0, 0), *with_head = make(O, 0);
    rnn_state_t *st = NOT_NULL;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_create", rnn_state_create(NULL, m, B));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_create", rnn_state_create(&st, NULL, B));
    assert_null(st);
    st = NOT_NULL;
    TU_FAILS(RNN_E_SHAPE, "rnn_state_create", rnn_state_create(&st, m, 0));
    assert_null(st);
    st = NOT_NULL;
    TU_FAILS(RNN_E_SHAPE, "rnn_state_create", rnn_state_create(&st, m, -1));
    assert_null(st);
    TU_OK(rnn_state_create(&st, m, B));

    int32_t batch = 77;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_reset", rnn_state_reset(NULL, NULL));
    FAILS(RNN_E_INVALID_ARG, "rnn_state_get", rnn_state_get(NULL, out));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_get", rnn_state_get(st, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_set", rnn_state_set(NULL, h_in));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_set", rnn_state_set(st, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_batch", rnn_state_batch(NULL, &batch));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_state_batch", rnn_state_batch(st, NULL));
    assert_int_equal(batch, 77);

    FAILS(RNN_E_INVALID_ARG, "rnn_step", rnn_step(NULL, st, x, out));
    FAILS(RNN_E_INVALID_ARG, "rnn_step", rnn_step(m, NULL, x, out));
    FAILS(RNN_E_INVALID_ARG, "rnn_step", rnn_step(m, st, NULL, out));
    FAILS(RNN_E_INVALID_ARG, "rnn_step_head", rnn_step_head(NULL, st, out));
    FAILS(RNN_E_INVALID_ARG, "rnn_step_head", rnn_step_head(with_head, NULL, out));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_step_head", rnn_step_head(with_head, st, NULL));
    FAILS(RNN_E_UNSUPPORTED, "rnn_step_head", rnn_step_head(m, st, out));

    float h[L * B * H];
    TU_OK(rnn_state_get(st, h));
    rnn_state_destroy(st);
    rnn_destroy(m);
    rnn_destroy(with_head);
    assert_int_equal(tu_count_equal(h, L * B * H, 0.0f), L * B * H);
}

/* ------------------------------------------------------------------------
 * Parameters, tensors, init
 * ---------------------------------------------------------------------- */

static void buffer_calls_reject_null_model(void **state)
{
    (void)state;
    float *p = (float *)NOT_NULL;
    size_t n = 77;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_params", rnn_params(NULL, &p, &n));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_grads", rnn_grads(NULL, &p, &n));
    assert_ptr_equal(p, NOT_NULL);
    assert_int_equal(n, 77);
}

static void tensor_calls_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(0, 0);
    int32_t count = 77;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_count", rnn_tensor_count(NULL, &count));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_count", rnn_tensor_count(m, NULL));
    assert_int_equal(count, 77);

    rnn_tensor_info info, before;
    memset(&info, 0x5a, sizeof info);
    info.struct_size = sizeof info;
    before = info;
    const int32_t bad_index[] = { -1, L * 4, INT32_MAX, INT32_MIN };
    for (size_t i = 0; i < sizeof bad_index / sizeof bad_index[0]; i++)
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_at", rnn_tensor_at(m, bad_index[i], &info));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_at", rnn_tensor_at(NULL, 0, &info));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_at", rnn_tensor_at(m, 0, NULL));
    const char *bad_names[] = { "weight_ih_l2", "", "head.weight", "weight_ih_l0_reverse",
                                "WEIGHT_IH_L0", "weight_ih_l0 " };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_find", rnn_tensor_find(m, bad_names[i], &info));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_find", rnn_tensor_find(NULL, "bias_ih_l0", &info));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_find", rnn_tensor_find(m, NULL, &info));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_find", rnn_tensor_find(m, "bias_ih_l0", NULL));
    assert_memory_equal(&info, &before, sizeof info);

    const size_t sizes[] = { 0, 3 }; /* the size rule: test_abi_struct.c */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        info.struct_size = sizes[i];
        before = info;
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_at", rnn_tensor_at(m, 0, &info));
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_find", rnn_tensor_find(m, "bias_ih_l0", &info));
        assert_memory_equal(&info, &before, sizeof info);
    }
    rnn_destroy(m);
}

static void init_calls_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(O, 0);
    float *p = NULL;
    size_t n = 0;
    TU_OK(rnn_params(m, &p, &n));
    float *before = tu_copy(p, n);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init_uniform", rnn_init_uniform(NULL, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init", rnn_init(NULL, RNN_INIT_UNIFORM, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init", rnn_init(m, 3, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init", rnn_init(m, -1, 1));
    int unchanged = memcmp(p, before, n * sizeof *p) == 0;
    free(before);
    rnn_destroy(m);
    assert_true(unchanged);
}

/* ------------------------------------------------------------------------
 * Saving and loading (argument checks; the format itself is tested with
 * the I/O code)
 * ---------------------------------------------------------------------- */

static const char *const missing_path = "/nonexistent-librnn-dir/model.safetensors";

static void save_calls_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(O, 0);
    size_t size = 77, written = 77;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save", rnn_save(NULL, "unused.safetensors"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save", rnn_save(m, NULL));
    TU_FAILS(RNN_E_IO, "rnn_save", rnn_save(m, missing_path));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_size", rnn_save_size(NULL, &size));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_size", rnn_save_size(m, NULL));
    assert_int_equal(size, 77);
    TU_OK(rnn_save_size(m, &size));
    unsigned char *buf = malloc(size), *before = malloc(size);
    assert_non_null(buf);
    assert_non_null(before);
    memset(buf, 0xa5, size);
    memcpy(before, buf, size);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_buffer", rnn_save_buffer(NULL, buf, size, &written));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_buffer", rnn_save_buffer(m, NULL, size, &written));
    TU_FAILS(RNN_E_SHAPE, "rnn_save_buffer", rnn_save_buffer(m, buf, size - 1, &written));
    TU_FAILS(RNN_E_SHAPE, "rnn_save_buffer", rnn_save_buffer(m, buf, 0, &written));
    int untouched = memcmp(buf, before, size) == 0;
    free(buf);
    free(before);
    rnn_destroy(m);
    assert_true(untouched);
    assert_int_equal(written, 77);
}

/* A model saved to memory, for the load calls. */
static unsigned char *saved(const rnn_t *m, size_t *size)
{
    TU_OK(rnn_save_size(m, size));
    unsigned char *buf = malloc(*size);
    assert_non_null(buf);
    TU_OK(rnn_save_buffer(m, buf, *size, NULL));
    return buf;
}

/* rnn_load(path) when func is "rnn_load", else rnn_load_buffer(data, size). */
static void expect_load_fails(rnn_status want, const char *func, const void *data,
                              size_t size, const char *path)
{
    rnn_t *m = NOT_NULL;
    rnn_clear_error();
    rnn_status st = strcmp(func, "rnn_load") == 0 ? rnn_load(&m, path)
                                                  : rnn_load_buffer(&m, data, size);
    if (st != want || m != NULL || !strstr(rnn_last_error(), func)) {
        rnn_destroy(st == RNN_OK ? m : NULL);
        fail_msg("%s: status %d (want %d), *out %s, last error \"%s\"", func, (int)st,
                 (int)want, m ? "not NULL" : "NULL", rnn_last_error());
    }
}

static void load_calls_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(O, 0), *other = make(O + 1, 0);
    size_t size = 0, other_size = 0;
    unsigned char *buf = saved(m, &size), *other_buf = saved(other, &other_size);
    expect_load_fails(RNN_E_INVALID_ARG, "rnn_load", NULL, 0, NULL);
    expect_load_fails(RNN_E_IO, "rnn_load", NULL, 0, missing_path);
    expect_load_fails(RNN_E_INVALID_ARG, "rnn_load_buffer", NULL, size, NULL);
    expect_load_fails(RNN_E_FORMAT, "rnn_load_buffer", buf, size - 1, NULL);
    expect_load_fails(RNN_E_FORMAT, "rnn_load_buffer", buf, 7, NULL);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load", rnn_load(NULL, "unused.safetensors"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_buffer", rnn_load_buffer(NULL, buf, size));

    /* Loading parameters: on failure the model is unchanged. */
    float *p = NULL;
    size_t n = 0;
    TU_OK(rnn_params(m, &p, &n));
    float *before = tu_copy(p, n);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_params", rnn_load_params(NULL, "unused"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_params", rnn_load_params(m, NULL));
    TU_FAILS(RNN_E_IO, "rnn_load_params", rnn_load_params(m, missing_path));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_params_buffer",
             rnn_load_params_buffer(NULL, buf, size));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_params_buffer",
             rnn_load_params_buffer(m, NULL, size));
    TU_FAILS(RNN_E_FORMAT, "rnn_load_params_buffer", rnn_load_params_buffer(m, buf, size - 1));
    TU_FAILS(RNN_E_FORMAT, "rnn_load_params_buffer",
             rnn_load_params_buffer(m, other_buf, other_size));
    int unchanged = memcmp(p, before, n * sizeof *p) == 0;
    free(before);
    free(buf);
    free(other_buf);
    rnn_destroy(m);
    rnn_destroy(other);
    assert_true(unchanged);
}

static void optim_save_and_load_reject_invalid_arguments(void **state)
{
    (void)state;
    rnn_t *m = make(0, 0);
    rnn_optim_config cfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.1f);
    rnn_optim_t *opt = NULL;
    TU_OK(rnn_optim_create(&opt, m, &cfg));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_save", rnn_optim_save(NULL, "unused"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_save", rnn_optim_save(opt, NULL));
    TU_FAILS(RNN_E_IO, "rnn_optim_save", rnn_optim_save(opt, missing_path));
    rnn_optim_t *loaded = NOT_NULL;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_load", rnn_optim_load(NULL, "unused"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_load", rnn_optim_load(&loaded, NULL));
    size_t size = 0;
    char byte = 0;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_save_size", rnn_optim_save_size(NULL, &size));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_save_size", rnn_optim_save_size(opt, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_save_buffer",
             rnn_optim_save_buffer(NULL, &byte, 1, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_save_buffer",
             rnn_optim_save_buffer(opt, NULL, 1, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_load_buffer",
             rnn_optim_load_buffer(NULL, &byte, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_load_buffer",
             rnn_optim_load_buffer(&loaded, NULL, 1));
    assert_null(loaded);
    loaded = NOT_NULL;
    TU_FAILS(RNN_E_IO, "rnn_optim_load", rnn_optim_load(&loaded, missing_path));
    assert_null(loaded);
    rnn_optim_destroy(opt);
    rnn_destroy(m);
}

/* ------------------------------------------------------------------------
 * Status texts and the last error
 * ---------------------------------------------------------------------- */

static void strerror_gives_distinct_text_for_every_code(void **state)
{
    (void)state;
    const int codes[] = { RNN_OK, RNN_E_INVALID_ARG, RNN_E_NOMEM, RNN_E_SHAPE,
                          RNN_E_UNSUPPORTED, RNN_E_IO, RNN_E_FORMAT, RNN_E_NONFINITE,
                          RNN_E_STATE, 9, -1, 1000 };
    const size_t n = sizeof codes / sizeof codes[0], known = 9;
    for (size_t i = 0; i < n; i++) {
        const char *a = rnn_strerror((rnn_status)codes[i]);
        assert_non_null(a);
        assert_true(a[0] != '\0');
        for (size_t j = 0; j < i && j < known; j++)
            if (strcmp(a, rnn_strerror((rnn_status)codes[j])) == 0)
                fail_msg("rnn_strerror(%d) == rnn_strerror(%d): \"%s\"", codes[i],
                         codes[j], a);
    }
}

static void status_values_are_pinned(void **state)
{
    (void)state;
    assert_int_equal(RNN_OK, 0);
    assert_int_equal(RNN_E_INVALID_ARG, 1);
    assert_int_equal(RNN_E_NOMEM, 2);
    assert_int_equal(RNN_E_SHAPE, 3);
    assert_int_equal(RNN_E_UNSUPPORTED, 4);
    assert_int_equal(RNN_E_IO, 5);
    assert_int_equal(RNN_E_FORMAT, 6);
    assert_int_equal(RNN_E_NONFINITE, 7);
    assert_int_equal(RNN_E_STATE, 8);
}

/* "" after clearing; a failure sets it; a later success keeps it. */
static void last_error_lives_until_the_next_failure(void **state)
{
    (void)state;
    rnn_clear_error();
    assert_non_null(rnn_last_error());
    assert_string_equal(rnn_last_error(), "");
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_zero_grad", rnn_zero_grad(NULL));
    rnn_t *m = make(0, 0);
    TU_OK(rnn_zero_grad(m));
    rnn_destroy(m);
    assert_non_null(strstr(rnn_last_error(), "rnn_zero_grad"));
    rnn_clear_error();
    assert_string_equal(rnn_last_error(), "");
}

static int fail_in_thread(void *arg)
{
    (void)arg;
    rnn_clear_error();
    rnn_status st = rnn_sgd_step(NULL, 1.0f);
    return st == RNN_E_INVALID_ARG && strstr(rnn_last_error(), "rnn_sgd_step") != NULL;
}

/* Errors are per thread: another thread's failure is not seen here. */
static void last_error_is_per_thread(void **state)
{
    (void)state;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_zero_grad", rnn_zero_grad(NULL));
    thrd_t t;
    int other_ok = 0;
    assert_int_equal(thrd_create(&t, fail_in_thread, NULL), thrd_success);
    assert_int_equal(thrd_join(t, &other_ok), thrd_success);
    assert_true(other_ok);
    assert_non_null(strstr(rnn_last_error(), "rnn_zero_grad"));
    assert_null(strstr(rnn_last_error(), "rnn_sgd_step"));
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_rejects_fields_out_of_range),
        cmocka_unit_test(create_rejects_null_arguments),
        cmocka_unit_test(create_reports_overflow_as_shape_and_huge_sizes_as_nomem),
        cmocka_unit_test(set_allocator_rejects_an_allocator_missing_a_function),
        cmocka_unit_test(destroy_functions_accept_null),
        cmocka_unit_test(get_config_rejects_null),
        cmocka_unit_test(forward_rejects_invalid_arguments),
        cmocka_unit_test(failed_forward_keeps_the_previous_forward),
        cmocka_unit_test(backward_before_forward_is_a_state_error),
        cmocka_unit_test(zero_grad_and_sgd_step_reject_invalid_arguments),
        cmocka_unit_test(head_calls_reject_invalid_arguments),
        cmocka_unit_test(bce_rejects_invalid_arguments),
        cmocka_unit_test(cross_entropy_rejects_invalid_arguments),
        cmocka_unit_test(mse_rejects_invalid_arguments),
        cmocka_unit_test(optim_create_rejects_invalid_configs),
        cmocka_unit_test(optim_calls_reject_invalid_arguments),
        cmocka_unit_test(clip_and_checks_reject_invalid_arguments),
        cmocka_unit_test(state_calls_reject_invalid_arguments),
        cmocka_unit_test(buffer_calls_reject_null_model),
        cmocka_unit_test(tensor_calls_reject_invalid_arguments),
        cmocka_unit_test(init_calls_reject_invalid_arguments),
        cmocka_unit_test(save_calls_reject_invalid_arguments),
        cmocka_unit_test(load_calls_reject_invalid_arguments),
        cmocka_unit_test(optim_save_and_load_reject_invalid_arguments),
        cmocka_unit_test(strerror_gives_distinct_text_for_every_code),
        cmocka_unit_test(status_values_are_pinned),
        cmocka_unit_test(last_error_lives_until_the_next_failure),
        cmocka_unit_test(last_error_is_per_thread),
        cmocka_unit_test(create_rejects_int32_max_layers_promptly),
        cmocka_unit_test(create_refuses_more_than_65536_tensors_before_any_work),
    };
    return tu_run("test_errors", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
