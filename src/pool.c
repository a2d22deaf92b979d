/* SPDX-License-Identifier: MIT
 *
 * pool.c - the persistent workers behind librnn's parallel regions
 * (pool.h). One region at a time owns them: a caller that finds them busy
 * runs its tasks itself. Workers start on the first region that needs
 * them and then wait for the next one, spinning briefly (back-to-back
 * regions, such as the layers of one pass, then cost no wake-up) before
 * sleeping on a condition variable (so an idle pool costs no CPU, which
 * matters on machines shared with other processes). A region allocates
 * nothing.
 *
 * fork: the handlers below wait for a running region to end before the
 * process forks, and the child starts with no workers (new ones start on
 * its first region).
 */
#include "pool.h"

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

/* About 20-40 microseconds of polling before a waiting thread sleeps. */
enum { SPIN = 4000 };

/* Held by the thread whose region runs on the workers. */
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;
/* Guards the sleeps of both sides. */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER; /* workers wait */
static pthread_cond_t done = PTHREAD_COND_INITIALIZER; /* the owner waits */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static pthread_t workers[RNN__MAX_THREADS];
/* The generation each worker was started at: it acts on later ones. */
static unsigned start_seen[RNN__MAX_THREADS];
static int started; /* workers running; written under `owner` */
/* Bumped by the owner for each region (and to stop the workers); a worker
 * acts on each value once, then reports in `pending`. */
static atomic_uint generation;
static atomic_int pending; /* workers yet to report on the region */
static atomic_bool stopping;
/* The region's work, written before generation is bumped. */
static rnn__task_fn job_fn;
static void *job_ctx;
static int job_count;

static _Thread_local bool in_region;

bool rnn__pool_in_region(void)
{
    return in_region;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Waits until generation differs from `seen` and returns it. */
static unsigned next_generation(unsigned seen)
{
    unsigned now;
    for (int i = 0; i < SPIN; ++i) {
        now = atomic_load_explicit(&generation, memory_order_acquire);
        if (now != seen)
            return now;
        relax();
    }
    pthread_mutex_lock(&wake_lock);
    while ((now = atomic_load_explicit(&generation, memory_order_acquire)) == seen)
        pthread_cond_wait(&wake, &wake_lock);
    pthread_mutex_unlock(&wake_lock);
    return now;
}

static void report_done(void)
{
    if (atomic_fetch_sub_explicit(&pending, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&wake_lock);
        pthread_cond_signal(&done);
        pthread_mutex_unlock(&wake_lock);
    }
}

static void *worker_main(void *arg)
{
    const int index = (int)(intptr_t)arg;
    unsigned seen = start_seen[index - 1];
    in_region = true; /* a worker's nested regions run inline */
    for (;;) {
        seen = next_generation(seen);
        if (atomic_load_explicit(&stopping, memory_order_acquire)) {
            report_done();
            return NULL;
        }
        if (index < job_count)
            job_fn(job_ctx, index, job_count);
        report_done();
    }
}

/* Waits until every worker has reported on the current generation. */
static void wait_workers(void)
{
    for (int i = 0; i < SPIN; ++i) {
        if (atomic_load_explicit(&pending, memory_order_acquire) == 0)
            return;
        relax();
    }
    pthread_mutex_lock(&wake_lock);
    while (atomic_load_explicit(&pending, memory_order_acquire) != 0)
        pthread_cond_wait(&done, &wake_lock);
    pthread_mutex_unlock(&wake_lock);
}

/* Publishes the region's work (or the stop) to the `started` workers. */
static void start_generation(void)
{
    atomic_store_explicit(&pending, started, memory_order_relaxed);
    pthread_mutex_lock(&wake_lock);
    atomic_fetch_add_explicit(&generation, 1, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&wake_lock);
}

static void before_fork(void)
{
    pthread_mutex_lock(&owner);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&owner);
}

/* The workers do not exist in the child; its locks are re-made free. */
static void after_fork_child(void)
{
    started = 0;
    atomic_store(&pending, 0);
    pthread_mutex_init(&wake_lock, NULL);
    pthread_cond_init(&wake, NULL);
    pthread_cond_init(&done, NULL);
    pthread_mutex_unlock(&owner);
}

static void register_atfork(void)
{
    (void)pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Starts workers up to `wanted` (under `owner`); returns how many run. */
static int start_workers(int wanted)
{
    pthread_once(&atfork_once, register_atfork);
    while (started < wanted) {
        /* The new worker acts on the next generation only. */
        start_seen[started] =
            atomic_load_explicit(&generation, memory_order_relaxed);
        if (pthread_create(&workers[started], NULL, worker_main,
                           (void *)(intptr_t)(started + 1)) != 0)
            break;
        ++started;
    }
    return started;
}

/* Tasks [from, to) of `count` on the calling thread. */
static void run_inline(int from, int to, int count, rnn__task_fn fn, void *ctx)
{
    const bool outer = in_region;
    in_region = true;
    for (int i = from; i < to; ++i)
        fn(ctx, i, count);
    in_region = outer;
}

void rnn__pool_run(int count, rnn__task_fn fn, void *ctx)
{
    if (count <= 1 || in_region || pthread_mutex_trylock(&owner) != 0) {
        run_inline(0, count, count, fn, ctx);
        return;
    }
    const int helpers = start_workers(count - 1 < RNN__MAX_THREADS
                                          ? count - 1
                                          : RNN__MAX_THREADS);
    job_fn = fn;
    job_ctx = ctx;
    job_count = count;
    if (helpers > 0)
        start_generation();
    run_inline(0, 1, count, fn, ctx);
    /* Tasks no worker could be started for. */
    run_inline(helpers + 1, count, count, fn, ctx);
    if (helpers > 0)
        wait_workers();
    pthread_mutex_unlock(&owner);
}

/* Stops the workers when librnn is unloaded (dlclose): they must not run
 * on in unmapped code. */
__attribute__((destructor)) static void stop_workers(void)
{
    if (pthread_mutex_trylock(&owner) != 0)
        return; /* a region is running at exit: leave it be */
    if (started > 0) {
        job_count = 0;
        atomic_store_explicit(&stopping, true, memory_order_release);
        start_generation();
        wait_workers();
        for (int i = 0; i < started; ++i)
            pthread_join(workers[i], NULL);
        started = 0;
        atomic_store_explicit(&stopping, false, memory_order_release);
    }
    pthread_mutex_unlock(&owner);
}
