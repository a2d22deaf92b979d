/* SPDX-License-Identifier: MIT
 *
 * gen_corpus.c - writes the seed corpora of the fuzz targets:
 *
 *   fuzz_gen_corpus load DIR   valid model files of several configurations
 *                              (rnn_save_buffer), torch-style files without
 *                              metadata, and hand-made broken ones, one
 *                              problem each (seed-*)
 *   fuzz_gen_corpus api DIR    call scripts for fuzz_api.c (seed-*)
 *
 * DIR is created when missing.
 * The checked-in tests/fuzz/corpus/ was made with it; run it again (and
 * commit the result) when the file format or the script encoding of
 * fuzz_api.c changes. Deterministic: the same files on every machine.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <rnn.h>

#include "fuzz_api_script.h"

static const char *out_dir;
static int written;

static void write_file(const char *name, const void *data, size_t size)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    ++written;
}

static void check(rnn_status st, const char *what)
{
    if (st != RNN_OK) {
        fprintf(stderr, "%s: %s\n", what, rnn_last_error());
        exit(1);
    }
}

/* ------------------------------------------------------------------------
 * Model files
 * ---------------------------------------------------------------------- */

/* The file of a model of `cfg` (malloc'd). */
static unsigned char *model_file(const rnn_config *cfg, size_t *size)
{
    rnn_t *model;
    check(rnn_create(&model, cfg), "rnn_create");
    check(rnn_save_size(model, size), "rnn_save_size");
    unsigned char *bytes = malloc(*size);
    if (bytes == NULL)
        exit(1);
    check(rnn_save_buffer(model, bytes, *size, NULL), "rnn_save_buffer");
    rnn_destroy(model);
    return bytes;
}

/* A safetensors image from a header text and `data_size` data bytes (a
 * repeating pattern that decodes to small finite floats). */
static void image(const char *name, const char *header, size_t data_size)
{
    const size_t n = strlen(header);
    unsigned char *bytes = malloc(8 + n + data_size + 1);
    if (bytes == NULL)
        exit(1);
    for (int i = 0; i < 8; ++i)
        bytes[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(bytes + 8, header, n);
    static const unsigned char pattern[4] = {0x00, 0x00, 0x80, 0x3e}; /* 0.25f */
    for (size_t i = 0; i < data_size; ++i)
        bytes[8 + n + i] = pattern[i % 4];
    write_file(name, bytes, 8 + n + data_size);
    free(bytes);
}

/* A copy of a valid file with its header text edited: the first occurrence
 * of `from` replaced by `to`, the length prefix fixed. */
static void edited(const char *name, const unsigned char *file, size_t size,
                   const char *from, const char *to)
{
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i)
        n |= (uint64_t)file[i] << (8 * i);
    char *header = malloc(n + 1);
    if (header == NULL)
        exit(1);
    memcpy(header, file + 8, n);
    header[n] = '\0';
    char *at = strstr(header, from);
    if (at == NULL) {
        fprintf(stderr, "%s: \"%s\" not in the header\n", name, from);
        exit(1);
    }
    const size_t data = size - 8 - n;
    const size_t new_n = n - strlen(from) + strlen(to);
    unsigned char *out = malloc(8 + new_n + data);
    if (out == NULL)
        exit(1);
    for (int i = 0; i < 8; ++i)
        out[i] = (unsigned char)((uint64_t)new_n >> (8 * i));
    const size_t before = (size_t)(at - header);
    memcpy(out + 8, header, before);
    memcpy(out + 8 + before, to, strlen(to));
    memcpy(out + 8 + before + strlen(to), at + strlen(from),
           n - before - strlen(from));
    memcpy(out + 8 + new_n, file + 8 + n, data);
    write_file(name, out, 8 + new_n + data);
    free(out);
    free(header);
}

static void load_corpus(void)
{
    /* The three models fuzz_load.c loads parameters into come first. */
    rnn_config cfgs[8];
    const char *names[8];
    int n = 0;
    cfgs[n] = rnn_config_default(3, 4);
    cfgs[n].seed = 7;
    names[n++] = "valid-i3h4";
    cfgs[n] = cfgs[0];
    cfgs[n].num_layers = 2;
    cfgs[n].bidirectional = 1;
    cfgs[n].output_size = 2;
    names[n++] = "valid-l2-bidir-head";
    cfgs[n] = cfgs[0];
    cfgs[n].bias = 0;
    cfgs[n].nonlinearity = RNN_RELU;
    cfgs[n].batch_first = 1;
    cfgs[n].output_size = 1;
    cfgs[n].head_mode = RNN_HEAD_ALL;
    names[n++] = "valid-nobias-relu-bf-headall";
    cfgs[n] = rnn_config_default(1, 1);
    names[n++] = "valid-i1h1";
    cfgs[n] = rnn_config_default(2, 3);
    cfgs[n].num_layers = 3;
    cfgs[n].seed = 99;
    names[n++] = "valid-l3";
    cfgs[n] = rnn_config_default(2, 2);
    cfgs[n].bidirectional = 1;
    cfgs[n].bias = 0;
    cfgs[n].output_size = 3;
    names[n++] = "valid-bidir-nobias-head3";
    for (int i = 0; i < n; ++i) {
        size_t size;
        unsigned char *file = model_file(&cfgs[i], &size);
        write_file(names[i], file, size);
        free(file);
    }

    /* Optimizer states (rnn_optim_load_buffer), after a few steps. */
    for (int kind = RNN_OPTIM_SGD; kind <= RNN_OPTIM_ADAMW; ++kind) {
        static const char *const optim_names[] = {"optim-sgd", "optim-adam",
                                                  "optim-adamw"};
        rnn_t *model = NULL;
        check(rnn_create(&model, &cfgs[0]), "rnn_create");
        rnn_optim_config oc = rnn_optim_config_default(kind, 0.01f);
        oc.momentum = kind == RNN_OPTIM_SGD ? 0.9f : 0.0f;
        rnn_optim_t *optim = NULL;
        check(rnn_optim_create(&optim, model, &oc), "rnn_optim_create");
        float *grads = NULL;
        size_t count = 0;
        check(rnn_grads(model, &grads, &count), "rnn_grads");
        for (size_t i = 0; i < count; ++i)
            grads[i] = 0.01f * (float)((int)(i % 5) - 2);
        check(rnn_optim_step(optim, model), "rnn_optim_step");
        size_t optim_size = 0;
        check(rnn_optim_save_size(optim, &optim_size), "rnn_optim_save_size");
        unsigned char *bytes = malloc(optim_size);
        if (bytes == NULL)
            exit(1);
        check(rnn_optim_save_buffer(optim, bytes, optim_size, NULL),
              "rnn_optim_save_buffer");
        write_file(optim_names[kind], bytes, optim_size);
        free(bytes);
        rnn_optim_destroy(optim);
        rnn_destroy(model);
    }

    /* Broken copies of one real file, one problem each. */
    size_t size;
    rnn_config base = rnn_config_default(2, 3);
    base.output_size = 1;
    unsigned char *file = model_file(&base, &size);
    write_file("trunc-empty", file, 0);
    write_file("trunc-prefix", file, 5);
    write_file("trunc-header", file, 40);
    write_file("trunc-data", file, size - 3);
    unsigned char *extra = malloc(size + 4);
    memcpy(extra, file, size);
    memset(extra + size, 0, 4);
    write_file("extra-data", extra, size + 4);
    free(extra);
    unsigned char *bad_len = malloc(size);
    memcpy(bad_len, file, size);
    memset(bad_len, 0xff, 8);
    write_file("huge-length", bad_len, size);
    memcpy(bad_len, file, size);
    bad_len[0] = (unsigned char)(bad_len[0] + 1);
    write_file("length-off-by-one", bad_len, size);
    free(bad_len);

    edited("meta-hidden-neg", file, size, "\"hidden_size\":\"3\"", "\"hidden_size\":\"-3\"");
    edited("meta-hidden-zero-lead", file, size, "\"hidden_size\":\"3\"", "\"hidden_size\":\"03\"");
    edited("meta-hidden-huge", file, size, "\"hidden_size\":\"3\"",
           "\"hidden_size\":\"2147483648\"");
    edited("meta-layers-huge", file, size, "\"num_layers\":\"1\"",
           "\"num_layers\":\"1000000000\"");
    edited("meta-nonlin-unknown", file, size, "\"tanh\"", "\"gelu\"");
    edited("meta-not-string", file, size, "\"bias\":\"1\"", "\"bias\":1");
    edited("meta-version-2", file, size, "\"format_version\":\"1\"",
           "\"format_version\":\"2\"");
    edited("meta-seed-neg", file, size, "\"seed\":\"0\"", "\"seed\":\"-1\"");
    edited("dtype-f16", file, size, "\"F32\"", "\"F16\"");
    edited("dtype-unknown", file, size, "\"F32\"", "\"Q4\"");
    edited("shape-swapped", file, size, "[3,2]", "[2,3]");
    edited("shape-neg", file, size, "[3,2]", "[-3,2]");
    edited("shape-float", file, size, "[3,2]", "[3.0,2]");
    edited("shape-huge", file, size, "[3,2]", "[4294967296,4294967296]");
    edited("shape-deep", file, size, "[3,2]", "[1,1,1,1,1,1,1,1,1,3,2]");
    edited("offsets-overlap", file, size, "[24,60]", "[20,56]");
    edited("offsets-reversed", file, size, "[0,24]", "[24,0]");
    edited("offsets-past-end", file, size, "[96,100]", "[96,104]");
    edited("name-unknown", file, size, "\"head.bias\"", "\"head.bia\"");
    edited("name-duplicate", file, size, "\"bias_hh_l0\"", "\"bias_ih_l0\"");
    edited("name-escaped", file, size, "\"head.bias\"", "\"head\\u002ebias\"");
    edited("name-nul", file, size, "\"head.bias\"", "\"head\\u0000bias\"");
    edited("json-not-object", file, size, "{\"__metadata__\"", "[\"__metadata__\"");
    edited("json-utf8-invalid", file, size, "\"librnn\"", "\"librnn\xff\"");
    free(file);

    /* Written by another program: no metadata (configuration inferred), a
     * 2-layer bidirectional torch nn.RNN(2, 2) state_dict in another order. */
    image("torch-l2-bidir",
          "{\"weight_hh_l0\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
          "\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]},"
          "\"weight_hh_l0_reverse\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[32,48]},"
          "\"weight_ih_l0_reverse\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[48,64]},"
          "\"weight_hh_l1\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[64,80]},"
          "\"weight_ih_l1\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[80,112]},"
          "\"weight_hh_l1_reverse\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[112,128]},"
          "\"weight_ih_l1_reverse\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[128,160]}}",
          160);
    image("torch-l1-bias",
          "{\"__metadata__\":{\"format\":\"pt\"},"
          "\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
          "\"weight_hh_l0\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]},"
          "\"bias_ih_l0\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]},"
          "\"bias_hh_l0\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[32,40]}}",
          40);
    image("torch-missing-bias-hh",
          "{\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]},"
          "\"weight_hh_l0\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]},"
          "\"bias_ih_l0\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[24,32]}}",
          32);
    image("torch-gap-layer",
          "{\"weight_ih_l1\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
          "\"weight_hh_l1\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}",
          32);
    image("empty-object", "{}", 0);
    image("empty-tensor",
          "{\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[0,1],\"data_offsets\":[0,0]}}", 0);
    image("only-metadata", "{\"__metadata__\":{\"format\":\"librnn\"}}", 0);
    image("metadata-object",
          "{\"__metadata__\":{\"format\":{\"x\":1}}}", 0);
    image("json-trailing", "{} {}", 0);
    image("json-truncated", "{\"weight_ih_l0\":{\"dtype\":\"F32\"", 0);
    image("json-nested",
          "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
          "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
          0);
    image("json-bom", "\xef\xbb\xbf{}", 0);
    image("json-nul", "{\"\0\":1}", 0);
}

/* ------------------------------------------------------------------------
 * API scripts (encoding in fuzz_api_script.h)
 * ---------------------------------------------------------------------- */

typedef struct script {
    unsigned char bytes[512];
    size_t len;
} script;

static void put(script *s, int byte)
{
    if (s->len < sizeof s->bytes)
        s->bytes[s->len++] = (unsigned char)byte;
}

static void put_config(script *s, int I, int H, int L, int bidir, int relu,
                       int bias, int bf, int O, int head_all)
{
    put(s, 0);  /* no planned allocation failure */
    put(s, I);
    put(s, H);
    put(s, L);
    put(s, bidir | relu << 1 | bias << 2 | bf << 3 | head_all << 4);
    put(s, O);
}

static void op(script *s, int code, int a, int b, int flags)
{
    put(s, code);
    put(s, a);
    put(s, b);
    put(s, flags);
}

static void api_corpus(void)
{
    script s;
    char name[64];
    const int shapes[][9] = {
        /* I, H, L, bidir, relu, bias, batch_first, O, head_all */
        {3, 4, 1, 0, 0, 1, 0, 0, 0},
        {2, 3, 2, 1, 0, 1, 0, 2, 0},
        {3, 2, 1, 0, 1, 0, 1, 1, 1},
        {1, 1, 3, 0, 0, 1, 0, 1, 0},
        {2, 2, 2, 1, 1, 0, 1, 3, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        const int *c = shapes[i];
        s.len = 0;
        put_config(&s, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
        /* a training step with every optional array, then with lengths */
        op(&s, FUZZ_OP_FORWARD, 3, 2, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_HEAD_FORWARD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_HEAD_BACKWARD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_BACKWARD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_OPTIM, 1, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_FORWARD, 4, 3, FUZZ_ALL_ARRAYS | FUZZ_LENGTHS);
        op(&s, FUZZ_OP_BACKWARD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_LOSS, 2, 1, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_STEP, 2, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_TENSOR, 1, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_SAVE_LOAD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_CLIP, 1, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_INIT, 2, 5, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_DIAG, 0, 0, FUZZ_ALL_ARRAYS);
        snprintf(name, sizeof name, "train-%zu", i);
        write_file(name, s.bytes, s.len);

        /* the same calls with bad arguments: NULLs, 0 and negative sizes */
        s.len = 0;
        put_config(&s, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
        op(&s, FUZZ_OP_BACKWARD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_HEAD_FORWARD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_FORWARD, 0, 2, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_FORWARD, 3, 0xff, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_FORWARD, 3, 2, 0);
        op(&s, FUZZ_OP_FORWARD, 3, 2, FUZZ_ALL_ARRAYS | FUZZ_LENGTHS | FUZZ_BAD);
        op(&s, FUZZ_OP_FORWARD, 0xfe, 0xfe, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_STEP, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_LOSS, 0, 0, FUZZ_BAD);
        op(&s, FUZZ_OP_OPTIM, 0, 0, FUZZ_BAD);
        op(&s, FUZZ_OP_TENSOR, 0xff, 0, FUZZ_BAD);
        op(&s, FUZZ_OP_NULLS, 0, 0, 0);
        snprintf(name, sizeof name, "misuse-%zu", i);
        write_file(name, s.bytes, s.len);
    }
    /* configurations out of range */
    const int bad[][9] = {
        {0, 4, 1, 0, 0, 1, 0, 0, 0},
        {3, 0xff, 1, 0, 0, 1, 0, 0, 0},
        {3, 4, 0, 0, 0, 1, 0, 0, 0},
        {0xfe, 0xfe, 0xfe, 1, 0, 1, 0, 0xfe, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        const int *c = bad[i];
        s.len = 0;
        put_config(&s, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
        op(&s, FUZZ_OP_FORWARD, 2, 2, FUZZ_ALL_ARRAYS);
        snprintf(name, sizeof name, "badconfig-%zu", i);
        write_file(name, s.bytes, s.len);
    }
    /* allocation failures planned at the 1st..6th allocation */
    static const int fail_at[] = {1, 6, 7, 8, 9, 10, 11, 12};
    for (size_t j = 0; j < sizeof fail_at / sizeof fail_at[0]; ++j) {
        const int k = fail_at[j];
        s.len = 0;
        put_config(&s, 2, 3, 2, 1, 0, 1, 0, 2, 0);
        s.bytes[0] = (unsigned char)k;
        op(&s, FUZZ_OP_FORWARD, 3, 2, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_HEAD_FORWARD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_BACKWARD, 0, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_OPTIM, 1, 0, FUZZ_ALL_ARRAYS);
        op(&s, FUZZ_OP_SAVE_LOAD, 0, 0, FUZZ_ALL_ARRAYS);
        snprintf(name, sizeof name, "nomem-%d", k);
        write_file(name, s.bytes, s.len);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "load") != 0 && strcmp(argv[1], "api") != 0)) {
        fprintf(stderr, "usage: %s load|api DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[2];
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    if (strcmp(argv[1], "load") == 0)
        load_corpus();
    else
        api_corpus();
    printf("%d files written to %s\n", written, out_dir);
    return 0;
}
