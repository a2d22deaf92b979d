/* SPDX-License-Identifier: MIT
 *
 * pool.h - librnn's own worker threads (pool.c) and the threading policy
 * around them (threads.c). Never installed.
 *
 * A parallel region runs `count` tasks, indices 0 .. count-1, claimed one
 * at a time by the calling thread and persistent workers; it returns when
 * all are done (fork-join). The partition of the work is the caller's and
 * depends only on `count`: when the workers are busy (another thread's
 * region) or the call is made from inside a region, the caller runs every
 * task itself, one after the other, over the same partition, so results
 * never depend on who ran what.
 */
#ifndef RNN_POOL_H
#define RNN_POOL_H

#include "cell.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Task `index` of `count`. */
typedef void (*rnn__task_fn)(void *ctx, int index, int count);

/* The most threads a region can have (rnn_set_num_threads's bound). */
enum { RNN__MAX_THREADS = 256 };

/* Runs fn(ctx, i, count) for i in [0, count) and waits for them all. A
 * count of 1 is a plain call, not a region. */
void rnn__pool_run(int count, rnn__task_fn fn, void *ctx);

/* Whether the calling thread is running a task of a region. */
bool rnn__pool_in_region(void);

/* ---- the policy (threads.c) --------------------------------------------- */

/* The thread count librnn uses (rnn_get_num_threads). */
int rnn__num_threads(void);

/* How many slices to cut `rows` independent rows into, when each row costs
 * `row_flops` in all (over every step it runs): 1 when librnn has one
 * thread, from inside a region, or when a slice would be too small to repay
 * waking a worker. */
int rnn__row_slices(int64_t rows, double row_flops);

/* How many column blocks to cut each step's recurrent product
 * out[batch, n] = in[batch, k] W into, run by librnn's threads one step
 * at a time, or 1 when batch slices are the better cut: when the weights
 * (n * k floats) overflow a core's L2 cache, every batch slice would stream
 * (and the BLAS pack) all of them at every step, where a column block
 * reads its part only. */
int rnn__column_slices(int32_t batch, int32_t n, int32_t k);

/* The first row of slice `index` of `count` over `rows` rows, rounded to a
 * multiple of `align` (slice count-1 ends at `rows`). */
int32_t rnn__slice_start(int32_t rows, int index, int count, int32_t align);

/* Runs fn on `count` slices of `rows` rows: fn(ctx, first, rows_in_slice),
 * with the BLAS kept single-threaded throughout (rnn__blas_single_begin);
 * with count 1, only when blas_scope (else the products scope themselves). */
typedef void (*rnn__rows_fn)(void *ctx, int32_t first, int32_t rows);
void rnn__parallel_rows(int32_t rows, int count, bool blas_scope,
                        rnn__rows_fn fn, void *ctx);

/* A cell's recurrence over `batch` rows and `seq_len` steps, forward or
 * backward, through rnn__parallel_rows: in `columns` column blocks of each
 * step's product (one slice), or in batch slices of 4 MFLOP at least. A
 * single slice takes the BLAS scope only for column blocks or when one of
 * its per-step products (W_hh's, an LSTM's W_hr) is one OpenBLAS may run
 * on several threads: at config a the scope's two thread-count calls cost
 * more than the pass. */
void rnn__recurrence_rows(const rnn_config *cfg, int32_t gates, int32_t batch,
                          int32_t seq_len, int columns, rnn__rows_fn fn,
                          void *ctx);

/* The batch rows [first, first + rows) of a step's buffers, for a slice
 * that runs them; the step stride stays the whole batch's (rnn__step_move
 * moves the whole step). */
static inline rnn_cell_forward_args rnn__slice_step(
    const rnn_cell_forward_args *all, const rnn_cell_ops *ops, int32_t first,
    int32_t rows)
{
    rnn_cell_forward_args step = *all;
    const ptrdiff_t states = (ptrdiff_t)first * all->hidden;
    const ptrdiff_t outputs = (ptrdiff_t)first * rnn__state_size(all->cfg);
    step.rows = rows;
    step.proj += ops->gates * states;
    step.h_prev += outputs;
    step.h += outputs;
    if (step.cell_out != NULL)
        step.cell_out += states;
    if (step.c != NULL) {
        step.c_prev += states;
        step.c += states;
    }
    if (step.saved != NULL)
        step.saved += ops->saved_units * states;
    return step;
}

/* out[rows, n] (+)= in[rows, k] W, as rnn__rows_product, cut into `count`
 * column blocks of out (multiples of 16 columns) run by librnn's threads;
 * 1: one call. */
void rnn__columns_product(int count, int rows, int n, int k, const float *in,
                          const float *w, int ldw, bool w_is_n_by_k,
                          float beta, float *out);

/* Asks the BLAS for one thread until the matching end (nested pairs are
 * free), when it has a run-time thread setter (blas.c); the first begin
 * in the process saves the caller's setting and the last end restores it.
 * librnn's own threads make its parallelism: a BLAS call inside a librnn
 * call is always single-threaded. */
void rnn__blas_single_begin(void);
void rnn__blas_single_end(void);

/* The BLAS's run-time thread count getter and setter (OpenBLAS, BLIS),
 * looked up by symbol in the library serving cblas_sgemm; false when it has
 * none (blas.c). */
bool rnn__blas_get_threads(int *threads);
void rnn__blas_set_threads(int threads);

#endif /* RNN_POOL_H */
