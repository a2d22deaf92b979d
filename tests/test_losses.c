/* SPDX-License-Identifier: MIT
 *
 * test_losses.c - rnn_loss_bce_with_logits, rnn_loss_cross_entropy and
 * rnn_loss_mse.
 *
 * The oracles are the losses written out in double in this file
 * (torch.nn.BCEWithLogitsLoss in its stable form, torch.nn.CrossEntropyLoss
 * as a log-softmax by log-sum-exp, and the mean squared error); librnn's
 * gradients are checked against the closed form (BCE: sigmoid(z) - y) or
 * against central differences of those formulas. Then each loss is chained through a model
 * with a head (RNN_HEAD_LAST and RNN_HEAD_ALL): the gradient of librnn's
 * head_backward + backward against central differences of the loss, both
 * through the double reference model (tests/reference.h) and through
 * librnn's own float forward.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loss values and gradients of unit scale, float against double. */
static const double LOSS_TOL = 1e-6;

enum { IGNORE = -100 }; /* torch's default ignore_index */

/* ------------------------------------------------------------------------
 * The oracles, in double
 * ---------------------------------------------------------------------- */

/* torch.nn.BCEWithLogitsLoss of one logit, written so that it never
 * overflows, and its derivative's sigmoid. */
static double bce_ref(double z, double y)
{
    return fmax(z, 0.0) - z * y + log1p(exp(-fabs(z)));
}

static double sigmoid(double z)
{
    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

/* torch.nn.CrossEntropyLoss: -log_softmax(row)[target], the log-softmax
 * shifted by the row maximum; rows whose target is ignore_index count for
 * nothing, and the mean divides by the rows that count (0 when none). */
static double ce_ref(int32_t n, int32_t classes, const double *logits,
                     const int32_t *targets, int32_t ignore_index, int32_t reduction)
{
    double total = 0.0;
    int32_t counted = 0;
    for (int32_t i = 0; i < n; i++) {
        if (targets[i] == ignore_index)
            continue;
        const double *row = logits + (size_t)i * classes;
        double top = row[0];
        for (int32_t c = 1; c < classes; c++)
            top = fmax(top, row[c]);
        double sum = 0.0;
        for (int32_t c = 0; c < classes; c++)
            sum += exp(row[c] - top);
        total += top + log(sum) - row[targets[i]];
        counted++;
    }
    if (reduction == RNN_REDUCTION_SUM)
        return total;
    return counted ? total / counted : 0.0;
}

static double mse_ref(int32_t n, const double *pred, const double *target,
                      int32_t reduction)
{
    double total = 0.0;
    for (int32_t i = 0; i < n; i++)
        total += (pred[i] - target[i]) * (pred[i] - target[i]);
    return reduction == RNN_REDUCTION_SUM ? total : total / n;
}

/* A loss of the logits alone, for finite differences. */
typedef struct loss_spec {
    int32_t kind;         /* LOSS_CE or LOSS_MSE */
    int32_t classes;      /* CE: row width */
    const int32_t *labels;/* CE: one per row */
    const double *target; /* MSE: one per logit */
    int32_t reduction;
} loss_spec;

enum { LOSS_CE, LOSS_MSE };

static double loss_ref(const loss_spec *l, size_t n_logits, const double *logits)
{
    if (l->kind == LOSS_CE)
        return ce_ref((int32_t)(n_logits / (size_t)l->classes), l->classes, logits,
                      l->labels, IGNORE, l->reduction);
    return mse_ref((int32_t)n_logits, logits, l->target, l->reduction);
}

/* Central differences of loss_ref w.r.t. every logit, in double. */
static double *loss_ref_fd(const loss_spec *l, size_t n, const float *logits)
{
    const double eps = 1e-5;
    double *z = tu_to_double(logits, n);
    double *fd = calloc(n, sizeof *fd);
    assert_non_null(fd);
    for (size_t i = 0; i < n; i++) {
        double saved = z[i];
        z[i] = saved + eps;
        double plus = loss_ref(l, n, z);
        z[i] = saved - eps;
        double minus = loss_ref(l, n, z);
        z[i] = saved;
        fd[i] = (plus - minus) / (2.0 * eps);
    }
    free(z);
    return fd;
}

/* softmax(row) - one_hot(target) for one row, in double. */
static void softmax_minus_one_hot(int32_t classes, const double *row, int32_t target,
                                  double *grad)
{
    double top = row[0];
    for (int32_t c = 1; c < classes; c++)
        top = fmax(top, row[c]);
    double sum = 0.0;
    for (int32_t c = 0; c < classes; c++)
        sum += exp(row[c] - top);
    for (int32_t c = 0; c < classes; c++)
        grad[c] = exp(row[c] - top) / sum - (c == target ? 1.0 : 0.0);
}

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

static void random_labels(tu_rng *rng, int32_t *labels, int32_t n, int32_t classes)
{
    for (int32_t i = 0; i < n; i++)
        labels[i] = (int32_t)tu_uniform(rng, 0.0, (double)classes) % classes;
}

static int loss_close(const char *what, float got, double want)
{
    return tu_close(what, &got, &want, 1, LOSS_TOL);
}

/* rnn_loss_cross_entropy against ce_ref (value) and central differences of
 * ce_ref (gradient). */
static int cross_entropy_matches(int32_t n, int32_t classes, const float *logits,
                                 const int32_t *labels, int32_t reduction)
{
    const size_t nz = (size_t)n * classes;
    float loss = TU_SENTINEL;
    float *grad = tu_floats(nz);
    tu_sentinel_fill(grad, nz);
    TU_OK(rnn_loss_cross_entropy(n, classes, logits, labels, IGNORE, reduction, &loss,
                                 grad));
    double *z = tu_to_double(logits, nz);
    int ok = loss_close("cross-entropy", loss,
                        ce_ref(n, classes, z, labels, IGNORE, reduction));
    loss_spec spec = { LOSS_CE, classes, labels, NULL, reduction };
    double *fd = loss_ref_fd(&spec, nz, logits);
    ok &= tu_close("d cross-entropy / d logits", grad, fd, nz, LOSS_TOL);
    free(fd);
    free(z);
    free(grad);
    return ok;
}

/* ------------------------------------------------------------------------
 * Binary cross-entropy on logits
 * ---------------------------------------------------------------------- */

/* loss and dlogits of one reduction from per-element values. */
static double reduce(int32_t reduction, double sum, int32_t n)
{
    return reduction == RNN_REDUCTION_MEAN ? sum / n : sum;
}

/* Checks rnn_loss_bce_with_logits on n logits/targets against the formula. */
static int bce_matches(int32_t n, const float *z, const float *y, int32_t reduction)
{
    float loss = TU_SENTINEL, *dz = tu_floats((size_t)n), loss_no_grad = TU_SENTINEL;
    double *want_dz = calloc((size_t)n, sizeof *want_dz), sum = 0.0;
    assert_non_null(want_dz);
    for (int32_t i = 0; i < n; i++) {
        sum += bce_ref(z[i], y[i]);
        want_dz[i] = reduce(reduction, sigmoid(z[i]) - y[i], n);
    }
    double want = reduce(reduction, sum, n);
    TU_OK(rnn_loss_bce_with_logits(n, z, y, reduction, &loss, dz));
    TU_OK(rnn_loss_bce_with_logits(n, z, y, reduction, &loss_no_grad, NULL));
    int ok = tu_close("bce loss", &loss, &want, 1, LOSS_TOL);
    ok &= tu_close("bce loss (dlogits NULL)", &loss_no_grad, &want, 1, LOSS_TOL);
    ok &= tu_close("bce dlogits", dz, want_dz, (size_t)n, LOSS_TOL);
    free(dz);
    free(want_dz);
    return ok;
}

static void bce_matches_formula_for_mean_and_sum(void **state)
{
    (void)state;
    enum { N = 37 };
    float z[N], y[N];
    tu_rng rng = tu_rng_make(1);
    tu_fill(&rng, z, N, -6.0, 6.0);
    for (int i = 0; i < N; i++) /* 0, 1 and soft targets */
        y[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : (float)tu_uniform(&rng, 0.0, 1.0);
    assert_true(bce_matches(N, z, y, RNN_REDUCTION_MEAN));
    assert_true(bce_matches(N, z, y, RNN_REDUCTION_SUM));
}

/* max(z,0) - z*y + log1p(exp(-|z|)) never overflows: loss and gradient
 * stay finite and exact at +-100 and +-1e4. */
static void bce_is_stable_at_extreme_logits(void **state)
{
    (void)state;
    static const float z[] = { 100.0f, -100.0f, 1e4f, -1e4f, 100.0f, -100.0f,
                               1e4f, -1e4f, 1e4f, -1e4f };
    static const float y[] = { 0.0f, 0.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f, 1.0f,
                               0.5f, 0.5f };
    const int32_t n = (int32_t)(sizeof z / sizeof z[0]);
    float loss, dz[sizeof z / sizeof z[0]];
    TU_OK(rnn_loss_bce_with_logits(n, z, y, RNN_REDUCTION_SUM, &loss, dz));
    assert_true(isfinite(loss));
    for (int32_t i = 0; i < n; i++)
        assert_true(isfinite(dz[i]));
    assert_true(bce_matches(n, z, y, RNN_REDUCTION_SUM));
    assert_true(bce_matches(n, z, y, RNN_REDUCTION_MEAN));
}

static void bce_rejects_targets_outside_zero_one(void **state)
{
    (void)state;
    const float bad[] = { -0.01f, 1.01f, NAN, -INFINITY };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        float z[3] = { 0.5f, -0.5f, 1.0f }, y[3] = { 0.0f, 1.0f, 0.5f };
        float loss = TU_SENTINEL, dz[3];
        tu_sentinel_fill(dz, 3);
        y[1] = bad[i];
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_loss_bce_with_logits",
                 rnn_loss_bce_with_logits(3, z, y, RNN_REDUCTION_MEAN, &loss, dz));
        assert_true(tu_sentinel_intact("loss", &loss, 1));
        assert_true(tu_sentinel_intact("dlogits", dz, 3));
    }
}

/* ------------------------------------------------------------------------
 * Cross-entropy
 * ---------------------------------------------------------------------- */

static void cross_entropy_matches_log_softmax_with_mean_and_sum(void **state)
{
    (void)state;
    enum { N = 6, C = 5 };
    tu_rng rng = tu_rng_make(1);
    float logits[N * C];
    int32_t labels[N];
    tu_fill(&rng, logits, N * C, -3.0, 3.0);
    random_labels(&rng, labels, N, C);
    assert_true(cross_entropy_matches(N, C, logits, labels, RNN_REDUCTION_MEAN));
    assert_true(cross_entropy_matches(N, C, logits, labels, RNN_REDUCTION_SUM));
}

/* A single class: the loss is 0 and so is the gradient. */
static void cross_entropy_with_one_class_is_zero(void **state)
{
    (void)state;
    float logits[3] = { 2.0f, -7.0f, 0.5f }, grad[3], loss = TU_SENTINEL;
    int32_t labels[3] = { 0, 0, 0 };
    TU_OK(rnn_loss_cross_entropy(3, 1, logits, labels, IGNORE, RNN_REDUCTION_MEAN, &loss,
                                 grad));
    assert_true(loss == 0.0f);
    assert_int_equal(tu_count_equal(grad, 3, 0.0f), 3);
}

/* Ignored rows: zero gradient, and the mean divides by the other rows. */
static void cross_entropy_ignores_rows_with_ignore_index(void **state)
{
    (void)state;
    enum { N = 6, C = 4 };
    tu_rng rng = tu_rng_make(2);
    float logits[N * C];
    int32_t labels[N] = { 1, IGNORE, 3, 0, IGNORE, 2 };
    tu_fill(&rng, logits, N * C, -2.0, 2.0);
    for (int32_t red = RNN_REDUCTION_MEAN; red <= RNN_REDUCTION_SUM; red++) {
        float loss = TU_SENTINEL, grad[N * C];
        TU_OK(rnn_loss_cross_entropy(N, C, logits, labels, IGNORE, red, &loss, grad));
        /* The same loss from the 4 kept rows alone. */
        double kept[4 * C];
        int32_t kept_labels[4], k = 0;
        for (int32_t i = 0; i < N; i++) {
            if (labels[i] == IGNORE) {
                assert_int_equal(tu_count_equal(grad + i * C, C, 0.0f), C);
                continue;
            }
            for (int32_t c = 0; c < C; c++)
                kept[k * C + c] = logits[i * C + c];
            kept_labels[k++] = labels[i];
        }
        assert_true(loss_close("loss of kept rows", loss,
                               ce_ref(4, C, kept, kept_labels, IGNORE, red)));
        assert_true(cross_entropy_matches(N, C, logits, labels, red));
    }
}

/* ignore_index may be a valid class (torch allows it): rows of that class
 * are then the ignored ones. */
static void cross_entropy_ignore_index_may_be_a_valid_class(void **state)
{
    (void)state;
    enum { N = 4, C = 3 };
    tu_rng rng = tu_rng_make(3);
    float logits[N * C], loss = TU_SENTINEL, grad[N * C];
    int32_t labels[N] = { 2, 0, 2, 1 };
    tu_fill(&rng, logits, N * C, -2.0, 2.0);
    TU_OK(rnn_loss_cross_entropy(N, C, logits, labels, 2, RNN_REDUCTION_MEAN, &loss, grad));
    double z[N * C];
    for (int32_t i = 0; i < N * C; i++)
        z[i] = logits[i];
    assert_true(loss_close("loss", loss, ce_ref(N, C, z, labels, 2, RNN_REDUCTION_MEAN)));
    assert_int_equal(tu_count_equal(grad, C, 0.0f), C);
    assert_int_equal(tu_count_equal(grad + 2 * C, C, 0.0f), C);
    assert_true(tu_count_equal(grad + C, C, 0.0f) == 0);
}

static void cross_entropy_with_every_row_ignored_is_zero(void **state)
{
    (void)state;
    enum { N = 3, C = 4 };
    float logits[N * C], grad[N * C];
    int32_t labels[N] = { IGNORE, IGNORE, IGNORE };
    tu_rng rng = tu_rng_make(4);
    tu_fill(&rng, logits, N * C, -2.0, 2.0);
    for (int32_t red = RNN_REDUCTION_MEAN; red <= RNN_REDUCTION_SUM; red++) {
        float loss = TU_SENTINEL;
        tu_sentinel_fill(grad, N * C);
        TU_OK(rnn_loss_cross_entropy(N, C, logits, labels, IGNORE, red, &loss, grad));
        assert_true(loss == 0.0f);
        assert_int_equal(tu_count_equal(grad, N * C, 0.0f), N * C);
    }
}

/* Logits of +-1e4 overflow exp() in float and double alike unless shifted.
 * Each row is checked against closed forms: [1e4, -1e4, 0] gives 0 for
 * class 0 and 2e4 for class 1; a row of equal logits gives log(C); a row
 * shifted by 1e4 (exactly representable values) gives the loss of the
 * unshifted row. */
static void cross_entropy_is_finite_and_exact_at_logits_of_1e4(void **state)
{
    (void)state;
    enum { C = 4 };
    static const float rows[][C] = {
        { 1e4f, -1e4f, 0.0f, -1e4f },
        { 1e4f, -1e4f, 0.0f, -1e4f },
        { -1e4f, -1e4f, -1e4f, -1e4f },
        { 1e4f + 0.0f, 1e4f + 1.0f, 1e4f - 2.5f, 1e4f + 0.25f },
        { -1e4f + 0.0f, -1e4f + 1.0f, -1e4f - 2.5f, -1e4f + 0.25f },
    };
    static const int32_t labels[] = { 0, 1, 2, 2, 3 };
    const double shifted_row[C] = { 0.0, 1.0, -2.5, 0.25 };
    const double want[] = { 0.0, 2e4, log(4.0),
                            ce_ref(1, C, shifted_row, &labels[3], IGNORE, RNN_REDUCTION_SUM),
                            ce_ref(1, C, shifted_row, &labels[4], IGNORE, RNN_REDUCTION_SUM) };
    const int32_t n = (int32_t)(sizeof labels / sizeof labels[0]);
    for (int32_t i = 0; i < n; i++) {
        float loss = TU_SENTINEL, grad[C];
        TU_OK(rnn_loss_cross_entropy(1, C, rows[i], &labels[i], IGNORE,
                                     RNN_REDUCTION_SUM, &loss, grad));
        char what[64];
        snprintf(what, sizeof what, "row %d loss", i);
        assert_true(isfinite(loss));
        assert_true(loss_close(what, loss, want[i]));
        double row[C], want_grad[C];
        for (int32_t c = 0; c < C; c++)
            row[c] = rows[i][c];
        softmax_minus_one_hot(C, row, labels[i], want_grad);
        snprintf(what, sizeof what, "row %d gradient", i);
        assert_true(tu_close(what, grad, want_grad, C, LOSS_TOL));
    }
}

static void cross_entropy_without_dlogits_gives_the_same_loss(void **state)
{
    (void)state;
    enum { N = 5, C = 3 };
    tu_rng rng = tu_rng_make(5);
    float logits[N * C], grad[N * C], with = TU_SENTINEL, without = -TU_SENTINEL;
    int32_t labels[N];
    tu_fill(&rng, logits, N * C, -3.0, 3.0);
    random_labels(&rng, labels, N, C);
    TU_OK(rnn_loss_cross_entropy(N, C, logits, labels, IGNORE, RNN_REDUCTION_MEAN, &with,
                                 grad));
    TU_OK(rnn_loss_cross_entropy(N, C, logits, labels, IGNORE, RNN_REDUCTION_MEAN,
                                 &without, NULL));
    assert_true(with == without);
}

static void cross_entropy_rejects_targets_out_of_range(void **state)
{
    (void)state;
    enum { N = 3, C = 4 };
    float logits[N * C] = { 0 }, loss, grad[N * C];
#define CE_FAILS(t0, t1, t2)                                                        \
    do {                                                                            \
        int32_t labels_[N] = { t0, t1, t2 };                                        \
        TU_FAILS(RNN_E_INVALID_ARG, "rnn_loss_cross_entropy",                       \
                 rnn_loss_cross_entropy(N, C, logits, labels_, IGNORE,              \
                                        RNN_REDUCTION_MEAN, &loss, grad));          \
    } while (0)
    CE_FAILS(0, C, 1);
    CE_FAILS(0, 1, -1);
    CE_FAILS(INT32_MAX, 1, 2);
    CE_FAILS(IGNORE, IGNORE, INT32_MIN);
#undef CE_FAILS
}

static void cross_entropy_rejects_invalid_arguments(void **state)
{
    (void)state;
    float logits[4] = { 0 }, loss, grad[4];
    int32_t labels[2] = { 0, 1 };
    const char *f = "rnn_loss_cross_entropy";
    TU_FAILS(RNN_E_INVALID_ARG, f,
             rnn_loss_cross_entropy(2, 2, NULL, labels, IGNORE, 0, &loss, grad));
    TU_FAILS(RNN_E_INVALID_ARG, f,
             rnn_loss_cross_entropy(2, 2, logits, NULL, IGNORE, 0, &loss, grad));
    TU_FAILS(RNN_E_INVALID_ARG, f,
             rnn_loss_cross_entropy(2, 2, logits, labels, IGNORE, 0, NULL, grad));
    TU_FAILS(RNN_E_SHAPE, f,
             rnn_loss_cross_entropy(0, 2, logits, labels, IGNORE, 0, &loss, grad));
    TU_FAILS(RNN_E_SHAPE, f,
             rnn_loss_cross_entropy(2, 0, logits, labels, IGNORE, 0, &loss, grad));
    TU_FAILS(RNN_E_SHAPE, f,
             rnn_loss_cross_entropy(-2, 2, logits, labels, IGNORE, 0, &loss, grad));
    TU_FAILS(RNN_E_INVALID_ARG, f,
             rnn_loss_cross_entropy(2, 2, logits, labels, IGNORE, 2, &loss, grad));
}

/* ------------------------------------------------------------------------
 * Mean squared error
 * ---------------------------------------------------------------------- */

static void mse_value_and_gradient_match_formula_with_mean_and_sum(void **state)
{
    (void)state;
    enum { N = 7 };
    tu_rng rng = tu_rng_make(6);
    float pred[N], target[N];
    tu_fill(&rng, pred, N, -2.0, 2.0);
    tu_fill(&rng, target, N, -2.0, 2.0);
    double p[N], t[N];
    for (int32_t i = 0; i < N; i++) {
        p[i] = pred[i];
        t[i] = target[i];
    }
    for (int32_t red = RNN_REDUCTION_MEAN; red <= RNN_REDUCTION_SUM; red++) {
        float loss = TU_SENTINEL, grad[N];
        TU_OK(rnn_loss_mse(N, pred, target, red, &loss, grad));
        assert_true(loss_close("mse", loss, mse_ref(N, p, t, red)));
        double want[N];
        for (int32_t i = 0; i < N; i++)
            want[i] = 2.0 * (p[i] - t[i]) / (red == RNN_REDUCTION_MEAN ? N : 1);
        assert_true(tu_close("d mse / d pred", grad, want, N, LOSS_TOL));
        loss_spec spec = { LOSS_MSE, 0, NULL, t, red };
        double *fd = loss_ref_fd(&spec, N, pred);
        assert_true(tu_close("d mse / d pred vs differences", grad, fd, N, LOSS_TOL));
        free(fd);
        float again = -TU_SENTINEL;
        TU_OK(rnn_loss_mse(N, pred, target, red, &again, NULL));
        assert_true(again == loss);
    }
}

static void mse_rejects_invalid_arguments(void **state)
{
    (void)state;
    float pred[2] = { 0 }, target[2] = { 0 }, loss, grad[2];
    const char *f = "rnn_loss_mse";
    TU_FAILS(RNN_E_INVALID_ARG, f, rnn_loss_mse(2, NULL, target, 0, &loss, grad));
    TU_FAILS(RNN_E_INVALID_ARG, f, rnn_loss_mse(2, pred, NULL, 0, &loss, grad));
    TU_FAILS(RNN_E_INVALID_ARG, f, rnn_loss_mse(2, pred, target, 0, NULL, grad));
    TU_FAILS(RNN_E_SHAPE, f, rnn_loss_mse(0, pred, target, 0, &loss, grad));
    TU_FAILS(RNN_E_SHAPE, f, rnn_loss_mse(-1, pred, target, 0, &loss, grad));
    TU_FAILS(RNN_E_INVALID_ARG, f, rnn_loss_mse(2, pred, target, -1, &loss, grad));
}

/* ------------------------------------------------------------------------
 * Through the model: loss(head(rnn(x))) w.r.t. every parameter
 * ---------------------------------------------------------------------- */

typedef struct model_row {
    const char *name;
    int32_t head_mode, loss, L, bidirectional, batch_first;
} model_row;

static const model_row model_rows[] = {
    { "last_cross_entropy", RNN_HEAD_LAST, LOSS_CE, 1, 0, 0 },
    { "all_cross_entropy_two_layers_batch_first", RNN_HEAD_ALL, LOSS_CE, 2, 0, 1 },
    { "last_mse_bidirectional", RNN_HEAD_LAST, LOSS_MSE, 1, 1, 0 },
    { "all_mse_two_layers", RNN_HEAD_ALL, LOSS_MSE, 2, 0, 0 },
};

typedef struct model_problem {
    tu_case c;
    loss_spec spec;
    int32_t *labels;
    float *target;     /* MSE targets, float for librnn */
    double *target_d;  /* and in double for the oracle */
    float *logits, *dlogits;
} model_problem;

static void model_problem_init(model_problem *p, const model_row *row, uint64_t seed)
{
    tu_shape s = { row->name, 3, 4, row->L, row->bidirectional, RNN_TANH, 1,
                   row->batch_first, 3, row->head_mode, 4, 3, 1, { 0 } };
    memset(p, 0, sizeof *p);
    tu_case_init(&p->c, &s, seed);
    const size_t n = p->c.n_logits;
    const int32_t rows = (int32_t)(n / (size_t)s.O);
    tu_rng rng = tu_rng_make(seed + 1000);
    p->logits = tu_floats(n);
    p->dlogits = tu_floats(n);
    p->spec.kind = row->loss;
    p->spec.reduction = RNN_REDUCTION_MEAN;
    if (row->loss == LOSS_CE) {
        p->labels = calloc((size_t)rows, sizeof *p->labels);
        assert_non_null(p->labels);
        random_labels(&rng, p->labels, rows, s.O);
        if (rows > 2)
            p->labels[1] = IGNORE;
        p->spec.classes = s.O;
        p->spec.labels = p->labels;
    } else {
        p->target = tu_floats(n);
        tu_fill(&rng, p->target, n, -1.0, 1.0);
        p->target_d = tu_to_double(p->target, n);
        p->spec.target = p->target_d;
    }
}

static void model_problem_free(model_problem *p)
{
    tu_case_free(&p->c);
    free(p->labels);
    free(p->target);
    free(p->target_d);
    free(p->logits);
    free(p->dlogits);
}

/* librnn's loss of its own logits (the float path); dlogits when asked. */
static float librnn_loss_of_logits(model_problem *p, float *dlogits)
{
    const size_t n = p->c.n_logits;
    float loss = TU_SENTINEL;
    if (p->spec.kind == LOSS_CE)
        TU_OK(rnn_loss_cross_entropy((int32_t)(n / (size_t)p->spec.classes),
                                     p->spec.classes, p->logits, p->labels, IGNORE,
                                     p->spec.reduction, &loss, dlogits));
    else
        TU_OK(rnn_loss_mse((int32_t)n, p->logits, p->target, p->spec.reduction, &loss,
                           dlogits));
    return loss;
}

static float librnn_forward_loss(model_problem *p)
{
    tu_case *c = &p->c;
    TU_OK(rnn_forward(c->model, c->s.T, c->s.B, c->x, NULL, c->h0, NULL, NULL));
    TU_OK(rnn_head_forward(c->model, p->logits));
    return librnn_loss_of_logits(p, NULL);
}

/* zero_grad, forward, head, loss, head_backward, backward: the gradient
 * buffer, copied. */
static float *librnn_gradient(model_problem *p)
{
    tu_case *c = &p->c;
    TU_OK(rnn_zero_grad(c->model));
    TU_OK(rnn_forward(c->model, c->s.T, c->s.B, c->x, NULL, c->h0, NULL, NULL));
    TU_OK(rnn_head_forward(c->model, p->logits));
    librnn_loss_of_logits(p, p->dlogits);
    TU_OK(rnn_head_backward(c->model, p->dlogits));
    TU_OK(rnn_backward(c->model, NULL, NULL, NULL, NULL));
    float *grads = NULL;
    TU_OK(rnn_grads(c->model, &grads, NULL));
    return tu_copy(grads, c->n_params);
}

/* The loss through the double reference model. */
static double reference_loss(model_problem *p, const double *params, const double *x,
                             const double *h0)
{
    tu_case *c = &p->c;
    ref_batch in = { c->s.T, c->s.B, x, NULL, h0 };
    ref_result r;
    assert_int_equal(ref_run(&c->m, params, &in, NULL, &r), 0);
    double loss = loss_ref(&p->spec, c->n_logits, r.logits);
    ref_result_free(&r);
    return loss;
}

static void gradient_matches_reference_differences(const model_row *row)
{
    model_problem p;
    model_problem_init(&p, row, 11);
    tu_case *c = &p.c;
    float *grads = librnn_gradient(&p);

    const double eps = 1e-6;
    double *params = tu_to_double(c->params, c->n_params);
    double *x = tu_to_double(c->x, c->n_x), *h0 = tu_to_double(c->h0, c->n_h);
    double *fd = calloc(c->n_params, sizeof *fd);
    assert_non_null(fd);
    for (size_t i = 0; i < c->n_params; i++) {
        double saved = params[i];
        params[i] = saved + eps;
        double plus = reference_loss(&p, params, x, h0);
        params[i] = saved - eps;
        double minus = reference_loss(&p, params, x, h0);
        params[i] = saved;
        fd[i] = (plus - minus) / (2.0 * eps);
    }
    int ok = tu_params_close(c, "grad vs reference differences", grads, fd, 1e-5);
    free(fd);
    free(params);
    free(x);
    free(h0);
    free(grads);
    model_problem_free(&p);
    assert_true(ok);
}

/* Float differences of librnn's own forward + loss: step 1e-2, tolerance
 * 2e-3 of the largest gradient (the float loss is good to ~1e-7). */
static void gradient_matches_float_differences(const model_row *row)
{
    model_problem p;
    model_problem_init(&p, row, 12);
    tu_case *c = &p.c;
    float *grads = librnn_gradient(&p);
    double largest = 0.0;
    for (size_t i = 0; i < c->n_params; i++)
        largest = fmax(largest, fabs(grads[i]));
    assert_true(largest > 1e-3);

    const float eps = 1e-2f;
    size_t bad = 0;
    for (size_t i = 0; i < c->n_params; i++) {
        float saved = c->params[i];
        c->params[i] = saved + eps;
        double plus = librnn_forward_loss(&p);
        c->params[i] = saved - eps;
        double minus = librnn_forward_loss(&p);
        c->params[i] = saved;
        double fd = (plus - minus) / (2.0 * (double)eps);
        if (fabs(fd - grads[i]) > 2e-3 * largest) {
            if (bad++ < 6)
                print_error("%s: param %zu: gradient %.7g, float differences %.7g\n",
                            row->name, i, grads[i], fd);
        }
    }
    free(grads);
    model_problem_free(&p);
    assert_int_equal(bad, 0);
}

#define MODEL_TESTS(i, suffix)                                                     \
    static void loss_gradient_through_model_matches_reference_differences_##suffix( \
        void **state)                                                              \
    {                                                                              \
        (void)state;                                                               \
        gradient_matches_reference_differences(&model_rows[i]);                    \
    }                                                                              \
    static void loss_gradient_through_model_matches_float_differences_##suffix(     \
        void **state)                                                              \
    {                                                                              \
        (void)state;                                                               \
        gradient_matches_float_differences(&model_rows[i]);                        \
    }

MODEL_TESTS(0, head_last_cross_entropy)
MODEL_TESTS(1, head_all_cross_entropy_two_layers_batch_first)
MODEL_TESTS(2, head_last_mse_bidirectional)
MODEL_TESTS(3, head_all_mse_two_layers)

#define MODEL_ENTRIES(suffix)                                                       \
    cmocka_unit_test(loss_gradient_through_model_matches_reference_differences_##suffix), \
    cmocka_unit_test(loss_gradient_through_model_matches_float_differences_##suffix)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bce_matches_formula_for_mean_and_sum),
        cmocka_unit_test(bce_is_stable_at_extreme_logits),
        cmocka_unit_test(bce_rejects_targets_outside_zero_one),
        cmocka_unit_test(cross_entropy_matches_log_softmax_with_mean_and_sum),
        cmocka_unit_test(cross_entropy_with_one_class_is_zero),
        cmocka_unit_test(cross_entropy_ignores_rows_with_ignore_index),
        cmocka_unit_test(cross_entropy_ignore_index_may_be_a_valid_class),
        cmocka_unit_test(cross_entropy_with_every_row_ignored_is_zero),
        cmocka_unit_test(cross_entropy_is_finite_and_exact_at_logits_of_1e4),
        cmocka_unit_test(cross_entropy_without_dlogits_gives_the_same_loss),
        cmocka_unit_test(cross_entropy_rejects_targets_out_of_range),
        cmocka_unit_test(cross_entropy_rejects_invalid_arguments),
        cmocka_unit_test(mse_value_and_gradient_match_formula_with_mean_and_sum),
        cmocka_unit_test(mse_rejects_invalid_arguments),
        MODEL_ENTRIES(head_last_cross_entropy),
        MODEL_ENTRIES(head_all_cross_entropy_two_layers_batch_first),
        MODEL_ENTRIES(head_last_mse_bidirectional),
        MODEL_ENTRIES(head_all_mse_two_layers),
    };
    return cmocka_run_group_tests_name("test_losses", tests, NULL, NULL);
}
