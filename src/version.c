/* SPDX-License-Identifier: MIT
 *
 * version.c - run-time version and the identity of the loaded BLAS.
 */
#define _GNU_SOURCE /* dladdr, RTLD_DEFAULT */
#include "internal.h"

#include <cblas.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RNN_STR2(x) #x
#define RNN_STR(x) RNN_STR2(x)

const char *rnn_version(void)
{
    return RNN_STR(RNN_VERSION_MAJOR) "." RNN_STR(RNN_VERSION_MINOR) "." RNN_STR(
        RNN_VERSION_PATCH);
}

int32_t rnn_version_number(void)
{
    return RNN_VERSION_NUMBER;
}

static char blas_info[PATH_MAX + 256];
static pthread_once_t blas_info_once = PTHREAD_ONCE_INIT;

/* The backend's own description, found by symbol so that librnn links only
 * the generic CBLAS interface. The lookup is scoped to the library serving
 * cblas_sgemm and its dependencies: LAPACK may have pulled another BLAS
 * (say OpenBLAS under BLIS) into the process. */
static const char *backend_config(const char *library)
{
    typedef char *(*config_fn)(void);
    static const char *const getters[] = {"openblas_get_config",
                                          "bli_info_get_version_str"};
    void *handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == NULL)
        return NULL;
    const char *config = NULL;
    for (size_t i = 0; i < sizeof getters / sizeof getters[0] && !config; ++i) {
        config_fn getter = (config_fn)(uintptr_t)dlsym(handle, getters[i]);
        if (getter != NULL)
            config = getter();
    }
    dlclose(handle);
    return config;
}

/* Debian installs each backend in a directory named after it. */
static const char *family_from_path(const char *path)
{
    static const struct {
        const char *part, *family;
    } known[] = {{"openblas", "OpenBLAS"}, {"blis", "BLIS"},
                 {"atlas", "ATLAS"},       {"mkl", "Intel MKL"},
                 {"/blas/", "reference BLAS (Netlib)"}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i)
        if (strstr(path, known[i].part) != NULL)
            return known[i].family;
    return NULL;
}

static void describe_blas(void)
{
    Dl_info info;
    char resolved[PATH_MAX];
    const char *path = "unknown library", *config = NULL;
    /* The address of cblas_sgemm is the one the dynamic linker bound for
     * this process, so dladdr names the library that really serves it. */
    if (dladdr((void *)(uintptr_t)cblas_sgemm, &info) != 0 &&
        info.dli_fname != NULL) {
        path = info.dli_fname;
        if (realpath(info.dli_fname, resolved) != NULL)
            path = resolved;
        config = backend_config(info.dli_fname);
        if (config == NULL)
            config = family_from_path(path);
    }
    if (config != NULL)
        snprintf(blas_info, sizeof blas_info, "%s (%s)", path, config);
    else
        snprintf(blas_info, sizeof blas_info, "%s", path);
}

const char *rnn_blas_info(void)
{
    pthread_once(&blas_info_once, describe_blas);
    return blas_info;
}
