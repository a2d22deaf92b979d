/* SPDX-License-Identifier: MIT
 *
 * pool.c - the persistent workers behind librnn's parallel regions
 * (pool.h). One region at a time owns them: a caller that finds them busy
 * runs its tasks itself.
 *
 * A region publishes its tasks in one atomic ticket (region number, task
 * count, next task) and every thread of it, the caller included, claims
 * the next task until none is left. So a worker that wakes late (on a
 * machine whose cores are busy with other processes, a woken thread may
 * wait milliseconds for one) finds its tasks done by the others instead of
 * holding the region up: a region is never much slower than its tasks run
 * one after the other. The caller then waits only for tasks already
 * started. Which thread runs a task never changes what the task computes.
 *
 * Workers start on the first region that needs them and then wait for the
 * next one, polling briefly (back-to-back regions, such as the layers of
 * one pass, then cost no wake-up) before sleeping on a condition variable
 * (an idle pool costs no CPU). A region allocates nothing.
 *
 * fork: the handlers below wait for a running region to end before the
 * process forks, and the child starts with no workers (new ones start on
 * its first region).
 */
#include "pool.h"

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>

/* Polls before a waiting thread sleeps (some 0.2 ms): a sleeping worker
 * takes tens of microseconds to wake on a virtual machine, which config
 * b's forward (0.4 ms, several regions) paid each time at 1000 polls
 * (figures in docs/benchmarks.md). */
enum { SPIN = 8000 };

/* Held by the thread whose region runs on the workers. */
static pthread_mutex_t owner = PTHREAD_MUTEX_INITIALIZER;
/* Guards the sleeps of both sides. */
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER; /* workers wait */
static pthread_cond_t done = PTHREAD_COND_INITIALIZER; /* the owner waits */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static pthread_t workers[RNN__MAX_THREADS];
/* The region each worker was started at: it acts on later ones. */
static uint32_t start_seen[RNN__MAX_THREADS];
static int started; /* workers running; written under `owner` */

/* The region's tasks: bits 32-63 the region number, 16-31 the task count,
 * 0-15 the next task to claim. Claiming is a compare-and-swap on it, so a
 * task is only ever claimed in the region it belongs to. */
static _Atomic uint64_t ticket;
static atomic_int finished; /* tasks of the current region done */
static atomic_bool stopping;
/* The region's work, written before its ticket is published and not
 * rewritten before all its tasks are finished. */
static rnn__task_fn job_fn;
static void *job_ctx;

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

static inline uint32_t region_of(uint64_t t)
{
    return (uint32_t)(t >> 32);
}

/* Claims and runs tasks of the region of ticket value t until none is
 * left or a new region has begun. */
static void claim_tasks(uint64_t t)
{
    const uint32_t region = region_of(t);
    for (;;) {
        const int count = (int)((t >> 16) & 0xffff), next = (int)(t & 0xffff);
        if (region_of(t) != region || next >= count)
            return;
        if (!atomic_compare_exchange_weak_explicit(&ticket, &t, t + 1,
                                                   memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* t now holds the current ticket */
        job_fn(job_ctx, next, count);
        if (atomic_fetch_add_explicit(&finished, 1, memory_order_acq_rel) + 1 ==
            count) {
            pthread_mutex_lock(&wake_lock);
            pthread_cond_signal(&done);
            pthread_mutex_unlock(&wake_lock);
        }
        t = atomic_load_explicit(&ticket, memory_order_acquire);
    }
}

/* Waits for a region other than `seen` (or the stop); returns its ticket. */
static uint64_t next_region(uint32_t seen)
{
    uint64_t t;
    for (int i = 0; i < SPIN; ++i) {
        t = atomic_load_explicit(&ticket, memory_order_acquire);
        if (region_of(t) != seen)
            return t;
        relax();
    }
    pthread_mutex_lock(&wake_lock);
    while (region_of(t = atomic_load_explicit(&ticket, memory_order_acquire)) ==
           seen)
        pthread_cond_wait(&wake, &wake_lock);
    pthread_mutex_unlock(&wake_lock);
    return t;
}

static void *worker_main(void *arg)
{
    uint32_t seen = start_seen[(intptr_t)arg];
    in_region = true; /* a worker's nested regions run inline */
    for (;;) {
        const uint64_t t = next_region(seen);
        if (atomic_load_explicit(&stopping, memory_order_acquire))
            return NULL;
        seen = region_of(t);
        claim_tasks(t);
    }
}

/* Waits until the region's `count` tasks are finished. */
static void wait_finished(int count)
{
    for (int i = 0; i < SPIN; ++i) {
        if (atomic_load_explicit(&finished, memory_order_acquire) == count)
            return;
        relax();
    }
    pthread_mutex_lock(&wake_lock);
    while (atomic_load_explicit(&finished, memory_order_acquire) != count)
        pthread_cond_wait(&done, &wake_lock);
    pthread_mutex_unlock(&wake_lock);
}

/* Publishes a new region of `count` tasks and wakes the workers; returns
 * its ticket. */
static uint64_t publish(int count)
{
    atomic_store_explicit(&finished, 0, memory_order_relaxed);
    pthread_mutex_lock(&wake_lock);
    const uint64_t old = atomic_load_explicit(&ticket, memory_order_relaxed);
    const uint64_t t = (uint64_t)(region_of(old) + 1u) << 32 |
                       (uint64_t)count << 16;
    atomic_store_explicit(&ticket, t, memory_order_release);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&wake_lock);
    return t;
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
    pthread_mutex_init(&wake_lock, NULL);
    pthread_cond_init(&wake, NULL);
    pthread_cond_init(&done, NULL);
    pthread_mutex_unlock(&owner);
}

static void register_atfork(void)
{
    (void)pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Starts workers up to `wanted` (under `owner`). */
static void start_workers(int wanted)
{
    pthread_once(&atfork_once, register_atfork);
    while (started < wanted) {
        start_seen[started] = region_of(atomic_load(&ticket));
        if (pthread_create(&workers[started], NULL, worker_main,
                           (void *)(intptr_t)started) != 0)
            break; /* the others (the caller at least) claim its tasks */
        ++started;
    }
}

void rnn__pool_run(int count, rnn__task_fn fn, void *ctx)
{
    if (count == 1) {
        fn(ctx, 0, 1); /* not a region: its own products may be cut */
        return;
    }
    const bool outer = in_region;
    in_region = true;
    if (count <= 1 || count > 0xffff || outer ||
        pthread_mutex_trylock(&owner) != 0) {
        for (int i = 0; i < count; ++i)
            fn(ctx, i, count);
        in_region = outer;
        return;
    }
    start_workers(count - 1 < RNN__MAX_THREADS ? count - 1 : RNN__MAX_THREADS);
    job_fn = fn;
    job_ctx = ctx;
    claim_tasks(publish(count));
    wait_finished(count);
    pthread_mutex_unlock(&owner);
    in_region = outer;
}

/* Stops the workers when librnn is unloaded (dlclose): they must not run
 * on in unmapped code. */
__attribute__((destructor)) static void stop_workers(void)
{
    if (pthread_mutex_trylock(&owner) != 0)
        return; /* a region is running at exit: leave it be */
    if (started > 0) {
        atomic_store_explicit(&stopping, true, memory_order_release);
        (void)publish(0);
        for (int i = 0; i < started; ++i)
            pthread_join(workers[i], NULL);
        started = 0;
        atomic_store_explicit(&stopping, false, memory_order_release);
    }
    pthread_mutex_unlock(&owner);
}
