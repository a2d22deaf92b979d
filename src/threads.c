/* SPDX-License-Identifier: MIT
 *
 * threads.c - how many threads librnn uses, and how it shares the cores
 * with the BLAS (pool.h; the user's view is in rnn.h and docs/api.md,
 * "Threads").
 *
 * librnn makes its own parallelism: row slices of the batch for the
 * recurrences (each thread runs every step of its rows, so a slice needs no
 * barrier per step) and row blocks of the large products. Each slice's BLAS
 * call is single-threaded: the BLAS is asked for one thread while a librnn
 * call computes (when it has a run-time setter), because the per-step
 * products are too small for the BLAS's own threads, which made them slower
 * than one thread. The policy gives a region fewer slices, down to one,
 * when a slice would be too small to repay waking a worker.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "pool.h"

#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* A slice must hold this much arithmetic: waking a sleeping worker and
 * joining it costs tens of microseconds, more on a loaded machine. */
static const double min_slice_flops = 4e6;

static atomic_int requested; /* rnn_set_num_threads's n; 0: automatic */
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static atomic_bool set_by_call;
static int automatic; /* the default count, found once with the variable */
/* A core's L2 cache in bytes (1 MiB when the system does not say), found
 * once: glibc asks the CPU (cpuid), which a virtual machine makes slow. */
static double l2_bytes = 1048576.0;

/* The CPUs this process may run on (when librnn first computes: a later
 * change of the affinity is not seen). */
static int available_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}

/* The machine (CPUs, L2 size), and RNN_NUM_THREADS, read once: a count in
 * [0, RNN__MAX_THREADS]; anything else is ignored (automatic). A call to
 * rnn_set_num_threads wins. */
static void read_env(void)
{
    const int cpus = available_cpus();
    automatic = cpus < RNN__MAX_THREADS ? cpus : RNN__MAX_THREADS;
#ifdef _SC_LEVEL2_CACHE_SIZE
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l2 > 0)
        l2_bytes = (double)l2;
#endif
    const char *text = getenv("RNN_NUM_THREADS");
    if (text == NULL || *text == '\0' || atomic_load(&set_by_call))
        return;
    char *end = NULL;
    errno = 0;
    const long n = strtol(text, &end, 10);
    if (errno == 0 && *end == '\0' && n >= 0 && n <= RNN__MAX_THREADS)
        atomic_store(&requested, (int)n);
}

int rnn__num_threads(void)
{
#ifdef RNN_PROFILE
    /* The profiling build's phase counters are not shared-safe: it times
     * the single-threaded library. */
    return 1;
#endif
    pthread_once(&env_once, read_env);
    const int n = atomic_load(&requested);
    return n > 0 ? n : automatic;
}

rnn_status rnn_set_num_threads(int n)
{
    if (n < 0 || n > RNN__MAX_THREADS)
        return rnn__fail(RNN_E_INVALID_ARG, "rnn_set_num_threads",
                         "n must be in [0, %d] (0: automatic), got %d",
                         RNN__MAX_THREADS, n);
    atomic_store(&set_by_call, true);
    pthread_once(&env_once, read_env);
    atomic_store(&requested, n);
    return RNN_OK;
}

int rnn_get_num_threads(void)
{
    return rnn__num_threads();
}

int rnn__row_slices(int64_t rows, double row_flops)
{
    if (rnn__pool_in_region())
        return 1;
    int count = rnn__num_threads();
    if ((int64_t)count > rows)
        count = (int)rows;
    while (count > 1 && (double)rows * row_flops / count < min_slice_flops)
        --count;
    return count < 1 ? 1 : count;
}

int rnn__column_slices(int32_t batch, int32_t n, int32_t k)
{
    if (rnn__num_threads() == 1 || rnn__pool_in_region() ||
        (double)n * k * sizeof(float) <= l2_bytes)
        return 1;
    /* Each block is a fork-join of its own at every step: at least 2 MFLOP. */
    const double step_flops = 2.0 * batch * n * k;
    int count = rnn__num_threads();
    while (count > 1 && (step_flops / count < 2e6 || n / count < 16))
        --count;
    return count;
}

int32_t rnn__slice_start(int32_t rows, int index, int count, int32_t align)
{
    if (index >= count)
        return rows;
    int32_t first = (int32_t)((int64_t)rows * index / count);
    if (align > 1 && index > 0) {
        first = (first + align / 2) / align * align;
        first = first > rows ? rows : first;
    }
    return first;
}
