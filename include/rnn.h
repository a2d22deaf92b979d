/* SPDX-License-Identifier: MIT
 *
 * rnn.h - librnn: recurrent neural networks (Elman, LSTM, GRU) on CBLAS.
 *
 * This is the whole public API of librnn. It reads top to bottom: version,
 * status codes, the model configuration, create/destroy, training (forward,
 * backward, head, loss, optimizer), streaming inference (one step at a time),
 * parameter access, then diagnostics.
 *
 * Comment convention (the API reference is generated from these comments by
 * Doxygen, `./build.sh docs`, through docs/doxygen/filter.sed): every public
 * declaration, macro, type and field is documented by a plain C comment,
 * either on the lines just above it, or after it on its own line (fields,
 * enum values). Section banners (a first line of '=' signs) are not
 * attached to anything. The ctest test api_docs fails on an undocumented
 * declaration.
 */
#ifndef RNN_H
#define RNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the functions librnn exports (default symbol visibility). */
#if defined(_WIN32)
#  define RNN_API
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define RNN_API __attribute__((visibility("default")))
#else
#  define RNN_API
#endif

/* ========================================================================
 * Version
 * ====================================================================== */

#define RNN_VERSION_MAJOR 0 /* changes with the SONAME, on ABI breaks only */
#define RNN_VERSION_MINOR 2 /* additions */
#define RNN_VERSION_PATCH 0 /* fixes */
/* MAJOR * 10000 + MINOR * 100 + PATCH: what rnn_version_number() returns. */
#define RNN_VERSION_NUMBER \
    (RNN_VERSION_MAJOR * 10000 + RNN_VERSION_MINOR * 100 + RNN_VERSION_PATCH)

/* The version of the library actually loaded, as "MAJOR.MINOR.PATCH" (static
 * string) and as RNN_VERSION_NUMBER. Compare with the macros above to detect a
 * header/library mismatch. */
RNN_API const char *rnn_version(void);
RNN_API int32_t rnn_version_number(void); /* as RNN_VERSION_NUMBER */

/* ========================================================================
 * Introduction
 *
 * The model is the one of PyTorch torch.nn.RNN, nn.LSTM or nn.GRU (same
 * parameters, names, shapes and results; rnn_config.cell), with an optional
 * linear readout head. The Elman cell (the default):
 *
 *   h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),  act = tanh | relu
 *   logits = h W_y^T + b_y     (head, when output_size > 0)
 *
 * LSTM and GRU follow torch's equations and gate order (docs/api.md); the
 * shapes below hold for them with H replaced by Hout = proj_size (LSTM with
 * a projection) or H, and an LSTM's cell state c [L*D, B, H] goes through
 * rnn_forward_ex / rnn_backward_ex.
 *
 * Tensors are row-major float32. With T = seq_len, B = batch, I = input_size,
 * H = hidden_size, L = num_layers, D = 2 if bidirectional else 1:
 *   x      [T, B, I]      ([B, T, I] when batch_first)
 *   y      [T, B, D*H]    ([B, T, D*H] when batch_first); a bidirectional
 *                         output row is [forward | reverse]
 *   h0,h_n [L*D, B, H]    indexed layer*D + direction (never batch_first)
 *
 * Calling pattern for training:
 *
 *   rnn_config cfg = rnn_config_default(1, 32);
 *   cfg.output_size = 1;
 *   rnn_t *model;
 *   if (rnn_create(&model, &cfg) != RNN_OK) puts(rnn_last_error());
 *   for each batch:
 *       rnn_zero_grad(model);
 *       rnn_forward(model, T, B, x, NULL, NULL, NULL, NULL);
 *       rnn_head_forward(model, logits);
 *       rnn_loss_bce_with_logits(B, logits, labels, RNN_REDUCTION_MEAN,
 *                                &loss, dlogits);
 *       rnn_head_backward(model, dlogits);
 *       rnn_backward(model, NULL, NULL, NULL, NULL);
 *       rnn_sgd_step(model, 0.01f);
 *   rnn_destroy(model);
 *
 * Threads: a model is used by one thread at a time, except rnn_step and the
 * other calls taking a `const rnn_t *`, which any number of threads may make
 * at once on one model, each with its own rnn_state_t. Errors are reported
 * per thread (rnn_last_error).
 *
 * Memory: the library never keeps a pointer to a caller's array past the
 * call. Every array argument documents its number of floats.
 * ====================================================================== */

/* ========================================================================
 * Status codes and errors
 * ====================================================================== */

/* Every call that can fail returns one of these. Values never change.
 * One kind of mistake, one status, in every function:
 *  - RNN_E_INVALID_ARG: a NULL pointer; a value out of its range that is
 *    not a count: a config or optimizer field (sizes included), a flag, an
 *    enum, a learning rate, a target value, an index or name that does not
 *    exist; a struct_size of no layout.
 *  - RNN_E_SHAPE: a count passed to the call (seq_len, batch, n, classes, a
 *    sequence length, a buffer's capacity) out of range or disagreeing
 *    with the model or state; sizes whose products overflow. */
typedef enum rnn_status {
    RNN_OK = 0,
    RNN_E_INVALID_ARG = 1, /* NULL pointer, a field or value out of range,
                              unknown enum value                            */
    RNN_E_NOMEM = 2,       /* an allocation failed; nothing was changed     */
    RNN_E_SHAPE = 3,       /* a call's count (seq_len, batch, n, capacity)
                              out of range, sizes that disagree with the
                              model, products that overflow                 */
    RNN_E_UNSUPPORTED = 4, /* valid request this model or build cannot do   */
    RNN_E_IO = 5,          /* reading or writing a file failed              */
    RNN_E_FORMAT = 6,      /* a file or buffer is not a valid model         */
    RNN_E_NONFINITE = 7,   /* NaN or Inf where finite numbers are required  */
    RNN_E_STATE = 8        /* call out of order (backward before forward)   */
} rnn_status;

/* Static English text for a status code; never NULL. */
RNN_API const char *rnn_strerror(rnn_status status);

/* The message of the last failed call made by this thread, naming the
 * function and what was wrong (for example "rnn_forward: batch must be > 0
 * (got 0)"). Successful calls do not clear it. The string is owned by the
 * library and valid until the next librnn call on this thread. Returns ""
 * when no call has failed. */
RNN_API const char *rnn_last_error(void);

/* Forgets this thread's last error message. */
RNN_API void rnn_clear_error(void);

/* ========================================================================
 * Model configuration
 * ====================================================================== */

/* The activation of the RNN layers (rnn_config.nonlinearity). */
typedef enum rnn_nonlinearity {
    RNN_TANH = 0,
    RNN_RELU = 1
} rnn_nonlinearity;

/* The recurrent cell (rnn_config.cell): torch.nn.RNN, nn.LSTM or nn.GRU,
 * with torch's equations, gate order and tensor names. */
typedef enum rnn_cell_kind {
    RNN_CELL_RNN = 0,  /* Elman: h_t = act(x W_ih^T + b_ih + h W_hh^T + b_hh) */
    RNN_CELL_LSTM = 1, /* gates i, f, g, o; a cell state c besides h       */
    RNN_CELL_GRU = 2   /* gates r, z, n; n = tanh(in_n + r * (W_hn h + b_hn)) */
} rnn_cell_kind;

/* Where the readout head reads the top layer's output. */
typedef enum rnn_head_mode {
    RNN_HEAD_LAST = 0, /* logits [B, O] from each sequence's last valid step */
    RNN_HEAD_ALL = 1   /* logits [T, B, O] (or [B, T, O]) from every step    */
} rnn_head_mode;

/* ========================================================================
 * Versioned structs
 *
 * rnn_config, rnn_optim_config, rnn_tensor_info, rnn_allocator,
 * rnn_forward_args and rnn_backward_args start with `size_t struct_size`:
 * the sizeof of the struct the caller was compiled with. Later versions
 * only add fields at the end, so:
 *  - a library reads and writes exactly struct_size bytes of a caller's
 *    struct, never more;
 *  - a program built against an older header passes that release's size:
 *    the fields it does not have get their defaults (what the older
 *    library did), and the by-value rnn_config_default and
 *    rnn_optim_config_default it calls return that release's layout;
 *  - a program built against a newer header runs with an older library as
 *    long as the fields this library does not know are 0 (their defaults):
 *    a non-zero one is RNN_E_UNSUPPORTED, naming the version needed;
 *  - any other struct_size (0, a size between two layouts) is
 *    RNN_E_INVALID_ARG.
 * Fill a struct with its initialiser (rnn_config_init,
 * rnn_optim_config_init), which also works from FFIs that cannot receive a
 * struct by value, or set struct_size = sizeof and zero the rest.
 * ====================================================================== */

/* Describes a model. Always start from rnn_config_init() (or
 * rnn_config_default()), then change fields: 0/1 flags, sizes, enums, a
 * seed and the dropout probability. */
typedef struct rnn_config {
    size_t struct_size;   /* sizeof(rnn_config), set by rnn_config_init     */
    int32_t input_size;   /* I, > 0                                          */
    int32_t hidden_size;  /* H, > 0                                          */
    int32_t num_layers;   /* L, >= 1 (default 1)                             */
    int32_t bidirectional;/* 0 or 1 (default 0)                              */
    int32_t nonlinearity; /* rnn_nonlinearity (default RNN_TANH)             */
    int32_t bias;         /* 1: b_ih and b_hh exist (default 1)              */
    int32_t batch_first;  /* 1: x and y are [B, T, .] (default 0)            */
    int32_t output_size;  /* O: readout head size, 0 = no head (default 0)   */
    int32_t head_mode;    /* rnn_head_mode (default RNN_HEAD_LAST)           */
    int32_t reserved;     /* must be 0                                       */
    uint64_t seed;        /* seed of the initial weights (default 0)         */
    /* Since 0.2.0 (an older caller's struct ends above: these get defaults). */
    float dropout;        /* p in [0, 1): training forwards zero each output
                             of every layer but the last with probability p
                             and scale the rest by 1/(1-p), as
                             torch.nn.RNN(dropout=p); needs num_layers >= 2
                             when > 0 (default 0)                           */
    int32_t cell;         /* rnn_cell_kind (default RNN_CELL_RNN); LSTM and
                             GRU need nonlinearity RNN_TANH                 */
    int32_t proj_size;    /* LSTM only: P in [1, H) gives h (and y, h0, h_n)
                             P units through weight_hr [P, H], as
                             nn.LSTM(proj_size=P); 0 = none (default)       */
    int32_t vocab_size;   /* V > 0: the input is token ids in [0, V) and the
                             model owns an embedding table
                             "embedding.weight" [V, I], the first tensor of
                             the flat buffers (torch's nn.Embedding(V, I)
                             before the RNN; see rnn_forward_ex,
                             rnn_step_tokens); 0 = float input x (default) */
    int32_t has_padding_idx; /* 1: ids equal to padding_idx get a zero
                             embedding row that never learns (default 0)    */
    int32_t padding_idx;  /* with has_padding_idx: an id in [-V, V), negative
                             counting from V as in torch; rnn_get_config
                             returns it counted from 0 (default 0)          */
#ifdef RNN_TEST_GROWTH /* librnn's own tests: a library whose structs grew */
    unsigned char test_growth[RNN_TEST_GROWTH];
#endif
} rnn_config;

/* Fills the first struct_size bytes of *cfg (pass sizeof(rnn_config)) with
 * PyTorch's defaults for the given sizes: num_layers 1, tanh, bias, not
 * bidirectional nor batch_first, no head, seed 0; sets cfg->struct_size.
 * Errors: RNN_E_INVALID_ARG (cfg NULL, struct_size of no layout). */
RNN_API rnn_status rnn_config_init(rnn_config *cfg, size_t struct_size,
                                   int32_t input_size, int32_t hidden_size);

#ifndef RNN_BUILDING_LIBRARY
/* The same defaults as a value. Compiled into the caller, so the struct it
 * returns always has the caller's size. (The library also exports a
 * function of this name for 0.1.0 binaries: it returns the 0.1.0 layout.) */
static inline rnn_config rnn_config_default(int32_t input_size,
                                            int32_t hidden_size)
{
    rnn_config cfg;
    (void)rnn_config_init(&cfg, sizeof cfg, input_size, hidden_size);
    return cfg;
}
#endif

/* ========================================================================
 * Create and destroy
 * ====================================================================== */

/* A model: its configuration, parameters, gradients and training buffers. */
typedef struct rnn rnn_t;

/* Creates a model from `cfg` and initialises its parameters like PyTorch
 * (every RNN parameter and the head ~ U(-1/sqrt(fan), 1/sqrt(fan)), fan = H
 * for the RNN, D*H for the head; an embedding table ~ N(0, 1) with its
 * padding row 0, drawn after the others, so that the RNN and head get the
 * values of a model without one) from cfg->seed; gradients start at zero.
 * On success *out owns the model (free it with rnn_destroy); on failure *out
 * is set to NULL.
 * Errors: RNN_E_INVALID_ARG (NULL, struct_size of no layout, a field out
 * of range), RNN_E_UNSUPPORTED (a field this library does not know is set),
 * RNN_E_SHAPE (sizes whose products overflow, more than 65536 tensors),
 * RNN_E_NOMEM. */
RNN_API rnn_status rnn_create(rnn_t **out, const rnn_config *cfg);

/* Frees the model and everything it owns. NULL is a no-op. */
RNN_API void rnn_destroy(rnn_t *model);

/* Copies the model's configuration into *cfg: the first cfg->struct_size
 * bytes (set it first; rnn_config_init does), zero past this library's
 * layout. Errors: RNN_E_INVALID_ARG (NULL, struct_size of no layout). */
RNN_API rnn_status rnn_get_config(const rnn_t *model, rnn_config *cfg);

/* ========================================================================
 * Training: forward, backward, gradients
 * ====================================================================== */

/* Runs the RNN over a batch of sequences and keeps what rnn_backward needs
 * (the hidden states and a copy of x) inside the model, so the caller may
 * reuse x right after the call.
 *   seq_len  T > 0, batch B > 0
 *   x        T*B*I floats, [T, B, I] ([B, T, I] when batch_first)
 *   lengths  NULL (every sequence has T steps) or B values in [1, T]:
 *            steps t >= lengths[b] give y = 0 and leave h unchanged, and the
 *            reverse direction of sequence b starts at lengths[b]-1, as with
 *            PyTorch packed sequences
 *   h0       NULL (zeros) or L*D*B*H floats, [L*D, B, H]
 *   y        NULL or T*B*D*H floats (top layer output), written
 *   h_n      NULL or L*D*B*H floats, each sequence's last state, written
 * Kept: T*B*I + L*D*(T+1)*B*H floats (x and every hidden state), plus
 * H*H (H + 16 per row when H % 1024 == 0) for a transposed copy of W_hh
 * when T*B repays it (docs/design.md); rnn_backward adds a workspace
 * of 2*D*T*B*H floats; dropout (cfg.dropout > 0) adds 2*(L-1)*D*T*B*H
 * floats for its masks and dropped outputs. Both grow when T or B grow and
 * are reused otherwise (the per-step loop never allocates). On failure no
 * output is written and the state kept from the previous forward is
 * unchanged. While a head gradient from rnn_head_backward waits for its
 * rnn_backward, a forward (this one or rnn_forward_inference) would make it
 * unusable, silently leaving the RNN untrained: it is refused with
 * RNN_E_STATE (call rnn_backward, or rnn_zero_grad to drop it).
 * Errors: RNN_E_INVALID_ARG (also: a model with token input, which takes
 * its ids through rnn_forward_ex), RNN_E_SHAPE (T, B, a length out of
 * range, or sizes that overflow), RNN_E_STATE (a head gradient pending),
 * RNN_E_NOMEM. */
RNN_API rnn_status rnn_forward(rnn_t *model, int32_t seq_len, int32_t batch,
                               const float *x, const int32_t *lengths,
                               const float *h0, float *y, float *h_n);

/* Runs the RNN like rnn_forward for evaluation or serving, keeping
 * nothing for backward (torch's inference_mode, oneDNN's
 * forward_inference): it never drops (cfg.dropout), writes the same y and
 * h_n as rnn_forward, bit for bit, with the same BLAS and threads, and
 * works in chunks of K = max(64, 4096 / B) steps (all T when fewer), so
 * that its memory does not grow with T: K*B*I + L*D*(K+2)*B*H floats, plus
 * the W_hh^T copy of rnn_forward and, with logits, the head's rows of one
 * chunk. A bidirectional model, or the NaN/Inf check mode, runs the whole
 * sequence at once (the memory of rnn_forward, without backward's).
 *   x, lengths, h0, y, h_n  as rnn_forward
 *   logits  NULL or the head's logits, laid out as rnn_head_forward's
 *           (the head cannot run after this call: it keeps no outputs)
 * After it, rnn_backward, rnn_head_forward and rnn_head_backward return
 * RNN_E_STATE until the next rnn_forward. Like rnn_forward it is refused
 * while a head gradient waits for its rnn_backward. On failure no output
 * is written.
 * Errors: RNN_E_INVALID_ARG (also: a model with token input: use
 * rnn_forward_ex with args.ids and args.inference = 1), RNN_E_SHAPE,
 * RNN_E_UNSUPPORTED (logits without a head), RNN_E_STATE (a head gradient
 * pending), RNN_E_NONFINITE (check mode), RNN_E_NOMEM. */
RNN_API rnn_status rnn_forward_inference(rnn_t *model, int32_t seq_len,
                                         int32_t batch, const float *x,
                                         const int32_t *lengths,
                                         const float *h0, float *y,
                                         float *h_n, float *logits);

/* Backpropagation through time over the last rnn_forward, plus the head
 * gradient left by rnn_head_backward (if it was called after that forward).
 * Weight gradients are ADDED to the model's gradient buffer (see
 * rnn_zero_grad); input gradients are written.
 *   dy    NULL (zero) or T*B*D*H floats, gradient of the loss w.r.t. y
 *   dh_n  NULL (zero) or L*D*B*H floats, gradient w.r.t. h_n
 *   dx    NULL or T*B*I floats, written with the gradient w.r.t. x; must be
 *         NULL for a model with token input (ids have no gradient: it
 *         goes to embedding.weight's, a scatter-add of dA W_ih over the
 *         ids, nothing for padding_idx)
 *   dh0   NULL or L*D*B*H floats, written with the gradient w.r.t. h0
 * Parameters must not change between the forward and this call. A
 * backward with nothing to propagate (dy and dh_n NULL and no pending head
 * gradient: rnn_head_backward forgotten) is RNN_E_STATE, never a silent
 * all-zero gradient. It may be called again for the same forward: that
 * adds the gradients of the dy and dh_n it is given again, but not the
 * head's, which the first call consumed (torch raises on a second backward
 * without retain_graph; here it is the caller's choice).
 * Errors: RNN_E_INVALID_ARG (also dx for a model with token input),
 * RNN_E_STATE (no forward, the last one was rnn_forward_inference, or
 * nothing to propagate), RNN_E_NOMEM. */
RNN_API rnn_status rnn_backward(rnn_t *model, const float *dy,
                                const float *dh_n, float *dx, float *dh0);

/* Every argument of a forward pass, for what the three-state calls above
 * cannot say: token ids instead of x (a model with vocab_size > 0) and the
 * LSTM's cell state. Fill it with rnn_forward_args_init, then set fields.
 * Hout = proj_size if set, else H; counts as in rnn_forward. */
typedef struct rnn_forward_args {
    size_t struct_size;   /* sizeof(rnn_forward_args)                       */
    int32_t seq_len;      /* T > 0                                          */
    int32_t batch;        /* B > 0                                          */
    const float *x;       /* T*B*I floats: a model without vocab_size       */
    const int32_t *ids;   /* T*B token ids, [T, B] ([B, T] when
                             batch_first): a model with vocab_size; each in
                             [0, V), at padded steps too                    */
    const int32_t *lengths; /* NULL or B lengths in [1, T], as rnn_forward  */
    const float *h0;      /* NULL (zeros) or L*D*B*Hout floats              */
    const float *c0;      /* LSTM: NULL (zeros) or L*D*B*H floats; must be
                             NULL for other cells                           */
    float *y;             /* NULL or T*B*D*Hout floats, written             */
    float *h_n;           /* NULL or L*D*B*Hout floats, written             */
    float *c_n;           /* LSTM: NULL or L*D*B*H floats, written; must be
                             NULL for other cells                           */
    float *logits;        /* inference only: NULL or the head's logits, as
                             rnn_forward_inference                          */
    int32_t inference;    /* 0: as rnn_forward (keeps what backward needs,
                             drops with cfg.dropout); 1: as
                             rnn_forward_inference                          */
    int32_t reserved;     /* must be 0                                      */
#ifdef RNN_TEST_GROWTH
    unsigned char test_growth[RNN_TEST_GROWTH];
#endif
} rnn_forward_args;

/* Fills the first struct_size bytes of *args (pass sizeof) with NULL
 * pointers and zeros, and sets args->struct_size.
 * Errors: RNN_E_INVALID_ARG (NULL, struct_size of no layout). */
RNN_API rnn_status rnn_forward_args_init(rnn_forward_args *args,
                                         size_t struct_size);

/* The forward pass of rnn_forward (inference = 0) or rnn_forward_inference
 * (inference = 1) with every argument in *args (read, never written), and
 * the same outputs, memory and errors, plus: RNN_E_INVALID_ARG for x given
 * to a model with an embedding, ids given to a model without one, an id
 * out of range or negative (the message names its position and value;
 * nothing is written, the last forward's state is kept), c0 or c_n given
 * to a model without a cell state.
 * Token input: layer 0's input projection is a gather (no one-hot
 * product). When 2V <= T*B the table E W_ih^T + bias ([V, G*H] per
 * direction) is made once and its rows copied; otherwise the E rows are
 * gathered into the kept x and projected as a float input. The forward
 * keeps T*B ids and, in the first way, the table instead of x. */
RNN_API rnn_status rnn_forward_ex(rnn_t *model, const rnn_forward_args *args);

/* Every argument of a backward pass: rnn_backward's, plus the LSTM's cell
 * state gradients. Fill it with rnn_backward_args_init. */
typedef struct rnn_backward_args {
    size_t struct_size;   /* sizeof(rnn_backward_args)                      */
    const float *dy;      /* as rnn_backward                                */
    const float *dh_n;    /* as rnn_backward (L*D*B*Hout floats)            */
    const float *dc_n;    /* LSTM: NULL (zero) or L*D*B*H floats, dL/dc_n   */
    float *dx;            /* as rnn_backward; must be NULL for a model with
                             an embedding (its gradient goes to the table)  */
    float *dh0;           /* as rnn_backward                                */
    float *dc0;           /* LSTM: NULL or L*D*B*H floats, written with
                             dL/dc0                                         */
#ifdef RNN_TEST_GROWTH
    unsigned char test_growth[RNN_TEST_GROWTH];
#endif
} rnn_backward_args;

/* Fills *args like rnn_forward_args_init. Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_backward_args_init(rnn_backward_args *args,
                                          size_t struct_size);

/* rnn_backward with every argument in *args; the same errors, plus
 * RNN_E_INVALID_ARG for dc_n or dc0 given to a model without a cell state
 * and dx given to a model with an embedding. dc_n counts as something to
 * propagate. */
RNN_API rnn_status rnn_backward_ex(rnn_t *model, const rnn_backward_args *args);

/* Restarts the generator of the dropout masks (cfg.dropout) from `seed`;
 * rnn_create starts it from cfg.seed. The generator is SplitMix64; each
 * training forward draws the masks of layers 0 .. L-2 in order, direction
 * by direction, over their time-major [T, B, H] outputs, two elements per
 * 64-bit draw (low half first), an element kept when its 32-bit uniform u
 * is >= p * 2^32. So a run is the same for a given seed and sequence of
 * calls on every machine, whatever the BLAS and its threads.
 * Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_seed_dropout(rnn_t *model, uint64_t seed);

/* Sets every gradient to zero, and drops a head gradient that no
 * rnn_backward has used. Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_zero_grad(rnn_t *model);

/* ========================================================================
 * Readout head and loss
 * ====================================================================== */

/* Computes the head's logits from the last rnn_forward.
 *   logits  B*O floats [B, O] (RNN_HEAD_LAST: each sequence's last valid
 *           step; for a bidirectional model the row [forward | reverse] of
 *           that step), or T*B*O floats (RNN_HEAD_ALL, laid out like y; 0 at
 *           padded steps), written
 * Errors: RNN_E_INVALID_ARG, RNN_E_UNSUPPORTED (no head), RNN_E_STATE. */
RNN_API rnn_status rnn_head_forward(rnn_t *model, float *logits);

/* Backward through the head: adds dW_y and db_y to the gradients and keeps
 * dL/dh for the next rnn_backward, which consumes it.
 *   dlogits  same shape as the logits of rnn_head_forward
 * Errors: RNN_E_INVALID_ARG, RNN_E_UNSUPPORTED (no head), RNN_E_STATE. */
RNN_API rnn_status rnn_head_backward(rnn_t *model, const float *dlogits);

/* How a loss combines its elements (the `reduction` argument). */
typedef enum rnn_reduction {
    RNN_REDUCTION_MEAN = 0, /* loss averaged over the n elements */
    RNN_REDUCTION_SUM = 1
} rnn_reduction;

/* Binary cross-entropy on logits, numerically stable for any logit:
 *   loss_i = max(z,0) - z*y + log(1 + exp(-|z|)),  z = logits[i], y = targets[i]
 * Writes the reduced loss to *loss and, when dlogits is not NULL, its
 * gradient (sigmoid(z) - y, divided by n for the mean) to dlogits[n].
 * Errors: RNN_E_INVALID_ARG (NULL, unknown reduction, a target outside
 * [0, 1]), RNN_E_SHAPE (n <= 0). */
RNN_API rnn_status rnn_loss_bce_with_logits(int32_t n, const float *logits,
                                            const float *targets,
                                            int32_t reduction, float *loss,
                                            float *dlogits);

/* Softmax cross-entropy on class indices, like torch.nn.CrossEntropyLoss:
 *   logits   n*classes floats [n, classes]
 *   targets  n class indices in [0, classes), or ignore_index (those rows
 *            add nothing and get a zero gradient)
 * The mean divides by the number of rows not ignored (0 when all are).
 * Computed with the log-sum-exp shift: stable for any finite logits.
 * Writes *loss and, when dlogits is not NULL, dlogits[n*classes]
 * (softmax - one_hot, scaled like the loss).
 * Errors: RNN_E_INVALID_ARG (NULL, unknown reduction, a target out of
 * range), RNN_E_SHAPE (n or classes <= 0, n*classes overflows). */
RNN_API rnn_status rnn_loss_cross_entropy(int32_t n, int32_t classes,
                                          const float *logits,
                                          const int32_t *targets,
                                          int32_t ignore_index,
                                          int32_t reduction, float *loss,
                                          float *dlogits);

/* Mean squared error: loss = reduce((pred - target)^2) over n values;
 * dpred (optional, n floats) = 2 (pred - target), divided by n for the mean.
 * Errors: RNN_E_INVALID_ARG (NULL, unknown reduction), RNN_E_SHAPE
 * (n <= 0). */
RNN_API rnn_status rnn_loss_mse(int32_t n, const float *pred,
                                const float *target, int32_t reduction,
                                float *loss, float *dpred);

/* ========================================================================
 * Optimizers and gradient clipping
 * ====================================================================== */

/* Plain SGD over the flat buffers: params -= lr * grads. Gradients are left
 * as they are. Every learning rate in librnn follows torch.optim's rule:
 * finite and >= 0. Errors: RNN_E_INVALID_ARG (NULL, lr < 0 or not finite). */
RNN_API rnn_status rnn_sgd_step(rnn_t *model, float lr);

/* The update rule of an optimizer (rnn_optim_config.kind). */
typedef enum rnn_optim_kind {
    RNN_OPTIM_SGD = 0,  /* momentum, dampening, nesterov, L2 weight decay   */
    RNN_OPTIM_ADAM = 1, /* Adam, L2 weight decay added to the gradient      */
    RNN_OPTIM_ADAMW = 2 /* Adam with decoupled weight decay                 */
} rnn_optim_kind;

/* Hyperparameters, PyTorch's names and update rules (torch.optim.SGD, Adam,
 * AdamW). Start from rnn_optim_config_init() (or rnn_optim_config_default()). */
typedef struct rnn_optim_config {
    size_t struct_size;   /* sizeof(rnn_optim_config)                       */
    int32_t kind;         /* rnn_optim_kind                                 */
    int32_t nesterov;     /* SGD: 0 or 1 (needs momentum > 0, dampening 0)  */
    float lr;             /* >= 0 (torch.optim's rule)                      */
    float momentum;       /* SGD: >= 0 (default 0)                          */
    float dampening;      /* SGD: in [0, 1] (default 0)                     */
    float weight_decay;   /* >= 0 (default 0, AdamW 0.01)                   */
    float beta1;          /* Adam: in [0, 1) (default 0.9)                  */
    float beta2;          /* Adam: in [0, 1) (default 0.999)                */
    float eps;            /* Adam: > 0 (default 1e-8)                       */
    /* Since 0.2.0. */
    int32_t amsgrad;      /* Adam, AdamW: 0 or 1, the AMSGrad variant (the
                             running maximum of the second moment), as
                             torch.optim.Adam(amsgrad=True) (default 0)     */
    int32_t reserved;     /* must be 0                                      */
#ifdef RNN_TEST_GROWTH
    unsigned char test_growth[RNN_TEST_GROWTH];
#endif
} rnn_optim_config;

/* Fills the first struct_size bytes of *cfg (pass sizeof(rnn_optim_config))
 * with PyTorch's defaults for `kind` and learning rate `lr`; sets
 * cfg->struct_size. The values are checked by rnn_optim_create.
 * Errors: RNN_E_INVALID_ARG (cfg NULL, struct_size of no layout). */
RNN_API rnn_status rnn_optim_config_init(rnn_optim_config *cfg,
                                         size_t struct_size, int32_t kind,
                                         float lr);

#ifndef RNN_BUILDING_LIBRARY
/* The same defaults as a value, compiled into the caller (see
 * rnn_config_default). */
static inline rnn_optim_config rnn_optim_config_default(int32_t kind, float lr)
{
    rnn_optim_config cfg;
    (void)rnn_optim_config_init(&cfg, sizeof cfg, kind, lr);
    return cfg;
}
#endif

/* An optimizer: hyperparameters, step count and per-parameter state. */
typedef struct rnn_optim rnn_optim_t;

/* Creates an optimizer for `model` (its state, such as momentum buffers or
 * Adam moments, has the size of the flat parameter buffer and starts at
 * zero). The optimizer keeps no pointer to the model; it may step any model
 * with the same number of parameters. *out owns it (rnn_optim_destroy).
 * Errors: RNN_E_INVALID_ARG (NULL, bad struct_size, a hyperparameter out of
 * range), RNN_E_NOMEM. */
RNN_API rnn_status rnn_optim_create(rnn_optim_t **out, const rnn_t *model,
                                    const rnn_optim_config *cfg);

/* Frees an optimizer. NULL is a no-op. */
RNN_API void rnn_optim_destroy(rnn_optim_t *optim);

/* Applies one update from the model's gradients to its parameters. If any
 * gradient is NaN or Inf nothing is changed and RNN_E_NONFINITE names the
 * tensor. Gradients are left as they are (call rnn_zero_grad). An optimizer
 * takes at most 2^53 steps (the step count Adam's bias correction holds
 * exactly); past them it changes nothing and returns RNN_E_UNSUPPORTED.
 * Errors: RNN_E_INVALID_ARG, RNN_E_SHAPE (a model of another size),
 * RNN_E_NONFINITE, RNN_E_UNSUPPORTED (2^53 steps taken). */
RNN_API rnn_status rnn_optim_step(rnn_optim_t *optim, rnn_t *model);

/* Changes the learning rate (for schedules). Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_optim_set_lr(rnn_optim_t *optim, float lr);

/* Copies the optimizer's hyperparameters (the learning rate as last set)
 * into *cfg, as rnn_get_config does for a model: the first cfg->struct_size
 * bytes (set it first). Useful after rnn_optim_load.
 * Errors: RNN_E_INVALID_ARG (NULL, struct_size of no layout). */
RNN_API rnn_status rnn_optim_get_config(const rnn_optim_t *optim,
                                        rnn_optim_config *cfg);

/* The number of steps taken so far. Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_optim_step_count(const rnn_optim_t *optim,
                                        int64_t *steps);

/* Scales all gradients so that their global L2 norm is at most max_norm
 * (torch.nn.utils.clip_grad_norm_): when norm > max_norm each gradient is
 * multiplied by max_norm / norm (torch uses max_norm / (norm + 1e-6), so
 * its clipped norm is a hair below max_norm). The norm is computed in
 * double: finite gradients always have a finite norm and are clipped.
 * *norm (optional) receives it BEFORE clipping, rounded to float: +Inf when
 * it exceeds FLT_MAX (gradients of about 1e38), still with RNN_OK. When a
 * gradient is NaN or Inf the gradients are left untouched and
 * RNN_E_NONFINITE names the first such tensor.
 * Errors: RNN_E_INVALID_ARG (NULL model, max_norm not finite and > 0),
 * RNN_E_NONFINITE. */
RNN_API rnn_status rnn_clip_grad_norm(rnn_t *model, float max_norm,
                                      float *norm);

/* Checks the gradients: RNN_OK when all are finite, else RNN_E_NONFINITE
 * naming the tensor and index of the first NaN/Inf.
 * Errors: RNN_E_INVALID_ARG, RNN_E_NONFINITE. */
RNN_API rnn_status rnn_check_grads(const rnn_t *model);

/* Checks the parameters the same way (after loading weights, or to catch a
 * diverged model). Errors: RNN_E_INVALID_ARG, RNN_E_NONFINITE. */
RNN_API rnn_status rnn_check_params(const rnn_t *model);

/* Turns the NaN/Inf check mode on (enabled = 1) or off (0, the default).
 * When on:
 *  - rnn_forward checks x, h0 and the parameters before computing, and the
 *    hidden states after (a relu model whose activations overflowed): a
 *    failure writes no output and leaves no pass to differentiate;
 *  - rnn_backward checks dy and dh_n before touching anything;
 *  - rnn_step checks x_t, and the new state before keeping it: on failure
 *    the state is left as it was.
 * Failures return RNN_E_NONFINITE with a message naming the tensor and the
 * index (or layer and step). Each check is one extra pass over the array.
 * Gradients are checked by rnn_optim_step and rnn_check_grads.
 * Errors: RNN_E_INVALID_ARG (NULL, enabled not 0 or 1). */
RNN_API rnn_status rnn_set_check_finite(rnn_t *model, int32_t enabled);

/* ========================================================================
 * Truncated backpropagation through time
 *
 * To train on a stream longer than fits (or than gradients survive), cut it
 * into chunks of k steps and carry the hidden state between chunks without
 * carrying gradient across them:
 *
 *   float *h = zeros(L*D*B*H);
 *   for each chunk c of k steps:
 *       rnn_zero_grad(model);
 *       rnn_forward(model, k, B, x_c, NULL, h, y_c, h);  // h0 in, h_n out
 *       ... loss on y_c, rnn_backward(model, dy_c, NULL, NULL, NULL);
 *       rnn_optim_step(optim, model);
 *
 * rnn_forward reads h0 before it writes h_n, so one array serves as both.
 * With k >= T this is exactly full BPTT. See examples/tbptt.c.
 * ====================================================================== */

/* ========================================================================
 * Streaming inference: one time step at a time
 * ====================================================================== */

/* The hidden state of a batch of streams, advanced by rnn_step. */
typedef struct rnn_state rnn_state_t;

/* Creates the hidden state of `batch` independent streams for a
 * unidirectional model, all zero: h [L, B, Hout] (Hout = proj_size of an
 * LSTM with a projection, else H) and, for an LSTM, c [L, B, H]. The state
 * does not keep a pointer to the model: it may be used with any model of
 * the same cell, input_size, hidden_size, proj_size and num_layers. *out
 * owns it (rnn_state_destroy).
 * Errors: RNN_E_INVALID_ARG, RNN_E_UNSUPPORTED (bidirectional model: the
 * reverse direction needs the whole sequence), RNN_E_SHAPE, RNN_E_NOMEM. */
RNN_API rnn_status rnn_state_create(rnn_state_t **out, const rnn_t *model,
                                    int32_t batch);

/* Frees a state. NULL is a no-op. */
RNN_API void rnn_state_destroy(rnn_state_t *state);

/* Sets the hidden state (h, and an LSTM's c) of the streams to zero: all of
 * them when `mask` is NULL, else those b with mask[b] != 0 (mask has
 * `batch` bytes).
 * Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_state_reset(rnn_state_t *state, const uint8_t *mask);

/* Copies the hidden state out: h has L*B*Hout floats, [L, B, Hout].
 * Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_state_get(const rnn_state_t *state, float *h);

/* Sets the hidden state: h has L*B*Hout floats, [L, B, Hout].
 * Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_state_set(rnn_state_t *state, const float *h);

/* Copies the LSTM cell state out: c has L*B*H floats, [L, B, H] (H also
 * with a projection).
 * Errors: RNN_E_INVALID_ARG (NULL, a state of a cell without c). */
RNN_API rnn_status rnn_state_get_cell(const rnn_state_t *state, float *c);

/* Sets the LSTM cell state: c has L*B*H floats, [L, B, H].
 * Errors: RNN_E_INVALID_ARG (NULL, a state of a cell without c). */
RNN_API rnn_status rnn_state_set_cell(rnn_state_t *state, const float *c);

/* The number of streams of a state. Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_state_batch(const rnn_state_t *state, int32_t *batch);

/* Advances every stream by one step: reads x_t (B*I floats, [B, I]), updates
 * the state, and writes the top layer's new hidden state to y_t (B*Hout
 * floats, [B, Hout]) when y_t is not NULL. The model is only read: threads may step
 * their own states on one shared model at once. Never allocates. Equals
 * rnn_forward over the same inputs to float rounding.
 * Errors: RNN_E_INVALID_ARG (also: a model with token input, which steps
 * with rnn_step_tokens), RNN_E_SHAPE (state of another shape),
 * RNN_E_UNSUPPORTED (bidirectional model). */
RNN_API rnn_status rnn_step(const rnn_t *model, rnn_state_t *state,
                            const float *x_t, float *y_t);

/* rnn_step for a model with an embedding (vocab_size > 0): reads B token
 * ids (ids_t[b] in [0, V)) instead of x_t, and steps on their embedding
 * rows (gathered into the state). Never allocates; equals rnn_forward_ex
 * over the same ids to float rounding. Nothing is changed when an id is out
 * of range (the message names ids_t[b] and its value). Errors: those of
 * rnn_step, and RNN_E_INVALID_ARG for a model without an embedding or an
 * id out of range. */
RNN_API rnn_status rnn_step_tokens(const rnn_t *model, rnn_state_t *state,
                                   const int32_t *ids_t, float *y_t);

/* Head logits of the state's current top hidden state: logits has B*O
 * floats, [B, O]. Errors: RNN_E_INVALID_ARG, RNN_E_SHAPE,
 * RNN_E_UNSUPPORTED (no head). */
RNN_API rnn_status rnn_step_head(const rnn_t *model, const rnn_state_t *state,
                                 float *logits);

/* Makes rnn_step faster by giving it its own copy of the weights: per
 * layer [W_ih | W_hh] transposed into one [I_l + Hout, G*H] matrix, and
 * b_ih + b_hh, so that a layer's step is ONE product over [x_t | h] in the
 * orientation BLAS reads fastest (measurements in docs/benchmarks.md); an
 * LSTM with a projection also W_hr^T [H, P]. Costs about
 * (I_l + Hout + 1) * G*H (+ H*P) floats per layer; rnn_forward and rnn_backward do not
 * use it. The copy is a snapshot of the parameters. The library's own calls that
 * change them (rnn_optim_step, rnn_sgd_step, rnn_init, rnn_init_uniform,
 * rnn_load_params, rnn_load_params_buffer) refresh it; writes made through
 * the rnn_params pointer do NOT reach it: call rnn_pack_weights again after
 * them (that refreshes the copy, allocation-free). Not while other threads
 * step on the model. Results equal the unpacked step to float rounding.
 * Errors: RNN_E_INVALID_ARG, RNN_E_UNSUPPORTED (bidirectional model),
 * RNN_E_NOMEM (nothing changed). */
RNN_API rnn_status rnn_pack_weights(rnn_t *model);

/* Frees the copy made by rnn_pack_weights: rnn_step reads the parameters
 * directly again. NULL, or a model without a copy, is a no-op. */
RNN_API void rnn_unpack_weights(rnn_t *model);

/* ========================================================================
 * Parameters and gradients
 *
 * All parameters live in ONE contiguous float buffer and all gradients in
 * another with the same layout, so an optimizer, a clip, a checksum or an
 * allreduce is one call over one array. The layout is PyTorch's state_dict
 * order: first "embedding.weight" [V, I] for a model with token input,
 * then for each layer l, for each direction (suffix "" or "_reverse"):
 *   weight_ih_l{l}[H, I_l], weight_hh_l{l}[H, H], bias_ih_l{l}[H],
 *   bias_hh_l{l}[H]  (biases only when cfg.bias),
 * with I_0 = I and I_l = D*H, then head.weight[O, D*H] and head.bias[O].
 * ====================================================================== */

/* The flat parameter buffer: *params points into the model (valid until
 * rnn_destroy; the caller may read and write it), *count is its number of
 * floats. Either out-pointer may be NULL. Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_params(rnn_t *model, float **params, size_t *count);

/* The flat gradient buffer, same layout and count as rnn_params. */
RNN_API rnn_status rnn_grads(rnn_t *model, float **grads, size_t *count);

/* Where one named tensor lives in the flat buffers. */
typedef struct rnn_tensor_info {
    size_t struct_size; /* sizeof(rnn_tensor_info), set by the caller      */
    const char *name;   /* PyTorch name, owned by the model                */
    size_t offset;      /* index of its first float in params and grads    */
    size_t count;       /* number of floats                                */
    int32_t ndim;       /* 1 or 2                                          */
    int32_t shape[2];   /* shape[0] (rows), shape[1] (cols; 1 when ndim=1) */
#ifdef RNN_TEST_GROWTH
    unsigned char test_growth[RNN_TEST_GROWTH];
#endif
} rnn_tensor_info;

/* The number of named tensors of the model, written to *count.
 * Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_tensor_count(const rnn_t *model, int32_t *count);

/* Describes tensor number `index` (0 <= index < count, state_dict order).
 * Set info->struct_size first. Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_tensor_at(const rnn_t *model, int32_t index,
                                 rnn_tensor_info *info);

/* Describes the tensor called `name` (for example "weight_hh_l0" or
 * "head.bias"). Set info->struct_size first.
 * Errors: RNN_E_INVALID_ARG (NULL, or no tensor of that name). */
RNN_API rnn_status rnn_tensor_find(const rnn_t *model, const char *name,
                                   rnn_tensor_info *info);

/* Re-initialises every parameter like rnn_create does, from `seed`. The
 * generator is SplitMix64 (seeding) feeding xoshiro256**, each float drawn
 * as (next() >> 40) * 2^-24 mapped onto [-bound, bound): the same seed gives
 * the same bits on every machine. Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_init_uniform(rnn_t *model, uint64_t seed);

/* Initialisation schemes of rnn_init. */
typedef enum rnn_init_scheme {
    RNN_INIT_UNIFORM = 0,        /* PyTorch default, as rnn_init_uniform     */
    RNN_INIT_XAVIER_UNIFORM = 1, /* W ~ U(+-sqrt(6 / (fan_in + fan_out))),
                                    biases 0                                 */
    RNN_INIT_ORTHOGONAL = 2      /* W_hh orthogonal (QR of a Gaussian matrix,
                                    signs fixed by diag(R) so it is uniform
                                    over orthogonal matrices), W_ih Xavier
                                    uniform, biases 0                        */
} rnn_init_scheme;

/* Re-initialises the RNN parameters with `scheme` from `seed` (same seed,
 * same bits; the orthogonal scheme goes through LAPACKE sgeqrf/sorgqr, whose
 * rounding may differ between LAPACK builds). The head, if any, gets
 * PyTorch's Linear default, an embedding table N(0, 1) (padding row 0),
 * drawn last. Gradients are not touched.
 * Errors: RNN_E_INVALID_ARG (NULL, unknown scheme), RNN_E_NOMEM,
 * RNN_E_UNSUPPORTED (LAPACK failed). */
RNN_API rnn_status rnn_init(rnn_t *model, int32_t scheme, uint64_t seed);

/* ========================================================================
 * Saving and loading (safetensors)
 *
 * Models are stored in the safetensors format: an 8-byte little-endian
 * header length N, N bytes of JSON mapping each tensor name to its dtype
 * ("F32"), shape and [begin, end) byte offsets in the data that follows,
 * then the raw little-endian data. Tensor names are PyTorch's nn.RNN
 * state_dict names plus "head.weight"/"head.bias" (and "embedding.weight"
 * with token input, nn.Embedding's weight), so a file moves between
 * librnn and torch.nn.RNN.load_state_dict (see docs/format.md). The
 * configuration is stored as strings in "__metadata__" ("format":
 * "librnn", "format_version": "1", "input_size", "hidden_size", ...).
 *
 * Loading trusts nothing: sizes, offsets (inside the data, in order, not
 * overlapping, covering it exactly), dtypes, shapes and names are all
 * checked, and any problem gives RNN_E_FORMAT with a message naming it.
 * ====================================================================== */

/* Writes the model to `path` atomically: a temporary file in the same
 * directory is written, flushed (fsync) and renamed over `path`, so a crash
 * leaves either the old file or the new one, never a partial one. The
 * temporary file is named `path` + ".tmp." + 6 characters from [A-Za-z0-9]
 * (for example "model.safetensors.tmp.q3ZxA0") and is locked (flock) from
 * its creation to the rename; a save that fails removes it, a process that
 * dies during the save leaves it (see rnn_save_cleanup).
 * Errors: RNN_E_INVALID_ARG, RNN_E_IO (with the system's reason),
 * RNN_E_NOMEM. */
RNN_API rnn_status rnn_save(const rnn_t *model, const char *path);

/* Removes the temporary files that saves to `path` (rnn_save or
 * rnn_optim_save) left when their process died: the regular files of the
 * directory of `path` named exactly `path` + ".tmp." + 6 characters from
 * [A-Za-z0-9] that no live save holds locked. Files that a save is still
 * writing, symbolic links, other kinds of file and every other name are left
 * alone, so it is safe to call while other processes save to `path`; on a
 * file system without flock nothing is removed. `path` itself is not
 * touched. *removed (optional) receives the number of files removed.
 * Errors: RNN_E_INVALID_ARG (NULL or empty path), RNN_E_IO (the directory
 * cannot be listed, or a leftover cannot be removed: the message names it;
 * those before it were removed, *removed is not written), RNN_E_NOMEM. */
RNN_API rnn_status rnn_save_cleanup(const char *path, int32_t *removed);

/* The size in bytes of the file rnn_save would write, for
 * rnn_save_buffer. Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_save_size(const rnn_t *model, size_t *size);

/* Writes the same bytes as rnn_save into `buffer` of `capacity` bytes;
 * *written (optional) receives the size used.
 * Errors: RNN_E_INVALID_ARG, RNN_E_SHAPE (capacity too small),
 * RNN_E_NOMEM. */
RNN_API rnn_status rnn_save_buffer(const rnn_t *model, void *buffer,
                                   size_t capacity, size_t *written);

/* Creates a model from a file written by rnn_save, or by any safetensors
 * writer: when "__metadata__" has no librnn configuration, the
 * configuration is inferred from the tensor names and shapes (tanh, not
 * batch_first: set them with a config through rnn_load_params when they
 * differ). *out owns the new model; it is NULL on failure.
 * Errors: RNN_E_INVALID_ARG, RNN_E_IO, RNN_E_FORMAT, RNN_E_NOMEM. */
RNN_API rnn_status rnn_load(rnn_t **out, const char *path);

/* Same as rnn_load from `size` bytes in memory (not kept after the call). */
RNN_API rnn_status rnn_load_buffer(rnn_t **out, const void *data, size_t size);

/* Loads parameters into an existing model: the file must hold exactly the
 * model's tensors with its shapes (a torch.nn.RNN state_dict saved with
 * safetensors, for example); its metadata, if any, must agree with the
 * model's configuration. On failure the model is unchanged.
 * Errors: RNN_E_INVALID_ARG, RNN_E_IO, RNN_E_FORMAT, RNN_E_NOMEM. */
RNN_API rnn_status rnn_load_params(rnn_t *model, const char *path);

/* Same as rnn_load_params from memory. */
RNN_API rnn_status rnn_load_params_buffer(rnn_t *model, const void *data,
                                          size_t size);

/* Saves an optimizer's state (kind, hyperparameters, step count and its
 * buffers, as safetensors) atomically like rnn_save (same temporary file,
 * cleaned by rnn_save_cleanup), so training resumes exactly.
 * Errors: RNN_E_INVALID_ARG, RNN_E_IO, RNN_E_NOMEM. */
RNN_API rnn_status rnn_optim_save(const rnn_optim_t *optim, const char *path);

/* Creates an optimizer from a file written by rnn_optim_save. *out owns
 * it; NULL on failure.
 * Errors: RNN_E_INVALID_ARG, RNN_E_IO, RNN_E_FORMAT, RNN_E_NOMEM. */
RNN_API rnn_status rnn_optim_load(rnn_optim_t **out, const char *path);

/* The size in bytes of the file rnn_optim_save would write.
 * Errors: RNN_E_INVALID_ARG. */
RNN_API rnn_status rnn_optim_save_size(const rnn_optim_t *optim, size_t *size);

/* Writes the same bytes as rnn_optim_save into `buffer` of `capacity`
 * bytes (nothing when they do not fit); *written (optional) receives the
 * size used. Errors: RNN_E_INVALID_ARG, RNN_E_SHAPE (capacity too small). */
RNN_API rnn_status rnn_optim_save_buffer(const rnn_optim_t *optim,
                                         void *buffer, size_t capacity,
                                         size_t *written);

/* Same as rnn_optim_load from `size` bytes in memory (not kept after the
 * call). Errors: RNN_E_INVALID_ARG, RNN_E_FORMAT, RNN_E_NOMEM. */
RNN_API rnn_status rnn_optim_load_buffer(rnn_optim_t **out, const void *data,
                                         size_t size);

/* ========================================================================
 * Memory
 * ====================================================================== */

/* A caller-supplied allocator. malloc_fn returns NULL on failure (librnn
 * then returns RNN_E_NOMEM and changes nothing); free_fn accepts NULL. */
typedef struct rnn_allocator {
    size_t struct_size;                          /* sizeof(rnn_allocator) */
    void *(*malloc_fn)(void *user, size_t size); /* size > 0              */
    void (*free_fn)(void *user, void *ptr);      /* ptr may be NULL       */
    void *user;                                  /* passed back unchanged */
#ifdef RNN_TEST_GROWTH
    unsigned char test_growth[RNN_TEST_GROWTH];
#endif
} rnn_allocator;

/* Routes every heap allocation librnn makes itself through `allocator`, or
 * back to malloc/free when it is NULL. Process-wide and not synchronised:
 * call it before creating any librnn object, from one thread, and free each
 * object under the allocator that made it. (The JSON parser used by the
 * loaders keeps using malloc.)
 * Errors: RNN_E_INVALID_ARG (bad struct_size or a NULL function). */
RNN_API rnn_status rnn_set_allocator(const rnn_allocator *allocator);

/* ========================================================================
 * Diagnostics
 * ====================================================================== */

/* The spectral radius (largest |eigenvalue|) of each W_hh, through LAPACKE
 * sgeev: radius has L*D floats, indexed layer*D + direction. A radius well
 * above 1 warns of exploding states and gradients, well below 1 of
 * vanishing ones. Errors: RNN_E_INVALID_ARG, RNN_E_NOMEM,
 * RNN_E_NONFINITE (W_hh holds NaN/Inf), RNN_E_UNSUPPORTED (LAPACK failed,
 * or an LSTM or GRU model: its W_hh is gate blocks, not one square map). */
RNN_API rnn_status rnn_spectral_radius(const rnn_t *model, float *radius);

/* Names the BLAS library that actually serves cblas_sgemm in this process:
 * its resolved path, plus the library's own configuration string when it
 * has one (OpenBLAS, BLIS). Static string, never NULL. */
RNN_API const char *rnn_blas_info(void);

/* ========================================================================
 * Threads
 * ====================================================================== */

/* Sets how many threads librnn computes with, process-wide, for the calls
 * that start after it returns (a call already running may use the new count
 * for the rest of its work): n >= 1 that many, 0 the default (every CPU
 * the process may run on). Before any call, the environment variable
 * RNN_NUM_THREADS (read once, at librnn's first computation; values other
 * than 0..256 are ignored) gives it; a call overrides the variable.
 * librnn's threads are its own (started on first use; between calls they
 * poll for about 0.2 ms, then sleep). It cuts a pass into slices of the
 * batch rows and large products into row blocks, and uses fewer threads,
 * down to one, when slices would be too small to gain; a given n always
 * cuts a given call the same way, so results are bit-identical from run
 * to run at one n (across different n they may differ in the last bits,
 * see docs/reliability.md).
 * The BLAS: each BLAS call librnn makes is single-threaded. When the BLAS
 * serving cblas_sgemm has a run-time thread setter (OpenBLAS, BLIS), librnn
 * sets its thread count to 1 when a computing call starts and sets the
 * caller's count back before it returns; as that setting is process-wide,
 * BLAS calls made by other threads during a librnn call run with one
 * thread. A BLAS without a setter keeps its own threads (set them with its
 * environment, e.g. to 1). Errors: RNN_E_INVALID_ARG (n < 0 or n > 256). */
RNN_API rnn_status rnn_set_num_threads(int n);

/* The thread count librnn computes with now: what rnn_set_num_threads or
 * RNN_NUM_THREADS asked for, or the default when neither did (>= 1). */
RNN_API int rnn_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* RNN_H */
