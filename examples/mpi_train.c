/* SPDX-License-Identifier: MIT
 *
 * mpi_train.c - data-parallel training over MPI ranks, through the public
 * API only. Built when CMake finds MPI (Debian: libopenmpi-dev, openmpi-bin):
 *
 *   mpirun -np 2 ./mpi_train --steps 200 --batch 64 --check
 *
 * Task: the seed task widened: sequences of T steps of I values drawn from
 * N(0, 1); the label is 1 when the sum of all T*I values is > 0. The model is
 * a tanh RNN with a one-logit head on the last step, binary cross-entropy,
 * Adam (or SGD).
 *
 * Data parallelism, the way torch DistributedDataParallel does it:
 *  - every rank builds the same model from the same seed (checked: the
 *    ranks compare a hash of their initial parameters);
 *  - the dataset is K global batches of B sequences; at step s every rank
 *    takes global batch s mod K and uses its own B/P of it (rank r: rows
 *    [r*B/P, (r+1)*B/P)); sequence number n is generated from (seed, n)
 *    alone, so the data is the same whatever the number of ranks;
 *  - each rank runs forward and backward on its rows with the loss averaged
 *    over them, then ONE MPI_Allreduce (MPI_SUM, in place) over the flat
 *    gradient buffer of librnn (rnn_grads), and a division by P: the mean
 *    of P means over B/P rows each is the mean over the B rows;
 *  - every rank then applies the same optimizer step to the same gradient,
 *    so the parameters stay identical on all ranks without being sent;
 *  - rank 0 writes the model (rnn_save, --out).
 * One rank with batch B and P ranks with B/P each therefore compute the same
 * update up to the order of float additions (the mpi_equivalence test
 * checks it). --check prints, from every rank, a hash of its final
 * parameter bytes: identical hashes show that the replicas never diverged.
 *
 * Output (rank 0): the mean loss every --report steps, the time per step
 * split into compute and allreduce, and a last line of key=value pairs:
 *
 *   ranks=2 batch=64 steps=200 params=1153 final_loss=0.0812 ...
 *
 * Timing excludes the first step (it sizes librnn's workspaces). Give each
 * rank one BLAS thread (OPENBLAS_NUM_THREADS=1) when ranks share a machine.
 *
 * Exit status: 0 done, 1 a librnn, MPI or allocation failure (the failing
 * rank aborts the job), 2 bad command line.
 */
#include "rnn.h"
#include "example_args.h"

#include <mpi.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "mpi_train"

/* ------------------------------------------------------------------------
 * Random numbers: SplitMix64, Box-Muller; the same on every machine
 * ---------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Uniform in the open interval (0, 1). */
static double uniform_open(uint64_t *state)
{
    return ((double)(splitmix64(state) >> 11) + 0.5) * 0x1.0p-53;
}

/* Sequence number n of the dataset: n_values N(0, 1) values, generated
 * from (seed, n) alone, and its label. */
static float make_sequence(uint64_t seed, uint64_t n, size_t n_values,
                           float *values)
{
    const double two_pi = 6.283185307179586476925286766559;
    uint64_t state = seed ^ (n * UINT64_C(0xD1B54A32D192ED03));
    double sum = 0.0;

    splitmix64(&state); /* decorrelate neighbouring n */
    for (size_t i = 0; i < n_values; i += 2) {
        double r = sqrt(-2.0 * log(uniform_open(&state)));
        double theta = two_pi * uniform_open(&state);
        values[i] = (float)(r * cos(theta));
        if (i + 1 < n_values)
            values[i + 1] = (float)(r * sin(theta));
    }
    for (size_t i = 0; i < n_values; i++)
        sum += (double)values[i];
    return sum > 0.0 ? 1.0f : 0.0f;
}

/* FNV-1a over the bytes of the parameters: equal hashes, equal bits. */
static uint64_t fnv1a(const void *data, size_t size)
{
    const unsigned char *p = data;
    uint64_t h = UINT64_C(0xCBF29CE484222325);
    for (size_t i = 0; i < size; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001B3);
    }
    return h;
}

/* ------------------------------------------------------------------------
 * Command line
 * ---------------------------------------------------------------------- */

typedef struct options {
    long steps, batch, batches, hidden, input, seq_len, layers, report;
    double lr, clip;
    int sgd, check;
    uint64_t seed;
    const char *out;
} options;

static void usage(FILE *out)
{
    fputs("usage: mpirun -np P " PROG " [options]\n"
          "Trains a vanilla RNN (librnn) on the sum-sign task, data-parallel\n"
          "over the MPI ranks (gradients averaged with MPI_Allreduce).\n"
          "  --steps N      optimizer steps (default 200)\n"
          "  --batch N      GLOBAL batch, split evenly over the ranks; a\n"
          "                 multiple of the number of ranks (default 64)\n"
          "  --batches N    global batches in the dataset (default 64)\n"
          "  --input N      values per step, I (default 1)\n"
          "  --hidden N     hidden size, H (default 32)\n"
          "  --seq-len N    steps per sequence, T (default 10)\n"
          "  --layers N     RNN layers (default 1)\n"
          "  --optim NAME   adam (default) or sgd\n"
          "  --lr F         learning rate (default 0.001 for adam, 0.05 for "
          "sgd)\n"
          "  --clip F       clip the averaged gradient to norm F (default 0:\n"
          "                 off)\n"
          "  --seed N       seed of the weights and of the data (default 1)\n"
          "  --report N     print the mean loss every N steps (default 50)\n"
          "  --out PATH     model written by rank 0 (default\n"
          "                 mpi_train.safetensors)\n"
          "  --check        every rank prints a hash of its final parameters\n"
          "  --help         print this help and exit\n"
          "Options take their value as the next argument or after '='.\n",
          out);
}

/* Returns 0 to go on, 1 after --help, -1 on a bad command line (printed by
 * rank 0 only: every rank parses the same arguments). */
static int parse_options(int argc, char **argv, int rank, options *o)
{
    static const char *const valued[] = {
        "--steps",   "--batch",  "--batches", "--input", "--hidden",
        "--seq-len", "--layers", "--report",  "--lr",    "--clip",
        "--seed",    "--out",    "--optim"};
    int lr_given = 0;

    memset(o, 0, sizeof *o);
    o->steps = 200;
    o->batch = 64;
    o->batches = 64;
    o->input = 1;
    o->hidden = 32;
    o->seq_len = 10;
    o->layers = 1;
    o->report = 50;
    o->seed = 1;
    o->out = "mpi_train.safetensors";

    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        char name[EXAMPLE_NAME_MAX];
        int ok = 0;

        if (strcmp(argv[i], "--check") == 0) {
            o->check = 1;
            continue;
        }
        const int read = next_option(argc, argv, &i, valued,
                                     sizeof valued / sizeof valued[0], PROG,
                                     rank == 0, name, &value);
        if (read != 0)
            return read;

        /* Bounds keep every buffer below 2^31 floats and every int32_t
         * argument of the API in range. */
        if (strcmp(name, "--steps") == 0)
            ok = parse_long(value, 1, 100000000L, &o->steps);
        else if (strcmp(name, "--batch") == 0)
            ok = parse_long(value, 1, 1000000L, &o->batch);
        else if (strcmp(name, "--batches") == 0)
            ok = parse_long(value, 1, 1000000L, &o->batches);
        else if (strcmp(name, "--input") == 0)
            ok = parse_long(value, 1, 65536, &o->input);
        else if (strcmp(name, "--hidden") == 0)
            ok = parse_long(value, 1, 8192, &o->hidden);
        else if (strcmp(name, "--seq-len") == 0)
            ok = parse_long(value, 1, 100000L, &o->seq_len);
        else if (strcmp(name, "--layers") == 0)
            ok = parse_long(value, 1, 16, &o->layers);
        else if (strcmp(name, "--report") == 0)
            ok = parse_long(value, 1, 100000000L, &o->report);
        else if (strcmp(name, "--lr") == 0) {
            ok = parse_double(value, 1e-9, 100.0, &o->lr);
            lr_given = 1;
        } else if (strcmp(name, "--clip") == 0)
            ok = parse_double(value, 0.0, 1e9, &o->clip);
        else if (strcmp(name, "--seed") == 0)
            ok = parse_u64(value, &o->seed);
        else if (strcmp(name, "--out") == 0) {
            ok = value[0] != '\0';
            o->out = value;
        } else { /* --optim */
            ok = strcmp(value, "adam") == 0 || strcmp(value, "sgd") == 0;
            o->sgd = strcmp(value, "sgd") == 0;
        }
        if (!ok) {
            if (rank == 0)
                fprintf(stderr, PROG ": bad value '%s' for %s\n", value, name);
            return -1;
        }
    }
    if (!lr_given)
        o->lr = o->sgd ? 0.05 : 1e-3;
    return 0;
}

/* ------------------------------------------------------------------------
 * Training
 * ---------------------------------------------------------------------- */

static int world_rank;

/* A failure on one rank would leave the others waiting in the next
 * collective: report it and take the whole job down. */
#define CHECK(call)                                                          \
    do {                                                                     \
        rnn_status check_status_ = (call);                                   \
        if (check_status_ != RNN_OK) {                                       \
            fprintf(stderr, PROG "[rank %d]: %s failed: %s: %s\n",           \
                    world_rank, #call, rnn_strerror(check_status_),          \
                    rnn_last_error());                                       \
            MPI_Abort(MPI_COMM_WORLD, 1);                                    \
        }                                                                    \
    } while (0)

#define CHECK_MPI(call)                                                      \
    do {                                                                     \
        int check_rc_ = (call);                                              \
        if (check_rc_ != MPI_SUCCESS) {                                      \
            fprintf(stderr, PROG "[rank %d]: %s failed (%d)\n", world_rank,  \
                    #call, check_rc_);                                       \
            MPI_Abort(MPI_COMM_WORLD, 1);                                    \
        }                                                                    \
    } while (0)

static void *checked_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL) {
        fprintf(stderr, PROG "[rank %d]: out of memory (%zu bytes)\n",
                world_rank, size);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return p;
}

int main(int argc, char **argv)
{
    options o;
    int size, rc;

    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);

    rc = parse_options(argc, argv, world_rank, &o);
    if (rc != 0 || o.batch % size != 0) {
        if (rc > 0 && world_rank == 0)
            usage(stdout);
        if (rc < 0 && world_rank == 0)
            usage(stderr);
        if (rc == 0 && world_rank == 0)
            fprintf(stderr,
                    PROG ": --batch %ld is not a multiple of the %d ranks\n",
                    o.batch, size);
        MPI_Finalize();
        return rc > 0 ? 0 : 2;
    }

    const int32_t T = (int32_t)o.seq_len, I = (int32_t)o.input;
    const int32_t b = (int32_t)(o.batch / size); /* this rank's rows */
    const size_t seq_values = (size_t)T * (size_t)I;
    const size_t batch_values = seq_values * (size_t)b;
    if ((double)batch_values * (double)o.batches > 1e9) {
        if (world_rank == 0)
            fprintf(stderr, PROG ": the dataset shard is too large\n");
        MPI_Finalize();
        return 2;
    }

    /* This rank's shard: for each global batch k, rows [r*b, (r+1)*b),
     * time-major [T, b, I] as rnn_forward reads them. */
    float *x = checked_malloc(batch_values * (size_t)o.batches * sizeof *x);
    float *labels = checked_malloc((size_t)b * (size_t)o.batches * sizeof *labels);
    float *seq = checked_malloc(seq_values * sizeof *seq);
    for (long k = 0; k < o.batches; k++) {
        float *xk = x + (size_t)k * batch_values;
        for (int32_t j = 0; j < b; j++) {
            uint64_t n = (uint64_t)k * (uint64_t)o.batch +
                         (uint64_t)world_rank * (uint64_t)b + (uint64_t)j;
            labels[(size_t)k * (size_t)b + (size_t)j] =
                make_sequence(o.seed, n, seq_values, seq);
            for (int32_t t = 0; t < T; t++)
                memcpy(xk + ((size_t)t * (size_t)b + (size_t)j) * (size_t)I,
                       seq + (size_t)t * (size_t)I, (size_t)I * sizeof *seq);
        }
    }
    free(seq);

    rnn_config cfg = rnn_config_default(I, (int32_t)o.hidden);
    cfg.num_layers = (int32_t)o.layers;
    cfg.output_size = 1;
    cfg.seed = o.seed;
    rnn_t *model = NULL;
    rnn_optim_t *optim = NULL;
    CHECK(rnn_create(&model, &cfg));
    rnn_optim_config ocfg = rnn_optim_config_default(
        o.sgd ? RNN_OPTIM_SGD : RNN_OPTIM_ADAM, (float)o.lr);
    CHECK(rnn_optim_create(&optim, model, &ocfg));

    float *params, *grads;
    size_t n_params;
    CHECK(rnn_params(model, &params, &n_params));
    CHECK(rnn_grads(model, &grads, NULL));
    if (n_params > (size_t)INT_MAX) {
        fprintf(stderr, PROG ": %zu parameters do not fit one MPI count\n",
                n_params);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }

    /* Same seed, same weights: make sure before spending any time. */
    {
        uint64_t h = fnv1a(params, n_params * sizeof *params), lo, hi;
        CHECK_MPI(MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD));
        CHECK_MPI(MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD));
        if (lo != hi) {
            if (world_rank == 0)
                fprintf(stderr, PROG ": the ranks start from different weights\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }

    if (world_rank == 0) {
        printf("librnn %s, BLAS: %s\n", rnn_version(), rnn_blas_info());
        printf("%d rank(s); global batch %ld (%d per rank), I=%d H=%ld T=%d "
               "L=%ld, %zu parameters (%zu bytes per allreduce), %s lr %g, "
               "%ld steps\n",
               size, o.batch, b, I, o.hidden, T, o.layers, n_params,
               n_params * sizeof(float), o.sgd ? "SGD" : "Adam", o.lr, o.steps);
        fflush(stdout);
    }

    float *logits = checked_malloc((size_t)b * sizeof *logits);
    float *dlogits = checked_malloc((size_t)b * sizeof *dlogits);
    const float ranks = (float)size;
    double window = 0.0, last_mean = 0.0;
    long in_window = 0;
    double t_compute = 0.0, t_reduce = 0.0, t_total = 0.0;

    for (long step = 0; step < o.steps; step++) {
        const long k = step % o.batches;
        const float *xk = x + (size_t)k * batch_values;
        const float *yk = labels + (size_t)k * (size_t)b;
        float loss;
        double t0 = MPI_Wtime(), t1, t2;

        CHECK(rnn_zero_grad(model));
        CHECK(rnn_forward(model, T, b, xk, NULL, NULL, NULL, NULL));
        CHECK(rnn_head_forward(model, logits));
        CHECK(rnn_loss_bce_with_logits(b, logits, yk, RNN_REDUCTION_MEAN, &loss,
                                       dlogits));
        CHECK(rnn_head_backward(model, dlogits));
        CHECK(rnn_backward(model, NULL, NULL, NULL, NULL));
        t1 = MPI_Wtime();
        /* The whole gradient is one flat buffer: one collective per step. */
        CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, grads, (int)n_params, MPI_FLOAT,
                                MPI_SUM, MPI_COMM_WORLD));
        t2 = MPI_Wtime();
        /* Every rank holds the same sum (checked by --check), so every
         * rank rounds the mean alike. */
        if (size > 1)
            for (size_t i = 0; i < n_params; i++)
                grads[i] /= ranks;
        if (o.clip > 0.0)
            CHECK(rnn_clip_grad_norm(model, (float)o.clip, NULL));
        CHECK(rnn_optim_step(optim, model));
        if (step > 0) { /* step 0 sizes the workspaces */
            t_compute += (t1 - t0) + (MPI_Wtime() - t2);
            t_reduce += t2 - t1;
            t_total += MPI_Wtime() - t0;
        }

        window += (double)loss;
        in_window++;
        if ((step + 1) % o.report == 0 || step + 1 == o.steps) {
            double sum;
            /* The same steps on every rank: the collective order agrees. */
            CHECK_MPI(MPI_Allreduce(&window, &sum, 1, MPI_DOUBLE, MPI_SUM,
                                    MPI_COMM_WORLD));
            last_mean = sum / ((double)in_window * (double)size);
            if (world_rank == 0) {
                printf("step %6ld  loss %.4f\n", step + 1, last_mean);
                fflush(stdout);
            }
            window = 0.0;
            in_window = 0;
        }
    }

    if (world_rank == 0)
        CHECK(rnn_save(model, o.out));

    if (o.check) {
        /* One line per rank; the barriers order the writes, but mpirun
         * forwards each rank's output on its own, so lines may still
         * arrive in any order. */
        uint64_t h = fnv1a(params, n_params * sizeof *params);
        double sum = 0.0;
        for (size_t i = 0; i < n_params; i++)
            sum += (double)params[i];
        for (int r = 0; r < size; r++) {
            if (r == world_rank) {
                printf("rank=%d params_fnv1a=%016" PRIx64 " params_sum=%.9e\n",
                       world_rank, h, sum);
                fflush(stdout);
            }
            CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD));
        }
    }

    /* The slowest rank sets the pace: report the maximum over the ranks. */
    double times[3] = {t_compute, t_reduce, t_total}, worst[3];
    CHECK_MPI(MPI_Reduce(times, worst, 3, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD));
    if (world_rank == 0) {
        const long timed = o.steps - 1;
        const double per_step = timed > 0 ? worst[2] / (double)timed : 0.0;
        printf("rank 0 wrote %s\n", o.out);
        printf("time per step: %.3f ms (compute %.3f ms, allreduce %.3f ms), "
               "%ld timed steps\n",
               per_step * 1e3, timed > 0 ? worst[0] / (double)timed * 1e3 : 0.0,
               timed > 0 ? worst[1] / (double)timed * 1e3 : 0.0, timed);
        printf("ranks=%d batch=%ld steps=%ld params=%zu final_loss=%.4f "
               "step_ms=%.3f compute_ms=%.3f allreduce_ms=%.3f "
               "samples_per_s=%.0f\n",
               size, o.batch, o.steps, n_params, last_mean, per_step * 1e3,
               timed > 0 ? worst[0] / (double)timed * 1e3 : 0.0,
               timed > 0 ? worst[1] / (double)timed * 1e3 : 0.0,
               per_step > 0.0 ? (double)o.batch / per_step : 0.0);
    }

    free(dlogits);
    free(logits);
    rnn_optim_destroy(optim);
    rnn_destroy(model);
    free(labels);
    free(x);
    MPI_Finalize();
    return 0;
}
