/* SPDX-License-Identifier: MIT
 *
 * test_faults.c - allocation fault injection, the SQLite / zstd way.
 *
 * A scenario touches every part of librnn that allocates: models of several
 * configurations (head, bidirectional, 2 layers, no bias, batch_first),
 * forward (and again with a larger T and B, so the workspaces grow), head
 * forward/backward, backward, streaming state create + step (also with
 * packed weights), optimizers
 * (SGD with momentum, Adam, AdamW) create/step/save/load, model save to a
 * buffer and to a file (also over an existing file), load from a file and a
 * buffer, load_params from both, the spectral radius and the orthogonal
 * initialisation.
 *
 * A counting allocator (rnn_set_allocator) first runs it without failure to
 * count its N allocations. Then, for k = 1 .. N, the scenario runs again
 * from scratch with allocation k failing - once (transient) and from k on
 * until the call returns (persistent). The call that met the failure must:
 *   - return RNN_E_NOMEM with a message naming the function;
 *   - leave every output array of the caller, every model's parameters and
 *     gradients, every state and every file as they were (snapshots
 *     compared bit for bit), and set its out-pointer to NULL;
 *   - succeed when made again without the failure;
 * every other call must succeed, and at the end (everything destroyed) the
 * allocator must hold no block: no leak on any error path. The number of
 * allocation sites enumerated (N, and per function) is printed.
 *
 * cJSON, used by the loaders, allocates with malloc directly: those
 * allocations are not counted here (LeakSanitizer and valgrind see them).
 */
#define _POSIX_C_SOURCE 200809L /* mkdir, opendir, getpid */

#include "testutil.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * The counting, failing allocator
 * ---------------------------------------------------------------------- */

enum { HEADER = 16 }; /* size prefix; keeps blocks 16-byte aligned */

typedef struct heap {
    size_t calls;       /* malloc_fn calls so far */
    size_t fail_at;     /* 1-based call that fails; 0: none */
    int persistent;     /* fail every call from fail_at on */
    size_t injected;    /* failures returned so far */
    size_t live_blocks, live_bytes;
} heap;

static heap the_heap;

static void *counting_malloc(void *user, size_t size)
{
    heap *h = user;
    ++h->calls;
    if (h->fail_at != 0 &&
        (h->calls == h->fail_at || (h->persistent && h->calls > h->fail_at))) {
        ++h->injected;
        return NULL;
    }
    unsigned char *block = malloc(size + HEADER);
    if (block == NULL)
        return NULL;
    memcpy(block, &size, sizeof size);
    ++h->live_blocks;
    h->live_bytes += size;
    return block + HEADER;
}

static void counting_free(void *user, void *ptr)
{
    heap *h = user;
    if (ptr == NULL)
        return;
    unsigned char *block = (unsigned char *)ptr - HEADER;
    size_t size;
    memcpy(&size, block, sizeof size);
    if (h->live_blocks == 0 || h->live_bytes < size) {
        /* freeing something this allocator never gave out */
        fprintf(stderr, "counting_free: unknown block %p\n", ptr);
        abort();
    }
    --h->live_blocks;
    h->live_bytes -= size;
    free(block);
}

static int install_allocator(void **state)
{
    (void)state;
    memset(&the_heap, 0, sizeof the_heap);
    rnn_allocator a;
    a.struct_size = sizeof a;
    a.malloc_fn = counting_malloc;
    a.free_fn = counting_free;
    a.user = &the_heap;
    TU_OK(rnn_set_allocator(&a));
    return 0;
}

static int restore_allocator(void **state)
{
    (void)state;
    TU_OK(rnn_set_allocator(NULL));
    return 0;
}

/* ------------------------------------------------------------------------
 * The scenario's world: models, states, optimizers, the caller's arrays and
 * files, all reachable from one struct so that they can be snapshotted.
 * ---------------------------------------------------------------------- */

enum { I = 3, H = 4, O = 2, T = 5, B = 3, T2 = 7, B2 = 4 };
enum { N_MODELS = 6, N_STATES = 2, N_OPTIMS = 5, N_ARRAYS = 16, N_FILES = 3 };

/* Never a valid handle: a failing create/load must overwrite it with NULL. */
static char poison_byte;
#define POISON ((void *)&poison_byte)

typedef struct array {
    const char *name;
    float *p;
    size_t n;
} array;

typedef struct world {
    rnn_t *models[N_MODELS];     /* a, b, c, loaded from file, from buffer, spare */
    rnn_state_t *states[N_STATES];
    int32_t state_batch[N_STATES];
    int32_t state_layers[N_STATES];
    rnn_optim_t *optims[N_OPTIMS];
    array arrays[N_ARRAYS];      /* outputs the caller owns */
    size_t n_arrays;
    unsigned char *file_buf;     /* rnn_save_buffer output */
    size_t file_size;
    char dir[256];
    char files[N_FILES][320];    /* model a, model b, optimizer */
    /* inputs */
    float *x, *x2, *h0, *dy, *dy2, *dh_n, *dlogits, *x_t;
    int32_t lengths[B];
} world;

enum { MA, MB, MC, MFILE, MBUF, MSPARE };

static float *new_floats(size_t n, uint64_t seed)
{
    float *p = tu_floats(n);
    tu_rng rng = tu_rng_make(seed);
    tu_fill(&rng, p, n, -1.0, 1.0);
    return p;
}

static array *add_output(world *w, const char *name, size_t n)
{
    assert_true(w->n_arrays < N_ARRAYS);
    array *a = &w->arrays[w->n_arrays++];
    a->name = name;
    a->n = n;
    a->p = tu_floats(n);
    tu_sentinel_fill(a->p, n);
    return a;
}

static float *output(world *w, const char *name)
{
    for (size_t i = 0; i < w->n_arrays; ++i)
        if (strcmp(w->arrays[i].name, name) == 0)
            return w->arrays[i].p;
    fail_msg("no output array %s", name);
    return NULL;
}

static rnn_config config_of(int which)
{
    rnn_config cfg = rnn_config_default(I, H);
    cfg.seed = 11 + (uint64_t)which;
    switch (which) {
    case MA: /* one layer, head on the last step */
        cfg.output_size = O;
        break;
    case MB: /* two bidirectional layers with a head */
        cfg.num_layers = 2;
        cfg.bidirectional = 1;
        cfg.output_size = O;
        break;
    default: /* MC: two relu layers, no bias, batch_first, head on every step */
        cfg.num_layers = 2;
        cfg.nonlinearity = RNN_RELU;
        cfg.bias = 0;
        cfg.batch_first = 1;
        cfg.output_size = 1;
        cfg.head_mode = RNN_HEAD_ALL;
        break;
    }
    return cfg;
}

static void world_init(world *w)
{
    memset(w, 0, sizeof *w);
    const size_t hb = (size_t)2 * 2 * B * H; /* L*D*B*H of model b */
    w->x = new_floats((size_t)T * B * I, 1);
    w->x2 = new_floats((size_t)T2 * B2 * I, 2);
    w->h0 = new_floats(hb, 3);
    w->dy = new_floats((size_t)T * B * 2 * H, 4);
    w->dy2 = new_floats((size_t)T2 * B2 * 2 * H, 5);
    w->dh_n = new_floats(hb, 6);
    w->dlogits = new_floats((size_t)T2 * B2 * O, 7);
    w->x_t = new_floats((size_t)B * I, 8);
    w->lengths[0] = T;
    w->lengths[1] = 2;
    w->lengths[2] = 4;
    add_output(w, "y", (size_t)T2 * B2 * 2 * H);
    add_output(w, "h_n", (size_t)2 * 2 * B2 * H);
    add_output(w, "logits", (size_t)T2 * B2 * O);
    add_output(w, "dx", (size_t)T2 * B2 * I);
    add_output(w, "dh0", (size_t)2 * 2 * B2 * H);
    add_output(w, "y_t", (size_t)B * H);
    add_output(w, "step_logits", (size_t)B * O);
    add_output(w, "radius", 4);
    snprintf(w->dir, sizeof w->dir, "faults-%ld", (long)getpid());
    assert_int_equal(mkdir(w->dir, 0777), 0);
    snprintf(w->files[0], sizeof w->files[0], "%s/model_a.safetensors", w->dir);
    snprintf(w->files[1], sizeof w->files[1], "%s/model_b.safetensors", w->dir);
    snprintf(w->files[2], sizeof w->files[2], "%s/optim.safetensors", w->dir);
}

static void world_free(world *w)
{
    for (int i = 0; i < N_MODELS; ++i)
        rnn_destroy(w->models[i]);
    for (int i = 0; i < N_STATES; ++i)
        rnn_state_destroy(w->states[i]);
    for (int i = 0; i < N_OPTIMS; ++i)
        rnn_optim_destroy(w->optims[i]);
    for (size_t i = 0; i < w->n_arrays; ++i)
        free(w->arrays[i].p);
    free(w->file_buf);
    free(w->x);
    free(w->x2);
    free(w->h0);
    free(w->dy);
    free(w->dy2);
    free(w->dh_n);
    free(w->dlogits);
    free(w->x_t);
    for (int i = 0; i < N_FILES; ++i)
        unlink(w->files[i]);
    assert_int_equal(rmdir(w->dir), 0); /* fails if a temporary file is left */
}

/* ------------------------------------------------------------------------
 * Snapshots of everything a failing call must leave alone
 * ---------------------------------------------------------------------- */

typedef struct blob {
    unsigned char *p;
    size_t n;
} blob;

typedef struct snapshot {
    blob params[N_MODELS], grads[N_MODELS], states[N_STATES];
    blob arrays[N_ARRAYS], file_buf, files[N_FILES];
    int64_t optim_steps[N_OPTIMS];
    size_t dir_entries;
} snapshot;

static blob copy_blob(const void *p, size_t n)
{
    blob b = {malloc(n ? n : 1), n};
    assert_non_null(b.p);
    if (n)
        memcpy(b.p, p, n);
    return b;
}

static blob read_whole(const char *path)
{
    blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return b; /* absent: n = 0, p = NULL */
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(size > 0 ? (size_t)size : 1);
    assert_non_null(b.p);
    b.n = fread(b.p, 1, (size_t)size, f);
    fclose(f);
    return b;
}

static size_t count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void take(const world *w, snapshot *s)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < N_MODELS; ++i) {
        if (w->models[i] == NULL || w->models[i] == POISON)
            continue;
        float *p, *g;
        size_t n;
        TU_OK(rnn_params(w->models[i], &p, &n));
        TU_OK(rnn_grads(w->models[i], &g, NULL));
        s->params[i] = copy_blob(p, n * sizeof *p);
        s->grads[i] = copy_blob(g, n * sizeof *g);
    }
    for (int i = 0; i < N_STATES; ++i) {
        if (w->states[i] == NULL || w->states[i] == POISON)
            continue;
        const size_t n = (size_t)w->state_layers[i] * w->state_batch[i] * H;
        float *h = tu_floats(n);
        TU_OK(rnn_state_get(w->states[i], h));
        s->states[i] = copy_blob(h, n * sizeof *h);
        free(h);
    }
    for (int i = 0; i < N_OPTIMS; ++i)
        if (w->optims[i] != NULL && w->optims[i] != POISON)
            TU_OK(rnn_optim_step_count(w->optims[i], &s->optim_steps[i]));
    for (size_t i = 0; i < w->n_arrays; ++i)
        s->arrays[i] = copy_blob(w->arrays[i].p, w->arrays[i].n * sizeof(float));
    if (w->file_buf != NULL)
        s->file_buf = copy_blob(w->file_buf, w->file_size);
    for (int i = 0; i < N_FILES; ++i)
        s->files[i] = read_whole(w->files[i]);
    s->dir_entries = count_entries(w->dir);
}

static int same_blob(const char *what, int index, const blob *a, const blob *b)
{
    if (a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0))
        return 1;
    fprintf(stderr, "  changed by the failing call: %s %d\n", what, index);
    return 0;
}

/* 1 when the world still matches the snapshot. */
static int unchanged(const world *w, const snapshot *before)
{
    snapshot now;
    take(w, &now);
    int ok = 1;
    for (int i = 0; i < N_MODELS; ++i) {
        ok &= same_blob("parameters of model", i, &before->params[i], &now.params[i]);
        ok &= same_blob("gradients of model", i, &before->grads[i], &now.grads[i]);
    }
    for (int i = 0; i < N_STATES; ++i)
        ok &= same_blob("state", i, &before->states[i], &now.states[i]);
    for (int i = 0; i < N_OPTIMS; ++i)
        if (before->optim_steps[i] != now.optim_steps[i]) {
            fprintf(stderr, "  changed: step count of optimizer %d\n", i);
            ok = 0;
        }
    for (size_t i = 0; i < w->n_arrays; ++i)
        ok &= same_blob(w->arrays[i].name, 0, &before->arrays[i], &now.arrays[i]);
    ok &= same_blob("save buffer", 0, &before->file_buf, &now.file_buf);
    for (int i = 0; i < N_FILES; ++i)
        ok &= same_blob("file", i, &before->files[i], &now.files[i]);
    if (before->dir_entries != now.dir_entries) {
        fprintf(stderr, "  files in %s: %zu before, %zu after\n", w->dir,
                before->dir_entries, now.dir_entries);
        ok = 0;
    }
    /* free the current snapshot */
    blob *all[] = {now.params, now.grads, now.states, now.arrays, now.files};
    const size_t counts[] = {N_MODELS, N_MODELS, N_STATES, N_ARRAYS, N_FILES};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; ++k)
        for (size_t i = 0; i < counts[k]; ++i)
            free(all[k][i].p);
    free(now.file_buf.p);
    return ok;
}

static void drop(snapshot *s)
{
    blob *all[] = {s->params, s->grads, s->states, s->arrays, s->files};
    const size_t counts[] = {N_MODELS, N_MODELS, N_STATES, N_ARRAYS, N_FILES};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; ++k)
        for (size_t i = 0; i < counts[k]; ++i)
            free(all[k][i].p);
    free(s->file_buf.p);
}

/* ------------------------------------------------------------------------
 * The scenario: one API call per step
 * ---------------------------------------------------------------------- */

typedef struct step {
    const char *func; /* the function called, which a failure must name */
    rnn_status (*run)(world *w);
} step;

static rnn_status create_model(world *w, int which)
{
    rnn_config cfg = config_of(which);
    w->models[which] = POISON;
    return rnn_create(&w->models[which], &cfg);
}
static rnn_status s_create_a(world *w) { return create_model(w, MA); }
static rnn_status s_create_b(world *w) { return create_model(w, MB); }
static rnn_status s_create_c(world *w) { return create_model(w, MC); }

static rnn_status s_forward_b(world *w)
{
    return rnn_forward(w->models[MB], T, B, w->x, w->lengths, w->h0,
                       output(w, "y"), output(w, "h_n"));
}
static rnn_status s_head_forward_b(world *w)
{
    return rnn_head_forward(w->models[MB], output(w, "logits"));
}
static rnn_status s_head_backward_b(world *w)
{
    return rnn_head_backward(w->models[MB], w->dlogits);
}
static rnn_status s_backward_b(world *w)
{
    return rnn_backward(w->models[MB], w->dy, w->dh_n, output(w, "dx"),
                        output(w, "dh0"));
}
/* Larger T and B than before: every workspace must grow. */
static rnn_status s_forward_b_grow(world *w)
{
    return rnn_forward(w->models[MB], T2, B2, w->x2, NULL, NULL, output(w, "y"),
                       output(w, "h_n"));
}
static rnn_status s_backward_b_grow(world *w)
{
    return rnn_backward(w->models[MB], w->dy2, NULL, output(w, "dx"), NULL);
}
static rnn_status s_forward_a(world *w)
{
    return rnn_forward(w->models[MA], T, B, w->x, NULL, NULL, output(w, "y"), NULL);
}
static rnn_status s_head_forward_a(world *w)
{
    return rnn_head_forward(w->models[MA], output(w, "logits"));
}
static rnn_status s_head_backward_a(world *w)
{
    return rnn_head_backward(w->models[MA], w->dlogits);
}
static rnn_status s_backward_a(world *w)
{
    return rnn_backward(w->models[MA], NULL, NULL, output(w, "dx"), NULL);
}
static rnn_status s_forward_c(world *w)
{
    return rnn_forward(w->models[MC], T, B, w->x, w->lengths, NULL,
                       output(w, "y"), NULL);
}
static rnn_status s_head_forward_c(world *w)
{
    return rnn_head_forward(w->models[MC], output(w, "logits"));
}
static rnn_status s_head_backward_c(world *w)
{
    return rnn_head_backward(w->models[MC], w->dlogits);
}
static rnn_status s_backward_c(world *w)
{
    return rnn_backward(w->models[MC], NULL, NULL, output(w, "dx"), NULL);
}

static rnn_status create_state(world *w, int index, int which)
{
    w->states[index] = POISON;
    w->state_batch[index] = B;
    w->state_layers[index] = config_of(which).num_layers;
    return rnn_state_create(&w->states[index], w->models[which], B);
}
static rnn_status s_state_a(world *w) { return create_state(w, 0, MA); }
static rnn_status s_state_c(world *w) { return create_state(w, 1, MC); }
static rnn_status s_step_a(world *w)
{
    return rnn_step(w->models[MA], w->states[0], w->x_t, output(w, "y_t"));
}
static rnn_status s_step_head_a(world *w)
{
    return rnn_step_head(w->models[MA], w->states[0], output(w, "step_logits"));
}
static rnn_status s_pack_c(world *w) { return rnn_pack_weights(w->models[MC]); }
static rnn_status s_step_c(world *w)
{
    return rnn_step(w->models[MC], w->states[1], w->x_t, output(w, "y_t"));
}

static rnn_status create_optim(world *w, int index, int32_t kind, int which)
{
    rnn_optim_config oc = rnn_optim_config_default(kind, 0.01f);
    if (kind == RNN_OPTIM_SGD) {
        oc.momentum = 0.9f;
        oc.nesterov = 1;
    }
    w->optims[index] = POISON;
    return rnn_optim_create(&w->optims[index], w->models[which], &oc);
}
static rnn_status s_sgd_create(world *w) { return create_optim(w, 0, RNN_OPTIM_SGD, MB); }
static rnn_status s_adam_create(world *w) { return create_optim(w, 1, RNN_OPTIM_ADAM, MA); }
static rnn_status s_adamw_create(world *w) { return create_optim(w, 2, RNN_OPTIM_ADAMW, MC); }
static rnn_status s_sgd_step(world *w) { return rnn_optim_step(w->optims[0], w->models[MB]); }
static rnn_status s_adam_step(world *w) { return rnn_optim_step(w->optims[1], w->models[MA]); }
static rnn_status s_adamw_step(world *w) { return rnn_optim_step(w->optims[2], w->models[MC]); }
static rnn_status s_optim_save(world *w) { return rnn_optim_save(w->optims[1], w->files[2]); }
static rnn_status s_optim_load(world *w)
{
    w->optims[3] = POISON;
    return rnn_optim_load(&w->optims[3], w->files[2]);
}
static rnn_status s_optim_load_buffer(world *w)
{
    blob file = read_whole(w->files[2]);
    assert_non_null(file.p);
    w->optims[4] = POISON;
    rnn_status st = rnn_optim_load_buffer(&w->optims[4], file.p, file.n);
    free(file.p);
    return st;
}

static rnn_status s_save_buffer(world *w)
{
    size_t size = 0;
    TU_OK(rnn_save_size(w->models[MB], &size));
    if (w->file_buf == NULL) {
        w->file_buf = malloc(size);
        assert_non_null(w->file_buf);
        memset(w->file_buf, 0xa5, size);
        w->file_size = size;
    }
    size_t written = 0;
    rnn_status st = rnn_save_buffer(w->models[MB], w->file_buf, w->file_size, &written);
    if (st == RNN_OK)
        assert_int_equal(written, size);
    return st;
}
static rnn_status s_save_a(world *w) { return rnn_save(w->models[MA], w->files[0]); }
static rnn_status s_save_b(world *w) { return rnn_save(w->models[MB], w->files[1]); }
/* Over the existing file: a failure must leave the old one whole. */
static rnn_status s_save_b_again(world *w) { return rnn_save(w->models[MB], w->files[1]); }
static rnn_status s_load_file(world *w)
{
    w->models[MFILE] = POISON;
    return rnn_load(&w->models[MFILE], w->files[1]);
}
static rnn_status s_load_buffer(world *w)
{
    w->models[MBUF] = POISON;
    return rnn_load_buffer(&w->models[MBUF], w->file_buf, w->file_size);
}
static rnn_status s_load_params_file(world *w)
{
    return rnn_load_params(w->models[MA], w->files[0]);
}
static rnn_status s_load_params_buffer(world *w)
{
    return rnn_load_params_buffer(w->models[MFILE], w->file_buf, w->file_size);
}
static rnn_status s_spectral(world *w)
{
    return rnn_spectral_radius(w->models[MB], output(w, "radius"));
}
static rnn_status s_init_orthogonal_b(world *w)
{
    return rnn_init(w->models[MB], RNN_INIT_ORTHOGONAL, 5);
}
static rnn_status s_init_orthogonal_c(world *w)
{
    return rnn_init(w->models[MC], RNN_INIT_ORTHOGONAL, 6);
}
static rnn_status s_create_spare(world *w)
{
    /* a model from the configuration of a loaded one */
    rnn_config cfg = rnn_config_default(1, 1);
    TU_OK(rnn_get_config(w->models[MBUF], &cfg));
    w->models[MSPARE] = POISON;
    return rnn_create(&w->models[MSPARE], &cfg);
}

#define STEP(func, fn) { func, fn }
static const step scenario[] = {
    STEP("rnn_create", s_create_a),
    STEP("rnn_create", s_create_b),
    STEP("rnn_create", s_create_c),
    STEP("rnn_forward", s_forward_b),
    STEP("rnn_head_forward", s_head_forward_b),
    STEP("rnn_head_backward", s_head_backward_b),
    STEP("rnn_backward", s_backward_b),
    STEP("rnn_forward", s_forward_a),
    STEP("rnn_head_forward", s_head_forward_a),
    STEP("rnn_head_backward", s_head_backward_a),
    STEP("rnn_backward", s_backward_a),
    STEP("rnn_forward", s_forward_c),
    STEP("rnn_head_forward", s_head_forward_c),
    STEP("rnn_head_backward", s_head_backward_c),
    STEP("rnn_backward", s_backward_c),
    STEP("rnn_forward", s_forward_b_grow),
    STEP("rnn_head_forward", s_head_forward_b),
    STEP("rnn_head_backward", s_head_backward_b),
    STEP("rnn_backward", s_backward_b_grow),
    STEP("rnn_state_create", s_state_a),
    STEP("rnn_step", s_step_a),
    STEP("rnn_step", s_step_a),
    STEP("rnn_step_head", s_step_head_a),
    STEP("rnn_state_create", s_state_c),
    STEP("rnn_step", s_step_c),
    STEP("rnn_pack_weights", s_pack_c),
    STEP("rnn_step", s_step_c),
    STEP("rnn_optim_create", s_sgd_create),
    STEP("rnn_optim_create", s_adam_create),
    STEP("rnn_optim_create", s_adamw_create),
    STEP("rnn_optim_step", s_sgd_step),
    STEP("rnn_optim_step", s_sgd_step),
    STEP("rnn_optim_step", s_adam_step),
    STEP("rnn_optim_step", s_adamw_step),
    STEP("rnn_optim_save", s_optim_save),
    STEP("rnn_optim_load", s_optim_load),
    STEP("rnn_optim_load_buffer", s_optim_load_buffer),
    STEP("rnn_save_buffer", s_save_buffer),
    STEP("rnn_save", s_save_a),
    STEP("rnn_save", s_save_b),
    STEP("rnn_save", s_save_b_again),
    STEP("rnn_load", s_load_file),
    STEP("rnn_load_buffer", s_load_buffer),
    STEP("rnn_create", s_create_spare),
    STEP("rnn_load_params", s_load_params_file),
    STEP("rnn_load_params_buffer", s_load_params_buffer),
    STEP("rnn_spectral_radius", s_spectral),
    STEP("rnn_init", s_init_orthogonal_b),
    STEP("rnn_init", s_init_orthogonal_c),
};
enum { N_STEPS = sizeof scenario / sizeof scenario[0] };

/* ------------------------------------------------------------------------
 * Running it
 * ---------------------------------------------------------------------- */

static int any_poison(const world *w)
{
    for (int i = 0; i < N_MODELS; ++i)
        if (w->models[i] == POISON)
            return 1;
    for (int i = 0; i < N_STATES; ++i)
        if (w->states[i] == POISON)
            return 1;
    for (int i = 0; i < N_OPTIMS; ++i)
        if (w->optims[i] == POISON)
            return 1;
    return 0;
}

/* Problems are collected over every run and reported together: one broken
 * error path should not hide the others. */
static size_t problems;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static void problem(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fputs("PROBLEM: ", stderr);
    vfprintf(stderr, fmt, args);
    fputc('\n', stderr);
    va_end(args);
    ++problems;
}

static void clear_poison(world *w)
{
    for (int i = 0; i < N_MODELS; ++i)
        if (w->models[i] == POISON)
            w->models[i] = NULL;
    for (int i = 0; i < N_STATES; ++i)
        if (w->states[i] == POISON)
            w->states[i] = NULL;
    for (int i = 0; i < N_OPTIMS; ++i)
        if (w->optims[i] == POISON)
            w->optims[i] = NULL;
}

typedef struct outcome {
    int failed_step;           /* the step that met the failure, or -1 */
    size_t allocs[N_STEPS];    /* allocations made by each step */
} outcome;

/* Runs the whole scenario with allocation `fail_at` failing (0: none) and
 * checks every step; returns which step met the failure. */
static outcome run_scenario(size_t fail_at, int persistent)
{
    outcome out;
    memset(&out, 0, sizeof out);
    out.failed_step = -1;
    world w;
    world_init(&w);
    the_heap.calls = 0;
    the_heap.injected = 0;
    the_heap.fail_at = fail_at;
    the_heap.persistent = persistent;
    const size_t live_before = the_heap.live_blocks;

    for (int i = 0; i < N_STEPS; ++i) {
        const step *s = &scenario[i];
        snapshot before;
        take(&w, &before);
        const size_t calls_before = the_heap.calls;
        const size_t injected_before = the_heap.injected;
        rnn_clear_error();
        rnn_status st = s->run(&w);
        out.allocs[i] = the_heap.calls - calls_before;
        if (the_heap.injected == injected_before) {
            if (st != RNN_OK)
                problem("step %d (%s) without injected failure: status %d, \"%s\"",
                        i, s->func, (int)st, rnn_last_error());
            drop(&before);
            continue;
        }
        /* This call met the failure. */
        out.failed_step = i;
        if (st != RNN_E_NOMEM)
            problem("allocation %zu failed inside step %d (%s), which returned "
                    "%d (\"%s\") instead of RNN_E_NOMEM",
                    fail_at, i, s->func, (int)st, rnn_last_error());
        const char *msg = rnn_last_error();
        if (msg[0] == '\0' || strstr(msg, s->func) != msg)
            problem("step %d: the RNN_E_NOMEM message \"%s\" does not name %s",
                    i, msg, s->func);
        if (any_poison(&w)) {
            problem("step %d (%s) failed without setting its out-pointer to NULL",
                    i, s->func);
            clear_poison(&w);
        }
        if (!unchanged(&w, &before))
            problem("step %d (%s) changed the caller's data although it failed "
                    "(allocation %zu)", i, s->func, fail_at);
        drop(&before);
        /* The same call again, without the failure, must succeed. */
        the_heap.fail_at = 0;
        rnn_clear_error();
        st = s->run(&w);
        if (st != RNN_OK)
            problem("step %d (%s) failed again after the injected failure: %d \"%s\"",
                    i, s->func, (int)st, rnn_last_error());
    }
    assert_true(fail_at == 0 || the_heap.injected > 0);
    world_free(&w);
    if (the_heap.live_blocks != live_before)
        problem("leak: %zu blocks (%zu bytes) still allocated after the "
                "scenario with allocation %zu failing",
                the_heap.live_blocks - live_before, the_heap.live_bytes,
                fail_at);
                the_heap.fail_at = 0;
    return out;
}

static void every_allocation_failure_is_reported_and_recovered(void **state)
{
    (void)state;
    const outcome clean = run_scenario(0, 0);
    size_t total = 0;
    for (int i = 0; i < N_STEPS; ++i)
        total += clean.allocs[i];
    printf("fault injection: %zu allocation sites enumerated in %d calls\n",
           total, N_STEPS);
    /* Per function, in scenario order. */
    const char *seen[N_STEPS];
    size_t n_seen = 0;
    for (int i = 0; i < N_STEPS; ++i) {
        size_t j = 0;
        while (j < n_seen && strcmp(seen[j], scenario[i].func) != 0)
            ++j;
        if (j == n_seen)
            seen[n_seen++] = scenario[i].func;
    }
    for (size_t j = 0; j < n_seen; ++j) {
        size_t sum = 0;
        for (int i = 0; i < N_STEPS; ++i)
            if (strcmp(scenario[i].func, seen[j]) == 0)
                sum += clean.allocs[i];
        printf("  %-24s %zu\n", seen[j], sum);
    }
    assert_true(total > 0);

    /* Every allocation failed once, then from there on. */
    size_t hit[N_STEPS] = {0};
    for (int persistent = 0; persistent <= 1; ++persistent) {
        for (size_t k = 1; k <= total; ++k) {
            const outcome o = run_scenario(k, persistent);
            assert_true(o.failed_step >= 0);
            ++hit[o.failed_step];
        }
    }
    /* Each step that allocates met a failure at each of its allocations. */
    for (int i = 0; i < N_STEPS; ++i)
        if (clean.allocs[i] > 0 && hit[i] < 2 * clean.allocs[i])
            problem("step %d (%s): %zu allocations but only %zu failures met",
                    i, scenario[i].func, clean.allocs[i], hit[i]);
    fflush(stdout);
    if (problems > 0)
        fail_msg("%zu problems (listed above)", problems);
}

/* The allocations that must happen: a model, its workspaces, a state, an
 * optimizer and a loaded file all go through the caller's allocator. */
static void every_object_goes_through_the_allocator(void **state)
{
    (void)state;
    const outcome clean = run_scenario(0, 0);
    const char *must[] = {"rnn_create", "rnn_forward", "rnn_backward",
                          "rnn_head_forward", "rnn_state_create",
                          "rnn_optim_create", "rnn_save", "rnn_load",
                          "rnn_load_buffer", "rnn_load_params",
                          "rnn_load_params_buffer", "rnn_spectral_radius",
                          "rnn_init", "rnn_optim_load",
                          "rnn_optim_load_buffer"};
    for (size_t m = 0; m < sizeof must / sizeof must[0]; ++m) {
        size_t sum = 0;
        for (int i = 0; i < N_STEPS; ++i)
            if (strcmp(scenario[i].func, must[m]) == 0)
                sum += clean.allocs[i];
        if (sum == 0)
            fail_msg("%s made no allocation through the allocator", must[m]);
    }
    /* rnn_step never allocates. */
    for (int i = 0; i < N_STEPS; ++i)
        if (strcmp(scenario[i].func, "rnn_step") == 0)
            assert_int_equal(clean.allocs[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_object_goes_through_the_allocator,
                                        install_allocator, restore_allocator),
        cmocka_unit_test_setup_teardown(every_allocation_failure_is_reported_and_recovered,
                                        install_allocator, restore_allocator),
    };
    return tu_run("test_faults", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
