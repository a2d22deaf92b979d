/* SPDX-License-Identifier: MIT
 *
 * consumer.c - a program written the way a user of an INSTALLED librnn
 * writes one: only <rnn.h> and the public API. Built three ways by the
 * tests: against the build tree (rnn_consumer), with pkg-config and with
 * find_package(rnn) after `cmake --install` (tests/consumer/run_consumer.sh).
 *
 * It creates a small model, runs rnn_forward, checks the results are finite
 * and bounded by tanh, and that the library loaded is the header's version.
 * Prints the version and the BLAS in use; exits nonzero on any failure.
 */
#include <rnn.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void fail(const char *what, rnn_status st)
{
    fprintf(stderr, "consumer: FAIL: %s: %s (%s)\n", what, rnn_strerror(st),
            rnn_last_error());
    failures++;
}

int main(void)
{
    enum { I = 3, H = 8, T = 4, B = 2 };
    float x[T * B * I], y[T * B * H], h_n[B * H];
    rnn_config cfg = rnn_config_default(I, H);
    rnn_t *model = NULL;
    rnn_status st;
    int i;

    printf("librnn %s (header %d, library %d)\n", rnn_version(),
           RNN_VERSION_NUMBER, (int)rnn_version_number());
    printf("BLAS: %s\n", rnn_blas_info());
    if (rnn_version_number() != RNN_VERSION_NUMBER) {
        fprintf(stderr, "consumer: FAIL: header/library version mismatch\n");
        failures++;
    }

    for (i = 0; i < T * B * I; i++)
        x[i] = (float)sin(0.7 * i);
    cfg.seed = 42;
    st = rnn_create(&model, &cfg);
    if (st != RNN_OK) {
        fail("rnn_create", st);
        return 1;
    }
    memset(y, 0xff, sizeof y); /* NaN bytes: every element must be written */
    st = rnn_forward(model, T, B, x, NULL, NULL, y, h_n);
    if (st != RNN_OK)
        fail("rnn_forward", st);
    for (i = 0; st == RNN_OK && i < T * B * H; i++) {
        if (!isfinite(y[i]) || fabsf(y[i]) > 1.0f) {
            fprintf(stderr, "consumer: FAIL: y[%d] = %g is not a tanh output\n", i, y[i]);
            failures++;
            break;
        }
    }
    /* h_n of a unidirectional single-layer model is the last step of y. */
    if (st == RNN_OK && memcmp(h_n, y + (T - 1) * B * H, sizeof h_n) != 0) {
        fprintf(stderr, "consumer: FAIL: h_n differs from the last step of y\n");
        failures++;
    }

    /* Errors come back as statuses with a message, never as a crash. */
    st = rnn_forward(model, 0, B, x, NULL, NULL, y, NULL);
    if (st == RNN_OK || rnn_last_error()[0] == '\0') {
        fprintf(stderr, "consumer: FAIL: rnn_forward accepted seq_len 0\n");
        failures++;
    }
    rnn_destroy(model);
    rnn_destroy(NULL);

    if (failures) {
        fprintf(stderr, "consumer: %d failure(s)\n", failures);
        return 1;
    }
    printf("consumer: OK, y[0] = %.6f\n", (double)y[0]);
    return 0;
}
