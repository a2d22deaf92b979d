/* SPDX-License-Identifier: MIT
 *
 * golden_hash.c - one fixed run per model shape (layers, bidirectional,
 * relu, batch_first, lengths, heads on the last or every step), each hashed
 * with FNV-1a 64 over every output, gradient and parameter of three Adam
 * training steps with clipping, the streamed and packed steps, and the
 * bytes of the saved model and optimizer. A refactor that must keep the same
 * bits prints the same lines before and after, for the same BLAS and thread
 * count:
 *
 *   cc -O2 tools/golden_hash.c -Iinclude -Lbuild -lrnn -Wl,-rpath,$PWD/build \
 *      -o golden_hash && OPENBLAS_NUM_THREADS=1 ./golden_hash
 */
#include <rnn.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct shape {
    int32_t input, hidden, layers, bidirectional, relu, batch_first;
    int32_t outputs, head_all, seq_len, batch, with_lengths;
} shape;

static uint64_t hash_bytes(uint64_t hash, const void *data, size_t bytes)
{
    const unsigned char *byte = data;
    for (size_t i = 0; i < bytes; ++i) {
        hash ^= byte[i];
        hash *= 1099511628211ull;
    }
    return hash;
}

static uint64_t hash_floats(uint64_t hash, const float *data, size_t count)
{
    return hash_bytes(hash, data, count * sizeof(float));
}

static void fill(float *x, size_t count, unsigned seed)
{
    for (size_t i = 0; i < count; ++i) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static void *alloc_floats(size_t count)
{
    void *p = calloc(count + 1, sizeof(float));
    if (p == NULL) {
        fputs("golden_hash: out of memory\n", stderr);
        exit(1);
    }
    return p;
}

#define OK(call)                                                               \
    do {                                                                       \
        if ((call) != RNN_OK) {                                                \
            fprintf(stderr, "%s: %s\n", #call, rnn_last_error());              \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static uint64_t hash_saved(uint64_t hash, const rnn_t *model,
                           const rnn_optim_t *optim)
{
    size_t size;
    OK(rnn_save_size(model, &size));
    void *bytes = malloc(size);
    OK(rnn_save_buffer(model, bytes, size, &size));
    hash = hash_bytes(hash, bytes, size);
    rnn_t *loaded;
    OK(rnn_load_buffer(&loaded, bytes, size));
    rnn_destroy(loaded);
    free(bytes);
    OK(rnn_optim_save_size(optim, &size));
    bytes = malloc(size);
    OK(rnn_optim_save_buffer(optim, bytes, size, &size));
    hash = hash_bytes(hash, bytes, size);
    free(bytes);
    return hash;
}

static uint64_t hash_steps(uint64_t hash, rnn_t *model, const shape *s,
                           const float *x)
{
    const int32_t b = s->batch;
    rnn_state_t *state;
    OK(rnn_state_create(&state, model, b));
    float *y_t = alloc_floats((size_t)b * s->hidden);
    float *logits = alloc_floats((size_t)b * s->outputs);
    for (int packed = 0; packed < 2; ++packed) {
        if (packed)
            OK(rnn_pack_weights(model));
        OK(rnn_state_reset(state, NULL));
        for (int32_t t = 0; t < s->seq_len; ++t) {
            OK(rnn_step(model, state, x + (size_t)t * b * s->input, y_t));
            hash = hash_floats(hash, y_t, (size_t)b * s->hidden);
        }
        if (s->outputs > 0) {
            OK(rnn_step_head(model, state, logits));
            hash = hash_floats(hash, logits, (size_t)b * s->outputs);
        }
    }
    free(logits);
    free(y_t);
    rnn_state_destroy(state);
    return hash;
}

static uint64_t run(const shape *s)
{
    rnn_config cfg = rnn_config_default(s->input, s->hidden);
    cfg.num_layers = s->layers;
    cfg.bidirectional = s->bidirectional;
    cfg.nonlinearity = s->relu ? RNN_RELU : RNN_TANH;
    cfg.batch_first = s->batch_first;
    cfg.output_size = s->outputs;
    cfg.head_mode = s->head_all ? RNN_HEAD_ALL : RNN_HEAD_LAST;
    cfg.seed = 11;
    rnn_t *model;
    OK(rnn_create(&model, &cfg));
    const rnn_optim_config oc = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.01f);
    rnn_optim_t *optim;
    OK(rnn_optim_create(&optim, model, &oc));

    const size_t dirs = s->bidirectional ? 2 : 1, tb = (size_t)s->seq_len * s->batch;
    const size_t x_n = tb * s->input, y_n = tb * dirs * s->hidden;
    const size_t h_n_n = (size_t)s->layers * dirs * s->batch * s->hidden;
    const size_t logits_n = (s->head_all ? tb : (size_t)s->batch) * s->outputs;
    float *x = alloc_floats(x_n), *y = alloc_floats(y_n), *dy = alloc_floats(y_n);
    float *h_n = alloc_floats(h_n_n), *dh0 = alloc_floats(h_n_n);
    float *dx = alloc_floats(x_n), *logits = alloc_floats(logits_n);
    float *dlogits = alloc_floats(logits_n);
    int32_t lengths[64];
    for (int32_t b = 0; b < s->batch; ++b)
        lengths[b] = s->seq_len - b % 3;

    uint64_t hash = 1469598103934665603ull;
    for (unsigned step = 0; step < 3; ++step) {
        fill(x, x_n, 7 + step);
        fill(dy, y_n, 9 + step);
        OK(rnn_zero_grad(model));
        OK(rnn_forward(model, s->seq_len, s->batch, x,
                       s->with_lengths ? lengths : NULL, NULL, y, h_n));
        hash = hash_floats(hash_floats(hash, y, y_n), h_n, h_n_n);
        if (s->outputs > 0) {
            OK(rnn_head_forward(model, logits));
            hash = hash_floats(hash, logits, logits_n);
            fill(dlogits, logits_n, 3 + step);
            OK(rnn_head_backward(model, dlogits));
        }
        OK(rnn_backward(model, dy, NULL, dx, dh0));
        hash = hash_floats(hash_floats(hash, dx, x_n), dh0, h_n_n);
        float *values;
        size_t count;
        OK(rnn_grads(model, &values, &count));
        hash = hash_floats(hash, values, count);
        float norm;
        OK(rnn_clip_grad_norm(model, 1.0f, &norm));
        hash = hash_floats(hash, &norm, 1);
        OK(rnn_optim_step(optim, model));
        OK(rnn_params(model, &values, &count));
        hash = hash_floats(hash, values, count);
    }
    if (!s->bidirectional)
        hash = hash_steps(hash, model, s, x);
    hash = hash_saved(hash, model, optim);

    free(dlogits);
    free(logits);
    free(dx);
    free(dh0);
    free(h_n);
    free(dy);
    free(y);
    free(x);
    rnn_optim_destroy(optim);
    rnn_destroy(model);
    return hash;
}

int main(void)
{
    static const shape shapes[] = {
        /* I   H  L bi relu bf  O all  T   B lengths */
        {1, 32, 1, 0, 0, 0, 1, 0, 10, 16, 0},
        {5, 24, 2, 1, 0, 1, 3, 1, 9, 5, 1},
        {7, 64, 3, 0, 1, 0, 4, 0, 20, 8, 1},
        {16, 256, 1, 0, 0, 0, 0, 0, 40, 32, 0},
        {3, 17, 2, 0, 0, 1, 2, 1, 12, 1, 0},
        {4, 33, 1, 1, 1, 0, 0, 0, 15, 7, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i)
        printf("%c %016llx\n", (int)('a' + i), (unsigned long long)run(&shapes[i]));
    return 0;
}
