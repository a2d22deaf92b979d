/* SPDX-License-Identifier: MIT
 *
 * tbptt.c - truncated backpropagation through time on one long stream,
 * through the public API only (the loop of rnn.h, section "Truncated
 * backpropagation through time").
 *
 * Task: a stream of 2000 values drawn uniformly from [-1, 1]; at every step
 * the model must output the value it saw 10 steps earlier (an echo). The
 * stream is far longer than one backward pass should be, so it is cut into
 * chunks of 50 steps: each chunk starts from the hidden state the previous
 * chunk ended in (one array serves as h0 and h_n), and its gradient stops
 * at the chunk's first step. The echo needs that carried state for the
 * first steps of every chunk.
 *
 * Model: one tanh layer of 32 units (orthogonal W_hh), a linear readout at
 * every step (RNN_HEAD_ALL), mean squared error, Adam (lr 2e-3) with the
 * gradient clipped to norm 1. It prints the error on a fresh stream before
 * training, the mean training loss every 200 updates, the error on the
 * fresh stream after training against that of always answering 0 (1/3, the
 * variance of the input), and a last line of key=value pairs for scripts.
 *
 *   usage: tbptt [--epochs N] [--seed N]
 *
 * Exit status: 0 done, 1 a librnn call or an allocation failed, 2 bad
 * command line, 3 the test error is not below half of the baseline.
 */
#include "rnn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    STREAM = 2000, /* steps of the training stream (and of the test one) */
    CHUNK = 50,    /* k: steps per forward/backward */
    DELAY = 10,    /* the target is the input DELAY steps earlier */
    HIDDEN = 32,
    REPORT = 200   /* updates between two printed losses */
};

/* SplitMix64: the same stream on every machine. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* x[t] ~ U(-1, 1); target[t] = x[t - DELAY], 0 before the stream starts. */
static void make_stream(uint64_t *state, float *x, float *target)
{
    for (int t = 0; t < STREAM; t++) {
        double u = (double)(splitmix64(state) >> 11) * 0x1.0p-53;
        x[t] = (float)(2.0 * u - 1.0);
        target[t] = t >= DELAY ? x[t - DELAY] : 0.0f;
    }
}

static int parse_count(const char *text, long max, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > max)
        return 0;
    *out = v;
    return 1;
}

/* Mean squared error over a whole stream, forward only, the state carried
 * across chunks as in training. */
static rnn_status stream_mse(rnn_t *model, const float *x, const float *target,
                             double *mse)
{
    float h[HIDDEN] = { 0 }, pred[CHUNK];
    double squares = 0.0;
    for (int t0 = 0; t0 < STREAM; t0 += CHUNK) {
        rnn_status st = rnn_forward(model, CHUNK, 1, x + t0, NULL, h, NULL, h);
        if (st == RNN_OK)
            st = rnn_head_forward(model, pred);
        if (st != RNN_OK)
            return st;
        for (int t = 0; t < CHUNK; t++) {
            double d = (double)pred[t] - target[t0 + t];
            squares += d * d;
        }
    }
    *mse = squares / STREAM;
    return RNN_OK;
}

#define CHECK(call)                                                          \
    do {                                                                     \
        rnn_status check_status_ = (call);                                   \
        if (check_status_ != RNN_OK) {                                       \
            fprintf(stderr, "tbptt: %s failed: %s: %s\n", #call,             \
                    rnn_strerror(check_status_), rnn_last_error());          \
            goto done;                                                       \
        }                                                                    \
    } while (0)

int main(int argc, char **argv)
{
    long epochs = 30, seed = 1;
    for (int i = 1; i < argc; i++) {
        int ok = i + 1 < argc;
        if (ok && strcmp(argv[i], "--epochs") == 0)
            ok = parse_count(argv[++i], 100000, &epochs);
        else if (ok && strcmp(argv[i], "--seed") == 0)
            ok = parse_count(argv[++i], 1000000000L, &seed);
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "usage: tbptt [--epochs N] [--seed N]\n");
            return 2;
        }
    }

    int status = 1;
    rnn_t *model = NULL;
    rnn_optim_t *optim = NULL;
    float *x = malloc(STREAM * sizeof *x), *target = malloc(STREAM * sizeof *target);
    float *test_x = malloc(STREAM * sizeof *x), *test_target = malloc(STREAM * sizeof *x);
    float h[HIDDEN], pred[CHUNK], dpred[CHUNK];
    if (!x || !target || !test_x || !test_target) {
        fprintf(stderr, "tbptt: out of memory\n");
        goto done;
    }
    uint64_t state = (uint64_t)seed;
    make_stream(&state, x, target);
    make_stream(&state, test_x, test_target);

    rnn_config cfg = rnn_config_default(1, HIDDEN);
    cfg.output_size = 1;
    cfg.head_mode = RNN_HEAD_ALL;
    cfg.seed = (uint64_t)seed;
    CHECK(rnn_create(&model, &cfg));
    CHECK(rnn_init(model, RNN_INIT_ORTHOGONAL, (uint64_t)seed));
    rnn_optim_config ocfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 2e-3f);
    CHECK(rnn_optim_create(&optim, model, &ocfg));

    printf("echo after %d steps, stream of %d steps in chunks of %d, %ld epochs\n",
           DELAY, STREAM, CHUNK, epochs);
    double untrained;
    CHECK(stream_mse(model, test_x, test_target, &untrained));
    printf("before training: test mse %.5f\n", untrained);
    double window = 0.0, last_mean = untrained;
    long updates = 0, in_window = 0;
    for (long epoch = 0; epoch < epochs; epoch++) {
        memset(h, 0, sizeof h); /* each pass starts the stream from rest */
        for (int t0 = 0; t0 < STREAM; t0 += CHUNK) {
            float loss;
            CHECK(rnn_zero_grad(model));
            /* h is read as h0 and overwritten with h_n: the state carries
             * over to the next chunk, the gradient does not. */
            CHECK(rnn_forward(model, CHUNK, 1, x + t0, NULL, h, NULL, h));
            CHECK(rnn_head_forward(model, pred));
            CHECK(rnn_loss_mse(CHUNK, pred, target + t0, RNN_REDUCTION_MEAN, &loss,
                               dpred));
            CHECK(rnn_head_backward(model, dpred));
            CHECK(rnn_backward(model, NULL, NULL, NULL, NULL));
            CHECK(rnn_clip_grad_norm(model, 1.0f, NULL));
            CHECK(rnn_optim_step(optim, model));
            window += loss;
            in_window++;
            last_mean = window / (double)in_window;
            if (++updates % REPORT == 0) {
                printf("update %5ld  epoch %3ld  train mse %.5f\n", updates, epoch + 1,
                       last_mean);
                window = 0.0;
                in_window = 0;
            }
        }
    }

    double test_mse;
    CHECK(stream_mse(model, test_x, test_target, &test_mse));
    float radius;
    CHECK(rnn_spectral_radius(model, &radius));
    const double baseline = 1.0 / 3.0;
    printf("after training: test mse %.5f (answering 0: %.5f), spectral radius of "
           "W_hh %.3f\n",
           test_mse, baseline, (double)radius);
    printf("train_mse=%.5f test_mse=%.5f updates=%ld\n", last_mean, test_mse, updates);
    status = test_mse < 0.5 * baseline ? 0 : 3;
    if (status == 3)
        fprintf(stderr, "tbptt: the model did not learn the echo\n");

done:
    rnn_optim_destroy(optim);
    rnn_destroy(model);
    free(x);
    free(target);
    free(test_x);
    free(test_target);
    return status;
}
