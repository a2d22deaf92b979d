/* SPDX-License-Identifier: MIT
 *
 * test_init.c - rnn_init (uniform, Xavier uniform, orthogonal) and
 * rnn_spectral_radius.
 *
 * Distributions are checked by properties that hold for every seed with
 * overwhelming probability (bounds, a spread reaching the bounds, the
 * variance bound^2/3 of a uniform law within several standard errors,
 * orthogonality to float rounding) and, for the orthogonal scheme's sign
 * correction, by a statistic over many seeds whose threshold sits five
 * standard deviations away from the unbiased value. The spectral radius is
 * checked on matrices set by hand whose eigenvalues are known.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

typedef struct model_shape {
    int32_t I, H, L, bidirectional, O;
} model_shape;

static rnn_t *make_model(model_shape s, uint64_t seed)
{
    rnn_config cfg = rnn_config_default(s.I, s.H);
    cfg.num_layers = s.L;
    cfg.bidirectional = s.bidirectional;
    cfg.output_size = s.O;
    cfg.seed = seed;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    return model;
}

static float *params_of(rnn_t *model, size_t *n)
{
    float *params = NULL;
    TU_OK(rnn_params(model, &params, n));
    return params;
}

static rnn_tensor_info tensor_at(const rnn_t *model, int32_t index)
{
    rnn_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    TU_OK(rnn_tensor_at(model, index, &info));
    return info;
}

static rnn_tensor_info tensor_named(const rnn_t *model, const char *name)
{
    rnn_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    TU_OK(rnn_tensor_find(model, name, &info));
    return info;
}

static int32_t tensor_count(const rnn_t *model)
{
    int32_t count = 0;
    TU_OK(rnn_tensor_count(model, &count));
    return count;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Values drawn from U(-bound, bound): none outside (float rounding aside),
 * the largest |v| near the bound, and, for large enough tensors, a sample
 * variance within 6 standard errors of bound^2 / 3. */
static int uniform_within(const char *name, const float *v, size_t n, double bound)
{
    double largest = 0.0, squares = 0.0;
    for (size_t i = 0; i < n; i++) {
        largest = fmax(largest, fabs(v[i]));
        squares += (double)v[i] * v[i];
    }
    int ok = 1;
    if (largest > bound * (1.0 + 1e-6)) {
        print_error("%s: |value| %.7g above the bound %.7g\n", name, largest, bound);
        ok = 0;
    }
    /* P(max < (1 - 20/n) bound) = (1 - 20/n)^n < e^-20: a bound too small
     * by more than 20/n shows (2.6% for 768 values). */
    if (n >= 100 && largest < (1.0 - 20.0 / (double)n) * bound) {
        print_error("%s: largest |value| %.7g, far below the bound %.7g\n", name, largest,
                    bound);
        ok = 0;
    }
    /* Var(v^2) / E(v^2)^2 = 4/5 for a uniform law. */
    const double want = bound * bound / 3.0, rel_se = sqrt(0.8 / (double)n);
    if (n >= 300 && fabs(squares / (double)n / want - 1.0) > 6.0 * rel_se) {
        print_error("%s: mean square %.7g, want %.7g for U(+-%.5g)\n", name,
                    squares / (double)n, want, bound);
        ok = 0;
    }
    return ok;
}

static int all_zero(const char *name, const float *v, size_t n)
{
    if (tu_count_equal(v, n, 0.0f) == n)
        return 1;
    print_error("%s: not all zero\n", name);
    return 0;
}

/* Checks every tensor of a model initialised by `scheme`. The head is
 * always PyTorch's Linear default U(+-1/sqrt(D*H)). Uniform: every RNN
 * tensor U(+-1/sqrt(H)). Xavier and orthogonal: weights U(+-sqrt(6 /
 * (fan_in + fan_out))) (W_hh skipped for the orthogonal scheme), biases 0. */
static int tensors_follow_scheme(rnn_t *model, model_shape s, int32_t scheme)
{
    size_t n = 0;
    const float *params = params_of(model, &n);
    const int32_t D = s.bidirectional ? 2 : 1;
    int ok = 1;
    for (int32_t i = 0; i < tensor_count(model); i++) {
        rnn_tensor_info t = tensor_at(model, i);
        const float *v = params + t.offset;
        if (starts_with(t.name, "head."))
            ok &= uniform_within(t.name, v, t.count, 1.0 / sqrt((double)D * s.H));
        else if (scheme == RNN_INIT_UNIFORM)
            ok &= uniform_within(t.name, v, t.count, 1.0 / sqrt((double)s.H));
        else if (starts_with(t.name, "bias_"))
            ok &= all_zero(t.name, v, t.count);
        else if (scheme == RNN_INIT_XAVIER_UNIFORM || starts_with(t.name, "weight_ih"))
            ok &= uniform_within(t.name, v, t.count,
                                 sqrt(6.0 / ((double)t.shape[0] + t.shape[1])));
    }
    return ok;
}

/* max |W^T W - I| and max |W W^T - I|, in double. */
static double orthogonality_error(const float *w, int32_t h)
{
    double worst = 0.0;
    for (int32_t i = 0; i < h; i++) {
        for (int32_t j = 0; j < h; j++) {
            double wtw = 0.0, wwt = 0.0;
            for (int32_t k = 0; k < h; k++) {
                wtw += (double)w[k * h + i] * w[k * h + j];
                wwt += (double)w[i * h + k] * w[j * h + k];
            }
            double id = i == j ? 1.0 : 0.0;
            worst = fmax(worst, fmax(fabs(wtw - id), fabs(wwt - id)));
        }
    }
    return worst;
}

/* The names of the W_hh of every cell, indexed layer*D + direction. */
static void w_hh_name(char *buf, size_t size, int32_t cell, int32_t D)
{
    snprintf(buf, size, "weight_hh_l%d%s", (int)(cell / D),
             cell % D ? "_reverse" : "");
}

/* ------------------------------------------------------------------------
 * Xavier uniform
 * ---------------------------------------------------------------------- */

/* I != H and a second bidirectional layer (I_1 = 2H): three different fans. */
static const model_shape WIDE = { 24, 32, 2, 1, 5 };

static void xavier_uniform_bounds_each_weight_by_its_fans_and_zeroes_biases(void **state)
{
    (void)state;
    rnn_t *model = make_model(WIDE, 1);
    TU_OK(rnn_init(model, RNN_INIT_XAVIER_UNIFORM, 7));
    int ok = tensors_follow_scheme(model, WIDE, RNN_INIT_XAVIER_UNIFORM);
    rnn_destroy(model);
    assert_true(ok);
}

static void init_leaves_gradients_untouched(void **state)
{
    (void)state;
    static const model_shape s = { 3, 5, 1, 0, 2 };
    rnn_t *model = make_model(s, 2);
    float *grads = NULL;
    size_t n = 0;
    TU_OK(rnn_grads(model, &grads, &n));
    tu_rng rng = tu_rng_make(3);
    tu_fill(&rng, grads, n, -1.0, 1.0);
    float *before = tu_copy(grads, n);
    for (int32_t scheme = RNN_INIT_UNIFORM; scheme <= RNN_INIT_ORTHOGONAL; scheme++) {
        TU_OK(rnn_init(model, scheme, 4));
        assert_memory_equal(before, grads, n * sizeof *grads);
    }
    free(before);
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * Orthogonal
 * ---------------------------------------------------------------------- */

static void orthogonal_init_gives_orthogonal_w_hh(model_shape s)
{
    rnn_t *model = make_model(s, 5);
    TU_OK(rnn_init(model, RNN_INIT_ORTHOGONAL, 6));
    size_t n = 0;
    const float *params = params_of(model, &n);
    const int32_t D = s.bidirectional ? 2 : 1;
    for (int32_t cell = 0; cell < s.L * D; cell++) {
        char name[32];
        w_hh_name(name, sizeof name, cell, D);
        rnn_tensor_info t = tensor_named(model, name);
        double err = orthogonality_error(params + t.offset, s.H);
        if (!(err <= 1e-5))
            fail_msg("H=%d %s: max |W^T W - I|, |W W^T - I| = %.3g > 1e-5", s.H, name, err);
    }
    assert_true(tensors_follow_scheme(model, s, RNN_INIT_ORTHOGONAL));
    rnn_destroy(model);
}

static void orthogonal_w_hh_is_orthogonal_for_hidden_1(void **state)
{
    (void)state;
    orthogonal_init_gives_orthogonal_w_hh((model_shape){ 3, 1, 1, 0, 0 });
}

static void orthogonal_w_hh_is_orthogonal_for_hidden_7_every_layer_and_direction(void **state)
{
    (void)state;
    orthogonal_init_gives_orthogonal_w_hh((model_shape){ 3, 7, 2, 1, 2 });
}

static void orthogonal_w_hh_is_orthogonal_for_hidden_64(void **state)
{
    (void)state;
    orthogonal_init_gives_orthogonal_w_hh((model_shape){ 5, 64, 1, 0, 3 });
}

static void orthogonal_w_hh_has_spectral_radius_one(void **state)
{
    (void)state;
    static const model_shape shapes[] = { { 3, 7, 2, 1, 0 }, { 5, 64, 1, 0, 0 } };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const model_shape s = shapes[k];
        rnn_t *model = make_model(s, 8);
        TU_OK(rnn_init(model, RNN_INIT_ORTHOGONAL, 9));
        float radius[4];
        TU_OK(rnn_spectral_radius(model, radius));
        for (int32_t cell = 0; cell < s.L * (s.bidirectional ? 2 : 1); cell++)
            if (!(fabs(radius[cell] - 1.0) <= 1e-4))
                fail_msg("H=%d cell %d: spectral radius %.7g, want 1", s.H, cell,
                         radius[cell]);
        rnn_destroy(model);
    }
}

enum { SIGN_SEEDS = 200 };

/* Haar-distributed W in O(2): each diagonal entry has mean 0 and variance
 * 1/2, and half of the matrices are reflections (det -1). Without the
 * sign correction, LAPACK's Householder QR gives Q_00 = -|a_00| / |a_0| < 0
 * (mean -2/pi) and det Q = -1 always. Over 200 seeds the standard error of
 * a diagonal mean is 0.05 and of the fraction of reflections 0.035: the
 * thresholds below are 5 of them away. */
static void orthogonal_sign_correction_leaves_no_bias_on_the_diagonal(void **state)
{
    (void)state;
    static const model_shape s = { 1, 2, 1, 0, 0 };
    rnn_t *model = make_model(s, 0);
    size_t n = 0;
    const float *params = params_of(model, &n);
    const float *w = params + tensor_named(model, "weight_hh_l0").offset;
    double diag_sum[2] = { 0.0, 0.0 };
    int reflections = 0;
    for (uint64_t seed = 0; seed < SIGN_SEEDS; seed++) {
        TU_OK(rnn_init(model, RNN_INIT_ORTHOGONAL, seed));
        diag_sum[0] += w[0];
        diag_sum[1] += w[3];
        reflections += (double)w[0] * w[3] - (double)w[1] * w[2] < 0.0;
    }
    rnn_destroy(model);
    for (int i = 0; i < 2; i++)
        if (!(fabs(diag_sum[i] / SIGN_SEEDS) < 0.25))
            fail_msg("mean of W_hh[%d][%d] over %d seeds is %.4f, want about 0", i, i,
                     SIGN_SEEDS, diag_sum[i] / SIGN_SEEDS);
    double fraction = (double)reflections / SIGN_SEEDS;
    if (!(fraction > 0.32 && fraction < 0.68))
        fail_msg("%.3f of the matrices are reflections, want about 1/2", fraction);
}

/* O(1) = {1, -1}, each with probability 1/2 (standard error 0.035). */
static void orthogonal_1x1_w_hh_is_plus_or_minus_one_with_equal_odds(void **state)
{
    (void)state;
    static const model_shape s = { 2, 1, 1, 0, 0 };
    rnn_t *model = make_model(s, 0);
    size_t n = 0;
    const float *params = params_of(model, &n);
    const float *w = params + tensor_named(model, "weight_hh_l0").offset;
    int negative = 0;
    for (uint64_t seed = 0; seed < SIGN_SEEDS; seed++) {
        TU_OK(rnn_init(model, RNN_INIT_ORTHOGONAL, seed));
        assert_true(fabsf(*w) == 1.0f);
        negative += *w < 0.0f;
    }
    rnn_destroy(model);
    double fraction = (double)negative / SIGN_SEEDS;
    if (!(fraction > 0.32 && fraction < 0.68))
        fail_msg("W_hh = -1 for %.3f of the seeds, want about 1/2", fraction);
}

/* ------------------------------------------------------------------------
 * Seeds
 * ---------------------------------------------------------------------- */

static const char *scheme_name(int32_t scheme)
{
    static const char *names[] = { "uniform", "xavier_uniform", "orthogonal" };
    return names[scheme];
}

/* Two models created from different seeds, re-initialised with one seed:
 * the same bits. Another seed: every weight tensor differs almost
 * everywhere. */
static void same_seed_gives_identical_bits_and_another_seed_differs(void **state)
{
    (void)state;
    static const model_shape s = { 3, 6, 2, 1, 2 };
    for (int32_t scheme = RNN_INIT_UNIFORM; scheme <= RNN_INIT_ORTHOGONAL; scheme++) {
        rnn_t *a = make_model(s, 10), *b = make_model(s, 11);
        size_t n = 0;
        float *pa = params_of(a, &n), *pb = params_of(b, &n);
        TU_OK(rnn_init(a, scheme, 42));
        TU_OK(rnn_init(b, scheme, 42));
        if (memcmp(pa, pb, n * sizeof *pa) != 0)
            fail_msg("%s: seed 42 twice gave different parameters", scheme_name(scheme));
        TU_OK(rnn_init(b, scheme, 42)); /* again on the same model */
        if (memcmp(pa, pb, n * sizeof *pa) != 0)
            fail_msg("%s: re-initialising with seed 42 changed the parameters",
                     scheme_name(scheme));
        TU_OK(rnn_init(b, scheme, 43));
        for (int32_t i = 0; i < tensor_count(a); i++) {
            rnn_tensor_info t = tensor_at(a, i);
            if (!starts_with(t.name, "weight_") && !starts_with(t.name, "head."))
                continue;
            size_t same = 0;
            for (size_t k = 0; k < t.count; k++)
                same += pa[t.offset + k] == pb[t.offset + k];
            if (same > t.count / 10)
                fail_msg("%s: %s has %zu of %zu values equal under seeds 42 and 43",
                         scheme_name(scheme), t.name, same, t.count);
        }
        rnn_destroy(a);
        rnn_destroy(b);
    }
}

/* RNN_INIT_UNIFORM = rnn_init_uniform = what rnn_create does with cfg.seed,
 * PyTorch's U(+-1/sqrt(H)) for the RNN and U(+-1/sqrt(D*H)) for the head. */
static void uniform_scheme_equals_init_uniform_and_create(void **state)
{
    (void)state;
    rnn_t *created = make_model(WIDE, 77), *a = make_model(WIDE, 1), *b = make_model(WIDE, 2);
    size_t n = 0;
    float *pc = params_of(created, &n), *pa = params_of(a, &n), *pb = params_of(b, &n);
    TU_OK(rnn_init(a, RNN_INIT_UNIFORM, 77));
    TU_OK(rnn_init_uniform(b, 77));
    assert_memory_equal(pc, pa, n * sizeof *pa);
    assert_memory_equal(pc, pb, n * sizeof *pb);
    assert_true(tensors_follow_scheme(a, WIDE, RNN_INIT_UNIFORM));
    rnn_destroy(created);
    rnn_destroy(a);
    rnn_destroy(b);
}

static void init_rejects_unknown_scheme_and_leaves_params_unchanged(void **state)
{
    (void)state;
    static const model_shape s = { 3, 4, 1, 0, 1 };
    rnn_t *model = make_model(s, 12);
    size_t n = 0;
    float *params = params_of(model, &n);
    float *before = tu_copy(params, n);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init", rnn_init(model, 3, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init", rnn_init(model, -1, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init", rnn_init(model, 1000, 1));
    assert_memory_equal(before, params, n * sizeof *params);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init", rnn_init(NULL, RNN_INIT_ORTHOGONAL, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_init_uniform", rnn_init_uniform(NULL, 1));
    free(before);
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * Spectral radius
 * ---------------------------------------------------------------------- */

/* Writes w[h*h] into the model's W_hh called `name`. */
static void set_w_hh(rnn_t *model, const char *name, const float *w, int32_t h)
{
    size_t n = 0;
    float *params = params_of(model, &n);
    rnn_tensor_info t = tensor_named(model, name);
    assert_int_equal(t.count, (size_t)h * h);
    memcpy(params + t.offset, w, t.count * sizeof *w);
}

static float radius_of(const float *w, int32_t h)
{
    rnn_t *model = make_model((model_shape){ 2, h, 1, 0, 0 }, 13);
    set_w_hh(model, "weight_hh_l0", w, h);
    float radius = -1.0f;
    TU_OK(rnn_spectral_radius(model, &radius));
    rnn_destroy(model);
    return radius;
}

static void spectral_radius_of_hand_set_matrices(void **state)
{
    (void)state;
    const float c = (float)cos(0.7), s = (float)sin(0.7);
    /* 0.5 R(0.7): eigenvalues 0.5 e^{+-0.7i}, a complex pair. */
    const float rotation[4] = { 0.5f * c, -0.5f * s, 0.5f * s, 0.5f * c };
    /* 2 R(pi/2): eigenvalues +-2i, real parts zero. */
    const float quarter_turn[4] = { 0.0f, 2.0f, -2.0f, 0.0f };
    const float diagonal[9] = { 0.3f, 0, 0, 0, -1.7f, 0, 0, 0, 0.9f };
    /* Non-normal: its largest singular value is about 10, its eigenvalues
     * 0.5 and -0.2. */
    const float triangular[4] = { 0.5f, 10.0f, 0.0f, -0.2f };
    const float zero[9] = { 0 };
    assert_float_equal(radius_of(rotation, 2), 0.5f, 1e-5f);
    assert_float_equal(radius_of(quarter_turn, 2), 2.0f, 2e-5f);
    assert_float_equal(radius_of(diagonal, 3), 1.7f, 2e-5f);
    assert_float_equal(radius_of(triangular, 2), 0.5f, 1e-5f);
    assert_float_equal(radius_of(zero, 3), 0.0f, 1e-7f);
}

/* One entry per (layer, direction), indexed layer*D + direction, and
 * nothing written past the L*D entries. */
static void spectral_radius_has_one_entry_per_layer_and_direction(void **state)
{
    (void)state;
    static const model_shape s = { 2, 3, 2, 1, 0 };
    rnn_t *model = make_model(s, 14);
    for (int32_t cell = 0; cell < 4; cell++) {
        /* diag(r, -r/2, r/4) with r = 0.1 (cell + 1). */
        float r = 0.1f * (float)(cell + 1), w[9] = { 0 };
        w[0] = r;
        w[4] = -0.5f * r;
        w[8] = 0.25f * r;
        char name[32];
        w_hh_name(name, sizeof name, cell, 2);
        set_w_hh(model, name, w, 3);
    }
    float radius[5];
    tu_sentinel_fill(radius, 5);
    TU_OK(rnn_spectral_radius(model, radius));
    for (int32_t cell = 0; cell < 4; cell++)
        assert_float_equal(radius[cell], 0.1f * (float)(cell + 1), 1e-6f);
    assert_true(tu_sentinel_intact("radius[4]", radius + 4, 1));
    rnn_destroy(model);
}

static void spectral_radius_rejects_nonfinite_w_hh(void **state)
{
    (void)state;
    static const model_shape s = { 2, 3, 2, 1, 0 };
    rnn_t *model = make_model(s, 15);
    size_t n = 0;
    float *params = params_of(model, &n);
    float radius[4];
    const size_t first = tensor_named(model, "weight_hh_l0").offset + 4;
    const size_t last = tensor_named(model, "weight_hh_l1_reverse").offset + 8;
    params[first] = NAN;
    TU_FAILS(RNN_E_NONFINITE, "rnn_spectral_radius", rnn_spectral_radius(model, radius));
    params[first] = 0.5f;
    params[last] = INFINITY;
    TU_FAILS(RNN_E_NONFINITE, "rnn_spectral_radius", rnn_spectral_radius(model, radius));
    params[last] = 0.5f;
    TU_OK(rnn_spectral_radius(model, radius));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_spectral_radius", rnn_spectral_radius(model, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_spectral_radius", rnn_spectral_radius(NULL, radius));
    rnn_destroy(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xavier_uniform_bounds_each_weight_by_its_fans_and_zeroes_biases),
        cmocka_unit_test(init_leaves_gradients_untouched),
        cmocka_unit_test(orthogonal_w_hh_is_orthogonal_for_hidden_1),
        cmocka_unit_test(orthogonal_w_hh_is_orthogonal_for_hidden_7_every_layer_and_direction),
        cmocka_unit_test(orthogonal_w_hh_is_orthogonal_for_hidden_64),
        cmocka_unit_test(orthogonal_w_hh_has_spectral_radius_one),
        cmocka_unit_test(orthogonal_sign_correction_leaves_no_bias_on_the_diagonal),
        cmocka_unit_test(orthogonal_1x1_w_hh_is_plus_or_minus_one_with_equal_odds),
        cmocka_unit_test(same_seed_gives_identical_bits_and_another_seed_differs),
        cmocka_unit_test(uniform_scheme_equals_init_uniform_and_create),
        cmocka_unit_test(init_rejects_unknown_scheme_and_leaves_params_unchanged),
        cmocka_unit_test(spectral_radius_of_hand_set_matrices),
        cmocka_unit_test(spectral_radius_has_one_entry_per_layer_and_direction),
        cmocka_unit_test(spectral_radius_rejects_nonfinite_w_hh),
    };
    return cmocka_run_group_tests_name("test_init", tests, NULL, NULL);
}
