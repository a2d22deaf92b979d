/* SPDX-License-Identifier: MIT
 *
 * bench_common.h - what rnn_bench and the oneDNN peer share: the standard
 * configurations of DESIGN.md, the command line, the timer and the CSV rows.
 * Nothing here touches BLAS, so the oneDNN peer links no BLAS of its own.
 *
 * The same configurations, options and CSV columns are repeated in
 * peers/torch_rnn.py: change them together.
 */
#ifndef RNN_BENCH_COMMON_H
#define RNN_BENCH_COMMON_H

#include <stdio.h>

/* The recurrent cells (--cell): librnn's rnn_cell_kind values, torch's
 * nn.RNN / nn.LSTM / nn.GRU, oneDNN's vanilla_rnn / vanilla_lstm /
 * lbr_gru. */
enum { BENCH_CELL_RNN = 0, BENCH_CELL_LSTM = 1, BENCH_CELL_GRU = 2 };

/* One shape to time. step_only: the configuration is a single streaming
 * step (config e), so neither forward nor train is timed (step and infer
 * are: infer as a one-step sequence). cell: BENCH_CELL_* (set from --cell
 * for every shape by bench_cli_finish). */
typedef struct bench_shape {
    char name[32];
    int input, hidden, seq_len, batch, layers, dirs;
    int step_only;
    int cell;
} bench_shape;

/* "rnn", "lstm" or "gru"; its gate count (1, 4, 3): the products of a cell
 * have gates * H output columns. */
const char *bench_cell_name(int cell);
int bench_cell_gates(int cell);

enum { BENCH_MAX_SHAPES = 64 };

/* How long to measure one operation. */
typedef struct bench_plan {
    double sample_s;   /* calls are grouped until one sample lasts this long */
    double budget_s;   /* keep sampling until this much time has passed ... */
    int min_reps;      /* ... and at least this many samples were taken     */
    int max_reps;      /* never more samples than this                      */
    double warmup_s;   /* untimed calls first, for at least this long ...   */
    int warmup_calls;  /* ... and at least this many                        */
    double cap_s;      /* but stop after 3 samples once this much time per
                          operation has passed (a machine gone slow)        */
} bench_plan;

typedef struct bench_timing {
    double median, min, max; /* seconds per call */
    int reps;                /* samples */
    long inner;              /* calls per sample */
} bench_timing;

/* Options every bench program takes. */
typedef struct bench_cli {
    bench_shape shapes[BENCH_MAX_SHAPES];
    int num_shapes;
    int quick;
    int threads;        /* --threads N; 0 = leave the runtime's default     */
    int relu;           /* --act relu                                        */
    int cell;           /* --cell rnn|lstm|gru (BENCH_CELL_*)                */
    int ops;            /* BENCH_OP_* bit set (--ops)                        */
    const char *csv;    /* --csv PATH ("-" = stdout instead of the table)   */
    const char *label;  /* --label TEXT, copied into every CSV row           */
    bench_plan plan;
    int plan_set;       /* --min-reps / --budget given                       */
} bench_cli;

/* infer: the inference forward (librnn's rnn_forward_inference); the
 * standard configs time it too, e's as a one-step sequence. */
enum { BENCH_OP_FORWARD = 1, BENCH_OP_TRAIN = 2, BENCH_OP_STEP = 4,
       BENCH_OP_INFER = 8, BENCH_OP_ALL = 15 };

/* The standard plans: full (medians of >= 7 samples of >= 5 ms) and quick
 * (one warm-up call, one sample: it checks that things run, no more). */
bench_plan bench_plan_full(void);
bench_plan bench_plan_quick(void);

/* Fills cli with defaults. */
void bench_cli_init(bench_cli *cli);

/* Tries to consume argv[*i] (and its value) as a common option. Returns 1 if
 * consumed (advancing *i past the value), 0 if not a common option, -1 on a
 * bad value (a message was printed to stderr). */
int bench_cli_parse(bench_cli *cli, int argc, char **argv, int *i);

/* After parsing: defaults (all configs, the plan of the mode). */
void bench_cli_finish(bench_cli *cli);

/* Usage text of the common options. */
void bench_cli_usage(FILE *out);

/* Monotonic time in seconds. */
double bench_now(void);

/* Times fn(ctx): warm-up, calibration of the calls per sample, then samples
 * until the plan is met. */
bench_timing bench_measure(void (*fn)(void *), void *ctx, const bench_plan *plan);

/* Several operations measured together, interleaved: each is warmed up and
 * sized alone, then every round takes one sample of each in turn, so that a
 * change in the machine's load (it is shared) hits all of them alike and
 * their ratios stay meaningful. Rounds go on until min_reps rounds are done
 * and budget_s per operation has passed (at most max_reps). */
typedef struct bench_item {
    void (*fn)(void *);
    void *ctx;
    bench_timing t; /* out */
    /* Optional, untimed, around each sample of `calls` calls (not around
     * the warm-up): what reads counters the calls keep. */
    void (*before_sample)(void *sample_ctx);
    void (*after_sample)(void *sample_ctx, long calls);
    void *sample_ctx;
} bench_item;
void bench_measure_many(bench_item *items, int count, const bench_plan *plan);

/* Median, min and max of samples[count] (seconds per call), as
 * bench_measure_many reports its own. */
bench_timing bench_summary(const double *samples, int count);

/* FLOPs of a forward pass over the whole sequence batch:
 * sum over layers and directions of 2*T*B*G*H*(I_l + H), I_l = I or D*H,
 * G the cell's gate count (element-wise work not counted). */
double bench_forward_flops(const bench_shape *s);
/* One streaming step of B streams: the same with T = 1. */
double bench_step_flops(const bench_shape *s);
/* A training step (forward + backward) is counted as 3 forwards. */
#define BENCH_TRAIN_FACTOR 3.0

/* One CSV row. Strings may be NULL (empty field); gflops/pct are left empty
 * when flops or peak is 0. */
typedef struct bench_row {
    const char *impl;    /* librnn | blas | torch | onednn                   */
    const char *label;
    const char *backend; /* short name of the BLAS / peer runtime           */
    const char *library; /* path of the library actually serving the calls  */
    int threads;
    const bench_shape *shape;
    const char *act;     /* tanh | relu (the Elman cell's; LSTM and GRU: tanh) */
    const char *op;      /* forward | train | step | infer | fwd.proj | ... */
    const char *kind;    /* whole | part | call | peak                       */
    bench_timing t;
    double flops;        /* per call                                        */
    double peak_gflops;  /* 0 = unknown                                     */
    double samples;      /* sequences (or streams) processed per call       */
} bench_row;

void bench_csv_header(FILE *out);
void bench_csv_row(FILE *out, const bench_row *row);

/* "# key: value" lines describing the machine (CPU model, cores, kernel). */
void bench_print_machine(FILE *out);

/* "# what: <the /proc/loadavg line>": other tenants' load, for the report. */
void bench_print_load(FILE *out, const char *what);

/* Human-readable duration, e.g. "12.3 us", into buf. */
const char *bench_fmt_time(double seconds, char *buf, size_t size);

/* Deterministic uniform floats in [lo, hi). */
void bench_fill_uniform(float *a, size_t n, float lo, float hi, unsigned long long seed);

#endif /* RNN_BENCH_COMMON_H */
