/* SPDX-License-Identifier: MIT
 *
 * profile.h - phase timers around the drivers' hot loops, for the bench.
 *
 * The bench (bench/rnn_bench.c) splits librnn's time into the work that
 * cannot be avoided (BLAS calls, element-wise passes, copies: the "floor")
 * and the rest (the library's overhead), and the floor into its hot loops
 * ("parts"). Rather than re-enact the drivers' call sequences, it reads
 * them from the drivers themselves: each such piece of work is wrapped in
 *     RNN__PHASE(RNN__PHASE_FWD_REC, recurrent_product(...));
 * which, in the library's normal build, is the statement alone: not one
 * instruction more (the golden hashes and the object code say so).
 *
 * Compiled with -DRNN_PROFILE (only the bench's internal copy of the
 * library, bench/CMakeLists.txt), each wrap adds the statement's time and
 * one call to its phase in a process-wide table (profile.c). The table is
 * neither allocated nor locked: the profiling build must be driven from one
 * thread at a time (the bench does), and is never the library users get,
 * so rnn_step's concurrent use of a shared model is untouched.
 *
 * Phases do not nest: every piece of work belongs to at most one, so their
 * sum is the floor. What no phase covers (argument checks, workspace
 * planning, NaN checks, function layers) is the overhead.
 */
#ifndef RNN_PROFILE_H
#define RNN_PROFILE_H

#include <stdint.h>

/* The names (profile.c) are the bench's part names. */
typedef enum rnn__phase {
    RNN__PHASE_FWD_TRANSPOSE, /* W_hh^T copy of a cell                      */
    RNN__PHASE_FWD_PROJ,      /* bias pre-fill + input projection           */
    RNN__PHASE_FWD_REC,       /* the per-step recurrent products            */
    RNN__PHASE_FWD_CELL,      /* the cell's element-wise forward per step   */
    RNN__PHASE_FWD_COPY,      /* x in, initial states, held rows, y and h_n */
    RNN__PHASE_BWD_COPY,      /* dy (and the head's, dh_n's) gradient in    */
    RNN__PHASE_BWD_REC,       /* d_rec W_hh per step, and into dh0          */
    RNN__PHASE_BWD_CELL,      /* the cell's element-wise backward per step  */
    RNN__PHASE_BWD_DW_HH,     /* dW_hh, one sgemm per cell                  */
    RNN__PHASE_BWD_DW_IH,     /* dW_ih, one sgemm per cell and source       */
    RNN__PHASE_BWD_DB,        /* column sums into the bias gradients        */
    RNN__PHASE_BWD_DX,        /* dA W_ih into dx or the layer below         */
    RNN__PHASE_STEP_COPY,     /* rnn_step: rows, biases, states, y_t        */
    RNN__PHASE_STEP_REC,      /* rnn_step: the projection products          */
    RNN__PHASE_STEP_CELL,     /* rnn_step: the cell's element-wise forward  */
    RNN__PHASES
} rnn__phase;

#ifdef RNN_PROFILE

/* The profiling library is dlopen'ed by the bench, which finds these by
 * name; the normal build has none of them. */
#define RNN__PROFILE_API __attribute__((visibility("default")))

typedef struct rnn__profile_counter {
    uint64_t ticks; /* rnn__profile_start / _stop units */
    uint64_t calls;
} rnn__profile_counter;

extern __attribute__((visibility("hidden")))
rnn__profile_counter rnn__profile_counters[RNN__PHASES];

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
/* The TSC: cheaper than clock_gettime on a VM, which matters around calls
 * of a few tens of nanoseconds. rdtscp waits for the phase's work to be
 * done before it reads the counter (rdtsc may not); the first read may run
 * early, into work no phase counts, but never lets work escape. Fences
 * around both reads would keep the phases from overlapping at all, and
 * cost more than the small passes they time. */
static inline uint64_t rnn__profile_start(void)
{
    return __rdtsc();
}
static inline uint64_t rnn__profile_stop(void)
{
    unsigned int core;
    return __rdtscp(&core);
}
#else
#include <time.h>
static inline uint64_t rnn__profile_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static inline uint64_t rnn__profile_stop(void)
{
    return rnn__profile_start();
}
#endif

#define RNN__PHASE(phase, ...)                                                \
    do {                                                                      \
        const uint64_t rnn__phase_start = rnn__profile_start();               \
        __VA_ARGS__;                                                          \
        rnn__profile_counters[(phase)].ticks +=                               \
            rnn__profile_stop() - rnn__phase_start;                           \
        ++rnn__profile_counters[(phase)].calls;                               \
    } while (0)

/* Zeroes every phase. */
RNN__PROFILE_API void rnn__profile_reset(void);
/* The table, RNN__PHASES entries, indexed by rnn__phase. */
RNN__PROFILE_API const rnn__profile_counter *rnn__profile_read(void);
/* The bench's name of a phase ("fwd.rec"), or NULL past the last. */
RNN__PROFILE_API const char *rnn__profile_phase_name(int phase);
/* Seconds per tick, measured once against CLOCK_MONOTONIC. */
RNN__PROFILE_API double rnn__profile_seconds_per_tick(void);
/* Ticks that an empty phase records (the clock's own cost, to subtract
 * per call), measured once. */
RNN__PROFILE_API double rnn__profile_empty_ticks(void);

#else

#define RNN__PHASE(phase, ...)                                                \
    do {                                                                      \
        __VA_ARGS__;                                                          \
    } while (0)

#endif /* RNN_PROFILE */

#endif /* RNN_PROFILE_H */
