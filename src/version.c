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
 * the generic CBLAS interface. */
static const char *backend_config(void)
{
    typedef char *(*config_fn)(void);
    config_fn openblas = (config_fn)(uintptr_t)dlsym(RTLD_DEFAULT,
                                                     "openblas_get_config");
    if (openblas != NULL)
        return openblas();
    config_fn blis = (config_fn)(uintptr_t)dlsym(RTLD_DEFAULT,
                                                 "bli_info_get_version_str");
    if (blis != NULL)
        return blis();
    return NULL;
}

static void describe_blas(void)
{
    Dl_info info;
    char resolved[PATH_MAX];
    const char *path = "unknown library";
    /* The address of cblas_sgemm is the one the dynamic linker bound for
     * this process, so dladdr names the library that really serves it. */
    if (dladdr((void *)(uintptr_t)cblas_sgemm, &info) != 0 &&
        info.dli_fname != NULL) {
        path = info.dli_fname;
        if (realpath(info.dli_fname, resolved) != NULL)
            path = resolved;
    }
    const char *config = backend_config();
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
