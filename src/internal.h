/* SPDX-License-Identifier: MIT
 *
 * internal.h - private structures and helpers shared by src/ files. Never
 * installed. Names that cross files start with rnn__ and have hidden
 * visibility (the build hides everything not marked RNN_API).
 */
#ifndef RNN_INTERNAL_H
#define RNN_INTERNAL_H

#include "cell.h"
#include "profile.h"
#include "rnn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- errors (error.c) --------------------------------------------------- */

/* Records "func: message" as this thread's last error and returns status. */
rnn_status rnn__fail(rnn_status status, const char *func, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Records the static out-of-memory message (never allocates). */
rnn_status rnn__fail_nomem(const char *func);
/* Re-reports the last failure as `status` with some context: "func:
 * context: message" (a "func: " the message starts with is not repeated). */
rnn_status rnn__fail_context(rnn_status status, const char *func,
                             const char *context);

/* ---- allocation (alloc.c): every heap byte goes through these ----------- */

void *rnn__malloc(size_t bytes);
void *rnn__calloc(size_t count, size_t size);
void rnn__free(void *ptr);
/* Grows a float arena to hold `floats`, keeping the old one on failure. */
rnn_status rnn__reserve(float **arena, size_t *capacity, size_t floats,
                        const char *func);
/* *total = the sum of floats[count]; false when it overflows. */
bool rnn__sum_floats(const size_t *floats, int count, size_t *total);
/* *parts[i] = the next floats[i] floats of arena, one after the other
 * (NULL for an empty part). */
void rnn__carve(float *arena, const size_t *floats, int count,
                float **const *parts);

/* ---- versioned public structs (versioned.c) ----------------------------- */

/* One layout of a versioned struct: its sizeof, and where its last field
 * ends (the rest is padding). */
typedef struct rnn__layout_size {
    size_t size, fields_end;
} rnn__layout_size;

/* A public struct that starts with struct_size: its name, this library's
 * layout and the layouts released before. */
typedef struct rnn__layout {
    const char *name;
    rnn__layout_size current;
    const rnn__layout_size *released;
    size_t num_released;
} rnn__layout;

extern const rnn__layout rnn__config_layout;
extern const rnn__layout rnn__optim_config_layout;
extern const rnn__layout rnn__tensor_info_layout;
extern const rnn__layout rnn__allocator_layout;
extern const rnn__layout rnn__forward_args_layout;
extern const rnn__layout rnn__backward_args_layout;

/* RNN_OK when struct_size is a released layout's size, this library's, or
 * larger (a newer header); RNN_E_INVALID_ARG naming `arg` otherwise. */
rnn_status rnn__struct_check_size(size_t struct_size, const rnn__layout *layout,
                                  const char *arg, const char *func);

/* Reads the caller's struct into `full` (this library's layout, holding the
 * defaults on entry): the fields the caller has overwrite the defaults, and
 * full's struct_size becomes this library's. A larger caller struct must
 * have only zero bytes past this library's layout (RNN_E_UNSUPPORTED). */
rnn_status rnn__struct_read(void *full, const void *caller,
                            const rnn__layout *layout, const char *arg,
                            const char *func);

/* Writes `full` into the caller's struct of struct_size bytes (checked
 * before): the fields that fit, zero past this library's layout, and
 * struct_size itself. */
void rnn__struct_write(void *caller, size_t struct_size, const void *full,
                       const rnn__layout *layout);

/* ---- size arithmetic ---------------------------------------------------- */

/* a*b into *out; false when it overflows size_t. */
static inline bool rnn__mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* a*b*c into *out; false on overflow. */
static inline bool rnn__mul3(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    return rnn__mul(a, b, &ab) && rnn__mul(ab, c, out);
}

/* ---- BLAS (blas.c): the only place that calls CBLAS --------------------- */

/* C[m,n] = alpha * op(A) op(B) + beta * C, row-major, op = transpose if the
 * flag is set. Leading dimensions are row strides in floats. */
void rnn__gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha,
               const float *a, int lda, const float *b, int ldb, float beta,
               float *c, int ldc);

/* out[rows, n] = in[rows, k] W' + beta * out (rows of in and out packed:
 * strides k and n) for a weight stored as [n, k] (PyTorch's layout, W' its
 * transpose: w_is_n_by_k) or as [k, n] (W' = W), with row stride ldw. One
 * row is an sgemv, more an sgemm. */
void rnn__rows_product(int rows, int n, int k, const float *in,
                       const float *w, int ldw, bool w_is_n_by_k, float beta,
                       float *out);

/* Whether rnn__gemm splits NN products into row blocks for OpenBLAS's
 * small-matrix kernel (see blas.c): RNN_SMALL_AUTO decides from the loaded
 * BLAS and its thread count; the others force it, for tests. */
enum { RNN_SMALL_AUTO, RNN_SMALL_ALWAYS, RNN_SMALL_NEVER };
void rnn__set_small_gemm_policy(int policy);

/* When the BLAS serving cblas_sgemm is OpenBLAS >= 0.3.16 built for an
 * AVX-512 core with its small-matrix kernels, its openblas_get_num_threads;
 * otherwise NULL (blas.c, looked up once). */
typedef int (*rnn_blas_threads_fn)(void);
rnn_blas_threads_fn rnn__openblas_small_kernels(void);

/* ---- the flat parameter layout (layout.c) ------------------------------- */

/* RNN_MAX_TENSORS bounds what rnn_create accepts (num_layers, in effect)
 * and so what a model file can need (safetensors.c). */
enum { RNN_MAX_NAME = 32, RNN_MAX_TENSORS = 65536 };

/* The tensors a configuration's model has (not checked: any int32 fields). */
int64_t rnn__tensor_total(const rnn_config *cfg);
/* The floats of the model a configuration describes whose cell has `gates`
 * gates: what rnn_create allocates and what a loader compares a file with.
 * SIZE_MAX when that overflows, 0 when a size is not positive. */
size_t rnn__param_count(const rnn_config *cfg, int32_t gates);

/* One named tensor of the flat buffers, in state_dict order. */
typedef struct rnn_tensor {
    char name[RNN_MAX_NAME];
    size_t offset;
    int32_t rows, cols; /* cols = 1 for a vector */
    int32_t ndim;
} rnn_tensor;

/* Views of one (layer, direction) cell's parameters inside a flat buffer
 * (G: the cell's gate count, cell.h; S: rnn__state_size). */
typedef struct rnn_cell_view {
    float *w_ih; /* [G*H, in_size] */
    float *w_hh; /* [G*H, S] */
    float *b_ih; /* [G*H] or NULL when the model has no bias */
    float *b_hh; /* [G*H] or NULL */
    float *w_hr; /* [P, H] (LSTM with proj_size) or NULL */
} rnn_cell_view;

/* Per-(layer, direction) offsets into the flat buffers. */
typedef struct rnn_cell_layout {
    size_t w_ih, w_hh, b_ih, b_hh; /* b_* unused without bias */
    size_t w_hr;                   /* unused without proj_size */
    int32_t in_size;
} rnn_cell_layout;

/* Memory kept by forward for backward and the head. Sized for (T, B) and
 * reused while later calls fit. */
typedef struct rnn_cache {
    float *arena;          /* one allocation holding everything below */
    size_t capacity;       /* floats in arena */
    float *x;              /* [T, B, I] time-major copy of the input */
    float *hidden;         /* per cell: [T+1, B, S] (see forward.c) */
    /* What only some cells need (cell.h), NULL for the others: */
    float *proj;           /* per cell [T, B, G*H]: unless project_into_state */
    float *cell_state;     /* per cell [T+1, B, H] c, slots as hidden */
    float *saved;          /* per cell [T, B, saved_units * H] */
    float *cell_out;       /* per cell [T, B, H] an LSTM's o * tanh(c), with
                              proj_size (then h = cell_out W_hr^T) */
    float *rec;            /* [B, G*H] a step's rec (separate_projections) */
    float *w_hh_t;         /* the running cell's W_hh^T [S, w_hh_t_ld] */
    int32_t w_hh_t_ld;     /* its row stride; 0: steps read W_hh itself */
    int32_t projection_steps; /* input projections go this many steps at a
                                 time (forward.c) */
    /* Dropout (training forwards with cfg.dropout > 0), per layer below the
     * top and direction [T, B, S]: */
    float *mask;           /* 0 or 1/(1-p) */
    float *dropped;        /* the outputs times mask: the next layer's input */
    float *carry;          /* inference: the states between chunks, h
                              [L*D, B, S] then c [L*D, B, H] */
    int32_t *lengths;      /* [B] or unused */
    /* Token input (vocab_size > 0, embedding.c): */
    int32_t *ids;          /* [T, B] time-major copy of the ids */
    float *table;          /* per direction [V, G*H]: E W_ih^T + bias, when
                              embed_table (then x is not kept) */
    bool embed_table;      /* layer 0 gathers rows of `table` */
    int32_t seq_len, batch;
    bool has_lengths;
    bool dropping;         /* this forward applied dropout */
    bool valid;            /* a forward succeeded since the last reshape */
    bool inference;        /* the last forward was rnn_forward_inference */
} rnn_cache;

/* Scratch used only inside backward and the head. */
typedef struct rnn_grad_work {
    float *arena;
    size_t capacity;
    float *grad_in;    /* per direction [T, B, S]: dL/dh, becomes dA */
    float *grad_out;   /* per direction [T, B, S]: dL/d(input of layer) */
    float *gather;     /* [B, max(D*S, I, G*H)] */
    float *dx_tm;      /* [T, B, I] time-major dx when batch_first */
    /* What only some cells need (cell.h), NULL for the others: */
    float *d_proj;     /* per direction [T, B, G*H] dA: unless
                          project_into_state (then dA replaces dL/dh) */
    float *d_rec;      /* [T, B, G*H] dR (separate_projections) */
    float *dc;         /* [B, H] the carried dL/dc (has_cell_state) */
    float *dh_direct;  /* [B, H] a step's dh_prev (direct_state_grad) */
    float *dh0_direct; /* [B, H] its rows that reach h0 */
    float *d_cell_out; /* [B, H] a step's dL/d(cell_out) (proj_size) */
    float *embed;      /* token input: embedding.c's scratch */
} rnn_grad_work;

struct rnn {
    rnn_config cfg;
    const rnn_cell_ops *cell_ops; /* chosen by rnn_create (cell.c) */
    int32_t dirs;           /* D */
    int32_t num_cells;      /* L * D */
    size_t num_params;
    float *params;
    float *grads;
    rnn_cell_layout *cells; /* [L * D] */
    size_t embed_w;         /* embedding.weight [V, I], when vocab_size > 0 */
    int32_t num_tensors;
    rnn_tensor *tensors;
    size_t head_w, head_b;  /* offsets, valid when output_size > 0 */
    rnn_cache cache;
    rnn_grad_work work;
    float *head_arena;      /* head scratch, see head.c */
    size_t head_capacity;
    float *head_dh;         /* [rows, D*S] dL/dh left for rnn_backward */
    bool head_grad_pending;
    bool check_finite;      /* rnn_set_check_finite */
    uint64_t dropout_rng;   /* dropout's generator (dropout.c) */
    float *packed;          /* rnn_pack_weights: per layer [I_l + H + 1, H] */
};

/* Fills model->cells, model->tensors (allocated for rnn__tensor_total
 * entries), head_w and head_b from model->cfg, dirs and cell_ops. */
void rnn__plan_layout(rnn_t *model);

/* The views of cell `cell` (layer * D + direction) inside `base`, a flat
 * buffer of the model's layout (its parameters, gradients, a copy). */
rnn_cell_view rnn__cell(const rnn_t *model, float *base, int32_t cell);

/* The model's tensor called `name`, or NULL. */
const rnn_tensor *rnn__tensor_named(const rnn_t *model, const char *name);

/* ---- token input (embedding.c) ----------------------------------------- */

/* The model's embedding table: torch.nn.Embedding(V, I, padding_idx) in
 * front of layer 0. Layer 0's input projection is a gather (of E rows then
 * one sgemm, or of rows of the projected table E W_ih^T + bias when V is
 * small next to T*B) and its gradient a scatter-add. */

/* RNN_OK, or RNN_E_INVALID_ARG naming the position and value of the first
 * id outside [0, V) among the ids [rows, cols] (`layout` names the two
 * indices, e.g. "t, b"; NULL: the B ids of one step, "ids_t[b]"). */
rnn_status rnn__embedding_check_ids(const rnn_t *model, const int32_t *ids,
                                    int32_t rows, int32_t cols,
                                    const char *layout, const char *func);
/* Whether a forward over T*B ids projects through the table (decided once
 * per forward from the whole sequence, so that a chunked inference forward
 * makes the same products as a training one). */
bool rnn__embedding_uses_table(const rnn_t *model, int32_t seq_len,
                               int32_t batch);
/* The table's floats (D * V * G*H), 0 without one. */
size_t rnn__embedding_table_floats(const rnn_t *model);
/* Copies the ids of the cache's steps (steps t0 .. of the caller's
 * total_steps) time-major into cache->ids, then gathers their E rows into
 * cache->x, or, at t0 = 0 in table mode, makes the table. */
void rnn__embedding_prepare(rnn_t *model, const int32_t *ids,
                            int32_t total_steps, int32_t t0);
/* Table mode: out[T*B, G*H] = the table rows of direction dir's ids (the
 * whole input projection of layer 0, biases included). */
void rnn__embedding_project(const rnn_t *model, int32_t dir, float *out);
/* The backward scratch (floats) of the cached forward. */
size_t rnn__embedding_work_floats(const rnn_t *model);
/* Layer 0, direction dir, from d_proj [T*B, G*H] = dL/d(input projection):
 * embedding.weight's gradient += the scatter-add of d_proj W_ih over the
 * ids (the padding row gets nothing); with the projected table also
 * dW_ih += its gradient (else the drivers make it from the kept x). */
void rnn__embedding_backward(rnn_t *model, int32_t dir, const float *d_proj,
                             float *dw_ih);
/* embedding.weight's rows of ids[batch] into out[batch, I]. */
void rnn__embedding_gather(const rnn_t *model, const int32_t *ids,
                           int32_t batch, float *out);

/* ---- seeded initialisation (init.c) ------------------------------------ */

/* PyTorch's uniform scheme from `seed` into model->params. */
void rnn__init_uniform(rnn_t *model, uint64_t seed);
/* Scheme `scheme` (RNN_INIT_*) from `seed` into model->params; on failure
 * (RNN_E_INVALID_ARG, RNN_E_SHAPE, RNN_E_NOMEM, messages start with `func`)
 * they are as they were. */
rnn_status rnn__init_params(rnn_t *model, int32_t scheme, uint64_t seed,
                            const char *func);

/* ---- the model (model.c) ----------------------------------------------- */

/* PyTorch's defaults (rnn_config_init) into *cfg, this library's layout. */
void rnn__config_defaults(rnn_config *cfg, int32_t input_size,
                          int32_t hidden_size);

/* Every library path that writes model->params ends with this call (the
 * optimizers, rnn_init, the loaders): it renews what is derived from the
 * parameters, today the packed step weights (pack.c). */
void rnn__params_changed(rnn_t *model);

/* ---- head (head.c) ----------------------------------------------------- */

/* The head's logits on the cache's steps, which are steps t0 .. of a
 * sequence of total_steps (an inference forward's chunk): RNN_HEAD_ALL
 * writes their rows into the caller's layout, RNN_HEAD_LAST writes [B, O]
 * from each sequence's last valid step, or with final_state from the last
 * step (one direction: an ended sequence held its state there). */
/* Sizes the head's scratch for the cache's steps (RNN_E_NOMEM), so that
 * rnn__head_logits on as many steps or fewer allocates nothing. */
rnn_status rnn__head_reserve(rnn_t *model, const char *func);
rnn_status rnn__head_logits(rnn_t *model, float *logits, int32_t total_steps,
                            int32_t t0, bool final_state, const char *func);

/* ---- dropout between layers (dropout.c) -------------------------------- */

/* mask[count] = 0 (dropped, probability p) or 1 / (1 - p), drawn from *rng
 * (the documented stream of dropout.c). */
void rnn__dropout_mask(uint64_t *rng, float p, float *mask, size_t count);

/* ---- packed step weights (pack.c) -------------------------------------- */

/* Row stride for a copy of weights with H columns: rows of 4 KiB
 * (H % 1024 == 0) alias in the cache sets and OpenBLAS's sgemm runs slower
 * on them (measurements in docs/benchmarks.md), so such copies get 16
 * floats of padding. */
static inline int32_t rnn__copy_ld(int32_t hidden)
{
    return hidden % 1024 == 0 ? hidden + 16 : hidden;
}
/* Layer `layer`'s packed block: [W_ih | W_hh]^T [I_l + S, G*H] with row
 * stride rnn__copy_ld(G*H), then b_ih + b_hh [G*H] (b_ih [G*H] and b_hh
 * [G*H] when the cell keeps the projections apart). Only while
 * model->packed is not NULL. */
const float *rnn__packed_layer(const rnn_t *model, int32_t layer);
/* Layer `layer`'s W_hr^T [H, P] (row stride rnn__copy_ld(P)) in its
 * packed block: an LSTM with proj_size, only while model->packed is not
 * NULL. */
const float *rnn__packed_projection(const rnn_t *model, int32_t layer);
/* Re-copies the parameters into the packed blocks, if any (called by
 * rnn__params_changed, nowhere else outside pack.c). */
void rnn__refresh_packed(rnn_t *model);

/* ---- whole files (file.c): bytes to and from disk, knowing no format --- */

/* Where a save's bytes go: rnn_*_save_size only counts them (path and
 * buffer NULL), rnn_*_save_buffer writes them into the caller's buffer,
 * rnn_*_save to the file `path`, atomically. */
typedef struct rnn_save_to {
    const char *path;
    unsigned char *buffer;
    size_t capacity;       /* bytes at buffer */
    size_t *size;          /* receives the size, or NULL */
    const char *size_func; /* the function a too small buffer points to */
    const void *needed;    /* the caller's argument that must not be NULL
                              (path, buffer or size) */
    const char *needed_name;
} rnn_save_to;

/* The three targets: the size only, the caller's buffer (too small: see
 * size_func), the file `path`. */
rnn_save_to rnn__save_to_size(size_t *size);
rnn_save_to rnn__save_to_buffer(void *buffer, size_t capacity, size_t *written,
                                const char *size_func);
rnn_save_to rnn__save_to_file(const char *path);

/* RNN_E_INVALID_ARG "<name> is NULL" for a NULL object (called
 * `object_name`) or a NULL argument `to` needs, checked in that order. */
rnn_status rnn__save_check(const rnn_save_to *to, const void *object,
                           const char *object_name, const char *func);

/* A save is the caller's header of header_size bytes, then `count` floats
 * little-endian. begin checks the size and says where the caller builds the
 * header (*header: the caller's buffer, a new block for a file, NULL when
 * only counting); end writes the floats after it where `to` says, frees
 * what begin allocated and reports the size. Every allocation comes before
 * the file is renamed (docs/reliability.md). */
rnn_status rnn__save_begin(const rnn_save_to *to, size_t header_size,
                           size_t count, unsigned char **header,
                           const char *func);
rnn_status rnn__save_end(const rnn_save_to *to, unsigned char *header,
                         size_t header_size, const float *data, size_t count,
                         const char *func);

/* Where a load's bytes come from: the caller's bytes, or (path not NULL)
 * the regular file `path`, which begin reads into memory (RNN_E_IO,
 * RNN_E_FORMAT, RNN_E_NOMEM; messages start with `func`) and end frees. */
typedef struct rnn_load_from {
    const void *bytes;
    size_t size;
    const char *path;
    bool is_file;         /* path names the source (else bytes) */
    unsigned char *owned; /* the file's bytes, freed by end */
} rnn_load_from;

/* begin fails first with "out is NULL" when has_out is false, then with
 * "data is NULL" or "path is NULL" (RNN_E_INVALID_ARG); after a failure
 * there is nothing to end. */
rnn_status rnn__load_begin(rnn_load_from *from, bool has_out,
                           const char *func);
void rnn__load_end(rnn_load_from *from);

/* ---- optimizers (optim.c) ---------------------------------------------- */

/* The most steps an optimizer takes: Adam computes its bias correction
 * from the step count as a double, exact up to 2^53, and a count that can
 * never reach INT64_MAX can always be incremented. A loaded "steps" above
 * it is refused. */
#define RNN_MAX_STEPS ((int64_t)1 << 53)

struct rnn_optim {
    rnn_optim_config cfg;
    size_t count;  /* parameters it was made for */
    int64_t steps;
    float *first;  /* SGD momentum buffer, or Adam's first moment; owns the
                      allocation of both buffers */
    float *second; /* Adam's second moment (NULL for SGD) */
    float *max_second; /* AMSGrad's running maximum of it (else NULL) */
};

/* PyTorch's defaults (rnn_optim_config_init) into *cfg. */
void rnn__optim_config_defaults(rnn_optim_config *cfg, int32_t kind, float lr);

/* RNN_OK, or RNN_E_INVALID_ARG naming (as `func`) the first hyperparameter
 * out of range; shared by rnn_optim_create and rnn_optim_load. */
rnn_status rnn__optim_validate(const rnn_optim_config *cfg, const char *func);

/* The state buffers of an optimizer of this kind: 1 (SGD), 2 (Adam). */
size_t rnn__optim_buffers(const rnn_optim_config *cfg);
/* A new optimizer of configuration cfg (valid) for `count` parameters, at
 * step 0 with zero buffers: one block, `second` after `first`. The caller
 * has checked that buffers * count floats fit size_t. */
rnn_status rnn__optim_alloc(rnn_optim_t **out, const rnn_optim_config *cfg,
                            size_t count, const char *func);

/* ---- kernels (kernels.c): fused element-wise passes --------------------- */

/* The kernels are cloned per instruction set (ifunc); GCC gives such
 * symbols default visibility unless the declaration says otherwise. */
#if defined(__GNUC__)
#define RNN_HIDDEN __attribute__((visibility("hidden")))
#else
#define RNN_HIDDEN
#endif

/* rows[count, width] += b_ih + b_hh (the sum of the two taken first), or
 * += b_ih alone when b_hh is NULL. */
RNN_HIDDEN void rnn__add_bias(float *rows, size_t count, int32_t width,
                              const float *b_ih, const float *b_hh);
/* h[n] = act(h[n]) in place (tanh or relu). */
RNN_HIDDEN void rnn__act(float *h, size_t n, int32_t nonlinearity);
/* grad[n] *= act'(h[n]), the derivative taken from the activation itself. */
RNN_HIDDEN void rnn__mul_act_grad(float *grad, const float *h, size_t n,
                       int32_t nonlinearity);
/* torch.nn.GRU's gates over rows of [B, 3H] (r, z, n): on entry gates
 * holds in = x W_ih^T + b_ih and rec = h_prev W_hh^T + b_hh; leaves the
 * activated r, z, n in gates, rec_n[rows, H] (what backward needs of rec)
 * and h[rows, H] = (1 - z) * n + z * h_prev, where
 * r = sigmoid(in_r + rec_r), z = sigmoid(in_z + rec_z),
 * n = tanh(in_n + r * rec_n). h may be h_prev. */
RNN_HIDDEN void rnn__gru_forward(float *gates, const float *rec,
                                 const float *h_prev, float *h, float *rec_n,
                                 size_t rows, int32_t hidden);
/* Its backward from dh[rows, H] and what forward left: d_in, d_rec
 * [rows, 3H] (dL/d(in), dL/d(rec)) and dh_prev[rows, H] = dh * z, the part
 * of dL/dh_prev that does not go through rec. */
RNN_HIDDEN void rnn__gru_backward(float *d_in, float *d_rec, float *dh_prev,
                                  const float *dh, const float *gates,
                                  const float *rec_n, const float *h_prev,
                                  size_t rows, int32_t hidden);
/* sums[cols] += column sums of m[rows, cols]. */
RNN_HIDDEN void rnn__add_col_sums(float *sums, const float *m, size_t rows, int32_t cols);
/* dst[i] += src[i]. */
RNN_HIDDEN void rnn__add(float *dst, const float *src, size_t n);
/* dst[cols, ld] = src[rows, cols]^T (ld >= rows). */
RNN_HIDDEN void rnn__transpose(float *dst, int32_t ld, const float *src,
                               int32_t rows, int32_t cols);
/* torch.nn.LSTM's gates over rows of [B, 4H] (i, f, g, o), which hold
 * in + rec with both biases on entry: leaves the activated i, f, g, o in
 * gates, c[rows, H] = f * c_prev + i * g and h[rows, H] = o * tanh(c).
 * c may be c_prev (rnn_step). */
RNN_HIDDEN void rnn__lstm_forward(float *gates, const float *c_prev, float *c,
                                  float *h, size_t rows, int32_t hidden);
/* Its backward from dh[rows, H] and what forward left (the activated
 * gates, c_prev, c): d_gates[rows, 4H] = dL/d(in + rec); dc[rows, H] holds
 * dL/dc_t on entry, dL/dc_{t-1} on return. */
RNN_HIDDEN void rnn__lstm_backward(float *d_gates, float *dc, const float *dh,
                                   const float *gates, const float *c_prev,
                                   const float *c, size_t rows,
                                   int32_t hidden);
/* Reorders [T, B, C] <-> [B, T, C]: dst(t, b) = src(b, t) when
 * to_time_major, else dst(b, t) = src(t, b). */
void rnn__swap_tb(float *dst, const float *src, int32_t seq_len,
                  int32_t batch, int32_t cols, bool to_time_major);

/* ---- diagnostics (diag.c) ----------------------------------------------- */

/* RNN_OK, or RNN_E_NONFINITE naming the tensor of the first NaN/Inf in a
 * flat buffer of the model's layout (`what` is "gradient" or "parameter"). */
rnn_status rnn__check_finite(const rnn_t *model, const float *buffer,
                             const char *what, const char *func);
/* RNN_OK, or RNN_E_NONFINITE naming array[index] when array[n] holds a NaN
 * or Inf. A NULL array passes. */
rnn_status rnn__check_array(const float *array, size_t n, const char *name,
                            const char *func);

/* ---- the forward cache's addresses (cache.c) ----------------------------- */

/* Pointer to h_t of a cell in the cache: row t of its [T+1, B, S] block.
 * Forward cells store h0 in slot 0 and h_t in slot t+1; reverse cells store
 * h_t in slot t and h0 in slot T, so that for both the T "previous" states
 * of the batched dW_hh product are contiguous. */
float *rnn__hidden_slot(const rnn_t *model, int32_t cell, int32_t slot);
/* The T outputs of a cell as one [T, B, S] matrix (h_0 .. h_{T-1}). */
float *rnn__outputs(const rnn_t *model, int32_t cell, int32_t dir);
/* A cell's block in a per-cell part of the cache ([slots, B, units * H]
 * for each cell), or NULL when the part is NULL. */
float *rnn__cell_block(const rnn_t *model, float *part, int32_t cell,
                       size_t slots, int32_t units);
/* Direction src of layer `layer`'s [T, B, S] block in a per-layer part
 * (the dropout masks and dropped outputs, layers 0 .. L-2). */
float *rnn__layer_block(const rnn_t *model, float *part, int32_t layer,
                        int32_t src);
/* What layer `layer` > 0 reads from direction `src` of the layer below, one
 * [T, B, S] matrix: its outputs, or their dropped copy when the forward
 * applied dropout. */
const float *rnn__layer_input(const rnn_t *model, int32_t layer, int32_t src);
/* The dropout mask [T, B, S] applied to direction `src` of layer `layer`'s
 * outputs (layer < L-1; only when the forward applied dropout). */
const float *rnn__dropout_block(const rnn_t *model, int32_t layer, int32_t src);
/* Step 0's buffers in the cache, for the cell's forward and backward (rec
 * NULL: the caller adds it). */
rnn_cell_forward_args rnn__step_buffers(const rnn_t *model, int32_t cell,
                                        int32_t dir);
/* The slot of h_t (output of step t) and of the state step t reads. */
static inline int32_t rnn__out_slot(int32_t dir, int32_t t)
{
    return dir == 0 ? t + 1 : t;
}
static inline int32_t rnn__prev_slot(int32_t dir, int32_t t)
{
    return dir == 0 ? t : t + 1;
}
/* Moves a step's buffers `steps` steps on (back when negative): every
 * buffer of a step lies one step's rows further than the step before
 * (slots and rows both follow t), so the step loops move pointers instead
 * of recomputing them. */
static inline void rnn__step_move(rnn_cell_forward_args *step,
                                  const rnn_cell_ops *ops, int32_t steps)
{
    const ptrdiff_t states = (ptrdiff_t)steps * step->rows * step->hidden;
    const ptrdiff_t outputs =
        (ptrdiff_t)steps * step->rows * rnn__state_size(step->cfg);
    step->proj += ops->gates * states;
    step->h_prev += outputs;
    step->h += outputs;
    if (step->cell_out != NULL)
        step->cell_out += states;
    if (step->c != NULL) {
        step->c_prev += states;
        step->c += states;
    }
    if (step->saved != NULL)
        step->saved += ops->saved_units * states;
}
/* Last valid step of sequence b in the cached forward. */
static inline int32_t rnn__last_step(const rnn_cache *cache, int32_t b)
{
    return cache->has_lengths ? cache->lengths[b] - 1 : cache->seq_len - 1;
}

/* ---- safetensors (safetensors.c): the container, knowing no model ------ */

struct cJSON;

enum { RNN_ST_MAX_DIMS = 8 };

/* One tensor of a parsed header. Strings point into the parsed header. */
typedef struct rnn_st_entry {
    const char *name;
    const char *dtype;
    int32_t ndim;
    uint64_t shape[RNN_ST_MAX_DIMS];
    size_t begin, end; /* byte range [begin, end) of the data section */
} rnn_st_entry;

/* A safetensors image that passed every check the format itself defines:
 * header length, UTF-8 JSON object, known dtypes, shapes whose byte size
 * matches their offsets, offsets covering the data exactly without
 * overlap, unique names, string-to-string metadata. */
typedef struct rnn_st_file {
    struct cJSON *root;
    const struct cJSON *metadata; /* NULL when there is no __metadata__ */
    rnn_st_entry *entries;        /* sorted by name */
    size_t count;
    const unsigned char *data;    /* the data section, in the caller's bytes */
    size_t data_size;
} rnn_st_file;

/* Parses and validates `size` bytes (kept by the caller while *file is
 * used). RNN_E_FORMAT names the problem; *file needs rnn__st_close after
 * success only. */
rnn_status rnn__st_parse(rnn_st_file *file, const void *bytes, size_t size,
                         const char *func);
void rnn__st_close(rnn_st_file *file);
/* The tensor called `name`, or NULL. */
const rnn_st_entry *rnn__st_find(const rnn_st_file *file, const char *name);
/* The metadata value of `key`, or NULL. */
const char *rnn__st_meta(const rnn_st_file *file, const char *key);
/* An entry's shape as text for messages: "[2, 3]". */
void rnn__st_shape_text(char *buf, size_t size, const rnn_st_entry *e);
/* RNN_OK when every tensor is F32 (what librnn writes), else RNN_E_FORMAT
 * naming the first that is not: checked before anything else so that the
 * message names the real problem. */
rnn_status rnn__st_all_f32(const rnn_st_file *file, const char *func);

typedef struct rnn_st_pair {
    const char *key, *value;
} rnn_st_pair;

/* Writes a header for F32 tensors stored back to back in the order they are
 * added: begin, add each tensor, finish. With out == NULL it only measures;
 * otherwise out must have room for the measured size (bytes past cap are
 * never written). */
typedef struct rnn_st_writer {
    unsigned char *out;
    size_t cap;
    size_t len;      /* bytes of the header so far, 8-byte prefix included */
    size_t data_end; /* data bytes of the tensors added so far */
    bool empty;      /* no member written in the JSON object yet */
} rnn_st_writer;

void rnn__st_begin(rnn_st_writer *w, unsigned char *out, size_t cap,
                   const rnn_st_pair *meta, size_t n_meta);
void rnn__st_add(rnn_st_writer *w, const char *name, int32_t ndim,
                 const size_t *shape);
/* Closes the JSON, pads it with spaces to a multiple of 8 bytes, writes the
 * length prefix; returns the header size (where the data starts). */
size_t rnn__st_finish(rnn_st_writer *w);

/* float32 <-> little-endian bytes, on any host. */
void rnn__st_encode(unsigned char *dst, const float *src, size_t count);
void rnn__st_decode(float *dst, const unsigned char *src, size_t count);
bool rnn__st_host_is_little_endian(void);

/* ---- librnn's metadata values (meta.c) ---------------------------------- */

/* The format_version librnn writes and reads. */
#define RNN_FORMAT_VERSION "1"

/* "%.9g" with a '.' under any locale: nine digits give back every float. */
void rnn__meta_format_float(char *buf, size_t size, float value);

/* The value of a required key (RNN_E_FORMAT when missing), and that value
 * parsed strictly: decimal integers without sign (u64) or with an optional
 * '-' (i64 within [lo, hi], i32), one of `n` names (its index), a finite
 * float. RNN_E_FORMAT names the key and the value otherwise. */
rnn_status rnn__meta_value(const rnn_st_file *file, const char *key,
                           const char **value, const char *func);
rnn_status rnn__meta_u64(const rnn_st_file *file, const char *key,
                         uint64_t *out, const char *func);
rnn_status rnn__meta_i64(const rnn_st_file *file, const char *key, int64_t lo,
                         int64_t hi, int64_t *out, const char *func);
rnn_status rnn__meta_i32(const rnn_st_file *file, const char *key,
                         int32_t *out, const char *func);
rnn_status rnn__meta_name(const rnn_st_file *file, const char *key,
                          const char *const *names, int32_t n, int32_t *out,
                          const char *func);
rnn_status rnn__meta_float(const rnn_st_file *file, const char *key,
                           float *out, const char *func);

/* Which librnn format the metadata declares: RNN_OK with *format NULL when
 * it declares none (a file of another writer), else "librnn" or
 * "librnn-optim" with a supported format_version. */
rnn_status rnn__meta_format(const rnn_st_file *file, const char **format,
                            const char *func);

/* A librnn file opened for reading: from->bytes, or the file from->path
 * read into memory (rnn__load_begin: its argument checks first), parsed
 * (rnn__st_parse), every tensor F32 (rnn__st_all_f32). After success only,
 * rnn__librnn_close frees both. */
rnn_status rnn__librnn_open(rnn_st_file *file, rnn_load_from *from,
                            bool has_out, const char *func);
void rnn__librnn_close(rnn_st_file *file, rnn_load_from *from);

#endif /* RNN_INTERNAL_H */
