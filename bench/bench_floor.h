/* SPDX-License-Identifier: MIT
 *
 * bench_floor.h - librnn's hot loops, re-enacted with direct CBLAS calls.
 *
 * The library's internals are hidden, so rnn_bench times each hot loop by
 * making, from here, exactly the calls src/forward.c, src/backward.c,
 * src/step.c and src/pack.c make (same shapes, transposes, leading
 * dimensions, beta, order, the same [T+1, B, H] state blocks, the same
 * weight copies) on a copy of the model's parameters.
 *
 *   whole passes ("floor"): bench_floor_forward / _backward / _train /
 *     _step / _step_direct are the library's call sequences minus
 *     everything that is not a BLAS call, an element-wise pass or a copy
 *     of the library's (argument checks, workspace management, function
 *     layers): librnn's time minus the floor's is its overhead;
 *   parts: each hot loop alone (bench_part_*), so that the cost of the
 *     library splits into transpose, projection, recurrence, weight
 *     gradients, element-wise passes and copies;
 *   calls: one recurrence product alone (bench_call_*), the speed the BLAS
 *     reaches at that shape, and what-ifs on other layouts.
 *
 * The BLAS layer and the element-wise passes are the library's own code:
 * src/blas.c and src/kernels.c are compiled into rnn_bench with the
 * library's flags (their symbols are hidden in librnn.so), so only the call
 * sequences below are re-written. They mirror src/ for time-major inputs
 * without lengths (what the bench runs): keep them in sync with
 * src/forward.c, src/backward.c, src/step.c and src/pack.c. rnn_bench
 * compares the re-enacted forward's y, backward's dx and steps' y_t with
 * the library's and warns (and the ctest bench_quick fails) when they
 * differ.
 */
#ifndef RNN_BENCH_FLOOR_H
#define RNN_BENCH_FLOOR_H

#include "bench_common.h"
#include "rnn.h"

typedef struct bench_floor bench_floor;

/* Copies the model's parameters, and for a one-direction model packs them
 * as rnn_pack_weights does (untimed, like the library's packing); x
 * [T, B, I] and dy [T, B, D*H] are the inputs the library is timed with.
 * Returns NULL on failure. */
bench_floor *bench_floor_create(rnn_t *model, const bench_shape *shape,
                                int relu, const float *x, const float *dy);
void bench_floor_destroy(bench_floor *f);

/* How forward's per-step products read W_hh at this shape (the rule of
 * transposed_ld in src/forward.c): the row stride of the W_hh^T copy that
 * rnn_forward makes per call, or 0 when they read W_hh itself. */
int bench_floor_transposed_ld(const bench_shape *shape);
/* The row stride of librnn's weight copies for H columns (rnn__copy_ld),
 * and the other choice (H <-> H + BENCH_PAD) for the what-if. */
int bench_floor_copy_ld(int hidden);
int bench_floor_other_ld(int hidden);
enum { BENCH_PAD = 16 };

/* Whole passes (void * = bench_floor *, for bench_measure). */
void bench_floor_forward(void *f);     /* rnn_forward(x, y)                   */
void bench_floor_backward(void *f);    /* rnn_backward(dy, NULL, dx, NULL)    */
void bench_floor_train(void *f);       /* forward + backward                  */
void bench_floor_step(void *f);        /* rnn_step(x_t, y_t) on packed
                                          weights, B streams                  */
void bench_floor_step_direct(void *f); /* rnn_step without rnn_pack_weights   */

/* Forward parts, over all layers and directions. */
void bench_part_fwd_transpose(void *f); /* W_hh^T copies (when the rule says) */
void bench_part_fwd_proj(void *f);  /* bias pre-fill + input projection sgemm
                                       (T*B, H, I_l) beta 1: project_inputs  */
void bench_part_fwd_rec(void *f);   /* T recurrence products (B, H, H)       */
void bench_part_fwd_act(void *f);   /* T activation passes, in place         */
void bench_part_fwd_copy(void *f);  /* x into the cache, state init, y out   */
/* Backward parts. */
void bench_part_bwd_rec(void *f);   /* T-1 products dA_{t+1} W_hh            */
void bench_part_bwd_act(void *f);   /* T passes dA_t *= act'(h_t)            */
void bench_part_bwd_dw_hh(void *f); /* dW_hh += dA^T H_prev (H, H, T*B)      */
void bench_part_bwd_dw_ih(void *f); /* dW_ih += dA^T X (H, I_l, T*B)         */
void bench_part_bwd_db(void *f);    /* column sums of dA into db_ih, db_hh   */
void bench_part_bwd_dx(void *f);    /* dX = dA W_ih (T*B, I_l, H)            */
void bench_part_bwd_copy(void *f);  /* dy into the gradient buffer           */
/* Packed streaming step parts, per layer. */
void bench_part_step_copy(void *f); /* [x_t | h] rows, bias pre-fill, the new
                                       h back (into a scratch block), y_t    */
void bench_part_step_rec(void *f);  /* the one product [x_t | h] * packed
                                       block (B, H, I_l + H) beta 1          */
void bench_part_step_act(void *f);  /* activation (+ restore)                */
/* The in-place passes (fwd.act, bwd.act) restore their input from a saved
 * copy before each call, so that they always see realistic values; these
 * time that restore alone, to be subtracted. */
void bench_part_fwd_act_restore(void *f);
void bench_part_bwd_act_restore(void *f);

/* One recurrence product alone, on fixed inputs: forward (B, H, H) as the
 * library makes it at this shape (on the W_hh^T copy: sgemm NN or sgemv T;
 * else on W_hh: sgemm NT or sgemv), and backward (B, H, H) NN or
 * transposed sgemv on W_hh. */
void bench_call_fwd_rec(void *f);
void bench_call_bwd_rec(void *f);

/* What-ifs for the performance work, the same forward product on other
 * layouts: the other orientation (on W_hh itself when the library reads
 * the copy: what it did before; on a W_hh^T copy when it reads W_hh), and
 * the W_hh^T copy with the other row stride (H <-> H + 16: a power-of-two
 * H puts rows 4 KiB apart, cache-set aliasing). */
void bench_call_fwd_rec_other(void *f);
void bench_call_fwd_rec_other_ld(void *f);

/* FLOPs of each part / call for a shape (0 for element-wise passes). The
 * packed step's one product per layer is step_rec. */
typedef struct bench_part_flops {
    double fwd_proj, fwd_rec, bwd_rec, bwd_dw_hh, bwd_dw_ih, bwd_dx;
    double step_rec, call_rec;
} bench_part_flops;
bench_part_flops bench_floor_flops(const bench_shape *s);

/* The output y of the last bench_floor_forward (T*B*D*H floats), to check
 * the re-enactment against the library. */
const float *bench_floor_output(const bench_floor *f);

/* dx (T*B*I floats) of the last bench_floor_backward. */
const float *bench_floor_dx(const bench_floor *f);

/* y_t (B*H floats) of the last bench_floor_step or _step_direct. Each of
 * the two keeps its own state, zero at creation. */
const float *bench_floor_step_output(const bench_floor *f);

#endif /* RNN_BENCH_FLOOR_H */
