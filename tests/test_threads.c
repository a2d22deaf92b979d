/* SPDX-License-Identifier: MIT
 *
 * test_threads.c - the thread rules of rnn.h: threads stepping their own
 * rnn_state_t on ONE shared const model get bit-identical results to the
 * same streams stepped one after another (B = 1 goes through sgemv, B = 3
 * through sgemm, and both at once); threads training their OWN models
 * (forward, head, loss, backward, clip, Adam) get the bits of a sequential
 * run; threads saving one shared model to one path leave a whole file and
 * no temporary; and each thread sees only its own rnn_last_error().
 *
 * Workers never call CMocka (its failures longjmp on the main thread's
 * stack): they record statuses and copies of their outputs, and the main
 * thread checks them after pthread_join. All workers of a test wait on a
 * barrier and start together, so that their calls overlap. The tsan_threads
 * test runs this program under ThreadSanitizer (cmake/RnnTsanTests.cmake).
 *
 * Bit-identity holds because every call's arithmetic is fixed by its
 * arguments: no result depends on which thread runs it or on what other
 * threads do (with one BLAS thread per call, which the tests' environment
 * sets).
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t */

#include "testutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    N_THREADS = 4,
    ROUNDS = 3,    /* threaded runs compared with one sequential run */
    STEPS = 40,    /* rnn_step calls per stream                      */
    ERR_MAX = 512  /* copy of an rnn_last_error() message            */
};

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* 1 when a and b hold the same bits, else prints the first difference. */
static int same_bits(const char *what, int thread, const float *a,
                     const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0) {
            print_error("%s of thread %d, [%zu]: threaded %.9g, sequential "
                        "%.9g\n",
                        what, thread, i, (double)a[i], (double)b[i]);
            return 0;
        }
    }
    return 1;
}

static void copy_error(char *dst)
{
    snprintf(dst, ERR_MAX, "%s", rnn_last_error());
}

/* Starts fn(arg[k]) on N_THREADS threads and joins them. */
static void run_threads(void *(*fn)(void *), void *args, size_t arg_size)
{
    pthread_t threads[N_THREADS];
    for (int k = 0; k < N_THREADS; k++)
        assert_int_equal(pthread_create(&threads[k], NULL, fn,
                                        (char *)args + (size_t)k * arg_size),
                         0);
    for (int k = 0; k < N_THREADS; k++)
        assert_int_equal(pthread_join(threads[k], NULL), 0);
}

/* ------------------------------------------------------------------------
 * Streams on one shared model
 * ---------------------------------------------------------------------- */

enum { SH_I = 5, SH_H = 24, SH_L = 2, SH_O = 3 };

typedef struct stepper {
    const rnn_t *model;         /* shared, only read              */
    pthread_barrier_t *start;   /* NULL: sequential run           */
    int32_t B;
    const float *x;             /* [STEPS, B, I]                  */
    float *y;                   /* [STEPS, B, H], written         */
    float *logits;              /* [STEPS, B, O], written         */
    float *h_final;             /* [L, B, H], written             */
    rnn_status status;
    char error[ERR_MAX];
} stepper;

static rnn_status stepper_run(stepper *s)
{
    rnn_state_t *st = NULL;
    rnn_status status = rnn_state_create(&st, s->model, s->B);
    for (int32_t t = 0; status == RNN_OK && t < STEPS; t++) {
        size_t row = (size_t)t * (size_t)s->B;
        status = rnn_step(s->model, st, s->x + row * SH_I, s->y + row * SH_H);
        if (status == RNN_OK)
            status = rnn_step_head(s->model, st, s->logits + row * SH_O);
    }
    if (status == RNN_OK)
        status = rnn_state_get(st, s->h_final);
    rnn_state_destroy(st);
    return status;
}

static void *stepper_main(void *arg)
{
    stepper *s = arg;
    if (s->start)
        pthread_barrier_wait(s->start);
    s->status = stepper_run(s);
    if (s->status != RNN_OK)
        copy_error(s->error);
    return NULL;
}

/* N_THREADS streams of batches[k] on one model (with its step weights
 * packed or not): threaded ROUNDS times and compared bit for bit with one
 * sequential run. */
static void shared_model_streams(const int32_t batches[N_THREADS], bool packed)
{
    rnn_config cfg = rnn_config_default(SH_I, SH_H);
    cfg.num_layers = SH_L;
    cfg.output_size = SH_O;
    cfg.seed = 7;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    if (packed)
        TU_OK(rnn_pack_weights(model));

    float *x[N_THREADS];
    stepper ref[N_THREADS], par[N_THREADS];
    for (int k = 0; k < N_THREADS; k++) {
        const size_t B = (size_t)batches[k];
        x[k] = tu_floats(STEPS * B * SH_I);
        tu_rng rng = tu_rng_make(100u + (uint64_t)k);
        tu_fill(&rng, x[k], STEPS * B * SH_I, -1.5, 1.5);
        stepper s = {.model = model, .B = batches[k], .x = x[k]};
        s.y = tu_floats(STEPS * B * SH_H);
        s.logits = tu_floats(STEPS * B * SH_O);
        s.h_final = tu_floats(SH_L * B * SH_H);
        ref[k] = s;
        s.y = tu_floats(STEPS * B * SH_H);
        s.logits = tu_floats(STEPS * B * SH_O);
        s.h_final = tu_floats(SH_L * B * SH_H);
        par[k] = s;
    }

    for (int k = 0; k < N_THREADS; k++) {
        stepper_main(&ref[k]);
        if (ref[k].status != RNN_OK)
            fail_msg("sequential stream %d: %s", k, ref[k].error);
    }

    int ok = 1;
    for (int round = 0; round < ROUNDS && ok; round++) {
        pthread_barrier_t start;
        assert_int_equal(pthread_barrier_init(&start, NULL, N_THREADS), 0);
        for (int k = 0; k < N_THREADS; k++) {
            const size_t B = (size_t)batches[k];
            tu_sentinel_fill(par[k].y, STEPS * B * SH_H);
            tu_sentinel_fill(par[k].logits, STEPS * B * SH_O);
            tu_sentinel_fill(par[k].h_final, SH_L * B * SH_H);
            par[k].start = &start;
            par[k].status = RNN_E_STATE;
        }
        run_threads(stepper_main, par, sizeof par[0]);
        pthread_barrier_destroy(&start);
        for (int k = 0; k < N_THREADS; k++) {
            const size_t B = (size_t)batches[k];
            if (par[k].status != RNN_OK) {
                print_error("thread %d: %s\n", k, par[k].error);
                ok = 0;
                continue;
            }
            ok &= same_bits("y", k, par[k].y, ref[k].y, STEPS * B * SH_H);
            ok &= same_bits("logits", k, par[k].logits, ref[k].logits,
                            STEPS * B * SH_O);
            ok &= same_bits("final state", k, par[k].h_final, ref[k].h_final,
                            SH_L * B * SH_H);
        }
    }

    for (int k = 0; k < N_THREADS; k++) {
        free(x[k]);
        free(ref[k].y);
        free(ref[k].logits);
        free(ref[k].h_final);
        free(par[k].y);
        free(par[k].logits);
        free(par[k].h_final);
    }
    rnn_destroy(model);
    assert_true(ok);
}

static void threads_stepping_one_model_with_batch_1_match_sequential(void **state)
{
    (void)state;
    static const int32_t batches[N_THREADS] = {1, 1, 1, 1};
    shared_model_streams(batches, false);
}

static void threads_stepping_one_model_with_batch_3_match_sequential(void **state)
{
    (void)state;
    static const int32_t batches[N_THREADS] = {3, 3, 3, 3};
    shared_model_streams(batches, false);
}

static void threads_stepping_one_model_with_mixed_batches_match_sequential(
    void **state)
{
    (void)state;
    static const int32_t batches[N_THREADS] = {1, 3, 1, 3};
    shared_model_streams(batches, false);
}

static void threads_stepping_one_packed_model_match_sequential(void **state)
{
    (void)state;
    static const int32_t batches[N_THREADS] = {1, 3, 1, 3};
    shared_model_streams(batches, true);
}

/* ------------------------------------------------------------------------
 * Training: each thread its own model
 * ---------------------------------------------------------------------- */

enum { TR_I = 4, TR_L = 2, TR_T = 12, TR_B = 6, TR_ITERS = 5 };

typedef struct trainer {
    int index;                  /* sizes and seeds depend on it   */
    pthread_barrier_t *start;
    float *params;              /* final parameters, written      */
    size_t n_params;
    float *y;                   /* last forward's y, written      */
    float losses[TR_ITERS];
    rnn_status status;
    char error[ERR_MAX];
} trainer;

static int32_t trainer_hidden(int index)
{
    return 16 + 8 * index; /* different sizes, different workspaces */
}

static size_t trainer_y_count(int index)
{
    return (size_t)TR_T * TR_B * (size_t)trainer_hidden(index);
}

/* A few Adam updates of a fresh model on fixed data; the parameters after
 * the last update are copied out. */
static rnn_status trainer_run(trainer *tr)
{
    rnn_config cfg = rnn_config_default(TR_I, trainer_hidden(tr->index));
    cfg.num_layers = TR_L;
    cfg.output_size = 1;
    cfg.seed = 31u + (uint64_t)tr->index;
    rnn_optim_config ocfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 1e-2f);
    float x[TR_T * TR_B * TR_I], labels[TR_B], logits[TR_B], dlogits[TR_B];
    float dx[TR_T * TR_B * TR_I];
    rnn_t *model = NULL;
    rnn_optim_t *optim = NULL;
    float *params = NULL;
    size_t count = 0;

    tu_rng rng = tu_rng_make(500u + (uint64_t)tr->index);
    tu_fill(&rng, x, sizeof x / sizeof x[0], -1.0, 1.0);
    for (int b = 0; b < TR_B; b++)
        labels[b] = (float)(b % 2);

    rnn_status status = rnn_create(&model, &cfg);
    if (status == RNN_OK)
        status = rnn_optim_create(&optim, model, &ocfg);
    for (int it = 0; status == RNN_OK && it < TR_ITERS; it++) {
        status = rnn_zero_grad(model);
        if (status == RNN_OK)
            status = rnn_forward(model, TR_T, TR_B, x, NULL, NULL, tr->y, NULL);
        if (status == RNN_OK)
            status = rnn_head_forward(model, logits);
        if (status == RNN_OK)
            status = rnn_loss_bce_with_logits(TR_B, logits, labels,
                                              RNN_REDUCTION_MEAN,
                                              &tr->losses[it], dlogits);
        if (status == RNN_OK)
            status = rnn_head_backward(model, dlogits);
        if (status == RNN_OK)
            status = rnn_backward(model, NULL, NULL, dx, NULL);
        if (status == RNN_OK)
            status = rnn_clip_grad_norm(model, 1.0f, NULL);
        if (status == RNN_OK)
            status = rnn_optim_step(optim, model);
    }
    if (status == RNN_OK)
        status = rnn_params(model, &params, &count);
    if (status == RNN_OK && count != tr->n_params)
        status = RNN_E_SHAPE;
    if (status == RNN_OK)
        memcpy(tr->params, params, count * sizeof *params);
    rnn_optim_destroy(optim);
    rnn_destroy(model);
    return status;
}

static void *trainer_main(void *arg)
{
    trainer *tr = arg;
    if (tr->start)
        pthread_barrier_wait(tr->start);
    tr->status = trainer_run(tr);
    if (tr->status != RNN_OK)
        copy_error(tr->error);
    return NULL;
}

static size_t trainer_param_count(int index)
{
    rnn_config cfg = rnn_config_default(TR_I, trainer_hidden(index));
    cfg.num_layers = TR_L;
    cfg.output_size = 1;
    rnn_t *model = NULL;
    size_t count = 0;
    TU_OK(rnn_create(&model, &cfg));
    TU_OK(rnn_params(model, NULL, &count));
    rnn_destroy(model);
    return count;
}

static void threads_training_their_own_models_match_sequential(void **state)
{
    (void)state;
    trainer ref[N_THREADS], par[N_THREADS];
    for (int k = 0; k < N_THREADS; k++) {
        trainer tr = {.index = k, .n_params = trainer_param_count(k)};
        tr.params = tu_floats(tr.n_params);
        tr.y = tu_floats(trainer_y_count(k));
        ref[k] = tr;
        tr.params = tu_floats(tr.n_params);
        tr.y = tu_floats(trainer_y_count(k));
        par[k] = tr;
    }
    for (int k = 0; k < N_THREADS; k++) {
        trainer_main(&ref[k]);
        if (ref[k].status != RNN_OK)
            fail_msg("sequential model %d: %s", k, ref[k].error);
    }

    int ok = 1;
    for (int round = 0; round < ROUNDS && ok; round++) {
        pthread_barrier_t start;
        assert_int_equal(pthread_barrier_init(&start, NULL, N_THREADS), 0);
        for (int k = 0; k < N_THREADS; k++) {
            tu_sentinel_fill(par[k].params, par[k].n_params);
            tu_sentinel_fill(par[k].y, trainer_y_count(k));
            par[k].start = &start;
            par[k].status = RNN_E_STATE;
        }
        run_threads(trainer_main, par, sizeof par[0]);
        pthread_barrier_destroy(&start);
        for (int k = 0; k < N_THREADS; k++) {
            if (par[k].status != RNN_OK) {
                print_error("thread %d: %s\n", k, par[k].error);
                ok = 0;
                continue;
            }
            ok &= same_bits("losses", k, par[k].losses, ref[k].losses, TR_ITERS);
            ok &= same_bits("y", k, par[k].y, ref[k].y, trainer_y_count(k));
            ok &= same_bits("parameters", k, par[k].params, ref[k].params,
                            par[k].n_params);
        }
    }
    /* The training did something: the loss moved. */
    for (int k = 0; k < N_THREADS; k++)
        ok &= ref[k].losses[TR_ITERS - 1] != ref[k].losses[0];

    for (int k = 0; k < N_THREADS; k++) {
        free(ref[k].params);
        free(ref[k].y);
        free(par[k].params);
        free(par[k].y);
    }
    assert_true(ok);
}

/* ------------------------------------------------------------------------
 * Saving one shared model from several threads
 * ---------------------------------------------------------------------- */

typedef struct saver {
    const rnn_t *model;
    const char *path;
    pthread_barrier_t *start;
    rnn_status status;
    char error[ERR_MAX];
} saver;

static void *saver_main(void *arg)
{
    saver *s = arg;
    pthread_barrier_wait(s->start);
    s->status = RNN_OK;
    for (int i = 0; i < 5 && s->status == RNN_OK; i++)
        s->status = rnn_save(s->model, s->path);
    if (s->status != RNN_OK)
        copy_error(s->error);
    return NULL;
}

/* Leftover temporary files of rnn_save next to `path` (in the working
 * directory). */
static int count_temporaries(const char *path)
{
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s.tmp", path);
    DIR *dir = opendir(".");
    int n = 0;
    assert_non_null(dir);
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(dir);
    return n;
}

static void threads_saving_one_model_to_one_path_leave_a_whole_file(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(3, 20);
    cfg.num_layers = 2;
    cfg.output_size = 2;
    cfg.seed = 11;
    rnn_t *model = NULL, *loaded = NULL;
    TU_OK(rnn_create(&model, &cfg));
    /* The process id keeps this program's file apart from a copy of it
     * running at the same time in the same directory (valgrind, TSan). */
    char path[64];
    snprintf(path, sizeof path, "test_threads_%ld.safetensors", (long)getpid());

    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, N_THREADS), 0);
    saver savers[N_THREADS];
    for (int k = 0; k < N_THREADS; k++)
        savers[k] = (saver){.model = model, .path = path, .start = &start};
    run_threads(saver_main, savers, sizeof savers[0]);
    pthread_barrier_destroy(&start);
    for (int k = 0; k < N_THREADS; k++)
        if (savers[k].status != RNN_OK)
            fail_msg("thread %d: %s", k, savers[k].error);

    TU_OK(rnn_load(&loaded, path));
    float *want, *got;
    size_t n_want, n_got;
    TU_OK(rnn_params(model, &want, &n_want));
    TU_OK(rnn_params(loaded, &got, &n_got));
    assert_int_equal(n_got, n_want);
    int ok = same_bits("loaded parameters", 0, got, want, n_want);
    rnn_destroy(loaded);
    rnn_destroy(model);
    assert_true(ok);
    assert_int_equal(count_temporaries(path), 0);
    remove(path);
}

/* ------------------------------------------------------------------------
 * Errors are per thread
 * ---------------------------------------------------------------------- */

typedef struct reporter {
    int index;                  /* fails with batch -(index + 1)        */
    int quiet;                  /* 1: makes no failing call             */
    const rnn_t *model;
    pthread_barrier_t *failed;  /* every thread has made its call       */
    pthread_barrier_t *read;    /* every thread has read its message    */
    rnn_status status;
    char after_fail[ERR_MAX];   /* rnn_last_error() after its own call  */
    char after_others[ERR_MAX]; /* ... once all others have failed too  */
    char after_ok[ERR_MAX];     /* ... after successful calls           */
    const char *blas_info, *version;
} reporter;

static void *reporter_main(void *arg)
{
    reporter *r = arg;
    rnn_state_t *st = NULL;

    r->status = RNN_OK;
    if (!r->quiet)
        r->status = rnn_state_create(&st, r->model, -(r->index + 1));
    copy_error(r->after_fail);
    pthread_barrier_wait(r->failed);
    copy_error(r->after_others);
    /* Successful calls do not clear the message. */
    r->blas_info = rnn_blas_info();
    r->version = rnn_version();
    if (rnn_state_create(&st, r->model, 1) == RNN_OK)
        rnn_state_destroy(st);
    copy_error(r->after_ok);
    pthread_barrier_wait(r->read);
    return NULL;
}

static void each_thread_sees_only_its_own_last_error(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(2, 4);
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));

    /* The main thread's own message, which the workers must not touch. */
    char mine[ERR_MAX];
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_forward",
             rnn_forward(NULL, 1, 1, NULL, NULL, NULL, NULL, NULL));
    copy_error(mine);

    pthread_barrier_t failed, read;
    assert_int_equal(pthread_barrier_init(&failed, NULL, N_THREADS), 0);
    assert_int_equal(pthread_barrier_init(&read, NULL, N_THREADS), 0);
    reporter reps[N_THREADS];
    for (int k = 0; k < N_THREADS; k++)
        reps[k] = (reporter){.index = k,
                             .quiet = k == N_THREADS - 1,
                             .model = model,
                             .failed = &failed,
                             .read = &read};
    run_threads(reporter_main, reps, sizeof reps[0]);
    pthread_barrier_destroy(&failed);
    pthread_barrier_destroy(&read);

    int ok = 1;
    for (int k = 0; k < N_THREADS; k++) {
        const reporter *r = &reps[k];
        if (r->quiet) {
            /* A thread that never failed has an empty message. */
            int good = r->status == RNN_OK && r->after_fail[0] == '\0' &&
                       r->after_others[0] == '\0' && r->after_ok[0] == '\0';
            if (!good)
                print_error("quiet thread sees '%s' / '%s' / '%s'\n",
                            r->after_fail, r->after_others, r->after_ok);
            ok &= good;
        } else {
            char want[64];
            snprintf(want, sizeof want, "(got %d)", -(k + 1));
            int good = r->status == RNN_E_SHAPE &&
                       strstr(r->after_fail, "rnn_state_create") != NULL &&
                       strstr(r->after_fail, want) != NULL &&
                       strcmp(r->after_others, r->after_fail) == 0 &&
                       strcmp(r->after_ok, r->after_fail) == 0;
            if (!good)
                print_error("thread %d wants '%s': status %d, '%s' / '%s' / "
                            "'%s'\n",
                            k, want, (int)r->status, r->after_fail,
                            r->after_others, r->after_ok);
            ok &= good;
        }
        /* The once-initialised static strings are the same for all. */
        ok &= r->blas_info == reps[0].blas_info && r->version == reps[0].version;
    }
    ok &= strcmp(rnn_last_error(), mine) == 0;
    rnn_destroy(model);
    assert_true(ok);
}

int main(void)
{
    static const struct CMUnitTest plain[] = {
        cmocka_unit_test(threads_stepping_one_model_with_batch_1_match_sequential),
        cmocka_unit_test(threads_stepping_one_model_with_batch_3_match_sequential),
        cmocka_unit_test(
            threads_stepping_one_model_with_mixed_batches_match_sequential),
        cmocka_unit_test(threads_stepping_one_packed_model_match_sequential),
        cmocka_unit_test(threads_training_their_own_models_match_sequential),
        cmocka_unit_test(threads_saving_one_model_to_one_path_leave_a_whole_file),
        cmocka_unit_test(each_thread_sees_only_its_own_last_error),
    };
    return tu_run("test_threads", plain, sizeof plain / sizeof plain[0], NULL, 0);
}
