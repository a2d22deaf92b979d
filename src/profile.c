/* SPDX-License-Identifier: MIT
 *
 * profile.c - the phase table of the profiling build (profile.h says what
 * it is for). In the library's normal build this file compiles to nothing.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "profile.h"

#ifdef RNN_PROFILE

#include <stdlib.h>
#include <string.h>
#include <time.h>

rnn__profile_counter rnn__profile_counters[RNN__PHASES];

/* In rnn__phase order. */
static const char *const names[RNN__PHASES] = {
    [RNN__PHASE_FWD_TRANSPOSE] = "fwd.transpose",
    [RNN__PHASE_FWD_PROJ] = "fwd.proj",
    [RNN__PHASE_FWD_REC] = "fwd.rec",
    [RNN__PHASE_FWD_CELL] = "fwd.act",
    [RNN__PHASE_FWD_COPY] = "fwd.copy",
    [RNN__PHASE_BWD_COPY] = "bwd.copy",
    [RNN__PHASE_BWD_REC] = "bwd.rec",
    [RNN__PHASE_BWD_CELL] = "bwd.act",
    [RNN__PHASE_BWD_DW_HH] = "bwd.dw_hh",
    [RNN__PHASE_BWD_DW_IH] = "bwd.dw_ih",
    [RNN__PHASE_BWD_DB] = "bwd.db",
    [RNN__PHASE_BWD_DX] = "bwd.dx",
    [RNN__PHASE_STEP_COPY] = "step.copy",
    [RNN__PHASE_STEP_REC] = "step.rec",
    [RNN__PHASE_STEP_CELL] = "step.act",
};

void rnn__profile_reset(void)
{
    memset(rnn__profile_counters, 0, sizeof rnn__profile_counters);
}

const rnn__profile_counter *rnn__profile_read(void)
{
    return rnn__profile_counters;
}

const char *rnn__profile_phase_name(int phase)
{
    return phase >= 0 && phase < RNN__PHASES ? names[phase] : NULL;
}

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double rnn__profile_seconds_per_tick(void)
{
    static double seconds;
    if (seconds > 0)
        return seconds;
    const double start = monotonic();
    const uint64_t first = rnn__profile_start();
    double now;
    while ((now = monotonic()) - start < 0.02)
        ;
    const uint64_t ticks = rnn__profile_stop() - first;
    seconds = ticks > 0 ? (now - start) / (double)ticks : 1e-9;
    return seconds;
}

static int compare(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* What RNN__PHASE records around nothing: the median over rounds of the
 * mean of a burst of empty phases. */
double rnn__profile_empty_ticks(void)
{
    enum { ROUNDS = 101, BURST = 64 };
    static double empty = -1;
    if (empty >= 0)
        return empty;
    double rounds[ROUNDS];
    for (int r = 0; r < ROUNDS; ++r) {
        uint64_t ticks = 0;
        for (int k = 0; k < BURST; ++k) {
            const uint64_t start = rnn__profile_start();
            ticks += rnn__profile_stop() - start;
        }
        rounds[r] = (double)ticks / BURST;
    }
    qsort(rounds, ROUNDS, sizeof rounds[0], compare);
    empty = rounds[ROUNDS / 2];
    return empty;
}

#else

/* ISO C wants a declaration in every translation unit. */
typedef int rnn__profile_off;

#endif /* RNN_PROFILE */
