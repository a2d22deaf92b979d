/* SPDX-License-Identifier: MIT
 *
 * fuzz_api.c - libFuzzer target for the argument validation of the API.
 *
 * The input is decoded (fuzz_api_script.h) into a model configuration, often
 * out of range, and a script of calls with sizes, lengths, NULL pointers,
 * struct sizes and hyperparameters chosen by the fuzzer. Arrays are always
 * as large as the call's documented size (the library cannot check a
 * caller's array lengths); when that size would be absurd the array is
 * passed as NULL instead, and the call must then fail. After each call:
 *   - the status is one the function documents (RNN_E_NOMEM only where it
 *     may allocate);
 *   - a failure left a message naming the function, wrote no output (the
 *     arrays keep their sentinel) and left the parameters and gradients bit
 *     for bit as they were;
 * and after the whole script every allocation librnn made was freed. A byte
 * of the input can make the N-th allocation fail (fuzz_common.h).
 *
 * FUZZ_TRACE=1 in the environment prints every call's status and message
 * (to see what an input does: fuzz_api_replay FILE).
 */
#include "fuzz_common.h"
#include "fuzz_api_script.h"

#include <math.h>

#define ST(s) (1u << (s))
#define OK_OR(mask) (ST(RNN_OK) | (mask))

/* No array larger than this many elements is passed: beyond it, NULL. */
enum { BUDGET = 1 << 18 };

static const float SENTINEL = 12345.0f;

/* ------------------------------------------------------------------------
 * Decoding
 * ---------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static uint8_t next(reader *r)
{
    if (r->left == 0)
        return 0;
    --r->left;
    return *r->p++;
}

static const int32_t hostile[16] = {
    -1, 0, INT32_MAX, INT32_MIN, 1 << 30, 1 << 20, 65536, 46341,
    -2, 4096, 100000, 65537, INT32_MAX / 2 + 1, 3, 1 << 16 | 1, 2,
};

/* A size from a byte: small (0 .. bound) below 0xf0, else hostile. */
static int32_t size_code(uint8_t byte, int32_t bound)
{
    if (byte >= 0xf0)
        return hostile[byte - 0xf0];
    return (int32_t)(byte % (uint32_t)(bound + 1));
}

/* ------------------------------------------------------------------------
 * Arrays, with the size checks done once
 * ---------------------------------------------------------------------- */

/* n elements, or 0 with ok = 0 when a factor is <= 0, the product overflows
 * or exceeds BUDGET. */
static size_t product(int *ok, int64_t a, int64_t b, int64_t c, int64_t d)
{
    const int64_t f[4] = {a, b, c, d};
    uint64_t n = 1;
    for (int i = 0; i < 4; ++i) {
        if (f[i] <= 0 || (uint64_t)f[i] > BUDGET || n * (uint64_t)f[i] > BUDGET) {
            *ok = 0;
            return 0;
        }
        n *= (uint64_t)f[i];
    }
    return (size_t)n;
}

typedef struct array {
    float *p;
    size_t n;
} array;

static uint64_t fill_state = 0x9e3779b97f4a7c15u;

/* An input array of n floats in [-1, 1] (1e30 with `huge`), or NULL when
 * not wanted or n is 0. */
static array input(int wanted, size_t n, int huge)
{
    array a = {NULL, n};
    if (!wanted || n == 0)
        return a;
    a.p = malloc(n * sizeof *a.p);
    FUZZ_CHECK(a.p != NULL);
    for (size_t i = 0; i < n; ++i) {
        fill_state = fill_state * 6364136223846793005u + 1442695040888963407u;
        const float u = (float)(fill_state >> 40) / 16777216.0f * 2.0f - 1.0f;
        a.p[i] = huge ? u * 1e30f : u;
    }
    return a;
}

/* An output array of n floats holding the sentinel. */
static array output(int wanted, size_t n)
{
    array a = {NULL, n};
    if (!wanted || n == 0)
        return a;
    a.p = malloc(n * sizeof *a.p);
    FUZZ_CHECK(a.p != NULL);
    for (size_t i = 0; i < n; ++i)
        a.p[i] = SENTINEL;
    return a;
}

static int untouched(const array *a)
{
    for (size_t i = 0; a->p != NULL && i < a->n; ++i)
        if (memcmp(&a->p[i], &SENTINEL, sizeof SENTINEL) != 0)
            return 0;
    return 1;
}

static void release(array *a)
{
    free(a->p);
    a->p = NULL;
}

/* A one-float array for calls whose sizes are invalid: they must fail
 * before reading or writing anything. */
static float tiny[1];

/* ------------------------------------------------------------------------
 * The model under test and the state the script builds up
 * ---------------------------------------------------------------------- */

typedef struct session {
    rnn_t *model;           /* NULL when rnn_create failed */
    rnn_config cfg;         /* as requested */
    int32_t dirs;
    /* the last successful rnn_forward, which backward and head use */
    int have_forward;
    int32_t T, B;
    /* snapshot of the parameters and gradients before a call */
    float *params_before, *grads_before;
    size_t n_params;
} session;

static void snapshot(session *s)
{
    if (s->model == NULL)
        return;
    float *p, *g;
    FUZZ_CHECK(rnn_params(s->model, &p, &s->n_params) == RNN_OK);
    FUZZ_CHECK(rnn_grads(s->model, &g, NULL) == RNN_OK);
    free(s->params_before);
    free(s->grads_before);
    s->params_before = malloc(s->n_params * sizeof(float) + 1);
    s->grads_before = malloc(s->n_params * sizeof(float) + 1);
    FUZZ_CHECK(s->params_before != NULL && s->grads_before != NULL);
    memcpy(s->params_before, p, s->n_params * sizeof(float));
    memcpy(s->grads_before, g, s->n_params * sizeof(float));
}

static int unchanged(const session *s)
{
    if (s->model == NULL)
        return 1;
    float *p, *g;
    size_t n;
    FUZZ_CHECK(rnn_params(s->model, &p, &n) == RNN_OK);
    FUZZ_CHECK(rnn_grads(s->model, &g, NULL) == RNN_OK);
    return n == s->n_params &&
           memcmp(p, s->params_before, n * sizeof(float)) == 0 &&
           memcmp(g, s->grads_before, n * sizeof(float)) == 0;
}

/* Before a call: the snapshot `expect` compares with, no stale message. */
static void begin(session *s)
{
    snapshot(s);
    rnn_clear_error();
}

/* The status is allowed; a failure has a message naming `func` and changed
 * nothing in the model. */
static void expect(const session *s, rnn_status st, const char *func,
                   unsigned allowed)
{
    static int trace = -1;
    if (trace < 0)
        trace = getenv("FUZZ_TRACE") != NULL;
    if (trace)
        fprintf(stderr, "  %-26s %d %s\n", func, (int)st, rnn_last_error());
    if ((unsigned)st >= 32 || !(allowed & ST(st))) {
        fprintf(stderr, "%s returned %d (%s), not allowed here\n", func,
                (int)st, rnn_strerror(st));
        FUZZ_CHECK(0);
    }
    if (st != RNN_OK) {
        if (!fuzz_message_names(func)) {
            fprintf(stderr, "%s failed with the message \"%s\"\n", func,
                    rnn_last_error());
            FUZZ_CHECK(0);
        }
        FUZZ_CHECK(unchanged(s));
    }
}

/* ------------------------------------------------------------------------
 * Operations
 * ---------------------------------------------------------------------- */

static int64_t num_states(const session *s)
{
    return (int64_t)s->cfg.num_layers * s->dirs;
}

static void op_forward(session *s, uint8_t a, uint8_t b, uint8_t flags)
{
    const int32_t T = size_code(a, 8), B = size_code(b, 8);
    const rnn_config *c = &s->cfg;
    int ok = 1;
    const size_t nx = product(&ok, T, B, c->input_size, 1);
    const size_t ny = product(&ok, T, B, s->dirs, c->hidden_size);
    const size_t nh = product(&ok, num_states(s), B, c->hidden_size, 1);
    array x, h0, y, hn;
    int32_t *lengths = NULL;
    const int bad = (flags & FUZZ_BAD) != 0;
    if (ok) {
        x = input(flags & FUZZ_ARRAY_0, nx, flags & FUZZ_HUGE_VALUES);
        h0 = input(flags & FUZZ_ARRAY_1, nh, 0);
        y = output(flags & FUZZ_ARRAY_2, ny);
        hn = output(flags & FUZZ_ARRAY_3, nh);
        if (flags & FUZZ_LENGTHS) {
            lengths = malloc((size_t)B * sizeof *lengths);
            FUZZ_CHECK(lengths != NULL);
            for (int32_t i = 0; i < B; ++i)
                lengths[i] = 1 + (int32_t)((uint32_t)(a + 3 * i) % (uint32_t)T);
            if (bad) /* one length out of [1, T] */
                lengths[(uint32_t)b % (uint32_t)B] =
                    (a & 1) ? T + 1 : (a & 2) ? 0 : INT32_MIN;
        }
    } else {
        /* Sizes invalid or absurd: nothing may be read, and the call must
         * fail. Non-positive sizes get tiny arrays (their size is checked
         * first), absurd ones NULL. */
        const int nonpositive = T <= 0 || B <= 0;
        array t = {nonpositive ? tiny : NULL, 0};
        x = h0 = y = hn = (array){NULL, 0};
        if (flags & FUZZ_ARRAY_0)
            x = t;
        if (flags & FUZZ_ARRAY_1)
            h0 = t;
        if (nonpositive) {
            if (flags & FUZZ_ARRAY_2)
                y = t;
            if (flags & FUZZ_ARRAY_3)
                hn = t;
            if (flags & FUZZ_LENGTHS)
                lengths = (int32_t *)(void *)tiny;
        }
    }
    begin(s);
    rnn_status st = rnn_forward(s->model, T, B, x.p, lengths, h0.p, y.p, hn.p);
    expect(s, st, "rnn_forward",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_SHAPE) | ST(RNN_E_NOMEM) |
                 ST(RNN_E_NONFINITE) | ST(RNN_E_STATE)));
    /* What must have failed. */
    if (s->model == NULL || x.p == NULL || !ok || (lengths != NULL && bad))
        FUZZ_CHECK(st != RNN_OK);
    if (st == RNN_OK) {
        s->have_forward = 1;
        s->T = T;
        s->B = B;
        if (y.p != NULL) /* every element written */
            for (size_t i = 0; i < y.n; ++i)
                FUZZ_CHECK(memcmp(&y.p[i], &SENTINEL, sizeof SENTINEL) != 0);
    } else {
        FUZZ_CHECK(ok ? untouched(&y) && untouched(&hn) : 1);
        if (st == RNN_E_NONFINITE)
            s->have_forward = 0; /* documented: no pass left to differentiate */
    }
    if (ok) {
        release(&x);
        release(&h0);
        release(&y);
        release(&hn);
        free(lengths);
    }
}

/* Rows of the head's logits for the last forward. */
static size_t logit_count(const session *s, int *ok)
{
    if (!s->have_forward) {
        *ok = 0;
        return 0;
    }
    const int32_t rows_t = s->cfg.head_mode == RNN_HEAD_ALL ? s->T : 1;
    return product(ok, rows_t, s->B, s->cfg.output_size, 1);
}

static void op_head(session *s, int backward, uint8_t flags)
{
    int ok = 1;
    const size_t n = logit_count(s, &ok);
    array arr = {NULL, 0};
    if (ok)
        arr = backward ? input(flags & FUZZ_ARRAY_0, n, flags & FUZZ_HUGE_VALUES)
                       : output(flags & FUZZ_ARRAY_0, n);
    else if (s->have_forward)
        return; /* logits beyond the budget: nothing to test */
    else if (flags & FUZZ_ARRAY_0)
        arr.p = tiny; /* no forward: must fail before using it */
    begin(s);
    const char *func = backward ? "rnn_head_backward" : "rnn_head_forward";
    rnn_status st = backward ? rnn_head_backward(s->model, arr.p)
                             : rnn_head_forward(s->model, arr.p);
    expect(s, st, func,
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_UNSUPPORTED) |
                 ST(RNN_E_STATE) | ST(RNN_E_NOMEM) | ST(RNN_E_NONFINITE)));
    if (s->model == NULL || arr.p == NULL || !ok)
        FUZZ_CHECK(st != RNN_OK);
    if (st != RNN_OK && ok && !backward)
        FUZZ_CHECK(untouched(&arr));
    if (ok)
        release(&arr);
}

static void op_backward(session *s, uint8_t flags)
{
    int ok = s->have_forward;
    const rnn_config *c = &s->cfg;
    size_t ny = 0, nx = 0, nh = 0;
    if (ok) {
        ny = product(&ok, s->T, s->B, s->dirs, c->hidden_size);
        nx = product(&ok, s->T, s->B, c->input_size, 1);
        nh = product(&ok, num_states(s), s->B, c->hidden_size, 1);
    }
    array dy = {NULL, 0}, dhn = {NULL, 0}, dx = {NULL, 0}, dh0 = {NULL, 0};
    if (ok) {
        dy = input(flags & FUZZ_ARRAY_0, ny, flags & FUZZ_HUGE_VALUES);
        dhn = input(flags & FUZZ_ARRAY_1, nh, 0);
        dx = output(flags & FUZZ_ARRAY_2, nx);
        dh0 = output(flags & FUZZ_ARRAY_3, nh);
    } else {
        /* No forward: the call must fail before touching the arrays. */
        if (flags & FUZZ_ARRAY_0)
            dy.p = tiny;
        if (flags & FUZZ_ARRAY_2)
            dx.p = tiny;
    }
    begin(s);
    rnn_status st = rnn_backward(s->model, dy.p, dhn.p, dx.p, dh0.p);
    expect(s, st, "rnn_backward",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_STATE) | ST(RNN_E_NOMEM) |
                 ST(RNN_E_NONFINITE)));
    if (!ok)
        FUZZ_CHECK(st != RNN_OK);
    if (ok) {
        if (st != RNN_OK)
            FUZZ_CHECK(untouched(&dx) && untouched(&dh0));
        release(&dy);
        release(&dhn);
        release(&dx);
        release(&dh0);
    }
}

static float lr_code(uint8_t b)
{
    static const float special[8] = {0.0f, -0.1f, NAN, INFINITY, 1e30f,
                                     1e-30f, -INFINITY, 1.0f};
    if (b >= 0xf8)
        return special[b - 0xf8];
    return (float)(b + 1) * 1e-3f;
}

static void op_optim(session *s, uint8_t a, uint8_t b, uint8_t flags)
{
    rnn_optim_config oc = rnn_optim_config_default(a % 4, lr_code(b));
    /* a % 4 == 3 is an unknown kind (the default keeps it as given). */
    oc.kind = a % 4;
    if (a & 0x04)
        oc.momentum = (a & 0x40) ? -0.5f : 0.9f;
    if (a & 0x08)
        oc.nesterov = (a & 0x80) ? 2 : 1;
    if (a & 0x10)
        oc.dampening = (a & 0x40) ? 1.5f : 0.1f;
    if (a & 0x20)
        oc.weight_decay = (a & 0x80) ? -1.0f : 0.01f;
    if (flags & FUZZ_BAD) {
        switch (b % 6) {
        case 0: oc.struct_size -= 4; break;
        case 1: oc.struct_size = sizeof(size_t); break;
        case 2: oc.beta1 = 1.0f; break;
        case 3: oc.beta2 = -0.1f; break;
        case 4: oc.eps = 0.0f; break;
        default: oc.eps = NAN; break;
        }
    }
    rnn_optim_t *optim = (rnn_optim_t *)&optim;
    begin(s);
    rnn_status st = rnn_optim_create((flags & FUZZ_ARRAY_0) ? &optim : NULL,
                                     s->model, (flags & FUZZ_ARRAY_1) ? &oc : NULL);
    expect(s, st, "rnn_optim_create",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_NOMEM)));
    if (!(flags & FUZZ_ARRAY_0) || !(flags & FUZZ_ARRAY_1) || s->model == NULL)
        FUZZ_CHECK(st == RNN_E_INVALID_ARG);
    if (st != RNN_OK) {
        if (flags & FUZZ_ARRAY_0)
            FUZZ_CHECK(optim == NULL);
        /* plain SGD as well, with the same learning rate */
        begin(s);
        st = rnn_sgd_step(s->model, oc.lr);
        expect(s, st, "rnn_sgd_step", OK_OR(ST(RNN_E_INVALID_ARG)));
        return;
    }
    for (int i = 0; i < 1 + (a >> 6); ++i) {
        begin(s);
        st = rnn_optim_step(optim, s->model);
        expect(s, st, "rnn_optim_step",
               OK_OR(ST(RNN_E_NONFINITE) | ST(RNN_E_SHAPE)));
    }
    int64_t steps = -1;
    FUZZ_CHECK(rnn_optim_step_count(optim, &steps) == RNN_OK && steps >= 0);
    begin(s);
    st = rnn_optim_set_lr(optim, lr_code((uint8_t)(b ^ flags)));
    expect(s, st, "rnn_optim_set_lr", OK_OR(ST(RNN_E_INVALID_ARG)));
    begin(s);
    expect(s, rnn_optim_step_count(optim, NULL), "rnn_optim_step_count",
           ST(RNN_E_INVALID_ARG));
    begin(s);
    expect(s, rnn_optim_step(optim, NULL), "rnn_optim_step", ST(RNN_E_INVALID_ARG));
    rnn_optim_destroy(optim);
}

static void op_loss(session *s, uint8_t a, uint8_t b, uint8_t flags)
{
    const int32_t n = size_code(a, 16), classes = size_code(b, 8);
    const int bad = (flags & FUZZ_BAD) != 0;
    const int32_t reduction = bad && (a & 1) ? 2 + (b & 3) : (a >> 1) & 1;
    int ok = 1;
    const size_t nn = product(&ok, n, 1, 1, 1);
    int ok_c = ok;
    const size_t nc = product(&ok_c, n, classes, 1, 1);
    float loss = SENTINEL;
    rnn_status st;

    /* binary cross-entropy and MSE over n values */
    array z = ok ? input(flags & FUZZ_ARRAY_0, nn, flags & FUZZ_HUGE_VALUES)
                 : (array){(flags & FUZZ_ARRAY_0) && n <= 0 ? tiny : NULL, 0};
    array t = ok ? input(flags & FUZZ_ARRAY_1, nn, 0)
                 : (array){(flags & FUZZ_ARRAY_1) && n <= 0 ? tiny : NULL, 0};
    array dz = ok ? output(flags & FUZZ_ARRAY_2, nn) : (array){NULL, 0};
    if (ok && t.p != NULL)
        for (size_t i = 0; i < nn; ++i) /* BCE targets in [0, 1], or not */
            t.p[i] = bad && i == 0 ? 1.5f : fabsf(t.p[i]);
    begin(s);
    st = rnn_loss_bce_with_logits(n, z.p, t.p, reduction,
                                  (flags & FUZZ_ARRAY_3) ? &loss : NULL, dz.p);
    expect(s, st, "rnn_loss_bce_with_logits", OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_SHAPE)));
    if (!ok || z.p == NULL || t.p == NULL || !(flags & FUZZ_ARRAY_3))
        FUZZ_CHECK(st != RNN_OK);
    if (st != RNN_OK)
        FUZZ_CHECK(untouched(&dz) && memcmp(&loss, &SENTINEL, sizeof loss) == 0);
    loss = SENTINEL;
    begin(s);
    st = rnn_loss_mse(n, z.p, t.p, reduction,
                      (flags & FUZZ_ARRAY_3) ? &loss : NULL, dz.p);
    expect(s, st, "rnn_loss_mse", OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_SHAPE)));
    if (!ok || z.p == NULL || t.p == NULL || !(flags & FUZZ_ARRAY_3))
        FUZZ_CHECK(st != RNN_OK);
    if (ok) {
        release(&z);
        release(&t);
        release(&dz);
    }

    /* softmax cross-entropy over n rows of `classes` */
    array logits = ok_c ? input(flags & FUZZ_ARRAY_0, nc, flags & FUZZ_HUGE_VALUES)
                        : (array){(flags & FUZZ_ARRAY_0) && (n <= 0 || classes <= 0)
                                      ? tiny : NULL, 0};
    array dl = ok_c ? output(flags & FUZZ_ARRAY_2, nc) : (array){NULL, 0};
    int32_t *targets = NULL;
    const int32_t ignore = (b & 0x10) ? -100 : (b & 0x20) ? 0 : INT32_MIN;
    if (ok_c && (flags & FUZZ_ARRAY_1)) {
        targets = malloc(nn * sizeof *targets);
        FUZZ_CHECK(targets != NULL);
        for (size_t i = 0; i < nn; ++i)
            targets[i] = (int32_t)((a + 5 * i) % (uint32_t)classes);
        if (bad) /* a class out of range, or the ignored index */
            targets[0] = (b & 1) ? classes : (b & 2) ? -1 : ignore;
    } else if (!ok_c && (flags & FUZZ_ARRAY_1) && (n <= 0 || classes <= 0)) {
        targets = (int32_t *)(void *)tiny;
    }
    loss = SENTINEL;
    begin(s);
    st = rnn_loss_cross_entropy(n, classes, logits.p, targets, ignore, reduction,
                                (flags & FUZZ_ARRAY_3) ? &loss : NULL, dl.p);
    expect(s, st, "rnn_loss_cross_entropy",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_SHAPE)));
    if (!ok_c || logits.p == NULL || targets == NULL || !(flags & FUZZ_ARRAY_3))
        FUZZ_CHECK(st != RNN_OK);
    if (st != RNN_OK)
        FUZZ_CHECK(untouched(&dl));
    if (ok_c) {
        release(&logits);
        release(&dl);
        free(targets);
    }
}

static void op_step(session *s, uint8_t a, uint8_t b, uint8_t flags)
{
    const int32_t batch = size_code(a, 8);
    rnn_state_t *state = (rnn_state_t *)&state;
    begin(s);
    rnn_status st = rnn_state_create((flags & FUZZ_ARRAY_0) ? &state : NULL,
                                     s->model, batch);
    expect(s, st, "rnn_state_create",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_UNSUPPORTED) | ST(RNN_E_SHAPE) |
                 ST(RNN_E_NOMEM)));
    if (!(flags & FUZZ_ARRAY_0) || s->model == NULL || batch <= 0)
        FUZZ_CHECK(st != RNN_OK);
    if (s->cfg.bidirectional)
        FUZZ_CHECK(st != RNN_OK);
    if (st != RNN_OK) {
        if (flags & FUZZ_ARRAY_0)
            FUZZ_CHECK(state == NULL);
        return;
    }
    int32_t got = -1;
    FUZZ_CHECK(rnn_state_batch(state, &got) == RNN_OK && got == batch);
    if (b & 0x10) {
        begin(s);
        expect(s, rnn_pack_weights(s->model), "rnn_pack_weights",
               OK_OR(ST(RNN_E_NOMEM)));
    } else if (b & 0x20) {
        rnn_unpack_weights(s->model);
    }
    int ok = 1;
    const size_t nx = product(&ok, batch, s->cfg.input_size, 1, 1);
    const size_t ny = product(&ok, batch, s->cfg.hidden_size, 1, 1);
    const size_t nh = product(&ok, s->cfg.num_layers, batch, s->cfg.hidden_size, 1);
    const size_t nl = product(&ok, batch, s->cfg.output_size > 0 ? s->cfg.output_size : 1, 1, 1);
    if (ok) {
        for (int i = 0; i < 1 + b % 4; ++i) {
            array x = input(flags & FUZZ_ARRAY_1, nx, flags & FUZZ_HUGE_VALUES);
            array y = output(flags & FUZZ_ARRAY_2, ny);
            begin(s);
            /* rnn_step never allocates: no RNN_E_NOMEM */
            st = rnn_step(s->model, state, x.p, y.p);
            expect(s, st, "rnn_step",
                   OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_NONFINITE)));
            if (x.p == NULL)
                FUZZ_CHECK(st == RNN_E_INVALID_ARG);
            if (st != RNN_OK)
                FUZZ_CHECK(untouched(&y));
            release(&x);
            release(&y);
        }
        array logits = output(flags & FUZZ_ARRAY_3, nl);
        begin(s);
        st = rnn_step_head(s->model, state, logits.p);
        expect(s, st, "rnn_step_head",
               OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_UNSUPPORTED)));
        if (logits.p == NULL || s->cfg.output_size == 0)
            FUZZ_CHECK(st != RNN_OK);
        if (st != RNN_OK)
            FUZZ_CHECK(untouched(&logits));
        release(&logits);
        array h = output(1, nh);
        FUZZ_CHECK(rnn_state_get(state, h.p) == RNN_OK);
        FUZZ_CHECK(rnn_state_set(state, h.p) == RNN_OK);
        release(&h);
        uint8_t *mask = malloc((size_t)batch);
        FUZZ_CHECK(mask != NULL);
        for (int32_t i = 0; i < batch; ++i)
            mask[i] = (uint8_t)((a >> (i % 8)) & 1);
        FUZZ_CHECK(rnn_state_reset(state, (flags & FUZZ_BAD) ? NULL : mask) == RNN_OK);
        free(mask);
    }
    begin(s);
    expect(s, rnn_state_get(state, NULL), "rnn_state_get", ST(RNN_E_INVALID_ARG));
    begin(s);
    expect(s, rnn_state_set(state, NULL), "rnn_state_set", ST(RNN_E_INVALID_ARG));
    begin(s);
    expect(s, rnn_state_batch(state, NULL), "rnn_state_batch", ST(RNN_E_INVALID_ARG));
    rnn_state_destroy(state);
}

static void op_tensor(session *s, uint8_t a, uint8_t flags)
{
    rnn_tensor_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (flags & FUZZ_BAD)
        info.struct_size = (a & 1) ? sizeof info - sizeof(int32_t) * 2 : sizeof(size_t);
    const int32_t index = a >= 0xf0 ? hostile[a - 0xf0] : (int32_t)(a % 24);
    int32_t count = -1;
    rnn_status st = rnn_tensor_count(s->model, (flags & FUZZ_ARRAY_0) ? &count : NULL);
    expect(s, st, "rnn_tensor_count", OK_OR(ST(RNN_E_INVALID_ARG)));
    begin(s);
    st = rnn_tensor_at(s->model, index, (flags & FUZZ_ARRAY_1) ? &info : NULL);
    expect(s, st, "rnn_tensor_at", OK_OR(ST(RNN_E_INVALID_ARG)));
    if (st == RNN_OK) {
        FUZZ_CHECK(info.name != NULL && info.count > 0);
        FUZZ_CHECK(info.offset + info.count <= s->n_params || s->n_params == 0);
        /* and back by name */
        rnn_tensor_info again = info;
        FUZZ_CHECK(rnn_tensor_find(s->model, info.name, &again) == RNN_OK);
        FUZZ_CHECK(again.offset == info.offset && again.count == info.count);
    } else if (s->model != NULL && (flags & FUZZ_ARRAY_0) && (flags & FUZZ_ARRAY_1) &&
               !(flags & FUZZ_BAD)) {
        FUZZ_CHECK(index < 0 || index >= count);
    }
    static const char *const names[] = {"weight_ih_l0", "head.bias", "", "weight_hh_l9_reverse",
                                        "bias_ih_l0\x01", "head.weight"};
    begin(s);
    st = rnn_tensor_find(s->model, (flags & FUZZ_ARRAY_2) ? names[a % 6] : NULL,
                         (flags & FUZZ_ARRAY_1) ? &info : NULL);
    expect(s, st, "rnn_tensor_find", OK_OR(ST(RNN_E_INVALID_ARG)));

    rnn_config got = rnn_config_default(1, 1);
    if (flags & FUZZ_BAD)
        got.struct_size = (a & 2) ? sizeof got - sizeof(uint64_t) : sizeof(size_t);
    begin(s);
    st = rnn_get_config(s->model, (flags & FUZZ_ARRAY_3) ? &got : NULL);
    expect(s, st, "rnn_get_config", OK_OR(ST(RNN_E_INVALID_ARG)));
    if (st == RNN_OK)
        FUZZ_CHECK(got.hidden_size == s->cfg.hidden_size &&
                   got.input_size == s->cfg.input_size);
}

static void op_save_load(session *s, uint8_t a, uint8_t flags)
{
    size_t size = 0;
    begin(s);
    rnn_status st = rnn_save_size(s->model, (flags & FUZZ_ARRAY_0) ? &size : NULL);
    expect(s, st, "rnn_save_size", OK_OR(ST(RNN_E_INVALID_ARG)));
    if (st != RNN_OK)
        return;
    /* capacity: exact, or `a` bytes short of it */
    const size_t cut = (flags & FUZZ_BAD) ? (size_t)a % (size + 1) : 0;
    const size_t cap = size - cut;
    unsigned char *buf = malloc(size + 1);
    FUZZ_CHECK(buf != NULL);
    memset(buf, 0xa5, size + 1);
    size_t written = 12345;
    begin(s);
    st = rnn_save_buffer(s->model, (flags & FUZZ_ARRAY_1) ? buf : NULL, cap,
                         (flags & FUZZ_ARRAY_2) ? &written : NULL);
    expect(s, st, "rnn_save_buffer",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_SHAPE) | ST(RNN_E_NOMEM)));
    if (cut > 0 || !(flags & FUZZ_ARRAY_1))
        FUZZ_CHECK(st != RNN_OK);
    if (st != RNN_OK) {
        for (size_t i = 0; i <= size; ++i)
            FUZZ_CHECK(buf[i] == 0xa5);
        free(buf);
        return;
    }
    FUZZ_CHECK(buf[size] == 0xa5);
    if (flags & FUZZ_ARRAY_2)
        FUZZ_CHECK(written == size);
    rnn_t *copy = (rnn_t *)&copy;
    begin(s);
    st = rnn_load_buffer(&copy, buf, size);
    expect(s, st, "rnn_load_buffer", OK_OR(ST(RNN_E_NOMEM)));
    if (st == RNN_OK) {
        float *p1, *p2;
        size_t n1, n2;
        FUZZ_CHECK(rnn_params(s->model, &p1, &n1) == RNN_OK);
        FUZZ_CHECK(rnn_params(copy, &p2, &n2) == RNN_OK);
        FUZZ_CHECK(n1 == n2 && memcmp(p1, p2, n1 * sizeof *p1) == 0);
        rnn_destroy(copy);
    } else {
        FUZZ_CHECK(copy == NULL);
    }
    begin(s);
    st = rnn_load_params_buffer(s->model, buf, size - ((flags & FUZZ_ARRAY_3) ? 0 : 1));
    expect(s, st, "rnn_load_params_buffer",
           OK_OR(ST(RNN_E_FORMAT) | ST(RNN_E_NOMEM)));
    if (!(flags & FUZZ_ARRAY_3))
        FUZZ_CHECK(st == RNN_E_FORMAT || st == RNN_E_NOMEM);
    free(buf);
}

static void op_clip(session *s, uint8_t a, uint8_t flags)
{
    const float max_norm = lr_code(a);
    float norm = SENTINEL;
    begin(s);
    rnn_status st = rnn_clip_grad_norm(s->model, max_norm,
                                       (flags & FUZZ_ARRAY_0) ? &norm : NULL);
    expect(s, st, "rnn_clip_grad_norm",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_NONFINITE)));
    if (!(max_norm > 0.0f) || s->model == NULL)
        FUZZ_CHECK(st == RNN_E_INVALID_ARG);
    begin(s);
    expect(s, rnn_check_grads(s->model), "rnn_check_grads",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_NONFINITE)));
    begin(s);
    expect(s, rnn_check_params(s->model), "rnn_check_params",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_NONFINITE)));
    if (flags & FUZZ_ARRAY_1) {
        begin(s);
        st = rnn_zero_grad(s->model);
        expect(s, st, "rnn_zero_grad", OK_OR(ST(RNN_E_INVALID_ARG)));
    }
}

static void op_init(session *s, uint8_t a, uint8_t b, uint8_t flags)
{
    const int32_t scheme = a >= 0xf0 ? hostile[a - 0xf0] : (int32_t)(a % 4);
    const uint64_t seed = (uint64_t)b * 0x9e3779b97f4a7c15u;
    begin(s);
    rnn_status st = rnn_init(s->model, scheme, seed);
    expect(s, st, "rnn_init",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_NOMEM) | ST(RNN_E_UNSUPPORTED)));
    if (scheme < 0 || scheme > 2 || s->model == NULL)
        FUZZ_CHECK(st == RNN_E_INVALID_ARG);
    if (flags & FUZZ_ARRAY_0) {
        begin(s);
        expect(s, rnn_init_uniform(s->model, seed), "rnn_init_uniform",
               OK_OR(ST(RNN_E_INVALID_ARG)));
    }
    if (flags & FUZZ_CHECK_FINITE) {
        begin(s);
        const int32_t enabled = (flags & FUZZ_BAD) ? 2 : (a & 1);
        st = rnn_set_check_finite(s->model, enabled);
        expect(s, st, "rnn_set_check_finite", OK_OR(ST(RNN_E_INVALID_ARG)));
        if (enabled == 2)
            FUZZ_CHECK(st == RNN_E_INVALID_ARG);
    }
}

static void op_diag(session *s, uint8_t a, uint8_t flags)
{
    int ok = 1;
    const size_t n = product(&ok, num_states(s), 1, 1, 1);
    array r = ok ? output(flags & FUZZ_ARRAY_0, n) : (array){NULL, 0};
    begin(s);
    rnn_status st = rnn_spectral_radius(s->model, r.p);
    expect(s, st, "rnn_spectral_radius",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_NOMEM) | ST(RNN_E_NONFINITE) |
                 ST(RNN_E_UNSUPPORTED)));
    if (r.p == NULL || s->model == NULL)
        FUZZ_CHECK(st == RNN_E_INVALID_ARG);
    if (st != RNN_OK)
        FUZZ_CHECK(untouched(&r));
    release(&r);
    FUZZ_CHECK(rnn_strerror((rnn_status)(int8_t)a) != NULL);
    FUZZ_CHECK(rnn_blas_info() != NULL && rnn_version() != NULL);
}

/* Every call that takes a model or an out-pointer, with NULL. */
static void op_nulls(session *s)
{
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *m = NULL;
    float *p = NULL;
    size_t n = 0;
    const unsigned inv = ST(RNN_E_INVALID_ARG);
#define NULL_CALL(func, call)      \
    do {                           \
        rnn_clear_error();         \
        expect(s, (call), func, inv); \
    } while (0)
    NULL_CALL("rnn_create", rnn_create(NULL, &cfg));
    NULL_CALL("rnn_create", rnn_create(&m, NULL));
    FUZZ_CHECK(m == NULL);
    NULL_CALL("rnn_get_config", rnn_get_config(NULL, &cfg));
    NULL_CALL("rnn_forward", rnn_forward(NULL, 1, 1, tiny, NULL, NULL, NULL, NULL));
    NULL_CALL("rnn_backward", rnn_backward(NULL, NULL, NULL, NULL, NULL));
    NULL_CALL("rnn_zero_grad", rnn_zero_grad(NULL));
    NULL_CALL("rnn_head_forward", rnn_head_forward(NULL, tiny));
    NULL_CALL("rnn_head_backward", rnn_head_backward(NULL, tiny));
    NULL_CALL("rnn_sgd_step", rnn_sgd_step(NULL, 0.1f));
    NULL_CALL("rnn_params", rnn_params(NULL, &p, &n));
    NULL_CALL("rnn_grads", rnn_grads(NULL, &p, &n));
    NULL_CALL("rnn_init_uniform", rnn_init_uniform(NULL, 1));
    NULL_CALL("rnn_init", rnn_init(NULL, RNN_INIT_ORTHOGONAL, 1));
    NULL_CALL("rnn_clip_grad_norm", rnn_clip_grad_norm(NULL, 1.0f, NULL));
    NULL_CALL("rnn_check_grads", rnn_check_grads(NULL));
    NULL_CALL("rnn_check_params", rnn_check_params(NULL));
    NULL_CALL("rnn_set_check_finite", rnn_set_check_finite(NULL, 1));
    NULL_CALL("rnn_save_size", rnn_save_size(NULL, &n));
    NULL_CALL("rnn_save_buffer", rnn_save_buffer(NULL, tiny, sizeof tiny, NULL));
    NULL_CALL("rnn_load_buffer", rnn_load_buffer(NULL, tiny, sizeof tiny));
    NULL_CALL("rnn_load_buffer", rnn_load_buffer(&m, NULL, 8));
    NULL_CALL("rnn_load_params_buffer", rnn_load_params_buffer(NULL, tiny, 4));
    NULL_CALL("rnn_spectral_radius", rnn_spectral_radius(NULL, tiny));
    NULL_CALL("rnn_state_create", rnn_state_create(NULL, s->model, 1));
    NULL_CALL("rnn_step", rnn_step(s->model, NULL, tiny, NULL));
    NULL_CALL("rnn_step_head", rnn_step_head(s->model, NULL, tiny));
    NULL_CALL("rnn_state_reset", rnn_state_reset(NULL, NULL));
    NULL_CALL("rnn_state_get", rnn_state_get(NULL, tiny));
    NULL_CALL("rnn_state_set", rnn_state_set(NULL, tiny));
    NULL_CALL("rnn_optim_step", rnn_optim_step(NULL, s->model));
    NULL_CALL("rnn_optim_set_lr", rnn_optim_set_lr(NULL, 0.1f));
    NULL_CALL("rnn_tensor_count", rnn_tensor_count(NULL, NULL));
    NULL_CALL("rnn_save", rnn_save(s->model, NULL));
    NULL_CALL("rnn_load", rnn_load(NULL, "x"));
    NULL_CALL("rnn_load", rnn_load(&m, NULL));
    NULL_CALL("rnn_load_params", rnn_load_params(s->model, NULL));
    NULL_CALL("rnn_optim_save", rnn_optim_save(NULL, "x"));
    NULL_CALL("rnn_optim_load", rnn_optim_load(NULL, "x"));
#undef NULL_CALL
    rnn_destroy(NULL);
    rnn_optim_destroy(NULL);
    rnn_state_destroy(NULL);
}

/* ------------------------------------------------------------------------
 * The target
 * ---------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    const uint8_t fail_at = next(&r);
    /* 4 MiB per block: larger models give RNN_E_NOMEM, which keeps every
     * input fast; the validation is the same at any size. */
    fuzz_heap_reset((size_t)4 << 20, fail_at);

    session s;
    memset(&s, 0, sizeof s);
    s.cfg = rnn_config_default(size_code(next(&r), 32), size_code(next(&r), 32));
    s.cfg.num_layers = size_code(next(&r), 4);
    const uint8_t bits = next(&r);
    s.cfg.bidirectional = bits & 1;
    s.cfg.nonlinearity = (bits >> 1) & 1;
    s.cfg.bias = (bits >> 2) & 1;
    s.cfg.batch_first = (bits >> 3) & 1;
    s.cfg.head_mode = (bits >> 4) & 1;
    s.cfg.output_size = size_code(next(&r), 4);
    s.cfg.seed = size;
    switch (bits >> 5) {
    case 1: s.cfg.struct_size = offsetof(rnn_config, seed); break;
    case 2: s.cfg.struct_size = sizeof(size_t); break;
    case 3: s.cfg.nonlinearity = 2; break;
    case 4: s.cfg.bias = 2; break;
    case 5: s.cfg.head_mode = -1; break;
    case 6: s.cfg.reserved = 1; break;
    case 7: s.cfg.bidirectional = 2; break;
    default: break;
    }
    s.dirs = s.cfg.bidirectional ? 2 : 1;

    rnn_t *model = (rnn_t *)&model;
    rnn_clear_error();
    rnn_status st = rnn_create(&model, &s.cfg);
    expect(&s, st, "rnn_create",
           OK_OR(ST(RNN_E_INVALID_ARG) | ST(RNN_E_SHAPE) | ST(RNN_E_NOMEM)));
    if ((bits >> 5) != 0 || s.cfg.input_size <= 0 || s.cfg.hidden_size <= 0 ||
        s.cfg.num_layers <= 0 || s.cfg.output_size < 0)
        FUZZ_CHECK(st == RNN_E_INVALID_ARG);
    if (st != RNN_OK)
        FUZZ_CHECK(model == NULL);
    s.model = model;
    if (model != NULL)
        snapshot(&s);

    while (r.left > 0) {
        const uint8_t code = next(&r), a = next(&r), b = next(&r), flags = next(&r);
        snapshot(&s);
        switch (code % FUZZ_OP_COUNT) {
        case FUZZ_OP_FORWARD: op_forward(&s, a, b, flags); break;
        case FUZZ_OP_HEAD_FORWARD: op_head(&s, 0, flags); break;
        case FUZZ_OP_HEAD_BACKWARD: op_head(&s, 1, flags); break;
        case FUZZ_OP_BACKWARD: op_backward(&s, flags); break;
        case FUZZ_OP_OPTIM: op_optim(&s, a, b, flags); break;
        case FUZZ_OP_LOSS: op_loss(&s, a, b, flags); break;
        case FUZZ_OP_STEP: op_step(&s, a, b, flags); break;
        case FUZZ_OP_TENSOR: op_tensor(&s, a, flags); break;
        case FUZZ_OP_SAVE_LOAD: op_save_load(&s, a, flags); break;
        case FUZZ_OP_CLIP: op_clip(&s, a, flags); break;
        case FUZZ_OP_INIT: op_init(&s, a, b, flags); break;
        case FUZZ_OP_DIAG: op_diag(&s, a, flags); break;
        default: op_nulls(&s); break;
        }
    }

    rnn_destroy(s.model);
    free(s.params_before);
    free(s.grads_before);
    FUZZ_CHECK(fuzz_heap_state.live_blocks == 0);
    FUZZ_CHECK(fuzz_heap_state.live_bytes == 0);
    return 0;
}
