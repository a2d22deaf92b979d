/* SPDX-License-Identifier: MIT
 *
 * test_version.c - the run-time version agrees with the header's macros, and
 * rnn_blas_info names the BLAS library actually loaded. (rnn_strerror is in
 * test_errors.c.)
 */
#include "testutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void version_string_is_major_minor_patch_of_the_header(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", RNN_VERSION_MAJOR, RNN_VERSION_MINOR,
             RNN_VERSION_PATCH);
    assert_non_null(rnn_version());
    assert_string_equal(rnn_version(), want);
}

static void version_number_is_the_header_version_number(void **state)
{
    (void)state;
    assert_int_equal(rnn_version_number(), RNN_VERSION_NUMBER);
    assert_int_equal(RNN_VERSION_NUMBER,
                     RNN_VERSION_MAJOR * 10000 + RNN_VERSION_MINOR * 100 + RNN_VERSION_PATCH);
}

/* A resolved path ("/...") of a library whose name contains "blas"
 * (libblas.so.3, libopenblas..., libblis... does not, but its alternative
 * directory is .../blis-openmp/libblas.so.3). */
static void blas_info_names_the_loaded_blas_library(void **state)
{
    (void)state;
    const char *info = rnn_blas_info();
    assert_non_null(info);
    char lower[1024];
    size_t n = strlen(info);
    assert_true(n > 0 && n < sizeof lower);
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)tolower((unsigned char)info[i]);
    if (!strstr(lower, "blas") || !strchr(info, '/'))
        fail_msg("rnn_blas_info() = \"%s\" names no path of a BLAS library", info);
    assert_string_equal(rnn_blas_info(), info); /* static, stable */
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(version_string_is_major_minor_patch_of_the_header),
        cmocka_unit_test(version_number_is_the_header_version_number),
        cmocka_unit_test(blas_info_names_the_loaded_blas_library),
    };
    return tu_run("test_version", tests, sizeof tests / sizeof tests[0], NULL, 0);
}
