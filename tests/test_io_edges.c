/* SPDX-License-Identifier: MIT
 *
 * test_io_edges.c - edge cases of reading model and optimizer files
 * (src/io.c, src/safetensors.c) that test_io.c does not reach (found with
 * ./build.sh coverage, see docs/coverage.md): strict parsing of the numbers
 * in model and optimizer metadata (overflow, "-0", "1.", "1e"), metadata
 * whose parameter count overflows, and a header cut inside a UTF-8
 * sequence. Each load must fail with RNN_E_FORMAT, a message naming the
 * function, and no object.
 */
#define _POSIX_C_SOURCE 200809L /* getpid, unlink */

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Files with one metadata value replaced
 * ---------------------------------------------------------------------- */

typedef struct bytes {
    unsigned char *p;
    size_t n;
} bytes;

static uint64_t header_length(const bytes *b)
{
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i)
        n |= (uint64_t)b->p[i] << (8 * i);
    return n;
}

/* A copy of the safetensors image `b` with the string value of metadata
 * `key` replaced by `value` (and the length prefix fixed). */
static bytes with_meta(const bytes *b, const char *key, const char *value)
{
    const size_t n = (size_t)header_length(b);
    char *header = malloc(n + 1);
    assert_non_null(header);
    memcpy(header, b->p + 8, n);
    header[n] = '\0';
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    char *at = strstr(header, pattern);
    if (at == NULL)
        fail_msg("no metadata key %s in the header", key);
    char *start = at + strlen(pattern);
    char *end = strchr(start, '"');
    assert_non_null(end);
    const size_t before = (size_t)(start - header), after = n - (size_t)(end - header);
    const size_t new_n = before + strlen(value) + after;
    const size_t data = b->n - 8 - n;
    bytes out = {malloc(8 + new_n + data), 8 + new_n + data};
    assert_non_null(out.p);
    for (int i = 0; i < 8; ++i)
        out.p[i] = (unsigned char)((uint64_t)new_n >> (8 * i));
    memcpy(out.p + 8, header, before);
    memcpy(out.p + 8 + before, value, strlen(value));
    memcpy(out.p + 8 + before + strlen(value), end, after);
    memcpy(out.p + 8 + new_n, b->p + 8 + n, data);
    free(header);
    return out;
}

static bytes model_file(void)
{
    rnn_config cfg = rnn_config_default(2, 3);
    cfg.seed = 5;
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    bytes b = {NULL, 0};
    TU_OK(rnn_save_size(model, &b.n));
    b.p = malloc(b.n);
    assert_non_null(b.p);
    TU_OK(rnn_save_buffer(model, b.p, b.n, NULL));
    rnn_destroy(model);
    return b;
}

static void assert_load_fails(const bytes *b, const char *needle)
{
    rnn_t *model = NULL;
    TU_FAILS(RNN_E_FORMAT, "rnn_load_buffer", rnn_load_buffer(&model, b->p, b->n));
    assert_null(model);
    if (needle != NULL && strstr(rnn_last_error(), needle) == NULL)
        fail_msg("message \"%s\" does not mention %s", rnn_last_error(), needle);
}

static void load_rejects_model_metadata_numbers_not_written_strictly(void **state)
{
    (void)state;
    bytes file = model_file();
    {
        rnn_t *model = NULL; /* the unedited file loads */
        TU_OK(rnn_load_buffer(&model, file.p, file.n));
        rnn_destroy(model);
    }
    static const struct {
        const char *key, *value;
    } cases[] = {
        {"seed", "18446744073709551616"},       /* UINT64_MAX + 1 */
        {"seed", "99999999999999999999999"},
        {"hidden_size", "9223372036854775808"}, /* INT64_MAX + 1 */
        {"hidden_size", "-9223372036854775809"},
        {"hidden_size", "-0"},
        {"hidden_size", "+3"},
        {"hidden_size", ""},
        {"input_size", "2 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        bytes edited = with_meta(&file, cases[i].key, cases[i].value);
        assert_load_fails(&edited, cases[i].key);
        free(edited.p);
    }
    free(file.p);
}

/* Sizes each valid on their own whose parameter count overflows size_t. */
static void load_rejects_model_metadata_whose_parameter_count_overflows(void **state)
{
    (void)state;
    bytes file = model_file();
    bytes a = with_meta(&file, "num_layers", "2147483647");
    bytes b = with_meta(&a, "hidden_size", "2147483647");
    assert_load_fails(&b, NULL);
    free(b.p);
    free(a.p);
    free(file.p);
}

/* Keys since 0.2.0 hold their default in an Elman model: a file 0.1.0
 * reads has none of them; an unknown cell name is refused by name. */
static void elman_files_carry_no_new_keys_and_unknown_cells_are_refused(void **state)
{
    (void)state;
    bytes file = model_file();
    const size_t n = (size_t)header_length(&file);
    char *header = malloc(n + 1);
    assert_non_null(header);
    memcpy(header, file.p + 8, n);
    header[n] = '\0';
    static const char *const later_keys[] = {"\"dropout\"", "\"cell\"",
                                             "\"proj_size\"", "\"vocab_size\"",
                                             "\"padding_idx\""};
    for (size_t i = 0; i < sizeof later_keys / sizeof later_keys[0]; ++i)
        if (strstr(header, later_keys[i]) != NULL)
            fail_msg("an Elman model's file has the key %s", later_keys[i]);
    free(header);
    bytes renamed = with_meta(&file, "nonlinearity", "tanh\",\"cell\":\"LSTM2");
    assert_load_fails(&renamed, "cell");
    free(renamed.p);
    free(file.p);
}

/* A header whose last byte starts a 3-byte UTF-8 sequence. */
static void load_rejects_a_header_cut_inside_a_utf8_sequence(void **state)
{
    (void)state;
    static const unsigned char image[] = {3, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0xe2};
    rnn_t *model = NULL;
    TU_FAILS(RNN_E_FORMAT, "rnn_load_buffer",
             rnn_load_buffer(&model, image, sizeof image));
    assert_non_null(strstr(rnn_last_error(), "UTF-8"));
}

/* ------------------------------------------------------------------------
 * Optimizer files
 * ---------------------------------------------------------------------- */

static void optim_load_rejects_metadata_numbers_not_written_strictly(void **state)
{
    (void)state;
    rnn_config cfg = rnn_config_default(2, 3);
    rnn_t *model = NULL;
    TU_OK(rnn_create(&model, &cfg));
    rnn_optim_config oc = rnn_optim_config_default(RNN_OPTIM_ADAM, 0.01f);
    rnn_optim_t *optim = NULL;
    TU_OK(rnn_optim_create(&optim, model, &oc));
    char path[64];
    snprintf(path, sizeof path, "io-edges-%ld.safetensors", (long)getpid());
    TU_OK(rnn_optim_save(optim, path));
    rnn_optim_destroy(optim);
    rnn_destroy(model);

    bytes file = {NULL, 0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    file.n = (size_t)ftell(f);
    rewind(f);
    file.p = malloc(file.n);
    assert_non_null(file.p);
    assert_int_equal(fread(file.p, 1, file.n, f), file.n);
    fclose(f);

    static const struct {
        const char *key, *value;
    } cases[] = {
        {"lr", "1."},  {"lr", "1e"},    {"lr", "1e+"},  {"lr", ".5"},
        {"lr", "-"},   {"lr", "1e99"},  {"lr", "0x1p-3"},
        {"beta1", "0.9.1"},
        {"format_version", "2"},
        {"steps", "-1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        bytes edited = with_meta(&file, cases[i].key, cases[i].value);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(edited.p, 1, edited.n, f), edited.n);
        fclose(f);
        rnn_optim_t *loaded = NULL;
        TU_FAILS(RNN_E_FORMAT, "rnn_optim_load", rnn_optim_load(&loaded, path));
        assert_null(loaded);
        free(edited.p);
    }
    unlink(path);
    free(file.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(load_rejects_model_metadata_numbers_not_written_strictly),
        cmocka_unit_test(load_rejects_model_metadata_whose_parameter_count_overflows),
        cmocka_unit_test(load_rejects_a_header_cut_inside_a_utf8_sequence),
        cmocka_unit_test(elman_files_carry_no_new_keys_and_unknown_cells_are_refused),
        cmocka_unit_test(optim_load_rejects_metadata_numbers_not_written_strictly),
    };
    return tu_run("test_io_edges", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
