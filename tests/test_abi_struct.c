/* SPDX-License-Identifier: MIT
 *
 * test_abi_struct.c - the versioned public structs (rnn_config,
 * rnn_optim_config, rnn_tensor_info, rnn_allocator) across library
 * versions (rnn.h, "Versioned structs").
 *
 * Each starts with size_t struct_size; releases only append fields. The
 * library must accept the 0.1.0 size (giving the missing fields their
 * defaults), its own, and a larger one whose unknown bytes are zero; refuse
 * a larger one with a non-zero unknown byte (RNN_E_UNSUPPORTED) and any
 * other size (RNN_E_INVALID_ARG); and read and write exactly struct_size
 * bytes. Each struct here sits in a heap block of exactly its declared
 * size, so ASan and valgrind see any access past it. This program is also
 * built with RNN_TEST_GROWTH against a library whose structs grew
 * (cmake/RnnCompat.cmake): there the 0.1.0 size is an older layout.
 */
#include "testutil.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * The layouts of ABI 0 on LP64 targets (x86-64, AArch64, ...)
 * ---------------------------------------------------------------------- */

#if (defined(__LP64__) || defined(_LP64)) && !defined(RNN_TEST_GROWTH)
_Static_assert(sizeof(rnn_config) == 80, "rnn_config size (0.1.0: 56)");
_Static_assert(sizeof(rnn_optim_config) == 56,
               "rnn_optim_config size (0.1.0: 48)");
_Static_assert(sizeof(rnn_forward_args) == 96, "rnn_forward_args size");
_Static_assert(sizeof(rnn_backward_args) == 56, "rnn_backward_args size");
_Static_assert(sizeof(rnn_tensor_info) == 48, "rnn_tensor_info size");
_Static_assert(sizeof(rnn_allocator) == 32, "rnn_allocator size");
#endif
#if defined(__LP64__) || defined(_LP64)
_Static_assert(offsetof(rnn_config, input_size) == 8, "rnn_config layout");
_Static_assert(offsetof(rnn_config, hidden_size) == 12, "rnn_config layout");
_Static_assert(offsetof(rnn_config, num_layers) == 16, "rnn_config layout");
_Static_assert(offsetof(rnn_config, bidirectional) == 20, "rnn_config layout");
_Static_assert(offsetof(rnn_config, nonlinearity) == 24, "rnn_config layout");
_Static_assert(offsetof(rnn_config, bias) == 28, "rnn_config layout");
_Static_assert(offsetof(rnn_config, batch_first) == 32, "rnn_config layout");
_Static_assert(offsetof(rnn_config, output_size) == 36, "rnn_config layout");
_Static_assert(offsetof(rnn_config, head_mode) == 40, "rnn_config layout");
_Static_assert(offsetof(rnn_config, reserved) == 44, "rnn_config layout");
_Static_assert(offsetof(rnn_config, seed) == 48, "rnn_config layout");
_Static_assert(offsetof(rnn_config, dropout) == 56, "rnn_config layout (0.2.0)");

_Static_assert(offsetof(rnn_optim_config, kind) == 8, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, nesterov) == 12, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, lr) == 16, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, momentum) == 20, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, dampening) == 24, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, weight_decay) == 28, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, beta1) == 32, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, beta2) == 36, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, eps) == 40, "rnn_optim_config layout");

_Static_assert(offsetof(rnn_tensor_info, name) == 8, "rnn_tensor_info layout");
_Static_assert(offsetof(rnn_tensor_info, offset) == 16, "rnn_tensor_info layout");
_Static_assert(offsetof(rnn_tensor_info, count) == 24, "rnn_tensor_info layout");
_Static_assert(offsetof(rnn_tensor_info, ndim) == 32, "rnn_tensor_info layout");
_Static_assert(offsetof(rnn_tensor_info, shape) == 36, "rnn_tensor_info layout");

_Static_assert(offsetof(rnn_allocator, malloc_fn) == 8, "rnn_allocator layout");
_Static_assert(offsetof(rnn_allocator, free_fn) == 16, "rnn_allocator layout");
_Static_assert(offsetof(rnn_allocator, user) == 24, "rnn_allocator layout");
#endif

/* Every struct starts with its size. */
_Static_assert(offsetof(rnn_config, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(rnn_optim_config, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(rnn_tensor_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(rnn_allocator, struct_size) == 0, "struct_size first");

/* The 0.1.0 sizes: each struct ended with the field named here. */
#define ROUND_UP(n, a) (((n) + (a) - 1) / (a) * (a))
#define SIZE_0_1(type, last)                                                   \
    ROUND_UP(offsetof(type, last) + sizeof(((type *)0)->last), _Alignof(size_t))
static const size_t config_0_1 = SIZE_0_1(rnn_config, seed);
static const size_t optim_0_1 = SIZE_0_1(rnn_optim_config, eps);
static const size_t info_0_1 = SIZE_0_1(rnn_tensor_info, shape);
static const size_t allocator_0_1 = SIZE_0_1(rnn_allocator, user);

/* A newer header's struct: 16 more bytes. */
enum { NEWER = 16 };

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* A heap block of exactly `size` bytes: the first min(size, src_size) bytes
 * of `src`, then `fill`, with struct_size = size. */
static void *block_of(const void *src, size_t src_size, size_t size,
                      unsigned char fill)
{
    unsigned char *b = malloc(size);
    assert_non_null(b);
    memset(b, fill, size);
    memcpy(b, src, src_size < size ? src_size : size);
    memcpy(b, &size, sizeof size);
    return b;
}

static void *copy_of(const void *block, size_t size)
{
    void *c = malloc(size);
    assert_non_null(c);
    memcpy(c, block, size);
    return c;
}

/* The message names the function and struct_size. */
static void assert_struct_size_message(const char *func)
{
    const char *msg = rnn_last_error();
    assert_true(strncmp(msg, func, strlen(func)) == 0);
    assert_non_null(strstr(msg, "struct_size"));
}

static void assert_all_bytes(const void *block, size_t from, size_t to,
                             unsigned char value)
{
    for (size_t i = from; i < to; ++i)
        assert_int_equal(((const unsigned char *)block)[i], value);
}

static rnn_t *small_model(void)
{
    rnn_config cfg = rnn_config_default(2, 3);
    cfg.output_size = 1;
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, &cfg));
    return m;
}

/* Sizes of no layout for a struct whose 0.1.0 size is `oldest`. */
static size_t bad_sizes(size_t oldest, size_t current, size_t out[4])
{
    out[0] = 0;              /* never initialised */
    out[1] = sizeof(size_t); /* struct_size only */
    out[2] = oldest - 4;     /* between two fields */
    out[3] = current - 1;
    return 4;
}

/* ------------------------------------------------------------------------
 * rnn_config
 * ---------------------------------------------------------------------- */

static void config_init_writes_exactly_struct_size_bytes(void **state)
{
    (void)state;
    const rnn_config want = rnn_config_default(4, 5);
    assert_int_equal(want.struct_size, sizeof(rnn_config));
    assert_int_equal(want.num_layers, 1);
    assert_int_equal(want.bias, 1);
    const size_t sizes[] = {config_0_1, sizeof(rnn_config),
                            sizeof(rnn_config) + NEWER};
    for (size_t i = 0; i < 3; ++i) {
        unsigned char *b = block_of(&want, 0, sizes[i], 0xa5);
        TU_OK(rnn_config_init((rnn_config *)(void *)b, sizes[i], 4, 5));
        const size_t known = sizes[i] < sizeof want ? sizes[i] : sizeof want;
        assert_memory_equal(b + sizeof(size_t),
                            (const unsigned char *)&want + sizeof(size_t),
                            known - sizeof(size_t));
        assert_memory_equal(b, &sizes[i], sizeof(size_t));
        assert_all_bytes(b, known, sizes[i], 0);
        free(b);
    }
}

static void config_init_rejects_sizes_of_no_layout(void **state)
{
    (void)state;
    size_t sizes[4];
    const size_t n = bad_sizes(config_0_1, sizeof(rnn_config), sizes);
    for (size_t i = 0; i < n; ++i) {
        unsigned char b[sizeof(rnn_config)];
        memset(b, 0x5a, sizeof b);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_config_init",
                 rnn_config_init((rnn_config *)(void *)b, sizes[i], 1, 1));
        assert_struct_size_message("rnn_config_init");
        assert_all_bytes(b, 0, sizeof b, 0x5a);
    }
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_config_init",
             rnn_config_init(NULL, sizeof(rnn_config), 1, 1));
}

static void create_accepts_the_0_1_0_size_and_defaults_the_rest(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(2, 3);
    cfg.num_layers = 2;
    cfg.seed = 7;
    rnn_config *old = block_of(&cfg, sizeof cfg, config_0_1, 0xa5);
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, old));
    rnn_config got = rnn_config_default(9, 9);
    TU_OK(rnn_get_config(m, &got));
    assert_int_equal(got.num_layers, 2);
    assert_int_equal(got.seed, 7);
    /* the fields past 0.1.0 (if any) hold their defaults */
    const rnn_config defaults = rnn_config_default(2, 3);
    assert_memory_equal((const unsigned char *)&got + config_0_1,
                        (const unsigned char *)&defaults + config_0_1,
                        sizeof got - config_0_1);
    /* rnn_get_config into a 0.1.0 struct writes 0.1.0 bytes only */
    unsigned char *back = block_of(&cfg, 0, config_0_1, 0);
    TU_OK(rnn_get_config(m, (rnn_config *)(void *)back));
    size_t back_size;
    memcpy(&back_size, back, sizeof back_size);
    assert_int_equal(back_size, config_0_1);
    assert_memory_equal(back + sizeof(size_t),
                        (const unsigned char *)&got + sizeof(size_t),
                        config_0_1 - sizeof(size_t));
    free(back);
    free(old);
    rnn_destroy(m);
}

static void create_accepts_a_newer_size_whose_new_fields_are_zero(void **state)
{
    (void)state;
    const rnn_config cfg = rnn_config_default(2, 3);
    rnn_config *newer = block_of(&cfg, sizeof cfg, sizeof cfg + NEWER, 0);
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, newer));
    rnn_destroy(m);
    /* one unknown field set: refused, naming what is needed */
    ((unsigned char *)newer)[sizeof cfg + NEWER - 1] = 1;
    m = (rnn_t *)newer;
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_create", rnn_create(&m, newer));
    assert_null(m);
    assert_non_null(strstr(rnn_last_error(), "newer librnn"));
    free(newer);
}

static void create_rejects_sizes_of_no_layout(void **state)
{
    (void)state;
    const rnn_config cfg = rnn_config_default(2, 3);
    size_t sizes[4];
    const size_t n = bad_sizes(config_0_1, sizeof cfg, sizes);
    for (size_t i = 0; i < n; ++i) {
        rnn_config *bad = block_of(&cfg, sizeof cfg, sizes[i] < sizeof(size_t)
                                                         ? sizeof(size_t)
                                                         : sizes[i], 0xa5);
        bad->struct_size = sizes[i];
        rnn_t *m = (rnn_t *)bad; /* not NULL: must be reset */
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&m, bad));
        assert_null(m);
        assert_struct_size_message("rnn_create");
        free(bad);
    }
}

static void get_config_writes_exactly_struct_size_bytes(void **state)
{
    (void)state;
    rnn_t *model = small_model();
    rnn_config want = rnn_config_default(1, 1);
    TU_OK(rnn_get_config(model, &want));
    assert_int_equal(want.hidden_size, 3);
    /* newer: this library's bytes, then zeros, struct_size kept */
    unsigned char *newer = block_of(&want, 0, sizeof want + NEWER, 0xa5);
    TU_OK(rnn_get_config(model, (rnn_config *)(void *)newer));
    assert_memory_equal(newer + sizeof(size_t),
                        (const unsigned char *)&want + sizeof(size_t),
                        sizeof want - sizeof(size_t));
    assert_all_bytes(newer, sizeof want, sizeof want + NEWER, 0);
    assert_int_equal(((rnn_config *)(void *)newer)->struct_size,
                     sizeof want + NEWER);
    free(newer);
    /* no layout: refused, nothing written */
    size_t sizes[4];
    const size_t n = bad_sizes(config_0_1, sizeof want, sizes);
    for (size_t i = 1; i < n; ++i) {
        unsigned char *bad = block_of(&want, 0, sizes[i], 0xa5);
        unsigned char *copy = copy_of(bad, sizes[i]);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_get_config",
                 rnn_get_config(model, (rnn_config *)(void *)bad));
        assert_struct_size_message("rnn_get_config");
        assert_memory_equal(bad, copy, sizes[i]);
        free(copy);
        free(bad);
    }
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * rnn_optim_config
 * ---------------------------------------------------------------------- */

static void optim_config_init_writes_exactly_struct_size_bytes(void **state)
{
    (void)state;
    const rnn_optim_config want = rnn_optim_config_default(RNN_OPTIM_ADAMW, 0.5f);
    assert_int_equal(want.struct_size, sizeof want);
    assert_true(want.weight_decay == 0.01f);
    const size_t sizes[] = {optim_0_1, sizeof want, sizeof want + NEWER};
    for (size_t i = 0; i < 3; ++i) {
        unsigned char *b = block_of(&want, 0, sizes[i], 0xa5);
        TU_OK(rnn_optim_config_init((rnn_optim_config *)(void *)b, sizes[i],
                                    RNN_OPTIM_ADAMW, 0.5f));
        const size_t known = sizes[i] < sizeof want ? sizes[i] : sizeof want;
        assert_memory_equal(b + sizeof(size_t),
                            (const unsigned char *)&want + sizeof(size_t),
                            known - sizeof(size_t));
        assert_all_bytes(b, known, sizes[i], 0);
        free(b);
    }
    size_t bad[4];
    const size_t n = bad_sizes(optim_0_1, sizeof want, bad);
    for (size_t i = 0; i < n; ++i) {
        rnn_optim_config c;
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_config_init",
                 rnn_optim_config_init(&c, bad[i], RNN_OPTIM_SGD, 0.1f));
        assert_struct_size_message("rnn_optim_config_init");
    }
}

static void optim_create_follows_the_size_rule(void **state)
{
    (void)state;
    rnn_t *model = small_model();
    const int32_t kinds[] = {RNN_OPTIM_SGD, RNN_OPTIM_ADAM, RNN_OPTIM_ADAMW};
    for (size_t k = 0; k < 3; ++k) {
        const rnn_optim_config oc = rnn_optim_config_default(kinds[k], 0.1f);
        const size_t good[] = {optim_0_1, sizeof oc, sizeof oc + NEWER};
        for (size_t i = 0; i < 3; ++i) {
            rnn_optim_config *c = block_of(&oc, sizeof oc, good[i], 0);
            rnn_optim_t *o = NULL;
            TU_OK(rnn_optim_create(&o, model, c));
            rnn_optim_destroy(o);
            free(c);
        }
        rnn_optim_config *newer = block_of(&oc, sizeof oc, sizeof oc + NEWER, 0);
        ((unsigned char *)newer)[sizeof oc] = 1;
        rnn_optim_t *o = (rnn_optim_t *)newer;
        TU_FAILS(RNN_E_UNSUPPORTED, "rnn_optim_create",
                 rnn_optim_create(&o, model, newer));
        assert_null(o);
        free(newer);
        size_t bad[4];
        const size_t n = bad_sizes(optim_0_1, sizeof oc, bad);
        for (size_t i = 1; i < n; ++i) {
            rnn_optim_config *c = block_of(&oc, sizeof oc, bad[i], 0xa5);
            o = (rnn_optim_t *)c;
            TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_create",
                     rnn_optim_create(&o, model, c));
            assert_null(o);
            assert_struct_size_message("rnn_optim_create");
            free(c);
        }
    }
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * rnn_tensor_info
 * ---------------------------------------------------------------------- */

static void tensor_calls_write_exactly_struct_size_bytes(void **state)
{
    (void)state;
    rnn_t *model = small_model();
    rnn_tensor_info want;
    memset(&want, 0, sizeof want);
    want.struct_size = sizeof want;
    TU_OK(rnn_tensor_find(model, "weight_hh_l0", &want));
    assert_int_equal(want.shape[0], 3);
    assert_int_equal(want.shape[1], 3);
    const size_t good[] = {info_0_1, sizeof want, sizeof want + NEWER};
    for (size_t i = 0; i < 3; ++i) {
        unsigned char *b = block_of(&want, 0, good[i], 0xa5);
        TU_OK(rnn_tensor_find(model, "weight_hh_l0", (rnn_tensor_info *)(void *)b));
        const size_t known = good[i] < sizeof want ? good[i] : sizeof want;
        assert_memory_equal(b + sizeof(size_t),
                            (const unsigned char *)&want + sizeof(size_t),
                            known - sizeof(size_t));
        assert_all_bytes(b, known, good[i], 0);
        memset(b + sizeof(size_t), 0xa5, good[i] - sizeof(size_t));
        TU_OK(rnn_tensor_at(model, 1, (rnn_tensor_info *)(void *)b));
        assert_memory_equal(b + sizeof(size_t),
                            (const unsigned char *)&want + sizeof(size_t),
                            known - sizeof(size_t));
        free(b);
    }
    size_t bad[4];
    const size_t n = bad_sizes(info_0_1, sizeof want, bad);
    for (size_t i = 1; i < n; ++i) {
        unsigned char *b = block_of(&want, 0, bad[i], 0xa5);
        unsigned char *copy = copy_of(b, bad[i]);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_at",
                 rnn_tensor_at(model, 0, (rnn_tensor_info *)(void *)b));
        assert_struct_size_message("rnn_tensor_at");
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_find",
                 rnn_tensor_find(model, "weight_hh_l0", (rnn_tensor_info *)(void *)b));
        assert_struct_size_message("rnn_tensor_find");
        assert_memory_equal(b, copy, bad[i]);
        free(copy);
        free(b);
    }
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * rnn_allocator
 * ---------------------------------------------------------------------- */

static void assert_allocator_counts(bool counting)
{
    tu_alloc_calls = 0;
    rnn_t *model = small_model();
    assert_int_equal(tu_alloc_calls > 0, counting);
    rnn_destroy(model);
}

static void set_allocator_follows_the_size_rule(void **state)
{
    (void)state;
    rnn_allocator a = tu_counting_allocator();
    const size_t good[] = {allocator_0_1, sizeof a, sizeof a + NEWER};
    for (size_t i = 0; i < 3; ++i) {
        rnn_allocator *b = block_of(&a, sizeof a, good[i], 0);
        TU_OK(rnn_set_allocator(b));
        free(b);
        assert_allocator_counts(true);
        TU_OK(rnn_set_allocator(NULL));
        assert_allocator_counts(false);
    }
    TU_OK(rnn_set_allocator(&a));
    /* refused structs leave the counting allocator in place */
    rnn_allocator *newer = block_of(&a, sizeof a, sizeof a + NEWER, 0);
    ((unsigned char *)newer)[sizeof a + 3] = 1;
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_set_allocator", rnn_set_allocator(newer));
    free(newer);
    size_t bad[4];
    const size_t n = bad_sizes(allocator_0_1, sizeof a, bad);
    for (size_t i = 1; i < n; ++i) {
        rnn_allocator *b = block_of(&a, sizeof a, bad[i], 0xa5);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_set_allocator", rnn_set_allocator(b));
        assert_struct_size_message("rnn_set_allocator");
        free(b);
    }
    assert_allocator_counts(true);
    TU_OK(rnn_set_allocator(NULL));
}

/* ------------------------------------------------------------------------
 * Numeric values that are part of the ABI
 * ---------------------------------------------------------------------- */

static void enum_values_are_pinned(void **state)
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
    assert_int_equal(RNN_TANH, 0);
    assert_int_equal(RNN_RELU, 1);
    assert_int_equal(RNN_HEAD_LAST, 0);
    assert_int_equal(RNN_HEAD_ALL, 1);
    assert_int_equal(RNN_REDUCTION_MEAN, 0);
    assert_int_equal(RNN_REDUCTION_SUM, 1);
    assert_int_equal(RNN_OPTIM_SGD, 0);
    assert_int_equal(RNN_OPTIM_ADAM, 1);
    assert_int_equal(RNN_OPTIM_ADAMW, 2);
    assert_int_equal(RNN_INIT_UNIFORM, 0);
    assert_int_equal(RNN_INIT_XAVIER_UNIFORM, 1);
    assert_int_equal(RNN_INIT_ORTHOGONAL, 2);
    assert_int_equal(RNN_VERSION_MAJOR, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_init_writes_exactly_struct_size_bytes),
        cmocka_unit_test(config_init_rejects_sizes_of_no_layout),
        cmocka_unit_test(create_accepts_the_0_1_0_size_and_defaults_the_rest),
        cmocka_unit_test(create_accepts_a_newer_size_whose_new_fields_are_zero),
        cmocka_unit_test(create_rejects_sizes_of_no_layout),
        cmocka_unit_test(get_config_writes_exactly_struct_size_bytes),
        cmocka_unit_test(optim_config_init_writes_exactly_struct_size_bytes),
        cmocka_unit_test(optim_create_follows_the_size_rule),
        cmocka_unit_test(tensor_calls_write_exactly_struct_size_bytes),
        cmocka_unit_test(set_allocator_follows_the_size_rule),
        cmocka_unit_test(enum_values_are_pinned),
    };
    return tu_run("test_abi_struct", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
