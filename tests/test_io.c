/* SPDX-License-Identifier: MIT
 *
 * test_io.c - saving and loading models and optimizer states (safetensors).
 *
 * Round trips must keep every parameter bit for bit (NaN payloads and -0
 * included) and the whole configuration; saving is atomic; files written by
 * other programs (a torch state_dict: no librnn metadata, another tensor
 * order) load through inference; and every hostile input - each in a table
 * below, plus every truncation of a real file and a few hundred random byte
 * flips - gives RNN_E_FORMAT with a message naming the problem, never a
 * crash or a read outside the input (each input is copied into a buffer of
 * exactly its size, so ASan sees any over-read), and leaves a model given to
 * rnn_load_params untouched.
 */
#define _POSIX_C_SOURCE 200809L /* umask, mkdir, opendir, fork, sigaction */

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Helpers
 * ---------------------------------------------------------------------- */

/* Not NULL, never dereferenced: failing load calls must reset it. */
static char not_null;
#define NOT_NULL_PTR ((void *)&not_null)

static void *checked_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* A model with parameters drawn from `seed` (not the library's init). */
static rnn_t *make_model(const rnn_config *cfg, uint64_t seed)
{
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, cfg));
    float *params;
    size_t n;
    TU_OK(rnn_params(model, &params, &n));
    tu_rng rng = tu_rng_make(seed);
    tu_fill(&rng, params, n, -1.0, 1.0);
    return model;
}

static float *params_of(rnn_t *model, size_t *n)
{
    float *params;
    TU_OK(rnn_params(model, &params, n));
    return params;
}

/* The file rnn_save_buffer writes (malloc'd, exactly its size). */
static unsigned char *save_to_buffer(const rnn_t *model, size_t *size)
{
    TU_OK(rnn_save_size(model, size));
    unsigned char *bytes = checked_malloc(*size);
    size_t written = 0;
    TU_OK(rnn_save_buffer(model, bytes, *size, &written));
    assert_int_equal(written, *size);
    return bytes;
}

static void assert_same_config(const rnn_config *a, const rnn_config *b)
{
    assert_int_equal(a->input_size, b->input_size);
    assert_int_equal(a->hidden_size, b->hidden_size);
    assert_int_equal(a->num_layers, b->num_layers);
    assert_int_equal(a->bidirectional, b->bidirectional);
    assert_int_equal(a->nonlinearity, b->nonlinearity);
    assert_int_equal(a->bias, b->bias);
    assert_int_equal(a->batch_first, b->batch_first);
    assert_int_equal(a->output_size, b->output_size);
    assert_int_equal(a->head_mode, b->head_mode);
    assert_int_equal(a->seed, b->seed);
}

/* Same configuration and the same parameter bits. */
static void assert_same_model(rnn_t *want, rnn_t *got)
{
    rnn_config a = rnn_config_default(1, 1), b = rnn_config_default(1, 1);
    TU_OK(rnn_get_config(want, &a));
    TU_OK(rnn_get_config(got, &b));
    assert_same_config(&a, &b);
    size_t n_want, n_got;
    const float *p_want = params_of(want, &n_want);
    const float *p_got = params_of(got, &n_got);
    assert_int_equal(n_want, n_got);
    assert_memory_equal(p_want, p_got, n_want * sizeof(float));
}

/* A safetensors image: 8-byte little-endian length, `json`, `data_size`
 * bytes of float data (1.0, 2.0, ...). Exactly sized. */
static unsigned char *image(const char *json, size_t json_len, size_t data_size,
                            size_t *size)
{
    *size = 8 + json_len + data_size;
    unsigned char *bytes = checked_malloc(*size);
    for (int b = 0; b < 8; ++b)
        bytes[b] = (unsigned char)((uint64_t)json_len >> (8 * b));
    memcpy(bytes + 8, json, json_len);
    for (size_t i = 0; i < data_size; ++i) {
        float value = (float)(i / 4 + 1);
        unsigned char le[4];
        memcpy(le, &value, 4);
        bytes[8 + json_len + i] = le[i % 4];
    }
    return bytes;
}

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static unsigned char *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *bytes = checked_malloc((size_t)n);
    assert_int_equal(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return bytes;
}

/* Files in `dir` whose name starts with `prefix`. */
static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void assert_error_contains(const char *text)
{
    const char *msg = rnn_last_error();
    if (strstr(msg, text) == NULL)
        fail_msg("rnn_last_error() \"%s\" does not contain \"%s\"", msg, text);
}

/* ------------------------------------------------------------------------
 * Round trips
 * ---------------------------------------------------------------------- */

static void buffer_round_trip_keeps_every_bit_and_the_config(void **state)
{
    rnn_config cfg = tu_config(tu_row(state));
    cfg.seed = 0xFEEDFACECAFEBEEFu; /* all 64 bits must survive */
    rnn_t *model = make_model(&cfg, 11);
    size_t size;
    unsigned char *bytes = save_to_buffer(model, &size);
    rnn_t *loaded = NULL;
    TU_OK(rnn_load_buffer(&loaded, bytes, size));
    assert_same_model(model, loaded);

    /* And into an existing model of that configuration. */
    rnn_t *other = make_model(&cfg, 12);
    TU_OK(rnn_load_params_buffer(other, bytes, size));
    assert_same_model(model, other);
    rnn_destroy(other);
    rnn_destroy(loaded);
    rnn_destroy(model);
    free(bytes);
}

static void file_round_trip_keeps_every_bit_and_the_config(void **state)
{
    (void)state;
    static const char *path = "test_io_round_trip.safetensors";
    rnn_config configs[4];
    configs[0] = rnn_config_default(3, 5);
    configs[1] = rnn_config_default(2, 4);
    configs[1].num_layers = 3;
    configs[1].bidirectional = 1;
    configs[1].output_size = 2;
    configs[1].head_mode = RNN_HEAD_ALL;
    configs[1].nonlinearity = RNN_RELU;
    configs[2] = rnn_config_default(4, 3);
    configs[2].bias = 0;
    configs[2].batch_first = 1;
    configs[2].num_layers = 2;
    configs[3] = rnn_config_default(1, 8);
    configs[3].output_size = 1;
    configs[3].seed = UINT64_MAX;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; ++i) {
        rnn_t *model = make_model(&configs[i], 100 + i);
        TU_OK(rnn_save(model, path));
        rnn_t *loaded = NULL;
        TU_OK(rnn_load(&loaded, path));
        assert_same_model(model, loaded);
        rnn_t *other = make_model(&configs[i], 200 + i);
        TU_OK(rnn_load_params(other, path));
        assert_same_model(model, other);

        /* The file holds exactly the bytes of rnn_save_buffer. */
        size_t file_size, buffer_size;
        unsigned char *file = read_whole(path, &file_size);
        unsigned char *buffer = save_to_buffer(model, &buffer_size);
        assert_int_equal(file_size, buffer_size);
        assert_memory_equal(file, buffer, file_size);
        free(file);
        free(buffer);
        rnn_destroy(other);
        rnn_destroy(loaded);
        rnn_destroy(model);
    }
    unlink(path);
}

static void round_trip_keeps_nan_payloads_infinities_and_negative_zero(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *model = make_model(&cfg, 5);
    size_t n;
    float *params = params_of(model, &n);
    const uint32_t patterns[] = {
        0x7FC00001u, /* quiet NaN with a payload */
        0xFFA00000u, /* negative signalling NaN */
        0x7F800000u, 0xFF800000u, /* +-inf */
        0x80000000u, /* -0 */
        0x00000001u, 0x807FFFFFu, /* subnormals */
        0x7F7FFFFFu, /* FLT_MAX */
    };
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; ++i)
        memcpy(&params[i], &patterns[i], 4);
    size_t size;
    unsigned char *bytes = save_to_buffer(model, &size);
    rnn_t *loaded = NULL;
    TU_OK(rnn_load_buffer(&loaded, bytes, size));
    assert_same_model(model, loaded);
    rnn_destroy(loaded);
    rnn_destroy(model);
    free(bytes);
}

/* The exact header, so that the format cannot drift unnoticed. */
static void header_is_the_documented_json_padded_to_8_bytes(void **state)
{
    (void)state;
    static const char want[] =
        "{\"__metadata__\":{\"format\":\"librnn\",\"format_version\":\"1\","
        "\"input_size\":\"1\",\"hidden_size\":\"2\",\"num_layers\":\"1\","
        "\"bidirectional\":\"0\",\"nonlinearity\":\"tanh\",\"bias\":\"0\","
        "\"batch_first\":\"0\",\"output_size\":\"0\",\"head_mode\":\"last\","
        "\"seed\":\"7\"},"
        "\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":[2,1],"
        "\"data_offsets\":[0,8]},"
        "\"weight_hh_l0\":{\"dtype\":\"F32\",\"shape\":[2,2],"
        "\"data_offsets\":[8,24]}}";
    rnn_config cfg = rnn_config_default(1, 2);
    cfg.bias = 0;
    cfg.seed = 7;
    rnn_t *model = make_model(&cfg, 1);
    size_t size;
    unsigned char *bytes = save_to_buffer(model, &size);
    uint64_t n = 0;
    for (int b = 7; b >= 0; --b)
        n = n << 8 | bytes[b];
    assert_int_equal(n % 8, 0);
    assert_int_equal(8 + n + 24, size);
    assert_true(n >= sizeof want - 1);
    assert_memory_equal(bytes + 8, want, sizeof want - 1);
    for (size_t i = 8 + sizeof want - 1; i < 8 + n; ++i)
        assert_int_equal(bytes[i], ' ');
    /* The data: float32 little-endian in state_dict order. */
    size_t count;
    const float *params = params_of(model, &count);
    for (size_t i = 0; i < count; ++i) {
        uint32_t bits;
        memcpy(&bits, &params[i], 4);
        for (int b = 0; b < 4; ++b)
            assert_int_equal(bytes[8 + n + 4 * i + (size_t)b],
                             (bits >> (8 * b)) & 0xFF);
    }
    rnn_destroy(model);
    free(bytes);
}

/* tests/data/librnn_v1.safetensors was written by this library (version 1
 * of the format) from rnn_create's own initialisation: it must still load
 * to the same model and be written again byte for byte. */
static void format_version_1_file_loads_and_is_rewritten_identically(void **state)
{
    (void)state;
    size_t size;
    unsigned char *golden =
        read_whole(RNN_TEST_SOURCE_DIR "/data/librnn_v1.safetensors", &size);
    rnn_config cfg = rnn_config_default(2, 3);
    cfg.output_size = 1;
    cfg.seed = 42;
    rnn_t *want = NULL, *loaded = NULL;
    TU_OK(rnn_create(&want, &cfg));
    TU_OK(rnn_load_buffer(&loaded, golden, size));
    assert_same_model(want, loaded);
    size_t again_size;
    unsigned char *again = save_to_buffer(loaded, &again_size);
    assert_int_equal(again_size, size);
    assert_memory_equal(again, golden, size);
    rnn_destroy(want);
    rnn_destroy(loaded);
    free(again);
    free(golden);
}

static void save_size_is_the_size_of_the_buffer_and_the_file(void **state)
{
    (void)state;
    static const char *path = "test_io_size.safetensors";
    rnn_config cfg = rnn_config_default(3, 4);
    cfg.output_size = 2;
    rnn_t *model = make_model(&cfg, 3);
    size_t size, written = 0;
    TU_OK(rnn_save_size(model, &size));
    unsigned char *bytes = checked_malloc(size + 16);
    TU_OK(rnn_save_buffer(model, bytes, size + 16, &written));
    assert_int_equal(written, size);
    TU_OK(rnn_save_buffer(model, bytes, size, NULL)); /* written is optional */
    TU_OK(rnn_save(model, path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((size_t)st.st_size, size);
    unlink(path);
    free(bytes);
    rnn_destroy(model);
}

static void save_buffer_too_small_fails_and_writes_nothing(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(3, 4);
    rnn_t *model = make_model(&cfg, 3);
    size_t size;
    TU_OK(rnn_save_size(model, &size));
    unsigned char *bytes = checked_malloc(size);
    memset(bytes, 0xAB, size);
    size_t written = 99;
    TU_FAILS(RNN_E_SHAPE, "rnn_save_buffer",
             rnn_save_buffer(model, bytes, size - 1, &written));
    assert_int_equal(written, 99);
    for (size_t i = 0; i < size; ++i)
        assert_int_equal(bytes[i], 0xAB);
    free(bytes);
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * Atomic saving and file errors
 * ---------------------------------------------------------------------- */

static void save_replaces_an_existing_file_and_leaves_no_temporary(void **state)
{
    (void)state;
    static const char *path = "test_io_replace.safetensors";
    rnn_config small = rnn_config_default(2, 3), large = rnn_config_default(5, 9);
    large.num_layers = 2;
    rnn_t *a = make_model(&large, 1), *b = make_model(&small, 2);
    TU_OK(rnn_save(a, path));
    TU_OK(rnn_save(b, path)); /* shorter: nothing of a may remain */
    rnn_t *loaded = NULL;
    TU_OK(rnn_load(&loaded, path));
    assert_same_model(b, loaded);
    assert_int_equal(count_files(".", "test_io_replace.safetensors.tmp."), 0);
    rnn_destroy(loaded);
    rnn_destroy(a);
    rnn_destroy(b);
    unlink(path);
}

/* The new file gets 0666 less the umask, like any file the user writes. */
static void saved_file_permissions_follow_the_umask(void **state)
{
    (void)state;
    static const char *path = "test_io_mode.safetensors";
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *model = make_model(&cfg, 1);
    const mode_t old = umask(027);
    rnn_status status = rnn_save(model, path);
    umask(old);
    TU_OK(status);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    unlink(path);
    rnn_destroy(model);
}

static void save_into_a_missing_directory_fails_with_io(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *model = make_model(&cfg, 1);
    TU_FAILS(RNN_E_IO, "rnn_save",
             rnn_save(model, "test_io_no_such_dir/model.safetensors"));
    assert_error_contains("test_io_no_such_dir/model.safetensors");
    assert_error_contains(strerror(ENOENT));
    rnn_destroy(model);
}

/* A save that fails after writing (here the rename: the target is a
 * directory) removes its temporary file and leaves the target alone. */
static void failed_save_removes_its_temporary_file(void **state)
{
    (void)state;
    static const char *dir = "test_io_target_dir";
    rmdir(dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *model = make_model(&cfg, 1);
    TU_FAILS(RNN_E_IO, "rnn_save", rnn_save(model, dir));
    assert_error_contains(dir);
    assert_int_equal(count_files(".", "test_io_target_dir.tmp."), 0);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(rmdir(dir), 0);

    rnn_optim_config ocfg = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.1f);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, model, &ocfg));
    TU_FAILS(RNN_E_IO, "rnn_optim_save",
             rnn_optim_save(optim, "test_io_no_such_dir/optim.safetensors"));
    rnn_optim_destroy(optim);
    rnn_destroy(model);
}

/* The child of child_stopped_mid_save: it says it is ready on one pipe,
 * then waits on the other until the parent kills it or is gone (a failed
 * assertion must not leave it behind). */
static int ready_fd = -1, hold_fd = -1;

static void stop_mid_save(int signal_number)
{
    (void)signal_number;
    char byte = 1;
    if (write(ready_fd, &byte, 1) == 1)
        while (read(hold_fd, &byte, 1) < 0 && errno == EINTR)
            continue;
    _exit(3);
}

/* A child saves under a file size limit: the write past it raises SIGXFSZ,
 * whose handler stops the child inside rnn_save, its temporary file open
 * and locked. Returns the child's pid once it is there; *hold is the pipe
 * end whose closing ends the child. */
static pid_t child_stopped_mid_save(const rnn_t *model, const char *path,
                                    int *hold)
{
    int ready[2], held[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(held), 0);
    const pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]);
        close(held[1]);
        ready_fd = ready[1];
        hold_fd = held[0];
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = stop_mid_save;
        sigemptyset(&action.sa_mask);
        const struct rlimit limit = {4096, 4096};
        if (sigaction(SIGXFSZ, &action, NULL) != 0 ||
            setrlimit(RLIMIT_FSIZE, &limit) != 0)
            _exit(2);
        rnn_save(model, path);
        _exit(1); /* the save should never have returned */
    }
    close(ready[1]);
    close(held[0]);
    *hold = held[1];
    char byte = 0;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    return child;
}

static void save_cleanup_removes_a_killed_saves_file_but_not_a_live_ones(void **state)
{
    (void)state;
    static const char *path = "test_io_killed.safetensors";
    static const char *prefix = "test_io_killed.safetensors.tmp.";
    rnn_config cfg = rnn_config_default(8, 64); /* 19 KB: past the limit */
    rnn_t *model = make_model(&cfg, 1);
    int hold = -1;
    const pid_t child = child_stopped_mid_save(model, path, &hold);
    assert_int_equal(count_files(".", prefix), 1);
    int32_t removed = -1;
    TU_OK(rnn_save_cleanup(path, &removed));
    assert_int_equal(removed, 0); /* locked by the live save */
    assert_int_equal(count_files(".", prefix), 1);

    assert_int_equal(kill(child, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(hold);
    assert_int_equal(count_files(".", prefix), 1);
    TU_OK(rnn_save_cleanup(path, &removed));
    assert_int_equal(removed, 1);
    assert_int_equal(count_files(".", prefix), 0);
    TU_OK(rnn_save_cleanup(path, NULL)); /* nothing left; removed optional */
    rnn_destroy(model);
}

static void make_file(const char *path)
{
    write_file(path, "x", 1);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Only regular files named exactly <path>.tmp.<6 of [A-Za-z0-9]>, in the
 * directory of path and not locked, are removed. */
static void save_cleanup_removes_only_unlocked_leftovers_of_that_path(void **state)
{
    (void)state;
    static const char *dir = "test_io_cleanup";
    static const char *path = "test_io_cleanup/m.st";
    static const char *const leftovers[] = {
        "test_io_cleanup/m.st.tmp.AbC123", "test_io_cleanup/m.st.tmp.zzzzzz"};
    static const char *const others[] = {
        "test_io_cleanup/m.st", "test_io_cleanup/m.st.tmp.abcde",
        "test_io_cleanup/m.st.tmp.abcdefg", "test_io_cleanup/m.st.tmp.abc-ef",
        "test_io_cleanup/m.st.tmpXabcdef", "test_io_cleanup/m.s.tmp.abcdef",
        "test_io_cleanup/xm.st.tmp.abcdef", "test_io_cleanup/m.st.tmp.",
        "test_io_cleanup/target", "m.st.tmp.abcdef" /* another directory */};
    static const char *locked = "test_io_cleanup/m.st.tmp.Live01";
    static const char *subdir = "test_io_cleanup/m.st.tmp.dir001";
    static const char *link = "test_io_cleanup/m.st.tmp.link01";
    static const char *fifo = "test_io_cleanup/m.st.tmp.fifo01";
    mkdir(dir, 0755);
    for (size_t i = 0; i < sizeof leftovers / sizeof leftovers[0]; ++i)
        make_file(leftovers[i]);
    for (size_t i = 0; i < sizeof others / sizeof others[0]; ++i)
        make_file(others[i]);
    make_file(locked);
    const int held = open(locked, O_RDONLY);
    assert_true(held >= 0);
    assert_int_equal(flock(held, LOCK_EX), 0); /* as a live save holds it */
    assert_int_equal(mkdir(subdir, 0755), 0);
    assert_int_equal(symlink("target", link), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);

    int32_t removed = -1;
    TU_OK(rnn_save_cleanup(path, &removed));
    assert_int_equal(removed, 2);
    for (size_t i = 0; i < sizeof leftovers / sizeof leftovers[0]; ++i)
        assert_false(exists(leftovers[i]));
    for (size_t i = 0; i < sizeof others / sizeof others[0]; ++i) {
        assert_true(exists(others[i]));
        unlink(others[i]);
    }
    assert_true(exists(locked) && exists(subdir) && exists(link) && exists(fifo));
    close(held); /* the "save" died: its file is now a leftover */
    TU_OK(rnn_save_cleanup(path, &removed));
    assert_int_equal(removed, 1);
    assert_false(exists(locked));
    assert_true(exists(subdir) && exists(link) && exists(fifo));
    unlink(link);
    unlink(fifo);
    rmdir(subdir);
    assert_int_equal(rmdir(dir), 0);

    removed = 7;
    TU_FAILS(RNN_E_IO, "rnn_save_cleanup",
             rnn_save_cleanup("test_io_no_such_dir/m.st", &removed));
    assert_error_contains(strerror(ENOENT));
    assert_int_equal(removed, 7);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_cleanup", rnn_save_cleanup(NULL, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_cleanup", rnn_save_cleanup("", NULL));
}

static void loading_a_missing_file_a_directory_or_a_fifo_fails_with_io(void **state)
{
    (void)state;
    rnn_t *model = NOT_NULL_PTR;
    TU_FAILS(RNN_E_IO, "rnn_load",
             rnn_load(&model, "test_io_does_not_exist.safetensors"));
    assert_null(model);
    assert_error_contains(strerror(ENOENT));
    model = NOT_NULL_PTR;
    TU_FAILS(RNN_E_IO, "rnn_load", rnn_load(&model, "."));
    assert_null(model);
    assert_error_contains("not a regular file");
    /* A FIFO with no writer: refused at once, not waited on. */
    static const char *fifo = "test_io_fifo";
    unlink(fifo);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    TU_FAILS(RNN_E_IO, "rnn_load", rnn_load(&model, fifo));
    assert_error_contains("not a regular file");
    unlink(fifo);
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *existing = make_model(&cfg, 1);
    TU_FAILS(RNN_E_IO, "rnn_load_params",
             rnn_load_params(existing, "test_io_does_not_exist.safetensors"));
    rnn_optim_t *optim = NOT_NULL_PTR;
    TU_FAILS(RNN_E_IO, "rnn_optim_load",
             rnn_optim_load(&optim, "test_io_does_not_exist.safetensors"));
    assert_null(optim);
    rnn_destroy(existing);
}

/* An empty file is a format error, not an I/O one: it was read fine. */
static void empty_file_fails_with_format(void **state)
{
    (void)state;
    static const char *path = "test_io_empty.safetensors";
    write_file(path, "", 0);
    rnn_t *model = NOT_NULL_PTR;
    TU_FAILS(RNN_E_FORMAT, "rnn_load", rnn_load(&model, path));
    assert_null(model);
    unlink(path);
}

/* ------------------------------------------------------------------------
 * Hostile headers
 *
 * The target is the model I = 1, H = 2 without bias: weight_ih_l0 [2, 1]
 * (8 bytes) then weight_hh_l0 [2, 2] (16 bytes).
 * ---------------------------------------------------------------------- */

#define ENTRY(name, dtype, shape, offsets)                                   \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape                 \
    ",\"data_offsets\":" offsets "}"
#define IH(offsets) ENTRY("weight_ih_l0", "F32", "[2,1]", offsets)
#define HH(offsets) ENTRY("weight_hh_l0", "F32", "[2,2]", offsets)
#define VALID IH("[0,8]") "," HH("[8,24]")
/* librnn metadata of the target with the given hidden_size and nonlinearity. */
#define META(hidden, act)                                                    \
    "\"__metadata__\":{\"format\":\"librnn\",\"format_version\":\"1\","      \
    "\"input_size\":\"1\",\"hidden_size\":\"" hidden "\",\"num_layers\":\"1\"," \
    "\"bidirectional\":\"0\",\"nonlinearity\":\"" act "\",\"bias\":\"0\","   \
    "\"batch_first\":\"0\",\"output_size\":\"0\",\"head_mode\":\"last\","    \
    "\"seed\":\"0\"}"

typedef struct hostile {
    const char *what;
    const char *json;
    size_t data_size;
    const char *load_says;   /* in rnn_load_buffer's message */
    const char *params_says; /* in rnn_load_params_buffer's; NULL: same */
} hostile;

static const hostile hostiles[] = {
    {"truncated JSON", "{\"weight_ih_l0\":", 24, "not valid JSON", NULL},
    {"JSON array", "[1,2]", 24, "does not start with '{'", NULL},
    {"JSON string", "\"weight_ih_l0\"", 24, "does not start with '{'", NULL},
    {"text after the object", "{" VALID "} x", 24, "text after", NULL},
    {"a second object", "{" VALID "}{}", 24, "text after", NULL},
    {"control character", "{" VALID ",\x01}", 24, "control character", NULL},
    {"invalid UTF-8", "{\"__metadata__\":{\"a\":\"\xff\"}," VALID "}", 24,
     "not valid UTF-8", NULL},
    {"overlong UTF-8", "{\"__metadata__\":{\"a\":\"\xc0\xaf\"}," VALID "}", 24,
     "not valid UTF-8", NULL},
    {"UTF-16 surrogate in UTF-8", "{\"__metadata__\":{\"a\":\"\xed\xa0\x80\"},"
     VALID "}", 24, "not valid UTF-8", NULL},
    {"UTF-8 sequence cut short", "{\"__metadata__\":{\"a\":\"\xe2\x82\"},"
     VALID "}", 24, "not valid UTF-8", NULL},
    /* cJSON would decode each into a NUL ending the name or value early. */
    {"U+0000 in a tensor name", "{" IH("[0,8]") "," ENTRY("weight_hh_l0\\u0000x",
     "F32", "[2,2]", "[8,24]") "}", 24, "holds \\u0000 (U+0000)", NULL},
    {"U+0000 in an entry key", "{\"weight_ih_l0\":{\"dtype\\u0000\":\"F32\","
     "\"shape\":[2,1],\"data_offsets\":[0,8]}," HH("[8,24]") "}", 24,
     "holds \\u0000 (U+0000)", NULL},
    {"U+0000 in a metadata value", "{" META("2\\u00009", "tanh") "," VALID "}",
     24, "holds \\u0000 (U+0000)", NULL},
    {"empty object", "{}", 0, "no tensor \"weight_ih_l0\"",
     "missing tensor \"weight_ih_l0\""},
    {"missing tensor", "{" IH("[0,8]") "}", 8, "\"weight_hh_l0\"",
     "missing tensor \"weight_hh_l0\""},
    {"extra tensor", "{" VALID "," ENTRY("foo", "F32", "[1]", "[24,28]") "}", 28,
     "unexpected tensor \"foo\"", NULL},
    {"empty extra tensor", "{" VALID "," ENTRY("foo", "F32", "[0]", "[8,8]") "}",
     24, "unexpected tensor \"foo\"", NULL},
    {"size past INT32_MAX", "{" IH("[0,8]") "," ENTRY("weight_hh_l0", "F32",
     "[2147483648,0]", "[8,8]") "," ENTRY("x", "F32", "[4]", "[8,24]") "}", 24,
     "size 2147483648 exceeds INT32_MAX",
     "tensor \"weight_hh_l0\": shape [2147483648, 0], the model's is [2, 2]"},
    {"duplicate tensor", "{" IH("[0,8]") "," IH("[8,16]") "," HH("[16,32]") "}",
     32, "\"weight_ih_l0\" appears twice", NULL},
    {"dtype F16", "{" ENTRY("weight_ih_l0", "F16", "[2,1]", "[0,4]") ","
     HH("[4,20]") "}", 20, "dtype F16", NULL},
    {"dtype F64", "{" ENTRY("weight_ih_l0", "F64", "[2,1]", "[0,16]") ","
     HH("[16,32]") "}", 32, "dtype F64", NULL},
    {"unknown dtype", "{" ENTRY("weight_ih_l0", "F33", "[2,1]", "[0,8]") ","
     HH("[8,24]") "}", 24, "unknown dtype \"F33\"", NULL},
    {"dtype not a string", "{\"weight_ih_l0\":{\"dtype\":4,\"shape\":[2,1],"
     "\"data_offsets\":[0,8]}," HH("[8,24]") "}", 24, "dtype is not a string",
     NULL},
    {"vector where a matrix belongs", "{" IH("[0,8]") ","
     ENTRY("weight_hh_l0", "F32", "[4]", "[8,24]") "}", 24, "weight_hh_l0",
     "tensor \"weight_hh_l0\": shape [4], the model's is [2, 2]"},
    {"transposed shape", "{" ENTRY("weight_ih_l0", "F32", "[1,2]", "[0,8]") ","
     HH("[8,24]") "}", 24, "weight_ih_l0",
     "tensor \"weight_ih_l0\": shape [1, 2], the model's is [2, 1]"},
    {"negative shape", "{" ENTRY("weight_ih_l0", "F32", "[-2,1]", "[0,8]") ","
     HH("[8,24]") "}", 24, "shape entry 0 is not a non-negative integer", NULL},
    {"fractional shape", "{" ENTRY("weight_ih_l0", "F32", "[2,1.5]", "[0,8]") ","
     HH("[8,24]") "}", 24, "shape entry 1 is not a non-negative integer", NULL},
    {"string in shape", "{" ENTRY("weight_ih_l0", "F32", "[\"2\",1]", "[0,8]") ","
     HH("[8,24]") "}", 24, "shape entry 0", NULL},
    {"huge shape", "{" ENTRY("weight_ih_l0", "F32", "[1e300,1]", "[0,8]") ","
     HH("[8,24]") "}", 24, "shape entry 0", NULL},
    {"shape overflowing size_t", "{" ENTRY("weight_ih_l0", "F32",
     "[9007199254740992,9007199254740992]", "[0,8]") "," HH("[8,24]") "}", 24,
     "overflows", NULL},
    {"shape not an array", "{" ENTRY("weight_ih_l0", "F32", "2", "[0,8]") ","
     HH("[8,24]") "}", 24, "shape is not an array", NULL},
    {"nine dimensions", "{" ENTRY("weight_ih_l0", "F32", "[1,1,1,1,1,1,1,1,2]",
     "[0,8]") "," HH("[8,24]") "}", 24, "more than 8 dimensions", NULL},
    {"data_offsets past the end", "{" IH("[0,8]") "," HH("[8,4096]") "}", 24,
     "tensor \"weight_hh_l0\": data_offsets [8, 4096) end past the data "
     "(24 bytes)", NULL},
    {"data_offsets begin after end", "{" IH("[0,8]") "," HH("[24,8]") "}", 24,
     "begin after end", NULL},
    {"three data_offsets", "{" IH("[0,8]") "," HH("[8,16,24]") "}", 24,
     "two non-negative integers", NULL},
    {"negative data_offsets", "{" IH("[-8,0]") "," HH("[8,24]") "}", 24,
     "two non-negative integers", NULL},
    {"overlapping tensors", "{" IH("[0,8]") "," HH("[4,20]") "}", 24,
     "overlap", NULL},
    {"same bytes twice", "{" IH("[0,8]") "," ENTRY("weight_hh_l0", "F32", "[2,1]",
     "[0,8]") "}", 8, "overlap", NULL},
    {"gap between tensors", "{" IH("[0,8]") "," HH("[12,28]") "}", 28,
     "no tensor covers data bytes [8, 12)", NULL},
    {"bytes after the last tensor", "{" VALID "}", 28,
     "no tensor covers data bytes [24, 28)", NULL},
    {"size not 4 * prod(shape)", "{" IH("[0,12]") "," HH("[12,28]") "}", 28,
     "hold 12 bytes", NULL},
    {"entry not an object", "{\"weight_ih_l0\":5," HH("[8,24]") "}", 24,
     "not a JSON object", NULL},
    {"unknown key in an entry", "{\"weight_ih_l0\":{\"dtype\":\"F32\",\"shape\":"
     "[2,1],\"data_offsets\":[0,8],\"x\":1}," HH("[8,24]") "}", 24,
     "unknown key \"x\"", NULL},
    {"repeated key in an entry", "{\"weight_ih_l0\":{\"dtype\":\"F32\",\"dtype\":"
     "\"F32\",\"shape\":[2,1],\"data_offsets\":[0,8]}," HH("[8,24]") "}", 24,
     "duplicate key \"dtype\"", NULL},
    {"entry without dtype", "{\"weight_ih_l0\":{\"shape\":[2,1],"
     "\"data_offsets\":[0,8]}," HH("[8,24]") "}", 24, "no \"dtype\"", NULL},
    {"metadata not an object", "{\"__metadata__\":\"x\"," VALID "}", 24,
     "__metadata__ is not a JSON object", NULL},
    {"metadata value not a string", "{\"__metadata__\":{\"format\":1}," VALID "}",
     24, "__metadata__ value of \"format\" is not a string", NULL},
    {"metadata key twice", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}," VALID
     "}", 24, "\"a\" appears twice", NULL},
    {"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}," VALID "}", 24,
     "__metadata__ appears twice", NULL},
    {"unsupported format_version", "{\"__metadata__\":{\"format\":\"librnn\","
     "\"format_version\":\"2\"}," VALID "}", 24,
     "unsupported format_version \"2\"", NULL},
    {"no format_version", "{\"__metadata__\":{\"format\":\"librnn\"}," VALID "}",
     24, "no \"format_version\"", NULL},
    {"metadata without hidden_size", "{\"__metadata__\":{\"format\":\"librnn\","
     "\"format_version\":\"1\",\"input_size\":\"1\"}," VALID "}", 24,
     "no \"hidden_size\"", NULL},
    {"leading zero in a size", "{" META("02", "tanh") "," VALID "}", 24,
     "\"hidden_size\" is \"02\"", NULL},
    {"space in a size", "{" META("2 ", "tanh") "," VALID "}", 24,
     "\"hidden_size\" is \"2 \"", NULL},
    {"size past int32", "{" META("2147483648", "tanh") "," VALID "}", 24,
     "hidden_size", NULL},
    {"negative seed", "{\"__metadata__\":{\"format\":\"librnn\",\"format_version\":"
     "\"1\",\"input_size\":\"1\",\"hidden_size\":\"2\",\"num_layers\":\"1\","
     "\"bidirectional\":\"0\",\"nonlinearity\":\"tanh\",\"bias\":\"0\","
     "\"batch_first\":\"0\",\"output_size\":\"0\",\"head_mode\":\"last\","
     "\"seed\":\"-1\"}," VALID "}", 24, "\"seed\" is \"-1\"", NULL},
    {"unknown nonlinearity", "{" META("2", "sigmoid") "," VALID "}", 24,
     "\"nonlinearity\" is \"sigmoid\"", NULL},
    {"zero hidden_size", "{" META("0", "tanh") "," VALID "}", 24,
     "hidden_size must be > 0", "__metadata__ has hidden_size 0, the model 2"},
    {"metadata disagrees with the tensors", "{" META("3", "tanh") "," VALID "}",
     24, "tensor \"weight_hh_l0\": shape [2, 2], the model's is [3, 3]",
     "__metadata__ has hidden_size 3, the model 2"},
    {"metadata claims a huge model", "{" META("1000000", "tanh") "," VALID "}",
     24, "needs 1000001000000 parameters, far more than the 6 the file holds",
     "hidden_size"},
    {"metadata disagrees with the model", "{" META("2", "relu") "," VALID "}", 24,
     NULL, "__metadata__ has nonlinearity \"relu\", the model \"tanh\""},
    {"an optimizer state", "{\"__metadata__\":{\"format\":\"librnn-optim\","
     "\"format_version\":\"1\"}," VALID "}", 24, "rnn_optim_load", NULL},
};

/* The model every hostile file targets, with parameters to watch. */
static rnn_t *target_model(void)
{
    rnn_config cfg = rnn_config_default(1, 2);
    cfg.bias = 0;
    return make_model(&cfg, 77);
}

static void fill_grads(rnn_t *model)
{
    float *grads;
    size_t n;
    TU_OK(rnn_grads(model, &grads, &n));
    for (size_t i = 0; i < n; ++i)
        grads[i] = (float)i + 0.5f;
}

/* Loads `bytes` both ways: each call must return RNN_OK or RNN_E_FORMAT
 * (with a message naming the call), the failed rnn_load_params_buffer must
 * leave the model's parameters and gradients as they were, and nothing may
 * crash. Returns the status of rnn_load_buffer. */
static rnn_status load_both_ways(const unsigned char *bytes, size_t size,
                                 rnn_t *target)
{
    size_t n;
    float *params = params_of(target, &n);
    float *before = tu_copy(params, n);
    float *grads;
    TU_OK(rnn_grads(target, &grads, &n));
    float *grads_before = tu_copy(grads, n);

    rnn_t *model = NOT_NULL_PTR;
    rnn_clear_error();
    rnn_status status = rnn_load_buffer(&model, bytes, size);
    if (status == RNN_OK) {
        assert_non_null(model);
        rnn_destroy(model);
    } else {
        tu_expect_error(status, RNN_E_FORMAT, "rnn_load_buffer",
                        "rnn_load_buffer", __FILE__, __LINE__);
        assert_null(model);
    }
    rnn_clear_error();
    rnn_status params_status = rnn_load_params_buffer(target, bytes, size);
    if (params_status != RNN_OK) {
        tu_expect_error(params_status, RNN_E_FORMAT, "rnn_load_params_buffer",
                        "rnn_load_params_buffer", __FILE__, __LINE__);
        assert_memory_equal(params, before, n * sizeof(float));
    }
    assert_memory_equal(grads, grads_before, n * sizeof(float));
    free(before);
    free(grads_before);
    return status;
}

static void hostile_headers_fail_with_format_and_a_clear_message(void **state)
{
    (void)state;
    rnn_t *target = target_model();
    fill_grads(target);
    size_t n;
    float *params = params_of(target, &n);
    float *before = tu_copy(params, n);
    for (size_t i = 0; i < sizeof hostiles / sizeof hostiles[0]; ++i) {
        const hostile *h = &hostiles[i];
        size_t size;
        unsigned char *bytes = image(h->json, strlen(h->json), h->data_size, &size);
        print_message("case: %s\n", h->what);
        if (h->load_says != NULL) {
            rnn_t *model = NOT_NULL_PTR;
            TU_FAILS(RNN_E_FORMAT, "rnn_load_buffer",
                     rnn_load_buffer(&model, bytes, size));
            assert_null(model);
            assert_error_contains(h->load_says);
        }
        const char *says = h->params_says ? h->params_says : h->load_says;
        TU_FAILS(RNN_E_FORMAT, "rnn_load_params_buffer",
                 rnn_load_params_buffer(target, bytes, size));
        assert_error_contains(says);
        assert_memory_equal(params, before, n * sizeof(float));
        load_both_ways(bytes, size, target); /* the grads check */
        free(bytes);
    }
    free(before);
    rnn_destroy(target);
}

/* The same JSON without defects loads, with and without metadata: the table
 * above tests its defects, not a broken base. */
static void hostile_table_base_files_load(void **state)
{
    (void)state;
    static const char *const bases[] = {
        "{" VALID "}",
        "{" META("2", "tanh") "," VALID "}",
        "{" VALID "," META("2", "tanh") "}  \n\t",
        "{\"__metadata__\":{\"format\":\"pt\"}," HH("[8,24]") "," IH("[0,8]") "}",
        /* Any valid UTF-8 in metadata: 2, 3 and 4-byte sequences. */
        "{\"__metadata__\":{\"note\":\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\"},"
        VALID "}",
        /* An escaped backslash, then the text u0000: no NUL. */
        "{\"__metadata__\":{\"note\":\"C:\\\\u0000\"}," VALID "}",
    };
    rnn_t *target = target_model();
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; ++i) {
        size_t size;
        unsigned char *bytes = image(bases[i], strlen(bases[i]), 24, &size);
        rnn_t *model = NULL;
        TU_OK(rnn_load_buffer(&model, bytes, size));
        TU_OK(rnn_load_params_buffer(target, bytes, size));
        size_t n;
        const float *params = params_of(model, &n);
        assert_int_equal(n, 6);
        for (size_t k = 0; k < n; ++k)
            assert_true(params[k] == (float)(k + 1));
        rnn_destroy(model);
        free(bytes);
    }
    rnn_destroy(target);
}

static void header_byte_zero_fails_with_format(void **state)
{
    (void)state;
    static const char json[] = "{" VALID ",\"\0\":{}}";
    size_t size;
    unsigned char *bytes = image(json, sizeof json - 1, 24, &size);
    rnn_t *model = NOT_NULL_PTR;
    TU_FAILS(RNN_E_FORMAT, "rnn_load_buffer", rnn_load_buffer(&model, bytes, size));
    assert_error_contains("control character 0x00");
    free(bytes);
}

/* 100000 nested arrays: refused (cJSON's nesting limit), never a stack
 * overflow. */
static void deeply_nested_json_fails_with_format(void **state)
{
    (void)state;
    enum { DEPTH = 100000 };
    char *json = checked_malloc(2 * DEPTH + 16);
    size_t len = 0;
    len += (size_t)sprintf(json, "{\"x\":");
    memset(json + len, '[', DEPTH);
    len += DEPTH;
    memset(json + len, ']', DEPTH);
    len += DEPTH;
    json[len++] = '}';
    size_t size;
    unsigned char *bytes = image(json, len, 0, &size);
    rnn_t *model = NOT_NULL_PTR;
    TU_FAILS(RNN_E_FORMAT, "rnn_load_buffer", rnn_load_buffer(&model, bytes, size));
    free(bytes);
    free(json);
}

static void header_lengths_outside_the_file_fail_with_format(void **state)
{
    (void)state;
    static const struct {
        uint64_t n;
        size_t size;
        const char *says;
    } cases[] = {
        {0, 0, "0 bytes are too few"},
        {0, 5, "5 bytes are too few"},
        {0, 8, "does not start with '{'"},
        {100, 64, "header length 100 runs past the end of the 64 bytes"},
        {(uint64_t)1 << 63, 64, "exceeds the limit"},
        {UINT64_MAX, 64, "exceeds the limit"},
        {100000001, 64, "exceeds the limit of 100000000 bytes"},
        {56, 64, "control character"}, /* the zeros after '{' */
    };
    rnn_t *target = target_model();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        unsigned char *bytes = checked_malloc(cases[i].size);
        memset(bytes, 0, cases[i].size);
        if (cases[i].size >= 8) {
            for (int b = 0; b < 8; ++b)
                bytes[b] = (unsigned char)(cases[i].n >> (8 * b));
            if (cases[i].size > 8)
                bytes[8] = '{';
        }
        rnn_t *model = NOT_NULL_PTR;
        TU_FAILS(RNN_E_FORMAT, "rnn_load_buffer",
                 rnn_load_buffer(&model, bytes, cases[i].size));
        assert_null(model);
        assert_error_contains(cases[i].says);
        TU_FAILS(RNN_E_FORMAT, "rnn_load_params_buffer",
                 rnn_load_params_buffer(target, bytes, cases[i].size));
        free(bytes);
    }
    rnn_destroy(target);
}

/* The largest model rnn_create makes (65536 tensors) saves and loads: the
 * loader's bounds admit it. */
static void the_largest_model_round_trips(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(1, 1);
    cfg.num_layers = 65536 / 4;
    rnn_t *model = NULL, *loaded = NULL;
    TU_OK(rnn_create(&model, &cfg));
    size_t size;
    TU_OK(rnn_save_size(model, &size));
    unsigned char *bytes = checked_malloc(size);
    TU_OK(rnn_save_buffer(model, bytes, size, &size));
    TU_OK(rnn_load_buffer(&loaded, bytes, size));
    float *a, *b;
    size_t na, nb;
    TU_OK(rnn_params(model, &a, &na));
    TU_OK(rnn_params(loaded, &b, &nb));
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na * sizeof(float));
    rnn_destroy(loaded);
    rnn_destroy(model);
    free(bytes);
}

/* Half a million empty entries (2^20 + 1 JSON values, 6 MB) would cost
 * cJSON about 100 MB before the first entry could be refused: the count is
 * refused first. */
static void header_of_too_many_json_values_fails_before_parsing(void **state)
{
    (void)state;
    enum { ENTRIES = 1 << 19 }; /* each a '{' and a ',' */
    char *json = checked_malloc(16 * (size_t)ENTRIES);
    size_t len = 0;
    json[len++] = '{';
    for (int i = 0; i < ENTRIES; ++i)
        len += (size_t)sprintf(json + len, "%s\"%x\":{}", i ? "," : "", i);
    json[len++] = '}';
    size_t size;
    unsigned char *bytes = image(json, len, 0, &size);
    rnn_t *model = NOT_NULL_PTR;
    TU_FAILS(RNN_E_FORMAT, "rnn_load_buffer", rnn_load_buffer(&model, bytes, size));
    assert_null(model);
    assert_error_contains("more than 1048576 JSON values");
    free(bytes);
    free(json);
}

/* Any file may be handed to a loader by mistake: what is not safetensors
 * says so, not "header length 7306093603886885155 exceeds the limit". */
static void a_file_of_another_kind_is_not_a_safetensors_file(void **state)
{
    (void)state;
    static const char *path = "test_io_not_safetensors.txt";
    static const char *const texts[] = {
        "This is a text file, not a model.\n", /* a huge length */
        "{}\n",                                 /* shorter than 8 bytes */
        "\x04\0\0\0\0\0\0\0[1,2]",                /* a length, then no '{' */
    };
    static const size_t sizes[] = {34, 3, 13};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; ++i) {
        write_file(path, texts[i], sizes[i]);
        rnn_t *model = NOT_NULL_PTR;
        TU_FAILS(RNN_E_FORMAT, "rnn_load", rnn_load(&model, path));
        assert_null(model);
        assert_error_contains("not a safetensors file");
        rnn_optim_t *optim = NOT_NULL_PTR;
        TU_FAILS(RNN_E_FORMAT, "rnn_optim_load", rnn_optim_load(&optim, path));
        assert_error_contains("not a safetensors file");
    }
    unlink(path);
}

/* ------------------------------------------------------------------------
 * Truncations and random corruption of a real file
 * ---------------------------------------------------------------------- */

static rnn_t *small_model_with_everything(void)
{
    rnn_config cfg = rnn_config_default(2, 3);
    cfg.output_size = 1;
    cfg.bidirectional = 1;
    return make_model(&cfg, 9);
}

static void every_truncation_of_a_file_fails_with_format(void **state)
{
    (void)state;
    rnn_t *model = small_model_with_everything();
    size_t size;
    unsigned char *bytes = save_to_buffer(model, &size);
    for (size_t len = 0; len < size; ++len) {
        unsigned char *cut = checked_malloc(len);
        memcpy(cut, bytes, len);
        rnn_t *loaded = NOT_NULL_PTR;
        rnn_clear_error();
        rnn_status status = rnn_load_buffer(&loaded, cut, len);
        if (status != RNN_E_FORMAT)
            fail_msg("truncated to %zu of %zu bytes: status %d (%s)", len, size,
                     (int)status, rnn_last_error());
        assert_null(loaded);
        assert_int_equal(load_both_ways(cut, len, model), RNN_E_FORMAT);
        free(cut);
    }
    rnn_destroy(model);
    free(bytes);
}

/* Flipped header bytes may still make a valid file (a digit of the seed),
 * but each load returns RNN_OK or RNN_E_FORMAT and nothing else happens;
 * flipped data bytes are just other floats. */
static void random_byte_flips_never_crash(void **state)
{
    (void)state;
    rnn_t *model = small_model_with_everything();
    size_t size;
    unsigned char *bytes = save_to_buffer(model, &size);
    uint64_t header = 0;
    for (int b = 7; b >= 0; --b)
        header = header << 8 | bytes[b];
    const size_t header_end = 8 + (size_t)header;
    tu_rng rng = tu_rng_make(2024);
    int failed = 0, loaded = 0;
    for (int round = 0; round < 400; ++round) {
        unsigned char *copy = checked_malloc(size);
        memcpy(copy, bytes, size);
        const int flips = 1 + (int)tu_uniform(&rng, 0.0, 3.0);
        for (int f = 0; f < flips; ++f) {
            size_t at = (size_t)tu_uniform(&rng, 0.0, (double)header_end);
            copy[at] ^= (unsigned char)(1u << (int)tu_uniform(&rng, 0.0, 8.0));
        }
        if (load_both_ways(copy, size, model) == RNN_OK)
            ++loaded;
        else
            ++failed;
        free(copy);
    }
    print_message("header flips: %d loaded, %d refused\n", loaded, failed);
    assert_true(failed > 0);
    for (int round = 0; round < 50; ++round) {
        unsigned char *copy = checked_malloc(size);
        memcpy(copy, bytes, size);
        size_t at = header_end + (size_t)tu_uniform(&rng, 0.0,
                                                    (double)(size - header_end));
        copy[at] ^= 0x5A;
        rnn_t *other = NULL;
        TU_OK(rnn_load_buffer(&other, copy, size));
        rnn_destroy(other);
        free(copy);
    }
    rnn_destroy(model);
    free(bytes);
}

/* ------------------------------------------------------------------------
 * Files from other writers, and rnn_load_params
 * ---------------------------------------------------------------------- */

typedef struct named {
    rnn_tensor_info info;
} named;

static int by_tensor_name(const void *a, const void *b)
{
    return strcmp(((const named *)a)->info.name, ((const named *)b)->info.name);
}

/* What safetensors.torch.save_file(rnn.state_dict()) writes: metadata
 * {"format": "pt"} only, tensors (and their data) in name order, no
 * padding. */
static unsigned char *torch_style_file(rnn_t *model, size_t *size)
{
    int32_t count;
    TU_OK(rnn_tensor_count(model, &count));
    named *t = checked_malloc((size_t)count * sizeof *t);
    for (int32_t i = 0; i < count; ++i) {
        memset(&t[i].info, 0, sizeof t[i].info);
        t[i].info.struct_size = sizeof t[i].info;
        TU_OK(rnn_tensor_at(model, i, &t[i].info));
    }
    qsort(t, (size_t)count, sizeof *t, by_tensor_name);
    char *json = checked_malloc(4096);
    size_t len = (size_t)sprintf(json, "{\"__metadata__\":{\"format\":\"pt\"}");
    size_t offset = 0;
    for (int32_t i = 0; i < count; ++i) {
        const rnn_tensor_info *info = &t[i].info;
        char shape[32];
        if (info->ndim == 1)
            sprintf(shape, "[%d]", info->shape[0]);
        else
            sprintf(shape, "[%d,%d]", info->shape[0], info->shape[1]);
        len += (size_t)sprintf(json + len,
                               ",\"%s\":{\"dtype\":\"F32\",\"shape\":%s,"
                               "\"data_offsets\":[%zu,%zu]}",
                               info->name, shape, offset,
                               offset + 4 * info->count);
        offset += 4 * info->count;
    }
    json[len++] = '}';
    unsigned char *bytes = image(json, len, offset, size);
    size_t n;
    const float *params = params_of(model, &n);
    unsigned char *data = bytes + 8 + len;
    for (int32_t i = 0; i < count; ++i) {
        memcpy(data, params + t[i].info.offset, 4 * t[i].info.count);
        data += 4 * t[i].info.count;
    }
    free(json);
    free(t);
    return bytes;
}

static void file_without_librnn_metadata_loads_through_inference(void **state)
{
    (void)state;
    rnn_config configs[3];
    configs[0] = rnn_config_default(3, 4);
    configs[1] = rnn_config_default(2, 5);
    configs[1].num_layers = 3;
    configs[1].bidirectional = 1;
    configs[1].output_size = 2;
    configs[2] = rnn_config_default(4, 3);
    configs[2].num_layers = 2;
    configs[2].bias = 0;
    configs[2].output_size = 1;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; ++i) {
        rnn_t *model = make_model(&configs[i], 30 + i);
        size_t size;
        unsigned char *bytes = torch_style_file(model, &size);
        rnn_t *loaded = NULL;
        TU_OK(rnn_load_buffer(&loaded, bytes, size));
        assert_same_model(model, loaded); /* seed 0, tanh, time-major, last */

        /* A relu batch_first model takes the same tensors through
         * rnn_load_params: the file has no metadata to disagree. */
        rnn_config relu = configs[i];
        relu.nonlinearity = RNN_RELU;
        relu.batch_first = 1;
        rnn_t *target = make_model(&relu, 40 + i);
        TU_OK(rnn_load_params_buffer(target, bytes, size));
        size_t n_want, n_got;
        const float *want = params_of(model, &n_want);
        const float *got = params_of(target, &n_got);
        assert_int_equal(n_want, n_got);
        assert_memory_equal(want, got, n_want * sizeof(float));
        rnn_destroy(target);
        rnn_destroy(loaded);
        rnn_destroy(model);
        free(bytes);
    }
}

static void load_params_leaves_gradients_alone(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(3, 4);
    cfg.output_size = 2;
    rnn_t *source = make_model(&cfg, 1), *target = make_model(&cfg, 2);
    fill_grads(target);
    size_t size;
    unsigned char *bytes = save_to_buffer(source, &size);
    float *grads;
    size_t n;
    TU_OK(rnn_grads(target, &grads, &n));
    float *before = tu_copy(grads, n);
    TU_OK(rnn_load_params_buffer(target, bytes, size));
    assert_memory_equal(grads, before, n * sizeof(float));
    free(before);
    free(bytes);
    rnn_destroy(source);
    rnn_destroy(target);
}

static void load_params_of_another_model_fails_and_changes_nothing(void **state)
{
    (void)state;
    static const char *path = "test_io_other_model.safetensors";
    rnn_config cfg = rnn_config_default(3, 4), other = rnn_config_default(3, 5);
    rnn_t *target = make_model(&cfg, 1), *source = make_model(&other, 2);
    TU_OK(rnn_save(source, path));
    size_t n;
    float *params = params_of(target, &n);
    float *before = tu_copy(params, n);
    TU_FAILS(RNN_E_FORMAT, "rnn_load_params", rnn_load_params(target, path));
    assert_error_contains("hidden_size 5, the model 4");
    assert_memory_equal(params, before, n * sizeof(float));
    free(before);
    unlink(path);
    rnn_destroy(target);
    rnn_destroy(source);
}

/* ------------------------------------------------------------------------
 * Optimizer states
 * ---------------------------------------------------------------------- */

/* Gradients that depend on the step only, then one update. */
static void train(rnn_t *model, rnn_optim_t *optim, int from, int to)
{
    for (int step = from; step < to; ++step) {
        float *grads;
        size_t n;
        TU_OK(rnn_grads(model, &grads, &n));
        tu_rng rng = tu_rng_make(1000 + (uint64_t)step);
        tu_fill(&rng, grads, n, -1.0, 1.0);
        TU_OK(rnn_optim_step(optim, model));
    }
}

static void optimizer_state_resumes_training_bit_for_bit(void **state)
{
    (void)state;
    static const char *model_path = "test_io_resume_model.safetensors";
    static const char *optim_path = "test_io_resume_optim.safetensors";
    rnn_optim_config configs[6];
    configs[0] = rnn_optim_config_default(RNN_OPTIM_SGD, 0.0123f);
    configs[1] = rnn_optim_config_default(RNN_OPTIM_SGD, 0.0123f);
    configs[1].momentum = 0.9f;
    configs[1].nesterov = 1;
    configs[1].weight_decay = 1e-3f;
    configs[2] = rnn_optim_config_default(RNN_OPTIM_SGD, 0.05f);
    configs[2].momentum = 0.7f;
    configs[2].dampening = 0.1f;
    configs[3] = rnn_optim_config_default(RNN_OPTIM_ADAM, 3e-3f);
    configs[3].weight_decay = 0.01f;
    configs[3].beta1 = 0.85f;
    configs[3].eps = 1.234567e-7f;
    configs[4] = rnn_optim_config_default(RNN_OPTIM_ADAMW, 1e-3f);
    configs[5] = rnn_optim_config_default(RNN_OPTIM_ADAM, 2e-2f);
    configs[5].beta2 = 0.9f;
    configs[5].amsgrad = 1;
    rnn_config cfg = rnn_config_default(3, 4);
    cfg.output_size = 2;
    for (size_t i = 0; i < sizeof configs / sizeof configs[0]; ++i) {
        rnn_t *model = make_model(&cfg, 50 + i);
        rnn_optim_t *optim = NULL;
        TU_OK(rnn_optim_create(&optim, model, &configs[i]));
        train(model, optim, 0, 3);
        TU_OK(rnn_save(model, model_path));
        TU_OK(rnn_optim_save(optim, optim_path));
        train(model, optim, 3, 6);

        /* the file, and the same bytes through memory */
        size_t size = 0, optim_file_size = 0;
        unsigned char *optim_file = read_whole(optim_path, &optim_file_size);
        TU_OK(rnn_optim_save_size(optim, &size));
        assert_int_equal(size, optim_file_size);
        for (int from_memory = 0; from_memory < 2; ++from_memory) {
            rnn_t *resumed = NULL;
            rnn_optim_t *resumed_optim = NULL;
            TU_OK(rnn_load(&resumed, model_path));
            if (from_memory)
                TU_OK(rnn_optim_load_buffer(&resumed_optim, optim_file,
                                            optim_file_size));
            else
                TU_OK(rnn_optim_load(&resumed_optim, optim_path));
            int64_t steps = -1;
            TU_OK(rnn_optim_step_count(resumed_optim, &steps));
            assert_int_equal(steps, 3);
            train(resumed, resumed_optim, 3, 6);
            assert_same_model(model, resumed);
            rnn_optim_destroy(resumed_optim);
            rnn_destroy(resumed);
        }
        free(optim_file);
        rnn_optim_destroy(optim);
        rnn_destroy(model);
    }
    unlink(model_path);
    unlink(optim_path);
}

static void optim_save_buffer_holds_the_file_bytes_or_nothing(void **state)
{
    (void)state;
    static const char *path = "test_io_optim_buffer.safetensors";
    rnn_config cfg = rnn_config_default(3, 4);
    rnn_t *model = make_model(&cfg, 3);
    rnn_optim_t *optim = NULL;
    rnn_optim_config oc = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.01f);
    TU_OK(rnn_optim_create(&optim, model, &oc));
    train(model, optim, 0, 2);
    TU_OK(rnn_optim_save(optim, path));
    size_t file_size = 0, size = 0, written = 99;
    unsigned char *file = read_whole(path, &file_size);
    TU_OK(rnn_optim_save_size(optim, &size));
    unsigned char *bytes = checked_malloc(size + 8);
    memset(bytes, 0xAB, size + 8);
    TU_FAILS(RNN_E_SHAPE, "rnn_optim_save_buffer",
             rnn_optim_save_buffer(optim, bytes, size - 1, &written));
    assert_int_equal(written, 99);
    for (size_t i = 0; i < size + 8; ++i)
        assert_int_equal(bytes[i], 0xAB);
    TU_OK(rnn_optim_save_buffer(optim, bytes, size + 8, &written));
    assert_int_equal(written, file_size);
    assert_memory_equal(bytes, file, file_size);
    rnn_optim_t *truncated = optim; /* must become NULL */
    TU_FAILS(RNN_E_FORMAT, "rnn_optim_load_buffer",
             rnn_optim_load_buffer(&truncated, bytes, file_size - 1));
    assert_null(truncated);
    rnn_optim_destroy(optim);
    unlink(path);
    free(bytes);
    free(file);
    rnn_destroy(model);
}

/* librnn-optim metadata with the given kind, lr and count. */
#define OPTIM_META(kind, lr, steps, count)                                    \
    "\"__metadata__\":{\"format\":\"librnn-optim\",\"format_version\":\"1\"," \
    "\"kind\":\"" kind "\",\"lr\":\"" lr "\",\"momentum\":\"0\","             \
    "\"dampening\":\"0\",\"weight_decay\":\"0\",\"nesterov\":\"0\","          \
    "\"beta1\":\"0.9\",\"beta2\":\"0.999\",\"eps\":\"1e-08\",\"steps\":\""    \
    steps "\",\"count\":\"" count "\"}"
#define FIRST(count, offsets) ENTRY("first", "F32", "[" count "]", offsets)
#define SECOND(count, offsets) ENTRY("second", "F32", "[" count "]", offsets)

static void optimizer_state_files_are_validated(void **state)
{
    (void)state;
    static const char *path = "test_io_optim_hostile.safetensors";
    static const struct {
        const char *json;
        size_t data_size;
        rnn_status want;
        const char *says;
    } cases[] = {
        {"{" OPTIM_META("adam", "0.5", "2", "3") "," FIRST("3", "[0,12]") ","
         SECOND("3", "[12,24]") "}", 24, RNN_OK, ""},
        {"{" OPTIM_META("sgd", "0.5", "0", "3") "," FIRST("3", "[0,12]") "}", 12,
         RNN_OK, ""},
        {"{" OPTIM_META("adam", "-1", "2", "3") "," FIRST("3", "[0,12]") ","
         SECOND("3", "[12,24]") "}", 24, RNN_E_FORMAT,
         "invalid optimizer settings: lr must be finite and >= 0"},
        {"{" OPTIM_META("adam", "0.5,", "2", "3") "," FIRST("3", "[0,12]") ","
         SECOND("3", "[12,24]") "}", 24, RNN_E_FORMAT, "\"lr\" is \"0.5,\""},
        {"{" OPTIM_META("adam", "1e99", "2", "3") "," FIRST("3", "[0,12]") ","
         SECOND("3", "[12,24]") "}", 24, RNN_E_FORMAT, "not a finite float"},
        {"{" OPTIM_META("adam", "nan", "2", "3") "," FIRST("3", "[0,12]") ","
         SECOND("3", "[12,24]") "}", 24, RNN_E_FORMAT, "not a finite float"},
        {"{" OPTIM_META("rmsprop", "0.5", "2", "3") "," FIRST("3", "[0,12]") "}",
         12, RNN_E_FORMAT, "\"kind\" is \"rmsprop\""},
        {"{" OPTIM_META("adam", "0.5", "2", "3") "," FIRST("3", "[0,12]") "}", 12,
         RNN_E_FORMAT, "missing tensor \"second\""},
        {"{" OPTIM_META("sgd", "0.5", "2", "3") "," FIRST("3", "[0,12]") ","
         SECOND("3", "[12,24]") "}", 24, RNN_E_FORMAT,
         "unexpected tensor \"second\""},
        {"{" OPTIM_META("sgd", "0.5", "2", "4") "," FIRST("3", "[0,12]") "}", 12,
         RNN_E_FORMAT, "shape is not [4]"},
        {"{" OPTIM_META("sgd", "0.5", "-1", "3") "," FIRST("3", "[0,12]") "}", 12,
         RNN_E_FORMAT, "\"steps\" is \"-1\""},
        /* At most 2^53 steps: the next step must not overflow the count. */
        {"{" OPTIM_META("adam", "0.5", "9007199254740992", "3") ","
         FIRST("3", "[0,12]") "," SECOND("3", "[12,24]") "}", 24, RNN_OK, ""},
        {"{" OPTIM_META("adam", "0.5", "9007199254740993", "3") ","
         FIRST("3", "[0,12]") "," SECOND("3", "[12,24]") "}", 24, RNN_E_FORMAT,
         "\"steps\" is \"9007199254740993\""},
        {"{" OPTIM_META("sgd", "0.5", "9223372036854775807", "3") ","
         FIRST("3", "[0,12]") "}", 12, RNN_E_FORMAT,
         "\"steps\" is \"9223372036854775807\""},
        {"{" OPTIM_META("sgd", "0.5", "0", "0") "," FIRST("0", "[0,0]") "}", 0,
         RNN_E_FORMAT, "\"count\" is \"0\""},
        {"{" VALID "}", 24, RNN_E_FORMAT, "not an optimizer state"},
        {"{" META("2", "tanh") "," VALID "}", 24, RNN_E_FORMAT,
         "not an optimizer state"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        size_t size;
        unsigned char *bytes = image(cases[i].json, strlen(cases[i].json),
                                     cases[i].data_size, &size);
        write_file(path, bytes, size);
        rnn_optim_t *optim = NOT_NULL_PTR;
        print_message("case %zu\n", i);
        if (cases[i].want == RNN_OK) {
            TU_OK(rnn_optim_load(&optim, path));
            int64_t steps;
            TU_OK(rnn_optim_step_count(optim, &steps));
            rnn_optim_destroy(optim);
        } else {
            TU_FAILS(cases[i].want, "rnn_optim_load", rnn_optim_load(&optim, path));
            assert_error_contains(cases[i].says);
            assert_null(optim);
        }
        free(bytes);
    }

    /* Every truncation of a real state. */
    rnn_config cfg = rnn_config_default(2, 2);
    rnn_t *model = make_model(&cfg, 1);
    rnn_optim_config ocfg = rnn_optim_config_default(RNN_OPTIM_ADAMW, 0.01f);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, model, &ocfg));
    TU_OK(rnn_optim_save(optim, path));
    size_t size;
    unsigned char *bytes = read_whole(path, &size);
    for (size_t len = 0; len < size; ++len) {
        write_file(path, bytes, len);
        rnn_optim_t *loaded = NOT_NULL_PTR;
        TU_FAILS(RNN_E_FORMAT, "rnn_optim_load", rnn_optim_load(&loaded, path));
        assert_null(loaded);
    }
    free(bytes);
    rnn_optim_destroy(optim);
    rnn_destroy(model);
    unlink(path);
}

/* An optimizer one step from the 2^53 limit (loaded: it cannot get there
 * otherwise) takes that step, then refuses the next and changes nothing. */
static void optimizer_at_the_step_limit_refuses_to_step(void **state)
{
    (void)state;
    static const char json[] =
        "{" OPTIM_META("adam", "0.5", "9007199254740991", "2") ","
        FIRST("2", "[0,8]") "," SECOND("2", "[8,16]") "}";
    rnn_config cfg = rnn_config_default(1, 1); /* 2 parameters */
    cfg.bias = 0;
    rnn_t *model = make_model(&cfg, 1);
    size_t size, n;
    unsigned char *bytes = image(json, sizeof json - 1, 16, &size);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_load_buffer(&optim, bytes, size));
    fill_grads(model);
    TU_OK(rnn_optim_step(optim, model));
    int64_t steps = 0;
    TU_OK(rnn_optim_step_count(optim, &steps));
    assert_true(steps == (int64_t)1 << 53);

    float *params = params_of(model, &n);
    float *before = tu_copy(params, n);
    TU_FAILS(RNN_E_UNSUPPORTED, "rnn_optim_step", rnn_optim_step(optim, model));
    assert_error_contains("2^53 steps");
    assert_memory_equal(params, before, n * sizeof(float));
    TU_OK(rnn_optim_step_count(optim, &steps));
    assert_true(steps == (int64_t)1 << 53);
    free(before);
    free(bytes);
    rnn_optim_destroy(optim);
    rnn_destroy(model);
}

/* ------------------------------------------------------------------------
 * Arguments
 * ---------------------------------------------------------------------- */

static void null_arguments_fail_with_invalid_arg(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *model = make_model(&cfg, 1);
    unsigned char buffer[16];
    size_t size;
    rnn_t *out = NOT_NULL_PTR;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save", rnn_save(NULL, "x"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save", rnn_save(model, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save", rnn_save(model, ""));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_size", rnn_save_size(NULL, &size));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_size", rnn_save_size(model, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_buffer",
             rnn_save_buffer(NULL, buffer, sizeof buffer, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_save_buffer",
             rnn_save_buffer(model, NULL, 0, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load", rnn_load(NULL, "x"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load", rnn_load(&out, NULL));
    assert_null(out);
    out = NOT_NULL_PTR;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_buffer", rnn_load_buffer(NULL, buffer, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_buffer", rnn_load_buffer(&out, NULL, 1));
    assert_null(out);
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_params", rnn_load_params(NULL, "x"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_params", rnn_load_params(model, NULL));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_params_buffer",
             rnn_load_params_buffer(NULL, buffer, 1));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_load_params_buffer",
             rnn_load_params_buffer(model, NULL, 1));
    rnn_optim_t *optim = NOT_NULL_PTR;
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_save", rnn_optim_save(NULL, "x"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_load", rnn_optim_load(NULL, "x"));
    TU_FAILS(RNN_E_INVALID_ARG, "rnn_optim_load", rnn_optim_load(&optim, NULL));
    assert_null(optim);
    rnn_destroy(model);
}

int main(void)
{
    static const struct CMUnitTest plain[] = {
        cmocka_unit_test(file_round_trip_keeps_every_bit_and_the_config),
        cmocka_unit_test(round_trip_keeps_nan_payloads_infinities_and_negative_zero),
        cmocka_unit_test(header_is_the_documented_json_padded_to_8_bytes),
        cmocka_unit_test(format_version_1_file_loads_and_is_rewritten_identically),
        cmocka_unit_test(save_size_is_the_size_of_the_buffer_and_the_file),
        cmocka_unit_test(save_buffer_too_small_fails_and_writes_nothing),
        cmocka_unit_test(optim_save_buffer_holds_the_file_bytes_or_nothing),
        cmocka_unit_test(save_replaces_an_existing_file_and_leaves_no_temporary),
        cmocka_unit_test(saved_file_permissions_follow_the_umask),
        cmocka_unit_test(save_into_a_missing_directory_fails_with_io),
        cmocka_unit_test(failed_save_removes_its_temporary_file),
        cmocka_unit_test(save_cleanup_removes_a_killed_saves_file_but_not_a_live_ones),
        cmocka_unit_test(save_cleanup_removes_only_unlocked_leftovers_of_that_path),
        cmocka_unit_test(loading_a_missing_file_a_directory_or_a_fifo_fails_with_io),
        cmocka_unit_test(empty_file_fails_with_format),
        cmocka_unit_test(hostile_headers_fail_with_format_and_a_clear_message),
        cmocka_unit_test(hostile_table_base_files_load),
        cmocka_unit_test(header_byte_zero_fails_with_format),
        cmocka_unit_test(deeply_nested_json_fails_with_format),
        cmocka_unit_test(header_lengths_outside_the_file_fail_with_format),
        cmocka_unit_test(header_of_too_many_json_values_fails_before_parsing),
        cmocka_unit_test(the_largest_model_round_trips),
        cmocka_unit_test(a_file_of_another_kind_is_not_a_safetensors_file),
        cmocka_unit_test(every_truncation_of_a_file_fails_with_format),
        cmocka_unit_test(random_byte_flips_never_crash),
        cmocka_unit_test(file_without_librnn_metadata_loads_through_inference),
        cmocka_unit_test(load_params_leaves_gradients_alone),
        cmocka_unit_test(load_params_of_another_model_fails_and_changes_nothing),
        cmocka_unit_test(optimizer_state_resumes_training_bit_for_bit),
        cmocka_unit_test(optimizer_state_files_are_validated),
        cmocka_unit_test(optimizer_at_the_step_limit_refuses_to_step),
        cmocka_unit_test(null_arguments_fail_with_invalid_arg),
    };
    static const tu_table_test table[] = {
        TU_TABLE_TEST(buffer_round_trip_keeps_every_bit_and_the_config, NULL),
    };
    return tu_run("test_io", plain, sizeof plain / sizeof plain[0], table,
                  sizeof table / sizeof table[0]);
}
