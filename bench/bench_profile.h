/* SPDX-License-Identifier: MIT
 *
 * bench_profile.h - librnn's floor and parts, read from the library's own
 * drivers.
 *
 * bench/CMakeLists.txt compiles src/ a second time with RNN_PROFILE
 * (librnn_profile.so): there every BLAS call, element-wise pass and copy of
 * the drivers adds its time to a phase (src/profile.h), and nothing else
 * changes. rnn_bench times the normal librnn.so as "librnn", and loads the
 * profiling build beside it (dlopen, its own symbols) to time the same
 * calls on a copy of the model there, reading the phases after each sample:
 *   floor  the sum of a call's phases: librnn's time minus the floor is
 *          what the library adds to its BLAS calls, passes and copies;
 *   parts  each phase alone (src/profile.h lists them).
 * The clock's own cost per phase, measured by the library, is taken out.
 * The profiling build keeps its counters in one unlocked table: one thread.
 */
#ifndef RNN_BENCH_PROFILE_H
#define RNN_BENCH_PROFILE_H

#include "bench_common.h"
#include "rnn.h"

#include <stddef.h>

/* The calls timed in the profiling build, as rnn_bench times them on
 * librnn.so: rnn_forward(x, y); rnn_forward + rnn_backward(dy, dx);
 * rnn_step on weights packed once; rnn_step unpacked. */
enum { BENCH_PROF_FORWARD, BENCH_PROF_TRAIN, BENCH_PROF_STEP,
       BENCH_PROF_STEP_DIRECT, BENCH_PROF_OPS };

typedef struct bench_profiled bench_profiled;

/* A model made by the profiling build from cfg with the given parameters
 * (and, with steps, its packed and unpacked copies and their states), x
 * [T, B, I] and dy [T, B, D*H] as the library is timed with. rounds: the
 * most samples any operation will take. NULL (and a message on stderr)
 * when the profiling build cannot be loaded or a call fails. */
bench_profiled *bench_profiled_create(const rnn_config *cfg, const float *params,
                                      size_t num_params, const bench_shape *s,
                                      const float *x, const float *dy, int steps,
                                      int rounds);
void bench_profiled_destroy(bench_profiled *p);

/* Runs op once, counting its phases' calls (bench_profiled_calls); 0, or
 * -1 with the library's message on stderr. */
int bench_profiled_check(bench_profiled *p, int op);

/* op as an item of bench_measure_many: its phases are read around each
 * sample. */
bench_item bench_profiled_item(bench_profiled *p, int op);

/* Seconds that the profiling build's clock adds to each phase, taken out
 * of every phase's time (0 when the build cannot be loaded). */
double bench_profiled_clock_cost(void);

/* The number of phases, the part name of each ("fwd.rec"), and the phase
 * of a name (-1 when none has it). */
int bench_profiled_phases(void);
const char *bench_profiled_phase_name(int phase);
int bench_profiled_find(const char *name);

/* After bench_measure_many, per call of op: its floor (the sum of its
 * phases, sample by sample), one phase alone, and that phase's calls (0
 * for phase -1). */
bench_timing bench_profiled_floor(const bench_profiled *p, int op);
bench_timing bench_profiled_phase(const bench_profiled *p, int op, int phase);
double bench_profiled_calls(const bench_profiled *p, int op, int phase);

#endif /* RNN_BENCH_PROFILE_H */
