/* SPDX-License-Identifier: MIT
 *
 * bench_common.c - configurations, command line, timer and CSV rows shared
 * by rnn_bench and the oneDNN peer (see bench_common.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "bench_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* The configurations of DESIGN.md ("Reference figures"): (I, H, T, B). */
static const bench_shape standard[] = {
    {"a", 1, 32, 10, 1, 1, 1, 0, 0},       /* the seed task                 */
    {"b", 1, 32, 10, 1000, 1, 1, 0, 0},    /* the seed task, batched        */
    {"c", 64, 256, 100, 32, 1, 1, 0, 0},   /* a mid-sized model             */
    {"d", 256, 1024, 50, 64, 1, 1, 0, 0},  /* a large one                   */
    {"e", 64, 256, 1, 1, 1, 1, 1, 0},      /* one streaming step, B = 1     */
};
enum { NUM_STANDARD = sizeof standard / sizeof standard[0] };

const char *bench_cell_name(int cell)
{
    static const char *const names[] = {"rnn", "lstm", "gru"};
    return cell >= 0 && cell <= BENCH_CELL_GRU ? names[cell] : "?";
}

int bench_cell_gates(int cell)
{
    return cell == BENCH_CELL_LSTM ? 4 : cell == BENCH_CELL_GRU ? 3 : 1;
}

static int parse_cell(bench_cli *cli, const char *name)
{
    for (int k = BENCH_CELL_RNN; k <= BENCH_CELL_GRU; ++k)
        if (strcmp(name, bench_cell_name(k)) == 0) {
            cli->cell = k;
            return 0;
        }
    return -1;
}

bench_plan bench_plan_full(void)
{
    bench_plan p = {.sample_s = 5e-3, .budget_s = 0.3, .min_reps = 7,
                    .max_reps = 200, .warmup_s = 0.05, .warmup_calls = 2,
                    .cap_s = 3.0};
    return p;
}

bench_plan bench_plan_quick(void)
{
    bench_plan p = {.sample_s = 2e-4, .budget_s = 0.0, .min_reps = 1,
                    .max_reps = 1, .warmup_s = 0.0, .warmup_calls = 1,
                    .cap_s = 0.0};
    return p;
}

void bench_cli_init(bench_cli *cli)
{
    memset(cli, 0, sizeof *cli);
    cli->ops = BENCH_OP_ALL;
    cli->label = "";
}

static int add_standard(bench_cli *cli, const char *name)
{
    for (int k = 0; k < NUM_STANDARD; ++k) {
        if (strcmp(standard[k].name, name) == 0 || strcmp(name, "all") == 0) {
            if (cli->num_shapes == BENCH_MAX_SHAPES)
                return -1;
            cli->shapes[cli->num_shapes++] = standard[k];
            if (strcmp(name, "all") != 0)
                return 0;
        }
    }
    return strcmp(name, "all") == 0 ? 0 : -1;
}

static int parse_configs(bench_cli *cli, const char *list)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (add_standard(cli, tok) != 0) {
            fprintf(stderr, "unknown config '%s' (a, b, c, d, e or all)\n", tok);
            return -1;
        }
    }
    return 0;
}

/* --shape I,H,T,B[,L[,D]] */
static int parse_shape(bench_cli *cli, const char *text)
{
    bench_shape s = {"custom", 0, 0, 0, 0, 1, 1, 0, BENCH_CELL_RNN};
    int n = sscanf(text, "%d,%d,%d,%d,%d,%d", &s.input, &s.hidden, &s.seq_len,
                   &s.batch, &s.layers, &s.dirs);
    if (n < 4 || s.input <= 0 || s.hidden <= 0 || s.seq_len <= 0 ||
        s.batch <= 0 || s.layers <= 0 || s.dirs < 1 || s.dirs > 2) {
        fprintf(stderr, "--shape wants I,H,T,B[,L[,D]] with positive sizes, "
                        "D in {1, 2} (got '%s')\n", text);
        return -1;
    }
    if (cli->num_shapes == BENCH_MAX_SHAPES)
        return -1;
    cli->shapes[cli->num_shapes++] = s;
    return 0;
}

static int parse_ops(bench_cli *cli, const char *list)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    cli->ops = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "forward") == 0)
            cli->ops |= BENCH_OP_FORWARD;
        else if (strcmp(tok, "train") == 0)
            cli->ops |= BENCH_OP_TRAIN;
        else if (strcmp(tok, "step") == 0)
            cli->ops |= BENCH_OP_STEP;
        else if (strcmp(tok, "infer") == 0)
            cli->ops |= BENCH_OP_INFER;
        else {
            fprintf(stderr, "unknown op '%s' (forward, train, step, infer)\n", tok);
            return -1;
        }
    }
    return 0;
}

int bench_cli_parse(bench_cli *cli, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
    static const char *const with_value[] = {"--config", "--shape", "--threads",
                                             "--act", "--cell", "--ops", "--csv",
                                             "--label", "--min-reps", "--budget"};
    int wants_value = 0;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; ++k)
        wants_value |= strcmp(arg, with_value[k]) == 0;
    if (strcmp(arg, "--quick") == 0) {
        cli->quick = 1;
        return 1;
    }
    if (!wants_value)
        return 0;
    if (val == NULL) {
        fprintf(stderr, "%s needs a value\n", arg);
        return -1;
    }
    ++*i;
    int rc = 0;
    if (strcmp(arg, "--config") == 0)
        rc = parse_configs(cli, val);
    else if (strcmp(arg, "--shape") == 0)
        rc = parse_shape(cli, val);
    else if (strcmp(arg, "--threads") == 0)
        rc = (cli->threads = atoi(val)) > 0 ? 0 : -1;
    else if (strcmp(arg, "--act") == 0) {
        cli->relu = strcmp(val, "relu") == 0;
        rc = cli->relu || strcmp(val, "tanh") == 0 ? 0 : -1;
    } else if (strcmp(arg, "--cell") == 0)
        rc = parse_cell(cli, val);
    else if (strcmp(arg, "--ops") == 0)
        rc = parse_ops(cli, val);
    else if (strcmp(arg, "--csv") == 0)
        cli->csv = val;
    else if (strcmp(arg, "--label") == 0)
        cli->label = val;
    else if (strcmp(arg, "--min-reps") == 0) {
        cli->plan_set |= 1;
        cli->plan.min_reps = atoi(val);
        rc = cli->plan.min_reps > 0 ? 0 : -1;
    } else if (strcmp(arg, "--budget") == 0) {
        cli->plan_set |= 2;
        cli->plan.budget_s = atof(val);
        rc = cli->plan.budget_s >= 0 ? 0 : -1;
    }
    if (rc != 0)
        fprintf(stderr, "bad value for %s: '%s'\n", arg, val);
    return rc == 0 ? 1 : -1;
}

void bench_cli_finish(bench_cli *cli)
{
    if (cli->num_shapes == 0)
        add_standard(cli, "all");
    for (int k = 0; k < cli->num_shapes; ++k)
        cli->shapes[k].cell = cli->cell;
    bench_plan plan = cli->quick ? bench_plan_quick() : bench_plan_full();
    if (cli->plan_set & 1) {
        plan.min_reps = cli->plan.min_reps;
        if (plan.max_reps < plan.min_reps)
            plan.max_reps = plan.min_reps;
    }
    if (cli->plan_set & 2) {
        plan.budget_s = cli->plan.budget_s;
        if (plan.max_reps < 200)
            plan.max_reps = 200;
    }
    cli->plan = plan;
}

void bench_cli_usage(FILE *out)
{
    fputs(
        "  --config LIST     standard configs of DESIGN.md, comma-separated:\n"
        "                    a (1,32,10,1) b (1,32,10,1000) c (64,256,100,32)\n"
        "                    d (256,1024,50,64) e (one step of 64,256, B=1), all\n"
        "  --shape I,H,T,B[,L[,D]]  a custom shape (repeatable; L layers,\n"
        "                    D = 2 for bidirectional)\n"
        "  --threads N       set the thread count of the runtime (BLAS / OpenMP)\n"
        "  --act tanh|relu   nonlinearity of the Elman cell (default tanh)\n"
        "  --cell rnn|lstm|gru  the recurrent cell (default rnn, Elman); LSTM\n"
        "                    and GRU have 4 and 3 gates: G times the flops\n"
        "  --ops LIST        forward,train,step,infer (default all four; in\n"
        "                    rnn_bench step also times step_direct, the unpacked\n"
        "                    step; infer = the inference forward, config e's too)\n"
        "  --quick           smoke mode: one warm-up call, one sample per timing\n"
        "  --min-reps N      samples per timing (default 7; quick 1)\n"
        "  --budget SEC      keep sampling one operation this long (default 0.3)\n"
        "  --csv PATH        also write CSV rows to PATH ('-': CSV on stdout\n"
        "                    instead of the table)\n"
        "  --label TEXT      copied into the label column of every CSV row\n",
        out);
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Warm-up; returns the calls per sample. */
static long warm_up(void (*fn)(void *), void *ctx, const bench_plan *plan)
{
    const double warm_start = bench_now();
    double single = INFINITY;
    for (int calls = 0; calls < plan->warmup_calls ||
                        bench_now() - warm_start < plan->warmup_s;
         ++calls) {
        double a = bench_now();
        fn(ctx);
        double d = bench_now() - a;
        if (d < single)
            single = d;
        if (calls >= 1000000)
            break;
    }
    long inner = 1;
    if (single < plan->sample_s)
        inner = (long)ceil(plan->sample_s / (single > 1e-9 ? single : 1e-9));
    return inner > 10000000 ? 10000000 : inner;
}

static void summarise(bench_timing *t, double *samples)
{
    qsort(samples, (size_t)t->reps, sizeof *samples, cmp_double);
    t->min = samples[0];
    t->max = samples[t->reps - 1];
    t->median = t->reps % 2 ? samples[t->reps / 2]
                            : 0.5 * (samples[t->reps / 2 - 1] + samples[t->reps / 2]);
}

void bench_measure_many(bench_item *items, int count, const bench_plan *plan)
{
    if (count <= 0)
        return;
    const int cap = plan->max_reps > plan->min_reps ? plan->max_reps : plan->min_reps;
    double *samples = malloc((size_t)cap * (size_t)count * sizeof *samples);
    for (int k = 0; k < count; ++k) {
        items[k].t = (bench_timing){0, 0, 0, 0, 1};
        items[k].t.inner = warm_up(items[k].fn, items[k].ctx, plan);
    }
    if (samples == NULL)
        return;
    const double start = bench_now();
    int rounds = 0;
    while (rounds < cap) {
        const double spent = bench_now() - start;
        if (rounds >= plan->min_reps && spent >= plan->budget_s * count)
            break;
        if (rounds >= 3 && plan->cap_s > 0 && spent >= plan->cap_s * count)
            break;
        for (int k = 0; k < count; ++k) {
            bench_item *it = &items[k];
            if (it->before_sample)
                it->before_sample(it->sample_ctx);
            double a = bench_now();
            for (long i = 0; i < it->t.inner; ++i)
                it->fn(it->ctx);
            samples[(size_t)k * cap + rounds] = (bench_now() - a) / (double)it->t.inner;
            if (it->after_sample)
                it->after_sample(it->sample_ctx, it->t.inner);
        }
        ++rounds;
    }
    for (int k = 0; k < count; ++k) {
        items[k].t.reps = rounds;
        summarise(&items[k].t, samples + (size_t)k * cap);
    }
    free(samples);
}

bench_timing bench_summary(const double *samples, int count)
{
    bench_timing t = {0, 0, 0, count, 1};
    double *sorted = count > 0 ? malloc((size_t)count * sizeof *sorted) : NULL;
    if (sorted == NULL)
        return t;
    memcpy(sorted, samples, (size_t)count * sizeof *sorted);
    summarise(&t, sorted);
    free(sorted);
    return t;
}

bench_timing bench_measure(void (*fn)(void *), void *ctx, const bench_plan *plan)
{
    bench_item item = {fn, ctx, {0, 0, 0, 0, 1}, NULL, NULL, NULL};
    bench_measure_many(&item, 1, plan);
    return item.t;
}

double bench_forward_flops(const bench_shape *s)
{
    double flops = 0;
    for (int l = 0; l < s->layers; ++l) {
        double in = l == 0 ? s->input : (double)s->dirs * s->hidden;
        flops += s->dirs * 2.0 * s->seq_len * s->batch * bench_cell_gates(s->cell) *
                 s->hidden * (in + s->hidden);
    }
    return flops;
}

double bench_step_flops(const bench_shape *s)
{
    return bench_forward_flops(s) / s->seq_len;
}

void bench_csv_header(FILE *out)
{
    fputs("impl,label,backend,library,threads,config,I,H,T,B,L,D,act,op,kind,"
          "reps,inner,median_us,min_us,max_us,flops,gflops,pct_peak,"
          "samples_per_s,cell\n",
          out);
}

/* CSV field: commas and quotes would break the row, so they are replaced. */
static void field(FILE *out, const char *s)
{
    for (; s != NULL && *s; ++s)
        fputc(*s == ',' || *s == '"' || *s == '\n' ? ';' : *s, out);
    fputc(',', out);
}

void bench_csv_row(FILE *out, const bench_row *r)
{
    const bench_shape *s = r->shape;
    field(out, r->impl);
    field(out, r->label);
    field(out, r->backend);
    field(out, r->library);
    fprintf(out, "%d,", r->threads);
    field(out, s ? s->name : "");
    if (s)
        fprintf(out, "%d,%d,%d,%d,%d,%d,", s->input, s->hidden, s->seq_len,
                s->batch, s->layers, s->dirs);
    else
        fputs(",,,,,,", out);
    field(out, r->act);
    field(out, r->op);
    field(out, r->kind);
    fprintf(out, "%d,%ld,%.4f,%.4f,%.4f,", r->t.reps, r->t.inner,
            r->t.median * 1e6, r->t.min * 1e6, r->t.max * 1e6);
    if (r->flops > 0 && r->t.median > 0) {
        double gflops = r->flops / r->t.median * 1e-9;
        fprintf(out, "%.0f,%.3f,", r->flops, gflops);
        if (r->peak_gflops > 0)
            fprintf(out, "%.2f,", 100.0 * gflops / r->peak_gflops);
        else
            fputc(',', out);
    } else {
        fputs(",,,", out);
    }
    if (r->samples > 0 && r->t.median > 0)
        fprintf(out, "%.1f", r->samples / r->t.median);
    fprintf(out, ",%s\n", s ? bench_cell_name(s->cell) : "");
    fflush(out);
}

void bench_print_machine(FILE *out)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f != NULL) {
        char line[512];
        while (fgets(line, sizeof line, f) != NULL) {
            if (strncmp(line, "model name", 10) == 0) {
                const char *colon = strchr(line, ':');
                if (colon != NULL) {
                    snprintf(model, sizeof model, "%s", colon + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    struct utsname u;
    fprintf(out, "# cpu: %s\n", model);
    fprintf(out, "# online cpus: %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
    if (uname(&u) == 0)
        fprintf(out, "# kernel: %s %s %s\n", u.sysname, u.release, u.machine);
    bench_print_load(out, "load at start");
}

void bench_print_load(FILE *out, const char *what)
{
    char load[64] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL) {
        if (fgets(load, sizeof load, f) == NULL)
            snprintf(load, sizeof load, "?");
        fclose(f);
    }
    load[strcspn(load, "\n")] = '\0';
    fprintf(out, "# %s: %s\n", what, load);
}

const char *bench_fmt_time(double seconds, char *buf, size_t size)
{
    if (seconds < 1e-6)
        snprintf(buf, size, "%.0f ns", seconds * 1e9);
    else if (seconds < 1e-3)
        snprintf(buf, size, "%.2f us", seconds * 1e6);
    else if (seconds < 1.0)
        snprintf(buf, size, "%.2f ms", seconds * 1e3);
    else
        snprintf(buf, size, "%.2f s", seconds);
    return buf;
}

void bench_fill_uniform(float *a, size_t n, float lo, float hi, unsigned long long seed)
{
    unsigned long long s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; ++i) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        a[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
}
