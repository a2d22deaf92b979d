/* SPDX-License-Identifier: MIT
 *
 * test_model.c - model creation: rnn_config_default, rnn_get_config, the
 * flat parameter/gradient buffers (count formula, state_dict order, names,
 * offsets, shapes, lookup by name), PyTorch's uniform initialisation and its
 * determinism, and gradients starting at zero.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rnn_t *create_row(const tu_shape *s, uint64_t seed)
{
    rnn_config cfg = tu_config(s);
    cfg.seed = seed;
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, &cfg));
    return m;
}

/* ------------------------------------------------------------------------
 * Configuration
 * ---------------------------------------------------------------------- */

static void config_default_has_pytorch_defaults(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(7, 9);
    assert_int_equal(cfg.struct_size, sizeof(rnn_config));
    assert_int_equal(cfg.input_size, 7);
    assert_int_equal(cfg.hidden_size, 9);
    assert_int_equal(cfg.num_layers, 1);
    assert_int_equal(cfg.bidirectional, 0);
    assert_int_equal(cfg.nonlinearity, RNN_TANH);
    assert_int_equal(cfg.bias, 1);
    assert_int_equal(cfg.batch_first, 0);
    assert_int_equal(cfg.output_size, 0);
    assert_int_equal(cfg.head_mode, RNN_HEAD_LAST);
    assert_int_equal(cfg.reserved, 0);
    assert_int_equal(cfg.seed, 0);
}

static void get_config_returns_the_config_given_to_create(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(5, 6);
    cfg.num_layers = 3;
    cfg.bidirectional = 1;
    cfg.nonlinearity = RNN_RELU;
    cfg.bias = 0;
    cfg.batch_first = 1;
    cfg.output_size = 4;
    cfg.head_mode = RNN_HEAD_ALL;
    cfg.seed = 0x123456789abcdefull;
    rnn_t *m = NULL;
    TU_OK(rnn_create(&m, &cfg));
    rnn_config got = rnn_config_default(1, 1);
    TU_OK(rnn_get_config(m, &got));
    rnn_destroy(m);
    assert_int_equal(got.struct_size, sizeof(rnn_config));
    assert_int_equal(got.input_size, 5);
    assert_int_equal(got.hidden_size, 6);
    assert_int_equal(got.num_layers, 3);
    assert_int_equal(got.bidirectional, 1);
    assert_int_equal(got.nonlinearity, RNN_RELU);
    assert_int_equal(got.bias, 0);
    assert_int_equal(got.batch_first, 1);
    assert_int_equal(got.output_size, 4);
    assert_int_equal(got.head_mode, RNN_HEAD_ALL);
    assert_int_equal(got.reserved, 0);
    assert_true(got.seed == 0x123456789abcdefull);
}

/* ------------------------------------------------------------------------
 * The flat buffers
 * ---------------------------------------------------------------------- */

/* sum over layers of D*(H*I_l + H*H + 2H*bias), plus O*D*H + O. */
static size_t param_count_formula(const tu_shape *s)
{
    size_t D = s->bidirectional ? 2 : 1, H = (size_t)s->H, O = (size_t)s->O;
    size_t n = 0;
    for (int32_t l = 0; l < s->L; l++) {
        size_t in = l == 0 ? (size_t)s->I : D * H;
        n += D * (H * in + H * H + (s->bias ? 2 * H : 0));
    }
    return n + O * D * H + O;
}

static void param_count_follows_the_formula(void **state)
{
    const tu_shape *s = tu_row(state);
    rnn_t *m = create_row(s, 1);
    float *params = NULL, *grads = NULL;
    size_t n_params = 0, n_grads = 0;
    TU_OK(rnn_params(m, &params, &n_params));
    TU_OK(rnn_grads(m, &grads, &n_grads));
    rnn_destroy(m);
    assert_int_equal(n_params, param_count_formula(s));
    assert_int_equal(n_grads, n_params);
    assert_non_null(params);
    assert_non_null(grads);
    assert_true(params != grads);
}

static int info_matches(const rnn_tensor_info *info, const ref_tensor *want)
{
    if (!info->name || strcmp(info->name, want->name) != 0 ||
        info->offset != want->offset || info->count != want->count ||
        info->ndim != want->ndim || info->shape[0] != want->rows ||
        info->shape[1] != want->cols) {
        print_error("tensor %s: got name %s offset %zu count %zu ndim %d shape [%d, %d]; "
                    "want offset %zu count %zu ndim %d shape [%d, %d]\n",
                    want->name, info->name ? info->name : "(NULL)", info->offset,
                    info->count, info->ndim, info->shape[0], info->shape[1],
                    want->offset, want->count, want->ndim, want->rows, want->cols);
        return 0;
    }
    return 1;
}

/* Every tensor by index and by name: PyTorch's state_dict names, order,
 * shapes, and offsets packing the flat buffer without gaps. */
static void tensors_follow_state_dict_order(void **state)
{
    const tu_shape *s = tu_row(state);
    ref_model rm = tu_ref_model(s);
    rnn_t *m = create_row(s, 1);
    int32_t count = -1;
    TU_OK(rnn_tensor_count(m, &count));
    assert_int_equal(count, ref_tensor_count(&rm));
    int ok = 1;
    for (int32_t i = 0; i < count; i++) {
        ref_tensor want = ref_tensor_at(&rm, i);
        rnn_tensor_info by_index = { sizeof(rnn_tensor_info), NULL, 0, 0, 0, { 0, 0 } };
        rnn_tensor_info by_name = by_index;
        TU_OK(rnn_tensor_at(m, i, &by_index));
        TU_OK(rnn_tensor_find(m, want.name, &by_name));
        ok &= info_matches(&by_index, &want) && info_matches(&by_name, &want);
    }
    rnn_destroy(m);
    assert_true(ok);
}

/* The names spelled out once, so that the reference's naming is checked too. */
static void names_are_pytorch_state_dict_keys(void **state)
{
    (void)state;
    static const char *const want[] = {
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
        "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse",
        "bias_hh_l1_reverse",
        "head.weight", "head.bias",
    };
    const int32_t n = (int32_t)(sizeof want / sizeof want[0]);
    tu_shape s = { "bidirectional_two_layers_head", 3, 4, 2, 1, RNN_TANH, 1, 0, 2,
                   RNN_HEAD_LAST, 1, 1, 0, { 0 } };
    ref_model rm = tu_ref_model(&s);
    rnn_t *m = create_row(&s, 1);
    int32_t count = -1;
    TU_OK(rnn_tensor_count(m, &count));
    assert_int_equal(count, n);
    assert_int_equal(ref_tensor_count(&rm), n);
    for (int32_t i = 0; i < n; i++) {
        rnn_tensor_info info = { sizeof(rnn_tensor_info), NULL, 0, 0, 0, { 0, 0 } };
        TU_OK(rnn_tensor_at(m, i, &info));
        assert_string_equal(info.name, want[i]);
        assert_string_equal(ref_tensor_at(&rm, i).name, want[i]);
    }
    rnn_tensor_info w = { sizeof(rnn_tensor_info), NULL, 0, 0, 0, { 0, 0 } };
    TU_OK(rnn_tensor_find(m, "weight_ih_l1_reverse", &w));
    rnn_destroy(m);
    assert_int_equal(w.shape[0], 4);
    assert_int_equal(w.shape[1], 8); /* I_1 = D*H */
}

static void grads_start_at_zero(void **state)
{
    rnn_t *m = create_row(tu_row(state), 3);
    float *grads = NULL;
    size_t n = 0;
    TU_OK(rnn_grads(m, &grads, &n));
    size_t zeros = tu_count_equal(grads, n, 0.0f);
    rnn_destroy(m);
    assert_int_equal(zeros, n);
}

/* ------------------------------------------------------------------------
 * Initialisation
 * ---------------------------------------------------------------------- */

/* Every value of params[offset, offset+count) within [-bound, bound] (a
 * float rounding of the open end allowed) and the extremes near +-bound. */
static int within_bound(const char *what, const float *a, size_t n, double bound,
                        int expect_full_range)
{
    double lo = 0.0, hi = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!(fabs(a[i]) <= bound * (1.0 + 1e-6))) {
            print_error("%s[%zu] = %.9g outside +-%.9g\n", what, i, a[i], bound);
            return 0;
        }
        lo = fmin(lo, a[i]);
        hi = fmax(hi, a[i]);
    }
    if (expect_full_range && (hi < 0.8 * bound || lo > -0.8 * bound)) {
        print_error("%s: values span [%g, %g], want most of +-%g\n", what, lo, hi, bound);
        return 0;
    }
    return 1;
}

/* RNN tensors ~ U(+-1/sqrt(H)), the head ~ U(+-1/sqrt(D*H)). */
static int init_bounds_hold(rnn_t *m, const tu_shape *s)
{
    ref_model rm = tu_ref_model(s);
    float *p = NULL;
    TU_OK(rnn_params(m, &p, NULL));
    int ok = 1;
    for (int32_t i = 0; i < ref_tensor_count(&rm); i++) {
        ref_tensor t = ref_tensor_at(&rm, i);
        int head = strncmp(t.name, "head.", 5) == 0;
        double bound = 1.0 / sqrt(head ? (double)rm.D * rm.H : (double)rm.H);
        /* 64+ draws: the extremes come within 20% of the bound. */
        ok &= within_bound(t.name, p + t.offset, t.count, bound, t.count >= 64);
    }
    return ok;
}

static void init_draws_within_pytorch_bounds(void **state)
{
    const tu_shape *s = tu_row(state);
    rnn_t *m = create_row(s, 11);
    int ok = init_bounds_hold(m, s);
    rnn_destroy(m);
    assert_true(ok);
}

/* A wide bidirectional model with a head, where 1/sqrt(D*H) < 1/sqrt(H):
 * using the wrong bound for either part is caught. Mean and variance of a
 * large tensor match U(-b, b): mean 0, variance b^2/3. */
static void init_is_uniform_with_the_right_bounds(void **state)
{
    (void)state;
    tu_shape s = { "wide", 8, 64, 1, 1, RNN_TANH, 1, 0, 16, RNN_HEAD_LAST, 1, 1, 0, { 0 } };
    rnn_t *m = create_row(&s, 12);
    int ok = init_bounds_hold(m, &s);
    rnn_tensor_info w = { sizeof(rnn_tensor_info), NULL, 0, 0, 0, { 0, 0 } };
    float *p = NULL;
    TU_OK(rnn_params(m, &p, NULL));
    TU_OK(rnn_tensor_find(m, "weight_hh_l0", &w));
    double sum = 0.0, sq = 0.0, b = 1.0 / 8.0;
    for (size_t i = 0; i < w.count; i++) {
        sum += p[w.offset + i];
        sq += (double)p[w.offset + i] * p[w.offset + i];
    }
    double mean = sum / (double)w.count, var = sq / (double)w.count - mean * mean;
    rnn_destroy(m);
    assert_true(ok);
    assert_true(fabs(mean) < 0.05 * b);
    assert_true(fabs(var / (b * b / 3.0) - 1.0) < 0.1);
}

static float *params_of(rnn_t *m, size_t *n)
{
    float *p = NULL;
    TU_OK(rnn_params(m, &p, n));
    return tu_copy(p, *n);
}

static void same_seed_gives_identical_bits_and_another_seed_differs(void **state)
{
    const tu_shape *s = tu_row(state);
    rnn_t *a = create_row(s, 42), *b = create_row(s, 42), *c = create_row(s, 43);
    size_t n = 0;
    float *pa = params_of(a, &n), *pb = params_of(b, &n), *pc = params_of(c, &n);
    int same = memcmp(pa, pb, n * sizeof *pa) == 0;
    size_t equal_to_other_seed = 0;
    for (size_t i = 0; i < n; i++)
        equal_to_other_seed += pa[i] == pc[i];
    free(pa);
    free(pb);
    free(pc);
    rnn_destroy(a);
    rnn_destroy(b);
    rnn_destroy(c);
    assert_true(same);
    assert_true(equal_to_other_seed < n / 10 + 1);
}

/* rnn_init_uniform(seed) redraws exactly what rnn_create with that seed drew,
 * whatever the parameters held before. */
static void init_uniform_equals_create_with_that_seed(void **state)
{
    const tu_shape *s = tu_row(state);
    rnn_t *created = create_row(s, 77), *reinit = create_row(s, 5);
    size_t n = 0;
    float *p = NULL;
    TU_OK(rnn_params(reinit, &p, &n));
    tu_sentinel_fill(p, n);
    TU_OK(rnn_init_uniform(reinit, 77));
    float *want = params_of(created, &n);
    int same = memcmp(p, want, n * sizeof *p) == 0;
    free(want);
    rnn_destroy(created);
    rnn_destroy(reinit);
    assert_true(same);
}

/* The parameters are distinct values, not a repeated pattern per tensor. */
static void every_tensor_gets_its_own_draws(void **state)
{
    const tu_shape *s = tu_row(state);
    ref_model rm = tu_ref_model(s);
    rnn_t *m = create_row(s, 9);
    float *p = NULL;
    TU_OK(rnn_params(m, &p, NULL));
    int ok = 1;
    for (int32_t i = 0; i + 1 < ref_tensor_count(&rm); i++) {
        ref_tensor a = ref_tensor_at(&rm, i), b = ref_tensor_at(&rm, i + 1);
        size_t n = a.count < b.count ? a.count : b.count;
        if (memcmp(p + a.offset, p + b.offset, n * sizeof *p) == 0) {
            print_error("%s and %s start with the same values\n", a.name, b.name);
            ok = 0;
        }
    }
    rnn_destroy(m);
    assert_true(ok);
}

int main(void)
{
    static const struct CMUnitTest plain[] = {
        cmocka_unit_test(config_default_has_pytorch_defaults),
        cmocka_unit_test(get_config_returns_the_config_given_to_create),
        cmocka_unit_test(names_are_pytorch_state_dict_keys),
        cmocka_unit_test(init_is_uniform_with_the_right_bounds),
    };
    static const tu_table_test table[] = {
        TU_TABLE_TEST(param_count_follows_the_formula, NULL),
        TU_TABLE_TEST(tensors_follow_state_dict_order, NULL),
        TU_TABLE_TEST(grads_start_at_zero, NULL),
        TU_TABLE_TEST(init_draws_within_pytorch_bounds, NULL),
        TU_TABLE_TEST(same_seed_gives_identical_bits_and_another_seed_differs, NULL),
        TU_TABLE_TEST(init_uniform_equals_create_with_that_seed, NULL),
        TU_TABLE_TEST(every_tensor_gets_its_own_draws, NULL),
    };
    return tu_run("test_model", plain, sizeof plain / sizeof plain[0], table,
                  sizeof table / sizeof table[0]);
}
