/* SPDX-License-Identifier: MIT
 *
 * test_abi_struct.c - the versioned public structs (rnn_config,
 * rnn_optim_config, rnn_tensor_info, rnn_allocator) across library
 * versions.
 *
 * Each starts with size_t struct_size so that a later version can append
 * fields. A caller compiled against another version passes a size this
 * library does not know: it must be refused with RNN_E_INVALID_ARG and a
 * message naming the function and struct_size, without reading past the
 * caller's struct (each struct here sits in a heap block of exactly its
 * declared size, so ASan and valgrind see any over-read), without writing
 * to it, and without any other effect (no model or optimizer, allocator
 * unchanged). The layouts of this version are pinned too: a field moved by
 * accident would break every program compiled against 0.x.
 */
#include "testutil.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * The layouts of ABI 0 on LP64 targets (x86-64, AArch64, ...)
 * ---------------------------------------------------------------------- */

#if defined(__LP64__) || defined(_LP64)
_Static_assert(sizeof(rnn_config) == 56, "rnn_config size");
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

_Static_assert(sizeof(rnn_optim_config) == 48, "rnn_optim_config size");
_Static_assert(offsetof(rnn_optim_config, kind) == 8, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, nesterov) == 12, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, lr) == 16, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, momentum) == 20, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, dampening) == 24, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, weight_decay) == 28, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, beta1) == 32, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, beta2) == 36, "rnn_optim_config layout");
_Static_assert(offsetof(rnn_optim_config, eps) == 40, "rnn_optim_config layout");

_Static_assert(sizeof(rnn_tensor_info) == 48, "rnn_tensor_info size");
_Static_assert(offsetof(rnn_tensor_info, name) == 8, "rnn_tensor_info layout");
_Static_assert(offsetof(rnn_tensor_info, offset) == 16, "rnn_tensor_info layout");
_Static_assert(offsetof(rnn_tensor_info, count) == 24, "rnn_tensor_info layout");
_Static_assert(offsetof(rnn_tensor_info, ndim) == 32, "rnn_tensor_info layout");
_Static_assert(offsetof(rnn_tensor_info, shape) == 36, "rnn_tensor_info layout");

_Static_assert(sizeof(rnn_allocator) == 32, "rnn_allocator size");
_Static_assert(offsetof(rnn_allocator, malloc_fn) == 8, "rnn_allocator layout");
_Static_assert(offsetof(rnn_allocator, free_fn) == 16, "rnn_allocator layout");
_Static_assert(offsetof(rnn_allocator, user) == 24, "rnn_allocator layout");
#endif

/* Every struct starts with its size. */
_Static_assert(offsetof(rnn_config, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(rnn_optim_config, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(rnn_tensor_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(rnn_allocator, struct_size) == 0, "struct_size first");

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* A heap copy of the first `size` bytes of `src` (which has at least
 * min(size, src_size) bytes; the rest is filled with 0xa5), exactly `size`
 * bytes long, with struct_size = size. */
static void *block_of(const void *src, size_t src_size, size_t size)
{
    unsigned char *b = malloc(size);
    assert_non_null(b);
    memset(b, 0xa5, size);
    memcpy(b, src, src_size < size ? src_size : size);
    memcpy(b, &size, sizeof size);
    return b;
}

/* The message names the function and struct_size. */
static void assert_struct_size_message(const char *func)
{
    const char *msg = rnn_last_error();
    assert_true(strncmp(msg, func, strlen(func)) == 0);
    assert_non_null(strstr(msg, "struct_size"));
}

static rnn_t *small_model(void)
{
    rnn_config cfg = rnn_config_default(2, 3);
    cfg.output_size = 1;
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, &cfg));
    return m;
}

/* Sizes to try for a struct of `current` bytes whose last field starts at
 * `last_field`: an older version without that field, one holding only
 * struct_size, newer versions with more fields, and one byte short. */
static size_t wrong_sizes(size_t current, size_t last_field, size_t out[5])
{
    out[0] = last_field;          /* the version before the last field */
    out[1] = sizeof(size_t);      /* struct_size only */
    out[2] = current + 8;         /* a newer version with one more field */
    out[3] = current + 64;
    out[4] = current - 1;
    return 5;
}

/* ------------------------------------------------------------------------
 * rnn_config
 * ---------------------------------------------------------------------- */

static void create_rejects_older_and_newer_configs(void **state)
{
    (void)state;
    const rnn_config cfg = rnn_config_default(2, 3);
    assert_int_equal(cfg.struct_size, sizeof(rnn_config));
    size_t sizes[5];
    const size_t n = wrong_sizes(sizeof cfg, offsetof(rnn_config, seed), sizes);
    for (size_t i = 0; i < n; ++i) {
        rnn_config *old = block_of(&cfg, sizeof cfg, sizes[i]);
        rnn_t *m = (rnn_t *)old; /* not NULL: must be reset */
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&m, old));
        assert_null(m);
        assert_struct_size_message("rnn_create");
        free(old);
    }
    /* zero: a struct never initialised */
    rnn_config zero;
    memset(&zero, 0, sizeof zero);
    rnn_t *m = NULL;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_create", rnn_create(&m, &zero));
    assert_null(m);
}

static void get_config_rejects_older_and_newer_configs(void **state)
{
    (void)state;
    rnn_t *model = small_model();
    const rnn_config cfg = rnn_config_default(9, 9);
    size_t sizes[5];
    const size_t n = wrong_sizes(sizeof cfg, offsetof(rnn_config, seed), sizes);
    for (size_t i = 0; i < n; ++i) {
        unsigned char *old = block_of(&cfg, sizeof cfg, sizes[i]);
        unsigned char *copy = malloc(sizes[i]);
        assert_non_null(copy);
        memcpy(copy, old, sizes[i]);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_get_config",
                 rnn_get_config(model, (rnn_config *)(void *)old));
        assert_struct_size_message("rnn_get_config");
        assert_memory_equal(old, copy, sizes[i]); /* nothing written */
        free(copy);
        free(old);
    }
    rnn_config now = rnn_config_default(1, 1);
    TU_OK(rnn_get_config(model, &now));
    assert_int_equal(now.hidden_size, 3);
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * rnn_optim_config
 * ---------------------------------------------------------------------- */

static void optim_create_rejects_older_and_newer_configs(void **state)
{
    (void)state;
    rnn_t *model = small_model();
    const int32_t kinds[] = {RNN_OPTIM_SGD, RNN_OPTIM_ADAM, RNN_OPTIM_ADAMW};
    for (size_t k = 0; k < 3; ++k) {
        const rnn_optim_config oc = rnn_optim_config_default(kinds[k], 0.1f);
        assert_int_equal(oc.struct_size, sizeof(rnn_optim_config));
        size_t sizes[5];
        const size_t n =
            wrong_sizes(sizeof oc, offsetof(rnn_optim_config, eps), sizes);
        for (size_t i = 0; i < n; ++i) {
            rnn_optim_config *old = block_of(&oc, sizeof oc, sizes[i]);
            rnn_optim_t *o = (rnn_optim_t *)old;
            TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_create",
                     rnn_optim_create(&o, model, old));
            assert_null(o);
            assert_struct_size_message("rnn_optim_create");
            free(old);
        }
        rnn_optim_t *o = NULL;
        TU_OK(rnn_optim_create(&o, model, &oc));
        rnn_optim_destroy(o);
    }
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * rnn_tensor_info
 * ---------------------------------------------------------------------- */

static void tensor_calls_reject_older_and_newer_infos(void **state)
{
    (void)state;
    rnn_t *model = small_model();
    rnn_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    size_t sizes[5];
    const size_t n = wrong_sizes(sizeof info, offsetof(rnn_tensor_info, shape), sizes);
    for (size_t i = 0; i < n; ++i) {
        unsigned char *old = block_of(&info, sizeof info, sizes[i]);
        unsigned char *copy = malloc(sizes[i]);
        assert_non_null(copy);
        memcpy(copy, old, sizes[i]);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_at",
                 rnn_tensor_at(model, 0, (rnn_tensor_info *)(void *)old));
        assert_struct_size_message("rnn_tensor_at");
        assert_memory_equal(old, copy, sizes[i]);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_tensor_find",
                 rnn_tensor_find(model, "weight_hh_l0", (rnn_tensor_info *)(void *)old));
        assert_struct_size_message("rnn_tensor_find");
        assert_memory_equal(old, copy, sizes[i]);
        free(copy);
        free(old);
    }
    TU_OK(rnn_tensor_find(model, "weight_hh_l0", &info));
    assert_int_equal(info.shape[0], 3);
    assert_int_equal(info.shape[1], 3);
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * rnn_allocator
 * ---------------------------------------------------------------------- */

static size_t counted_mallocs;

static void *counting_malloc(void *user, size_t size)
{
    (void)user;
    ++counted_mallocs;
    return malloc(size);
}

static void counting_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static void set_allocator_rejects_older_and_newer_structs(void **state)
{
    (void)state;
    rnn_allocator a;
    a.struct_size = sizeof a;
    a.malloc_fn = counting_malloc;
    a.free_fn = counting_free;
    a.user = NULL;
    TU_OK(rnn_set_allocator(&a));
    size_t sizes[5];
    const size_t n = wrong_sizes(sizeof a, offsetof(rnn_allocator, user), sizes);
    for (size_t i = 0; i < n; ++i) {
        rnn_allocator *old = block_of(&a, sizeof a, sizes[i]);
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_set_allocator", rnn_set_allocator(old));
        assert_struct_size_message("rnn_set_allocator");
        free(old);
    }
    /* The refused calls left the counting allocator in place. */
    counted_mallocs = 0;
    rnn_t *model = small_model();
    assert_true(counted_mallocs > 0);
    rnn_destroy(model);
    TU_OK(rnn_set_allocator(NULL));
    counted_mallocs = 0;
    model = small_model();
    assert_int_equal(counted_mallocs, 0);
    rnn_destroy(model);
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
        cmocka_unit_test(create_rejects_older_and_newer_configs),
        cmocka_unit_test(get_config_rejects_older_and_newer_configs),
        cmocka_unit_test(optim_create_rejects_older_and_newer_configs),
        cmocka_unit_test(tensor_calls_reject_older_and_newer_infos),
        cmocka_unit_test(set_allocator_rejects_older_and_newer_structs),
        cmocka_unit_test(enum_values_are_pinned),
    };
    return tu_run("test_abi_struct", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
