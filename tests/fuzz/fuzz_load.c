/* SPDX-License-Identifier: MIT
 *
 * fuzz_load.c - libFuzzer target for the loaders: every input is offered
 * to rnn_load_buffer, to rnn_load_params_buffer (into a few fixed models
 * whose files are in the seed corpus, so mutations reach the checks past
 * the container) and to rnn_optim_load_buffer (optimizer states are seeds
 * too). Beyond "no crash, no UB, no leak" it checks what the
 * API promises:
 *   - a refused input gives RNN_E_FORMAT (or RNN_E_NOMEM), a message naming
 *     the function, *out == NULL, and leaves a loaded-into model bit for bit
 *     unchanged;
 *   - an accepted input gives a model that saves to a file which loads back
 *     to the same configuration and the same parameter bits, that accepts
 *     the input again through rnn_load_params_buffer, and that runs forward;
 *   - the input is read only (the buffer is compared after the calls).
 * Allocations go through a checking allocator (fuzz_common.h), which also
 * fails one allocation when the input's length says so, to reach the
 * out-of-memory paths of the loaders.
 */
#include "fuzz_common.h"

#include <math.h>

/* Models loaded into; their files are seeds (tests/fuzz/gen_corpus.c). */
enum { N_TARGETS = 3 };
static rnn_t *targets[N_TARGETS];

static rnn_config target_config(int i)
{
    rnn_config cfg = rnn_config_default(3, 4);
    cfg.seed = 7;
    if (i == 1) {
        cfg.num_layers = 2;
        cfg.bidirectional = 1;
        cfg.output_size = 2;
    } else if (i == 2) {
        cfg.bias = 0;
        cfg.nonlinearity = RNN_RELU;
        cfg.batch_first = 1;
        cfg.output_size = 1;
        cfg.head_mode = RNN_HEAD_ALL;
    }
    return cfg;
}

static void make_targets(void)
{
    if (targets[0] != NULL)
        return;
    for (int i = 0; i < N_TARGETS; ++i) {
        rnn_config cfg = target_config(i);
        FUZZ_CHECK(rnn_create(&targets[i], &cfg) == RNN_OK);
    }
}

static float *params_of(rnn_t *model, size_t *count)
{
    float *params = NULL;
    FUZZ_CHECK(rnn_params(model, &params, count) == RNN_OK);
    return params;
}

static int same_config(const rnn_config *a, const rnn_config *b)
{
    return a->input_size == b->input_size && a->hidden_size == b->hidden_size &&
           a->num_layers == b->num_layers &&
           a->bidirectional == b->bidirectional &&
           a->nonlinearity == b->nonlinearity && a->bias == b->bias &&
           a->batch_first == b->batch_first &&
           a->output_size == b->output_size && a->head_mode == b->head_mode;
}

/* A loaded model: round trip through rnn_save_buffer, reload of the input
 * into itself, and one small forward pass. */
static void check_loaded(rnn_t *model, const uint8_t *data, size_t size)
{
    rnn_config cfg = rnn_config_default(1, 1);
    FUZZ_CHECK(rnn_get_config(model, &cfg) == RNN_OK);
    size_t n;
    float *params = params_of(model, &n);

    size_t file_size = 0, written = 0;
    FUZZ_CHECK(rnn_save_size(model, &file_size) == RNN_OK);
    unsigned char *file = malloc(file_size);
    FUZZ_CHECK(file != NULL);
    rnn_status st = rnn_save_buffer(model, file, file_size, &written);
    if (st == RNN_OK) {
        FUZZ_CHECK(written == file_size);
        rnn_t *again = NULL;
        st = rnn_load_buffer(&again, file, file_size);
        FUZZ_CHECK(st == RNN_OK || st == RNN_E_NOMEM);
        if (st == RNN_OK) {
            rnn_config cfg2 = rnn_config_default(1, 1);
            FUZZ_CHECK(rnn_get_config(again, &cfg2) == RNN_OK);
            FUZZ_CHECK(same_config(&cfg, &cfg2));
            size_t n2;
            const float *params2 = params_of(again, &n2);
            FUZZ_CHECK(n2 == n && memcmp(params, params2, n * sizeof *params) == 0);
            rnn_destroy(again);
        }
    } else {
        FUZZ_CHECK(st == RNN_E_NOMEM);
    }
    free(file);

    /* The input describes this model exactly: it must load into it. */
    st = rnn_load_params_buffer(model, data, size);
    FUZZ_CHECK(st == RNN_OK || st == RNN_E_NOMEM);

    /* Two steps of one sequence; tiny, since the file bounds I and H. */
    const size_t in = (size_t)cfg.input_size * 2;
    float *x = calloc(in, sizeof *x);
    FUZZ_CHECK(x != NULL);
    for (size_t i = 0; i < in; ++i)
        x[i] = (float)((int)(i % 7) - 3) * 0.25f;
    st = rnn_forward(model, 2, 1, x, NULL, NULL, NULL, NULL);
    /* Parameters from a file may be NaN/Inf; both answers are fine. */
    FUZZ_CHECK(st == RNN_OK || st == RNN_E_NOMEM || st == RNN_E_NONFINITE);
    free(x);
}

/* An optimizer state: refused with RNN_E_FORMAT / RNN_E_NOMEM and a NULL
 * handle, or accepted, and then its bytes load back to the same bytes. */
static void load_optim(const uint8_t *data, size_t size)
{
    rnn_optim_t *optim = (rnn_optim_t *)&optim; /* a failure must reset it */
    rnn_clear_error();
    rnn_status st = rnn_optim_load_buffer(&optim, data, size);
    if (st != RNN_OK) {
        FUZZ_CHECK(optim == NULL);
        FUZZ_CHECK(st == RNN_E_FORMAT || st == RNN_E_NOMEM);
        FUZZ_CHECK(fuzz_message_names("rnn_optim_load_buffer"));
        return;
    }
    size_t file_size = 0, written = 0;
    FUZZ_CHECK(rnn_optim_save_size(optim, &file_size) == RNN_OK);
    unsigned char *file = malloc(file_size), *again = malloc(file_size);
    FUZZ_CHECK(file != NULL && again != NULL);
    FUZZ_CHECK(rnn_optim_save_buffer(optim, file, file_size, &written) == RNN_OK);
    FUZZ_CHECK(written == file_size);
    rnn_optim_t *reloaded = NULL;
    st = rnn_optim_load_buffer(&reloaded, file, file_size);
    FUZZ_CHECK(st == RNN_OK || st == RNN_E_NOMEM);
    if (st == RNN_OK) {
        FUZZ_CHECK(rnn_optim_save_buffer(reloaded, again, file_size, &written) ==
                   RNN_OK);
        FUZZ_CHECK(written == file_size && memcmp(file, again, file_size) == 0);
        rnn_optim_destroy(reloaded);
    }
    free(file);
    free(again);
    rnn_optim_destroy(optim);
}

static void load_params_into(rnn_t *model, const uint8_t *data, size_t size)
{
    size_t n;
    float *params = params_of(model, &n);
    float *before = malloc(n * sizeof *before);
    FUZZ_CHECK(before != NULL);
    memcpy(before, params, n * sizeof *before);
    rnn_clear_error();
    rnn_status st = rnn_load_params_buffer(model, data, size);
    if (st != RNN_OK) {
        FUZZ_CHECK(st == RNN_E_FORMAT || st == RNN_E_NOMEM);
        FUZZ_CHECK(fuzz_message_names("rnn_load_params_buffer"));
        FUZZ_CHECK(memcmp(before, params, n * sizeof *before) == 0);
    } else {
        /* Put the weights back so every input meets the same models. */
        memcpy(params, before, n * sizeof *before);
    }
    free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 64 MiB per block is far above what a fuzz input can describe. */
    fuzz_heap_reset((size_t)64 << 20, 0);
    make_targets();
    const size_t blocks_before = fuzz_heap_state.live_blocks;

    /* A private copy: the loaders must not write to it, and ASan sees any
     * read past its end. */
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);

    /* Every 16th length also fails an allocation, chosen by the length. */
    const size_t fail_at = size % 16 == 5 ? 1 + size / 16 % 8 : 0;

    rnn_status first = RNN_OK;
    for (int pass = 0; pass < (fail_at ? 2 : 1); ++pass) {
        fuzz_heap_reset((size_t)64 << 20, pass == 0 ? 0 : fail_at);
        rnn_t *model = (rnn_t *)&model; /* not NULL: a failure must reset it */
        rnn_clear_error();
        rnn_status st = rnn_load_buffer(&model, copy, size);
        if (st != RNN_OK) {
            FUZZ_CHECK(model == NULL);
            FUZZ_CHECK(st == RNN_E_FORMAT || st == RNN_E_NOMEM);
            FUZZ_CHECK(fuzz_message_names("rnn_load_buffer"));
            /* A planned failure changes the answer only to RNN_E_NOMEM. */
            FUZZ_CHECK(pass == 0 || st == RNN_E_NOMEM || st == first);
        } else {
            FUZZ_CHECK(model != NULL);
            FUZZ_CHECK(pass == 0 || first == RNN_OK);
            if (pass == 0)
                check_loaded(model, copy, size);
            rnn_destroy(model);
        }
        if (pass == 0)
            first = st;
        for (int i = 0; i < N_TARGETS; ++i)
            load_params_into(targets[i], copy, size);
        load_optim(copy, size);
    }

    FUZZ_CHECK(memcmp(copy, data, size) == 0);
    free(copy);
    /* Everything librnn allocated for this input was freed. */
    FUZZ_CHECK(fuzz_heap_state.live_blocks == blocks_before);
    return 0;
}
