/* SPDX-License-Identifier: MIT
 *
 * adding_problem.c - the adding problem (Hochreiter & Schmidhuber, "Long
 * Short-Term Memory", 1997, experiment 4), where the Elman cell fails and
 * the gated cells succeed, through the public API only.
 *
 * Task: sequences of T steps (default 100) with 2 inputs per step: a value
 * drawn uniformly from (0, 1) and a marker, 1 at exactly two steps (one in
 * the first half of the sequence, one in the second) and 0 elsewhere. The
 * target is the sum of the two marked values, read after the last step.
 * The first marked value must be carried across up to T - 1 steps of
 * distractors: a gradient that has to flow back that far vanishes in the
 * Elman cell and is carried by the LSTM's cell state and the GRU's gates.
 *
 * Always answering 1.0 (the mean target) scores the variance of a sum of
 * two U(0, 1), 2/12 = 0.1667, in expectation; the program prints that
 * baseline measured on its own test set. A model beats it only by finding
 * the marked values.
 *
 * Each cell (Elman, LSTM, GRU: --cells) trains with the same budget: the
 * same steps, batch, hidden size, optimizer (Adam), gradient clipping and
 * the same stream of fresh training batches; a linear head (output_size 1,
 * the last step) with the MSE loss of rnn_loss_mse. Every --eval-every
 * steps it prints the test MSE over a fixed test set; --csv FILE writes the
 * learning curves (cell, step, train MSE of the steps since the last
 * evaluation, test MSE), which examples/plot_adding_problem.py draws. The
 * last line is key=value pairs for scripts:
 *
 *   baseline_mse=0.1652 rnn_mse=0.1650 lstm_mse=0.0021 gru_mse=0.0004
 *
 * Exit status: 0 done, 1 a librnn call or an allocation failed, 2 bad
 * command line, 3 --max-mse given and some gated cell's test MSE is above
 * it.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */

#include "example_args.h"
#include "example_random.h"
#include "rnn.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { INPUTS = 2, MAX_CELLS = 3 };

typedef struct options {
    long seq_len, steps, batch, hidden, eval_every, test_samples;
    double lr, clip, max_mse;
    uint64_t seed;
    int cells[MAX_CELLS]; /* rnn_cell_kind values, in order */
    int num_cells;
    const char *csv;
} options;

static const char *cell_name(int cell)
{
    return cell == RNN_CELL_LSTM ? "lstm" : cell == RNN_CELL_GRU ? "gru" : "rnn";
}

static void usage(FILE *out)
{
    fputs("usage: adding_problem [options]\n"
          "Trains the Elman, LSTM and GRU cells (librnn) on the adding problem\n"
          "with the same budget and prints each one's test MSE against the\n"
          "baseline of always answering 1.0.\n"
          "  --seq-len N       steps per sequence, T (default 100)\n"
          "  --steps N         training steps per cell (default 4000)\n"
          "  --batch N         sequences per step (default 32)\n"
          "  --hidden N        hidden size (default 64)\n"
          "  --lr F            Adam learning rate (default 0.002)\n"
          "  --clip F          gradient norm clipping (default 1; 0 = none)\n"
          "  --eval-every N    test MSE every N steps (default 200)\n"
          "  --test-samples N  test sequences (default 1024, rounded up to\n"
          "                    whole batches)\n"
          "  --cells LIST      comma-separated, of rnn, lstm, gru (default all)\n"
          "  --seed N          seed of the data and the weights (default 1)\n"
          "  --csv FILE        write the learning curves there\n"
          "  --max-mse F       exit 3 when an LSTM or GRU ends above F\n"
          "  --help            print this help and exit\n"
          "Threads: OPENBLAS_NUM_THREADS (the default run takes a few minutes\n"
          "at 1 thread).\n",
          out);
}

static int parse_cells(const char *text, options *o)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", text);
    o->num_cells = 0;
    for (char *tok = strtok(buf, ","); tok != NULL; tok = strtok(NULL, ",")) {
        int cell = strcmp(tok, "rnn") == 0    ? RNN_CELL_RNN
                   : strcmp(tok, "lstm") == 0 ? RNN_CELL_LSTM
                   : strcmp(tok, "gru") == 0  ? RNN_CELL_GRU
                                              : -1;
        if (cell < 0 || o->num_cells == MAX_CELLS)
            return 0;
        o->cells[o->num_cells++] = cell;
    }
    return o->num_cells > 0;
}

/* Returns 0 to go on, 1 after --help, -1 on a bad command line. */
static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.seq_len = 100, .steps = 4000, .batch = 32, .hidden = 64,
                   .eval_every = 200, .test_samples = 1024, .lr = 0.002,
                   .clip = 1.0, .max_mse = 0.0, .seed = 1,
                   .cells = {RNN_CELL_RNN, RNN_CELL_LSTM, RNN_CELL_GRU},
                   .num_cells = 3, .csv = NULL};
    for (int i = 1; i < argc; i++) {
        static const char *const valued[] = {
            "--seq-len", "--steps", "--batch", "--hidden", "--lr", "--clip",
            "--eval-every", "--test-samples", "--cells", "--seed", "--csv",
            "--max-mse"};
        const char *value = NULL;
        char name[EXAMPLE_NAME_MAX];
        const int read = next_option(argc, argv, &i, valued,
                                     sizeof valued / sizeof valued[0],
                                     "adding_problem", 1, name, &value);
        if (read != 0)
            return read;
        int ok;
        if (strcmp(name, "--seq-len") == 0)
            ok = parse_long(value, 2, 100000L, &o->seq_len);
        else if (strcmp(name, "--steps") == 0)
            ok = parse_long(value, 1, 100000000L, &o->steps);
        else if (strcmp(name, "--batch") == 0)
            ok = parse_long(value, 1, 100000L, &o->batch);
        else if (strcmp(name, "--hidden") == 0)
            ok = parse_long(value, 1, 8192, &o->hidden);
        else if (strcmp(name, "--lr") == 0)
            ok = parse_double(value, 0.0, 1e3, &o->lr);
        else if (strcmp(name, "--clip") == 0)
            ok = parse_double(value, 0.0, 1e30, &o->clip);
        else if (strcmp(name, "--eval-every") == 0)
            ok = parse_long(value, 1, 100000000L, &o->eval_every);
        else if (strcmp(name, "--test-samples") == 0)
            ok = parse_long(value, 1, 1000000L, &o->test_samples);
        else if (strcmp(name, "--cells") == 0)
            ok = parse_cells(value, o);
        else if (strcmp(name, "--seed") == 0)
            ok = parse_u64(value, &o->seed);
        else if (strcmp(name, "--csv") == 0)
            ok = (o->csv = value)[0] != '\0';
        else /* --max-mse */
            ok = parse_double(value, 0.0, 1e30, &o->max_mse);
        if (!ok) {
            fprintf(stderr, "adding_problem: bad value '%s' for %s\n", value, name);
            return -1;
        }
    }
    if ((double)o->seq_len * (double)o->batch * INPUTS > 2147483647.0) {
        fprintf(stderr, "adding_problem: --seq-len x --batch is too large\n");
        return -1;
    }
    return 0;
}

/* One batch of B sequences, time-major x[T, B, 2], targets y[B]. */
static void make_batch(uint64_t *rng, long T, long B, float *x, float *y)
{
    const long half = T / 2;
    for (long b = 0; b < B; b++) {
        const long first = (long)example_below(rng, (uint64_t)half);
        const long second = half + (long)example_below(rng, (uint64_t)(T - half));
        double sum = 0.0;
        for (long t = 0; t < T; t++) {
            float *step = x + (t * B + b) * INPUTS;
            step[0] = (float)example_uniform(rng);
            step[1] = t == first || t == second ? 1.0f : 0.0f;
            if (t == first || t == second)
                sum += step[0];
        }
        y[b] = (float)sum; /* the float values the model sees, added */
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define CHECK(call)                                                              \
    do {                                                                         \
        rnn_status check_status_ = (call);                                       \
        if (check_status_ != RNN_OK) {                                           \
            fprintf(stderr, "adding_problem: %s failed: %s: %s\n", #call,        \
                    rnn_strerror(check_status_), rnn_last_error());              \
            goto fail;                                                           \
        }                                                                        \
    } while (0)

/* The data every cell sees: the fixed test set (nbatches batches of B) and
 * the buffers of one training batch. */
typedef struct data {
    long T, B, test_batches;
    float *test_x, *test_y; /* test_batches x [T, B, 2], test_batches x [B] */
    float *x, *y, *pred, *dpred;
} data;

/* Mean of (answer - y)^2 over the test set, answer = the model's (NULL:
 * always 1.0, the baseline). */
static int test_mse(rnn_t *model, const data *d, double *mse)
{
    double sum = 0.0;
    const size_t xs = (size_t)d->T * (size_t)d->B * INPUTS;
    for (long k = 0; k < d->test_batches; k++) {
        const float *y = d->test_y + k * d->B;
        if (model != NULL) {
            CHECK(rnn_forward(model, (int32_t)d->T, (int32_t)d->B, d->test_x + k * xs,
                              NULL, NULL, NULL, NULL));
            CHECK(rnn_head_forward(model, d->pred));
        }
        for (long b = 0; b < d->B; b++) {
            const double answer = model != NULL ? d->pred[b] : 1.0;
            sum += (answer - y[b]) * (answer - y[b]);
        }
    }
    *mse = sum / (double)(d->test_batches * d->B);
    return 0;
fail:
    return -1;
}

/* Trains one cell from scratch; its final test MSE goes to *final. */
static int train_cell(const options *o, int cell, data *d, FILE *csv, double *final,
                      double *seconds)
{
    rnn_t *model = NULL;
    rnn_optim_t *optim = NULL;
    int rc = -1;
    rnn_config cfg = rnn_config_default(INPUTS, (int32_t)o->hidden);
    cfg.cell = cell;
    cfg.output_size = 1; /* the sum, read from the last step */
    cfg.seed = o->seed;
    CHECK(rnn_create(&model, &cfg));
    rnn_optim_config oc = rnn_optim_config_default(RNN_OPTIM_ADAM, (float)o->lr);
    CHECK(rnn_optim_create(&optim, model, &oc));

    /* Every cell gets the same training batches. */
    uint64_t rng = o->seed ^ UINT64_C(0x5DEECE66D);
    double window = 0.0, mse = 0.0, t0 = now_seconds();
    long in_window = 0;
    for (long step = 1; step <= o->steps; step++) {
        float loss;
        make_batch(&rng, d->T, d->B, d->x, d->y);
        CHECK(rnn_zero_grad(model));
        CHECK(rnn_forward(model, (int32_t)d->T, (int32_t)d->B, d->x, NULL, NULL, NULL,
                          NULL));
        CHECK(rnn_head_forward(model, d->pred));
        CHECK(rnn_loss_mse((int32_t)d->B, d->pred, d->y, RNN_REDUCTION_MEAN, &loss,
                           d->dpred));
        CHECK(rnn_head_backward(model, d->dpred));
        CHECK(rnn_backward(model, NULL, NULL, NULL, NULL));
        if (o->clip > 0)
            CHECK(rnn_clip_grad_norm(model, (float)o->clip, NULL));
        CHECK(rnn_optim_step(optim, model));
        window += loss;
        in_window++;
        if (step % o->eval_every == 0 || step == o->steps) {
            if (test_mse(model, d, &mse) != 0)
                goto fail;
            printf("  %-4s step %6ld  train MSE %.4f  test MSE %.4f\n", cell_name(cell),
                   step, window / (double)in_window, mse);
            fflush(stdout);
            if (csv != NULL)
                fprintf(csv, "%s,%ld,%.6f,%.6f\n", cell_name(cell), step,
                        window / (double)in_window, mse);
            window = 0.0;
            in_window = 0;
        }
    }
    *seconds = now_seconds() - t0;
    *final = mse;
    rc = 0;
fail:
    rnn_optim_destroy(optim);
    rnn_destroy(model);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    const int parsed = parse_options(argc, argv, &o);
    if (parsed != 0) {
        usage(parsed > 0 ? stdout : stderr);
        return parsed > 0 ? 0 : 2;
    }
    data d = {.T = o.seq_len, .B = o.batch,
              .test_batches = (o.test_samples + o.batch - 1) / o.batch};
    const size_t xs = (size_t)d.T * (size_t)d.B * INPUTS;
    d.test_x = malloc((size_t)d.test_batches * xs * sizeof(float));
    d.test_y = malloc((size_t)(d.test_batches * d.B) * sizeof(float));
    d.x = malloc(xs * sizeof(float));
    d.y = malloc((size_t)d.B * sizeof(float));
    d.pred = malloc((size_t)d.B * sizeof(float));
    d.dpred = malloc((size_t)d.B * sizeof(float));
    FILE *csv = NULL;
    int status = 1;
    double mse[MAX_CELLS] = {0}, secs[MAX_CELLS] = {0}, baseline = 0.0;
    if (!d.test_x || !d.test_y || !d.x || !d.y || !d.pred || !d.dpred) {
        fprintf(stderr, "adding_problem: out of memory\n");
        goto done;
    }
    uint64_t test_rng = o.seed ^ UINT64_C(0x2545F4914F6CDD1D);
    for (long k = 0; k < d.test_batches; k++)
        make_batch(&test_rng, d.T, d.B, d.test_x + k * xs, d.test_y + k * d.B);
    if (test_mse(NULL, &d, &baseline) != 0)
        goto done;
    if (o.csv != NULL) {
        csv = fopen(o.csv, "w");
        if (csv == NULL) {
            perror(o.csv);
            goto done;
        }
        fprintf(csv, "# adding problem: T=%ld batch=%ld hidden=%ld steps=%ld Adam "
                     "lr=%g clip=%g seed=%" PRIu64 " baseline_mse=%.6f\n",
                o.seq_len, o.batch, o.hidden, o.steps, o.lr, o.clip, o.seed, baseline);
        fprintf(csv, "cell,step,train_mse,test_mse\n");
    }
    printf("librnn %s, BLAS: %s\n", rnn_version(), rnn_blas_info());
    printf("adding problem: T=%ld, batch %ld, hidden %ld, %ld steps per cell, Adam "
           "lr %g, clip %g, %ld test sequences, seed %" PRIu64 "\n",
           o.seq_len, o.batch, o.hidden, o.steps, o.lr, o.clip,
           d.test_batches * d.B, o.seed);
    printf("baseline (always 1.0): test MSE %.4f (expected 1/6 = 0.1667)\n", baseline);
    for (int k = 0; k < o.num_cells; k++)
        if (train_cell(&o, o.cells[k], &d, csv, &mse[k], &secs[k]) != 0)
            goto done;

    printf("\n%-5s %10s %12s %10s\n", "cell", "test MSE", "vs baseline", "time");
    for (int k = 0; k < o.num_cells; k++)
        printf("%-5s %10.4f %11.1f%% %9.1fs\n", cell_name(o.cells[k]), mse[k],
               100.0 * mse[k] / baseline, secs[k]);
    printf("baseline_mse=%.4f", baseline);
    for (int k = 0; k < o.num_cells; k++)
        printf(" %s_mse=%.4f", cell_name(o.cells[k]), mse[k]);
    putchar('\n');
    status = 0;
    for (int k = 0; k < o.num_cells; k++)
        if (o.max_mse > 0 && o.cells[k] != RNN_CELL_RNN && mse[k] > o.max_mse) {
            fprintf(stderr, "adding_problem: %s test MSE %.4f is above --max-mse %g\n",
                    cell_name(o.cells[k]), mse[k], o.max_mse);
            status = 3;
        }
done:
    if (csv != NULL && fclose(csv) != 0) {
        perror(o.csv);
        status = 1;
    }
    free(d.dpred);
    free(d.pred);
    free(d.y);
    free(d.x);
    free(d.test_y);
    free(d.test_x);
    return status;
}
