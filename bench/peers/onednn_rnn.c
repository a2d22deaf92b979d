/* SPDX-License-Identifier: MIT
 *
 * onednn_rnn.c - the peer benchmark in oneDNN: the configurations of
 * rnn_bench through oneDNN's RNN primitives (C API, oneDNN 2.x): vanilla
 * RNN (--cell rnn, the default), LSTM (--cell lstm: vanilla_lstm, gates i,
 * f, g, o, no peephole, no projection) and GRU (--cell gru: lbr_gru, the
 * "linear before reset" GRU, which is torch.nn.GRU's: b_hn inside r * (.)).
 *
 *   onednn_rnn --config all --threads 1 [--cell lstm] [--csv FILE] [--quick]
 *
 * Times, with the same timer and CSV columns as rnn_bench (bench_common.c):
 *   forward  forward_inference over the sequence batch (dst_layer written)
 *   infer    the same forward_inference call (no workspace), under the op
 *            name of librnn's rnn_forward_inference: this peer's forward
 *            already is its inference, but librnn's is not, so each librnn
 *            op gets a peer row of its own name, timed in its own samples
 *            (config e too: T = 1, zero initial state)
 *   train    forward_training + backward (diff weights, diff bias and
 *            diff_src_layer, i.e. dx, which oneDNN always computes; librnn's
 *            train computes dx too)
 *   step     one step of B streams: forward_inference with T = 1 reading
 *            src_iter and writing dst_iter (two state buffers, swapped)
 *   reorder  the weight reorders a training loop needs after each update if
 *            it keeps the weights in PyTorch's layout (not part of "train":
 *            this is oneDNN at its best, weights kept in its own layouts)
 * Layers are chained, one primitive per layer (oneDNN's multi-layer
 * primitive needs equal input and hidden sizes). The initial state is zero
 * (src_iter NULL; the LSTM's src_iter_c too), tanh (vanilla RNN: or relu),
 * unidirectional or bidirectional_concat. Threads:
 * oneDNN's OpenMP runtime, set with --threads or OMP_NUM_THREADS.
 */
#define _GNU_SOURCE /* dladdr, RTLD_DEFAULT */

#include "bench_common.h"

#include <oneapi/dnnl/dnnl.h>

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                              \
    do {                                                                         \
        dnnl_status_t s_ = (call);                                               \
        if (s_ != dnnl_success) {                                                \
            fprintf(stderr, "onednn_rnn: %s failed (status %d) at line %d\n",    \
                    #call, (int)s_, __LINE__);                                   \
            return -1;                                                           \
        }                                                                        \
    } while (0)

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int relu;
static int cell; /* BENCH_CELL_* */

/* ---- memory helpers ----------------------------------------------------- */

static int md_tag(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims,
                  dnnl_format_tag_t tag)
{
    CHECK(dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag));
    return 0;
}

/* A memory object owning its buffer (allocated by oneDNN), filled with
 * uniform values in [-scale, scale) when scale > 0, else zeros. */
static int mem_new(dnnl_memory_t *m, const dnnl_memory_desc_t *md, float scale,
                   unsigned long long seed)
{
    CHECK(dnnl_memory_create(m, md, engine, DNNL_MEMORY_ALLOCATE));
    void *p = NULL;
    CHECK(dnnl_memory_get_data_handle(*m, &p));
    size_t bytes = dnnl_memory_desc_get_size(md);
    if (scale > 0)
        bench_fill_uniform(p, bytes / sizeof(float), -scale, scale, seed);
    else
        memset(p, 0, bytes);
    return 0;
}

static int reorder(dnnl_memory_t from, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *src_md = NULL, *dst_md = NULL;
    CHECK(dnnl_memory_get_memory_desc(from, &src_md));
    CHECK(dnnl_memory_get_memory_desc(to, &dst_md));
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, src_md, engine, dst_md, engine, NULL));
    CHECK(dnnl_primitive_create(&prim, pd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    CHECK(dnnl_primitive_execute(prim, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    return 0;
}

/* ---- one layer ---------------------------------------------------------- */

typedef struct layer {
    int slc, dic; /* input channels, output channels (D*H) */
    /* user-layout parameters: ldigo weights, ldgo bias */
    dnnl_memory_t w_layer, w_iter, bias;
    /* forward_inference, forward_training, backward, step (T = 1) */
    dnnl_primitive_desc_t inf_pd, tr_pd, bwd_pd, step_pd;
    dnnl_primitive_t inf, tr, bwd, step;
    dnnl_memory_t inf_wl, inf_wi, tr_wl, tr_wi, bwd_wl, bwd_wi, step_wl, step_wi;
    dnnl_memory_t dst, workspace, diff_src, diff_wl, diff_wi, diff_bias;
    dnnl_memory_t step_dst, state[2], state_c[2]; /* state_c: LSTM only */
} layer;

typedef struct net {
    bench_shape s;
    int nlayers;
    layer *l;
    dnnl_memory_t x, dy, xt; /* user src_layer [T,B,I], diff_dst_layer, x_t */
    int flip;                /* which state buffer the step reads */
} net;

static dnnl_rnn_direction_t direction(const bench_shape *s)
{
    return s->dirs == 2 ? dnnl_bidirectional_concat : dnnl_unidirectional_left2right;
}

static dnnl_alg_kind_t activation(void)
{
    return relu ? dnnl_eltwise_relu : dnnl_eltwise_tanh;
}

/* The state descriptors a cell's primitive takes (NULL: none, i.e. zero
 * initial state, final state not written). iter_c: the LSTM's cell state,
 * ignored by the other cells. */
typedef struct rnn_mds {
    const dnnl_memory_desc_t *src, *iter, *iter_c, *wl, *wi, *bias, *dst, *dst_iter,
        *dst_iter_c;
} rnn_mds;

/* A forward descriptor of the cell of --cell. */
static dnnl_status_t forward_desc(dnnl_rnn_desc_t *desc, dnnl_prop_kind_t prop,
                                  const bench_shape *s, const rnn_mds *m)
{
    switch (cell) {
    case BENCH_CELL_LSTM:
        return dnnl_lstm_forward_desc_init(desc, prop, direction(s), m->src, m->iter,
                                           m->iter_c, m->wl, m->wi, m->bias, m->dst,
                                           m->dst_iter, m->dst_iter_c, 0);
    case BENCH_CELL_GRU:
        return dnnl_lbr_gru_forward_desc_init(desc, prop, direction(s), m->src, m->iter,
                                              m->wl, m->wi, m->bias, m->dst, m->dst_iter,
                                              0);
    default:
        return dnnl_vanilla_rnn_forward_desc_init(desc, prop, activation(), direction(s),
                                                  m->src, m->iter, m->wl, m->wi, m->bias,
                                                  m->dst, m->dst_iter, 0, 0.0f, 0.0f);
    }
}

/* The backward descriptor (no state in or out): f forward's descriptors, d
 * the gradients'. */
static dnnl_status_t backward_desc(dnnl_rnn_desc_t *desc, const bench_shape *s,
                                   const rnn_mds *f, const rnn_mds *d)
{
    switch (cell) {
    case BENCH_CELL_LSTM:
        return dnnl_lstm_backward_desc_init(desc, dnnl_backward, direction(s), f->src,
                                            NULL, NULL, f->wl, f->wi, f->bias, f->dst,
                                            NULL, NULL, d->src, NULL, NULL, d->wl, d->wi,
                                            d->bias, d->dst, NULL, NULL, 0);
    case BENCH_CELL_GRU:
        return dnnl_lbr_gru_backward_desc_init(desc, dnnl_backward, direction(s), f->src,
                                               NULL, f->wl, f->wi, f->bias, f->dst, NULL,
                                               d->src, NULL, d->wl, d->wi, d->bias,
                                               d->dst, NULL, 0);
    default:
        return dnnl_vanilla_rnn_backward_desc_init(
            desc, dnnl_backward, activation(), direction(s), f->src, NULL, f->wl, f->wi,
            f->bias, f->dst, NULL, d->src, NULL, d->wl, d->wi, d->bias, d->dst, NULL, 0,
            0.0f, 0.0f);
    }
}

/* Weights in the layout a primitive descriptor wants, reordered from the
 * user's ldigo copy. */
static int weights_for(dnnl_primitive_desc_t pd, dnnl_query_t what, const layer *L,
                       dnnl_memory_t *wl, dnnl_memory_t *wi)
{
    const dnnl_memory_desc_t *md_l = dnnl_primitive_desc_query_md(pd, what, 0);
    const dnnl_memory_desc_t *md_i = dnnl_primitive_desc_query_md(pd, what, 1);
    if (mem_new(wl, md_l, 0, 0) || mem_new(wi, md_i, 0, 0))
        return -1;
    if (reorder(L->w_layer, *wl) || reorder(L->w_iter, *wi))
        return -1;
    return 0;
}

static int layer_init(layer *L, const bench_shape *s, int index)
{
    const int T = s->seq_len, B = s->batch, H = s->hidden, D = s->dirs;
    const int G = bench_cell_gates(cell);
    /* lbr_gru keeps b_hn apart from b_in: one bias more than gates. */
    const int G_bias = cell == BENCH_CELL_GRU ? G + 1 : G;
    L->slc = index == 0 ? s->input : D * H;
    L->dic = D * H;
    const float bound = 1.0f / sqrtf((float)H);
    dnnl_memory_desc_t src_md, dst_md, wl_md, wi_md, bias_md, wl_any, wi_any,
        bias_any;
    dnnl_dims_t src_dims = {T, B, L->slc}, dst_dims = {T, B, L->dic};
    dnnl_dims_t wl_dims = {1, D, L->slc, G, H}, wi_dims = {1, D, H, G, H};
    dnnl_dims_t bias_dims = {1, D, G_bias, H};
    if (md_tag(&src_md, 3, src_dims, dnnl_tnc) || md_tag(&dst_md, 3, dst_dims, dnnl_tnc) ||
        md_tag(&wl_md, 5, wl_dims, dnnl_ldigo) || md_tag(&wi_md, 5, wi_dims, dnnl_ldigo) ||
        md_tag(&bias_md, 4, bias_dims, dnnl_ldgo) ||
        md_tag(&wl_any, 5, wl_dims, dnnl_format_tag_any) ||
        md_tag(&wi_any, 5, wi_dims, dnnl_format_tag_any) ||
        md_tag(&bias_any, 4, bias_dims, dnnl_format_tag_any))
        return -1;
    if (mem_new(&L->w_layer, &wl_md, bound, 10 + index) ||
        mem_new(&L->w_iter, &wi_md, bound, 20 + index) ||
        mem_new(&L->bias, &bias_md, bound, 30 + index))
        return -1;

    dnnl_rnn_desc_t desc;
    const rnn_mds fwd = {.src = &src_md, .wl = &wl_any, .wi = &wi_any, .bias = &bias_md,
                         .dst = &dst_md};
    const rnn_mds diff = {.src = &src_md, .wl = &wl_any, .wi = &wi_any,
                          .bias = &bias_any, .dst = &dst_md};
    /* forward_inference */
    CHECK(forward_desc(&desc, dnnl_forward_inference, s, &fwd));
    CHECK(dnnl_primitive_desc_create(&L->inf_pd, &desc, NULL, engine, NULL));
    CHECK(dnnl_primitive_create(&L->inf, L->inf_pd));
    if (weights_for(L->inf_pd, dnnl_query_weights_md, L, &L->inf_wl, &L->inf_wi) ||
        mem_new(&L->dst, &dst_md, 0, 0))
        return -1;
    /* forward_training + backward */
    CHECK(forward_desc(&desc, dnnl_forward_training, s, &fwd));
    CHECK(dnnl_primitive_desc_create(&L->tr_pd, &desc, NULL, engine, NULL));
    CHECK(dnnl_primitive_create(&L->tr, L->tr_pd));
    if (weights_for(L->tr_pd, dnnl_query_weights_md, L, &L->tr_wl, &L->tr_wi) ||
        mem_new(&L->workspace,
                dnnl_primitive_desc_query_md(L->tr_pd, dnnl_query_workspace_md, 0), 0,
                0))
        return -1;
    CHECK(backward_desc(&desc, s, &fwd, &diff));
    CHECK(dnnl_primitive_desc_create(&L->bwd_pd, &desc, NULL, engine, L->tr_pd));
    CHECK(dnnl_primitive_create(&L->bwd, L->bwd_pd));
    if (weights_for(L->bwd_pd, dnnl_query_weights_md, L, &L->bwd_wl, &L->bwd_wi) ||
        mem_new(&L->diff_src, &src_md, 0, 0) ||
        mem_new(&L->diff_wl,
                dnnl_primitive_desc_query_md(L->bwd_pd, dnnl_query_diff_weights_md, 0),
                0, 0) ||
        mem_new(&L->diff_wi,
                dnnl_primitive_desc_query_md(L->bwd_pd, dnnl_query_diff_weights_md, 1),
                0, 0) ||
        mem_new(&L->diff_bias,
                dnnl_primitive_desc_query_md(L->bwd_pd, dnnl_query_diff_weights_md, 2),
                0, 0))
        return -1;
    /* one streaming step (unidirectional only) */
    if (D == 1) {
        dnnl_memory_desc_t s_src, s_dst, s_iter;
        dnnl_dims_t s_src_dims = {1, B, L->slc}, s_dst_dims = {1, B, H};
        dnnl_dims_t iter_dims = {1, 1, B, H};
        if (md_tag(&s_src, 3, s_src_dims, dnnl_tnc) ||
            md_tag(&s_dst, 3, s_dst_dims, dnnl_tnc) ||
            md_tag(&s_iter, 4, iter_dims, dnnl_ldnc))
            return -1;
        const int lstm = cell == BENCH_CELL_LSTM;
        const rnn_mds step = {.src = &s_src, .iter = &s_iter,
                              .iter_c = lstm ? &s_iter : NULL, .wl = &wl_any,
                              .wi = &wi_any, .bias = &bias_md, .dst = &s_dst,
                              .dst_iter = &s_iter, .dst_iter_c = lstm ? &s_iter : NULL};
        CHECK(forward_desc(&desc, dnnl_forward_inference, s, &step));
        CHECK(dnnl_primitive_desc_create(&L->step_pd, &desc, NULL, engine, NULL));
        CHECK(dnnl_primitive_create(&L->step, L->step_pd));
        if (weights_for(L->step_pd, dnnl_query_weights_md, L, &L->step_wl,
                        &L->step_wi) ||
            mem_new(&L->step_dst, &s_dst, 0, 0) || mem_new(&L->state[0], &s_iter, 0, 0) ||
            mem_new(&L->state[1], &s_iter, 0, 0))
            return -1;
        if (lstm && (mem_new(&L->state_c[0], &s_iter, 0, 0) ||
                     mem_new(&L->state_c[1], &s_iter, 0, 0)))
            return -1;
    }
    return 0;
}

static void layer_free(layer *L)
{
    dnnl_primitive_t prims[] = {L->inf, L->tr, L->bwd, L->step};
    dnnl_primitive_desc_t pds[] = {L->inf_pd, L->tr_pd, L->bwd_pd, L->step_pd};
    dnnl_memory_t mems[] = {L->w_layer, L->w_iter, L->bias, L->inf_wl, L->inf_wi,
                            L->tr_wl, L->tr_wi, L->bwd_wl, L->bwd_wi, L->step_wl,
                            L->step_wi, L->dst, L->workspace, L->diff_src,
                            L->diff_wl, L->diff_wi, L->diff_bias, L->step_dst,
                            L->state[0], L->state[1], L->state_c[0], L->state_c[1]};
    for (size_t k = 0; k < sizeof prims / sizeof prims[0]; ++k)
        if (prims[k])
            dnnl_primitive_destroy(prims[k]);
    for (size_t k = 0; k < sizeof pds / sizeof pds[0]; ++k)
        if (pds[k])
            dnnl_primitive_desc_destroy(pds[k]);
    for (size_t k = 0; k < sizeof mems / sizeof mems[0]; ++k)
        if (mems[k])
            dnnl_memory_destroy(mems[k]);
}

/* ---- the timed operations ---------------------------------------------- */

static int status_of_last_run;

static void run_forward(void *p)
{
    net *n = p;
    dnnl_memory_t src = n->x;
    for (int k = 0; k < n->nlayers; ++k) {
        layer *L = &n->l[k];
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC_LAYER, src},
                                  {DNNL_ARG_WEIGHTS_LAYER, L->inf_wl},
                                  {DNNL_ARG_WEIGHTS_ITER, L->inf_wi},
                                  {DNNL_ARG_BIAS, L->bias},
                                  {DNNL_ARG_DST_LAYER, L->dst}};
        if (dnnl_primitive_execute(L->inf, stream, 5, args) != dnnl_success)
            status_of_last_run = -1;
        src = L->dst;
    }
    dnnl_stream_wait(stream);
}

static void run_train(void *p)
{
    net *n = p;
    dnnl_memory_t src = n->x;
    for (int k = 0; k < n->nlayers; ++k) {
        layer *L = &n->l[k];
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC_LAYER, src},
                                  {DNNL_ARG_WEIGHTS_LAYER, L->tr_wl},
                                  {DNNL_ARG_WEIGHTS_ITER, L->tr_wi},
                                  {DNNL_ARG_BIAS, L->bias},
                                  {DNNL_ARG_DST_LAYER, L->dst},
                                  {DNNL_ARG_WORKSPACE, L->workspace}};
        if (dnnl_primitive_execute(L->tr, stream, 6, args) != dnnl_success)
            status_of_last_run = -1;
        src = L->dst;
    }
    dnnl_memory_t diff_dst = n->dy;
    for (int k = n->nlayers - 1; k >= 0; --k) {
        layer *L = &n->l[k];
        dnnl_memory_t layer_src = k == 0 ? n->x : n->l[k - 1].dst;
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC_LAYER, layer_src},
                                  {DNNL_ARG_WEIGHTS_LAYER, L->bwd_wl},
                                  {DNNL_ARG_WEIGHTS_ITER, L->bwd_wi},
                                  {DNNL_ARG_BIAS, L->bias},
                                  {DNNL_ARG_DST_LAYER, L->dst},
                                  {DNNL_ARG_DIFF_DST_LAYER, diff_dst},
                                  {DNNL_ARG_WORKSPACE, L->workspace},
                                  {DNNL_ARG_DIFF_SRC_LAYER, L->diff_src},
                                  {DNNL_ARG_DIFF_WEIGHTS_LAYER, L->diff_wl},
                                  {DNNL_ARG_DIFF_WEIGHTS_ITER, L->diff_wi},
                                  {DNNL_ARG_DIFF_BIAS, L->diff_bias}};
        if (dnnl_primitive_execute(L->bwd, stream, 11, args) != dnnl_success)
            status_of_last_run = -1;
        diff_dst = L->diff_src;
    }
    dnnl_stream_wait(stream);
}

static void run_step(void *p)
{
    net *n = p;
    dnnl_memory_t src = n->xt;
    const int from = n->flip, to = 1 - n->flip;
    for (int k = 0; k < n->nlayers; ++k) {
        layer *L = &n->l[k];
        dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC_LAYER, src},
                                  {DNNL_ARG_SRC_ITER, L->state[from]},
                                  {DNNL_ARG_WEIGHTS_LAYER, L->step_wl},
                                  {DNNL_ARG_WEIGHTS_ITER, L->step_wi},
                                  {DNNL_ARG_BIAS, L->bias},
                                  {DNNL_ARG_DST_LAYER, L->step_dst},
                                  {DNNL_ARG_DST_ITER, L->state[to]},
                                  {DNNL_ARG_SRC_ITER_C, L->state_c[from]},
                                  {DNNL_ARG_DST_ITER_C, L->state_c[to]}};
        const int nargs = L->state_c[0] != NULL ? 9 : 7; /* the LSTM's c */
        if (dnnl_primitive_execute(L->step, stream, nargs, args) != dnnl_success)
            status_of_last_run = -1;
        src = L->step_dst;
    }
    dnnl_stream_wait(stream);
    n->flip = to;
}

/* The reorders that put freshly updated ldigo weights into the training
 * primitives' layouts (forward and backward). */
static void run_reorder(void *p)
{
    net *n = p;
    for (int k = 0; k < n->nlayers; ++k) {
        layer *L = &n->l[k];
        if (reorder(L->w_layer, L->tr_wl) || reorder(L->w_iter, L->tr_wi) ||
            reorder(L->w_layer, L->bwd_wl) || reorder(L->w_iter, L->bwd_wi))
            status_of_last_run = -1;
    }
}

/* ---- main --------------------------------------------------------------- */

typedef struct runtime {
    char backend[64];
    char library[PATH_MAX];
    int threads;
} runtime;

static void identify(runtime *rt, int threads)
{
    const dnnl_version_t *v = dnnl_version();
    snprintf(rt->backend, sizeof rt->backend, "onednn-%d.%d.%d", v->major, v->minor,
             v->patch);
    Dl_info info;
    snprintf(rt->library, sizeof rt->library, "unknown");
    if (dladdr((void *)(uintptr_t)dnnl_version, &info) && info.dli_fname &&
        realpath(info.dli_fname, rt->library) == NULL)
        snprintf(rt->library, sizeof rt->library, "%s", info.dli_fname);
    /* oneDNN's CPU runtime here is OpenMP: libgomp is in the process. */
    void (*omp_set)(int) =
        (void (*)(int))(uintptr_t)dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    int (*omp_get)(void) =
        (int (*)(void))(uintptr_t)dlsym(RTLD_DEFAULT, "omp_get_max_threads");
    if (threads > 0 && omp_set)
        omp_set(threads);
    rt->threads = omp_get ? omp_get() : 1;
}

typedef struct op_spec {
    const char *op, *kind;
    void (*fn)(void *);
    double flops;
} op_spec;

static int time_shape(const bench_cli *cli, const runtime *rt, const bench_shape *s,
                      FILE *table, FILE *csv)
{
    net n;
    memset(&n, 0, sizeof n);
    n.s = *s;
    n.nlayers = s->layers;
    n.l = calloc((size_t)s->layers, sizeof *n.l);
    int rc = -1;
    if (n.l == NULL)
        return -1;
    dnnl_memory_desc_t x_md, dy_md, xt_md;
    dnnl_dims_t x_dims = {s->seq_len, s->batch, s->input};
    dnnl_dims_t dy_dims = {s->seq_len, s->batch, s->dirs * s->hidden};
    dnnl_dims_t xt_dims = {1, s->batch, s->input};
    if (md_tag(&x_md, 3, x_dims, dnnl_tnc) || md_tag(&dy_md, 3, dy_dims, dnnl_tnc) ||
        md_tag(&xt_md, 3, xt_dims, dnnl_tnc) || mem_new(&n.x, &x_md, 1.0f, 3) ||
        mem_new(&n.dy, &dy_md, 0.1f, 4) || mem_new(&n.xt, &xt_md, 1.0f, 5))
        goto done;
    for (int k = 0; k < n.nlayers; ++k)
        if (layer_init(&n.l[k], s, k) != 0)
            goto done;

    const int step_ok = s->dirs == 1;
    const int do_fwd = !s->step_only && (cli->ops & BENCH_OP_FORWARD);
    const int do_train = !s->step_only && (cli->ops & BENCH_OP_TRAIN);
    const int do_step = step_ok && (s->step_only || (cli->ops & BENCH_OP_STEP));
    const int do_infer = (cli->ops & BENCH_OP_INFER) != 0;
    const double fwd_flops = bench_forward_flops(s);
    op_spec ops[5];
    int count = 0;
    if (do_fwd)
        ops[count++] = (op_spec){"forward", "whole", run_forward, fwd_flops};
    if (do_train) {
        ops[count++] = (op_spec){"train", "whole", run_train,
                                        BENCH_TRAIN_FACTOR * fwd_flops};
        ops[count++] = (op_spec){"reorder", "part", run_reorder, 0};
    }
    if (do_step)
        ops[count++] = (op_spec){"step", "whole", run_step, bench_step_flops(s)};
    if (do_infer)
        ops[count++] = (op_spec){"infer", "whole", run_forward, fwd_flops};
    bench_item items[sizeof ops / sizeof ops[0]];
    status_of_last_run = 0;
    for (int k = 0; k < count; ++k) {
        items[k] = (bench_item){.fn = ops[k].fn, .ctx = &n, .t = {0, 0, 0, 0, 1}};
        ops[k].fn(&n); /* check it runs before timing */
    }
    if (status_of_last_run != 0) {
        fprintf(stderr, "onednn_rnn: execution failed for config %s\n", s->name);
        goto done;
    }
    bench_measure_many(items, count, &cli->plan);

    fprintf(table, "\nconfig %s: I=%d H=%d T=%d B=%d layers=%d dirs=%d %s %s\n", s->name,
            s->input, s->hidden, s->seq_len, s->batch, s->layers, s->dirs,
            bench_cell_name(cell), relu ? "relu" : "tanh");
    fprintf(table, "  %-18s %10s %10s %10s %8s %11s\n", "", "median", "min", "max",
            "GFLOP/s", "samples/s");
    for (int k = 0; k < count; ++k) {
        char a[32], b[32], c[32];
        const bench_timing *t = &items[k].t;
        fprintf(table, "  %-18s %10s %10s %10s", ops[k].op,
                bench_fmt_time(t->median, a, sizeof a), bench_fmt_time(t->min, b, sizeof b),
                bench_fmt_time(t->max, c, sizeof c));
        if (ops[k].flops > 0)
            fprintf(table, " %8.2f %11.0f\n", ops[k].flops / t->median * 1e-9,
                    s->batch / t->median);
        else
            fprintf(table, " %8s\n", "-");
        if (csv) {
            bench_row row = {"onednn", cli->label, rt->backend, rt->library, rt->threads,
                             s, relu ? "relu" : "tanh", ops[k].op, ops[k].kind, *t,
                             ops[k].flops, 0, ops[k].flops > 0 ? s->batch : 0};
            bench_csv_row(csv, &row);
        }
    }
    fflush(table);
    rc = 0;
done:
    for (int k = 0; k < n.nlayers; ++k)
        layer_free(&n.l[k]);
    free(n.l);
    if (n.x)
        dnnl_memory_destroy(n.x);
    if (n.dy)
        dnnl_memory_destroy(n.dy);
    if (n.xt)
        dnnl_memory_destroy(n.xt);
    return rc;
}

int main(int argc, char **argv)
{
    bench_cli cli;
    bench_cli_init(&cli);
    for (int i = 1; i < argc; ++i) {
        int used = bench_cli_parse(&cli, argc, argv, &i);
        if (used < 0)
            return 2;
        if (used)
            continue;
        FILE *out = strcmp(argv[i], "--help") == 0 ? stdout : stderr;
        fputs("usage: onednn_rnn [options]\n"
              "The configs of rnn_bench through oneDNN's vanilla RNN, LSTM or\n"
              "lbr_gru primitive (--cell).\n",
              out);
        bench_cli_usage(out);
        return out == stdout ? 0 : 2;
    }
    bench_cli_finish(&cli);
    relu = cli.relu;
    cell = cli.cell;
    if (relu && cell != BENCH_CELL_RNN) {
        fprintf(stderr, "onednn_rnn: --act relu is the vanilla RNN's only\n");
        return 2;
    }
    const int csv_stdout = cli.csv && strcmp(cli.csv, "-") == 0;
    FILE *table = csv_stdout ? stderr : stdout;
    FILE *csv = csv_stdout ? stdout : cli.csv ? fopen(cli.csv, "w") : NULL;
    if (cli.csv && csv == NULL) {
        perror(cli.csv);
        return 2;
    }
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
        fprintf(stderr, "onednn_rnn: no CPU engine\n");
        return 1;
    }
    runtime rt;
    identify(&rt, cli.threads);
    FILE *meta[2] = {table, csv};
    for (int k = 0; k < 2; ++k) {
        if (meta[k] == NULL || (k == 1 && meta[k] == table))
            continue;
        fprintf(meta[k], "# onednn_rnn: %s (%s), %s mode\n", rt.backend, rt.library,
                cli.quick ? "quick" : "full");
        fprintf(meta[k], "# threads: %d (omp_get_max_threads)\n", rt.threads);
        bench_print_machine(meta[k]);
    }
    if (csv)
        bench_csv_header(csv);
    int status = 0;
    for (int k = 0; k < cli.num_shapes; ++k)
        if (time_shape(&cli, &rt, &cli.shapes[k], table, csv) != 0)
            status = 1;
    bench_print_load(table, "load at end");
    if (csv && csv != table)
        bench_print_load(csv, "load at end");
    if (csv && csv != stdout)
        fclose(csv);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(engine);
    return status;
}
